"""The fixed dose-aligned grid (RK4) against tight adaptive solves and closed forms."""

import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
import scenarios as s
from mechanistic.catalogue import egfr_two_clone

GRID = m.SolverOptions(grid=m.FixedGrid())
TIGHT = m.SolverOptions(rtol=1e-10, atol=1e-8)
Y0 = jnp.array([3e4, 3.0])


def test_flagship_two_years_daily_oral_matches_tight_adaptive():
    days = 728
    doses = m.daily(0, days - 1, "erlotinib", 150.0)
    ts = np.arange(days + 1.0)
    model = egfr_two_clone()
    grid = m.total_volume(m.solve(model, Y0, doses, ts, options=GRID).clones)
    tight = m.total_volume(m.solve(model, Y0, doses, ts, options=TIGHT).clones)
    assert np.max(np.abs(np.asarray(grid) / np.asarray(tight) - 1)) < 5e-4


def test_decision_loop_on_the_grid_makes_the_same_decisions():
    at = s.adaptive_threshold(s.continuous("erlotinib", 150, 364), 0.5, 1.0, decision_every=28)
    a = s.simulate_regimen(egfr_two_clone(), Y0, at, 364, options=TIGHT)
    g = s.simulate_regimen(egfr_two_clone(), Y0, at, 364, options=GRID)
    np.testing.assert_array_equal(np.asarray(a.levels), np.asarray(g.levels))
    ratio = np.asarray(m.total_volume(g.clones)) / np.asarray(m.total_volume(a.clones))
    assert np.max(np.abs(ratio - 1)) < 5e-4


def test_exposure_switching_on_and_off_is_stepped_exactly():
    """Piecewise-constant exposure (days 10-20): the grid steps to both switches and RK4 sees the
    left limit at the end of each step, so exponential kill matches its closed form."""
    tum = m.TumourModel(["a"], "exponential", growth_rate=0.03, kill=m.LinearEffect([[0.05]]))
    model = m.DiseaseModel({"D": m.DirectExposure()}, tum)
    ts = np.arange(0.0, 31.0)
    sol = m.solve(model, jnp.array([100.0]), m.dose(10.0, "D", 10.0, "infusion", duration=10.0), ts, options=GRID)
    on = np.clip(ts - 10, 0, 10)
    np.testing.assert_allclose(np.asarray(sol.clones[:, 0]), 100 * np.exp(0.03 * ts - 0.05 * on), rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(substeps=0), "substeps=0 must be an integer >= 1"),
        (dict(absorption_offsets=(1.0, -2.0)), "must all be > 0"),
        (dict(window=0), "window=0 must be >= 1"),
    ],
)
def test_bad_grid_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        m.FixedGrid(**kwargs)
