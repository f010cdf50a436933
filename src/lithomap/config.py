"""Typed, frozen configuration read from params.yaml.

``load_params()`` is the one way in: it checks every key against the models below before
pydantic sees the data, so a misspelt key fails with its section and the closest valid
key instead of being ignored.
"""

from __future__ import annotations

import difflib
import os
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lithomap import timing
from lithomap.errors import ConfigError

PARAMS_ENV = "LITHOMAP_PARAMS"
DEFAULT_PARAMS = Path("params.yaml")
Architecture = Literal["cnn", "convlstm"]
ARCHITECTURES: tuple[Architecture, ...] = typing.get_args(Architecture)
GLOBAL_MODEL = "global"
"""Reserved region name: the model trained on every labelled region (``lithomap-global-<arch>``, ``models/global/``)."""


class Section(BaseModel):
    """Base of every config section: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticSite(Section):
    """How the scene generator draws one region (SCIENCE.md sections 1–2)."""

    seed: int = Field(description="Seed of every random draw for this region.")
    centre_lon: float = Field(ge=-180, le=180, description="Longitude of the scene centre, degrees east.")
    centre_lat: float = Field(ge=-80, le=84, description="Latitude of the scene centre, degrees north (UTM: −80…84).")
    utm_epsg: int = Field(
        description="EPSG code of the WGS 84 UTM zone the fine rasters use (326zz north, 327zz south)."
    )
    elevation_m: float = Field(600.0, description="Mean elevation; only shifts the air temperature.")
    mean_air_temperature_c: float = Field(description="Annual mean air temperature, °C.")
    annual_air_amplitude_k: float = Field(10.0, description="Half the summer–winter air contrast, K.")
    class_mix: dict[str, float] = Field(description="Relative area of each class in the scene (class name → weight).")
    mgrs_tile: str = Field(description="Sentinel-2 / ECOSTRESS MGRS tile the scene lies in (e.g. '30SVH').")


class RegionParams(Section):
    """One study region: where its raw data lives and the grid everything is put on."""

    raw_dir: Path = Field(
        description="Folder of the region's raw files (searched recursively); relative to the params file's folder."
    )
    crs: str = Field(description="Target CRS of the region grid, e.g. 'EPSG:32630'.")
    resolution: float = Field(70.0, gt=0, description="Pixel size of the region grid in CRS units.")
    bounds: tuple[float, float, float, float] | None = Field(
        None, description="xmin, ymin, xmax, ymax in the target CRS; null = derived from the thermal data."
    )
    geology_attribute: str | None = Field(
        None, description="Attribute holding the lithology text; null = search LITOLOGIA, DESCRIPCIO, …"
    )
    mapping_file: Path | None = Field(
        None, description="YAML legend → class table adding to the packaged one; null = the packaged one alone."
    )
    synthetic: SyntheticSite | None = Field(None, description="Generator settings; null for real data.")


REALISM_SWITCHES = ("terrain_illumination", "sar_terrain_incidence")
REALISM_EFFECTS = (
    *REALISM_SWITCHES,
    "lst_residual_k",
    "emissivity_error",
    "emissivity_moisture_slope",
    "cloud_omission",
    "cloud_shadow_k",
    "relief_m",
    "wind_variability",
    "wind_exposure",
    "lapse_rate_k_per_km",
    "air_temperature_k",
    "rain_events_per_year",
    "rain_wetting",
    "label_displacement_m",
    "label_generalisation_m",
    "veneer_fraction",
    "interbedded_fraction",
)
"""The magnitudes and switches of ``RealismParams`` that turn one effect on (0 / false: off)."""


class RealismParams(Section):
    """Nuisances that make synthetic scenes as hard as real data (issue 13).

    Every magnitude below is the realistic value from a product uncertainty statement or a
    validation paper (see README "Realism"); the generator uses ``nuisance × magnitude``, so
    ``nuisance: 0`` gives today's clean scenes byte for byte, 1 the realistic ones and 2
    twice the published errors. A magnitude of 0 switches that one effect off.
    """

    nuisance: float = Field(
        1.0, ge=0, le=4, description="Scales every effect below together: 0 = clean scenes, 1 = realistic."
    )
    lst_residual_k: float = Field(
        1.0, ge=0, description="Spatially correlated LST retrieval error, K (1 σ; ECOSTRESS L2 LST ≈ 1 K)."
    )
    lst_residual_length_m: float = Field(
        5000.0, gt=0, description="Correlation length of the LST error, m (atmospheric water-vapour scale)."
    )
    emissivity_error: float = Field(
        0.015, ge=0, description="Atmosphere-correlated emissivity retrieval error (1 σ; ECOSTRESS TES ±0.015)."
    )
    emissivity_moisture_slope: float = Field(
        0.1, ge=0, description="Rise of soil emissivity per unit volumetric moisture (Mira et al. 2007: +0.02–0.03)."
    )
    cloud_omission: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="Share of cloud-contaminated pixels the cloud mask misses (thin edges; published rates ~2–8 %).",
    )
    cloud_shadow_k: float = Field(4.0, ge=0, description="Cooling of unflagged cloud shadows on daytime overpasses, K.")
    relief_m: float = Field(
        400.0,
        ge=0,
        description="Relief (max − min) of the DEM in a 25 km scene, m (scaled by side^0.8); resistant units high.",
    )
    lapse_rate_k_per_km: float = Field(
        6.5, ge=0, description="Air-temperature lapse rate, K km-1 (standard atmosphere)."
    )
    terrain_illumination: bool = Field(True, description="Slope and aspect modulate the direct sunshine.")
    sar_terrain_incidence: bool = Field(True, description="Sentinel-1 sees the local incidence angle of the terrain.")
    wind_variability: float = Field(
        0.4, ge=0, description="σ of the log of each day's mean wind speed (h_s = ρ c_p C_H U follows it)."
    )
    wind_exposure: float = Field(
        0.3, ge=0, description="Relative wind speed-up from the scene's lowest to its highest ground (ridges)."
    )
    air_temperature_k: float = Field(
        1.0, ge=0, description="Per-date spatial air-temperature anomaly, K (1 σ at ~10 km)."
    )
    rain_events_per_year: float = Field(
        30.0, ge=0, description="Rain events per year (more in winter); each wets the soil, which then dries."
    )
    rain_wetting: float = Field(0.08, ge=0, description="Mean moisture added by a rain event, m³ m-3.")
    drying_days: float = Field(4.0, gt=0, description="e-folding time of the topsoil drying after rain, days.")
    label_displacement_m: float = Field(
        100.0, ge=0, description="Standard deviation of the mapped contacts' offset from the true ones, m."
    )
    label_generalisation_m: float = Field(
        210.0, ge=0, description="Window of the majority filter that generalises the written geology map, m."
    )
    veneer_fraction: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Share of the rock pixels under a soil veneer (colluvium): they look like loam, the map says rock.",
    )
    veneer_length_m: float = Field(300.0, gt=0, description="Size of the veneer patches, m.")
    interbedded_fraction: float = Field(
        0.3,
        ge=0,
        lt=1,
        description="Share of the detritic units that is interbedded shale (heats like clay; the map says detritic).",
    )
    bed_spacing_m: float = Field(250.0, gt=0, description="Spacing of the shale beds' outcrop stripes, m.")

    def without_effects(self) -> RealismParams:
        """This section with every effect's magnitude 0 and every switch off (knob and length scales kept)."""
        return self.model_copy(update={name: False if name in REALISM_SWITCHES else 0.0 for name in REALISM_EFFECTS})


