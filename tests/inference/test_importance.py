"""The generic population algorithms on a toy model (one individual growth rate, exponential growth
with log-normal scan error, a few synthetic patients): the structured guide's per-patient blocks,
and the importance-sampling refinement against the exact marginal posterior maximum (the random
effect integrated out by quadrature on a grid); then the refinement of a model whose individual
parameters are a unit-interval fraction and a real rate (a 2-D grid)."""

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


# --- a unit-interval and a real individual parameter -------------------------------------------
# Two cell populations: a resistant fraction f (unit interval, logit-normal between patients) that
# grows at a known rate, and the rest at a net rate r that is negative when the drug works (real,
# normal between patients): V(t) = v0 (f exp(g t) + (1 - f) exp(r t)).

G_RESISTANT = 0.02  # 1/day, known
TYPICAL_F, OMEGA_F = 0.2, 0.8  # resistant fraction at t = 0; logit-scale SD between patients
TYPICAL_R, OMEGA_R = -0.03, 0.02  # 1/day; SD between patients (1/day)
SIGMA_MIX, N_MIX = 0.1, 16
MIX_SPEC = ParameterSpec(
    [
        Parameter("v0", "mm^3", value=V0),
        Parameter("g", "1/day", value=G_RESISTANT),
        Parameter("f", "1", dist.Beta(2.0, 5.0), constraint="unit_interval", level="individual",
                  omega=dist.HalfNormal(1.0)),
        Parameter("r", "1/day", dist.Normal(-0.02, 0.05), constraint="real", level="individual",
                  omega=dist.HalfNormal(0.05)),
        Parameter("sigma", "1", dist.HalfNormal(0.3)),
    ]
)  # fmt: skip
MIX_START = {"f": 0.3, "r": -0.02, "sigma": 0.15, "omega_f": 0.5, "omega_r": 0.01}
# Measured over keys 0-7 (refine_mix): the worst site's distance from the exact maximum 0.02-0.08
# exact posterior SDs (mean 0.04); Laplace SDs within 2.6% of the exact ones; every patient's
# posterior mean within 0.12-0.23 of its exact posterior SD. Tolerances ~2-2.5x the worst. With 10
# patients of 3-5 scans and omega_r 0.015 (omega_r barely identified: posterior SD 0.48 on its
# log), key 2 of 0-7 let the adaptation collapse omega_r to ~0.001 (the exact posterior has no mode
# there; flagged: mc_shift_sd 1.3 with 512 final draws, the Hessian not positive definite with
# 1024): hence 16 patients of 4-6 scans and 0.02.
MIX_TOLERANCE_SD, MIX_SD_RTOL, MIX_INDIVIDUAL_SD = 0.2, 0.06, 0.4


def predict_mix(p, t):
    return {"volume": p["v0"] * (p["f"] * jnp.exp(p["g"] * t) + (1 - p["f"]) * jnp.exp(p["r"] * t))}


@pytest.fixture(scope="module")
def mix_cohort():
    return make_mix_cohort()


@pytest.fixture(scope="module")
def mix_exact(mix_cohort):
    return exact_mix_map(mix_cohort)


def make_mix_cohort():
    rng = np.random.default_rng(5)
    series = []
    for i in range(N_MIX):
        f = jax.scipy.special.expit(jax.scipy.special.logit(TYPICAL_F) + OMEGA_F * rng.normal())
        r = TYPICAL_R + OMEGA_R * rng.normal()
        t = np.arange(0.0, 21.0 * rng.integers(4, 7), 21.0)  # 4 to 6 scans, every 3 weeks
        v = V0 * (f * np.exp(G_RESISTANT * t) + (1 - f) * np.exp(r * t))
        y = v * np.exp(SIGMA_MIX * rng.normal(size=t.size))
        series.append(
            Observations.from_rows(f"M{i}", zip(t, ["volume"] * t.size, y, strict=True), units={"volume": "mm^3"})
        )
    return Cohort.from_observations(series)


