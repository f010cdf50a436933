"""Map a region with a registered model: ``lithomap map``.

The model is the registry's ``lithomap-<region>-<arch>`` at an alias (default
``champion``) or a version, loaded through MLflow as the pyfunc that normalises its raw
inputs itself, so the map is made by exactly the model the registry names. A region
without a model of its own (a new area without labels) is mapped with the global model
``lithomap-global-<arch>`` (trained on every labelled region, ``lithomap train-global``)
at the same alias, which ``use_global`` also forces, or with another region's model
(``model_region``). ``choose_model`` makes that choice; map.json and the GeoTIFF tags say
which (``model_scope``: ``region`` or ``global``).

A map made with a version that is not its model's champion is marked not promoted
everywhere: the console line, map.json (``promoted``: false, ``promotion_reason``: the
gate's reason from the version's ``promotion.reason`` tag), the GeoTIFF tags, the MLflow
run's tags and the picture's title. ``if_no_champion="challenger"`` (``lithomap map
--if-no-champion challenger``, which dvc.yaml's map stage passes) maps a region whose own
model has no champion, and for which no global champion exists either, with its own
``challenger``: the order is own champion, global champion, own challenger, error.

The region's inputs are read from its cube window by window, as the experiment the model
was trained on selects them, and predicted and blended by the one full-scene inference
path (``lithomap.mapping.inference.infer_scene``). The scene is padded by the windows'
overlap on every side, so each pixel is covered by windows as fully as an interior one
(no weak edges). Finished rows are written strip by strip (``MapRasters``), so memory
follows the strip height, not the scene. Outputs, built in a temporary folder that
replaces ``<maps_dir>/<region>/<arch>-<experiment>/`` only when complete:
``classes.tif``, ``probabilities.tif``, ``confidence.tif``, ``margin.tif``,
``difference.tif`` (labelled regions), ``map.gpkg``, ``map.png`` and ``map.json``
(model, version, alias, run, seam index, test-block scores). They are also logged as
artifacts of the model's MLflow run (``maps/<region>/``).

How far to trust a map (README "Mapping a region without labels"): a model registered
with a domain-shift reference (``lithomap.models.shift``) also gives ``shift.tif``, each
pixel's distance to the training pixels, and the region's shift (median distance minus
the training pixels' own; about 0 for the model's own region) in map.json and the GeoTIFF
tags. A *transfer* map (a region the model was not trained on, or one without labels)
also states the expected macro-F1 from the leave-one-region-out table of that
architecture and experiment (``reports/loro``, ``lithomap loro``; for the global model the
score its version was registered and gated with) with its interval, and
carries a warning in map.json, the tags and the picture's title when no such table exists
or the region's shift is beyond the largest shift the leave-one-region-out runs covered.

Normalisation (map.json ``normalisation``): a region's own model on its own region
normalises with the statistics stored in the model (``model``); a model used outside the
regions it was trained on — the global model on any region, another region's model
(``model_region``) — normalises the region's inputs with statistics of the region's own
inputs (``target``: ``lithomap.datasets.target_normalisation``, no labels), the same
definition with which ``lithomap loro`` scores a held-out region, so the expected macro-F1
a map quotes was measured the way the map is made. With ``loro.adapt_batch_norm`` such a
map also adapts the model's batch-normalisation moments to the region first
(``models.adapt``; map.json ``adapted_batch_norm``), as ``lithomap loro`` does. A model
that carries a summary model (the global model, ``lithomap.models.transfer``) maps with
``target`` normalisation as the transfer model: its probabilities are blended with the
summary model's (map.json ``summary_blend``: the weight, the ``SUMMARY_BLEND`` tag, the
title), and the expected macro-F1 is the transfer model's (``<arch>+summary`` rows).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import mlflow
import numpy as np
import xarray as xr
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from lithomap.atomic import atomic_directory, write_json
from lithomap.classes import N_CLASSES
from lithomap.config import GLOBAL_MODEL, Params
from lithomap.datasets.features import Architecture, channel_names, input_stats, raw_inputs
from lithomap.datasets.preprocess import SPLIT_FILE, cube_path
from lithomap.datasets.scene import CubeChannels, region_date_count
from lithomap.datasets.split import TEST, SpatialSplit
from lithomap.datasets.target_normalisation import Normalisation, target_normalisation
from lithomap.errors import ConfigError, InputDataError, LithomapError
from lithomap.mapping.cube import open_region_cube
from lithomap.mapping.folders import MAP_JSON, PICTURE_FILE, VECTOR_FILE, map_folder
from lithomap.mapping.inference import Predict, infer_scene
from lithomap.mapping.picture import draw_map
from lithomap.mapping.seams import SeamReport, seam_profile
from lithomap.mapping.vector import vectorise
from lithomap.mapping.writers import CLASSES_FILE, CONFIDENCE_FILE, SHIFT_RASTER, MapRasters, bounded_gdal_cache
from lithomap.models.adapt import adapt_batch_norm
from lithomap.models.metrics import block_bootstrap, scores_from_confusion
from lithomap.models.normalisation import ChannelStats
from lithomap.models.shift import ShiftAccumulator, ShiftReference
from lithomap.registry.pyfunc import SUMMARY_BLEND, normalise_inputs
from lithomap.registry.registry import ABSENT, CHALLENGER, CHAMPION, model_name, recorded_expectation
from lithomap.registry.tracking import TAG_PREFIX, tracking_failure

log = logging.getLogger(__name__)

IfNoChampion = Literal["fail", "challenger"]
IF_NO_CHAMPION: tuple[str, ...] = ("fail", "challenger")
PROMOTION_REASON_TAG = "promotion.reason"


@dataclass
class MapResult:
    """What one ``make_map`` produced."""

    region: str
    arch: str
    experiment: str
    folder: Path
    registered_model: str
    version: str
    seam_index: float
    scores: dict[str, Any] | None
    seconds: float
    pixels: int
    trust: dict[str, Any] | None = None
    model_scope: str = "region"
    model_choice: str | None = None
    seam_z: float = float("nan")
    normalisation: Normalisation = "model"
    adapted_batch_norm: bool = False
    promoted: bool = True
    promotion_reason: str | None = None
    summary_blend: float | None = None

    def summary(self) -> str:
        scores = self.scores or {}
        trust = self.trust or {}
        scored = (
            f"; test blocks OA {scores['oa']:.3f}, macro-F1 {scores['macro_f1']:.3f}" if "macro_f1" in scores else ""
        )
        shift = f"; domain shift {trust['domain_shift']:.2f}" if trust.get("domain_shift") is not None else ""
        expected = trust.get("expected_macro_f1")
        if expected:
            low, high = expected["macro_f1_interval"]
            shift += f"; expected macro-F1 {expected['macro_f1_learnable']:.2f} [{low:.2f}, {high:.2f}]"
        warning = f"\nWARNING: {trust['warning']}" if trust.get("warning") else ""
        scope = f"using the global model: {self.model_choice}\n" if self.model_scope == GLOBAL_MODEL else ""
        own = "; inputs normalised by the region's own statistics" if self.normalisation == "target" else ""
        own += " and batch normalisation adapted to it" if self.adapted_batch_norm else ""
        if self.summary_blend is not None:
            own += f"; the transfer model: blended with the summary model at weight {self.summary_blend:g}"
        if not self.promoted:
            scope += (
                f"NOT PROMOTED: {self.registered_model} v{self.version} is not the champion "
                f"({self.model_choice or 'asked for by alias or version'}); the gate: {self.promotion_reason}\n"
            )
        return (
            f"{scope}{self.arch}/{self.experiment} ({self.registered_model} v{self.version}): {self.folder}; "
            f"seam index {self.seam_index:.3f}{_z_text(self.seam_z)}{scored}{shift}{own}; "
            f"{self.pixels / 1e6:.2f} Mpx in {self.seconds:.1f} s"
            f"{warning}"
        )


@dataclass(frozen=True)
class RegisteredModel:
    """A registry version resolved from an alias or a number, with what its run recorded."""

    name: str
    version: ModelVersion
    alias: str | None
    experiment: str
    patch_size: int | None
    sequence_length: int | None
    static_channels: list[str] | None
    scope: str = "region"

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version.version}"

    @property
    def training_regions(self) -> list[str]:
        """The regions a global model was trained on (from its tags; empty for a region's model)."""
        return [r for r in self.version.tags.get(f"{TAG_PREFIX}training_regions", "").split(",") if r]

    @property
    def promoted(self) -> bool:
        """Whether this version holds its registered model's ``champion`` alias (the gate passed it)."""
        return CHAMPION in (self.version.aliases or [])

    @property
    def promotion_reason(self) -> str:
        """The gate's reason from the version's tags, or what to run when the gate never decided on it."""
        reason = self.version.tags.get(PROMOTION_REASON_TAG)
        if reason:
            return reason
        if self.promoted:
            return "made champion outside the gate (the version has no promotion.reason tag)"
        return "the gate has not decided on this version (no promotion.reason tag)"


def short_reason(reason: str, limit: int = 80) -> str:
    """The first clause of a gate's reason, cut to ``limit`` characters (for a picture's title)."""
    first = reason.split(";", 1)[0].strip()
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def make_model_hint(region: str, arch: str) -> str:
    """The commands that register ``lithomap-<region>-<arch>`` (or the global model) and give it a champion."""
    if region == GLOBAL_MODEL:
        return f"`lithomap loro --all -m {arch}` and `lithomap train-global -m {arch}` (which registers and gates it)"
    return (
        f"`lithomap train -r {region} -m {arch}`, `lithomap evaluate -r {region} -m {arch}` (which registers it) "
        f"and `lithomap promote -r {region} -m {arch}`"
    )


def choose_model(
    region: str,
    arch: str,
    alias: str | None,
    default_alias: str,
    version: str | None = None,
    model_region: str | None = None,
    use_global: bool = False,
    if_no_champion: IfNoChampion = "fail",
) -> tuple[RegisteredModel, str | None]:
    """The registered model to map ``region`` with, and why it is not the region's own at the alias (or None).

    ``model_region`` names another region's model and ``use_global`` the global model;
    otherwise the region's own model is used, or the global model's version at the same
    alias when the region has none: no registered ``lithomap-<region>-<arch>``, or one
    without the default alias (an alias or version asked for by name is never replaced).
    When neither has it, ``if_no_champion="challenger"`` takes the region's own
    ``challenger`` (a version the gate did not promote; ``RegisteredModel.promoted`` is
    False) instead of failing.

    Raises:
        ConfigError: both ``model_region`` and ``use_global``; an unknown ``if_no_champion``.
        LithomapError: neither the region's nor the global model has the alias (naming both
            and the commands that make them, and the region's challenger when it has one),
            or an alias or version that does not exist.
        TrackingError: the registry could not be asked.
    """
    wanted = alias or default_alias
    if if_no_champion not in IF_NO_CHAMPION:
        raise ConfigError(
            f"--if-no-champion {if_no_champion!r} is not a choice. Fix: use one of {', '.join(IF_NO_CHAMPION)}"
        )
    if use_global and model_region:
        raise ConfigError("give --global or --model-region, not both")
    if use_global:
        return resolve_model(GLOBAL_MODEL, arch, wanted, version), "asked for with --global"
    if model_region or version:
        return resolve_model(model_region or region, arch, wanted, version), None
    client = MlflowClient()
    own = model_name(region, arch)
    aliases = _registered_aliases(client, own)
    if aliases is not None and (wanted in aliases or alias is not None):
        return resolve_model(region, arch, wanted, None), None
    fallback = model_name(GLOBAL_MODEL, arch)
    missing = f"{own} is not registered" if aliases is None else f"{own} has no '{wanted}' alias"
    global_aliases = _registered_aliases(client, fallback)
    if global_aliases is not None and wanted in global_aliases:
        return resolve_model(GLOBAL_MODEL, arch, wanted, None), f"{region} has no model of its own ({missing})"
    challenger = aliases.get(CHALLENGER) if aliases is not None and wanted != CHALLENGER else None
    if challenger is not None and if_no_champion == "challenger":
        return (
            resolve_model(region, arch, CHALLENGER, None),
            f"{missing} and {fallback} has no '{wanted}' version: its challenger (--if-no-champion challenger)",
        )
    offer = ""
    if challenger is not None:
        refused = client.get_model_version(own, challenger).tags.get(PROMOTION_REASON_TAG)
        why = f" (the gate: {refused})" if refused else ""
        offer = (
            f"; or map with its challenger v{challenger}{why}, marked not promoted, with "
            "`lithomap map --if-no-champion challenger`"
        )
    raise LithomapError(
        f"{region}: no model to map with: {missing}, and {fallback} has no '{wanted}' version in the MLflow store "
        f"({mlflow.get_tracking_uri()}). Fix: for a model of the region's own (it needs labels) run "
        f"{make_model_hint(region, arch)}; for the global model, which maps any region, run "
        f"{make_model_hint(GLOBAL_MODEL, arch)}; or map with another region's model (--model-region){offer}"
    )


def _registered_aliases(client: MlflowClient, name: str) -> dict[str, str] | None:
    """The aliases of a registered model (alias → version), or None when it is not registered.

    Raises:
        TrackingError: the store could not be asked (never taken for "not registered").
    """
    try:
        return dict(client.get_registered_model(name).aliases or {})
    except MlflowException as error:
        if error.error_code in ABSENT:
            return None
        raise tracking_failure(error) from error


def resolve_model(region: str, arch: str, alias: str, version: str | None) -> RegisteredModel:
    """Find the registered version to map with.

    Raises:
        LithomapError: the region has no registered model, or the alias or version does not exist.
    """
    client = MlflowClient()
    name = model_name(region, arch)
    try:
        registered = client.get_registered_model(name)
    except MlflowException as error:
        raise LithomapError(
            f"{name}: no registered model in the MLflow store ({mlflow.get_tracking_uri()}). Fix: run "
            f"{make_model_hint(region, arch)}; or map with another region's model (--model-region)"
        ) from error
    try:
        found = client.get_model_version(name, version) if version else client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        known = ", ".join(sorted(registered.aliases)) or "none"
        wanted = f"version {version}" if version else f"alias {alias!r}"
        fix = (
            f"run `lithomap train-global -m {arch}`, whose gate sets 'champion' and which registers a 'challenger'"
            if region == GLOBAL_MODEL
            else f"run `lithomap promote -r {region} -m {arch}` to set 'champion', `lithomap evaluate` to register a "
            "'challenger'"
        )
        raise LithomapError(
            f"{name}: no {wanted} (aliases: {known}). Fix: {fix}, or pass an existing --alias/--version"
        ) from error
    run = client.get_run(found.run_id) if found.run_id else None
    run_params = run.data.params if run else {}
    key = f"{TAG_PREFIX}experiment"
    experiment = found.tags.get(key) or (run.data.tags.get(key) if run else None)
    if experiment is None:
        raise LithomapError(
            f"{name} version {found.version}: no experiment tag. Fix: re-register it with `lithomap evaluate`"
        )
    static = run_params.get("data.static")
    return RegisteredModel(
        name=name,
        version=found,
        alias=None if version else alias,
        experiment=experiment,
        patch_size=int(run_params["data.patch_size"]) if "data.patch_size" in run_params else None,
        sequence_length=int(run_params["data.sequence_length"]) if "data.sequence_length" in run_params else None,
        static_channels=json.loads(static) if static else None,
        scope=GLOBAL_MODEL if region == GLOBAL_MODEL else "region",
    )


@dataclass
class RegionInputs:
    """Raw model inputs (what a registered pyfunc takes) for windows of a padded region.

    Window origins are in the coordinates of the region padded by ``margin`` pixels on
    every side; the padding is no data (NaN), as past the scene's edges.
    """

    channels: CubeChannels
    times: np.ndarray
    static_names: list[str]
    architecture: Architecture
    margin: int

    @property
    def shape(self) -> tuple[int, int]:
        height, width = self.channels.shape
        return height + 2 * self.margin, width + 2 * self.margin

    def __call__(self, origins: np.ndarray, patch: int) -> dict[str, np.ndarray]:
        sequence, static = self.channels.read_windows(np.asarray(origins) - self.margin, patch)
        return raw_inputs(sequence, static, self.times, self.static_names, self.architecture)


def region_inputs(
    cube: xr.Dataset, region: str, experiment: str, arch: Architecture, params: Params, margin: int
) -> RegionInputs:
    """The experiment's inputs for a region, selected from its own dates as ``preprocess`` selects them."""
    path = cube_path(params.ingest.interim_dir, region)
    count = region_date_count(cube, params.experiments, params.preprocess)
    channels = CubeChannels.select(cube, experiment, params.experiment(experiment), params.preprocess, path, count)
    return RegionInputs(channels, channels.time_features(), channels.static_names, arch, margin)


def check_model_inputs(model: RegisteredModel, metadata: dict, inputs: RegionInputs, arch: str, region: str) -> None:
    """The registered model must take exactly the inputs the region's experiment gives.

    Raises:
        InputDataError: architecture, channels, static layers or sequence length differ.
    """
    problems = []
    if metadata.get("arch") not in (None, arch):
        problems.append(f"it is a {metadata['arch']} model, not {arch}")
    steps = len(inputs.channels.steps)
    if model.sequence_length is not None and model.sequence_length != steps:
        problems.append(f"it takes {model.sequence_length} time steps, the region gives {steps}")
    if model.static_channels is not None and list(model.static_channels) != inputs.static_names:
        problems.append(f"its static layers are {model.static_channels}, the region's are {inputs.static_names}")
    expected = metadata.get("input_channels")
    given = channel_names(steps, inputs.channels.step_names, inputs.static_names, inputs.architecture)
    if expected is not None and {k: list(v) for k, v in expected.items()} != given:
        problems.append("its input channels differ from the region's")
    if problems:
        raise InputDataError(
            f"{model.uri}",
            f"the model does not fit region {region!r}, experiment {model.experiment!r}: " + "; ".join(problems),
            f"run `lithomap preprocess -r {region} -e {model.experiment}`, `lithomap train` and `lithomap evaluate` "
            "with the current params, or map with a version trained on these inputs (--version)",
        )


def make_map(
    region: str,
    arch: Architecture,
    params: Params,
    *,
    experiment: str | None = None,
    alias: str | None = None,
    version: str | None = None,
    model_region: str | None = None,
    use_global: bool = False,
    if_no_champion: IfNoChampion = "fail",
    overlap: float | None = None,
    window_offset: int = 0,
    log_artifacts: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> MapResult:
    """Map a region with a registered model (see the module docstring).

    Args:
        region: the region to map (labelled or not).
        arch: ``cnn`` or ``convlstm``.
        params: the parameters (``map``, ``preprocess``, ``experiments``, ``ingest``).
        experiment: must be the experiment the model was trained on (default: that one).
        alias: registry alias (default ``map.alias``); ignored when ``version`` is given.
        version: a registry version number.
        model_region: whose registered model to use (default: ``region``, else the global model).
        use_global: map with the global model ``lithomap-global-<arch>`` even if the region has its own.
        if_no_champion: ``fail`` (default) or ``challenger``: map with the region's own challenger,
            marked not promoted, when neither it nor the global model has a champion (``choose_model``).
        overlap: window overlap (default ``map.overlap``; 0 = naive tiling).
        window_offset: shift every window up and left by this many pixels (0 ≤ offset <
            stride); a diagnostic (``benchmarks/bench_seams.py``): a seam of the blending moves
            with the windows, structure of the scene does not. The seam index is computed on
            the shifted windows' lines.
        log_artifacts: log the outputs to the model's MLflow run.
        progress: called with (rows done, rows in all) after each written strip.

    Raises:
        LithomapError: no registered model, alias or version; the model does not fit the region.
    """
    started = time.perf_counter()
    settings = params.map
    model, choice = choose_model(region, arch, alias, settings.alias, version, model_region, use_global, if_no_champion)
    if choice is not None:
        log.info("%s: mapping with %s v%s (%s)", region, model.name, model.version.version, choice)
    promotion = {"promoted": model.promoted, "promotion_reason": model.promotion_reason}
    if experiment is not None and experiment != model.experiment:
        raise LithomapError(
            f"{model.name} version {model.version.version} was trained on experiment {model.experiment!r}, "
            f"not {experiment!r}. Fix: map with --experiment {model.experiment}, or train, evaluate and promote a "
            f"{arch} model on {experiment!r} first"
        )
    cube = open_region_cube(region, params)
    patch = model.patch_size or params.preprocess.patch_size
    overlap = settings.overlap if overlap is None else overlap
    stride = max(1, round(patch * (1 - overlap)))
    if not 0 <= window_offset < stride:
        raise LithomapError(f"window_offset {window_offset} must be in [0, {stride}) (the window stride)")
    margin = patch - stride + window_offset
    inputs = region_inputs(cube, region, model.experiment, arch, params, margin)
    pyfunc = mlflow.pyfunc.load_model(model.uri)
    metadata = pyfunc.metadata.metadata or {}
    check_model_inputs(model, metadata, inputs, arch, region)
    normalisation = map_normalisation(model, region, model_region)
    adapted = normalisation == "target" and params.loro.adapt_batch_norm
    blend = metadata.get(SUMMARY_BLEND) if normalisation == "target" else None
    predict = map_predict(pyfunc, inputs, normalisation)
    if adapted:
        adapt_map_model(pyfunc, inputs, patch, params)
    reference = ShiftReference.from_dict(metadata["shift_reference"]) if "shift_reference" in metadata else None
    accumulator = ShiftAccumulator(reference) if reference is not None else None

    height, width = inputs.channels.shape
    labelled = "label" in cube
    final = map_folder(settings.maps_dir, region, arch, model.experiment)
    with atomic_directory(final) as folder:
        folder.mkdir(parents=True)
        transform = cube.rio.transform()
        with MapRasters(
            folder, cube.rio.crs, transform, (height, width), labelled, shift=reference is not None
        ) as rasters:
            for row, probabilities in _strips(predict, inputs, patch, overlap, settings.batch_size, settings.strip_px):
                rows = slice(row, row + len(probabilities))
                valid = cube["lst_valid"].isel(time=inputs.channels.chosen.tolist(), y=rows).any("time").values
                label = cube["label"].isel(y=rows).values if labelled else None
                distances = None
                if reference is not None and accumulator is not None:
                    distances = strip_distances(inputs, reference, row, len(probabilities), params.ingest.chunk_px)
                    accumulator.add(np.where(valid, distances, np.nan))
                rasters.write(row, probabilities, valid, label, distances)
                if progress:
                    progress(rows.stop, height)
            if model.scope == GLOBAL_MODEL:
                transfer = not labelled or region not in model.training_regions
            else:
                transfer = (model_region or region) != region or not labelled
            recorded = recorded_expectation(model.version) if model.scope == GLOBAL_MODEL else None
            trust = map_trust(
                accumulator, transfer, arch, model.experiment, params, recorded=recorded, blended=blend is not None
            )
            scope_tags = {
                "MODEL_SCOPE": model.scope,
                "REGISTERED_MODEL": f"{model.name} v{model.version.version}",
                "PROMOTED": str(model.promoted).lower(),
                "PROMOTION_REASON": model.promotion_reason,
                **({"SUMMARY_BLEND": f"{blend:g}"} if blend is not None else {}),
            }
            rasters.tag(trust_tags(trust) | scope_tags)
            rasters.finish()
        seams, scores = _map_quality(folder / CLASSES_FILE, stride, margin, cube, region, params, labelled)
        vectorise(folder / CLASSES_FILE, folder / CONFIDENCE_FILE, folder / VECTOR_FILE, settings.min_mapping_unit_px)
        draw_map(folder / CLASSES_FILE, folder / PICTURE_FILE, map_title(region, arch, model, trust["warning"], blend))
        write_json(
            folder / MAP_JSON,
            {
                "region": region,
                "model": arch,
                "experiment": model.experiment,
                "registered_model": model.name,
                "version": str(model.version.version),
                "alias": model.alias,
                "run_id": model.version.run_id,
                "model_scope": model.scope,
                "model_choice": choice,
                "training_regions": model.training_regions or None,
                "normalisation": normalisation,
                "adapted_batch_norm": adapted,
                "summary_blend": blend,
                **promotion,
                **seams.as_dict(),
                "overlap": overlap,
                "patch_size": patch,
                "scores": scores,
                **trust,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
    if log_artifacts and model.version.run_id:
        client = MlflowClient()
        client.log_artifacts(model.version.run_id, str(final), artifact_path=f"maps/{region}")
        for key, value in map_run_tags(region, model.promoted, model.promotion_reason).items():
            client.set_tag(model.version.run_id, key, value)
    return MapResult(
        region,
        arch,
        model.experiment,
        final,
        model.name,
        str(model.version.version),
        seams.index,
        scores,
        time.perf_counter() - started,
        height * width,
        trust,
        model.scope,
        choice,
        seam_z=seams.z,
        normalisation=normalisation,
        adapted_batch_norm=adapted,
        promoted=model.promoted,
        promotion_reason=model.promotion_reason,
        summary_blend=blend,
    )


def map_normalisation(model: RegisteredModel, region: str, model_region: str | None) -> Normalisation:
    """How a map normalises its inputs (module docstring): ``target`` outside the model's own region, else ``model``."""
    if model.scope == GLOBAL_MODEL or (model_region or region) != region:
        return "target"
    return "model"


def target_input_stats(inputs: RegionInputs) -> dict[str, ChannelStats]:
    """The statistics of every model input from ``target_normalisation`` of the region's inputs."""
    channels = inputs.channels
    physical = target_normalisation(channels)
    return input_stats(physical, len(channels.steps), channels.step_names, inputs.static_names, inputs.architecture)


def map_predict(pyfunc, inputs: RegionInputs, normalisation: Normalisation) -> Predict:
    """Batch of raw inputs → probabilities: the registered pyfunc, normalising as ``normalisation`` says.

    ``model``: the pyfunc's own ``predict`` (its stored statistics); ``target``: the same
    model with the region's ``target_input_stats``.
    """
    if normalisation == "model":
        return lambda batch: np.asarray(pyfunc.predict(batch), dtype=np.float32)
    stats = target_input_stats(inputs)
    model = pyfunc.unwrap_python_model()
    return lambda batch: model.predict_with_stats(batch, stats)


@dataclass
class NormalisedInputs:
    """Raw window inputs normalised with given statistics: what the model is fed."""

    raw: RegionInputs
    stats: dict[str, ChannelStats]

    @property
    def shape(self) -> tuple[int, int]:
        return self.raw.shape

    def __call__(self, origins: np.ndarray, patch: int) -> dict[str, np.ndarray]:
        return normalise_inputs(self.raw(origins, patch), self.stats)


def adapt_map_model(pyfunc, inputs: RegionInputs, patch: int, params: Params) -> int:
    """Adapt the pyfunc's batch-normalisation moments to the region (``loro.adapt_batch_norm``, ``models.adapt``).

    The moments come from the region's own windows (no padding margin), normalised as the
    map normalises them (``target``), exactly as ``lithomap loro`` adapts a held-out region.
    """
    region = replace(inputs, margin=0)
    return adapt_batch_norm(
        pyfunc.unwrap_python_model().model,
        NormalisedInputs(region, target_input_stats(region)),
        patch,
        max_windows=params.loro.adapt_windows,
        seed=params.training().seed,
    )


def map_title(region: str, arch: str, model: RegisteredModel, warning: str | None, blend: float | None = None) -> str:
    """The picture's title: region, model and version; the scope, the summary blend, "not promoted" and a warning."""
    title = f"{region}: {arch} ({model.experiment}), {model.name} v{model.version.version}"
    if model.scope == GLOBAL_MODEL:
        title += " (global model)"
    if blend is not None:
        title += f" + summary model (weight {blend:g})"
    if not model.promoted:
        title += f"\nnot promoted: {short_reason(model.promotion_reason)}"
    if warning:
        title += f"\nWARNING: {warning}"
    return title


def map_run_tags(region: str, promoted: bool, reason: str) -> dict[str, str]:
    """The MLflow run tags that say whether the map of ``region`` logged to the run was made by a champion."""
    prefix = f"{TAG_PREFIX}map.{region}."
    return {f"{prefix}promoted": str(promoted).lower(), f"{prefix}promotion_reason": reason}


def map_trust(
    accumulator: ShiftAccumulator | None,
    transfer: bool,
    arch: str,
    experiment: str,
    params: Params,
    recorded: dict[str, Any] | None = None,
    blended: bool = False,
) -> dict[str, Any]:
    """What map.json says about how far to trust a map (see the module docstring).

    ``recorded``: the expected accuracy the model's version was registered with (a global
    model's, ``registry.recorded_expectation``); used instead of the table when given.
    ``blended``: the map is the transfer model's (the table's ``<arch>+summary`` rows).

    Returns:
        ``domain_shift`` (None without a reference), ``domain_shift_raster``,
        ``training_median_distance``, ``transfer`` (the model never saw this region's
        labels), ``expected_macro_f1`` (``transfer_expectation``, transfer maps only) and
        ``warning`` (None, or one sentence).
    """
    from lithomap.training.loro_table import transfer_expectation

    shift = accumulator.shift() if accumulator is not None else float("nan")
    expected = None
    if transfer:
        expected = recorded or transfer_expectation(params.loro.reports_dir, arch, experiment, blended=blended)
    warning = None
    if transfer and expected is None:
        scored = f"{arch}+summary" if blended else arch
        warning = (
            f"no leave-one-region-out score for {scored}/{experiment}: the accuracy of a map of a region the model "
            f"never saw is unknown (run `lithomap loro --all -m {arch} -e {experiment}`)"
        )
    elif expected is not None and expected["max_shift_covered"] is not None and shift > expected["max_shift_covered"]:
        warning = (
            f"domain shift {shift:.2f} is beyond the {expected['max_shift_covered']:.2f} the leave-one-region-out "
            f"runs covered: expect less than their macro-F1 {expected['macro_f1_learnable']:.2f}"
        )
    return {
        "domain_shift": _plain(shift),
        "domain_shift_raster": SHIFT_RASTER if accumulator is not None else None,
        "training_median_distance": _plain(accumulator.reference.median_distance) if accumulator else None,
        "transfer": transfer,
        "expected_macro_f1": expected,
        "warning": warning,
    }


def trust_tags(trust: dict[str, Any]) -> dict[str, str]:
    """GeoTIFF tags of ``map_trust``'s answer (absent values left out)."""
    tags = {"TRANSFER": str(trust["transfer"]).lower()}
    if trust["domain_shift"] is not None:
        tags["DOMAIN_SHIFT"] = f"{trust['domain_shift']:.4f}"
    expected = trust["expected_macro_f1"]
    if expected:
        low, high = expected["macro_f1_interval"]
        tags["EXPECTED_MACRO_F1"] = f"{expected['macro_f1_learnable']:.4f}"
        tags["EXPECTED_MACRO_F1_INTERVAL"] = f"{low:.4f} {high:.4f}"
        tags["EXPECTED_FROM"] = "leave-one-region-out, held out: " + ", ".join(expected["held_out"])
    if trust["warning"]:
        tags["WARNING"] = trust["warning"]
    return tags


def _strips(predict: Predict, inputs: RegionInputs, patch: int, overlap: float, batch_size: int, strip_px: int):
    """(first row, probabilities) of the region's rows in strips of at least ``strip_px`` rows."""
    margin = inputs.margin
    height, width = inputs.channels.shape
    pending: list[np.ndarray] = []
    first = 0
    for strip in infer_scene(predict, inputs, patch, overlap, batch_size=batch_size):
        top, bottom = max(strip.row, margin), min(strip.row + len(strip.probabilities), margin + height)
        if bottom <= top:
            continue
        pending.append(strip.probabilities[top - strip.row : bottom - strip.row, margin : margin + width])
        if sum(len(p) for p in pending) >= strip_px:
            block = np.concatenate(pending)
            pending = []  # the pieces go before the block is written, not after
            yield first, block
            first += len(block)
    if pending:
        yield first, np.concatenate(pending)


def strip_distances(inputs: RegionInputs, reference: ShiftReference, row: int, rows: int, columns: int) -> np.ndarray:
    """(rows, width) domain-shift distances of the rows from ``row``, read ``columns`` columns at a time.

    A pixel's summaries need all its dates: the strip's full width at once would hold
    several (dates, rows, width) arrays, growing with the scene's width. ``columns`` is
    the cube's chunk side, so each chunk the strip touches is still read once.
    """
    width = inputs.channels.shape[1]
    distances = np.empty((rows, width), dtype=np.float32)
    for left in range(0, width, columns):
        _, static = inputs.channels.read(row, left, (rows, min(columns, width - left)))
        distances[:, left : left + columns] = reference.distance(static, inputs.static_names)
    return distances


def _z_text(z: float) -> str:
    """ " (z +1.2 against the grid's other phases)", or nothing when the map has none to compare."""
    return "" if np.isnan(z) else f" (z {z:+.1f} against the grid's other phases)"


def _read_band(path: Path) -> np.ndarray:
    import rasterio

    with bounded_gdal_cache(), rasterio.open(path) as source:
        return source.read(1)


def _map_quality(
    classes_path: Path, stride: int, margin: int, cube: xr.Dataset, region: str, params: Params, labelled: bool
) -> tuple[SeamReport, dict[str, Any] | None]:
    """Seam index (against the grid's other phases) and test-block scores (labelled regions) of the class raster."""
    classes = _read_band(classes_path)
    seams = SeamReport.from_profile(
        seam_profile(classes, spacing=stride, offset=((-margin) % stride,) * 2, valid=classes > 0)
    )
    return seams, _test_scores(classes, cube, region, params) if labelled else None


def _test_scores(classes: np.ndarray, cube: xr.Dataset, region: str, params: Params) -> dict[str, Any] | None:
    """Scores of the full map on the region's test blocks (None without a split)."""
    path = params.preprocess.processed_dir / region / SPLIT_FILE
    if not path.is_file():
        return None
    split = SpatialSplit.load(path)
    label = cube["label"].values
    if split.pixels.shape != label.shape:
        return None
    settings = params.evaluate
    return map_scores(
        classes,
        label,
        split.pixels,
        split.block_size,
        n_boot=settings.n_boot,
        seed=params.training().seed,
        alpha=settings.alpha,
    )


def map_scores(
    classes: np.ndarray,
    label: np.ndarray,
    split: np.ndarray,
    block_size: int,
    *,
    n_boot: int,
    seed: int,
    alpha: float,
) -> dict[str, Any]:
    """OA, macro-F1 (with its block-bootstrap interval), weighted F1 and kappa of a map on the test pixels.

    Args:
        classes: (H, W) mapped classes, 0 = no data.
        label: (H, W) reference classes, 0 = unlabelled.
        split: (H, W) split id per pixel (``SpatialSplit.pixels``).
        block_size: side of the split's blocks, which the bootstrap resamples.
        n_boot, seed, alpha: the bootstrap's replicates, seed and 1 − confidence level.
    """
    from lithomap.training.scoring import per_block_confusions

    scored = split == TEST
    scored &= label > 0
    scored &= classes > 0
    blocks, _ = per_block_confusions(label, classes, scored, block_size)
    matrix = np.sum(blocks, axis=0) if blocks else np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    scores = scores_from_confusion(matrix)
    intervals = block_bootstrap(blocks, n_boot=n_boot, seed=seed, alpha=alpha)
    result: dict[str, object] = {key: _plain(scores[key]) for key in ("oa", "macro_f1", "weighted_f1", "kappa")}
    result["macro_f1_ci"] = [_plain(v) for v in intervals.get("macro_f1", (np.nan, np.nan))]
    result["pixels"] = int(scored.sum())
    return result


def _plain(value: float) -> float | None:
    value = float(value)
    return None if np.isnan(value) else round(value, 6)
