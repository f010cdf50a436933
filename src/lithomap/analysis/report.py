"""The science report of a region: CSV + PNG under ``reports/<region>/`` and one self-contained HTML page.

``build_report`` gathers, for one region:

- thermal signatures (``signatures_diurnal.csv``, ``signatures_seasonal.csv``,
  ``signatures.png``) and the hypothesis table (``hypotheses.csv``), when the cube has labels;
- the geological map reconstruction (``reconstruction.png``): ground truth and every map of
  the region under ``maps/<region>/`` side by side, test blocks outlined, with a table of
  the maps: model, seam index, test scores, and how far to trust a map of a region the
  model did not train on (domain shift, expected macro-F1 with its interval, the
  normalisation used, and the map's warning, shown above the table too; ``maps_table``);
- confidence against NDVI per map (``confidence_ndvi.csv`` with the rank correlations,
  ``confidence_ndvi_<model>-<experiment>.csv`` curves, ``confidence_ndvi.png``), when the
  cube has NDVI and maps exist;
- the experiment-matrix heatmap of ``lithomap matrix`` where it exists;

and writes ``index.html`` with every picture embedded (base64), so a stakeholder can open
the one file without the dashboard. Parts whose inputs are missing say so on the page.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import rasterio
import xarray as xr

from lithomap.analysis.hypotheses import hypothesis_table
from lithomap.analysis.signatures import thermal_signatures
from lithomap.analysis.vegetation import binned_curve, rank_correlation
from lithomap.atomic import save_figure, write_text
from lithomap.classes import all_classes
from lithomap.config import Params
from lithomap.datasets.preprocess import SPLIT_FILE
from lithomap.datasets.split import TEST, SpatialSplit
from lithomap.mapping.cube import open_region_cube
from lithomap.mapping.folders import MAP_JSON, region_maps
from lithomap.mapping.legend import add_class_legend, class_colormap
from lithomap.mapping.writers import CLASSES_FILE, CONFIDENCE_FILE


@dataclass
class ReportResult:
    """What one region's report holds."""

    region: str
    index: Path
    hypotheses: pd.DataFrame | None
    correlations: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        held = "" if self.hypotheses is None else f"; hypotheses holding: {int(self.hypotheses['holds'].sum())}/5"
        return f"{self.region}: {self.index}{held}" + "".join(f"; {note}" for note in self.notes)


def build_report(region: str, params: Params) -> ReportResult:
    """Write the region's report (see the module docstring) and return what it holds."""
    settings = params.report
    out = settings.reports_dir / region
    out.mkdir(parents=True, exist_ok=True)
    cube = open_region_cube(region, params)
    sections: list[str] = []
    result = ReportResult(region, out / "index.html", None, None)

    if "label" in cube:
        diurnal, seasonal = thermal_signatures(cube, settings.hour_bin, settings.min_bin_pixels)
        write_text(out / "signatures_diurnal.csv", diurnal.to_csv(index=False))
        write_text(out / "signatures_seasonal.csv", seasonal.to_csv(index=False))
        _draw_signatures(diurnal, seasonal, out / "signatures.png", region)
        result.hypotheses = hypothesis_table(diurnal)
        write_text(out / "hypotheses.csv", result.hypotheses.to_csv(index=False))
        sections.append(_section("Thermal signatures", out / "signatures.png", _signature_text()))
        sections.append(f"<h2>The thesis's hypotheses in our data</h2>\n{_table_html(result.hypotheses)}")
    else:
        result.notes.append("no labels: no signatures or hypotheses")
        sections.append("<h2>Thermal signatures</h2><p>The cube has no labels, so no class curves.</p>")

    maps = region_maps(params.map.maps_dir, region)
    if maps:
        _draw_reconstruction(cube, maps, region, params, out / "reconstruction.png")
        warnings = map_warnings(maps)
        result.notes += [f"WARNING ({name}): {warning}" for name, warning in warnings]
        text = _warnings_html(warnings) + _table_html(maps_table(maps))
        sections.append(_section("Geological map reconstruction", out / "reconstruction.png", text))
        if "ndvi" in cube:
            result.correlations = _confidence_vs_ndvi(cube, maps, params, out)
            sections.append(
                _section(
                    "Confidence against vegetation (NDVI)",
                    out / "confidence_ndvi.png",
                    _table_html(result.correlations) + _vegetation_text(result.correlations),
                )
            )
        else:
            sections.append("<h2>Confidence against vegetation</h2><p>The cube has no NDVI.</p>")
    else:
        result.notes.append(f"no maps under {params.map.maps_dir / region}: run `lithomap map` first")
        sections.append(f"<h2>Maps</h2><p>No maps yet: run <code>lithomap map --region {region}</code>.</p>")

    matrix = params.matrix.reports_dir / "matrix.png"
    if matrix.is_file():
        sections.append(_section("Experiment matrix (all regions)", matrix, "From <code>lithomap matrix</code>."))
    write_text(result.index, _page(region, sections))
    return result