class GenerateParams(Section):
    """Synthetic scene generator settings shared by every region."""

    size_px: int = Field(384, ge=32, description="Scene side on the thermal grid, pixels.")
    thermal_resolution_m: float = Field(70.0, gt=0, description="ECOSTRESS pixel size, metres.")
    sentinel1_resolution_m: float = Field(
        30.0, gt=0, description="Sentinel-1 RTC pixel size, metres; also the grid the landscape is drawn on."
    )
    sentinel2_resolution_m: float = Field(10.0, gt=0, description="Sentinel-2 B04/B08 pixel size, metres.")
    year: int = Field(2023, description="Calendar year of the acquisitions.")
    thermal_acquisitions: int = Field(48, ge=4, description="ECOSTRESS overpasses drawn over the year.")
    cloudy_fraction: float = Field(0.35, ge=0, lt=1, description="Share of overpasses dropped as cloudy.")
    sentinel1_dates: int = Field(6, ge=1, description="Sentinel-1 acquisitions over the year.")
    sentinel2_dates: int = Field(4, ge=1, description="Sentinel-2 acquisitions over the year.")
    lst_noise_k: float = Field(0.8, ge=0, description="Sensor noise of LST, K (1 σ).")
    sentinel1_enl: float = Field(
        9.0,
        gt=0,
        description="Equivalent number of looks of the speckle on the Sentinel-1 grid (9 at 30 m RTC, 4.4 at 10 m).",
    )
    texture_length_m: float = Field(600.0, gt=0, description="Correlation length of within-class variation.")
    quicklook_dir: Path = Field(Path("reports/quicklook"), description="Where quick-look PNGs go.")
    realism: RealismParams = Field(
        RealismParams(), description="Terrain, weather, product errors and map-like labels (0 = clean)."
    )


