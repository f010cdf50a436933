"""The ``lithomap`` command: one verb per pipeline step."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.console import Console
from rich.table import Table

from lithomap.errors import LithomapError

if TYPE_CHECKING:
    from lithomap.datasets.features import Architecture
    from lithomap.validation.gate import Purpose

app = typer.Typer(
    help="lithomap: lithology maps from thermal, SAR and NDVI time series. One verb per pipeline step.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

RegionOption = Annotated[
    list[str] | None,
    typer.Option("--region", "-r", help="Region name from params.yaml; repeat for several. Default: all regions."),
]
ParamsOption = Annotated[
    Path | None,
    typer.Option("--params", "-p", help="Params file. Default: $LITHOMAP_PARAMS or ./params.yaml."),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


def _run(step):
    """Run a CLI step; domain errors become one red line and exit code 2."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("pyogrio", "great_expectations", "numexpr"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return step()
    except LithomapError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from exc
    except Exception as exc:
        failure = _tracking_failure(exc)
        if failure is None:
            raise
        err_console.print(f"[bold red]error:[/] {failure}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from exc


def _tracking_failure(exc: Exception) -> LithomapError | None:
    """An MLflow or database error no step turned into a message, as one message naming the store.

    Only possible once MLflow is imported, so nothing is imported here to find out.
    """
    kinds = [
        getattr(sys.modules.get(module), name, None)
        for module, name in (("mlflow.exceptions", "MlflowException"), ("sqlalchemy.exc", "SQLAlchemyError"))
    ]
    known = tuple(kind for kind in kinds if isinstance(kind, type))
    if not known or not isinstance(exc, known):
        return None
    from lithomap.registry.tracking import tracking_failure

    return tracking_failure(exc)


def _regions(params, names: list[str] | None) -> list[str]:
    if not names:
        return list(params.regions)
    for name in names:
        params.region(name)
    return names


@app.command()
def generate(
    region: RegionOption = None,
    params: ParamsOption = None,
    quicklook: Annotated[
        bool, typer.Option("--quicklook/--no-quicklook", help="Draw the quick-look PNG under generate.quicklook_dir.")
    ] = True,
    append_dates: Annotated[
        int,
        typer.Option(
            "--append-dates",
            help="Instead of regenerating, add N new ECOSTRESS overpasses after the last one (new data).",
            min=0,
        ),
    ] = 0,
    quiet: QuietOption = False,
) -> None:
    """Generate synthetic raw data (ECOSTRESS, Sentinel-1, Sentinel-2, geology) for regions.

    With --append-dates N an existing region gets N new acquisitions after its last one
    (same scene and physics, reproducible from the seed); `lithomap retrain` then records
    them in DVC and rebuilds that region's downstream stages.

    Each region needs a `synthetic` section in params.yaml (seed, site, class mix); the
    shared settings (scene size, dates, noise) are in the `generate` section. Files go to
    the region's raw_dir in the real products' formats; the previous folder is replaced
    only once the new one is complete.
    """
    from lithomap.config import load_params
    from lithomap.scenes.generate import append_acquisitions, generate_region

    def step() -> None:
        config = load_params(params)
        for name in _regions(config, region):
            if append_dates:
                report = append_acquisitions(
                    name, config.region(name), config.generate, append_dates, progress=not quiet
                )
                console.print(
                    f"[green]{name}[/]: {append_dates} new ECOSTRESS overpasses, {report.thermal_dates} in all, "
                    f"last {report.overpasses[-1]['utc']} ({report.seconds:.1f} s)"
                )
                continue
            report = generate_region(
                name, config.region(name), config.generate, quicklook=quicklook, progress=not quiet
            )
            console.print(
                f"[green]{name}[/]: {report.thermal_dates} ECOSTRESS overpasses "
                f"({report.day_dates} day, {report.night_dates} night; {', '.join(report.seasons)}), "
                f"{report.sentinel1_dates} Sentinel-1, {report.sentinel2_dates} Sentinel-2 dates, "
                f"{report.files} files in {report.raw_dir} ({report.seconds:.1f} s)"
                + (f"; quick look {report.quicklook}" if report.quicklook else "")
            )

    _run(step)


@app.command()
def ingest(
    region: RegionOption = None,
    params: ParamsOption = None,
    quiet: QuietOption = False,
    skip_validation: Annotated[
        bool,
        typer.Option(
            "--skip-validation",
            help="Build the cube without a passing raw validation of these files (not recommended).",
        ),
    ] = False,
) -> None:
    """Read a region's raw products and put them on the region grid as one cube (zarr).

    Sources are found by file name anywhere under the region's raw_dir: ECOSTRESS
    (AppEEARS exports or L2T tiles), Landsat ST, Sentinel-1, Sentinel-2 and geological
    maps. Missing sources are reported; the cube goes to ingest.interim_dir/<region>/cube.zarr.
    Only files that passed `lithomap validate --stage raw` are ingested: without a passing
    report for exactly these files, the raw gate runs first.
    """
    from lithomap.config import load_params
    from lithomap.io.ingest import ingest_region
    from lithomap.validation.gate import ValidationFailedError
    from lithomap.validation.receipt import raw_receipt
    from lithomap.validation.run import validate_raw

    def step() -> None:
        config = load_params(params)
        for name in _regions(config, region):
            settings = config.region(name)
            receipt = raw_receipt(name, settings.raw_dir, config.validation.reports_dir)
            if skip_validation:
                console.print(
                    f"[yellow]{name}[/]: --skip-validation: ingesting without the raw gate ({receipt.reason})",
                    soft_wrap=True,
                )
            elif not receipt.valid:
                console.print(f"{name}: {receipt.reason}; running the raw gate first", soft_wrap=True)
                try:
                    validate_raw(name, settings, config.ingest, config.preprocess, config.validation)
                except ValidationFailedError as error:
                    raise ValidationFailedError(
                        f"{error}\nNo cube was built for {name!r}. To ingest anyway (not recommended): "
                        f"`lithomap ingest -r {name} --skip-validation`."
                    ) from error
            report = ingest_region(name, settings, config.ingest, progress=not quiet)
            console.print(f"[green]{name}[/]: {report.summary()}")

    _run(step)


@app.command()
def validate(
    stage: Annotated[str, typer.Option("--stage", "-s", help="raw (before ingest) or processed (after preprocess).")],
    region: RegionOption = None,
    experiment: Annotated[
        list[str] | None,
        typer.Option("--experiment", "-e", help="Processed stage: experiment to check; repeat. Default: all built."),
    ] = None,
    purpose: Annotated[
        str,
        typer.Option("--for", help="Raw stage: 'mapping' (labels optional) or 'training' (labels required)."),
    ] = "mapping",
    params: ParamsOption = None,
) -> None:
    """Validate raw files or processed datasets with Great Expectations; stop on critical failures.

    Rasters are summarised as tables (one row per file, date, channel …) and checked
    against the suites in lithomap.validation.suites, with thresholds from the
    `validation` section. Labels are needed to train, not to map: a raw folder without
    labels passes for mapping and says training is not possible (--for training makes that
    a failure). Writes Data Docs and a JSON summary under validation.reports_dir.
    """
    from lithomap.config import load_params
    from lithomap.datasets.preprocess import built_experiments
    from lithomap.errors import ConfigError
    from lithomap.validation.run import validate_processed, validate_raw

    def step() -> None:
        if stage not in ("raw", "processed"):
            raise ConfigError(f"--stage must be 'raw' or 'processed', not {stage!r}")
        if purpose not in ("mapping", "training"):
            raise ConfigError(f"--for must be 'mapping' or 'training', not {purpose!r}")
        config = load_params(params)
        for experiment_name in experiment or []:
            config.experiment(experiment_name)
        for name in _regions(config, region):
            if stage == "raw":
                report = validate_raw(
                    name,
                    config.region(name),
                    config.ingest,
                    config.preprocess,
                    config.validation,
                    purpose=cast("Purpose", purpose),
                )
            else:
                names = experiment or built_experiments(name, config.experiments, config.preprocess)
                report = validate_processed(name, names, config.preprocess, config.validation)
            console.print(f"[green]{name}[/]: {report.summary()}")
            for blocker in report.training_blockers:
                console.print(f"  [yellow]training not possible[/] {blocker}")
            for warning in report.warnings:
                console.print(f"  [yellow]warning[/] {warning}")

    _run(step)


@app.command()
def split(region: RegionOption = None, params: ParamsOption = None) -> None:
    """Cut each region into blocks and assign them to train/validation/test (spatially blocked).

    Blocks (preprocess.block_size) go whole to one split, stratified so rare classes
    appear in every split where the region allows, with a buffer (preprocess.buffer_px,
    default half a patch) between splits. Writes processed_dir/<region>/split.npz, a
    picture of the split and the class counts per split under preprocess.reports_dir.
    """
    from lithomap.config import load_params
    from lithomap.datasets.preprocess import split_region
    from lithomap.datasets.split import SPLITS

    def step() -> None:
        config = load_params(params)
        for name in _regions(config, region):
            result = split_region(name, config.region(name), config.ingest, config.preprocess)
            blocks = ", ".join(f"{s} {int((result.blocks == i).sum())}" for i, s in enumerate(SPLITS))
            console.print(f"[green]{name}[/]: blocks {blocks}; buffer {result.buffer_px} px")

    _run(step)


@app.command()
def preprocess(
    region: RegionOption = None,
    experiment: Annotated[
        list[str] | None,
        typer.Option("--experiment", "-e", help="Experiment from params.yaml; repeat for several. Default: all."),
    ] = None,
    params: ParamsOption = None,
) -> None:
    """Build experiment datasets: selected dates, patches, normalisation, shards for tf.data.

    Uses the region's split, which `lithomap split` makes (its own DVC stage); without it
    this fails and says so. Every experiment of a region shares the same patches and
    split. Without -e, every experiment the region's data allows is built and the others
    are reported as skipped (e.g. `winter` without winter dates); an experiment named with
    -e must be possible. Writes processed_dir/<region>/<experiment>/ (npz shards + manifest.json).
    """
    from lithomap.config import load_params
    from lithomap.datasets.preprocess import preprocess_region

    def step() -> None:
        config = load_params(params)
        names = experiment or list(config.experiments)
        selections = {name: config.experiment(name) for name in names}
        for region_name in _regions(config, region):
            result = preprocess_region(
                region_name,
                config.region(region_name),
                config.ingest,
                config.preprocess,
                selections,
                skip_impossible=not experiment,
                all_experiments=config.experiments,
            )
            for report in result.built:
                console.print(f"[green]{region_name}[/] {report.summary()}")
            for name, why in result.skipped.items():
                console.print(f"[yellow]{region_name}[/] {name}: skipped, {why}")

    _run(step)


ModelOption = Annotated[str, typer.Option("--model", "-m", help="cnn (U-Net) or convlstm.")]
ExperimentOption = Annotated[str, typer.Option("--experiment", "-e", help="Experiment name from params.yaml.")]


def _architecture(model: str) -> Architecture:
    from lithomap.errors import ConfigError

    if model in ("cnn", "convlstm"):
        return cast("Architecture", model)
    raise ConfigError(f"--model must be 'cnn' or 'convlstm', not {model!r}")


@app.command()
def train(
    region: Annotated[str, typer.Option("--region", "-r", help="Region name from params.yaml.")],
    model: ModelOption = "convlstm",
    experiment: ExperimentOption = "thermal",
    params: ParamsOption = None,
    quiet: QuietOption = False,
) -> None:
    """Train a CNN or ConvLSTM on one experiment dataset of a region (seeded, resumable).

    Uses the `train` preset (epochs, batch size, learning rate, L2, patience), early
    stopping and learning-rate reduction on validation macro-F1, and the class-weighted
    focal loss of the `loss` section. A killed run started again resumes from its last
    finished epoch. Writes models/<region>/<model>-<experiment>/ (model, normalisation,
    history, curves).
    """
    from lithomap.config import load_params
    from lithomap.training.fit import train_model

    def step() -> None:
        config = load_params(params)
        config.region(region)
        config.experiment(experiment)
        result = train_model(region, _architecture(model), experiment, config, verbose=0 if quiet else 2)
        console.print(f"[green]{region}[/] {result.summary()}")

    _run(step)


@app.command()
def evaluate(
    region: Annotated[str, typer.Option("--region", "-r", help="Region name from params.yaml.")],
    model: ModelOption = "convlstm",
    experiment: ExperimentOption = "thermal",
    params: ParamsOption = None,
    track: Annotated[bool, typer.Option("--track/--no-track", help="Log to MLflow and register a challenger.")] = True,
) -> None:
    """Score a trained model on the test blocks, beside the per-pixel baseline; log and register it.

    Writes metrics.json (dvc metrics), per_class.csv and history.csv (dvc plots) and the
    confusion matrix, curves and a sample prediction as PNGs under
    evaluate.reports_dir/<region>/<model>-<experiment>/. With --track (default) the run is
    logged to MLflow and the model registered as lithomap-<region>-<model>@challenger.
    """
    from lithomap.config import load_params
    from lithomap.training.evaluate import evaluate_model

    def step() -> None:
        config = load_params(params)
        config.region(region)
        config.experiment(experiment)
        result = evaluate_model(region, _architecture(model), experiment, config, track=track)
        console.print(f"[green]{region}[/] {result.summary()}")

    _run(step)


@app.command()
def loro(
    held_out: Annotated[
        list[str] | None,
        typer.Option("--held-out", help="A region left out of training and tested whole; repeat for several."),
    ] = None,
    all_regions: Annotated[
        bool, typer.Option("--all", help="Hold out every labelled region of params.yaml in turn.")
    ] = False,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="cnn or convlstm; repeat for both. Default: loro.models (both)."),
    ] = None,
    experiment: ExperimentOption = "thermal",
    retrain: Annotated[
        bool, typer.Option("--retrain", help="Train and evaluate again even where a finished model exists.")
    ] = False,
    params: ParamsOption = None,
    quiet: QuietOption = False,
) -> None:
    """Leave-one-region-out: train on the other regions, test on every labelled pixel of the held-out one.

    The strongest generalisation test (SCIENCE.md 4): the model never sees the held-out
    region. Each training region keeps its own normalisation, and the held-out region is
    normalised by statistics of its own inputs (no labels), as `lithomap map` normalises a
    region the model did not train on; class weights come from the pooled training counts
    (train.climate_augment applies to the training); the fair baseline is trained on the
    other regions' pixels too. A
    finished model (models/loro-<region>/) and its evaluation are reused unless --retrain.
    Writes evaluate.reports_dir/loro-<region>/ per run and the table of all of them
    (loro.csv, loro.md, loro_per_class.csv, loro.png: macro-F1 over learnable and over all
    classes with block-bootstrap intervals, per-class F1, quantity and allocation
    disagreement, domain shift, not-learnable classes) under loro.reports_dir. Beside each
    network it scores the transfer model (<model>+summary: the network blended with a
    per-pixel model of the thermal summaries, loro.summary_blend) and that summary model
    alone. Nothing is registered.
    """
    from lithomap.config import load_params
    from lithomap.training.leave_one_out import labelled_regions
    from lithomap.training.loro_table import run_loro

    def step() -> None:
        from lithomap.errors import ConfigError

        config = load_params(params)
        if all_regions == bool(held_out):
            raise ConfigError("lithomap loro: give --held-out REGION (repeatable) or --all, not both or neither")
        regions = labelled_regions(config) if all_regions else list(dict.fromkeys(held_out or []))
        for name in regions:
            config.region(name)
        config.experiment(experiment)
        archs = [_architecture(name) for name in dict.fromkeys(model or config.loro.models)]
        table = run_loro(
            regions, archs, experiment, config, retrain=retrain, verbose=0 if quiet else 2, say=console.print
        )
        console.print(table.summary(), highlight=False)

    _run(step)


