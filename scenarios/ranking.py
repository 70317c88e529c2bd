"""Rank regimens over parameter draws, honestly: censoring shown, ties as ties, a verdict in words.

Every draw is one plausible patient; ``scenarios.compare`` runs every regimen on the same draws,
so regimens are compared *paired*, draw by draw. Event times that did not happen within the
horizon are censored at it: a median is "not reached" when at least half the draws are censored,
and the ranking score is the restricted mean time (RMST: the mean over draws of the time, censored
ones counting at the horizon = the area under the forecast's event-free curve up to the horizon),
which is meaningful under any amount of censoring. P(best) counts a draw for a regimen only when
it alone is best; draws where several regimens tie for best (typically: none progresses by the
horizon) are counted as ties. Regimens that give identical doses on every draw (an adaptive rule
that never triggers for this patient) are reported as the same option.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from scenarios.endpoints import ENDPOINTS

LEVEL = 0.90  # every interval of the summary: the 5th-95th percentile over draws


def _check_primary(ds: xr.Dataset, primary: str) -> None:
    events = [e.name for e in ENDPOINTS.values() if e.event and e.name in ds]
    if primary not in events:
        raise ValueError(f"primary={primary!r} is not an event-time endpoint here; choose from {events}")


def same_as(ds: xr.Dataset) -> dict[str, str]:
    """``{regimen: earlier regimen}`` for each regimen whose doses equal an earlier one's on every
    draw and day (e.g. an adaptive rule that never holds a dose): the same option for this patient."""
    doses = ds.dose.values  # (regimen, draw, time, drug)
    names = [str(r) for r in ds.regimen.values]
    out = {}
    for i, name in enumerate(names):
        for j in range(i):
            if names[j] not in out and np.array_equal(doses[i], doses[j]):
                out[name] = names[j]
                break
    return out


def check_penalties(**penalties) -> None:
    """Raise ``ValueError`` naming the first of :func:`summarise`'s penalties that is not a finite
    number >= 0 (callers that simulate first can check them before simulating)."""
    for name, value in penalties.items():
        if not (isinstance(value, numbers.Real) and np.isfinite(value) and value >= 0):
            raise ValueError(f"{name}={value!r} must be a finite number >= 0 (a penalty; 0: none)")


def excess_exposure(ds: xr.Dataset, label_daily_mg: Mapping[str, float]) -> np.ndarray:
    """Relative exposure above the label dose, ``(regimen, draw)``: for each drug, the mean daily
    dose over the horizon (``cumulative_dose`` / ``attrs['horizon_days']``, mg/day) divided by
    ``label_daily_mg[drug]`` (mg/day), minus 1 where positive, summed over drugs. E.g. 1200 mg
    once weekly against a label of 150 mg daily: 1200 / 7 / 150 - 1 = 0.143; 150 mg daily: 0.
    A drug given without a label dose in ``label_daily_mg`` is an error naming it."""
    if "horizon_days" not in ds.attrs:
        raise ValueError("the comparison has no attrs['horizon_days'] (scenarios.compare output expected)")
    horizon = float(ds.attrs["horizon_days"])
    dose = ds.cumulative_dose.values  # (regimen, draw, drug) mg
    excess = np.zeros(dose.shape[:2])
    for j, drug in enumerate(str(d) for d in ds.drug.values):
        if not (dose[:, :, j] > 0).any():
            continue
        label = label_daily_mg.get(drug)
        if label is None or not (np.isfinite(label) and label > 0):
            raise ValueError(
                f"drug {drug!r} is given but label_daily_mg has no daily label dose > 0 (mg/day) for it "
                f"(got {label!r}; known: {sorted(label_daily_mg)})"
            )
        excess += np.maximum(dose[:, :, j] / horizon / float(label) - 1.0, 0.0)
    return excess


def summarise(
    ds: xr.Dataset,
    primary: str = "time_to_progression",
    dose_penalty_per_g: float = 0.0,
    time_on_drug_penalty_per_day: float = 0.0,
    toxicity_penalty_days: float = 0.0,
    label_daily_mg: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Per-regimen summary of ``scenarios.compare``'s output, best first.

    Columns: ``regimen``; per endpoint ``NAME median`` and ``NAME 90% CI`` (5th-95th percentile over
    draws; censored times at the horizon) and, for event times, ``NAME not reached`` (share of
    draws without the event by the horizon); ``PRIMARY RMST`` (day, restricted mean to the
    horizon) and its Monte Carlo standard error ``PRIMARY RMST MC SE``; ``difference vs #1 (mean)``
    and ``difference vs #1 90% CI`` (day, paired per draw against the top-ranked regimen);
    ``P(best on PRIMARY)`` (this regimen alone best) and ``P(tied for best on PRIMARY)``;
    ``same as`` (an earlier regimen with identical doses on every draw, else ""); ``P(progressed)``
    (RECIST progression; PCWG3 PSA progression for a PSA-followed model without volumes);
    ``cumulative dose g (median)``; ``expected utility`` = RMST - ``dose_penalty_per_g`` x mean dose
    (g) - ``time_on_drug_penalty_per_day`` x mean days on drug (day) - the toxicity penalty. Sorted
    by expected utility; exact ties keep the given order.

    Tolerability: ``toxicity_penalty_days`` (day of restricted mean lost per unit of relative
    exposure above the label dose) x :func:`excess_exposure` (needs ``label_daily_mg``, mg/day per
    drug), averaged over draws, is the column ``toxicity penalty (days)``; with
    ``label_daily_mg`` the column ``exposure above label`` gives the mean excess itself. Default 0:
    no penalty.
    """
    _check_primary(ds, primary)
    check_penalties(dose_penalty_per_g=dose_penalty_per_g, time_on_drug_penalty_per_day=time_on_drug_penalty_per_day,
                    toxicity_penalty_days=toxicity_penalty_days)  # fmt: skip
    if toxicity_penalty_days and label_daily_mg is None:
        raise ValueError(
            f"toxicity_penalty_days={toxicity_penalty_days!r} needs label_daily_mg (each drug's label dose, mg/day)"
        )
    excess = excess_exposure(ds, label_daily_mg) if label_daily_mg is not None else None
    toxicity = toxicity_penalty_days * excess.mean(axis=1) if excess is not None else np.zeros(len(ds.regimen))
    value = ds[primary].values  # (regimen, draw), censored draws at the horizon: restricted times
    n_draws = value.shape[1]
    names = [str(r) for r in ds.regimen.values]
    duplicates = same_as(ds)
    distinct = np.asarray([r not in duplicates for r in names])
    candidates = np.where(distinct[:, None], value, -np.inf)  # one entry per distinct option
    at_best = candidates == candidates.max(axis=0, keepdims=True)
    alone = at_best & (at_best.sum(axis=0, keepdims=True) == 1)
    for i, r in enumerate(names):  # an identical option shares its original's standing
        if r in duplicates:
            j = names.index(duplicates[r])
            at_best[i], alone[i] = at_best[j], alone[j]
    total_dose_g = ds.cumulative_dose.sum("drug").values / 1000.0
    utility = value.mean(axis=1) - dose_penalty_per_g * total_dose_g.mean(axis=1)
    utility = utility - time_on_drug_penalty_per_day * ds.days_on_drug.values.mean(axis=1) - toxicity
    q = [(1 - LEVEL) / 2, 0.5, (1 + LEVEL) / 2]
    progression = next((v for v in ("progressed", "psa_progressed") if v in ds), ENDPOINTS[primary].event)
    rows = []
    for i, reg in enumerate(names):
        row = {"regimen": reg}
        for name, endpoint in ENDPOINTS.items():
            if name not in ds:  # not computed for this family (e.g. RECIST without tumour volumes)
                continue
            lo, mid, hi = np.quantile(ds[name].values[i], q)
            row[f"{name} median"] = mid
            row[f"{name} 90% CI"] = (lo, hi)
            if endpoint.event:
                row[f"{name} not reached"] = float(1.0 - ds[endpoint.event].values[i].mean())
        row[f"{primary} RMST"] = float(value[i].mean())
        row[f"{primary} RMST MC SE"] = float(value[i].std(ddof=1) / np.sqrt(n_draws)) if n_draws > 1 else np.nan
        row[f"P(best on {primary})"] = float(alone[i].mean())
        row[f"P(tied for best on {primary})"] = float((at_best[i] & ~alone[i]).mean())
        row["same as"] = duplicates.get(reg, "")
        row["P(progressed)"] = float(ds[progression].values[i].mean())
        row["cumulative dose g (median)"] = float(np.median(total_dose_g[i]))
        if excess is not None:
            row["exposure above label"] = float(excess[i].mean())
        row["toxicity penalty (days)"] = float(toxicity[i])
        row["expected utility"] = float(utility[i])
        rows.append(row)
    order = np.argsort(-np.asarray([r["expected utility"] for r in rows]), kind="stable")
    top = value[order[0]]
    for i in range(len(rows)):
        diff = value[i] - top
        rows[i]["difference vs #1 (mean)"] = float(diff.mean())
        rows[i]["difference vs #1 90% CI"] = tuple(np.quantile(diff, [q[0], q[2]]))
    return pd.DataFrame([rows[i] for i in order]).reset_index(drop=True)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def ranking_drivers(ds: xr.Dataset, first: str, second: str, primary: str = "time_to_progression") -> dict:
    """Spearman correlation of each parameter (a ``draw`` coordinate) with
    ``primary[first] - primary[second]`` over draws, strongest first."""
    diff = (ds[primary].sel(regimen=first) - ds[primary].sel(regimen=second)).values
    names = [c for c in ds.coords if ds.coords[c].dims == ("draw",) and c != "draw"]
    rho = {n: _spearman(ds.coords[n].values, diff) for n in names}
    return dict(sorted(rho.items(), key=lambda kv: -abs(kv[1])))