class IngestParams(Section):
    """Reading raw products and putting them on the region grid."""

    interim_dir: Path = Field(Path("data/interim"), description="Where region cubes are written.")
    continuous_resampling: Literal["bilinear", "average"] = Field(
        "average", description="Resampling of LST, emissivity, SAR power and reflectance."
    )
    ecostress_max_mandatory_qa: int = Field(
        1, ge=0, le=3, description="Keep ECOSTRESS pixels whose QC bits 0–1 are at most this (0 best, 1 nominal)."
    )
    boundary_buffer_px: int = Field(0, ge=0, description="Width of an 'uncertain' label-0 band along contacts.")
    chunk_px: int = Field(256, ge=32, description="Chunk side of the stored cube (and the window of processing).")
    max_grid_pixels: int = Field(
        200_000_000,
        ge=1,
        description="Largest region grid (width × height) ingest and validation accept; a larger one is refused "
        "with the files that make it so (a misplaced file, a wrong resolution).",
    )
    window_px: int = Field(
        1024,
        ge=32,
        description="Side of the processing window, pixels (rounded up to a multiple of chunk_px); memory grows with "
        "its square, never with the region size.",
    )


class ExperimentParams(Section):
    """A named selection of model inputs (day/night by the sun's elevation at the overpass, seasons by month)."""

    time_of_day: Literal["any", "day", "night"] = Field(
        "any", description="Thermal dates by the sun's elevation at the overpass (preprocess.day_sun_elevation)."
    )
    seasons: list[Literal["winter", "spring", "summer", "autumn"]] | None = Field(
        None, description="Thermal dates by season (months in preprocess.season_months); null = all."
    )
    static: list[Literal["vv", "vh", "ndvi", "dem"]] = Field(
        default_factory=list,
        description="Static layers joined to the thermal sequence: the Sentinel-1 time means vv, vh (dB), the "
        "NDVI time mean, dem: the elevation above the region's median elevation (m; from the region's DEM).",
    )
    summaries: bool = Field(
        True,
        description="Add the all-date thermal summaries (mean emissivity, day and night anomaly, anomaly spread) "
        "as static inputs; false leaves the time series alone to carry them.",
    )
    thermal_features: Literal["anomaly", "standardised"] = Field(
        "anomaly",
        description="anomaly: LST minus the date's scene mean (K) and raw emissivity. standardised: "
        "climate-invariant inputs for mapping regions without labels - the anomaly divided by the date's "
        "spatial spread, emissivity minus the date's scene median, and the relative diurnal range (an "
        "apparent-thermal-inertia proxy) as one more summary (README 'Mapping a region without labels').",
    )
    sar_series: bool = Field(
        False,
        description="Add the Sentinel-1 time series to the sequence: per step vv_step and vh_step, the backscatter "
        "(dB) of the latest acquisition at or before the step's thermal date (the earliest if none is before; per "
        "pixel, acquisitions without valid VV and VH there are passed over). Needs dated Sentinel-1 files in the "
        "region; the SAR time mean as static layers is static: [vv, vh].",
    )


class PreprocessParams(Section):
    """Patches, the spatial split and the input layouts shared by every experiment."""

    processed_dir: Path = Field(Path("data/processed"), description="Where experiment datasets are written.")
    reports_dir: Path = Field(Path("reports/datasets"), description="Split pictures and class counts.")
    patch_size: int = Field(64, ge=8, description="Patch side in pixels (64 or 128 in the thesis).")
    overlap: float = Field(0.5, ge=0, lt=1, description="Overlap of neighbouring patches (0.5 = 50 %).")
    block_size: int = Field(64, ge=8, description="Side of the square blocks assigned whole to one split, pixels.")
    buffer_px: int | None = Field(
        None, ge=0, description="Gap between blocks of different splits, pixels; null = half a patch."
    )
    split_fractions: tuple[float, float, float] = Field(
        (0.7, 0.15, 0.15), description="Share of labelled blocks for train, validation, test."
    )
    split_seed: int = Field(0, description="Seed of the block assignment.")
    min_labelled_fraction: float = Field(
        0.1, ge=0, le=1, description="A patch is kept only if this share of its pixels is labelled in its split."
    )
    sequence_length: int = Field(12, ge=1, description="Time steps of the thermal sequence (dates are selected).")
    shard_size: int = Field(64, ge=1, description="Patches per shard file.")
    day_sun_elevation: float = Field(
        timing.SUNRISE_ELEVATION_DEG,
        ge=-18,
        le=45,
        description="A thermal date is day when the sun at the grid centre is higher than this at the overpass, "
        "degrees (−0.833 = sunrise/sunset).",
    )
    equal_dates: bool = Field(
        False,
        description="Every experiment of a region draws the same number of dates (the smallest selection's), "
        "seeded by date_seed, so experiments differ in which dates, not how many.",
    )
    date_seed: int = Field(0, description="Seed of the equal_dates draw.")
    season_months: dict[str, list[int]] = Field(
        default_factory=lambda: {name: list(months) for name, months in timing.SEASON_MONTHS.items()},
        description="Months of each season (SCIENCE.md 1.5 allows the wide May–Sep / Nov–Mar seasons).",
    )

    @property
    def split_buffer_px(self) -> int:
        """The gap kept between splits (and folds): ``buffer_px``, or half a patch when null."""
        return self.buffer_px if self.buffer_px is not None else self.patch_size // 2