@app.command(name="train-global")
def train_global(
    model: ModelOption = "convlstm",
    experiment: ExperimentOption = "thermal",
    params: ParamsOption = None,
    quiet: QuietOption = False,
) -> None:
    """Train the global model on every labelled region, register it and gate it on its leave-one-region-out score.

    Trains on the train/val blocks of every region of params.yaml that holds labels, pooled
    as `lithomap loro` trains (each region keeps its own normalisation; class weights from
    the pooled counts), into models/global/<model>-<experiment>/. Logs an MLflow run and
    registers lithomap-global-<model>@challenger, tagged with its expected macro-F1 on a new
    region: the leave-one-region-out table's learnable macro-F1 for this model and
    experiment (mean over the held-out regions, and the span of their intervals). The gate
    makes it champion when there is none, or when that score beats the champion's recorded
    one by promote.margin (and the fair per-pixel baseline's in the same runs); the decision
    goes to promote.reports_dir/global-<model>.json. `lithomap map` uses the champion for a
    region without a model of its own. With loro.summary_blend > 0 the model also carries
    its summary model and maps as the transfer model, and its score is the table's
    <model>+summary rows. Needs the table: run `lithomap loro --all -m <model>` first.
    """
    from lithomap.config import load_params
    from lithomap.training.global_model import train_global as train_global_model

    def step() -> None:
        config = load_params(params)
        config.experiment(experiment)
        result = train_global_model(
            _architecture(model), experiment, config, verbose=0 if quiet else 2, say=console.print
        )
        console.print(result.summary(), highlight=False)

    _run(step)


