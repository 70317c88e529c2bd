"""Hierarchical population model on a synthetic cohort with known typical values, between-patient
SDs and a covariate effect: NUTS recovers them, SVI agrees, the posterior becomes a new patient's
prior (with the single-scan warning), and bad cohorts are rejected naming the patient."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest

from inference import (
    CalibrationWarning,
    Cohort,
    Observations,
    Parameter,
    ParameterSpec,
    Proportional,
    diagnose,
    nuts,
    patient_model,
    population_model,
    population_prior,
    svi,
    to_inference_data,
)

TYPICAL = {"v0": 40.0, "g": 0.01}  # mm^3, 1/day
OMEGA = {"v0": 0.3, "g": 0.3}
BETA = 0.4  # effect of the (standardised) covariate on log g
SIGMA = 0.1
SPEC = ParameterSpec(
    [
        Parameter("v0", "mm^3", dist.LogNormal(np.log(30.0), 0.5), level="individual"),
        Parameter("g", "1/day", dist.LogNormal(np.log(0.02), 1.0), level="individual"),
        Parameter("sigma", "1", dist.HalfNormal(0.3)),
    ]
)
ERRORS = {"volume": Proportional("sigma")}
UNITS = {"volume": "mm^3"}


def predict(p, t):
    return {"volume": p["v0"] * jnp.exp(p["g"] * t)}


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(7)
    observations, x = [], rng.normal(size=24)
    for i in range(24):
        v0 = TYPICAL["v0"] * np.exp(OMEGA["v0"] * rng.normal())
        g = TYPICAL["g"] * np.exp(BETA * x[i] + OMEGA["g"] * rng.normal())
        t = np.arange(0.0, 28.0 * rng.integers(3, 6), 28.0)  # 3 to 5 scans, 4-weekly
        y = v0 * np.exp(g * t) * np.exp(SIGMA * rng.normal(size=t.size))
        observations.append(
            Observations.from_rows(f"P{i}", [(a, "volume", b) for a, b in zip(t, y, strict=True)], units=UNITS)
        )
    return Cohort.from_observations(observations, covariates={"x": x})


@pytest.fixture(scope="module")
def model(cohort):
    return population_model(predict, SPEC, cohort, ERRORS, effects={"g": ["x"]})


@pytest.fixture(scope="module")
def posterior(model):
    mcmc = nuts(model, jax.random.key(0), chains=4, warmup=500, samples=500)
    return mcmc, to_inference_data(mcmc, SPEC.units)


def test_nuts_recovers_typical_values_spreads_and_covariate_effect(cohort, posterior):
    mcmc, idata = posterior
    diag = diagnose(idata, min_ess=200, warn=False)
    assert diag.ok, diag.problems
    assert cohort.times.shape == (24, 5) and abs(np.mean(cohort.covariates["x"])) < 1e-12
    s = mcmc.get_samples()
    g_at_centre = TYPICAL["g"] * np.exp(BETA * cohort.centres["x"])  # the model's typical g is at the mean covariate
    truths = {"v0": TYPICAL["v0"], "g": g_at_centre, "omega_v0": OMEGA["v0"], "omega_g": OMEGA["g"],
              "beta_g_x": BETA, "sigma": SIGMA}  # fmt: skip
    for site, truth in truths.items():
        lo, hi = np.quantile(s[site], [0.005, 0.995])
        assert lo < truth < hi, (site, lo, hi)
    assert np.quantile(s["beta_g_x"], 0.05) > 0  # the covariate effect is detected
    assert s["g_individual"].shape == (2000, 24)


def test_svi_agrees_with_nuts_on_the_population_parameters(model, posterior):
    draws = svi(model, jax.random.key(1), steps=4000, guide="full").sample(jax.random.key(2), 2000)
    s = posterior[0].get_samples()
    for site in ("v0", "g", "beta_g_x", "sigma"):
        # a variational fit is biased where the posterior is skewed or correlated: within 1 posterior sd
        assert abs(np.median(draws[site]) - np.median(s[site])) < np.std(s[site]), site


def test_population_posterior_is_a_new_patients_prior(cohort, posterior):
    s = {k: np.asarray(v) for k, v in posterior[0].get_samples().items()}
    prior = population_prior(s, SPEC, cohort, covariates={"x": 1.0})
    assert prior["g"].source.startswith("population posterior (2000 draws)")
    # log g_new ~ N(log g_typ + beta (1 - centre), sqrt(var + E omega^2)): compare with the draws directly
    expected = np.log(s["g"]) + s["beta_g_x"] * (1.0 - cohort.centres["x"])
    assert float(prior["g"].prior.loc) == pytest.approx(np.mean(expected), rel=1e-9)
    assert float(prior["g"].prior.scale) == pytest.approx(np.sqrt(np.var(expected) + np.mean(s["omega_g"] ** 2)))
    with pytest.raises(ValueError, match=r"covariate effect of 'x' on 'g': give the new patient's 'x'"):
        population_prior(s, SPEC, cohort)
    one_scan = Observations.from_rows("NEW", [(0.0, "volume", 35.0)], units=UNITS)
    with pytest.warns(CalibrationWarning, match=r"patient 'NEW' has a single scan .* close to the population prior"):
        patient_model(predict, prior, one_scan, ERRORS)
    with pytest.warns(CalibrationWarning, match=r"single scan .* give it a population prior"):
        patient_model(predict, SPEC, one_scan, ERRORS)


def test_bad_cohorts_name_the_patient():
    a = Observations.from_rows("A", [(0, "volume", 10.0), (28, "volume", 12.0)], units=UNITS)
    b = Observations.from_rows("B", [(0, "volume", 10.0)], units={"volume": "cm^3"})
    with pytest.raises(ValueError, match=r"patient 'B': volume is in 'cm\^3', earlier patients in 'mm\^3'"):
        Cohort.from_observations([a, b])
    with pytest.raises(ValueError, match=r"repeated: \['A'\]"):
        Cohort.from_observations([a, a])
    with pytest.raises(ValueError, match=r"covariate 'age' is not finite for patient 'A': nan"):
        Cohort.from_observations([a], covariates={"age": [np.nan]})
    with pytest.raises(ValueError, match=r"covariate 'age' has shape \(2,\); expected one value per patient \(1,\)"):
        Cohort.from_observations([a], covariates={"age": [60, 70]})
    cohort = Cohort.from_observations([a], covariates={"age": [60.0]})
    with pytest.raises(ValueError, match=r"only individual parameters \('v0', 'g'\) take them"):
        population_model(predict, SPEC, cohort, ERRORS, effects={"sigma": ["age"]})
    with pytest.raises(ValueError, match=r"covariate\(s\) \['weight'\] on 'g' are not in the cohort's \['age'\]"):
        population_model(predict, SPEC, cohort, ERRORS, effects={"g": ["weight"]})
    zero = Observations.from_rows("Z", [(0, "volume", 10.0), (28, "volume", 0.0)], units=UNITS)
    with pytest.raises(ValueError, match=r"patient 'Z': volume = 0 at day 28 is not positive"):
        population_model(predict, SPEC, Cohort.from_observations([zero]), ERRORS)
    with pytest.raises(ValueError, match=r"an individual parameter needs a prior"):
        Parameter("g", "1/day", value=0.01, level="individual")
