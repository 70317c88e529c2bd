"""Figures of a regimen comparison for the clinician: forecasts, doses, responses and the posterior.

Every function takes the data (``scenarios.compare`` output, observed scans, the fit of the
past, posterior draws) and returns a :class:`matplotlib.figure.Figure`; nothing is shown and
no pyplot state is touched, so the figures are safe to build in servers, tests and notebooks
(``fig.savefig(path)`` writes a PNG with matplotlib's Agg renderer). Colours follow the
colour-blind-safe Okabe-Ito palette: regimen ``i`` of the comparison is ``PALETTE[i]`` in every
figure, drugs have their own mapping (:data:`DRUG_PALETTE`, with hatching).

The comparison's ``time`` coordinate counts days from the decision day ("now"); figures draw
absolute patient days, ``time + comparison.attrs["start_day"]`` (0 when absent), so that the
forecasts line up with the observed scans and the fit of the past.

- :func:`fan_chart`: sum of diameters (mm) per regimen, median and 50% / 90% bands, with the
  fit of the past, observed scans and RECIST reference lines.
- :func:`resistant_fraction_chart`: resistant fraction per regimen on one axis.
- :func:`dose_timeline`: mean dose per day per drug, and the share of draws on drug for
  regimens whose doses differ between draws (adaptive ones).
- :func:`waterfall`: best change of the sum of diameters from the decision day, per draw.
- :func:`posterior_pairs`: scatter matrix of posterior draws.
- :func:`km_chart`: Kaplan–Meier curves of a virtual trial per arm, with bands over population
  draws and, optionally, the real trial's curves.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
"""Okabe-Ito colours; regimen ``i`` of a comparison is drawn in ``PALETTE[i % 8]``."""

DRUG_PALETTE: tuple[str, ...] = ("#D55E00", "#56B4E9", "#009E73", "#CC79A7", "#E69F00", "#0072B2", "#000000", "#F0E442")
"""Okabe-Ito colours in a second order for drugs (drug ``j`` of the comparison), with :data:`DRUG_HATCHES`."""

DRUG_HATCHES: tuple[str, ...] = ("", "//", "\\\\", "xx", "..", "++", "--", "oo")

PR_CHANGE = -0.30  # RECIST partial response: -30% sum of diameters from baseline
PD_CHANGE = 0.20  # RECIST progression: +20% (and +5 mm) over the nadir

_HISTORY_GREY = "0.55"
_OBSERVED = "#000000"
_NOW = "0.35"


# ---------------------------------------------------------------------------------------------
# input checks and shared helpers


def _check_comparison(comparison, needs: Sequence[str], what: str) -> None:
    if not isinstance(comparison, xr.Dataset):
        raise ValueError(f"{what}: comparison must be the xarray.Dataset of scenarios.compare; got {type(comparison)}")
    missing = [v for v in needs if v not in comparison.data_vars]
    if missing:
        raise ValueError(
            f"{what}: comparison has no {missing} (the output of scenarios.compare has them); "
            f"variables present: {sorted(map(str, comparison.data_vars))}"
        )
    for v in needs:
        if not {"regimen", "draw", "time"} <= set(comparison[v].dims):
            raise ValueError(
                f"{what}: comparison[{v!r}] must have dims (regimen, draw, time); got {comparison[v].dims}"
            )
    if comparison.sizes.get("regimen", 0) == 0 or comparison.sizes.get("draw", 0) == 0:
        raise ValueError(f"{what}: comparison has no regimens or no draws (sizes {dict(comparison.sizes)})")


def start_day(comparison: xr.Dataset) -> float:
    """The patient day of the decision day ("now"): ``comparison.attrs["start_day"]``, 0 when absent."""
    value = float(comparison.attrs.get("start_day", 0.0))
    if not math.isfinite(value):
        raise ValueError(f"comparison.attrs['start_day']={value!r} must be a finite patient day")
    return value


def regimen_colours(comparison: xr.Dataset) -> dict[str, str]:
    """Regimen name -> colour, the same in every figure: regimen ``i`` gets ``PALETTE[i % 8]``."""
    return {str(r): PALETTE[i % len(PALETTE)] for i, r in enumerate(comparison.regimen.values)}


def _drug_style(drugs: Sequence[str]) -> dict[str, tuple[str, str]]:
    return {
        str(d): (DRUG_PALETTE[j % len(DRUG_PALETTE)], DRUG_HATCHES[j % len(DRUG_HATCHES)]) for j, d in enumerate(drugs)
    }


def _select_regimens(comparison: xr.Dataset, regimens) -> list[str]:
    names = [str(r) for r in comparison.regimen.values]
    if regimens is None:
        return names
    if isinstance(regimens, str):
        regimens = [regimens]
    chosen = [str(r) for r in regimens]
    unknown = [r for r in chosen if r not in names]
    if unknown or not chosen:
        raise ValueError(f"regimens {unknown or chosen} are not in the comparison; valid: {names}")
    return chosen


def _wrap(text: str, width: int) -> str:
    return textwrap.fill(str(text), width=width, break_long_words=False) or str(text)


def _quantiles(values: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles over axis 0 (draws), NaN-tolerant; shape (len(qs), ...)."""
    return np.nanquantile(np.asarray(values, dtype=float), qs, axis=0)


