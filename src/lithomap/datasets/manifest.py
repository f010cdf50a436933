"""The processed-dataset manifest: what ``lithomap preprocess`` built, as one typed, validated object.

Every experiment dataset folder holds ``manifest.json`` beside its shards. It is written
here (atomically) and read here, and everything downstream (training, evaluation,
tf.data, validation, full-scene inference) reads its fields as attributes: the patch
layout, the selected dates and sequence steps, the channel names, the normalisation
statistics fitted on the training pixels, the patch and class counts per split, and the
region grid. A manifest from an older layout is refused with the command that rebuilds it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lithomap.atomic import write_text
from lithomap.errors import InputDataError, MissingSourceError

MANIFEST_FILE = "manifest.json"
LAYOUT = 2


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Record):
    """One step of the fixed-length input sequence (``utc`` None for a padded, empty step)."""

    utc: str | None = Field(description="Acquisition time (UTC, ISO) of the step's date; None when padded.")
    solar_hour: float = Field(description="Local solar hour of the acquisition (0 when padded).")
    doy: int = Field(description="Day of year of the acquisition (0 when padded).")


class SelectedDate(_Record):
    """One date the experiment selected (the summaries use all of them, the sequence some)."""

    utc: str = Field(description="Acquisition time (UTC, ISO).")
    solar_hour: float = Field(description="Local solar hour of the acquisition.")
    day: bool = Field(description="Daytime acquisition: sun above preprocess.day_sun_elevation at the overpass.")


class Manifest(_Record):
    """The manifest of one experiment dataset of one region."""

    layout: Literal[2] = Field(description="Manifest layout version; older layouts must be rebuilt.")
    region: str
    experiment: str
    selection: dict[str, Any] = Field(description="The experiment's selection from params.yaml.")
    patch_size: int = Field(gt=0)
    overlap: float = Field(ge=0, lt=1)
    sequence_length: int = Field(gt=0)
    steps: list[Step]
    dates: list[SelectedDate] = Field(min_length=1)
    step_channels: list[str] = Field(description="Stored physical channels per step.")
    static_channels: list[str] = Field(description="Per-pixel summaries, then the experiment's static layers.")
    time_features: list[list[float]] = Field(description="(T, 4) sin/cos of solar hour and day of year per step.")
    normalisation: dict[str, dict[Literal["mean", "std"], float]] = Field(
        description="Mean and std of every physical channel over labelled training pixels."
    )
    patches: dict[str, int] = Field(description="Patches per split.")
    class_pixels: dict[str, list[int]] = Field(description="Labelled pixels per class (14 counts) per split.")
    crs: str
    transform: list[float] = Field(min_length=6, max_length=6)
    shape: tuple[int, int]

    @field_validator("normalisation")
    @classmethod
    def _positive_std(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for channel, entry in value.items():
            if set(entry) != {"mean", "std"} or not (math.isfinite(entry["std"]) and entry["std"] > 0):
                raise ValueError(f"channel {channel!r} needs a finite mean and a std > 0, got {entry}")
        return value

    @property
    def dates_selected(self) -> int:
        """How many dates the experiment selected."""
        return len(self.dates)

    def times(self) -> np.ndarray:
        """(T, 4) float32 time features of the steps."""
        return np.asarray(self.time_features, dtype=np.float32)

    def date_index(self, cube_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cube time indices of the selected dates and of the steps (−1 for padded steps).

        Raises:
            InputDataError: a date of the manifest is not in the cube (the cube was rebuilt).
        """
        position = {np.datetime64(t, "s"): k for k, t in enumerate(np.asarray(cube_times))}

        def find(utc: str) -> int:
            key = np.datetime64(utc, "s")
            if key not in position:
                raise InputDataError(
                    f"{self.region}/{self.experiment}/{MANIFEST_FILE}",
                    f"date {utc} of the dataset is not in the region cube (the cube changed since preprocess)",
                    rerun_hint(self.region, self.experiment),
                )
            return position[key]

        chosen = np.array([find(d.utc) for d in self.dates], dtype=np.int64)
        steps = np.array([find(s.utc) if s.utc is not None else -1 for s in self.steps], dtype=np.int64)
        return chosen, steps


def rerun_hint(region: str, experiment: str) -> str:
    """The command that rebuilds a region's experiment dataset."""
    return f"run `lithomap preprocess -r {region} -e {experiment}` again"


def write_manifest(folder: Path, manifest: Manifest) -> Path:
    """Write ``<folder>/manifest.json`` atomically."""
    return write_text(folder / MANIFEST_FILE, manifest.model_dump_json(indent=1))


def load_manifest(folder: Path) -> Manifest:
    """The manifest of an experiment dataset folder (``<processed_dir>/<region>/<experiment>``).

    Raises:
        MissingSourceError: there is no manifest.
        InputDataError: it is unreadable or from an older layout.
    """
    path = Path(folder) / MANIFEST_FILE
    fix = rerun_hint(Path(folder).parent.name, Path(folder).name)
    if not path.is_file():
        raise MissingSourceError(path, "no dataset manifest", fix)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputDataError(path, f"the dataset manifest is unreadable ({error})", fix) from error
    if not isinstance(document, dict) or document.get("layout") != LAYOUT:
        found = document.get("layout", "none") if isinstance(document, dict) else "none"
        raise InputDataError(path, f"the dataset manifest has layout {found}, this lithomap reads {LAYOUT}", fix)
    try:
        return Manifest.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5])
        raise InputDataError(path, f"the dataset manifest is invalid ({problems})", fix) from error