@app.command()
def tune(
    region: Annotated[str, typer.Option("--region", "-r", help="Region name from params.yaml.")],
    model: ModelOption = "convlstm",
    experiment: ExperimentOption = "thermal",
    trials: Annotated[int | None, typer.Option("--trials", "-n", help="Trials to add. Default: tune.trials.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", help="Processes sharing the study.")] = 1,
    storage: Annotated[
        str | None,
        typer.Option(help="RDB URL or journal file. Default: $LITHOMAP_OPTUNA_STORAGE, tune.storage, SQLite."),
    ] = None,
    if_enabled: Annotated[
        bool, typer.Option("--if-enabled", help="DVC stage: only write a 'disabled' record when tune.enabled is false.")
    ] = False,
    params: ParamsOption = None,
    quiet: QuietOption = False,
) -> None:
    """Search hyper-parameters with Optuna for one region, model and experiment (resumable study).

    Trials draw learning rate, L2, batch size, base filters, dropout, focal gamma (and
    ConvLSTM filters) from the `tune.space` section with a seeded TPE sampler, train for
    tune.epochs epochs on the training path and are pruned by the median rule on the
    validation metric training monitors. Running it again adds trials to the same study.
    Each trial is an MLflow run nested under the study's run; the best values go to
    tune.reports_dir/<region>-<model>-<experiment>.json, which training uses when
    tune.enabled is true, beside history and importance pictures.
    """
    from lithomap.config import load_params

    def step() -> None:
        config = load_params(params)
        config.region(region)
        config.experiment(experiment)
        arch = _architecture(model)
        if if_enabled and not config.tune.enabled:
            from lithomap.training.tune import write_disabled_report

            path = write_disabled_report(config, region, arch, experiment)
            console.print(f"[yellow]{region}[/] tuning disabled (tune.enabled: false); wrote {path}")
            return
        from lithomap.training.tune import tune as tune_study

        result = tune_study(region, arch, experiment, config, trials=trials, workers=workers, storage=storage)
        if not quiet:
            for figure in result.figures:
                console.print(f"  picture {figure}")
        console.print(f"[green]{region}[/] {result.summary()}")

    _run(step)


