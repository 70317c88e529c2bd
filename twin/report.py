"""A self-contained HTML report of a regimen comparison: ranked table, assumptions, diagnostics, figures.

:func:`write_report` writes the figures of :mod:`twin.plots` as PNGs next to an ``index.html``
with inline CSS and no external resources (the page links only the PNGs beside it). Every text
value (title, regimen names, notes, diagnostics) is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from scenarios.ranking import ENDPOINT_UNITS
from twin import plots
from twin.network_plots import plot_screen_heatmap

DPI = 110

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a;
       max-width: 1200px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; font-size: 0.9em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.35em 0.6em; vertical-align: top; }
th { background: #eef3f8; text-align: left; }
td.num { text-align: right; white-space: nowrap; }
tbody tr:nth-child(even) { background: #f7f7f7; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em; vertical-align: -0.1em;
          border: 1px solid #555; }
.caption, figcaption, .small { font-size: 0.88em; color: #444; }
ul.diagnostics { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
"""


def _units(name: str, comparison) -> str:
    if isinstance(comparison, xr.Dataset) and name in comparison.data_vars:
        unit = comparison[name].attrs.get("units")
        if unit is not None:
            return str(unit)
    return ENDPOINT_UNITS.get(name, "")


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _number(x) -> str:
    if not _finite(x):
        return "—"
    x = float(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _percent(p) -> str:
    """A probability or fraction (0-1) as percent: 35%, 4.2%, 0.31%."""
    if not _finite(p):
        return "—"
    pct = 100.0 * float(p)
    if pct == 0 or abs(pct) >= 10:
        return f"{pct:.0f}%"
    if abs(pct) >= 1:
        return f"{pct:.1f}%"
    return f"{pct:.2g}%"


def format_interval(median, interval, unit: str) -> str:
    """``"312 d (180–540)"`` for days, ``"45% (20–80%)"`` for fractions (unit ``"1"``),
    ``"1.2 mg (0.8–2.1)"`` otherwise (unit omitted when empty)."""
    has_interval = isinstance(interval, tuple | list | np.ndarray) and len(interval) == 2
    if unit == "1":
        if not has_interval:
            return _percent(median)
        return f"{_percent(median)} ({_percent(interval[0]).rstrip('%')}–{_percent(interval[1])})"
    if unit == "day":

        def fmt(x):
            return f"{float(x):.0f}" if _finite(x) else "—"

        suffix = " d"
    else:
        fmt = _number
        suffix = f" {unit}" if unit else ""
    text = f"{fmt(median)}{suffix}" if _finite(median) else "—"
    return f"{text} ({fmt(interval[0])}–{fmt(interval[1])})" if has_interval else text


def _cell(column: str, value) -> tuple[str, bool]:
    """Formatted text (not yet escaped) and whether it is numeric."""
    if isinstance(value, tuple | list) and len(value) == 2:
        return f"({_number(value[0])}–{_number(value[1])})", True
    if isinstance(value, bool | np.bool_):
        return ("yes" if value else "no"), False
    if isinstance(value, int | float | np.integer | np.floating):
        if column.startswith("P("):
            return _percent(value), True
        return _number(value), True
    return str(value), False


def table_html(table: pd.DataFrame, comparison=None, colours: dict[str, str] | None = None) -> str:
    """The ranked summary table as an HTML ``<table>``: rank, regimen (with its figure colour),
    each endpoint as "median (90% interval)" with units, probabilities as percent."""
    if not isinstance(table, pd.DataFrame) or "regimen" not in table.columns:
        raise ValueError("table must be the pandas DataFrame of scenarios.summarise (with a 'regimen' column)")
    columns: list[tuple[str, str | None, str | None]] = []  # (header, median column, interval column)
    for col in table.columns:
        if col == "regimen" or col.endswith(" 90% CI"):
            continue
        if col.endswith(" median") and f"{col[: -len(' median')]} 90% CI" in table.columns:
            base = col[: -len(" median")]
            unit = _units(base, comparison)
            shown = {"day": "days", "1": "%"}.get(unit, unit)
            header = base.replace("_", " ") + ": median (90% interval)" + (f", {shown}" if shown else "")
            columns.append((header, col, f"{base} 90% CI"))
        else:
            columns.append((col, col, None))
    for col in table.columns:  # intervals without a median column
        if col.endswith(" 90% CI") and f"{col[: -len(' 90% CI')]} median" not in table.columns:
            columns.append((col, col, None))
    esc = html.escape
    head = "<tr><th>#</th><th>regimen</th>" + "".join(f"<th>{esc(h)}</th>" for h, _, _ in columns) + "</tr>"
    rows = []
    for rank, (_, row) in enumerate(table.iterrows(), start=1):
        name = str(row["regimen"])
        swatch = ""
        if colours and name in colours:
            swatch = f'<span class="swatch" style="background:{esc(colours[name])}"></span>'
        cells = [f'<td class="num">{rank}</td>', f"<td>{swatch}{esc(name)}</td>"]
        for _, med_col, ci_col in columns:
            if ci_col is not None:
                base = med_col[: -len(" median")]
                text, numeric = format_interval(row[med_col], row[ci_col], _units(base, comparison)), True
            else:
                text, numeric = _cell(med_col, row[med_col])
            cls = ' class="num"' if numeric else ""
            cells.append(f"<td{cls}>{esc(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"


def _screen_figure(screen: xr.Dataset, top: int = 30) -> Figure:
    n_treat = min(top, screen.sizes.get("treatment", 1))
    n_clone = screen.sizes.get("clone", 1)
    fig = Figure(figsize=(2.5 + 1.2 * n_clone, 1.3 + 0.28 * n_treat), layout="constrained")
    plot_screen_heatmap(screen, top=top, ax=fig.subplots())
    return fig


def write_report(
    out_dir: Path,
    *,
    title: str,
    table: pd.DataFrame,
    comparison: xr.Dataset,
    observed: pd.DataFrame | None,
    history: xr.Dataset | None,
    posterior: xr.Dataset | None,
    notes: Sequence[str] = (),
    screen: xr.Dataset | None = None,
    diagnostics_lines: Sequence[str] = (),
) -> Path:
    """Write the figures (fan_chart.png, resistant_fraction.png, dose_timeline.png,
    waterfall.png, posterior_pairs.png when a posterior is given, screen.png when a drug
    ``screen`` is given) and ``index.html`` into ``out_dir`` (created if missing): the
    ``title``, the ranked ``table`` of :func:`scenarios.summarise` (medians with 90% intervals,
    probabilities as percent), the ``notes`` (assumptions), the ``diagnostics_lines`` and the
    figures with alt text and captions. Returns the path of ``index.html``."""
    out_dir = Path(out_dir)
    if not isinstance(table, pd.DataFrame) or "regimen" not in table.columns:
        raise ValueError("write_report: table must be the DataFrame of scenarios.summarise (with a 'regimen' column)")
    if isinstance(notes, str) or isinstance(diagnostics_lines, str):
        raise ValueError("write_report: notes and diagnostics_lines are lists of strings, not one string")
    plots._check_comparison(comparison, ["sum_of_diameters"], "write_report")
    out_dir.mkdir(parents=True, exist_ok=True)

    t0 = plots.start_day(comparison)
    n_draws = comparison.sizes["draw"]
    horizon = comparison.attrs.get("horizon_days", float(comparison.time.values[-1]))
    figures: list[tuple[str, Figure, str, str]] = [
        (
            "fan_chart.png",
            plots.fan_chart(comparison, observed, history),
            "Sum of tumour diameters in mm against patient day, one panel per regimen, with forecast bands, "
            "the fit of the past and observed scans",
            f"Tumour burden (sum of diameters, mm) per regimen: median forecast and 50% / 90% intervals over "
            f"{n_draws} draws from the decision day (patient day {t0:g}); grey: fit of the past; black points: "
            "observed scans (hollow down-triangles: below detection, an upper limit). Dotted and dashed lines: "
            "-30% and +20% versus the decision-day baseline (RECIST progression is +20% and +5 mm over the nadir).",
        ),
        (
            "resistant_fraction.png",
            plots.resistant_fraction_chart(comparison, observed, history),
            "Resistant fraction of tumour cells against patient day, one line and band per regimen",
            "Resistant fraction of the tumour (0-1) per regimen: median and 90% interval over draws; grey: fit "
            "of the past; black points: observed values.",
        ),
        (
            "dose_timeline.png",
            plots.dose_timeline(comparison),
            "Mean dose per day of each drug against patient day, one row per regimen",
            "Doses given (mg/day, mean over draws in each storage bin) per drug; for regimens whose doses differ "
            "between draws (adaptive), the black line gives the share of draws on drug (right axis).",
        ),
        (
            "waterfall.png",
            plots.waterfall(comparison),
            "Waterfall plots of the best change in sum of diameters per draw, one panel per regimen",
            "Best change in sum of diameters from the decision day (%), one bar per draw, sorted; dotted line: "
            "-30% (partial response).",
        ),
    ]
    if posterior is not None:
        figures.append(
            (
                "posterior_pairs.png",
                plots.posterior_pairs(posterior),
                "Scatter matrix of posterior parameter draws with histograms on the diagonal",
                "Posterior draws of the patient's parameters (chains pooled): pairwise scatter with correlations, "
                "histograms with median and 90% interval.",
            )
        )
    if screen is not None:
        figures.append(
            (
                "screen.png",
                _screen_figure(screen),
                "Heatmap of the in-silico drug screen, treatments by clones",
                "In-silico drug screen on the personalised network: net growth rate per clone under each "
                "treatment, best-ranked treatments first.",
            )
        )
    for filename, fig, _, _ in figures:
        fig.savefig(out_dir / filename, dpi=DPI)

    esc = html.escape
    colours = plots.regimen_colours(comparison)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="small">Decision day: patient day {esc(f"{t0:g}")}; horizon {esc(f"{float(horizon):g}")} days; '
        f"{n_draws} draws.</p>",
        "<h2>Regimens, best first</h2>",
        table_html(table, comparison, colours),
        '<p class="caption">Medians with 90% intervals (5th–95th percentile over draws); probabilities as percent '
        "of draws. Times not reached within the horizon count at the horizon (censored).</p>",
    ]
    if notes:
        parts += ["<h2>Assumptions</h2>", "<ul>", *(f"<li>{esc(str(n))}</li>" for n in notes), "</ul>"]
    if diagnostics_lines:
        parts += [
            "<h2>Diagnostics</h2>",
            '<ul class="diagnostics">',
            *(f"<li>{esc(str(line))}</li>" for line in diagnostics_lines),
            "</ul>",
        ]
    parts.append("<h2>Figures</h2>")
    for filename, _, alt, caption in figures:
        parts += [
            "<figure>",
            f'<img src="{esc(filename, quote=True)}" alt="{esc(alt, quote=True)}">',
            f"<figcaption>{esc(caption)}</figcaption>",
            "</figure>",
        ]
    parts += ["</body>", "</html>", ""]
    index = out_dir / "index.html"
    index.write_text("\n".join(parts), encoding="utf-8")
    return index


__all__ = ["format_interval", "table_html", "write_report"]


def twin_notes(twin) -> list[str]:
    """The assumptions a reader of a twin's comparison must know (one line each)."""
    s = twin.settings
    how = (
        f"NUTS, {s.chains} chains x {s.samples} draws"
        if s.method == "nuts"
        else f"Laplace approximation at the MAP ({s.chains * s.samples} draws; approximate — use NUTS to confirm)"
    )
    return [
        f"Calibrated to the patient's {len(twin.record.observations)} observations (days {twin.t0:g} to "
        f"{twin.now:g}) by {how}; seed {s.seed}.",
        f"What-ifs start on the decision day (day {twin.now:g}) from each posterior draw's clone volumes; drug given "
        "before it is not carried over.",
        "Clones and drug responses come from the tumour's mutations through the EGFR network: "
        + "; ".join(twin.model.describe())
        + ".",
        "Osimertinib's potency is the drug table's cellular IC50 scaled by erlotinib's plasma-to-cell factor, and its "
        "maximal kill equals erlotinib's: neither is informed by this patient's data.",
        "Ranking: time until the tumour volume doubles from the decision day (+26% in diameter); RECIST progression "
        "on 8-weekly scans (PD: +20% and +5 mm over the nadir) is shown alongside.",
        *(f"Not modelled: {x}" for x in twin.model.ignored),
        "Research software with a synthetic example patient: not a medical device and not for clinical decisions.",
    ]


def write_twin_report(twin, comparison, out_dir: Path, *, n_draws: int = 200, screen: xr.Dataset | None = None) -> Path:
    """:func:`write_report` for a calibrated ``twin`` and its :meth:`~twin.DigitalTwin.compare` result."""
    return write_report(
        out_dir,
        title=f"Digital twin of patient {twin.record.patient_id}: regimens from day {twin.now:g}",
        table=comparison.table,
        comparison=comparison.dataset,
        observed=twin.record.observations_frame(),
        history=twin.history(n_draws=min(n_draws, comparison.dataset.sizes["draw"])),
        posterior=twin.posterior.drop_vars("diverging", errors="ignore"),
        notes=twin_notes(twin),
        screen=screen,
        diagnostics_lines=list(twin.diagnostics) or ["All sampler checks passed."],
    )
