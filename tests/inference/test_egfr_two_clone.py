"""The flagship model's calibration defaults: the spec's priors, the fast predict against a tight
adaptive solve, and recovery of a synthetic patient's parameters by MAP."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from inference import Combined, Observations, map_estimate, patient_model
from inference.egfr_two_clone import egfr_two_clone_predict, egfr_two_clone_spec

DOSES = m.daily(0, 364, "erlotinib", 150.0)
SCANS = np.arange(0.0, 365.0, 42.0)  # every 6 weeks for a year
TRUE = {"volume0": 2.0e4, "resistant_fraction0": 2e-3, "growth_rate": 0.012, "max_kill": 0.05}


@pytest.fixture(scope="module")
def spec():
    return egfr_two_clone_spec()


def params(spec, **free):
    fixed = {p.name: jnp.asarray(p.value) for p in spec.parameters if not p.free}
    return {**fixed, **{k: jnp.asarray(v) for k, v in free.items()}}


def test_spec_frees_what_scans_inform_and_fixes_the_rest(spec):
    assert set(spec.free) == {"volume0", "resistant_fraction0", "growth_rate", "max_kill", "sd_add", "cv"}
    assert spec.units["max_kill"] == "1/day" and spec.units["volume0"] == "mm^3"


def test_lawson_predict_matches_a_tight_adaptive_solve(spec):
    p = params(spec, **TRUE)
    fast = jax.jit(egfr_two_clone_predict(DOSES))(p, SCANS)
    tight = egfr_two_clone_predict(DOSES, options=m.SolverOptions(rtol=1e-10, atol=1e-8))(p, SCANS)
    for k in ("diameter", "resistant_fraction"):
        np.testing.assert_allclose(np.asarray(fast[k]), np.asarray(tight[k]), rtol=2e-5)
    assert float(fast["diameter"][0]) == pytest.approx(float(m.longest_diameter(2.0e4)))
    assert float(fast["resistant_fraction"][-1]) > 0.5  # T790M grows out within a year on erlotinib


def test_map_recovers_a_synthetic_patient(spec):
    p = params(spec, **TRUE)
    predict = egfr_two_clone_predict(DOSES)
    clean = np.asarray(predict(p, SCANS)["diameter"])
    noisy = clean * (1 + 0.03 * np.random.default_rng(1).standard_normal(clean.shape))
    rows = [(t, "diameter", d) for t, d in zip(SCANS, noisy, strict=True)]
    obs = Observations.from_rows("synthetic", rows, units={"diameter": "mm"})
    model = patient_model(predict, spec, obs, {"diameter": Combined("sd_add", "cv")})
    fit = map_estimate(model, jax.random.key(3), steps=300, restarts=2)
    est = {k: float(v) for k, v in fit.params.items()}
    assert est["volume0"] == pytest.approx(TRUE["volume0"], rel=0.1)
    assert est["max_kill"] == pytest.approx(TRUE["max_kill"], rel=0.3)
    assert est["growth_rate"] == pytest.approx(TRUE["growth_rate"], rel=0.3)
