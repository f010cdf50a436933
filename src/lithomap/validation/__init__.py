"""Validation gates: raster summaries as tables, checked by Great Expectations suites."""