@app.command()
def promote(
    region: RegionOption = None,
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="cnn and/or convlstm; default both.")] = None,
    params: ParamsOption = None,
) -> None:
    """Promote each region/model challenger to champion if it beats the champion (the gate).

    The challenger must beat the champion on the same test blocks (promote.rule: margin —
    test macro-F1 higher by more than promote.margin; paired — the paired block-bootstrap
    interval of challenger − champion macro-F1 lies above 0), and no class's F1 may fall by
    more than promote.max_class_drop. A champion scored on older data (new acquisitions,
    another split) is re-scored on the challenger's current test data first. The decision
    is tagged on the model version and written to promote.reports_dir.
    """
    from lithomap.config import load_params
    from lithomap.registry.promotion import promote_model

    def step() -> None:
        from lithomap.registry.outcome import outcome
        from lithomap.training.evaluate import score_registered_model

        config = load_params(params)
        for name in _regions(config, region):
            for choice in model or ["cnn", "convlstm"]:
                arch = _architecture(choice)

                def rescore(uri: str, experiment: str, name: str = name, arch: Architecture = arch) -> dict:
                    return score_registered_model(name, arch, experiment, config, uri)

                decision = promote_model(name, arch, config.promote, rescore, n_boot=config.evaluate.n_boot)
                words: str = outcome(decision["promoted"], decision["champion_version"])
                if words == "kept":
                    words = f"kept champion v{decision['champion_version']}"
                colour = "green" if decision["promoted"] else "yellow"
                console.print(f"{name} {arch}: [{colour}]{words}[/] — {decision['reason']}")

    _run(step)


