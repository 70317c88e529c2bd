"""The generic population algorithms on a toy model (one individual growth rate, exponential growth
with log-normal scan error, a few synthetic patients): the structured guide's per-patient blocks,
and the importance-sampling refinement against the exact marginal posterior maximum (the random
effect integrated out by quadrature on a grid)."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from numpyro import handlers
from scipy.optimize import minimize

from inference import (
    Cohort,
    Observations,
    Parameter,
    ParameterSpec,
    Proportional,
    population_guide,
    population_model,
    population_sites,
    refine_population,
    svi,
)

V0 = 10.0  # mm^3, known
TYPICAL_G, OMEGA_G, SIGMA = 0.02, 0.5, 0.15  # 1/day, log-scale SD between patients, log-scale residual SD
N_PATIENTS = 12
SPEC = ParameterSpec(
    [
        Parameter("v0", "mm^3", value=V0),
        Parameter("g", "1/day", dist.LogNormal(np.log(0.01), 1.0), level="individual", omega=dist.HalfNormal(1.0)),
        Parameter("sigma", "1", dist.HalfNormal(0.3)),
    ]
)
ERRORS = {"volume": Proportional("sigma")}


def predict(p, t):
    return {"volume": p["v0"] * jnp.exp(p["g"] * t)}


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(3)
    series = []
    for i in range(N_PATIENTS):
        g = TYPICAL_G * np.exp(OMEGA_G * rng.normal())
        t = np.arange(0.0, 14.0 * rng.integers(2, 5), 14.0)  # 2 to 4 scans, fortnightly
        y = V0 * np.exp(g * t) * np.exp(SIGMA * rng.normal(size=t.size))
        series.append(
            Observations.from_rows(f"P{i}", zip(t, ["volume"] * t.size, y, strict=True), units={"volume": "mm^3"})
        )
    return Cohort.from_observations(series)


def exact_map(cohort):
    """The log-scale maximum of the marginal posterior of (g, sigma, omega_g), each patient's
    log g integrated out on a grid (trapezoid), the Hessian there, and each patient's posterior
    mean and SD of log g given that maximum."""
    grid = jnp.linspace(np.log(TYPICAL_G) - 6.0, np.log(TYPICAL_G) + 6.0, 1201)
    index, value, censored, mask = (jnp.asarray(a) for a in cohort.groups["volume"])
    times = jnp.take_along_axis(jnp.asarray(cohort.times), index, axis=1)
    priors = [d for _, d in population_sites(SPEC)]

    def log_joint(u):
        """(n, grid): log p(y_i | x) + log N(x; log g, omega) on the grid of x = log g_i."""
        g, sigma, omega = jnp.exp(u)
        pred = V0 * jnp.exp(jnp.exp(grid)[None, :, None] * times[:, None, :])  # (n, grid, R)
        ll = ERRORS["volume"].log_likelihood({"sigma": sigma}, pred, value[:, None], None)
        return jnp.sum(jnp.where(mask[:, None], ll, 0.0), -1) + dist.Normal(u[0], omega).log_prob(grid)

    def neg_log_post(u):
        ll = log_joint(u)
        top = ll.max(-1, keepdims=True)
        marginal = jnp.sum(jnp.log(jnp.trapezoid(jnp.exp(ll - top), grid, axis=-1)) + top[:, 0])
        return -(marginal + sum(d.log_prob(jnp.exp(u[j])) + u[j] for j, d in enumerate(priors)))

    vg = jax.jit(jax.value_and_grad(neg_log_post))
    u0 = np.log([TYPICAL_G, SIGMA, OMEGA_G])
    res = minimize(lambda u: tuple(np.asarray(a, float) for a in vg(jnp.asarray(u))), u0, jac=True, method="BFGS")
    assert res.success, res.message
    w = np.exp(np.asarray(jax.jit(log_joint)(jnp.asarray(res.x))))
    w /= w.sum(-1, keepdims=True)
    mean = w @ np.asarray(grid)
    sd = np.sqrt(w @ np.asarray(grid) ** 2 - mean**2)
    return res.x, np.asarray(jax.jit(jax.hessian(neg_log_post))(jnp.asarray(res.x))), mean, sd


def test_population_sites_and_guide_blocks(cohort):
    assert [name for name, _ in population_sites(SPEC)] == ["g", "sigma", "omega_g"]
    n = len(cohort)
    for centred, site in ((False, "eta_g"), (True, "z_g")):
        start = {"g": 0.03, "sigma": 0.2} | ({"omega_g": 0.4} if centred else {})
        individual_start = {"g": np.full(n, np.nan)} if centred else None
        if centred:
            individual_start["g"][:3] = [0.01, 0.02, 0.04]
        guide = population_guide(SPEC, cohort, centred, start=start, individual_start=individual_start)
        trace = handlers.trace(handlers.seed(guide, 0)).get_trace()
        params = {k: v["value"] for k, v in trace.items() if v["type"] == "param"}
        assert params["global_loc"].shape == (3,) and params["global_scale_tril"].shape == (3, 3)
        assert params["patient_loc"].shape == (n, 1)
        assert params["patient_coupling"].shape == (n, 1, 3)
        assert params["patient_scale_tril"].shape == (n, 1, 1)
        assert trace[site]["value"].shape == (n,)
        assert {"g", "sigma", "omega_g"} <= set(trace)
        np.testing.assert_allclose(params["global_loc"][:2], np.log([0.03, 0.2]))
        if centred:  # a_i at the patient's start, else at the typical value's
            np.testing.assert_allclose(params["patient_loc"][:, 0], np.log([0.01, 0.02, 0.04] + [0.03] * (n - 3)))
        else:
            np.testing.assert_array_equal(params["patient_loc"], 0.0)
    with pytest.raises(ValueError, match="not centred individual parameters"):
        population_guide(SPEC, cohort, (), individual_start={"g": np.ones(n)})
    with pytest.raises(ValueError, match="one value per patient"):
        population_guide(SPEC, cohort, True, individual_start={"g": np.ones(n + 1)})
    with pytest.raises(ValueError, match="not population sites"):
        population_guide(SPEC, cohort, start={"v0": 3.0})
    with pytest.raises(ValueError, match="outside the support"):
        population_guide(SPEC, cohort, start={"sigma": -1.0})


def test_refinement_finds_the_exact_marginal_maximum_from_svi(cohort):
    """SVI with the structured guide starts the proposals; the refinement lands on the exact
    marginal posterior maximum (to a small fraction of the posterior SD) with a Laplace covariance
    near the exact one, and each patient's posterior mean near the exact one."""
    u_exact, hess, ind_mean, ind_sd = exact_map(cohort)
    sd_exact = np.sqrt(np.diag(np.linalg.inv(hess)))
    model = population_model(predict, SPEC, cohort, ERRORS)
    fit = svi(model, jax.random.key(0), steps=400, learning_rate=0.02,
              guide=lambda _: population_guide(SPEC, cohort))  # fmt: skip
    draws = fit.sample(jax.random.key(1), 200)
    log_ind = np.log(draws["g_individual"])[..., None]  # (draws, n, 1)
    start = {k: float(np.median(draws[k])) for k in ("g", "sigma", "omega_g")}
    refined = refine_population(predict, SPEC, cohort, ERRORS, log_ind, start, jax.random.key(2), draws=128,
                                final_draws=256)  # fmt: skip
    assert refined.sites == ("g", "sigma", "omega_g")
    assert refined.info["hessian_ok"] and refined.info["is_low_ess_share"] == 0.0
    error_sd = np.abs(refined.loc - u_exact) / sd_exact
    assert np.all(error_sd < 0.15), (refined.loc, u_exact, error_sd)
    svi_error_sd = np.abs(np.log([start[k] for k in refined.sites]) - u_exact) / sd_exact
    assert svi_error_sd.max() > 0.5  # the Gaussian guide's between-patient SD is off: the refinement moved it
    np.testing.assert_allclose(np.sqrt(np.diag(refined.cov)), sd_exact, rtol=0.15)
    assert refined.individual.shape == (N_PATIENTS, 1)
    assert np.all(np.abs(refined.individual[:, 0] - ind_mean) < 0.35 * ind_sd)
    laplace = refined.sample(jax.random.key(3), 4000)
    assert set(laplace) == {"g", "sigma", "omega_g"} and laplace["g"].shape == (4000,)
    np.testing.assert_allclose(np.median(np.log(laplace["omega_g"])), u_exact[2], atol=0.2 * sd_exact[2])


