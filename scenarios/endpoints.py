"""Clinical endpoints from simulated trajectories and scans (pure jnp; jit/vmap them).

An endpoint that did not happen within the horizon is *censored*, not infinite: event times
come back as :class:`EventTime` (time, observed) — ``observed=False`` means "no event up to
``time``", the censoring time.

RECIST 1.1 on the sum of (longest) diameters at scans, confirmation not required:
per scan after baseline, PD when the SLD is >= 20% above the nadir (smallest SLD so far,
baseline included) *and* >= 5 mm above it; else CR when it is <= ``cr_below_mm`` (0: all target
lesions gone); else PR when it is >= 30% below baseline; else SD. Missing scans (NaN) are NE
and do not move the nadir. With a zero baseline PR is impossible (no percentage change exists):
such a patient is CR while the SLD stays 0, PD once it reaches 5 mm, SD in between.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

CR, PR, SD, PD, NE = 0, 1, 2, 3, 4
RESPONSE_NAMES: tuple[str, ...] = ("CR", "PR", "SD", "PD", "NE")


class Endpoint(NamedTuple):
    """A per-draw endpoint of ``scenarios.compare`` (a variable of its Dataset, dims regimen x draw):
    ``unit``; ``label``, what it means in words (the "baseline" of a name is the start of the
    forecast); ``short``, a table header; ``event``, the variable that says the event happened
    (False: censored at the horizon), or None for an endpoint that is not an event time."""

    name: str
    unit: str
    label: str
    short: str
    event: str | None = None


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("time_to_progression", "day", "time to RECIST progression", "RECIST progression", "progressed"),
        Endpoint("time_to_1.2x_baseline", "day", "time until the tumour volume is 1.2x its start-of-forecast value",
                 "+20% volume", "exceeded"),
        Endpoint("time_to_1.2x_pretreatment", "day", "time until the burden is 1.2x its pre-treatment value (the "
                 "failure criterion of Strobl et al. 2021)", "+20% over pre-treatment", "exceeded_pretreatment"),
        Endpoint("time_to_2x_baseline", "day", "time until the tumour volume doubles from the start of the forecast",
                 "volume doubling", "doubled"),
        Endpoint("time_to_psa_progression", "day", "time to PSA progression (PCWG3: a confirmed rise of >= 25% and "
                 ">= 2 ng/mL above the nadir on treatment)", "PSA progression", "psa_progressed"),
        Endpoint("days_on_drug", "day", "days on drug", "days on drug"),
        Endpoint("days_off_drug", "day", "days off drug", "days off drug"),
        Endpoint("final_resistant_fraction", "1", "resistant fraction at the horizon", "resistant share"),
    )
}  # fmt: skip
"""The endpoints ``scenarios.compare`` computes per draw and the ranking summary reports."""


class EventTime(NamedTuple):
    """``time`` (day) of the event if ``observed``, else the censoring time."""

    time: jax.Array
    observed: jax.Array


def first_time(times: jax.Array, hit: jax.Array, censor_at: jax.Array | None = None) -> EventTime:
    """First ``times[i]`` with ``hit[i]``; censored at ``censor_at`` (default ``times[-1]``)."""
    any_hit = jnp.any(hit)
    censor = times[-1] if censor_at is None else censor_at
    return EventTime(jnp.where(any_hit, times[jnp.argmax(hit)], censor), any_hit)


def time_to_threshold(times, burden, factor: float = 1.2, reference=None) -> EventTime:
    """First time ``burden > factor x reference`` (default reference: ``burden[0]``, the baseline)."""
    ref = burden[0] if reference is None else reference
    return first_time(times, burden > factor * ref)


def time_to_growth_over_nadir(times, burden, threshold: float = 0.2) -> EventTime:
    """First time ``burden > (1 + threshold) x`` its running minimum."""
    nadir = jax.lax.cummin(burden)
    return first_time(times, burden > (1.0 + threshold) * nadir)


def recist(sld: jax.Array, cr_below_mm: float = 0.0) -> jax.Array:
    """RECIST 1.1 category per scan (``CR, PR, SD, PD, NE`` codes) for ``sld (n_scans,)`` in mm;
    scan 0 is the baseline (coded NE). NaN marks a missing scan."""
    sld = jnp.asarray(sld, dtype=float)
    baseline = sld[0]
    valid = ~jnp.isnan(sld)
    filled = jnp.where(valid, sld, jnp.inf)
    nadir_before = jnp.concatenate([filled[:1], jax.lax.cummin(filled)[:-1]])
    pd = (sld >= 1.2 * nadir_before) & (sld - nadir_before >= 5.0)
    cr = sld <= cr_below_mm
    pr = (baseline > 0) & (sld <= 0.7 * baseline)
    cat = jnp.where(pd, PD, jnp.where(cr, CR, jnp.where(pr, PR, SD)))
    assessable = valid & ~jnp.isnan(baseline) & (jnp.arange(sld.shape[0]) > 0)
    return jnp.where(assessable, cat, NE)


def best_overall_response(categories: jax.Array) -> jax.Array:
    """Best response from the first scan after baseline up to and including the first PD
    (CR > PR > SD > PD); NE when no scan after baseline is assessable."""
    cat = jnp.asarray(categories)
    is_pd = cat == PD
    upto = jnp.cumsum(is_pd) - is_pd == 0  # scans before or at the first PD
    return jnp.min(jnp.where(upto, cat, NE))


def confirmed_responses(categories: jax.Array) -> jax.Array:
    """Categories with unconfirmed responses demoted to SD: a CR or PR counts only if the next
    scan is CR or PR too (RECIST 1.1 confirmation, scans >= 4 weeks apart); it then counts as the
    weaker of the two. A response at the last assessable scan cannot be confirmed."""
    cat = jnp.asarray(categories)
    nxt = jnp.concatenate([cat[1:], jnp.full((1,), NE, cat.dtype)])
    response = cat <= PR
    confirmed = response & (nxt <= PR)
    return jnp.where(confirmed, jnp.maximum(cat, nxt), jnp.where(response, SD, cat))


def time_to_progression(scan_times: jax.Array, categories: jax.Array) -> EventTime:
    """Time of the first PD scan; censored at the last assessable scan (baseline if none)."""
    cat = jnp.asarray(categories)
    assessable = cat != NE
    last = jnp.max(jnp.where(assessable, scan_times, scan_times[0]))
    return first_time(scan_times, cat == PD, censor_at=last)


def psa_progression(
    check_times: jax.Array,
    psa: jax.Array,
    on: jax.Array,
    *,
    rise: float = 0.25,
    absolute: float = 2.0,
    not_before: float = 84.0,
) -> EventTime:
    """PSA progression by the Prostate Cancer Working Group 3 criteria (Scher et al. J Clin Oncol
    2016;34:1402): PSA >= ``rise`` (25%) and >= ``absolute`` (2 ng/mL) above the nadir, confirmed by
    the next check (>= 3 weeks later: 4-weekly checks are); rises before ``not_before`` days (12
    weeks) are ignored. The event time is the first check of the confirmed rise; censored at the
    last check. ``check_times (K,)`` day, ``psa (K,)`` ng/mL (check 0 the baseline), ``on (K,)``:
    the drug was given over the interval ending at each check.

    For intermittent and adaptive regimens a rise during a planned holiday is the schedule, not
    progression: only checks on treatment count, and the nadir is the lowest PSA since treatment
    last (re)started (for continuous therapy: since baseline, as PCWG3)."""
    psa = jnp.asarray(psa, dtype=float)
    on = jnp.asarray(on, dtype=bool)
    t = jnp.asarray(check_times, dtype=float)

    def check(nadir, k):
        course_began = on[k] & ~on[k - 1]  # treatment resumed at the previous check: a new course and nadir
        nadir = jnp.where(course_began, psa[k - 1], nadir)
        risen = on[k] & (psa[k] >= (1.0 + rise) * nadir) & (psa[k] - nadir >= absolute) & (t[k] >= not_before)
        return jnp.minimum(nadir, psa[k]), risen

    _, risen = jax.lax.scan(check, psa[0], jnp.arange(1, psa.shape[0]))
    risen = jnp.concatenate([jnp.zeros(1, bool), risen])
    confirmed = risen & jnp.concatenate([risen[1:], jnp.zeros(1, bool)])
    return first_time(check_times, confirmed)


def cumulative_dose(amounts: jax.Array, drug: jax.Array, n_drugs: int) -> jax.Array:
    """Total mg per drug ``(n_drugs,)`` from dose rows ``amounts (n,)`` with drug codes ``drug (n,)``."""
    return jnp.zeros(n_drugs).at[drug].add(amounts)


def dosed_days(times: jax.Array, amounts: jax.Array, days: int) -> jax.Array:
    """Whether any dose (amount > 0) was given on each day ``0 .. days``: ``(days + 1,)`` bool, from
    dose rows ``times (n,)`` (day; later rows count on the last day) and ``amounts (n,)``."""
    day = jnp.clip(jnp.floor(times).astype(int), 0, days)
    return jnp.zeros(days + 1, dtype=bool).at[day].max(amounts > 0)


def days_on_drug(times: jax.Array, amounts: jax.Array, days: int) -> jax.Array:
    """Number of days in ``0 .. days-1`` on which any dose (amount > 0) was given."""
    return jnp.sum(dosed_days(times, amounts, days)[:days])


def cycles_before(levels: jax.Array, event_time: jax.Array, decision_times: jax.Array) -> jax.Array:
    """Treatment resumptions (level from 0 to > 0 at a decision) before ``event_time``."""
    levels = jnp.asarray(levels)
    on = jnp.max(levels.reshape(levels.shape[0], -1), axis=1) > 0.5
    resumed = on[1:] & ~on[:-1]
    return jnp.sum(resumed & (decision_times[1:] < event_time))


def value_at(times: jax.Array, values: jax.Array, t: float) -> jax.Array:
    """``values`` at the grid time nearest ``t`` (e.g. resistant fraction at day 365)."""
    return values[jnp.argmin(jnp.abs(times - t))]