@app.command()
def matrix(
    params: ParamsOption = None,
    force: Annotated[bool, typer.Option(help="Retrain and re-evaluate cells that already have metrics.")] = False,
    track: Annotated[bool, typer.Option("--track/--no-track", help="Log each new cell to MLflow.")] = False,
) -> None:
    """Run region × model × experiment (the `matrix` section) and write the thesis-style table.

    Cells without metrics are trained and evaluated first. Writes matrix.md (accuracy /
    macro-F1 per cell), matrix.csv and a heatmap PNG under matrix.reports_dir.
    """
    from lithomap.config import load_params
    from lithomap.training.evaluate import evaluate_model
    from lithomap.training.fit import train_model
    from lithomap.training.matrix import collect, run_missing, write_table

    def step() -> None:
        config = load_params(params)

        def run_cell(cell) -> None:
            console.print(f"[bold]{cell.region} {cell.arch} {cell.experiment}[/]")
            train_model(cell.region, cell.arch, cell.experiment, config, verbose=0)
            console.print("  " + evaluate_model(cell.region, cell.arch, cell.experiment, config, track=track).summary())

        run_missing(config, run_cell, force=force)
        paths = write_table(collect(config), config)
        console.print((paths[0]).read_text())
        console.print("written: " + ", ".join(str(p) for p in paths))

    _run(step)


