"""A self-contained HTML report of a regimen comparison: ranked table, assumptions, diagnostics, figures.

:func:`write_report` writes the figures of :mod:`twin.plots` as PNGs next to an ``index.html``
with inline CSS and no external resources (the page links only the PNGs beside it). Every text
value (title, regimen names, notes, diagnostics) is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from scenarios.endpoints import ENDPOINTS
from twin import plots
from twin.formatting import event_cell, finite_number, penalty_cells, percent, short_regimen, toxicity_explained
from twin.network_plots import plot_screen_heatmap

DPI = 110

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a;
       max-width: 1200px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; font-size: 0.86em; font-variant-numeric: tabular-nums; }
td.regimen { min-width: 15em; }
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
p.verdict { font-size: 1.1em; background: #f3f7ec; border-left: 4px solid #6a9a3a; padding: 0.6em 0.9em; }
.flag { font-size: 0.82em; color: #8a3b00; }
"""


def _flag_html(flags: Sequence[str]) -> str:
    return "".join(f'<br><span class="flag">{html.escape(f)}</span>' for f in flags)


def ranking_table_html(
    table: pd.DataFrame,
    comparison: xr.Dataset,
    primary: str,
    colours: Mapping[str, str] | None = None,
    flags: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The ranked table of :func:`scenarios.summarise` as HTML, ranking columns first: the restricted
    mean of ``primary`` to the horizon, the paired difference to #1, the median with censoring
    written as "not reached", P(best) and P(tied), then RECIST progression, resistance and dose.
    Short regimen names, the full description on hover and in the list below the table; ``flags``
    (e.g. above the label dose) are printed under a regimen's name."""
    if not isinstance(table, pd.DataFrame) or f"{primary} RMST" not in table.columns:
        raise ValueError(f"table must be scenarios.summarise's DataFrame ranked on primary={primary!r}")
    esc = html.escape
    horizon = float(comparison.attrs.get("horizon_days", comparison.time.values[-1]))
    toxicity = float(comparison.attrs.get("toxicity_penalty_days", 0.0))
    short = ENDPOINTS[primary].short
    second = secondary_endpoint(comparison)
    second_short = endpoint_short(second, comparison)
    heads = [
        "#",
        "regimen",
        f"{short}: restricted mean (days)*",
        *(["toxicity penalty (days)**", "score: restricted mean - penalty (days)**"] if toxicity else []),
        "vs #1 (days): mean (90% interval)",
        f"{short} by day {horizon:g}: median (90% interval)",
        "P(best) / P(tied)",
        f"{second_short} by day {horizon:g}: median (90% interval)",
        "resistant share at the horizon",
        "total dose (g)",
    ]
    rank_of = {str(r): i + 1 for i, r in enumerate(table.regimen)}
    rows = []
    for rank, (_, row) in enumerate(table.iterrows(), start=1):
        name = str(row["regimen"])
        swatch = ""
        if colours and name in colours:
            swatch = f'<span class="swatch" style="background:{esc(colours[name])}"></span>'
        notes = list((flags or {}).get(name, ()))
        if row["same as"]:
            notes.insert(0, f"same doses as #{rank_of[row['same as']]} for this patient: the same option")
        lo, hi = row["difference vs #1 90% CI"]
        diff = "—" if rank == 1 else f"{row['difference vs #1 (mean)']:+.0f} ({lo:+.0f} to {hi:+.0f})"
        p_best, p_tied = row[f"P(best on {primary})"], row[f"P(tied for best on {primary})"]
        cells = [
            f'<td class="num">{rank}</td>',
            f'<td class="regimen" title="{esc(name, quote=True)}">{swatch}{esc(short_regimen(name))}'
            f"{_flag_html(notes)}</td>",
            f'<td class="num">{row[f"{primary} RMST"]:.0f}</td>',
            *(
                [
                    f'<td class="num">{c}</td>'
                    for c in penalty_cells(row[f"{primary} RMST"], row["toxicity penalty (days)"])
                ]
                if toxicity
                else []
            ),
            f'<td class="num">{esc(diff)}</td>',
            f'<td class="num">{esc(event_cell(row, primary, horizon))}</td>',
            f'<td class="num">{percent(p_best)} / {percent(p_tied)}</td>',
            f'<td class="num">{esc(event_cell(row, second, horizon))}</td>',
            f'<td class="num">{percent(row["final_resistant_fraction median"])}</td>',
            f'<td class="num">{finite_number(row["cumulative dose g (median)"])}</td>',
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in heads) + "</tr>"
    full = "".join(f"<li>{esc(str(r))}</li>" for r in table.regimen)
    return (
        f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n"
        f'<p class="small">The regimens in full, in rank order:</p><ol class="small">{full}</ol>'
    )


def secondary_endpoint(comparison: xr.Dataset) -> str:
    """The event shown beside the ranking endpoint: RECIST progression where the comparison has
    tumour volumes, else the burden 20% above its pre-treatment value (Strobl et al. 2021's failure)
    where the comparison has it, else 20% above its start of forecast."""
    for name in ("time_to_progression", "time_to_1.2x_pretreatment"):
        if name in comparison:
            return name
    return "time_to_1.2x_baseline"


def endpoint_short(name: str, comparison: xr.Dataset) -> str:
    """The table header of endpoint ``name``, naming the comparison's burden observable where it is
    not the tumour volume (e.g. "+20% psa")."""
    burden = comparison.attrs.get("burden", "volume")
    return ENDPOINTS[name].short.replace("volume", burden) if burden != "volume" else ENDPOINTS[name].short


def ranking_explanation(
    primary: str, horizon: float, n_draws: int, toxicity_penalty_days: float = 0.0, *, recist: bool = True
) -> list[str]:
    """What each column of :func:`ranking_table_html` means (one line each); with a non-zero
    ``toxicity_penalty_days`` (day per unit of relative exposure above the label dose), how the
    penalty ranks; ``recist``: the table shows RECIST progression (else the burden 20% above its
    start of forecast)."""
    label = ENDPOINTS[primary].label
    return [
        f"* Ranked by the restricted mean {label} up to day {horizon:g} of the forecast: the mean over the {n_draws} "
        "posterior draws, a draw without the event counting at the horizon (the area under the forecast's "
        "event-free curve). It stays meaningful when many draws do not reach the event.",
        *([f"** {toxicity_explained(toxicity_penalty_days)}"] if toxicity_penalty_days else []),
        "Difference vs #1: paired draw by draw (every regimen runs on the same draws), mean and 90% interval.",
        f"Medians are 'not reached (share of draws without the event)' when at least half the draws have no event by "
        f"day {horizon:g}; '>{horizon:g}' marks an interval end beyond the horizon.",
        "P(best): share of draws in which this regimen alone is best; P(tied for best): share in which it shares "
        "the best value with another (typically: neither reaches the event within the horizon).",
        (
            "RECIST progression: +20% and +5 mm in the sum of diameters over its nadir, on simulated scans; "
            if recist
            else "+20%: the first day the burden is 20% above its pre-treatment value (or, without one, its value on "
            "the decision day); "
        )
        + "resistant share: the tumour fraction in clones resistant to the first drug; dose: total over the horizon.",
    ]


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
    primary: str = "time_to_progression",
    verdict: str | None = None,
    flags: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Write the figures (fan_chart.png, resistant_fraction.png, dose_timeline.png,
    waterfall.png, posterior_pairs.png when a posterior is given, screen.png when a drug
    ``screen`` is given) and ``index.html`` into ``out_dir`` (created if missing): the
    ``title``, the ``verdict`` (one sentence, :func:`scenarios.verdict`), the ranked ``table`` of
    :func:`scenarios.summarise` on ``primary`` (:func:`ranking_table_html`, with ``flags`` per
    regimen) and what its columns mean, the ``notes`` (assumptions), the ``diagnostics_lines``
    and the figures with alt text and captions. Returns the path of ``index.html``."""
    out_dir = Path(out_dir)
    if not isinstance(table, pd.DataFrame) or "regimen" not in table.columns:
        raise ValueError("write_report: table must be the DataFrame of scenarios.summarise (with a 'regimen' column)")
    if isinstance(notes, str) or isinstance(diagnostics_lines, str):
        raise ValueError("write_report: notes and diagnostics_lines are lists of strings, not one string")
    plots._check_comparison(comparison, [plots.burden_variable(comparison)], "write_report")
    out_dir.mkdir(parents=True, exist_ok=True)
    recist = "sum_of_diameters" in comparison
    burden = plots.burden_variable(comparison)
    unit = comparison[burden].attrs.get("units", "")

    t0 = plots.start_day(comparison)
    n_draws = comparison.sizes["draw"]
    horizon = comparison.attrs.get("horizon_days", float(comparison.time.values[-1]))
    figures: list[tuple[str, Figure, str, str]] = [
        (
            "fan_chart.png",
            plots.fan_chart(comparison, observed, history),
            f"{'Sum of tumour diameters in mm' if recist else f'{burden} in {unit}'} against patient day, one panel "
            "per regimen, with forecast bands, the fit of the past and observed values",
            f"{'Tumour burden (sum of diameters, mm)' if recist else f'Burden ({burden}, {unit})'} per regimen: median "
            f"forecast and 50% / 90% intervals over {n_draws} draws from the decision day (patient day {t0:g}); "
            "grey: fit of the past; black points: observed values (hollow down-triangles: below detection, an upper "
            "limit)."
            + (
                " Dotted and dashed lines: -30% and +20% versus the decision-day baseline (RECIST progression is +20% "
                "and +5 mm over the nadir)."
                if recist
                else ""
            ),
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
    ]
    if recist:
        figures.append(
            (
                "waterfall.png",
                plots.waterfall(comparison),
                "Waterfall plots of the best change in sum of diameters per draw, one panel per regimen",
                "Best change in sum of diameters from the decision day (%), one bar per draw, sorted; dotted line: "
                "-30% (partial response).",
            )
        )
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
    ]
    if verdict:
        parts.append(f'<p class="verdict">{esc(verdict)}</p>')
    parts += [
        '<p class="small">A forecast of a mathematical model under the assumptions below, for discussion: not a '
        "treatment recommendation.</p>",
        "<h2>Regimens, best first</h2>",
        ranking_table_html(table, comparison, primary, colours, flags),
        '<ul class="caption">',
        *(
            f"<li>{esc(line)}</li>"
            for line in ranking_explanation(
                primary,
                float(horizon),
                n_draws,
                float(comparison.attrs.get("toxicity_penalty_days", 0.0)),
                recist=recist,
            )
        ),
        "</ul>",
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


__all__ = [
    "endpoint_short",
    "ranking_explanation",
    "ranking_table_html",
    "secondary_endpoint",
    "write_report",
    "write_twin_report",
]


def twin_notes(twin, start_state: str) -> list[str]:
    """The assumptions a reader of a twin's comparison must know (one line each); ``start_state``:
    what the what-ifs start from (``Comparison.dataset.attrs['start_state']``)."""
    s = twin.settings
    how = (
        f"NUTS, {s.chains} chains x {s.samples} draws"
        if s.method == "nuts"
        else f"Laplace approximation at the MAP ({s.chains * s.samples} draws; approximate — use NUTS to confirm)"
    )
    return [
        f"Calibrated to the patient's {len(twin.record.observations)} observations (days {twin.t0:g} to "
        f"{twin.now:g}) by {how}; seed {s.seed}.",
        f"{twin.pack.response_criteria} of the record itself: {twin.record_response().text}.",
        f"What-ifs start on the decision day (day {twin.now:g}) from {start_state}; drug given before it is not "
        "carried over.",
        *twin.pack.model_notes(twin.model),
        "Research software with a synthetic example patient: not a medical device and not for clinical decisions.",
    ]


MODEL_OK = "Model check passed: the record lies within the posterior predictive (no observation with p < 0.01)."


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
        notes=[
            *twin_notes(twin, comparison.dataset.attrs["start_state"]),
            *[line for line in [comparison.dataset.attrs.get("adaptive_baseline")] if line],
            *(
                [f"Drug screen: {screen.attrs['not_screened']}."]
                if screen is not None and screen.attrs.get("not_screened")
                else []
            ),
        ],  # fmt: skip
        screen=screen,
        diagnostics_lines=[*(twin.diagnostics or ["All sampler checks passed."]), *(twin.model_check or [MODEL_OK])],
        primary=comparison.dataset.attrs["primary"],
        verdict=comparison.verdict.text,
        flags={
            r: [f"ABOVE LABEL: {f}"]
            for r, f in zip(comparison.table.regimen, comparison.table["above label dose"], strict=True)
            if f
        },  # fmt: skip
    )