def exact_mix_map(mix_cohort):
    """The exact marginal posterior maximum of (f, r, sigma, omega_f, omega_r) on their unconstrained
    scale, each patient's (logit f, r) integrated out on a 2-D grid (trapezoid; the log-normal
    likelihood written out as residual sums of squares; 201 x 201 points over +-6 between-patient
    SDs, within 6e-7 posterior SD of 601 x 601), the Hessian there, and each patient's posterior
    mean and SD of (logit f, r) given that maximum. The sites' transforms and log-Jacobians are
    numpyro's (``biject_to`` of the priors' supports), not the library's."""
    logit_f = float(jax.scipy.special.logit(TYPICAL_F))
    a = jnp.linspace(logit_f - 6 * OMEGA_F, logit_f + 6 * OMEGA_F, 201)
    b = jnp.linspace(TYPICAL_R - 6 * OMEGA_R, TYPICAL_R + 6 * OMEGA_R, 201)
    index, value, _, mask = (jnp.asarray(x) for x in mix_cohort.groups["volume"])
    times = jnp.take_along_axis(jnp.asarray(mix_cohort.times), index, axis=1)  # (n, R)
    f, r, t = jax.nn.sigmoid(a)[None, :, None, None], b[None, None, :, None], times[:, None, None, :]
    pred = V0 * (f * jnp.exp(G_RESISTANT * t) + (1 - f) * jnp.exp(r * t))  # (n, a, b, R)
    resid = jnp.where(mask[:, None, None], jnp.log(value)[:, None, None] - jnp.log(pred), 0.0)
    ssr, rows = jnp.sum(resid**2, -1), jnp.sum(mask, -1)[:, None, None]  # (n, a, b), (n, 1, 1)
    log_y = jnp.sum(jnp.where(mask, jnp.log(value), 0.0), -1)[:, None, None]
    sites = population_sites(MIX_SPEC)
    bijections = [dist.biject_to(d.support) for _, d in sites]

    def log_joint(u):
        """(n, a, b): log p(y_i | logit f, r) + log N(logit f; u_f, omega_f) + log N(r; u_r, omega_r)."""
        sigma, omega_f, omega_r = (bijections[j](u[j]) for j in (2, 3, 4))
        ll = -0.5 * ssr / sigma**2 - rows * (jnp.log(sigma) + 0.5 * jnp.log(2 * jnp.pi)) - log_y
        return ll + dist.Normal(u[0], omega_f).log_prob(a)[:, None] + dist.Normal(u[1], omega_r).log_prob(b)

    def neg_log_post(u):
        lj = log_joint(u)
        top = lj.max((-2, -1), keepdims=True)
        inner = jnp.trapezoid(jnp.trapezoid(jnp.exp(lj - top), b, axis=-1), a, axis=-1)
        marginal = jnp.sum(jnp.log(inner) + top[:, 0, 0])
        prior = 0.0
        for j, ((_, d), t_j) in enumerate(zip(sites, bijections, strict=True)):
            theta = t_j(u[j])
            prior = prior + d.log_prob(theta) + t_j.log_abs_det_jacobian(u[j], theta)
        return -(marginal + prior)

    vg = jax.jit(jax.value_and_grad(neg_log_post))
    u0 = np.asarray([logit_f, TYPICAL_R, np.log(SIGMA_MIX), np.log(OMEGA_F), np.log(OMEGA_R)])
    res = minimize(lambda u: tuple(np.asarray(x, float) for x in vg(jnp.asarray(u))), u0, jac=True, method="BFGS")
    assert res.success, res.message
    w = np.exp(np.asarray(jax.jit(log_joint)(jnp.asarray(res.x))))
    w /= w.sum((-2, -1), keepdims=True)
    grid = np.stack(np.meshgrid(np.asarray(a), np.asarray(b), indexing="ij"), -1)  # (a, b, 2)
    mean = np.einsum("nab,abk->nk", w, grid)
    sd = np.sqrt(np.einsum("nab,abk->nk", w, grid**2) - mean**2)
    return res.x, np.asarray(jax.jit(jax.hessian(neg_log_post))(jnp.asarray(res.x))), mean, sd