@app.command()
def cv(
    region: RegionOption = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="cnn and/or convlstm; repeat. Default: cv.models.")
    ] = None,
    experiment: Annotated[
        list[str] | None,
        typer.Option("--experiment", "-e", help="Experiment from params.yaml; repeat. Default: cv.experiments."),
    ] = None,
    folds: Annotated[int | None, typer.Option("--folds", "-k", help="Folds. Default: cv.folds.", min=2)] = None,
    seeds: Annotated[int | None, typer.Option("--seeds", help="Seeds per fold. Default: cv.seeds.", min=1)] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", help="Cap on each cell's epochs. Default: cv.epochs.", min=1)
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", help="Cells trained at once (processes).", min=1)] = 1,
    report_only: Annotated[
        bool, typer.Option("--report-only", help="Only rebuild the reports from finished cells.")
    ] = False,
    params: ParamsOption = None,
    quiet: QuietOption = False,
) -> None:
    """K-fold blocked spatial cross-validation with paired comparisons (README "Cross-validation").

    Every labelled block of a region is a test block exactly once (folds saved in
    cv.data_dir/<region>/folds.npz and drawn in cv.reports_dir/<region>/folds.png, shared by
    every model and experiment). Each region × model × experiment × fold × seed cell trains
    with the normal training, predicts its fold's test pixels by full-scene inference and
    keeps them (resumable: finished cells are skipped). Reports in cv.reports_dir: pooled
    macro-F1 and OA with block-bootstrap intervals, fold mean ± sd, the per-pixel ceiling,
    boundary vs interior, and the paired differences of cv.comparisons with verdicts.
    """
    from lithomap.config import load_params
    from lithomap.progress import progress_bar
    from lithomap.training.cv import (
        CvCell,
        cell_path,
        check_failures,
        has_dataset,
        prepare_datasets,
        prepare_folds,
        region_cells,
        run_cells,
        saved_fold_count,
    )
    from lithomap.training.cv_reports import build_report, comparisons

    def step() -> None:
        config = load_params(params)
        overrides = {"folds": folds, "seeds": seeds, "epochs": epochs}
        settings = config.cv.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        config = config.model_copy(update={"cv": settings})
        regions = _regions(config, region or settings.regions)
        models = [_architecture(m) for m in (model or settings.models)]
        names = experiment or settings.experiments or list(config.experiments)
        selections = {name: config.experiment(name) for name in names}
        comparisons(config, regions, models, names)  # a bad comparison fails before any training
        k_of: dict[str, int] = {}
        failed: dict[CvCell, str] = {}
        for name in regions:
            if report_only:
                k_of[name] = saved_fold_count(config, name) or settings.folds
                continue
            made = prepare_folds(config, name, settings.folds)
            k_of[name] = made.k
            for skipped, why in prepare_datasets(config, name, made, selections).items():
                console.print(f"[yellow]{name}[/] {skipped}: not possible, {why}")
            cells = region_cells(config, name, models, names, made.k)
            done = [cell for cell in cells if cell_path(config, cell).is_file()]
            if done:
                console.print(f"[green]{name}[/]: {len(done)} of {len(cells)} cells already done, skipped")
            runnable = [cell for cell in cells if cell not in done and has_dataset(config, cell)]
            with progress_bar(f"cv {name}", len(cells), enabled=not quiet) as advance:
                advance(len(cells) - len(runnable))
                failed |= run_cells(config, runnable, workers=workers, advance=advance)
        report = build_report(config, regions, models, names, k_of, settings.seeds)
        for row in report.scores.itertuples():
            console.print(
                f"[green]{row.region}[/] {row.model}/{row.experiment}: macro-F1 {row.macro_f1:.3f} "
                f"[{row.macro_f1_low:.3f}, {row.macro_f1_high:.3f}], folds {row.fold_macro_f1_mean:.3f} ± "
                f"{row.fold_macro_f1_sd:.3f}; per-pixel ceiling {row.baseline_macro_f1:.3f}"
            )
        for row in report.comparisons.itertuples():
            console.print(f"{row.region} {row.comparison}: {row.verdict}")
        console.print("written: " + ", ".join(str(p) for p in report.paths))
        check_failures(failed)

    _run(step)


