"""The ``lithomap`` command: one verb per pipeline step."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lithomap.errors import LithomapError

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
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pyogrio").setLevel(logging.WARNING)
    try:
        return step()
    except LithomapError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from exc


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
    quiet: QuietOption = False,
) -> None:
    """Generate synthetic raw data (ECOSTRESS, Sentinel-1, Sentinel-2, geology) for regions.

    Each region needs a `synthetic` section in params.yaml (seed, site, class mix); the
    shared settings (scene size, dates, noise) are in the `generate` section. Files go to
    the region's raw_dir in the real products' formats; the previous folder is replaced
    only once the new one is complete.
    """
    from lithomap.config import load_params
    from lithomap.scenes.generate import generate_region

    def step() -> None:
        config = load_params(params)
        for name in _regions(config, region):
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
def ingest(region: RegionOption = None, params: ParamsOption = None, quiet: QuietOption = False) -> None:
    """Read a region's raw products and put them on the region grid as one cube (zarr).

    Sources are found by file name anywhere under the region's raw_dir: ECOSTRESS
    (AppEEARS exports or L2T tiles), Landsat ST, Sentinel-1, Sentinel-2 and geological
    maps. Missing sources are reported; the cube goes to ingest.interim_dir/<region>/cube.zarr.
    """
    from lithomap.config import load_params
    from lithomap.io.ingest import ingest_region

    def step() -> None:
        config = load_params(params)
        for name in _regions(config, region):
            report = ingest_region(name, config.region(name), config.ingest, progress=not quiet)
            console.print(f"[green]{name}[/]: {report.summary()}")

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
                found = mapper.class_id(item)
                name = mapper.classes[found].name if found is not None else "[red]unmapped[/]"
                table.add_row("-" if found is None else str(found), name, item)
        console.print(table)

    _run(step)


if __name__ == "__main__":
    app()