class ValidateParams(Section):
    """Great Expectations gates on raw and processed data."""

    reports_dir: Path = Field(Path("reports/validation"), description="Data Docs site and JSON summaries.")
    lst_range_k: tuple[float, float] = Field((200.0, 350.0), description="Plausible LST of valid pixels, K.")
    emissivity_range: tuple[float, float] = Field((0.6, 1.0), description="Plausible broadband emissivity.")
    sar_range_db: tuple[float, float] = Field((-40.0, 10.0), description="Plausible VV/VH backscatter, dB.")
    tail_percent: float = Field(
        0.1,
        ge=0,
        lt=50,
        description="Ranges are checked on the tail_percent and 100 − tail_percent percentiles of each file's valid "
        "pixels (a few real pixels, e.g. bright urban SAR, may lie outside); values beyond are warnings.",
    )
    min_seasons: int = Field(2, ge=1, description="Seasons of thermal data below which a warning is raised.")
    normalised_mean_tolerance: float = Field(0.1, gt=0, description="|mean| allowed after normalisation (train).")
    normalised_std_tolerance: float = Field(0.1, gt=0, description="|std − 1| allowed after normalisation (train).")


class ArchitectureParams(Section):
    """Shape of one model (the learning settings are in the training preset)."""

    base_filters: int = Field(16, ge=1, description="Filters of the first U-Net stage (doubled per stage).")
    depth: int = Field(3, ge=1, le=5, description="U-Net stages (patch side must divide by 2**depth).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout after each encoder stage.")
    batch_norm: bool = Field(True, description="Batch normalisation after each convolution.")
    lstm_filters: int = Field(16, ge=1, description="ConvLSTM2D filters (ConvLSTM only).")


class ModelParams(Section):
    """The two architectures."""

    cnn: ArchitectureParams = ArchitectureParams()
    convlstm: ArchitectureParams = ArchitectureParams()


class TrainingPreset(Section):
    """Learning settings; the thesis's final ones are the `thesis` preset."""

    epochs: int = Field(ge=1, description="Maximum epochs (early stopping may end sooner).")
    batch_size: int = Field(ge=1, description="Patches per batch.")
    learning_rate: dict[Architecture, float] = Field(description="Adam learning rate per model.")
    l2: float = Field(ge=0, description="L2 weight regularisation of every convolution.")
    patience: int = Field(ge=1, description="Epochs without validation macro-F1 gain before stopping.")


class ClimateAugmentParams(Section):
    """Climate augmentation: random per-patch offsets and gains of the thermal anomalies (README 10b)."""

    enabled: bool = Field(False, description="Apply it to training batches (never to validation, test or maps).")
    offset_k: float = Field(
        1.0,
        ge=0,
        description="Largest offset added to a patch's LST anomalies, drawn uniformly in ±offset_k (K; in "
        "standardised units with thermal_features: standardised).",
    )
    gain: float = Field(
        0.25,
        ge=0,
        lt=1,
        description="Largest change of the anomalies' amplitude: a gain drawn in [1 − gain, 1 + gain].",
    )
    hour_shift_h: float = Field(
        1.0,
        ge=0,
        le=12,
        description="Largest shift of a patch's acquisition hours (the sin/cos hour features), drawn in "
        "±hour_shift_h; 0 = off.",
    )


