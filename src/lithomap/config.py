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

from lithomap.errors import ConfigError

PARAMS_ENV = "LITHOMAP_PARAMS"
DEFAULT_PARAMS = Path("params.yaml")


class Section(BaseModel):
    """Base of every config section: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticSite(Section):
    """How the scene generator draws one region (SCIENCE.md sections 1–2)."""

    seed: int = Field(description="Seed of every random draw for this region.")
    centre_lon: float = Field(description="Longitude of the scene centre, degrees east.")
    centre_lat: float = Field(description="Latitude of the scene centre, degrees north.")
    utm_epsg: int = Field(description="EPSG code of the UTM zone the fine rasters use.")
    elevation_m: float = Field(600.0, description="Mean elevation; only shifts the air temperature.")
    mean_air_temperature_c: float = Field(description="Annual mean air temperature, °C.")
    annual_air_amplitude_k: float = Field(10.0, description="Half the summer–winter air contrast, K.")
    class_mix: dict[str, float] = Field(description="Relative area of each class in the scene (class name → weight).")
    mgrs_tile: str = Field(description="Sentinel-2 / ECOSTRESS MGRS tile the scene lies in (e.g. '30SVH').")


class RegionParams(Section):
    """One study region: where its raw data lives and the grid everything is put on."""

    raw_dir: Path = Field(description="Folder holding the region's raw files (searched recursively).")
    crs: str = Field(description="Target CRS of the region grid, e.g. 'EPSG:32630'.")
    resolution: float = Field(70.0, gt=0, description="Pixel size of the region grid in CRS units.")
    bounds: tuple[float, float, float, float] | None = Field(
        None, description="xmin, ymin, xmax, ymax in the target CRS; null = derived from the thermal data."
    )
    geology_attribute: str | None = Field(
        None, description="Attribute holding the lithology text; null = search LITOLOGIA, DESCRIPCIO, …"
    )
    mapping_file: Path | None = Field(None, description="YAML legend → class table; null = the packaged one.")
    synthetic: SyntheticSite | None = Field(None, description="Generator settings; null for real data.")


class GenerateParams(Section):
    """Synthetic scene generator settings shared by every region."""

    size_px: int = Field(256, ge=32, description="Scene side on the thermal grid, pixels.")
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
    sentinel1_enl: float = Field(4.4, gt=0, description="Equivalent number of looks of the SAR speckle.")
    texture_length_m: float = Field(600.0, gt=0, description="Correlation length of within-class variation.")
    quicklook_dir: Path = Field(Path("reports/quicklook"), description="Where quick-look PNGs go.")


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
    window_px: int = Field(
        1024,
        ge=32,
        description="Side of the processing window, pixels (rounded up to a multiple of chunk_px); memory grows with "
        "its square, never with the region size.",
    )


class Params(Section):
    """Everything in params.yaml."""

    regions: dict[str, RegionParams]
    generate: GenerateParams = GenerateParams()
    ingest: IngestParams = IngestParams()

    def region(self, name: str) -> RegionParams:
        """The region called ``name``, or a ConfigError listing the known ones."""
        if name not in self.regions:
            raise ConfigError(_unknown(name, "regions", list(self.regions)))
        return self.regions[name]


def params_path(path: str | Path | None = None) -> Path:
    """The params file to read: the argument, $LITHOMAP_PARAMS, or ./params.yaml."""
    return Path(path or os.environ.get(PARAMS_ENV) or DEFAULT_PARAMS)


def load_params(path: str | Path | None = None) -> Params:
    """Read and validate params.yaml.

    Raises:
        ConfigError: the file is missing, not YAML, or holds an unknown or invalid key.
    """
    path = params_path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found. Fix: run from the repository root or set ${PARAMS_ENV}.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}).") from exc
    return parse_params(raw, source=str(path))


def parse_params(raw: dict[str, Any], source: str = "params") -> Params:
    """Validate an already-parsed params mapping (see ``load_params``)."""
    check_keys(Params, raw, section="", source=source)
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{source}: {problems}") from exc


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
