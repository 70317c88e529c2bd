"""Named, parameterised regimens: plain data (a dose-table template over the horizon plus an
optional adaptive policy) that prints as the line a clinician would write.

Fixed regimens are just their dose table, so amounts and times are differentiable and tables of
equal length can be stacked and vmapped. Adaptive regimens scale the template's doses of each
drug by the level their policy sets at each decision time (see :mod:`scenarios.adaptive`).
Time in days from the start of treatment (day 0), amounts in mg.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

import mechanistic as m
from scenarios.policy import DoseModulation, SwitchOnProgression, ThresholdAdaptive

Policy = ThresholdAdaptive | DoseModulation | SwitchOnProgression

BASELINES = ("first_decision", "pretreatment")
"""What an adaptive policy's ``baseline`` burden is: ``"first_decision"``, the burden measured at
the regimen's first decision (its day 0), or ``"pretreatment"``, the burden before treatment began,
given to :func:`scenarios.simulate_regimen` / :func:`scenarios.compare` (e.g. a twin's estimate at
the patient's first dose; the AT50 of Zhang et al. 2017 holds below 50% of the pre-treatment PSA)."""

BASELINE_WORDS = {
    "first_decision": "the burden at the regimen's start (its first decision)",
    "pretreatment": "the pre-treatment burden",
}
"""How descriptions name each baseline."""


class Regimen(eqx.Module):
    """A dose template over the horizon, optionally driven by an adaptive ``policy`` that decides
    every ``decision_every`` days (e.g. 1 for daily decisions, 56 for 8-weekly scans) against the
    ``baseline`` burden of :data:`BASELINES`."""

    doses: m.DoseTable
    policy: Policy | None = None
    decision_every: float | None = eqx.field(static=True, default=None)
    description: str = eqx.field(static=True, default="")
    baseline: str = eqx.field(static=True, default="first_decision")

    def __check_init__(self):
        if (self.policy is None) != (self.decision_every is None):
            raise ValueError("Regimen: give both a policy and decision_every (adaptive) or neither (fixed)")
        if self.decision_every is not None and not self.decision_every > 0:
            raise ValueError(f"Regimen: decision_every={self.decision_every!r} must be > 0 (days)")
        if self.baseline not in BASELINES:
            raise ValueError(f"Regimen: baseline={self.baseline!r} is not one of {BASELINES}")

    @property
    def adaptive(self) -> bool:
        return self.policy is not None

    @property
    def drugs(self) -> tuple[str, ...]:
        return self.doses.drugs

    def __str__(self) -> str:
        return self.description


def _mg(x: float) -> str:
    return f"{float(x):g} mg"


def _check_days(days) -> int:
    if not (isinstance(days, (int, np.integer)) and days >= 1):
        raise ValueError(f"days={days!r} must be a whole number of days >= 1 (the horizon)")
    return int(days)


def _check_amount(name: str, amount) -> None:
    if not (np.isfinite(amount) and amount >= 0):
        raise ValueError(f"{name}={amount!r} must be a finite dose >= 0 (mg)")


def continuous(drug: str, amount: float, days: int, route: str = "oral") -> Regimen:
    """``amount`` mg of ``drug`` once daily for the whole horizon."""
    _check_amount("amount", amount)
    return Regimen(m.daily(0, _check_days(days) - 1, drug, amount, route), description=f"{drug} {_mg(amount)} daily")


def intermittent(drug: str, amount: float, on_days: int, off_days: int, days: int) -> Regimen:
    """Daily ``amount`` for ``on_days``, then ``off_days`` without, repeated."""
    _check_amount("amount", amount)
    if on_days < 1 or off_days < 0:
        raise ValueError(f"on_days={on_days!r} must be >= 1 and off_days={off_days!r} >= 0")
    day = np.arange(_check_days(days))
    amounts = np.where(day % (on_days + off_days) < on_days, amount, 0.0)
    return Regimen(
        m.every(1.0, len(day), drug, amounts),
        description=f"{drug} {_mg(amount)} daily, {on_days} days on / {off_days} days off",
    )


def pulsed(drug: str, high: float, high_days: int, low: float, period: int, days: int) -> Regimen:
    """``high`` mg daily on the first ``high_days`` of every ``period`` days, ``low`` mg on the rest
    (e.g. erlotinib 1200 mg days 1-2 + 50 mg days 3-7 weekly; Yu et al. Ann Oncol 2017)."""
    _check_amount("high", high)
    _check_amount("low", low)
    if not 1 <= high_days <= period:
        raise ValueError(f"high_days={high_days!r} must be between 1 and period={period!r}")
    day = np.arange(_check_days(days))
    amounts = np.where(day % period < high_days, high, low)
    every_text = "weekly" if period == 7 else f"every {period} days"
    return Regimen(
        m.every(1.0, len(day), drug, amounts),
        description=f"{drug} {_mg(high)} d1-{high_days} + {_mg(low)} d{high_days + 1}-{period} {every_text}",
    )


def dose_reduction(drug: str, amount: float, reduced: float, from_day: int, days: int) -> Regimen:
    """Daily ``amount``, reduced to ``reduced`` from ``from_day`` on."""
    _check_amount("amount", amount)
    _check_amount("reduced", reduced)
    if not 0 < from_day < _check_days(days):
        raise ValueError(f"from_day={from_day!r} must be inside the horizon (1..{days - 1})")
    amounts = np.where(np.arange(days) < from_day, amount, reduced)
    return Regimen(
        m.every(1.0, days, drug, amounts),
        description=f"{drug} {_mg(amount)} daily, reduced to {_mg(reduced)} from day {from_day}",
    )


def combination(first: Regimen, second: Regimen) -> Regimen:
    """Both fixed regimens at once (two drugs, or two schedules of one)."""
    for r in (first, second):
        if r.adaptive:
            raise ValueError(f"combination takes fixed regimens; {r.description!r} is adaptive")
    for drug in set(first.drugs) & set(second.drugs):
        t1 = np.asarray(first.doses.time)[np.asarray(first.doses.for_drug(drug))]
        t2 = np.asarray(second.doses.time)[np.asarray(second.doses.for_drug(drug))]
        both = np.intersect1d(t1, t2)
        if both.size:
            raise ValueError(
                f"combination: {first.description!r} and {second.description!r} both dose {drug} on day "
                f"{both[0]:g} (overlapping schedule entries); give one regimen with the total dose instead"
            )
    return Regimen(first.doses + second.doses, description=f"{first.description} + {second.description}")


def with_break(regimen: Regimen, start: int, end: int) -> Regimen:
    """``regimen`` with no doses on days ``start`` .. ``end - 1`` (a treatment break)."""
    if not 0 <= start < end:
        raise ValueError(f"treatment break start={start!r}, end={end!r}: need 0 <= start < end (days)")
    t = np.asarray(regimen.doses.time)
    amount = np.where((t >= start) & (t < end), 0.0, np.asarray(regimen.doses.amount))
    doses = eqx.tree_at(lambda d: d.amount, regimen.doses, jnp.asarray(amount))
    description = f"{regimen.description}, break days {start}-{end - 1}"
    return Regimen(doses, regimen.policy, regimen.decision_every, description, regimen.baseline)


def adaptive_threshold(
    base: Regimen,
    hold_below: float = 0.5,
    resume_above: float = 1.0,
    decision_every: float = 56.0,
    temperature=None,
    baseline: str = "first_decision",
) -> Regimen:
    """``base`` under threshold adaptive therapy (AT50 by default): hold below ``hold_below`` x
    baseline burden, resume above ``resume_above`` x baseline, deciding every ``decision_every``
    days. ``baseline`` (:data:`BASELINES`): the burden at the first decision (default) or the
    pre-treatment burden (Zhang et al. 2017's AT50); the description names it."""
    if base.adaptive:
        raise ValueError(f"adaptive_threshold needs a fixed base regimen; {base.description!r} is adaptive")
    if baseline not in BASELINES:
        raise ValueError(f"adaptive_threshold: baseline={baseline!r} is not one of {BASELINES}")
    policy = ThresholdAdaptive(hold_below, resume_above, temperature)
    pct = round(100 * (1 - float(hold_below)))
    return Regimen(
        base.doses,
        policy,
        float(decision_every),
        f"{base.description}, adaptive AT{pct} against {BASELINE_WORDS[baseline]} (hold below "
        f"{100 * float(hold_below):g}% of it, resume at {100 * float(resume_above):g}%; decisions every "
        f"{decision_every:g} days)",
        baseline,
    )


def dose_modulation(base: Regimen, decision_every: float = 56.0, **policy_kwargs) -> Regimen:
    """``base`` with its dose stepped down after a response and up after growth."""
    if base.adaptive:
        raise ValueError(f"dose_modulation needs a fixed base regimen; {base.description!r} is adaptive")
    p = DoseModulation(**policy_kwargs)
    return Regimen(
        base.doses,
        p,
        float(decision_every),
        f"{base.description}, dose modulated (x{p.down:g} after a {100 * p.response:g}% fall, x{p.up:g} after a "
        f"{100 * p.growth:g}% rise, up to {100 * p.max_level:g}%; decisions every {decision_every:g} days)",
    )


def switch_on_progression(first: Regimen, second: Regimen, decision_every: float = 56.0, threshold=0.2) -> Regimen:
    """``first`` until progression (burden > (1 + threshold) x nadir at a decision), then ``second``."""
    if first.adaptive or second.adaptive:
        raise ValueError("switch_on_progression takes two fixed regimens")
    if len(first.drugs) != 1 or len(second.drugs) != 1:
        raise ValueError("switch_on_progression switches between two single-drug regimens")
    if set(first.drugs) & set(second.drugs):
        raise ValueError(f"switch_on_progression: the two regimens share drugs {set(first.drugs) & set(second.drugs)}")
    doses = first.doses + second.doses
    a, b = doses.drugs.index(first.drugs[0]), doses.drugs.index(second.drugs[0])
    return Regimen(
        doses,
        SwitchOnProgression(a, b, threshold),
        float(decision_every),
        f"{first.description}, then {second.description} at first progression "
        f"(+{100 * threshold:g}% over nadir; scans every {decision_every:g} days)",
    )