class TrainParams(Section):
    """Training: which preset, early stopping and learning-rate reduction, where models go."""

    preset: str = Field("demo", description="Name of the preset in `presets` to train with.")
    presets: dict[str, TrainingPreset] = Field(description="Named learning settings.")
    seed: int = Field(0, description="Seed of weights, shuffling and the baseline.")
    augment: bool = Field(True, description="Random flips and 90° rotations of training patches.")
    climate_augment: ClimateAugmentParams = Field(
        ClimateAugmentParams(), description="Random offsets and gains of the thermal anomalies of training patches."
    )
    monitor: Literal["val_macro_f1", "val_loss"] = Field("val_macro_f1", description="Early stopping watches this.")
    reduce_lr_factor: float = Field(0.5, gt=0, lt=1, description="Learning-rate factor on a plateau.")
    reduce_lr_patience: int = Field(3, ge=1, description="Epochs of plateau before reducing the learning rate.")
    models_dir: Path = Field(Path("models"), description="Trained models: <models_dir>/<region>/<arch>-<experiment>/.")

    def active(self) -> TrainingPreset:
        """The preset named by ``preset`` (``load_params`` has checked that it exists)."""
        if self.preset not in self.presets:
            raise ConfigError(_unknown(self.preset, "train.presets", list(self.presets)))
        return self.presets[self.preset]


class LossParams(Section):
    """Class-weighted cross-entropy combined with focal loss; class 0 ignored."""

    class_weights: Literal["thesis", "auto", "none"] | list[float] = Field(
        "thesis",
        description="thesis = Table 12 of the region (auto when unknown), auto = from train counts, or 14 values.",
    )
    auto_mode: Literal["inverse", "inverse_sqrt"] = Field("inverse_sqrt", description="Weights from class frequency.")
    gamma: float = Field(2.0, ge=0, description="Focal-loss focusing parameter (0 = weighted cross-entropy).")
    focal_weight: float = Field(1.0, ge=0, le=1, description="Mix: 0 = weighted CE, 1 = weighted focal loss.")


class EvaluateParams(Section):
    """Evaluation on the test blocks."""

    reports_dir: Path = Field(Path("reports/evaluation"), description="metrics.json, plot data and figures.")
    n_boot: int = Field(1000, ge=10, description="Block-bootstrap resamples for confidence intervals.")
    alpha: float = Field(0.05, gt=0, lt=1, description="1 − confidence level of the intervals.")
    baseline_pixels: int | None = Field(
        30000,
        ge=100,
        description="Labelled training pixels in the per-pixel baselines' class-stratified sample; null = all "
        "(README 'Per-pixel baseline': more than the default does not help).",
    )
    baseline_max_iter: int = Field(200, ge=10, description="Boosting iterations of the baseline.")


class PromoteParams(Section):
    """The promotion gate."""

    rule: Literal["margin", "paired"] = Field(
        "margin",
        description="How the challenger must beat the champion: 'margin' (stored test macro-F1 gain > margin) or "
        "'paired' (lower bound of the paired block-bootstrap interval of challenger − champion macro-F1 > 0).",
    )
    margin: float = Field(0.01, ge=0, description="Macro-F1 gain over the champion needed to promote (rule margin).")
    paired_confidence: float = Field(
        0.95,
        gt=0.5,
        lt=1,
        description="Confidence level of the paired interval (rule paired), a fraction such as 0.95; the bootstrap "
        "draws evaluate.n_boot replicates.",
    )
    max_class_drop: float = Field(0.05, ge=0, le=1, description="Largest allowed fall of any class's F1.")
    beat_baseline: bool = Field(
        True, description="Refuse a model whose test macro-F1 does not beat the per-pixel baseline on the same pixels."
    )
    baseline: Literal["raw", "fair"] = Field(
        "raw",
        description="The floor: 'raw' (simple per-pixel temporal features, a sanity floor) or 'fair' (the "
        "networks' own channels; on the synthetic scenes it scores within a few points of the networks).",
    )
    reports_dir: Path = Field(Path("reports/promotion"), description="One JSON decision per region and model.")


class TrackingParams(Section):
    """MLflow store (the URI itself comes from $MLFLOW_TRACKING_URI, default sqlite:///mlflow.db)."""

    artifact_root: Path = Field(Path("mlartifacts"), description="Local artifact folder of the default store.")


class MatrixParams(Section):
    """The region × model × experiment table."""

    regions: list[str] | None = Field(None, description="Regions; null = all.")
    models: list[Architecture] = Field(list(ARCHITECTURES), description="Architectures.")
    experiments: list[str] | None = Field(None, description="Experiments; null = all.")
    reports_dir: Path = Field(Path("reports/matrix"), description="Markdown, CSV and heatmap PNG.")


class CvComparison(Section):
    """One paired question of `lithomap cv`: A − B on the same folds, blocks and pixels."""

    a: str = Field(description="A model (cnn, convlstm) or an experiment name; the difference is A − B.")
    b: str = Field(description="The other model, or the other experiment (the same kind as `a`).")
    per_class: bool = Field(False, description="Also report per-class F1 deltas with intervals.")


