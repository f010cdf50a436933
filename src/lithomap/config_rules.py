"""Rules between params.yaml keys, checked when the file is loaded.

pydantic checks each key on its own (type, range); the rules here relate keys to each
other (a patch side and the U-Net depth, an experiment's seasons and the season months,
the matrix and the regions it names …), so a bad combination fails at load time with one
message naming the params file, the key path, the problem and the fix — not as a
``KeyError`` three stages later.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel
from pyproj import CRS
from pyproj.exceptions import CRSError

from lithomap.classes import N_CLASSES, class_names, load_mapper
from lithomap.config import ARCHITECTURES, GLOBAL_MODEL, Params, RegionParams, SyntheticSite
from lithomap.errors import ConfigError

NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
FRACTION_TOLERANCE = 1e-6


def fail(source: str, key: str, problem: str, fix: str) -> ConfigError:
    """The one error shape of a broken rule: file, key path, problem, fix."""
    return ConfigError(f"{source}: {key}: {problem}. Fix: {fix}.")


def check_rules(params: Params, source: str, base: Path | None) -> None:
    """Raise ConfigError on the first rule between keys that ``params`` breaks.

    Args:
        params: the validated params.
        source: the params file's name, for messages.
        base: the params file's folder (None when the params did not come from a file).
    """
    _check_names(params, source)
    for name, region in params.regions.items():
        _check_region(name, region, source)
    _check_synthetic_raw_dirs(params, source, base)
    _check_preprocess(params, source)
    _check_experiments(params, source)
    _check_training(params, source)
    _check_loss(params, source)
    _check_validation(params, source)
    _check_matrix(params, source)
    _check_tune(params, source)


def _check_names(params: Params, source: str) -> None:
    """Region and experiment names become folder and model names: identifiers only."""
    for section, names in (("regions", params.regions), ("experiments", params.experiments)):
        for name in names:
            if not NAME_PATTERN.fullmatch(str(name)):
                raise fail(
                    source,
                    f"{section}.{name}",
                    f"{name!r} is not a valid name (it becomes a folder and a model name)",
                    "use a letter followed by letters, digits or underscores, e.g. 'santa_olalla'",
                )
    if GLOBAL_MODEL in params.regions:
        raise fail(
            source,
            f"regions.{GLOBAL_MODEL}",
            f"{GLOBAL_MODEL!r} is reserved: the model trained on every labelled region is registered as "
            f"lithomap-{GLOBAL_MODEL}-<model>",
            "rename the region, e.g. 'global_area'",
        )


def _check_region(name: str, region: RegionParams, source: str) -> None:
    key = f"regions.{name}"
    try:
        CRS.from_user_input(region.crs)
    except CRSError as exc:
        raise fail(
            source, f"{key}.crs", f"{region.crs!r} is not a CRS pyproj knows ({exc})", "write e.g. 'EPSG:32630'"
        ) from exc
    if region.bounds is not None:
        xmin, ymin, xmax, ymax = region.bounds
        if not (xmax - xmin >= region.resolution and ymax - ymin >= region.resolution):
            raise fail(
                source,
                f"{key}.bounds",
                f"{list(region.bounds)} is not xmin, ymin, xmax, ymax at least one pixel "
                f"({region.resolution} CRS units) wide and high",
                "list the bounds as [xmin, ymin, xmax, ymax] in the region's CRS, or null",
            )
    if region.mapping_file is not None:
        try:
            load_mapper(region.mapping_file)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {key}.mapping_file: {exc}") from exc
    if region.synthetic is not None:
        _check_site(f"{key}.synthetic", region.synthetic, source)


def _check_site(key: str, site: SyntheticSite, source: str) -> None:
    north = 32601 <= site.utm_epsg <= 32660
    south = 32701 <= site.utm_epsg <= 32760
    zone = math.floor((site.centre_lon + 180) / 6) % 60 + 1
    expected = (32600 if site.centre_lat >= 0 else 32700) + zone
    if not (north or south) or north != (site.centre_lat >= 0) or abs(site.utm_epsg % 100 - zone) > 1:
        raise fail(
            source,
            f"{key}.utm_epsg",
            f"EPSG:{site.utm_epsg} is not the WGS 84 UTM zone of ({site.centre_lon}, {site.centre_lat}) or a neighbour",
            f"use {expected}",
        )
    known = set(class_names())
    unknown = sorted(set(site.class_mix) - known)
    if unknown:
        raise fail(source, f"{key}.class_mix", f"unknown classes {unknown}", f"use class names from {sorted(known)}")
    if any(weight < 0 for weight in site.class_mix.values()) or sum(site.class_mix.values()) <= 0:
        raise fail(source, f"{key}.class_mix", "weights must be non-negative and not all zero", "give relative areas")


def _output_folders(params: Params) -> Iterator[tuple[str, Path]]:
    """Every folder or file a stage writes (each Path of a section but ``regions``), with its key path."""
    for section_name, section in params:
        if section_name == "regions" or not isinstance(section, BaseModel):
            continue
        for key, value in section:
            if isinstance(value, Path):
                yield f"{section_name}.{key}", value


def _check_synthetic_raw_dirs(params: Params, source: str, base: Path | None) -> None:
    """`lithomap generate` replaces a synthetic region's whole raw_dir: it must hold nothing else."""
    for name, region in params.regions.items():
        if region.synthetic is None:
            continue
        raw = region.raw_dir.resolve()
        anchor = (base if base is not None else Path.cwd()).resolve()
        if raw == anchor or raw in anchor.parents:
            what = "the params file's folder" if base is not None else "the working directory"
            raise fail(
                source,
                f"regions.{name}.raw_dir",
                f"{region.raw_dir} is or contains {what} ({anchor}); `lithomap generate` replaces the whole raw_dir",
                f"give the region a folder of its own, e.g. data/raw/{name}",
            )
        others = [(f"regions.{other}.raw_dir", r.raw_dir) for other, r in params.regions.items() if other != name]
        for what, folder in [*others, *_output_folders(params)]:
            folder = folder.resolve()
            if folder == raw or raw in folder.parents:
                raise fail(
                    source,
                    f"regions.{name}.raw_dir",
                    f"{region.raw_dir} overlaps {what} ({folder}); `lithomap generate` replaces the whole raw_dir",
                    f"give the region a folder of its own, e.g. data/raw/{name}",
                )