def refine_mix(cohort, key):
    """The refinement of the mixture model, its proposals started at the population of
    :data:`MIX_START` (no per-patient information; hence 6 adaptation rounds of 256 draws: with 4
    of 128 the least-informed patients' weights kept ESS 2-6 and the sites erred by up to 0.8 SD)."""
    z = np.random.default_rng(0).normal(size=(8, N_MIX, 2))
    start_ind = np.asarray([jax.scipy.special.logit(MIX_START["f"]), MIX_START["r"]])
    log_ind = start_ind + np.asarray([MIX_START["omega_f"], MIX_START["omega_r"]]) * z
    return refine_population(predict_mix, MIX_SPEC, cohort, ERRORS, log_ind, MIX_START, key, draws=256,
                             final_draws=512, adapt=6)  # fmt: skip


def test_refinement_with_unit_interval_and_real_parameters(mix_cohort, mix_exact):
    """A logit-normal resistant fraction and a normal net rate: the refinement finds the exact
    marginal posterior maximum on the sites' unconstrained scale (logit of the typical fraction,
    the typical rate itself, logs of the SDs) and the patients' posterior means of (logit f, r)."""
    u_exact, hess, ind_mean, ind_sd = mix_exact
    sd_exact = np.sqrt(np.diag(np.linalg.inv(hess)))
    refined = refine_mix(mix_cohort, jax.random.key(0))
    assert refined.sites == ("f", "r", "sigma", "omega_f", "omega_r")
    assert refined.constraints == ("unit_interval", "real", "positive", "positive", "positive")
    assert refined.info["hessian_ok"] and refined.info["is_low_ess_share"] == 0.0
    error_sd = np.abs(refined.loc - u_exact) / sd_exact
    assert np.all(error_sd < MIX_TOLERANCE_SD), (refined.loc, u_exact, error_sd)
    start = [MIX_START[s] for s in refined.sites]
    start_u = np.asarray([jax.scipy.special.logit(start[0]), start[1], *np.log(start[2:])])
    assert (np.abs(start_u - u_exact) / sd_exact).max() > 1.0  # it moved
    np.testing.assert_allclose(np.sqrt(np.diag(refined.cov)), sd_exact, rtol=MIX_SD_RTOL)
    assert refined.individual.shape == (N_MIX, 2)
    assert np.all(np.abs(refined.individual - ind_mean) < MIX_INDIVIDUAL_SD * ind_sd)
    laplace = refined.sample(jax.random.key(1), 4000)
    assert np.all((laplace["f"] > 0) & (laplace["f"] < 1)) and np.mean(laplace["r"] < 0) > 0.9
    np.testing.assert_allclose(np.median(jax.scipy.special.logit(laplace["f"])), u_exact[0], atol=0.2 * sd_exact[0])
    np.testing.assert_allclose(np.median(laplace["r"]), u_exact[1], atol=0.2 * sd_exact[1])


def test_start_outside_a_support_names_site_value_and_range(mix_cohort):
    log_ind = np.zeros((4, N_MIX, 2))
    for site, value, support in (("f", 1.5, r"'unit_interval': it must be finite and in \(0.0, 1.0\)"),
                                 ("omega_r", -0.01, r"'positive': it must be finite and in \(0.0, inf\)"),
                                 ("r", np.inf, r"'real': it must be finite and in \(-inf, inf\)")):  # fmt: skip
        message = rf"start\['{site}'\] = {value!r} is outside the support of its constraint {support}"
        with pytest.raises(ValueError, match=message):
            refine_population(predict_mix, MIX_SPEC, mix_cohort, ERRORS, log_ind, MIX_START | {site: value},
                              jax.random.key(0))  # fmt: skip
