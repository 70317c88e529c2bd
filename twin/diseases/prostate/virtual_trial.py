"""A virtual adaptive-therapy trial with the prostate pack: continuous abiraterone against AT50 on
patients drawn from the pack's population prior (the Bruchovsky fits), every patient in both arms.

Each virtual patient starts abiraterone at day 0 with PSA ``psa0`` (drawn from its prior) and the
cells of its parameters (:data:`~twin.diseases.prostate.model.PRIORS`: independent logit-normals,
so without the fits' cost-turnover correlation); PSA is checked every 4 weeks; AT50 holds below half
the pre-treatment PSA and resumes at it (Zhang et al. 2017). Endpoints: the median time to PCWG3 PSA
progression per arm (censored at the horizon: "not reached" when fewer than half progress), with a
90% band over bootstrap resamples of the virtual patients, and the AT arm's share of time off drug
before progression. The clinical comparators (Zhang et al. eLife 2022: median time to progression
33.5 vs 14.3 months, no abiraterone during 46% of the time on trial; the 2017 pilot: >= 27 vs ~16.5
months, 47% of the standard cumulative dose) are stated beside the numbers, not fitted: nothing here
is tuned to them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

DAYS_PER_MONTH = 365.25 / 12
CLINICAL = {
    "Zhang 2022 (eLife 11:e76284) median TTP, months": {"continuous": 14.3, "at50": 33.5},
    "Zhang 2022 share of time off abiraterone in the AT arm": 0.46,
}
"""The clinical numbers of ``shared/refdata/README.md`` the virtual trial is read beside."""


class VirtualTrial(NamedTuple):
    """``median_months`` and ``band_months`` (5th, 95th percentile over bootstrap resamples) of the
    time to PSA progression per arm (inf: not reached); ``progressed`` share per arm; ``off_share``:
    the AT arm's mean share of days off drug before progression (or the horizon); ``dataset``: the
    ``scenarios.compare`` output (regimen x patient)."""

    median_months: dict
    band_months: dict
    progressed: dict
    off_share: float
    dataset: object


def population_draws(n: int, key) -> dict[str, np.ndarray]:
    """``n`` virtual patients from the pack's priors (the fixed parameters broadcast)."""
    from twin.diseases.prostate.model import ERROR_PARAMETERS, ProstateModel

    model = ProstateModel()
    draws = {k: v for k, v in model.sample_priors(key, n).items() if k not in ERROR_PARAMETERS}
    draws.update({k: np.full(n, v) for k, v in model.fixed.items()})
    return draws


def _median(times: np.ndarray, events: np.ndarray) -> float:
    """Median event time with censoring at the horizon (inf when fewer than half have the event)."""
    if events.mean() < 0.5:
        return np.inf
    return float(np.median(np.where(events, times, np.inf)))


def run(n: int = 200, *, key, years: int = 5, bootstrap: int = 500) -> VirtualTrial:
    """The trial on ``n`` virtual patients over ``years`` (PRNG ``key`` for the population and the
    bootstrap)."""
    import jax

    import scenarios as sc
    from twin.diseases.prostate.model import ProstateModel
    from twin.diseases.prostate.regimens import CHECK_EVERY, standard_regimens

    model = ProstateModel()
    days = CHECK_EVERY * round(years * 365.25 / CHECK_EVERY)
    k_pop, k_sim, k_boot = jax.random.split(key, 3)
    draws = population_draws(n, k_pop)
    regimens = standard_regimens(days, names=("continuous", "at50"))
    ds = sc.compare(
        model, draws, regimens, days, key=k_sim, scan_every=CHECK_EVERY, store_every=7,
        options=model.solver_options(), pretreatment=draws["psa0"],
    )  # fmt: skip
    arms = dict(zip(("continuous", "at50"), (str(r) for r in ds.regimen.values), strict=True))
    rng = np.random.default_rng(np.asarray(jax.random.key_data(k_boot)).ravel())
    median, band, progressed = {}, {}, {}
    for arm, name in arms.items():
        t = ds.time_to_psa_progression.sel(regimen=name).values / DAYS_PER_MONTH
        e = ds.psa_progressed.sel(regimen=name).values.astype(bool)
        median[arm] = _median(t, e)
        resampled = [_median(t[i], e[i]) for i in rng.integers(0, n, (bootstrap, n))]
        band[arm] = tuple(np.quantile(resampled, [0.05, 0.95], method="nearest"))  # inf: not reached
        progressed[arm] = float(e.mean())
    at = ds.sel(regimen=arms["at50"])
    on = at.dose.sum("drug").values > 0  # (patient, week)
    until = at.time_to_psa_progression.values
    before = at.time.values[None, :] < until[:, None]
    off_share = float(np.mean(((~on) & before).sum(axis=1) / np.maximum(before.sum(axis=1), 1)))
    return VirtualTrial(median, band, progressed, off_share, ds)
