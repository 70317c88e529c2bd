"""Survival and response statistics (scenarios.survival), validated on the OAK trial
(shared/refdata/oak_gandara2018: 850 patients, the primary ITT population).

Published numbers (Rittmeyer et al., Lancet 389:255-265, 2017, OAK primary analysis): median OS
13.8 months atezolizumab vs 9.6 docetaxel, HR 0.73 (95% CI 0.62-0.87), p = 0.0003; ORR 14% vs
13%. Median PFS 2.8 vs 4.0 months. The refdata README gives the medians computed from this file
(OS 13.77 / 9.63, PFS 2.79 / 4.04) and the ORR follows from its BCOR column (58/425 = 13.6%,
57/425 = 13.4%, missing counted as NE).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scenarios.endpoints import CR, NE, PD, PR, SD
from scenarios.survival import hazard_ratio, kaplan_meier, km_bands, km_median, logrank, response_rate
from twin.studies.oak2018 import DAYS_PER_MONTH, load_oak_clinical


@pytest.fixture(scope="module")
def oak(refdata):
    return load_oak_clinical(refdata)


def arms(oak):
    return oak[oak.arm == "atezolizumab"], oak[oak.arm == "docetaxel"]


def test_oak_loader(oak, refdata):
    atezo, doce = arms(oak)
    assert len(atezo) == len(doce) == 425
    assert (atezo.os_event.sum(), doce.os_event.sum()) == (271, 298)  # README
    assert oak.baseline_sld_mm.notna().sum() == 849 and oak.baseline_sld_mm.median() == 66
    assert set(oak.best_response) == {"CR", "PR", "SD", "PD", "NE"}
    assert set(oak.os_event) | set(oak.pfs_event) == {0, 1}
    assert DAYS_PER_MONTH == pytest.approx(30.4375)
    assert load_oak_clinical(refdata / "oak_gandara2018").equals(oak)  # the folder itself also works


def test_oak_loader_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="oak_clinical.csv"):
        load_oak_clinical(tmp_path)


def test_oak_median_os_and_pfs(oak):
    """Median OS 13.8 vs 9.6 months (Rittmeyer 2017), PFS 2.8 vs 4.0 (2.79 / 4.04 from this file);
    tolerance 0.1 month (the published values are rounded to 0.1)."""
    atezo, doce = arms(oak)
    os_a, os_d = kaplan_meier(atezo.os_months, atezo.os_event), kaplan_meier(doce.os_months, doce.os_event)
    assert os_a.median == pytest.approx(13.8, abs=0.1) and os_d.median == pytest.approx(9.6, abs=0.1)
    assert os_a.median_lower < os_a.median < os_a.median_upper
    assert os_d.median_lower < os_d.median < os_d.median_upper
    assert (os_a.n, os_a.n_events, os_d.n_events) == (425, 271, 298)
    pfs_a = kaplan_meier(atezo.pfs_months, atezo.pfs_event)
    pfs_d = kaplan_meier(doce.pfs_months, doce.pfs_event)
    assert pfs_a.median == pytest.approx(2.8, abs=0.1) and pfs_d.median == pytest.approx(4.0, abs=0.1)


def test_oak_os_hazard_ratio_and_logrank(oak):
    """Published HR 0.73 (95% CI 0.62-0.87) from a stratified Cox model; ours is unstratified, so
    the tolerance on the HR is the published CI (measured: 0.729, CI 0.618-0.859) and 0.02 on the
    CI's ends. Published log-rank p = 0.0003 (stratified): here p < 0.001 (measured 0.00016)."""
    group = (oak.arm == "atezolizumab").astype(int)
    hr = hazard_ratio(oak.os_months, oak.os_event, group)
    assert 0.62 <= hr.hazard_ratio <= 0.87
    assert hr.lower == pytest.approx(0.62, abs=0.02) and hr.upper == pytest.approx(0.87, abs=0.02)
    assert hr.lower < hr.hazard_ratio < hr.upper < 1 and hr.p_value < 0.001
    atezo, doce = arms(oak)
    test = logrank(atezo.os_months, atezo.os_event, doce.os_months, doce.os_event)
    assert test.p_value < 0.001 and test.statistic > 10.83  # chi-square(1) at p = 0.001


def test_oak_response_rate(oak):
    """ORR 13.6% atezolizumab, 13.4% docetaxel (ITT: missing/NE in the denominator), within 0.5
    percentage point; the exact CI contains it."""
    atezo, doce = arms(oak)
    for frame, expected in ((atezo, 0.136), (doce, 0.134)):
        orr = response_rate(frame.best_response.to_numpy())
        assert orr.rate == pytest.approx(expected, abs=0.005) and orr.n == 425
        assert orr.lower < expected < orr.upper
    codes = {"CR": CR, "PR": PR, "SD": SD, "PD": PD, "NE": NE}
    assert response_rate(atezo.best_response.map(codes).to_numpy()) == response_rate(atezo.best_response.to_numpy())


def test_kaplan_meier_by_hand():
    km = kaplan_meier([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 1], timeline=[0.0, 1.0, 2.5, 3.0, 5.0])
    np.testing.assert_allclose(km.survival, [1.0, 0.75, 0.75, 0.375, 0.0])
    np.testing.assert_array_equal(km.at_risk, [4, 4, 2, 2, 0])
    assert km.median == 3.0 and (km.n, km.n_events) == (4, 3)
    assert np.all(km.survival_lower <= km.survival) and np.all(km.survival <= km.survival_upper)
    assert math.isinf(kaplan_meier([1.0, 2.0], [0, 0]).median)


