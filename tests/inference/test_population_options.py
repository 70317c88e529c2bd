"""Options of the population model and its fit helpers: centring chosen per parameter, the
log-CDF skipped where no row is censored (same log density), and InferenceData without the
pointwise log-likelihood."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from numpyro.handlers import seed, trace
from numpyro.infer.util import log_density

from inference import (
    Cohort,
    Combined,
    Observations,
    Parameter,
    ParameterSpec,
    Proportional,
    nuts,
    population_description,
    population_model,
    to_inference_data,
)

SPEC = ParameterSpec(
    [
        Parameter("v0", "mm", dist.LogNormal(np.log(30.0), 0.5), level="individual"),
        Parameter("g", "1/day", dist.Normal(0.0, 0.02), constraint="real", level="individual"),
        Parameter("sd_add", "mm", dist.HalfNormal(2.0)),
        Parameter("cv", "1", dist.HalfNormal(0.2)),
    ]
)
ERRORS = {"diameter": Combined("sd_add", "cv")}


def predict(p, t):
    return {"diameter": p["v0"] * jnp.exp(p["g"] * t)}


def cohort(censored: bool) -> Cohort:
    rows = [[(0.0, "diameter", 30.0), (42.0, "diameter", 25.0), (84.0, "diameter", 21.0)],
            [(0.0, "diameter", 12.0), (42.0, "diameter", 14.0), (84.0, "diameter", 17.0)]]  # fmt: skip
    if censored:
        rows[0][2] = (84.0, "diameter", "TOO SMALL TO MEASURE")
    obs = [
        Observations.from_rows(f"P{i}", r, units={"diameter": "mm"}, detection_limit={"diameter": 5.0})
        for i, r in enumerate(rows)
    ]
    return Cohort.from_observations(obs)


def test_centring_can_be_chosen_per_parameter():
    sites = trace(seed(population_model(predict, SPEC, cohort(False), ERRORS, centred=("v0",)), 0)).get_trace()
    assert "z_v0" in sites and "eta_v0" not in sites
    assert "eta_g" in sites and "z_g" not in sites
    for centred, expected in ((True, {"z_v0", "z_g"}), (False, {"eta_v0", "eta_g"}), ((), {"eta_v0", "eta_g"})):
        sites = trace(seed(population_model(predict, SPEC, cohort(False), ERRORS, centred=centred), 0)).get_trace()
        assert expected <= set(sites)
    with pytest.raises(ValueError, match=r"centred: \['sd_add'\] are not individual parameters"):
        population_model(predict, SPEC, cohort(False), ERRORS, centred=["v0", "sd_add"])
    with pytest.raises(TypeError, match="not the string 'v0'"):
        population_model(predict, SPEC, cohort(False), ERRORS, centred="v0")


def test_log_density_is_the_same_with_the_censored_branch_skipped():
    params = {"v0": 20.0, "g": 0.01, "s": 0.2, "a": 1.5, "b": 0.1}
    pred, value = jnp.array([10.0, 10.0]), jnp.array([12.0, 5.0])
    for err in (Proportional("s"), Combined("a", "b")):
        none = err.log_likelihood(params, pred, value, None)
        np.testing.assert_array_equal(none, err.log_likelihood(params, pred, value, jnp.zeros(2, bool)))
    # the population model passes None where no row is censored, the flags otherwise
    point = {"v0": 25.0, "g": 0.0, "sd_add": 1.0, "cv": 0.1, "omega_v0": 0.4, "omega_g": 0.01,
             "eta_v0": jnp.array([0.5, -1.0]), "eta_g": jnp.array([-1.0, 2.0])}  # fmt: skip
    for censored in (False, True):
        model = population_model(predict, SPEC, cohort(censored), ERRORS)
        got = log_density(model, (), {}, point)[0]
        p = {k: point[k] for k in ("sd_add", "cv")}
        v0, g = 25.0 * np.exp(0.4 * point["eta_v0"]), 0.01 * point["eta_g"]
        c = cohort(censored)
        index, value, cens, _ = c.groups["diameter"]
        pred = v0[:, None] * np.exp(g[:, None] * c.times[np.arange(2)[:, None], index])
        ll = ERRORS["diameter"].log_likelihood(p, jnp.asarray(pred), jnp.asarray(value), jnp.asarray(cens))
        prior = sum(
            float(d.log_prob(x).sum())
            for d, x in (
                (SPEC["v0"].prior, 25.0), (SPEC["g"].prior, 0.0), (SPEC["sd_add"].prior, 1.0), (SPEC["cv"].prior, 0.1),
                (dist.HalfNormal(0.5), 0.4), (dist.HalfNormal(0.5), 0.01),
                (dist.Normal(0, 1), point["eta_v0"]), (dist.Normal(0, 1), point["eta_g"]),
            )
        )  # fmt: skip
        assert float(got) == pytest.approx(prior + float(ll.sum()), rel=1e-12)


def test_inference_data_without_the_pointwise_log_likelihood():
    model = population_model(predict, SPEC, cohort(False), ERRORS)
    mcmc = nuts(model, jax.random.key(0), chains=1, warmup=20, samples=10)
    assert "log_likelihood" in to_inference_data(mcmc).groups()
    idata = to_inference_data(mcmc, SPEC.units, log_likelihood=False)
    assert "log_likelihood" not in idata.groups()
    assert idata.posterior["v0"].attrs["units"] == "mm" and idata.posterior["eta_g"].shape == (1, 10, 2)


def test_population_description_carries_constraints_fixed_values_and_the_cohorts_covariates():
    """What a virtual population needs from a fitted population model (``scenarios.VirtualPopulation``)."""
    spec = ParameterSpec(
        [
            Parameter("baseline", "mm", dist.LogNormal(3.0, 0.5), level="individual"),
            Parameter("cv", "1", value=0.1),
        ]
    )
    obs = [Observations.from_rows(f"p{i}", [(0.0, "diameter", 40.0)], units={"diameter": "mm"}) for i in range(2)]
    cohort = Cohort.from_observations(obs, covariates={"ecog": [0.0, 2.0]})
    out = population_description(spec, cohort)
    assert out["constraints"] == {"baseline": "positive"} and out["fixed"] == {"cv": 0.1}
    assert out["centres"] == {"ecog": 1.0}
    np.testing.assert_array_equal(out["covariate_pool"]["ecog"], [0.0, 2.0])
    assert set(population_description(spec)) == {"constraints", "fixed"}