class CvParams(Section):
    """K-fold blocked spatial cross-validation with paired comparisons (`lithomap cv`)."""

    folds: int = Field(5, ge=2, description="k: folds of labelled blocks; each block is a test block once.")
    seeds: int = Field(1, ge=1, description="Training seeds per fold (train.seed, train.seed + 1, …).")
    epochs: int | None = Field(None, ge=1, description="Cap on the epochs of every cell; null = the train preset's.")
    val_share: float = Field(
        0.15, gt=0, lt=1, description="Share of each fold's non-test labelled blocks used for early stopping."
    )
    seed: int = Field(0, description="Seed of the fold assignment (and of each fold's validation blocks).")
    regions: list[str] | None = Field(None, description="Regions; null = all.")
    models: list[Architecture] = Field(list(ARCHITECTURES), description="Architectures.")
    experiments: list[str] | None = Field(None, description="Experiments; null = all.")
    comparisons: list[CvComparison] = Field(
        default_factory=lambda: [
            CvComparison(a="convlstm", b="cnn"),
            CvComparison(a="day", b="night"),
            CvComparison(a="summer", b="winter"),
            CvComparison(a="thermal_sar", b="thermal", per_class=True),
            CvComparison(a="thermal_ndvi", b="thermal", per_class=True),
        ],
        description="Paired differences A − B; a model pair is compared per experiment, an experiment pair per "
        "model. With − without the summaries is added for every experiment whose twin differs only in them.",
    )
    data_dir: Path = Field(Path("data/cv"), description="Folds, fold datasets, cell models and predictions.")
    reports_dir: Path = Field(Path("reports/cv"), description="Tables, forest plot and summary.")


class MapParams(Section):
    """Full-region maps from registered models (`lithomap map`)."""

    maps_dir: Path = Field(Path("maps"), description="Maps go to <maps_dir>/<region>/<model>-<experiment>/.")
    overlap: float = Field(0.5, ge=0, lt=1, description="Overlap of neighbouring inference windows (0.5 = 50 %).")
    batch_size: int = Field(16, ge=1, description="Windows per model call.")
    strip_px: int = Field(256, ge=16, description="Rows written per step; memory grows with this, not the scene.")
    min_mapping_unit_px: int = Field(
        4, ge=1, description="Connected class areas smaller than this (pixels) are merged into a neighbour."
    )
    alias: Literal["champion", "challenger"] = Field("champion", description="Registry alias mapped by default.")
    experiment: str = Field("thermal", description="Experiment of the maps the DVC `map` stage makes.")


class LoroParams(Section):
    """The leave-one-region-out table (`lithomap loro`) and the trust maps draw from it."""

    reports_dir: Path = Field(Path("reports/loro"), description="loro.csv, loro.md, loro_per_class.csv, loro.png.")
    models: list[Architecture] = Field(list(ARCHITECTURES), description="Architectures `lithomap loro` runs.")
    adapt_batch_norm: bool = Field(
        True,
        description="Before predicting a region the model did not train on (the held-out region here, maps with "
        "normalisation target), set its batch-normalisation moments to the region's own (`models.adapt`, no "
        "labels); scoring and maps follow the same switch, so the expected accuracy is measured as maps are made.",
    )
    climate_augment: list[Architecture] = Field(
        ["convlstm"],
        description="Architectures whose models spanning regions (leave-one-region-out, global) train with "
        "climate augmentation (train.climate_augment's offsets, gains and hour shifts) whether or not "
        "train.climate_augment.enabled is set; measured to help the ConvLSTM's transfer, not the CNN's (README "
        "10b). A region's own models follow train.climate_augment.enabled.",
    )
    adapt_windows: int = Field(
        128, ge=1, description="Non-overlapping windows (a seeded sample) the moments come from."
    )
    summary_blend: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Weight of the summary model (a per-pixel gradient boosting on the networks' all-date thermal "
        "summaries and static layers, `models.baseline`) in the transfer model: a region the model did not train "
        "on is mapped with (1 − weight) × the network's probabilities + weight × the summary model's. "
        "`lithomap loro` scores the blend beside the network alone, the global model carries its summary model "
        "and maps with it (README 10b: 0.5 was best in 15 of 18 held-out runs); 0 = the network alone.",
    )


class ReportParams(Section):
    """Science reports (`lithomap report`): signatures, hypotheses, maps, confidence vs NDVI."""

    reports_dir: Path = Field(Path("reports"), description="Reports go to <reports_dir>/<region>/.")
    hour_bin: float = Field(2.0, gt=0, le=12, description="Width of the local-solar-hour bins, hours.")
    ndvi_bin: float = Field(0.1, gt=0, le=1, description="Width of the NDVI bins of the confidence curve.")
    min_bin_pixels: int = Field(50, ge=1, description="Bins with fewer pixel observations are left out.")
    n_boot: int = Field(200, ge=10, description="Block-bootstrap resamples of the rank correlation.")
    block_px: int = Field(32, ge=4, description="Side of the spatial blocks resampled by the bootstrap, pixels.")
    alpha: float = Field(0.05, gt=0, lt=1, description="1 − confidence level of the intervals.")