@app.command()
def summary(
    params: ParamsOption = None,
    experiment: ExperimentOption = "thermal",
) -> None:
    """Print the test scores and champions of every region and model (the end of `make demo`)."""
    from lithomap.config import load_params
    from lithomap.training.summary import champion_summary

    def step() -> None:
        frame = champion_summary(load_params(params), experiment)
        table = Table(title=f"lithomap: test scores on spatially held-out blocks, experiment '{experiment}'")
        columns = ("region", "model", "OA", "macro-F1", "95% CI", "kappa", "baseline F1", "champion", "gate", "map")
        for column in columns:
            table.add_column(column)
        for row in frame.itertuples():
            table.add_row(
                row.region,
                row.model,
                f"{row.accuracy:.3f}",
                f"{row.macro_f1:.3f}",
                row.ci,
                f"{row.kappa:.3f}",
                f"{row.baseline_macro_f1:.3f}",
                row.champion,
                row.decision,
                row.map,
            )
        Console(width=max(console.width, 120)).print(table)

    _run(step)


@app.command(name="map")
def map_region(
    region: Annotated[str, typer.Option("--region", "-r", help="Region to map (labelled or not).")],
    model: ModelOption = "convlstm",
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", "-e", help="Must match the model's training experiment; default: that one."),
    ] = None,
    alias: Annotated[
        str | None, typer.Option("--alias", "-a", help="Registry alias: champion or challenger (default map.alias).")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="A registry version number instead of an alias.")
    ] = None,
    model_region: Annotated[
        str | None,
        typer.Option("--model-region", help="Use this region's registered model (to map a region without labels)."),
    ] = None,
    use_global: Annotated[
        bool,
        typer.Option("--global", help="Use the global model lithomap-global-<model> even if the region has its own."),
    ] = False,
    if_no_champion: Annotated[
        str,
        typer.Option(
            "--if-no-champion",
            help="When neither the region's model nor the global model has a champion: 'fail' (default), or "
            "'challenger' to map with the region's challenger, marked not promoted (dvc.yaml's map stage).",
        ),
    ] = "fail",
    params: ParamsOption = None,
) -> None:
    """Map a region with a registered model: class, probability, confidence rasters, vectors and a picture.

    Loads lithomap-<region>-<model>@<alias> (or --version) through MLflow with its
    normalisation (the global model, or another region's model via --model-region,
    normalises the region by statistics of its own inputs instead, as `lithomap loro`
    scores held-out regions; map.json says which); a region without a model of its own (none registered, or none at the
    default alias) is mapped with the global model lithomap-global-<model> at that alias
    (`lithomap train-global`), which --global also forces. With --if-no-champion challenger a
    region whose own model the gate did not promote, and without a global champion, is
    mapped with its own challenger, marked "not promoted" in the console line, map.json,
    the GeoTIFF and MLflow tags and the picture's title. Slides overlapping windows over
    the whole region and blends them seam-free, strip by strip. Writes COGs on the region
    grid, map.gpkg, map.png and map.json (model scope, seam index; test-block scores where
    labels exist; domain shift and expected accuracy) under
    map.maps_dir/<region>/<model>-<experiment>/ and logs them to the model's MLflow run.
    """
    from lithomap.config import load_params
    from lithomap.mapping.maps import IF_NO_CHAMPION, IfNoChampion, make_map
    from lithomap.registry.tracking import configure_tracking

    if alias is not None and version is not None:
        raise typer.BadParameter("give --alias or --version, not both")
    if if_no_champion not in IF_NO_CHAMPION:
        raise typer.BadParameter(f"--if-no-champion must be one of {', '.join(IF_NO_CHAMPION)}, not {if_no_champion!r}")

    def step() -> None:
        config = load_params(params)
        config.region(region)
        if model_region:
            config.region(model_region)
        if experiment:
            config.experiment(experiment)
        configure_tracking()
        result = make_map(
            region,
            _architecture(model),
            config,
            experiment=experiment,
            alias=alias,
            version=version,
            model_region=model_region,
            use_global=use_global,
            if_no_champion=cast("IfNoChampion", if_no_champion),
        )
        colour = "green" if result.promoted else "yellow"
        console.print(f"[{colour}]{region}[/] {result.summary()}", highlight=False)

    _run(step)


@app.command()
def report(region: RegionOption = None, params: ParamsOption = None) -> None:
    """Write the science report of regions: thermal signatures, hypotheses, maps, confidence vs NDVI.

    CSV and PNG files and one self-contained index.html per region under
    report.reports_dir/<region>/. Maps come from `lithomap map`; the matrix heatmap from
    `lithomap matrix` where it exists.
    """
    from lithomap.analysis.report import build_report
    from lithomap.config import load_params

    def step() -> None:
        config = load_params(params)
        for name in _regions(config, region):
            console.print(f"[green]{build_report(name, config).summary()}[/]")

    _run(step)