class Verdict(NamedTuple):
    """The ranking in words. ``best`` / ``runner_up``: regimen names (``runner_up`` None with one
    option); ``separated``: the best is better than the runner-up in at least ``level`` of draws;
    ``p_better`` / ``p_worse`` / ``p_tied``: shares of draws, paired; ``difference``: mean paired
    difference in the primary endpoint (day); ``interval``: its 90% interval; ``drivers``: the
    parameters whose uncertainty most changes the order of the two (Spearman rho); ``text``."""

    best: str
    runner_up: str | None
    separated: bool
    p_better: float
    p_worse: float
    p_tied: float
    difference: float
    interval: tuple[float, float]
    drivers: dict
    text: str


def verdict(ds: xr.Dataset, table: pd.DataFrame, primary: str = "time_to_progression", level: float = 0.9,
            names: dict[str, str] | None = None) -> Verdict:  # fmt: skip
    """One sentence a clinician can read: the best regimen of ``table`` (:func:`summarise` of
    ``ds``), by how much and how sure, against the best *different* option (regimens with identical
    doses are one option); or that the twin cannot separate the two within the horizon. ``names``
    maps regimen descriptions to shorter display names."""
    _check_primary(ds, primary)
    if not 0.5 < level < 1:
        raise ValueError(f"level={level!r} must be in (0.5, 1)")
    show = lambda r: (names or {}).get(r, r)  # noqa: E731
    horizon = float(ds.attrs.get("horizon_days", ds[primary].values.max()))
    years = f"{horizon / 365.25:.1f}".rstrip("0").rstrip(".")
    label = ENDPOINTS[primary].label
    best = str(table.regimen[0])
    twins = [str(r) for r, s in zip(table.regimen, table["same as"], strict=True) if best in (r, s) or s == best]
    twins = [r for r in twins if r != best]
    same = f" ({', '.join(show(r) for r in twins)}: identical doses for this patient)" if twins else ""
    others = [str(r) for r in table.regimen[1:] if str(r) not in twins]
    if not others:
        text = f"Only one distinct option was compared: {show(best)}{same}."
        return Verdict(best, None, False, 0.0, 0.0, 1.0, 0.0, (0.0, 0.0), {}, text)
    runner = others[0]
    diff = (ds[primary].sel(regimen=best) - ds[primary].sel(regimen=runner)).values
    p_better, p_worse = float((diff > 0).mean()), float((diff < 0).mean())
    p_tied = 1.0 - p_better - p_worse
    lo, hi = np.quantile(diff, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    drivers = ranking_drivers(ds, best, runner, primary) if p_better + p_worse > 0 else {}
    drivers = {k: v for k, v in drivers.items() if abs(v) >= 0.3}
    censored_both = float((~ds[ENDPOINTS[primary].event].sel(regimen=[best, runner]).values).all(axis=0).mean())
    separated = p_better >= level
    penalty = table.set_index("regimen")["toxicity penalty (days)"] if "toxicity penalty (days)" in table else None
    penalised = penalty is not None and bool((penalty > 0).any())
    if penalised and p_worse >= level:  # the penalty, not the endpoint, puts the best first
        text = (
            f"{show(runner)} has the longer {label}: {-diff.mean():.0f} days more than {show(best)}{same} on average "
            f"over {years} years (90% interval {-hi:.0f} to {-lo:.0f} days), better in {p_worse:.0%} of the "
            f"{diff.size} posterior draws; the toxicity penalty ranks {show(best)} first."
        )
    elif separated:
        text = (
            f"{show(best)}{same} has the longest {label}: {diff.mean():.0f} days more than {show(runner)} on average "
            f"over {years} years (90% interval {lo:.0f} to {hi:.0f} days), better in {p_better:.0%} of the "
            f"{diff.size} posterior draws."
        )
    else:
        text = (
            f"The twin cannot separate {show(best)}{same} and {show(runner)} within {years} years on {label}: "
            f"{show(best)} is ahead in {p_better:.0%} of the {diff.size} posterior draws, behind in {p_worse:.0%}, "
            f"tied in {p_tied:.0%}"
            + (f" (in {censored_both:.0%} neither reaches the event by day {horizon:g})" if censored_both else "")
            + "."
        )
    if penalised:
        scores = table.set_index("regimen")
        parts = []
        for r in (best, runner):
            rmst, cost = scores.loc[r, f"{primary} RMST"], scores.loc[r, "toxicity penalty (days)"]
            parts.append(f"{show(r)} {rmst:.0f} - {cost:.0f} = {rmst - cost:.0f} days")
        text += (
            " Ranked by the restricted mean minus a toxicity penalty for exposure above the label dose: "
            + "; ".join(parts)
            + "."
        )
    if drivers:
        text += " The order depends most on " + ", ".join(f"{k} (rho {v:+.2f})" for k, v in list(drivers.items())[:2])
        text += "."
    return Verdict(best, runner, separated, p_better, p_worse, p_tied, float(diff.mean()), (float(lo), float(hi)),
                   drivers, text)  # fmt: skip