class TuneSpace(Section):
    """Optuna search space; the defaults contain the thesis's Table 2 and Table 11 settings and the demo preset."""

    learning_rate: tuple[float, float] = Field((1e-5, 1e-2), description="Adam learning rate, log-uniform.")
    l2: tuple[float, float] = Field((1e-5, 0.1), description="L2 weight regularisation, log-uniform.")
    batch_size: list[int] = Field([4, 8, 16], description="Patches per batch (categorical).")
    base_filters: list[int] = Field([8, 16, 32], description="Filters of the first U-Net stage (categorical).")
    dropout: tuple[float, float] = Field((0.0, 0.3), description="Dropout after each encoder stage, uniform.")
    focal_gamma: tuple[float, float] = Field((0.0, 3.0), description="Focal-loss γ, uniform.")
    lstm_filters: list[int] = Field([8, 16, 32], description="ConvLSTM2D filters (ConvLSTM only, categorical).")


class TuneParams(Section):
    """Optuna hyper-parameter search: one resumable study per region × model × experiment."""

    enabled: bool = Field(False, description="Train with the best tuned values of reports_dir (DVC `tune` stage).")
    trials: int = Field(20, ge=1, description="Trials one `lithomap tune` adds to the study.")
    epochs: int = Field(10, ge=1, description="Epochs of one trial (the pruner may stop it sooner).")
    seed: int = Field(0, description="Seed of the TPE sampler (worker k uses seed + k) and of each trial's weights.")
    storage: str | None = Field(
        None,
        description="Study storage: an RDB URL (postgresql://…, sqlite:///…) or a journal file path; "
        "$LITHOMAP_OPTUNA_STORAGE wins; null = sqlite:///optuna.db, or journal_file with --workers > 1.",
    )
    journal_file: Path = Field(
        Path("optuna-journal.log"), description="Journal storage used when several workers would share SQLite."
    )
    pruner_startup_trials: int = Field(3, ge=0, description="Finished trials before the median pruner prunes.")
    pruner_warmup_epochs: int = Field(2, ge=0, description="Epochs of each trial never pruned.")
    reports_dir: Path = Field(Path("reports/tuning"), description="Best values (JSON) and study pictures.")
    space: TuneSpace = TuneSpace()


class OrchestrationParams(Section):
    """How ``lithomap retrain`` (Prefect) runs the DVC stages, and when ``lithomap serve`` runs it."""

    schedule_cron: str = Field("0 3 * * 1", description="Cron of the served `retrain` deployment (default weekly).")
    task_runner: Literal["threads", "sequential", "dask"] = Field(
        "threads", description="Regions in parallel on threads, one after another, or on a Dask cluster."
    )
    max_workers: int = Field(3, ge=1, description="Regions run at once (threads runner).")
    dask_address: str | None = Field(None, description="Scheduler of an existing Dask cluster; null = a local one.")
    retries: int = Field(2, ge=0, description="Retries of a stage that can fail transiently (retry_stages).")
    retry_delay_s: float = Field(10.0, ge=0, description="First retry delay; doubles with each retry.")
    retry_stages: list[str] = Field(
        ["evaluate", "promote"], description="Stages that talk to the tracking server and are retried."
    )
    new_data_stages: list[str] = Field(
        ["generate"], description="Stages producing raw data: changed outputs are committed as new data, not rebuilt."
    )
    server_port: int = Field(
        4200, ge=1, le=65535, description="Port of the local Prefect server `lithomap serve` starts."
    )


class Params(Section):
    """Everything in params.yaml."""

    regions: dict[str, RegionParams]
    generate: GenerateParams = GenerateParams()
    ingest: IngestParams = IngestParams()
    experiments: dict[str, ExperimentParams] = Field(default_factory=dict)
    preprocess: PreprocessParams = PreprocessParams()
    validation: ValidateParams = ValidateParams()
    model: ModelParams = ModelParams()
    train: TrainParams | None = None
    loss: LossParams = LossParams()
    evaluate: EvaluateParams = EvaluateParams()
    promote: PromoteParams = PromoteParams()
    tracking: TrackingParams = TrackingParams()
    matrix: MatrixParams = MatrixParams()
    cv: CvParams = CvParams()
    map: MapParams = MapParams()
    loro: LoroParams = LoroParams()
    report: ReportParams = ReportParams()
    tune: TuneParams = TuneParams()

    orchestration: OrchestrationParams = OrchestrationParams()

    def training(self) -> TrainParams:
        """The `train` section, which has no defaults for its presets."""
        if self.train is None:
            raise ConfigError("params.yaml has no 'train' section; add one with at least one preset (see README)")
        return self.train

    def experiment(self, name: str) -> ExperimentParams:
        """The experiment called ``name``, or a ConfigError naming the closest one."""
        if name not in self.experiments:
            raise ConfigError(_unknown(name, "experiments", list(self.experiments)))
        return self.experiments[name]

    def region(self, name: str) -> RegionParams:
        """The region called ``name``, or a ConfigError listing the known ones."""
        if name not in self.regions:
            raise ConfigError(_unknown(name, "regions", list(self.regions)))
        return self.regions[name]


