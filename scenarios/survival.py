"""Survival and response statistics of trial results: Kaplan–Meier curves (one arm, or one arm per
population draw with bands over draws), the log-rank test, the Cox hazard ratio and the objective
response rate.

Plain numpy in and out (not jit-able); the statistics are lifelines' (imported on first use: it
takes seconds to import) and scipy's. Times are in
whatever unit the caller uses (day, month, ...); every time that comes back is in that unit.
Events: 1 / True = the event happened at ``time``, 0 / False = censored at ``time`` (the
``EventTime(time, observed)`` of :mod:`scenarios.endpoints` fits directly).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import binomtest

from scenarios.endpoints import CR, PR, RESPONSE_NAMES

ALPHA = 0.05  # 95% confidence intervals throughout


class KaplanMeier(NamedTuple):
    """Kaplan–Meier estimate of one group; times in the caller's unit.

    ``timeline (T,)``; ``survival (T,)``: S(t), right-continuous step function; ``survival_lower``,
    ``survival_upper (T,)``: pointwise 95% CI (Greenwood, log(-log) transform, lifelines' default);
    ``at_risk (T,)``: patients with ``time >= t``; ``median``: first time S(t) <= 0.5 (``inf`` when
    S never gets there); ``median_lower``, ``median_upper``: its 95% CI (times where the pointwise
    band crosses 0.5; ``inf`` when it does not); ``n``, ``n_events``: patients and events.
    """

    timeline: np.ndarray
    survival: np.ndarray
    survival_lower: np.ndarray
    survival_upper: np.ndarray
    at_risk: np.ndarray
    median: float
    median_lower: float
    median_upper: float
    n: int
    n_events: int


class LogRank(NamedTuple):
    """Two-sided log-rank test: chi-square ``statistic`` (1 degree of freedom) and ``p_value``."""

    statistic: float
    p_value: float


class HazardRatio(NamedTuple):
    """Cox proportional-hazards ``hazard_ratio`` of group 1 vs group 0, its 95% CI (``lower``,
    ``upper``) and the Wald ``p_value``."""

    hazard_ratio: float
    lower: float
    upper: float
    p_value: float


class ResponseRate(NamedTuple):
    """Objective response rate ``rate`` (fraction, 0-1) = ``n_responders / n`` with its exact
    (Clopper–Pearson) 95% CI ``lower``, ``upper``."""

    rate: float
    lower: float
    upper: float
    n_responders: int
    n: int


def kaplan_meier(time, event, *, timeline=None) -> KaplanMeier:
    """Kaplan–Meier estimate for ``time (n,)`` (>= 0, finite; any unit) and ``event (n,)``
    (1 = event, 0 = censored), evaluated on ``timeline (T,)`` (default: 0 and the distinct
    observed times). The median and its CI come from the full curve, not the timeline grid."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    time, event = _check_arm(time, event, "time", "event")
    kmf = KaplanMeierFitter(alpha=ALPHA).fit(time, event)
    natural = kmf.survival_function_.index.to_numpy()
    if timeline is None:
        timeline = natural
    timeline = _check_timeline(timeline)
    # step function: the value at the last natural time <= t (the natural timeline starts at 0)
    at = np.searchsorted(natural, timeline, side="right") - 1
    ci = kmf.confidence_interval_.to_numpy()
    median_ci = median_survival_times(kmf.confidence_interval_).to_numpy()[0]
    return KaplanMeier(
        timeline=timeline,
        survival=kmf.survival_function_.to_numpy()[at, 0],
        survival_lower=ci[at, 0],
        survival_upper=ci[at, 1],
        at_risk=time.size - np.searchsorted(np.sort(time), timeline, side="left"),
        median=float(kmf.median_survival_time_),
        median_lower=float(median_ci[0]),
        median_upper=float(median_ci[1]),
        n=int(time.size),
        n_events=int(event.sum()),
    )


def km_median(time, event, *, interpolate: bool = False) -> float:
    """Kaplan–Meier median of ``time (n,)`` (>= 0, finite; any unit; the median comes back in it)
    and ``event (n,)`` (1 = event, 0 = censored): the first time S(t) <= 0.5, as
    :func:`kaplan_meier`'s ``median`` (``interpolate=False``), or with ``interpolate=True`` the
    time where the straight line between the KM points around it (S at 0 and at each distinct
    time) reaches 0.5: continuous in the data, so a fit does not see the steps of scan-timed events.
    ``inf`` when S never gets to 0.5. Plain numpy: fast enough to call per simulated trial."""
    time, event = _check_arm(time, event, "time", "event")
    order = np.argsort(time, kind="stable")
    t, e = time[order], event[order].astype(bool)
    uniq, first = np.unique(t, return_index=True)
    n_at_risk = len(t) - first
    deaths = np.add.reduceat(e, first)
    s = np.cumprod(1.0 - deaths / n_at_risk)
    tt, ss = np.r_[0.0, uniq], np.r_[1.0, s]
    below = np.flatnonzero(ss <= 0.5)
    if below.size == 0:
        return float("inf")
    i = below[0]
    if not interpolate:
        return float(tt[i])
    return float(tt[i - 1] + (ss[i - 1] - 0.5) / (ss[i - 1] - ss[i]) * (tt[i] - tt[i - 1]))


def km_bands(times, events, timeline, *, level: float = 0.9, time_unit: str | None = None) -> xr.Dataset:
    """Kaplan–Meier curve per population draw and its band over draws.

    ``times``, ``events (n_draws, n_patients)``: one simulated trial arm per draw (times >= 0 in
    any unit, events 1 = event / 0 = censored); ``timeline (T,)`` in the same unit. Returns a
    Dataset with coords ``draw``, ``time`` and

    - ``survival (draw, time)``: S(t) of each draw;
    - ``survival_median``, ``survival_lower``, ``survival_upper (time)``: median and the central
      ``level`` interval over draws of S(t) (quantiles ``(1 -+ level) / 2``);
    - ``median_survival (draw)``: each draw's median survival time, ``inf`` where S never drops to
      0.5 (never NaN; quantiles over draws stay meaningful, e.g. ``np.quantile`` sorts inf last).

    ``time_unit``, if given, goes into the ``units`` attrs of ``time`` and ``median_survival``.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    times, events = _check_arm(times, events, "times", "events", ndim=2)
    timeline = _check_timeline(timeline)
    n_draws = times.shape[0]
    survival = np.empty((n_draws, timeline.size))
    median = np.empty(n_draws)
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter(alpha=ALPHA)
    for d in range(n_draws):
        kmf.fit(times[d], events[d])
        survival[d] = kmf.survival_function_at_times(timeline).to_numpy()
        median[d] = kmf.median_survival_time_
    lo, mid, hi = np.quantile(survival, [(1 - level) / 2, 0.5, (1 + level) / 2], axis=0)
    units = {} if time_unit is None else {"units": time_unit}
    band = {"level": level}
    return xr.Dataset(
        {
            "survival": (("draw", "time"), survival, {"long_name": "Kaplan-Meier S(t) per draw"}),
            "survival_median": ("time", mid, {"long_name": "median over draws of S(t)"}),
            "survival_lower": ("time", lo, {"long_name": "lower band of S(t) over draws", **band}),
            "survival_upper": ("time", hi, {"long_name": "upper band of S(t) over draws", **band}),
            "median_survival": ("draw", median, {"long_name": "median survival time (inf: not reached)", **units}),
        },
        coords={"draw": np.arange(n_draws), "time": ("time", timeline, units)},
        attrs={"level": level, "n_patients": times.shape[1]},
    )


def logrank(time_a, event_a, time_b, event_b) -> LogRank:
    """Log-rank test of equal survival in arms a and b (``time_*``, ``event_*`` as in
    :func:`kaplan_meier`)."""
    time_a, event_a = _check_arm(time_a, event_a, "time_a", "event_a")
    time_b, event_b = _check_arm(time_b, event_b, "time_b", "event_b")
    from lifelines.statistics import logrank_test

    result = logrank_test(time_a, time_b, event_observed_A=event_a, event_observed_B=event_b)
    return LogRank(float(result.test_statistic), float(result.p_value))


def hazard_ratio(time, event, group) -> HazardRatio:
    """Cox proportional-hazards hazard ratio of ``group == 1`` vs ``group == 0`` (unstratified,
    Efron ties; ``time``, ``event``, ``group (n,)``). HR < 1: group 1 has the lower hazard."""
    time, event = _check_arm(time, event, "time", "event")
    group = _check_binary(group, "group", "1 = group 1, 0 = group 0")
    if group.shape != time.shape:
        raise ValueError(f"time has {time.size} entries but group has {group.size}; give one per patient")
    for g in (0, 1):
        in_g = group == g
        if not in_g.any():
            raise ValueError(f"group {g} has no patients (group must contain both 0 and 1)")
        if not event[in_g].any():
            raise ValueError(f"group {g} has no events; the hazard ratio is 0 or infinite")
    frame = pd.DataFrame({"time": time, "event": event, "group": group.astype(float)})
    from lifelines import CoxPHFitter

    row = CoxPHFitter(alpha=ALPHA).fit(frame, duration_col="time", event_col="event").summary.loc["group"]
    return HazardRatio(
        float(row["exp(coef)"]),
        float(row["exp(coef) lower 95%"]),
        float(row["exp(coef) upper 95%"]),
        float(row["p"]),
    )


def response_rate(best_response_codes) -> ResponseRate:
    """Objective response rate: fraction of patients whose best overall response is CR or PR,
    with an exact (Clopper–Pearson) 95% CI.

    ``best_response_codes (n,)``: codes of :mod:`scenarios.endpoints` (CR, PR, SD, PD, NE =
    0, 1, 2, 3, 4) or their names ('CR', ...). Intention to treat: NE (not evaluable / missing)
    counts in the denominator, as a non-responder.
    """
    codes = np.asarray(best_response_codes)
    if codes.ndim != 1:
        raise ValueError(f"best_response_codes must be one-dimensional, got shape {codes.shape}")
    if codes.size == 0:
        raise ValueError("best_response_codes is empty; need at least one patient")
    if codes.dtype.kind in "USO":
        valid = np.isin(codes, RESPONSE_NAMES)
        what = f"names {RESPONSE_NAMES}"
    elif codes.dtype.kind in "biuf":
        valid = np.isin(codes, np.arange(len(RESPONSE_NAMES)))
        what = f"codes 0-{len(RESPONSE_NAMES) - 1} ({', '.join(f'{n}={i}' for i, n in enumerate(RESPONSE_NAMES))})"
    else:
        raise ValueError(f"best_response_codes must be integer codes or names, got dtype {codes.dtype}")
    if not valid.all():
        i = int(np.flatnonzero(~valid)[0])
        raise ValueError(f"best_response_codes[{i}] = {codes[i].item()!r}; valid are the response {what}")
    responders = {CR, PR} if codes.dtype.kind in "biuf" else {RESPONSE_NAMES[CR], RESPONSE_NAMES[PR]}
    k = int(np.isin(codes, list(responders)).sum())
    ci = binomtest(k, codes.size).proportion_ci(confidence_level=1 - ALPHA, method="exact")
    return ResponseRate(k / codes.size, float(ci.low), float(ci.high), k, int(codes.size))


def _where(bad: np.ndarray) -> str:
    """The first offending index of a boolean array, as ``[i]`` or ``[i, j]``."""
    index = np.unravel_index(int(np.argmax(bad)), bad.shape)
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def _check_times(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be numeric times, got dtype {a.dtype}")
    a = a.astype(float)
    if a.size == 0:
        raise ValueError(f"{name} is empty; need at least one time")
    bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        where = _where(bad)
        raise ValueError(f"{name}{where} = {a[bad][0].item()!r}; times must be finite and >= 0")
    return a


def _check_timeline(timeline) -> np.ndarray:
    timeline = _check_times(timeline, "timeline")
    if timeline.ndim != 1:
        raise ValueError(f"timeline must have shape (n_times,), got shape {timeline.shape}")
    return timeline


def _check_binary(x, name: str, meaning: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be 0/1 or boolean ({meaning}), got dtype {a.dtype}")
    if a.size == 0:
        raise ValueError(f"{name} is empty; need at least one patient")
    bad = (a != 0) & (a != 1)
    if bad.any():
        raise ValueError(f"{name}{_where(bad)} = {a[bad][0].item()!r}; valid values are 0 and 1 ({meaning})")
    return a.astype(int)


def _check_arm(time, event, time_name: str, event_name: str, ndim: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Validated float times and int (0/1) events of equal shape (``ndim`` dimensions)."""
    time = _check_times(time, time_name)
    if time.ndim != ndim:
        shape = "(n_patients,)" if ndim == 1 else "(n_draws, n_patients)"
        raise ValueError(f"{time_name} must have shape {shape}, got shape {time.shape}")
    event = _check_binary(event, event_name, "1 = event, 0 = censored")
    if event.shape != time.shape:
        raise ValueError(
            f"{time_name} has shape {time.shape} but {event_name} has shape {event.shape}; give one event flag per time"
        )
    return time, event