def _observed_rows(observed, observable: str) -> pd.DataFrame | None:
    if observed is None:
        return None
    if not isinstance(observed, pd.DataFrame):
        raise ValueError(
            f"observed must be a pandas DataFrame (time, observable, value, censored); got {type(observed)}"
        )
    missing = [c for c in ("time", "observable", "value") if c not in observed.columns]
    if missing:
        raise ValueError(
            f"observed lacks columns {missing}; needs time (patient day), observable, value, censored; "
            f"has {list(observed.columns)}"
        )
    rows = observed[observed["observable"] == observable]
    if rows.empty:
        return None
    censored = rows["censored"].astype(bool) if "censored" in rows.columns else pd.Series(False, index=rows.index)
    return pd.DataFrame(
        {
            "time": rows["time"].astype(float).to_numpy(),
            "value": rows["value"].astype(float).to_numpy(),
            "censored": censored.to_numpy(),
        }
    )


def _history_var(history, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(patient days, values (draw, time)) of ``history[name]``; None where absent."""
    if history is None:
        return None
    if not isinstance(history, xr.Dataset):
        raise ValueError(f"history must be an xarray.Dataset with dims (draw, time) or None; got {type(history)}")
    if name not in history.data_vars:
        return None
    var = history[name]
    if set(var.dims) != {"draw", "time"}:
        raise ValueError(f"history[{name!r}] must have dims (draw, time); got {var.dims}")
    return np.asarray(history["time"].values, dtype=float), np.asarray(var.transpose("draw", "time").values, float)


def _draw_observed(ax, rows: pd.DataFrame | None, label: str) -> list:
    """Observed values as black points; censored ones (upper limits) as hollow down-triangles."""
    handles = []
    if rows is None:
        return handles
    seen = rows[~rows["censored"]]
    cens = rows[rows["censored"]]
    if len(seen):
        ax.plot(seen["time"], seen["value"], "o", color=_OBSERVED, ms=5, zorder=5, label=label, gid="observed")
        handles.append(Line2D([], [], ls="", marker="o", color=_OBSERVED, ms=5, label=label))
    if len(cens):
        below = f"{label}: below detection (upper limit)"
        ax.plot(
            cens["time"],
            cens["value"],
            "v",
            mfc="none",
            mec=_OBSERVED,
            mew=1.3,
            ms=7,
            ls="",
            zorder=5,
            label=below,
            gid="observed censored",
        )
        handles.append(Line2D([], [], ls="", marker="v", mfc="none", mec=_OBSERVED, mew=1.3, ms=7, label=below))
    return handles


def _draw_history(ax, hist: tuple[np.ndarray, np.ndarray] | None) -> list:
    if hist is None:
        return []
    t, values = hist
    lo, med, hi = _quantiles(values, [0.05, 0.5, 0.95])
    ax.fill_between(t, lo, hi, color=_HISTORY_GREY, alpha=0.3, lw=0, zorder=1)
    ax.plot(t, med, color=_HISTORY_GREY, lw=1.6, zorder=2, gid="history median")
    return [
        (
            Patch(facecolor=_HISTORY_GREY, alpha=0.3),
            Line2D([], [], color=_HISTORY_GREY, lw=1.6),
        )
    ]


def _figure_legend(fig: Figure, entries: Sequence[tuple], ncols: int) -> None:
    """A legend below the panels from ``(handle, label)`` pairs; a tuple of handles draws as one entry."""
    handles, labels = zip(*entries, strict=True)
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=ncols,
        fontsize=8,
        frameon=False,
        handler_map={tuple: HandlerTuple(ndivide=None, pad=0.3)},
    )


def _decision_entry(day: float) -> tuple:
    """The legend entry of the decision-day line."""
    return Line2D([], [], color=_NOW, lw=1.0, ls="-."), f"decision day (patient day {day:g})"


def _decision_line(ax, day: float, text: bool = True) -> None:
    ax.axvline(day, color=_NOW, lw=1.0, ls="-.", zorder=1, gid="decision day")
    if text:
        ax.annotate(
            "decision day",
            xy=(day, 0.98),
            xycoords=("data", "axes fraction"),
            xytext=(-3, 0),
            textcoords="offset points",
            rotation=90,
            ha="right",
            va="top",
            fontsize=7,
            color=_NOW,
        )


DAY_LABEL = "patient day (days)"


# ---------------------------------------------------------------------------------------------
# figures


def burden_variable(comparison: xr.Dataset) -> str:
    """The burden trajectory a comparison holds: ``"sum_of_diameters"`` (mm) for tumours measured by
    imaging, else its burden observable (``attrs['burden']``, e.g. a serum marker)."""
    return "sum_of_diameters" if "sum_of_diameters" in comparison else comparison.attrs.get("burden", "volume")


def _adaptive_thresholds(comparison: xr.Dataset, name: str, var: str, start: float) -> tuple | None:
    """``(hold, resume, baseline in words)``: the burden levels at which regimen ``name``'s threshold adaptive
    therapy holds and resumes (median over draws of the baseline: the pre-treatment burden, or
    ``start``, the median at the decision day), when the panel shows the burden itself; else None."""
    if "at_hold_below" not in comparison.coords or var != comparison.attrs.get("burden"):
        return None
    hold = float(comparison.at_hold_below.sel(regimen=name))
    if not np.isfinite(hold):
        return None
    resume = float(comparison.at_resume_above.sel(regimen=name))
    pre = f"pretreatment_{var}"
    if str(comparison.at_baseline.sel(regimen=name).values) == "pretreatment" and pre in comparison:
        base, words = float(np.nanmedian(comparison[pre].values)), "pre-treatment value"
    else:
        base, words = start, "value at the first decision"
    return hold * base, resume * base, f"its thresholds times the {words}, median over draws"


def fan_chart(comparison: xr.Dataset, observed=None, history=None, *, regimens=None) -> Figure:
    """Tumour burden forecasts: one panel per regimen (shared axes) of the sum of diameters (mm)
    against patient day, with the median and 50% / 90% bands over draws in the regimen's colour,
    the fit of the past (``history["diameter"]``, grey band and median), observed ``"diameter"``
    scans (hollow down-triangles: censored, an upper limit), a line at the decision day, and
    RECIST reference lines relative to the decision-day baseline (median sum of diameters at
    time 0): -30% (partial response) and +20% (progression needs +20% and +5 mm over the nadir,
    so the +20%-over-baseline line is a guide, not the progression criterion).

    ``regimens``: names to draw (default all); colours stay those of the full comparison. A
    comparison without diameters shows its burden observable (:func:`burden_variable`) with its
    observed values and fit, without RECIST lines, and on the panels of threshold adaptive
    regimens the burden levels at which they hold (dashed) and resume (dotted) the drug.
    """
    var = burden_variable(comparison)
    _check_comparison(comparison, [var], "fan_chart")
    recist = var == "sum_of_diameters"
    observable = "diameter" if recist else var
    ylabel = "sum of diameters (mm)" if recist else f"{var} ({comparison[var].attrs.get('units', '')})"
    names = _select_regimens(comparison, regimens)
    colours = regimen_colours(comparison)
    t0 = start_day(comparison)
    days = np.asarray(comparison.time.values, dtype=float) + t0
    obs = _observed_rows(observed, observable)
    hist = _history_var(history, observable)
    n = len(names)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(4.3 * ncols + 0.6, 3.3 * nrows + 1.3), layout="constrained")
    grid = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    for k in range(n, nrows * ncols):
        fig.delaxes(grid.flat[k])
    time0 = int(np.argmin(np.abs(comparison.time.values)))
    legend, at_legend = [], []
    for k, name in enumerate(names):
        ax = grid.flat[k]
        sld = comparison[var].sel(regimen=name).transpose("draw", "time").values
        q05, q25, q50, q75, q95 = _quantiles(sld, [0.05, 0.25, 0.5, 0.75, 0.95])
        c = colours[name]
        ax.plot(days, q50, color=c, lw=2.0, zorder=4, label="median forecast", gid=f"median:{name}")
        ax.fill_between(days, q05, q95, color=c, alpha=0.18, lw=0, zorder=2)
        ax.fill_between(days, q25, q75, color=c, alpha=0.38, lw=0, zorder=3)
        hist_handles = _draw_history(ax, hist)
        obs_handles = _draw_observed(ax, obs, "observed scan" if recist else "observed value")
        baseline = float(np.nanmedian(sld[:, time0]))
        if recist:
            ax.axhline((1 + PR_CHANGE) * baseline, color="0.2", lw=1.0, ls=":", zorder=1, gid="PR line")
            ax.axhline((1 + PD_CHANGE) * baseline, color="0.2", lw=1.0, ls="--", zorder=1, gid="PD line")
        thresholds = _adaptive_thresholds(comparison, name, var, baseline)
        if thresholds is not None:
            ax.axhline(thresholds[0], color=c, lw=1.2, ls="--", zorder=1, gid="AT hold line")
            ax.axhline(thresholds[1], color=c, lw=1.2, ls=":", zorder=1, gid="AT resume line")
            at_legend.append(thresholds[2])
        _decision_line(ax, t0)
        ax.set_title(_wrap(name, 48), fontsize=9, loc="left")
        ax.grid(alpha=0.25, lw=0.5)
        if k % ncols == 0:
            ax.set_ylabel(ylabel)
        if k + ncols >= n:  # nothing below: this panel carries the x axis
            ax.set_xlabel(DAY_LABEL)
            ax.xaxis.set_tick_params(labelbottom=True)
        if k == 0:
            legend = [
                (Line2D([], [], color="0.25", lw=2.0), "median forecast (panel colour = regimen)"),
                (
                    (Patch(facecolor="0.25", alpha=0.45), Patch(facecolor="0.25", alpha=0.18)),
                    "50% / 90% forecast interval over draws",
                ),
            ]
            if hist_handles:
                legend.append((tuple(hist_handles[0]), "fit of the past: median and 90% interval"))
            legend += [(h, h.get_label()) for h in obs_handles]
            if recist:
                legend += [
                    (Line2D([], [], color="0.2", lw=1.0, ls=":"), "-30% vs decision-day baseline (RECIST PR)"),
                    (
                        Line2D([], [], color="0.2", lw=1.0, ls="--"),
                        "+20% vs decision-day baseline (RECIST PD is +20% and +5 mm over the nadir)",
                    ),
                ]
            legend.append(_decision_entry(t0))
    if at_legend:
        baselines = "; ".join(dict.fromkeys(at_legend))
        legend += [
            (
                Line2D([], [], color="0.25", lw=1.2, ls="--"),
                f"adaptive therapy holds the drug below this ({baselines})",
            ),
            (Line2D([], [], color="0.25", lw=1.2, ls=":"), "and resumes it above this"),
        ]
    grid.flat[0].set_ylim(bottom=0.0)  # shared: once, after every panel is drawn
    what = "Tumour burden" if recist else f"Burden ({var})"
    fig.suptitle(f"{what}: fit of the past and forecast per regimen", fontsize=11)
    _figure_legend(fig, legend, ncols=2)
    return fig


def resistant_fraction_chart(comparison: xr.Dataset, observed=None, history=None, *, yscale: str = "linear") -> Figure:
    """Resistant fraction of the tumour (0-1) against patient day: median and 90% band over
    draws per regimen (regimen colours as in every figure), the fit of the past
    (``history["resistant_fraction"]``, grey), observed ``"resistant_fraction"`` values (e.g.
    ctDNA allele fractions; hollow down-triangles: below detection) and the decision day.
    ``yscale``: ``"linear"`` or ``"log"`` (small fractions)."""
    _check_comparison(comparison, ["resistant_fraction"], "resistant_fraction_chart")
    if yscale not in ("linear", "log"):
        raise ValueError(f"yscale={yscale!r} must be 'linear' or 'log'")
    colours = regimen_colours(comparison)
    t0 = start_day(comparison)
    days = np.asarray(comparison.time.values, dtype=float) + t0
    fig = Figure(figsize=(8.5, 5.6), layout="constrained")
    ax = fig.subplots()
    handles = []
    for name in map(str, comparison.regimen.values):
        rf = comparison["resistant_fraction"].sel(regimen=name).transpose("draw", "time").values
        q05, q50, q95 = _quantiles(rf, [0.05, 0.5, 0.95])
        c = colours[name]
        ax.fill_between(days, q05, q95, color=c, alpha=0.15, lw=0, zorder=2)
        (line,) = ax.plot(days, q50, color=c, lw=2.0, zorder=4, label=_wrap(name, 70), gid=f"median:{name}")
        handles.append((line, line.get_label()))
    hist_handles = _draw_history(ax, _history_var(history, "resistant_fraction"))
    if hist_handles:
        handles.append((tuple(hist_handles[0]), "fit of the past: median and 90% interval"))
    handles += [
        (h, h.get_label()) for h in _draw_observed(ax, _observed_rows(observed, "resistant_fraction"), "observed")
    ]
    handles.append(_decision_entry(t0))
    _decision_line(ax, t0)
    ax.set_yscale(yscale)
    if yscale == "linear":
        ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(DAY_LABEL)
    ax.set_ylabel("resistant fraction of tumour cells (0-1)")
    ax.set_title("Resistant fraction: median and 90% interval over draws per regimen", fontsize=11, loc="left")
    ax.grid(alpha=0.25, lw=0.5)
    _figure_legend(fig, handles, ncols=1)
    return fig


def dose_timeline(comparison: xr.Dataset) -> Figure:
    """Doses actually given: one row per regimen (shared axes) of the mean dose per day over
    draws in each storage bin (mg/day; ``dose`` / bin width) per drug, as filled steps in the
    drug's colour and hatching (a regimen that switches drug shows one drug stepping down as the
    other steps up). For regimens whose doses differ between draws (adaptive policies), a thin
    black line on a right-hand axis gives the share of draws on any drug in each bin (%)."""
    _check_comparison(comparison, ["dose"], "dose_timeline")
    if "drug" not in comparison["dose"].dims:
        raise ValueError(f"dose_timeline: comparison['dose'] needs a 'drug' dim; got {comparison['dose'].dims}")
    times = np.asarray(comparison.time.values, dtype=float)
    if times.size < 2:
        raise ValueError("dose_timeline: the comparison needs at least two stored times to know the bin width")
    t0 = start_day(comparison)
    widths = np.diff(times)
    widths = np.append(widths, widths[-1])
    dose = comparison["dose"].transpose("regimen", "draw", "time", "drug").values.astype(float)  # mg per bin
    keep = times.size if np.any(dose[:, :, -1, :] != 0) else times.size - 1  # last bin: beyond the horizon
    edges = np.append(times[:keep], times[keep - 1] + widths[keep - 1]) + t0
    per_day = dose[:, :, :keep, :] / widths[None, None, :keep, None]  # mg/day
    drugs = [str(d) for d in comparison.drug.values]
    style = _drug_style(drugs)
    names = [str(r) for r in comparison.regimen.values]
    colours = regimen_colours(comparison)
    fig = Figure(figsize=(9.0, 1.75 * len(names) + 1.4), layout="constrained")
    axes = fig.subplots(len(names), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    used = set()
    any_share = False
    for i, (ax, name) in enumerate(zip(axes, names, strict=True)):
        mean = per_day[i].mean(axis=0)  # (time, drug)
        for j, drug in enumerate(drugs):
            if not np.any(per_day[i, :, :, j] != 0):
                continue
            used.add(drug)
            colour, hatch = style[drug]
            ax.stairs(
                mean[:, j],
                edges,
                fill=True,
                facecolor=colour,
                alpha=0.35,
                hatch=hatch,
                edgecolor=colour,
                lw=0,
                zorder=2,
            )
            ax.stairs(mean[:, j], edges, color=colour, lw=1.6, zorder=3, label=drug, gid=f"dose:{name}:{drug}")
        on = (per_day[i].sum(axis=2) > 0).mean(axis=0)  # share of draws on any drug, per bin
        varies = np.any(np.ptp(dose[i, :, :keep, :], axis=0) > 0)
        if varies:
            any_share = True
            twin = ax.twinx()
            twin.stairs(100 * on, edges, color="#000000", lw=0.9, zorder=4, gid=f"on drug:{name}")
            twin.set_ylim(0, 105)
            twin.set_ylabel("draws on drug (%)", fontsize=8)
            twin.tick_params(labelsize=7)
        ax.axvline(t0, color=_NOW, lw=1.0, ls="-.", zorder=1)
        ax.set_title(_wrap(name, 100), fontsize=9, loc="left", color="0.1")
        ax.spines["left"].set_color(colours[name])  # ties the row to the regimen's colour elsewhere
        ax.spines["left"].set_linewidth(3.0)
        ax.set_ylabel("mean dose (mg/day)", fontsize=8)
        ax.grid(alpha=0.25, lw=0.5)
    top = float(per_day.mean(axis=1).max()) if per_day.size else 0.0
    axes[0].set_ylim(0.0, 1.08 * top if top > 0 else 1.0)  # shared by every row
    axes[-1].set_xlabel(DAY_LABEL)
    fig.suptitle("Doses given: mean over draws per bin (coloured spine = regimen colour)", fontsize=11)
    legend = [
        (Patch(facecolor=style[d][0], alpha=0.5, hatch=style[d][1], edgecolor=style[d][0]), f"{d} (mg/day)")
        for d in drugs
        if d in used
    ]
    if any_share:
        legend.append((Line2D([], [], color="#000000", lw=0.9), "draws on any drug (%, right axis; adaptive regimens)"))
    legend.append(_decision_entry(t0))
    _figure_legend(fig, legend, ncols=3)
    return fig


def best_change(comparison: xr.Dataset) -> xr.DataArray:
    """Best percent change of the sum of diameters from the decision day per (regimen, draw):
    ``100 x (min over time / value at time 0 - 1)`` (%)."""
    _check_comparison(comparison, ["sum_of_diameters"], "best_change")
    sld = comparison["sum_of_diameters"]
    at0 = sld.isel(time=int(np.argmin(np.abs(comparison.time.values))))
    out = 100.0 * (sld.min("time") / at0 - 1.0)
    out.attrs = {"units": "%", "long_name": "best change in sum of diameters from the decision day"}
    return out


def waterfall(comparison: xr.Dataset) -> Figure:
    """Waterfall of the best change in sum of diameters from the decision day (%), one panel
    per regimen (shared y): one bar per draw, sorted from least to most shrinkage, in the
    regimen's colour, with the RECIST -30% (partial response) and +20% reference lines and the
    median and share of draws at or below -30% written in each panel."""
    change = best_change(comparison).transpose("regimen", "draw")
    names = [str(r) for r in comparison.regimen.values]
    colours = regimen_colours(comparison)
    n = len(names)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    n_draws = change.sizes["draw"]
    fig = Figure(figsize=(4.0 * ncols + 0.6, 3.0 * nrows + 1.1), layout="constrained")
    grid = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    for k in range(n, nrows * ncols):
        fig.delaxes(grid.flat[k])
    values = change.values
    finite = values[np.isfinite(values)]
    low = min(float(finite.min()) if finite.size else -100.0, -35.0)
    high = max(float(finite.max()) if finite.size else 0.0, 25.0)
    for k, name in enumerate(names):
        ax = grid.flat[k]
        v = np.sort(values[k])[::-1]
        ax.bar(np.arange(v.size), v, width=1.0 if v.size > 40 else 0.8, color=colours[name], lw=0, gid=f"bars:{name}")
        ax.axhline(0.0, color="0.2", lw=0.8, zorder=3)
        ax.axhline(100 * PR_CHANGE, color="0.1", lw=1.2, ls=":", zorder=3)
        ax.axhline(100 * PD_CHANGE, color="0.1", lw=1.2, ls="--", zorder=3)
        med = float(np.nanmedian(values[k]))
        share = float(np.mean(values[k] <= 100 * PR_CHANGE))
        ax.set_xlim(-0.7, v.size - 0.3)
        ax.set_ylim(low - 5.0, high + 10.0)
        stats = f"median {med:+.0f}%; {100 * share:.0f}% of draws at or below -30%"
        ax.set_title(f"{_wrap(name, 45)}\n{stats}", fontsize=9, loc="left")
        ax.set_xlabel(f"draw, sorted (n = {n_draws})")
        if k % ncols == 0:
            ax.set_ylabel("best change in sum of diameters (%)")
        ax.grid(axis="y", alpha=0.25, lw=0.5)
    fig.suptitle("Best response from the decision day per draw", fontsize=11)
    pd_line = "+20% vs decision-day baseline (RECIST PD is +20% and +5 mm over the nadir)"
    _figure_legend(
        fig,
        [
            (Line2D([], [], color="0.1", lw=1.2, ls=":"), "-30%: RECIST partial response"),
            (Line2D([], [], color="0.1", lw=1.2, ls="--"), pd_line),
        ],
        ncols=2,
    )
    return fig


def _posterior_matrix(posterior, names) -> tuple[list[str], np.ndarray, list[str]]:
    if not isinstance(posterior, xr.Dataset):
        raise ValueError(f"posterior must be an xarray.Dataset with dims (chain, draw); got {type(posterior)}")
    valid = [str(k) for k, v in posterior.data_vars.items() if set(v.dims) == {"chain", "draw"}]
    if names is None:
        names = valid
    elif isinstance(names, str):
        names = [names]
    names = [str(n) for n in names]
    bad = [n for n in names if n not in valid]
    if bad:
        raise ValueError(f"posterior_pairs: {bad} not scalar (chain, draw) parameters of the posterior; valid: {valid}")
    if not names:
        raise ValueError(f"posterior_pairs: no parameters to draw; the posterior's (chain, draw) parameters: {valid}")
    if len(set(names)) != len(names):
        raise ValueError(f"posterior_pairs: names repeat: {names}")
    cols = [np.asarray(posterior[n].transpose("chain", "draw").values, dtype=float).ravel() for n in names]
    units = [str(posterior[n].attrs.get("units", "units not given")) for n in names]
    return names, np.stack(cols, axis=1), units


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def posterior_pairs(posterior: xr.Dataset, names: Sequence[str] | None = None, *, max_draws: int = 1000) -> Figure:
    """Lower-triangle scatter matrix of posterior draws (chains pooled; at most ``max_draws``,
    evenly thinned) with histograms on the diagonal, titled with the median and 90% interval.
    Parameters whose draws are all positive and span more than a decade get log axes. Axes are
    labelled "name (units)" from each variable's ``attrs["units"]``; scatter panels show the
    correlation (on the plotted scales). ``names``: parameters to draw (default: every scalar
    parameter with dims (chain, draw))."""
    if int(max_draws) < 2:
        raise ValueError(f"max_draws={max_draws!r} must be at least 2")
    names, x, units = _posterior_matrix(posterior, names)
    x = x[np.all(np.isfinite(x), axis=1)]
    if x.shape[0] < 2:
        raise ValueError(f"posterior_pairs: fewer than 2 draws with finite values for {names}")
    if x.shape[0] > max_draws:
        x = x[np.linspace(0, x.shape[0] - 1, int(max_draws)).round().astype(int)]
    k = len(names)
    log = [bool(np.all(x[:, j] > 0) and x[:, j].max() / x[:, j].min() > 10.0) for j in range(k)]
    scaled = np.where(log, np.log10(np.where(x > 0, x, 1.0)), x)
    limits = []
    for j in range(k):
        lo, hi = scaled[:, j].min(), scaled[:, j].max()
        pad = 0.05 * (hi - lo) if hi > lo else (0.1 * abs(lo) or 0.5)
        lo, hi = lo - pad, hi + pad
        limits.append((10**lo, 10**hi) if log[j] else (lo, hi))
    labels = [f"{n} ({u})" for n, u in zip(names, units, strict=True)]
    size = min(2.1, 12.0 / k) if k > 1 else 4.0
    fig = Figure(figsize=(size * k + 0.9, size * k + 0.7), layout="constrained")
    grid = fig.subplots(k, k, squeeze=False)
    n_bins = int(np.clip(np.sqrt(x.shape[0]), 10, 40))
    for i in range(k):
        for j in range(k):
            ax = grid[i, j]
            if j > i:
                fig.delaxes(ax)
                continue
            if log[j]:
                ax.set_xscale("log")
            ax.set_xlim(*limits[j])
            if i == j:
                bins = np.geomspace(*limits[j], n_bins + 1) if log[j] else np.linspace(*limits[j], n_bins + 1)
                ax.hist(x[:, j], bins=bins, color=PALETTE[0], alpha=0.75, lw=0)
                ax.set_yticks([])
                q05, q50, q95 = np.quantile(x[:, j], [0.05, 0.5, 0.95])
                ax.set_title(f"{names[j]}\n{_fmt(q50)} ({_fmt(q05)}–{_fmt(q95)})", fontsize=8)
            else:
                if log[i]:
                    ax.set_yscale("log")
                ax.set_ylim(*limits[i])
                ax.scatter(x[:, j], x[:, i], s=5, color=PALETTE[0], alpha=0.35, lw=0, rasterized=True)
                a, b = scaled[:, j], scaled[:, i]
                if a.std() > 0 and b.std() > 0:
                    r = float(np.corrcoef(a, b)[0, 1])
                    ax.text(0.04, 0.94, f"r = {r:+.2f}", transform=ax.transAxes, fontsize=7, va="top")
                if j == 0:
                    ax.set_ylabel(labels[i], fontsize=8)
                else:
                    ax.tick_params(labelleft=False)
            if i == k - 1:
                ax.set_xlabel(labels[j], fontsize=8)
            else:
                ax.tick_params(labelbottom=False)
            ax.tick_params(labelsize=7)
    fig.suptitle(
        f"Posterior draws (n = {x.shape[0]}); diagonal titles: median (90% interval)",
        fontsize=10,
    )
    return fig


__all__ = [
    "DRUG_PALETTE",
    "PALETTE",
    "best_change",
    "dose_timeline",
    "fan_chart",
    "posterior_pairs",
    "regimen_colours",
    "burden_variable",
    "resistant_fraction_chart",
    "start_day",
    "waterfall",
]


# ---------------------------------------------------------------------------------------------
# virtual trials


def km_chart(km: xr.Dataset, observed=None, *, title: str = "", days_per_unit: float = 365.25 / 12) -> Figure:
    """Kaplan–Meier curves of a virtual trial per arm (``scenarios.TrialResult.kaplan_meier``:
    dims arm, draw, time in days): the median over population draws and its band, with, if
    given, ``observed``: arm -> ``scenarios.KaplanMeier`` of the real trial (its timeline in the
    same unit as the x axis, months by default: ``days_per_unit`` days per unit)."""
    if not isinstance(km, xr.Dataset) or not {"survival_median", "survival_lower", "survival_upper"} <= set(km):
        raise ValueError("km_chart: give the Dataset of TrialResult.kaplan_meier (survival_median / _lower / _upper)")
    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    x = km.time.values / days_per_unit
    level = float(km.attrs.get("level", km.survival_lower.attrs.get("level", 0.9)))
    entries = []
    for i, arm in enumerate(km.arm.values):
        colour = PALETTE[i % len(PALETTE)]
        sel = km.sel(arm=arm)
        ax.fill_between(x, sel.survival_lower, sel.survival_upper, color=colour, alpha=0.2, linewidth=0, step="post")
        (line,) = ax.step(x, sel.survival_median, where="post", color=colour)
        entries.append((line, f"{arm}: virtual, median and {level:.0%} band over population draws"))
        if observed is not None and str(arm) in observed:
            obs = observed[str(arm)]
            (o,) = ax.step(obs.timeline, obs.survival, where="post", color=colour, linestyle="--")
            entries.append((o, f"{arm}: observed"))
    ax.set_xlabel("months since randomisation" if days_per_unit == 365.25 / 12 else f"time (x {days_per_unit:g} days)")
    ax.set_ylabel("survival probability")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, x[-1])
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    ax.legend([e[0] for e in entries], [e[1] for e in entries], fontsize=8, loc="upper right")
    return fig
