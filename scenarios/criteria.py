"""Response criteria: the groups of per-draw endpoints ``scenarios.compare`` computes, and which
family gets which.

A :class:`Criterion` reads one simulated :class:`Course` (a draw's observables on the daily grid,
its check days, the days dosed) and returns its endpoints; ``reads`` names the observable it needs,
so a family gets the criteria of what it observes: RECIST 1.1 for a family with a ``volume``
(imaging), PCWG3 PSA progression for one with ``psa``, and the burden, exposure and resistance
endpoints for every family. :data:`CRITERIA` is the registry; pass your own to ``compare`` for an
observable of your own (e.g. a ctDNA criterion).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.observation import sum_of_diameters
from scenarios.endpoints import (
    RESPONSE_NAMES,
    best_overall_response,
    psa_progression,
    recist,
    time_to_progression,
    time_to_threshold,
)


class Course(NamedTuple):
    """One draw's simulated course: ``times (days + 1,)`` day; ``observed`` observable -> ``(days +
    1,)`` (every observable of the family and ``resistant_fraction``); ``burden (days + 1,)`` (the
    family's burden); ``checks`` the indices of the scans or marker checks (every ``scan_every``
    days); ``dosed (days + 1,)`` bool, any dose given on the day; ``pretreatment`` the burden before
    treatment (NaN when not given); ``days``; ``n_lesions`` (the SLD is that of equal spheres)."""

    times: jax.Array
    observed: Mapping[str, jax.Array]
    burden: jax.Array
    checks: np.ndarray
    dosed: jax.Array
    pretreatment: jax.Array
    days: int
    n_lesions: int

    @property
    def check_times(self) -> jax.Array:
        """The checks' days ``(K,)``."""
        return jnp.arange(self.days + 1.0)[self.checks]


class Criterion(NamedTuple):
    """A group of endpoints computed together. ``reads``: the observable it needs (None: any
    family); ``compute(course) -> {variable: value}``; ``describe(burden)``: the attributes of
    its variables that are not in ``scenarios.ENDPOINTS`` (event flags, codes), given the burden's
    name and unit in words; ``needs_pretreatment``: computed only when a pre-treatment burden is given."""

    name: str
    reads: str | None
    compute: Callable[[Course], dict[str, jax.Array]]
    describe: Callable[[str], dict[str, dict]]
    needs_pretreatment: bool = False


def given_over(dosed: jax.Array, checks: np.ndarray) -> jax.Array:
    """Whether drug was given on every day of each interval between consecutive ``checks`` (day
    indices), from the days dosed ``dosed (days + 1,)``: ``(len(checks) - 1,)``."""
    daily = jnp.cumsum(dosed)
    days_on = daily[checks[1:] - 1] - jnp.where(checks[:-1] > 0, daily[checks[:-1] - 1], 0)
    return days_on == checks[1:] - checks[:-1]


def _recist(course: Course) -> dict[str, jax.Array]:
    sld = sum_of_diameters(course.observed["volume"], course.n_lesions)
    cats = recist(sld[course.checks])
    ttp = time_to_progression(course.check_times, cats)
    return {"time_to_progression": ttp.time, "progressed": ttp.observed, "best_response": best_overall_response(cats)}


def _pcwg3(course: Course) -> dict[str, jax.Array]:
    on = jnp.concatenate([jnp.zeros(1, bool), given_over(course.dosed, course.checks)])
    psa = psa_progression(course.check_times, course.observed["psa"][course.checks], on)
    return {"time_to_psa_progression": psa.time, "psa_progressed": psa.observed}


def _over_pretreatment(course: Course) -> dict[str, jax.Array]:
    above = time_to_threshold(course.times, course.burden, 1.2, reference=course.pretreatment)
    return {"time_to_1.2x_pretreatment": above.time, "exceeded_pretreatment": above.observed}


def _burden_thresholds(course: Course) -> dict[str, jax.Array]:
    above = time_to_threshold(course.times, course.burden, 1.2)
    doubling = time_to_threshold(course.times, course.burden, 2.0)
    return {"time_to_1.2x_baseline": above.time, "exceeded": above.observed,
            "time_to_2x_baseline": doubling.time, "doubled": doubling.observed}  # fmt: skip


def _exposure(course: Course) -> dict[str, jax.Array]:
    on = jnp.sum(course.dosed[: course.days])
    return {"days_on_drug": on, "days_off_drug": course.days - on}


def _resistance(course: Course) -> dict[str, jax.Array]:
    return {"final_resistant_fraction": course.observed["resistant_fraction"][-1]}


CRITERIA: tuple[Criterion, ...] = (
    Criterion("RECIST 1.1", "volume", _recist, lambda burden: {
        "progressed": {"long_name": "RECIST PD observed (False: censored)"},
        "best_response": {"codes": ",".join(RESPONSE_NAMES)},
    }),
    Criterion("PCWG3 PSA progression", "psa", _pcwg3, lambda burden: {
        "psa_progressed": {"long_name": "PCWG3 PSA progression observed (False: censored)"},
    }),
    Criterion("burden over pre-treatment", None, _over_pretreatment, lambda burden: {
        "exceeded_pretreatment": {"long_name": f"{burden} exceeded 1.2x pre-treatment (False: censored)"},
    }, needs_pretreatment=True),
    Criterion("burden thresholds", None, _burden_thresholds, lambda burden: {
        "exceeded": {"long_name": f"{burden} exceeded 1.2x baseline (False: censored)"},
        "doubled": {"long_name": f"{burden} exceeded 2x baseline (False: censored)"},
    }),
    Criterion("exposure", None, _exposure, lambda burden: {}),
    Criterion("resistance", None, _resistance, lambda burden: {}),
)  # fmt: skip
"""The criteria ``scenarios.compare`` applies by default, in the order of its Dataset."""


def criteria_for(
    observables: Mapping[str, str], pretreatment_given: bool, criteria: Sequence[Criterion] | None = None
) -> tuple[Criterion, ...]:
    """The criteria (default :data:`CRITERIA`) a family with these ``observables`` gets: those that
    read one of them or none, and those needing a pre-treatment burden only when it is given. A
    criterion given explicitly that reads an observable the family lacks is an error naming both."""
    if criteria is None:
        return tuple(
            c for c in CRITERIA
            if (c.reads is None or c.reads in observables) and (pretreatment_given or not c.needs_pretreatment)
        )  # fmt: skip
    chosen = tuple(criteria)
    for c in chosen:
        if not isinstance(c, Criterion):
            raise TypeError(f"criteria: {c!r} is not a scenarios.Criterion")
        if c.reads is not None and c.reads not in observables:
            raise ValueError(f"criterion {c.name!r} reads {c.reads!r}, which the family does not observe "
                             f"(it observes {list(observables)})")  # fmt: skip
        if c.needs_pretreatment and not pretreatment_given:
            raise ValueError(f"criterion {c.name!r} needs the pre-treatment burden: pass pretreatment=")
    return chosen