def test_refinement_input_checks(cohort):
    log_ind = np.zeros((4, N_PATIENTS, 1))
    start = {"g": 0.02, "sigma": 0.1, "omega_g": 0.5}
    run = lambda **kw: refine_population(  # noqa: E731
        kw.pop("predict", predict), kw.pop("spec", SPEC), cohort, kw.pop("errors", ERRORS),
        kw.pop("log_ind", log_ind), kw.pop("start", start), jax.random.key(0), **kw,
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"log_individual must be \(draws >= 2, patients 12"):
        run(log_ind=np.zeros((4, N_PATIENTS, 2)))
    with pytest.raises(ValueError, match=r"start lacks population site\(s\) \['omega_g'\]"):
        run(start={"g": 0.02, "sigma": 0.1})
    with pytest.raises(ValueError, match="no error model"):
        run(errors={})
    with pytest.raises(ValueError, match="cap: \\['diameter'\\] are not observables"):
        run(cap={"diameter": 1e4})
    with pytest.raises(ValueError, match="adapt must be >= 1"):
        run(adapt=0)
    shared = SPEC.replace(v0=Parameter("v0", "mm^3", dist.LogNormal(np.log(10.0), 0.1)))
    with pytest.raises(ValueError, match=r"\['v0'\] are in no error model"):
        run(spec=shared, start=start | {"v0": 10.0})