@app.command()
def classes(
    text: Annotated[list[str] | None, typer.Argument(help="Legend texts to map; none = print the class table.")] = None,
    mapping: Annotated[Path | None, typer.Option(help="Mapping YAML instead of the packaged one.")] = None,
) -> None:
    """Show the 14 classes, or the class each given legend text maps to."""
    from lithomap.classes import load_mapper

    def step() -> None:
        mapper = load_mapper(mapping)
        table = Table("id", "class", "label" if not text else "legend text")
        if not text:
            for c in mapper.classes:
                table.add_row(str(c.id), f"[{c.colour}]■[/] {c.name}", c.label)
        else:
            for item in text:
                found = mapper.map_text(item)
                name = mapper.classes[found].name if found is not None else "[red]unmapped[/]"
                table.add_row("-" if found is None else str(found), name, item)
        console.print(table)

    _run(step)


FLOW_ENTRYPOINT = "flows/retrain.py:retrain"


def _retrain_flow(project: Path):
    """The ``retrain`` flow of the project's flows/retrain.py (Prefect imported here, not before)."""
    from lithomap.errors import ConfigError

    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    path = project / FLOW_ENTRYPOINT.split(":")[0]
    if not path.is_file():
        raise ConfigError(f"{path}: no flow file. Fix: run from the repository root or pass --project.")
    from prefect.flows import load_flow_from_entrypoint

    return load_flow_from_entrypoint(f"{path}:retrain")


ProjectOption = Annotated[Path, typer.Option("--project", help="Repository root (dvc.yaml, params.yaml, flows/).")]


@app.command()
def retrain(
    region: RegionOption = None,
    project: ProjectOption = Path(),
    task_runner: Annotated[
        str | None, typer.Option(help="threads, sequential or dask. Default: orchestration.task_runner.")
    ] = None,
    max_workers: Annotated[
        int | None, typer.Option(help="Regions at once. Default: orchestration.max_workers.")
    ] = None,
) -> None:
    """Bring the pipeline up to date through Prefect: regions in parallel, one summary.

    Runs the Prefect flow flows/retrain.py (ephemeral mode unless PREFECT_API_URL is set):
    each dvc.yaml stage of each region is one task that DVC's check skips when up to date,
    otherwise runs the stage's own command and records it in dvc.lock (`dvc commit`).
    Afterwards `dvc status` is clean. Exit code 1 when a region failed.
    """

    def step() -> None:
        flow = _retrain_flow(project)
        state = flow(
            regions=region,
            project_dir=str(project.resolve()),
            task_runner_name=task_runner,
            max_workers=max_workers,
            return_state=True,
        )
        if state.is_failed():
            err_console.print(f"[bold red]retrain failed[/] (flow run {state.state_details.flow_run_id})")
            err_console.print(state.message or "", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1)
        console.print(state.result(), highlight=False, soft_wrap=True)

    _run(step)


@app.command()
def serve(
    project: ProjectOption = Path(),
    cron: Annotated[
        str | None, typer.Option(help="Cron of the schedule. Default: orchestration.schedule_cron.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port of the local server. Default: orchestration.server_port.")
    ] = None,
) -> None:
    """Serve the `retrain` deployment on a cron schedule (starts a local Prefect server if needed).

    Without PREFECT_API_URL a Prefect server is started on 127.0.0.1 (UI at http://127.0.0.1:<port>),
    and stopped again with this command (Ctrl-C). Scheduled and manually triggered runs
    (`prefect deployment run retrain/retrain`) execute in this process's runner.
    """
    from contextlib import nullcontext

    from lithomap.config import load_params
    from lithomap.orchestration.server import API_ENV, local_server

    def step() -> None:
        settings = load_params(project / "params.yaml").orchestration
        chosen_port = port or settings.server_port
        server = nullcontext(os.environ[API_ENV]) if os.environ.get(API_ENV) else local_server(chosen_port)
        with server as url:
            os.environ[API_ENV] = url
            console.print(f"Prefect API {url}; UI {url.removesuffix('/api')}")
            flow = _retrain_flow(project)
            flow.serve(
                name="retrain",
                cron=cron or settings.schedule_cron,
                parameters={"project_dir": str(project.resolve())},
                description="Retrain every region whose data, code or params changed (lithomap).",
            )

    _run(step)


if __name__ == "__main__":
    app()