def test_km_median_step_as_kaplan_meier_and_interpolated():
    days = np.array([10.0, 20.0, 30.0, 40.0])
    assert km_median(days, np.ones(4, bool)) == 20.0  # S: 1, .75, .5 at 20
    assert km_median(days, np.ones(4, bool), interpolate=True) == pytest.approx(20.0)
    # S: .75, .75, .375 at 10, 20, 30: the step median is 30; linearly, 0.5 is crossed a third of the
    # way from 20 to 30 (used by twin.studies.flaura2018, so a fit does not see scan-timed steps)
    censored = np.array([1, 0, 1, 0], bool)
    assert km_median(days, censored) == 30.0 == kaplan_meier(days, censored).median
    assert km_median(days, censored, interpolate=True) == pytest.approx(20.0 + 10.0 * 0.25 / 0.375)
    assert math.isinf(km_median(days, np.zeros(4, bool))) and math.isinf(km_median(days, np.zeros(4), interpolate=True))
    rng = np.random.default_rng(0)  # ties and censoring: the step median is lifelines'
    t, e = rng.integers(1, 30, 200).astype(float), rng.random(200) < 0.7
    assert km_median(t, e) == kaplan_meier(t, e).median
    with pytest.raises(ValueError, match=r"time\[1\] = -1.0; times must be finite and >= 0"):
        km_median([1.0, -1.0], [1, 1])


def exponential_arms(rng, rate, n_draws, n_patients, follow_up):
    """Exponential event times, administrative censoring uniform on (0, follow_up)."""
    event_time = rng.exponential(1.0 / rate, (n_draws, n_patients))
    censor = rng.uniform(0.0, follow_up, (n_draws, n_patients))
    return np.minimum(event_time, censor), (event_time <= censor).astype(int)


def test_km_bands_contain_the_truth():
    rng = np.random.default_rng(0)
    rate, timeline = 0.1, np.linspace(0.0, 20.0, 21)  # median log(2) / 0.1 = 6.93
    times, events = exponential_arms(rng, rate, 200, 300, 40.0)
    times[-1], events[-1] = np.linspace(1.0, 30.0, 300), 0  # a draw without events: S = 1 throughout
    bands = km_bands(times, events, timeline, level=0.9, time_unit="month")
    assert bands.survival.dims == ("draw", "time") and bands.survival.shape == (200, 21)
    assert bands.survival_lower.dims == bands.survival_upper.dims == ("time",)
    assert bands.median_survival.dims == ("draw",) and bands.time.attrs["units"] == "month"
    assert not np.isnan(bands.median_survival).any()
    assert math.isinf(bands.median_survival[-1]) and np.isfinite(bands.median_survival[:-1]).all()
    truth = np.exp(-rate * timeline)
    assert np.all(bands.survival_lower <= truth) and np.all(truth <= bands.survival_upper)
    lo, hi = np.quantile(bands.median_survival[:-1], [0.05, 0.95])
    assert lo < math.log(2) / rate < hi
    one = kaplan_meier(times[3], events[3], timeline=timeline)  # a draw is the one-arm estimate
    np.testing.assert_allclose(bands.survival[3], one.survival)
    assert bands.median_survival[3] == one.median


BAD_INPUTS = [
    (kaplan_meier, ([1.0, -2.0, 3.0], [1, 1, 1]), r"time\[1\] = -2.0; times must be finite and >= 0"),
    (kaplan_meier, ([1.0, 2.0, np.nan], [1, 1, 1]), r"time\[2\] = nan"),
    (kaplan_meier, ([np.inf, 2.0], [1, 1]), r"time\[0\] = inf"),
    (kaplan_meier, ([1.0, 2.0, 3.0], [1, 2, 0]), r"event\[1\] = 2; valid values are 0 and 1"),
    (kaplan_meier, ([1.0, 2.0, 3.0], [1, 0]), r"time has shape \(3,\) but event has shape \(2,\)"),
    (kaplan_meier, ([], []), r"time is empty"),
    (logrank, ([1.0, 2.0], [1, 0], [3.0, -1.0], [1, 1]), r"time_b\[1\] = -1.0"),
    (logrank, ([1.0, 2.0], [1, 0.5], [3.0, 1.0], [1, 1]), r"event_a\[1\] = 0.5"),
    (hazard_ratio, ([1.0, 2.0, 3.0], [1, 1, 1], [0, 0, 0]), r"group 1 has no patients"),
    (hazard_ratio, ([1.0, 2.0, 3.0], [1, 1, 1], [0, 1, 3]), r"group\[2\] = 3"),
    (hazard_ratio, ([1.0, 2.0, 3.0], [1, 1, 1], [0, 1]), r"time has 3 entries but group has 2"),
    (response_rate, ([CR, PR, 7],), r"best_response_codes\[2\] = 7; valid are the response codes 0-4"),
    (response_rate, (["PR", "XX"],), r"best_response_codes\[1\] = 'XX'"),
    (response_rate, ([],), r"best_response_codes is empty"),
    (km_bands, ([[1.0, 2.0, 3.0], [1.0, 2.0, -3.0]], [[1, 1, 1], [1, 1, 1]], [0.0, 1.0]), r"times\[1, 2\] = -3.0"),
    (km_bands, ([[1.0, 2.0], [1.0, 2.0]], [[1, 1], [1, -1]], [0.0, 1.0]), r"events\[1, 1\] = -1"),
    (km_bands, ([[1.0, 2.0]], [[1, 1]], [0.0, np.nan]), r"timeline\[1\] = nan"),
    (km_bands, ([1.0, 2.0], [1, 1], [0.0, 1.0]), r"times must have shape \(n_draws, n_patients\)"),
]


@pytest.mark.parametrize(("function", "args", "message"), BAD_INPUTS, ids=lambda x: getattr(x, "__name__", None))
def test_bad_inputs_name_the_offending_value(function, args, message):
    with pytest.raises(ValueError, match=message):
        function(*args)