def params_path(path: str | Path | None = None) -> Path:
    """The params file to read: the argument, $LITHOMAP_PARAMS, or ./params.yaml."""
    return Path(path or os.environ.get(PARAMS_ENV) or DEFAULT_PARAMS)


def load_params(path: str | Path | None = None) -> Params:
    """Read and validate params.yaml; relative paths in it are taken from the file's folder.

    Raises:
        ConfigError: the file is missing, not UTF-8 YAML, holds an unknown or invalid key,
            or breaks a rule between keys (see ``lithomap.config_rules``).
    """
    path = params_path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found. Fix: run from the repository root or set ${PARAMS_ENV}.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}). Fix: save the file as UTF-8."
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}). Fix: correct the YAML syntax at the line shown.") from exc
    return parse_params(raw, source=str(path), base=path.parent)


def parse_params(raw: dict[str, Any], source: str = "params", base: Path | None = None) -> Params:
    """Validate an already-parsed params mapping (see ``load_params``).

    Args:
        raw: the parsed YAML.
        source: the params file's name, for messages.
        base: folder that relative paths are taken from (the params file's folder); None
            leaves them relative to the working directory.

    Raises:
        ConfigError: an unknown key, a bad value or a broken rule between keys.
    """
    from lithomap.config_rules import check_rules

    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the params file must be a YAML mapping of sections (regions:, generate:, …).")
    check_keys(Params, raw, section="", source=source)
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe_error(err) for err in exc.errors())
        raise ConfigError(f"{source}: {problems}") from exc
    if base is not None:
        params = _resolve_paths(params, base)
    check_rules(params, source, base)
    return params


def _describe_error(error: Any) -> str:
    """'key.path: problem (what the key is)' for one pydantic error."""
    location = ".".join(str(part) for part in error["loc"])
    description = _field_description(error["loc"])
    hint = f". Fix: give a valid value ({description})" if description else ""
    return f"{location}: {error['msg']}{hint}"


def _field_description(location: tuple[Any, ...]) -> str | None:
    """The description of the field at ``location`` in Params, if the path leads to one."""
    model: type[BaseModel] | None = Params
    description = None
    for part in location:
        if model is None:
            return description
        field = model.model_fields.get(str(part))
        if field is None:
            continue  # a dict key (region or experiment name) or a list index
        description = field.description
        annotation = field.annotation
        if typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        model = _model_in(annotation)
    return description


def _resolve_paths(model: BaseModel, base: Path) -> Any:
    """A copy of ``model`` whose relative Path fields (set or default) start at ``base``."""
    update: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Path):
            value = value.expanduser()
            update[name] = value if value.is_absolute() else base / value
        elif isinstance(value, BaseModel):
            update[name] = _resolve_paths(value, base)
        elif isinstance(value, dict) and any(isinstance(item, BaseModel) for item in value.values()):
            update[name] = {key: _resolve_paths(item, base) for key, item in value.items()}
    return model.model_copy(update=update)


def check_keys(model: type[BaseModel], data: Any, section: str, source: str) -> None:
    """Raise ConfigError on the first key of ``data`` that ``model`` does not define."""
    if not isinstance(data, dict):
        return
    fields = model.model_fields
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"{source}: {_unknown(str(key), section or 'top level', list(fields))}")
        child = f"{section}.{key}" if section else str(key)
        annotation = fields[key].annotation
        if typing.get_origin(annotation) is dict:
            value_model = _model_in(typing.get_args(annotation)[1])
            if value_model is not None and isinstance(value, dict):
                for name, item in value.items():
                    check_keys(value_model, item, f"{child}.{name}", source)
        elif (nested := _model_in(annotation)) is not None:
            check_keys(nested, value, child, source)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class in ``annotation`` (plain or Optional), if any."""
    candidates = typing.get_args(annotation) or (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _unknown(key: str, section: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(sorted(valid))}"
    return f"unknown key {key!r} in section {section!r}; {hint}"
