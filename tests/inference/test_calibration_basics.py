"""Parameter specifications, observations, error models, the generated patient model, and
MAP / Laplace / NUTS on a synthetic patient with known parameters (Stein bi-exponential diameter)."""

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from scipy import stats

from inference import (
    CalibrationWarning,
    Combined,
    Observations,
    Parameter,
    ParameterSpec,
    Proportional,
    diagnose,
    laplace,
    map_estimate,
    nuts,
    patient_model,
    to_inference_data,
    update,
)

TRUTH = {"d0": 60.0, "g": 0.004, "d": 0.015, "sigma": 0.08}
SPEC = ParameterSpec(
    [
        Parameter("d0", "mm", dist.LogNormal(np.log(50.0), 0.5)),
        Parameter("g", "1/day", dist.LogNormal(np.log(0.003), 1.0)),
        Parameter("d", "1/day", dist.LogNormal(np.log(0.01), 1.0)),
        Parameter("sigma", "1", dist.HalfNormal(0.2)),
    ]
)


def predict(p, t):
    return {"diameter": p["d0"] * (jnp.exp(-p["d"] * t) + jnp.exp(p["g"] * t) - 1.0)}


@pytest.fixture(scope="module")
def patient():
    t = np.arange(0.0, 400.0, 42.0)
    noise = np.exp(TRUTH["sigma"] * np.random.default_rng(1).normal(size=t.size))
    y = np.asarray(predict(TRUTH, t)["diameter"]) * noise
    rows = [(ti, "diameter", yi) for ti, yi in zip(t, y, strict=True)] + [(450.0, "diameter", "NOT EVALUABLE")]
    obs = Observations.from_rows("P1", rows, units={"diameter": "mm"})
    return obs, patient_model(predict, SPEC, obs, {"diameter": Proportional("sigma")})


@pytest.fixture(scope="module")
def fit(patient):
    return map_estimate(patient[1], jax.random.key(0))


def test_map_recovers_the_truth(patient, fit):
    obs, _ = patient
    assert obs.n_missing == 1 and len(obs) == 10
    assert fit.converged
    for name in ("d0", "g", "d"):
        assert fit.params[name] == pytest.approx(TRUTH[name], rel=0.1), name


@pytest.fixture(scope="module")
def posterior(patient, fit):
    return nuts(patient[1], jax.random.key(2), chains=4, warmup=500, samples=500, init=fit)


def test_laplace_and_nuts_agree_and_cover_the_truth(patient, fit, posterior):
    _, model = patient
    lap = laplace(model, fit, jax.random.key(1), num_samples=2000)
    idata = to_inference_data(posterior, SPEC.units)
    diag = diagnose(idata, min_ess=100, warn=False)
    assert diag.ok, diag.problems
    assert idata.posterior["g"].attrs["units"] == "1/day" and idata.posterior["g"].dims == ("chain", "draw")
    for name in ("d0", "g", "d"):
        post = np.asarray(idata.posterior[name]).ravel()
        lo, hi = np.quantile(post, [0.005, 0.995])
        assert lo < TRUTH[name] < hi, name
        assert np.median(lap[name]) == pytest.approx(np.median(post), rel=0.05), name


def test_sequential_update_matches_a_full_refit(patient, posterior):
    """A new scan arrives: warm-starting from the posterior of the earlier scans (150 warm-up steps,
    mass matrix kept) gives the same posterior as the full refit (500 warm-up steps)."""
    obs, model = patient
    errors = {"diameter": Proportional("sigma")}
    earlier = nuts(patient_model(predict, SPEC, obs.first(9), errors), jax.random.key(4), warmup=500, samples=500)
    updated = update(model, earlier, jax.random.key(5), warmup=150)
    new, full = to_inference_data(updated), to_inference_data(posterior)
    assert diagnose(new, min_ess=200, warn=False).ok
    for q in (0.05, 0.5, 0.95):  # equal within 4 combined Monte Carlo standard errors of the quantile
        se = np.hypot(*(az.mcse(i, method="quantile", prob=q).to_array() for i in (new, full)))
        diff = new.posterior.quantile(q, dim=("chain", "draw")) - full.posterior.quantile(q, dim=("chain", "draw"))
        for name in ("d0", "g", "d", "sigma"):
            assert abs(float(diff[name])) < 4 * float(se.sel(variable=name)), (name, q)


def test_diagnostics_name_the_failure(patient):
    _, model = patient
    mcmc = nuts(model, jax.random.key(3), chains=2, warmup=5, samples=20)  # far too short
    with pytest.warns(CalibrationWarning, match=r"R-hat > 1.01 \(chains disagree\).* worst|bulk ESS < 400"):
        diag = diagnose(to_inference_data(mcmc))
    assert not diag.ok