def _signature_text() -> str:
    return (
        "<p>Class means of LST (left) and of the LST anomaly (LST minus the date's scene mean, which removes the "
        "shared diurnal and seasonal swing; middle) against local solar time, and the anomaly by month (right). "
        "Every labelled pixel of every thermal date counts once. The thesis's figure, from our data.</p>"
    )


def _vegetation_text(correlations: pd.DataFrame) -> str:
    lines = []
    for row in correlations.itertuples():
        if not np.isfinite(row.rho):
            continue
        verdict = (
            "lowers" if row.high < 0 else "raises" if row.low > 0 else "shows no clear effect on (interval spans 0)"
        )
        lines.append(f"<li>{html.escape(row.map)}: vegetation {verdict} confidence (rho {row.rho:+.3f}).</li>")
    return f"<ul>{''.join(lines)}</ul>" if lines else ""


def _draw_signatures(diurnal: pd.DataFrame, seasonal: pd.DataFrame, path: Path, region: str) -> None:
    colours = {c.name: c.rgb for c in all_classes()}
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for name, rows in diurnal.groupby("class", sort=False):
        axes[0].plot(rows["solar_hour_bin"], rows["lst_mean"], "o-", color=colours[name], label=name, ms=3)
        axes[1].plot(rows["solar_hour_bin"], rows["lst_anomaly_mean"], "o-", color=colours[name], ms=3)
    for name, rows in seasonal.groupby("class", sort=False):
        axes[2].plot(rows["month"], rows["lst_anomaly_mean"], "o-", color=colours[name], ms=3)
    for ax in axes[:2]:
        ax.set_xlabel("local solar time (h)")
        ax.set_xlim(0, 24)
    axes[0].set_ylabel("LST (K)")
    axes[1].set_ylabel("LST anomaly (K)")
    axes[2].set_ylabel("LST anomaly (K)")
    axes[2].set_xlabel("month")
    axes[0].legend(fontsize=7, ncol=2)
    figure.suptitle(f"{region}: thermal signatures per class")
    save_figure(figure, path, dpi=90, bbox_inches="tight")


def _test_blocks(region: str, params: Params, shape: tuple[int, int]) -> np.ndarray | None:
    path = params.preprocess.processed_dir / region / SPLIT_FILE
    if not path.is_file():
        return None
    pixels = SpatialSplit.load(path).pixels
    return pixels == TEST if pixels.shape == shape else None


def _draw_reconstruction(
    cube: xr.Dataset, maps: list[tuple[str, Path]], region: str, params: Params, path: Path
) -> None:
    cmap, norm = class_colormap()
    truth = cube["label"].values if "label" in cube else None
    panels = ([("ground truth", truth)] if truth is not None else []) + [
        (name, _read(folder / CLASSES_FILE)) for name, folder in maps
    ]
    test = _test_blocks(region, params, panels[0][1].shape)
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels) + 2.5, 4.6), squeeze=False)
    for ax, (title, array) in zip(axes[0], panels, strict=True):
        ax.imshow(np.ma.masked_equal(array, 0), cmap=cmap, norm=norm, interpolation="nearest")
        if test is not None and test.any():
            ax.contour(test.astype(float), levels=[0.5], colors="black", linewidths=0.9)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    present = np.unique(np.concatenate([np.unique(array) for _, array in panels]))
    add_class_legend(axes[0][-1], present[present > 0])
    figure.suptitle(f"{region}: ground truth and maps (test blocks outlined)" if test is not None else region)
    save_figure(figure, path, dpi=90, bbox_inches="tight")


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as source:
        return source.read(1)