def _check_preprocess(params: Params, source: str) -> None:
    settings = params.preprocess
    fractions = settings.split_fractions
    if any(share <= 0 for share in fractions) or abs(sum(fractions) - 1) > FRACTION_TOLERANCE:
        raise fail(
            source,
            "preprocess.split_fractions",
            f"{list(fractions)} must be three positive shares (train, validation, test) summing to 1",
            "write e.g. [0.7, 0.15, 0.15]",
        )
    if settings.block_size < settings.patch_size:
        raise fail(
            source,
            "preprocess.block_size",
            f"{settings.block_size} px is smaller than preprocess.patch_size ({settings.patch_size} px), "
            "so no validation or test patch fits in a block",
            f"set block_size to at least {settings.patch_size}",
        )
    seen: dict[int, str] = {}
    for season, months in settings.season_months.items():
        for month in months:
            if not 1 <= month <= 12:
                raise fail(
                    source, f"preprocess.season_months.{season}", f"month {month} is not 1–12", "list months 1–12"
                )
            if month in seen:
                raise fail(
                    source,
                    f"preprocess.season_months.{season}",
                    f"month {month} is also in {seen[month]!r}",
                    "put each month in one season only",
                )
            seen[month] = season
    for arch in ARCHITECTURES:
        depth = getattr(params.model, arch).depth
        if settings.patch_size % 2**depth:
            raise fail(
                source,
                "preprocess.patch_size",
                f"{settings.patch_size} px is not divisible by 2**model.{arch}.depth = {2**depth}",
                f"use a multiple of {2**depth} (e.g. {2**depth * max(1, round(settings.patch_size / 2**depth))}) "
                f"or lower model.{arch}.depth",
            )