def test_censored_and_combined_likelihoods_match_scipy():
    params = {"s": 0.2, "a": 1.5, "b": 0.1}
    pred, value = jnp.array([10.0, 10.0]), jnp.array([12.0, 5.0])
    censored = jnp.array([False, True])
    ll = Proportional("s").log_likelihood(params, pred, value, censored)
    assert ll[0] == pytest.approx(stats.lognorm(0.2, scale=10.0).logpdf(12.0), rel=1e-10)
    assert ll[1] == pytest.approx(stats.lognorm(0.2, scale=10.0).logcdf(5.0), rel=1e-10)
    ll = Combined("a", "b").log_likelihood(params, pred, value, censored)
    sd = np.sqrt(1.5**2 + 1.0**2)
    assert ll[0] == pytest.approx(stats.norm(10.0, sd).logpdf(12.0), rel=1e-10)
    assert ll[1] == pytest.approx(stats.norm(10.0, sd).logcdf(5.0), rel=1e-10)


def test_priors_with_invalid_support_are_rejected():
    with pytest.raises(
        ValueError, match=r"'g' \(1/day\) must be positive .* its prior Normal has support \(-inf, inf\)"
    ):
        Parameter("g", "1/day", dist.Normal(0.01, 0.1))
    with pytest.raises(ValueError, match=r"'f' \(1\) must be unit_interval .* Uniform has support \(0.0, 2.0\)"):
        Parameter("f", "1", dist.Uniform(0.0, 2.0), constraint="unit_interval")
    with pytest.raises(ValueError, match="give exactly one of prior"):
        Parameter("g", "1/day")
    with pytest.raises(ValueError, match=r"fixed value -1.0 must be finite and positive"):
        Parameter("g", "1/day", value=-1.0)
    with pytest.raises(ValueError, match=r"repeated: \['g'\]"):
        ParameterSpec([Parameter("g", "1/day", value=1.0), Parameter("g", "1/day", value=2.0)])
    assert SPEC.replace(sigma=Parameter("sigma", "1", value=0.1)).free == ("d0", "g", "d")


def test_bad_observations_name_the_patient_and_row():
    units = {"diameter": "mm"}
    with pytest.raises(ValueError, match=r"patient 'P9', row 2: value 'abc' is not a number"):
        Observations.from_rows("P9", [(0, "diameter", 30.0), (42, "diameter", "abc")], units=units)
    with pytest.raises(ValueError, match=r"patient 'P9', row 1: observable 'volume' has no unit"):
        Observations.from_rows("P9", [(0, "volume", 30.0)], units=units)
    with pytest.raises(ValueError, match=r"patient 'P9': diameter times must increase; time 0.0 follows 42.0"):
        Observations.from_rows("P9", [(42, "diameter", 30.0), (0, "diameter", 31.0)], units=units)
    with pytest.raises(ValueError, match=r"row 1: value 'nan' must be finite"):
        Observations.from_rows("P9", [(0, "diameter", "nan")], units=units)
    with pytest.raises(ValueError, match=r"every observation is below detection"):
        Observations.from_rows(
            "P9", [(0, "diameter", "TOO SMALL TO MEASURE")], units=units, detection_limit={"diameter": 5.0}
        )
    obs = Observations.from_rows(
        "P9",
        [(0, "diameter", 30.0), (42, "diameter", "TOO SMALL TO MEASURE")],
        units=units,
        detection_limit={"diameter": 5.0},
    )
    assert list(obs.censored) == [False, True] and obs.value[1] == 5.0
    with pytest.raises(ValueError, match=r"observations of \['diameter'\] have no error model"):
        patient_model(predict, SPEC, obs, {"volume": Proportional("sigma")})
    with pytest.raises(ValueError, match=r"uses parameter\(s\) \['cv'\] not in the specification"):
        patient_model(predict, SPEC, obs, {"diameter": Proportional("cv")})


def test_padded_patient_data_give_the_same_fit_and_one_program_for_patients_of_a_bucket(patient, fit):
    """``patient_model_and_data``: the data are arguments padded to bucketed sizes; the fit is the
    built-in model's, padding changes no log density, and a patient with a different number of
    scans in the same bucket lowers to the same program (a new patient reuses the compiled fit)."""
    from numpyro.infer.util import log_density

    from inference import patient_model_and_data
    from inference.fit import _lbfgs_restarts

    obs, _ = patient
    errors = {"diameter": Proportional("sigma")}
    model, data = patient_model_and_data(lambda p, t, _: predict(p, t), SPEC, obs, errors)
    padded = map_estimate(model, jax.random.key(0), model_args=(data,))
    for name in TRUTH:
        np.testing.assert_allclose(padded.params[name], fit.params[name], rtol=1e-6)
    np.testing.assert_allclose(padded.log_density, fit.log_density, rtol=1e-9)

    _, other = patient_model_and_data(lambda p, t, _: predict(p, t), SPEC, obs.first(9), errors)
    assert other.times.shape == data.times.shape == (10,)  # 9 scans padded to the bucket of 10
    assert float(other.groups["diameter"][3].sum()) == 9.0  # weights: 9 measurements, 1 padding row
    built_in = patient_model(predict, SPEC, obs.first(9), errors)
    np.testing.assert_allclose(log_density(model, (other,), {}, TRUTH)[0], log_density(built_in, (), {}, TRUTH)[0],
                               rtol=1e-12)  # fmt: skip
    lowered = [_lbfgs_restarts.lower(model, jax.random.key(0), (d,), 1, 5, 1e-4).as_text(debug_info=False)
               for d in (data, other)]  # fmt: skip
    assert lowered[0] == lowered[1]