def _confidence_vs_ndvi(cube: xr.Dataset, maps: list[tuple[str, Path]], params: Params, out: Path) -> pd.DataFrame:
    settings = params.report
    ndvi = cube["ndvi"].values.astype(np.float32)
    rows = []
    figure, ax = plt.subplots(figsize=(7, 4.5))
    for name, folder in maps:
        confidence = _read(folder / CONFIDENCE_FILE)
        curve = binned_curve(ndvi, confidence, settings.ndvi_bin, settings.min_bin_pixels)
        write_text(out / f"confidence_ndvi_{name}.csv", curve.to_csv(index=False))
        correlation = rank_correlation(ndvi, confidence, settings.block_px, settings.n_boot, settings.alpha)
        rows.append(
            {
                "map": name,
                "rho": round(correlation.rho, 4),
                "low": round(correlation.low, 4),
                "high": round(correlation.high, 4),
                "pixels": correlation.pixels,
            }
        )
        line = ax.plot(curve["ndvi_bin"], curve["confidence_mean"], "o-", label=f"{name} (rho {correlation.rho:+.2f})")
        ax.fill_between(
            curve["ndvi_bin"], curve["confidence_q25"], curve["confidence_q75"], color=line[0].get_color(), alpha=0.15
        )
    ax.set_xlabel("NDVI (bin centre)")
    ax.set_ylabel("confidence (top-1 probability)")
    ax.set_title("confidence against NDVI: mean and quartiles per bin")
    ax.legend(fontsize=8)
    save_figure(figure, out / "confidence_ndvi.png", dpi=90, bbox_inches="tight")
    table = pd.DataFrame(rows, columns=["map", "rho", "low", "high", "pixels"])
    write_text(out / "confidence_ndvi.csv", table.to_csv(index=False))
    return table


def maps_table(maps: list[tuple[str, Path]]) -> pd.DataFrame:
    """One row per map from its ``map.json``: model, seam index, test scores and how far to trust it.

    ``expected macro-F1`` (with ``expected interval``) is the leave-one-region-out score a
    map of a region the model did not train on states (README 10b); ``domain shift`` and
    ``normalisation`` (``model`` or ``target``) come from the same file, as do ``promoted``
    (a map made by a version the gate did not promote says so) and ``seam z`` (the window
    lines' seam index against the grid's other phases). A field a map.json
    lacks (a map made before it existed) is left empty.
    """
    rows = []
    for name, folder in maps:
        meta = json.loads((folder / MAP_JSON).read_text())
        scores = meta.get("scores") or {}
        expected = meta.get("expected_macro_f1") or {}
        low, high = expected.get("macro_f1_interval") or (None, None)
        rows.append(
            {
                "map": name,
                "model": f"{meta.get('registered_model')} v{meta.get('version')}",
                "scope": meta.get("model_scope"),
                "promoted": {True: "yes", False: "NOT PROMOTED"}.get(meta.get("promoted")),
                "seam index": meta.get("seam_index"),
                "seam z": meta.get("seam_z"),
                "test OA": scores.get("oa"),
                "test macro-F1": scores.get("macro_f1"),
                "domain shift": meta.get("domain_shift"),
                "expected macro-F1": expected.get("macro_f1_learnable"),
                "expected interval": f"[{low:.2f}, {high:.2f}]" if low is not None and high is not None else None,
                "normalisation": meta.get("normalisation"),
                "warning": "yes" if meta.get("warning") else None,
            }
        )
    return pd.DataFrame(rows)


def map_warnings(maps: list[tuple[str, Path]]) -> list[tuple[str, str]]:
    """(map, warning) of every map whose ``map.json`` carries a trust warning."""
    found = []
    for name, folder in maps:
        warning = json.loads((folder / MAP_JSON).read_text()).get("warning")
        if warning:
            found.append((name, str(warning)))
    return found


def _warnings_html(warnings: list[tuple[str, str]]) -> str:
    items = "".join(f"<li><b>{html.escape(name)}</b>: {html.escape(warning)}</li>" for name, warning in warnings)
    if not items:
        return ""
    return f"<div class='warning'><p><b>Warning</b> — how far to trust these maps:</p><ul>{items}</ul></div>"


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda value: f"{value:.3f}", na_rep="–", border=0)


def _embed(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


def _section(title: str, picture: Path, text: str) -> str:
    return f"<h2>{html.escape(title)}</h2>\n{text}\n{_embed(picture)}"


def _page(region: str, sections: list[str]) -> str:
    created = datetime.now(UTC).isoformat(timespec="seconds")
    style = (
        "body{font-family:sans-serif;max-width:1400px;margin:2em auto;color:#222}"
        "img{max-width:100%;border:1px solid #ddd}table{border-collapse:collapse;margin:1em 0}"
        "td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}"
        ".warning{background:#fff3cd;border:1px solid #e0a800;padding:0.2em 1em;margin:1em 0}"
    )
    body = "\n".join(sections)
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>lithomap: {html.escape(region)}</title>"
        f"<style>{style}</style></head><body>\n<h1>lithomap science report: {html.escape(region)}</h1>\n"
        f"<p>Generated {created} by <code>lithomap report</code>.</p>\n{body}\n</body></html>\n"
    )