def _check_experiments(params: Params, source: str) -> None:
    months = params.preprocess.season_months
    for name, experiment in params.experiments.items():
        missing = sorted(set(experiment.seasons or []) - set(months))
        if missing:
            raise fail(
                source,
                f"experiments.{name}.seasons",
                f"seasons {missing} have no months in preprocess.season_months (it has {sorted(months)})",
                f"add {missing[0]}: [months] to preprocess.season_months or drop it from the experiment",
            )


def _check_training(params: Params, source: str) -> None:
    train = params.train
    if train is None:
        return
    if train.preset not in train.presets:
        raise fail(
            source,
            "train.preset",
            f"{train.preset!r} is not one of train.presets ({', '.join(train.presets) or 'none'})",
            "name a preset defined under train.presets, or add it there",
        )
    for name, preset in train.presets.items():
        missing = [arch for arch in ARCHITECTURES if arch not in preset.learning_rate]
        if missing:
            raise fail(
                source,
                f"train.presets.{name}.learning_rate",
                f"no learning rate for {', '.join(missing)}",
                "give one per model, e.g. {cnn: 0.002, convlstm: 0.002}",
            )
        bad = {arch: rate for arch, rate in preset.learning_rate.items() if not rate > 0}
        if bad:
            raise fail(source, f"train.presets.{name}.learning_rate", f"{bad} must be positive", "use e.g. 0.002")


def _check_loss(params: Params, source: str) -> None:
    weights = params.loss.class_weights
    if isinstance(weights, list) and (
        len(weights) != N_CLASSES or any(w < 0 for w in weights) or not any(w > 0 for w in weights[1:])
    ):
        raise fail(
            source,
            "loss.class_weights",
            f"a list needs {N_CLASSES} non-negative weights (ids 0–13, some class 1–13 positive); "
            f"got {len(weights)}: {weights}",
            "list 14 numbers, or use auto, thesis or none",
        )


def _check_validation(params: Params, source: str) -> None:
    checks = params.validation
    for key in ("lst_range_k", "emissivity_range", "sar_range_db"):
        low, high = getattr(checks, key)
        if not low < high:
            raise fail(
                source, f"validation.{key}", f"[{low}, {high}] is not [low, high]", "put the smaller value first"
            )


def _check_matrix(params: Params, source: str) -> None:
    for key, chosen, known in (
        ("matrix.regions", params.matrix.regions, params.regions),
        ("matrix.experiments", params.matrix.experiments, params.experiments),
    ):
        unknown = [name for name in chosen or [] if name not in known]
        if unknown:
            raise fail(
                source,
                key,
                f"{unknown} not defined in {key.split('.')[1]} ({', '.join(known) or 'none'})",
                "name only defined ones, or null for all",
            )


def _check_tune(params: Params, source: str) -> None:
    space = params.tune.space
    for key in ("learning_rate", "l2", "dropout", "focal_gamma"):
        low, high = getattr(space, key)
        log_scale = key in ("learning_rate", "l2")
        if not (low < high and (low > 0 or not log_scale)):
            raise fail(
                source,
                f"tune.space.{key}",
                f"[{low}, {high}] is not a range [low, high]"
                + (" of positive values (log-uniform)" if log_scale else ""),
                "put the smaller value first" + (" and keep both above 0" if log_scale else ""),
            )
    for key in ("batch_size", "base_filters", "lstm_filters"):
        choices = getattr(space, key)
        if not choices or any(choice < 1 for choice in choices):
            raise fail(source, f"tune.space.{key}", f"{choices} must list positive integers", "write e.g. [8, 16]")
