"""lithomap: lithology segmentation from thermal, SAR and NDVI time series."""

__version__ = "0.1.0"
