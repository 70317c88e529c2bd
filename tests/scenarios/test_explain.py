"""Explanations: sensitivities by autodiff have the mechanistic signs; ranking drivers find the
parameter that decides the comparison."""

import numpy as np
import xarray as xr

import scenarios as s
from mechanistic.catalogue import EGFRTwoClone
from scenarios.explain import sensitivities
from scenarios.ranking import ranking_drivers

FAMILY = EGFRTwoClone(free=("growth_rate", "max_kill", "ec50_resistant"))


def test_sensitivity_signs_follow_the_mechanism():
    params = {"growth_rate": 0.01, "max_kill": 0.06, "ec50_resistant": 8.0}
    el = sensitivities(FAMILY, params, s.continuous("erlotinib", 150, 364), 364)
    assert el["growth_rate"] < 0  # faster regrowth: earlier progression
    assert el["max_kill"] > 0  # stronger kill: later progression
    assert el["ec50_resistant"] < 0  # a more resistant T790M clone: earlier progression
    adaptive = sensitivities(
        FAMILY, params, s.adaptive_threshold(s.continuous("erlotinib", 150, 364), decision_every=28), 364
    )
    assert set(adaptive) == set(params) and all(np.isfinite(v) for v in adaptive.values())


def test_ranking_drivers_find_the_deciding_parameter():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    ttp = np.stack([300 + 50 * a, 300 - 50 * a + 5 * b])  # regimen A wins exactly when a > 0
    ds = xr.Dataset(
        {"time_to_progression": (("regimen", "draw"), ttp)},
        coords={"regimen": ["A", "B"], "draw": np.arange(200), "a": ("draw", a), "b": ("draw", b)},
    )
    drivers = ranking_drivers(ds, "A", "B")
    assert list(drivers)[0] == "a" and drivers["a"] > 0.9 and abs(drivers["b"]) < 0.3
