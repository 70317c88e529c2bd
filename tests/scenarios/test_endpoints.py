"""RECIST 1.1 and the other endpoints against hand-computed sequences."""

import jax.numpy as jnp
import numpy as np
import pytest

import scenarios as s

NAN = float("nan")
CR, PR, SD, PD, NE = s.CR, s.PR, s.SD, s.PD, s.NE


@pytest.mark.parametrize(
    "sld, expected, bor",
    [
        # PR from -30% of baseline; PD at +20% over the nadir (30 -> 36) with +6 mm
        ([50, 40, 34, 30, 36, 37], [NE, SD, PR, PR, PD, PD], PR),
        # 5 mm rule: +25% over the nadir 8 but only +2 mm is not PD; +5.1 mm is
        ([10, 8, 10], [NE, SD, SD], SD),
        ([10, 8, 13.1], [NE, SD, PD], SD),
        # exactly -30% is PR; +17.9% over the nadir is not PD
        ([20, 14, 16.5], [NE, PR, SD], PR),
        # a missing scan is NE and does not move the nadir; PD measured from the nadir (30), not baseline
        ([50, NAN, 30, 35.9, 36], [NE, NE, PR, SD, PD], PR),
        # complete response
        ([30, 12, 0], [NE, PR, CR], CR),
        # PD at the first scan
        ([30, 37], [NE, PD], PD),
        # baseline zero: CR while 0, SD below 5 mm, PD from 5 mm
        ([0, 0, 3, 5], [NE, CR, SD, PD], CR),
        # a single scan (baseline only): nothing assessable
        ([40], [NE], NE),
        # all scans missing
        ([NAN, NAN, NAN], [NE, NE, NE], NE),
        # baseline missing: no scan can be assessed
        ([NAN, 20, 30], [NE, NE, NE], NE),
        # responses after the first PD do not count towards the best response
        ([50, 60, 30], [NE, PD, PR], PD),
    ],
)
def test_recist_sequences(sld, expected, bor):
    cat = s.recist(jnp.asarray(sld, dtype=float))
    assert np.asarray(cat).tolist() == expected
    assert int(s.best_overall_response(cat)) == bor


def test_time_to_progression_and_censoring():
    times = jnp.array([0.0, 42.0, 84.0, 126.0, 168.0])
    cat = s.recist(jnp.array([50, 40, 34, 30, 36.0]))
    ttp = s.time_to_progression(times, cat)
    assert (float(ttp.time), bool(ttp.observed)) == (168.0, True)
    cat = s.recist(jnp.array([50, 40, 34, NAN, NAN]))  # no PD; last assessable scan at day 84
    ttp = s.time_to_progression(times, cat)
    assert (float(ttp.time), bool(ttp.observed)) == (84.0, False)
    cat = s.recist(jnp.array([50, NAN, NAN, NAN, NAN]))
    ttp = s.time_to_progression(times, cat)
    assert (float(ttp.time), bool(ttp.observed)) == (0.0, False)


def test_threshold_endpoints_are_censored_at_the_horizon():
    t = jnp.arange(5.0)
    hit = s.time_to_threshold(t, jnp.array([10.0, 8, 11, 12.5, 13]), factor=1.2)
    assert (float(hit.time), bool(hit.observed)) == (3.0, True)
    miss = s.time_to_threshold(t, jnp.array([10.0, 8, 9, 10, 11]), factor=1.2)
    assert (float(miss.time), bool(miss.observed)) == (4.0, False)
    nadir = s.time_to_growth_over_nadir(t, jnp.array([10.0, 5, 5.5, 6.1, 7]))
    assert (float(nadir.time), bool(nadir.observed)) == (3.0, True)


def test_dose_endpoints():
    amounts = jnp.array([150.0, 0.0, 150.0, 80.0, 80.0])
    drug = jnp.array([0, 0, 0, 1, 1])
    np.testing.assert_array_equal(np.asarray(s.cumulative_dose(amounts, drug, 2)), [300.0, 160.0])
    times = jnp.array([0.0, 1.0, 2.0, 2.5, 9.0])
    assert int(s.days_on_drug(times, amounts, days=5)) == 2  # days 0 and 2; day 9 is past the horizon
    levels = jnp.array([1.0, 0.0, 1.0, 0.0, 1.0])
    decisions = jnp.array([0.0, 1.0, 2.0, 3.0, 4.0])
    assert int(s.cycles_before(levels, 4.0, decisions)) == 1
    assert int(s.cycles_before(levels, 5.0, decisions)) == 2


# --- PCWG3 PSA progression (Scher et al. J Clin Oncol 2016;34:1402: >= 25% and >= 2 ng/mL above the
# nadir, confirmed by a value >= 3 weeks later; rises before 12 weeks ignored) --------------------
CHECKS = np.arange(0.0, 29.0 * 10, 28.0)[:10]  # every 4 weeks: days 0 .. 252


def _psa(values, on=None):
    on = np.ones(len(values), bool) if on is None else np.asarray(on, bool)
    return s.psa_progression(CHECKS[: len(values)], np.asarray(values, float), on)


def test_psa_progression_needs_a_confirmed_rise_of_25_percent_and_2_ng_per_ml_over_the_nadir():
    event = _psa([20, 10, 5, 4, 6.5, 7.0, 7.5])  # nadir 4; 6.5 is +62% and +2.5: confirmed by 7.0
    assert bool(event.observed) and float(event.time) == CHECKS[4]
    unconfirmed = _psa([20, 10, 5, 4, 6.5, 5.5, 4.5])  # the rise is not confirmed at the next check
    assert not bool(unconfirmed.observed) and float(unconfirmed.time) == CHECKS[6]  # censored at the last check
    small = _psa([20, 10, 2.0, 1.5, 3.0, 3.2, 3.4])  # +100% but < 2 ng/mL over the nadir: not progression
    assert not bool(small.observed)
    shallow = _psa([20, 14, 12, 10, 12.2, 12.3, 12.4])  # >= 2 ng/mL but < 25% over the nadir 10
    assert not bool(shallow.observed)


def test_psa_rises_before_12_weeks_or_on_a_holiday_are_not_progression():
    early = _psa([20, 25, 30, 12, 10, 9])  # days 28 and 56 rise (a flare), before 12 weeks
    assert not bool(early.observed)
    # an adaptive holiday: off drug at checks 4-6, PSA back up; on again from check 7 with a new nadir
    values = [20, 12, 8, 6, 9, 13, 20, 14, 10, 9]
    on = [False, True, True, True, False, False, False, True, True, True]
    assert not bool(_psa(values, on).observed)
    # ... and a confirmed rise after treatment resumed, over the new course's nadir, is progression
    relapse = [20, 12, 8, 6, 9, 13, 20, 14, 19, 24]
    event = _psa(relapse, on)
    assert bool(event.observed) and float(event.time) == CHECKS[8]
