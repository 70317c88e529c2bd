"""Marginal importance-sampling refinement of a population fit: the posterior of
:func:`~inference.population_model`'s population-level sites with every patient's random effects
integrated out by adaptive importance sampling, its maximum and a Laplace approximation there.

A Gaussian variational fit (:func:`~inference.svi`) of a hierarchical model is biased where
patients' random effects are truncated by their data (a tumour that only grows says nothing of its
shrinkage rate beyond "small"); this keeps SVI only to place each patient's proposal and
estimates the marginal likelihood of the population parameters without a variational family:
the importance-sampling estimation method of NONMEM (IMP; Bauer 2019, CPT Pharmacometrics Syst.
Pharmacol. 8:538) and Monolix's importance-sampling log-likelihood (Lavielle 2014, "Mixed
effects models for the population approach", ch. 9), with proposals adapted as in population
Monte Carlo (Cappe et al. 2004, J. Comput. Graph. Stat. 13:907).

Scales: every parameter lives on the unconstrained scale of its constraint's transform ``T``
(:mod:`mechanistic.constraints`: log for positive, logit for unit_interval, identity for real).
Each patient's individual parameters are integrated out on that scale, where the random-effects
law makes them normal, ``T(p_i) ~ N(T(p_typical), omega_p)``; the population-level sites (typical
values with their parameters' constraints, error-model parameters likewise, ``omega_<p>``
positive) are optimised there, their priors carrying the log-Jacobian of ``T^-1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from scipy.optimize import minimize as scipy_minimize

from inference.parameters import ParameterSpec
from inference.patient_model import Predict, check_error_models
from inference.population import Cohort, population_site_constraints, population_sites
from mechanistic.constraints import CONSTRAINTS, log_jacobian, transform
from mechanistic.measurement import ErrorModel
from mechanistic.precision import require_float64

MAX_SHIFT_SD = 1.0  # default: the two final estimates at most this many posterior SDs apart
MAX_LOW_ESS_SHARE = 0.01  # default: at most this share of patients with weights of ESS < 2


@dataclass(frozen=True)
class RefinedPopulation:
    """The result of :func:`refine_population`. ``sites``: the population-level sites (as
    :func:`~inference.population_sites`) and ``constraints`` theirs (a typical value its
    parameter's, ``omega_<p>`` positive); ``loc`` ``(g,)``: the sites on their unconstrained scale
    (:func:`mechanistic.constraints.transform`) at the marginal maximum a posteriori, ``cov``
    ``(g, g)`` its Laplace covariance on that scale (NaN when the Hessian is not positive definite:
    ``info["hessian_ok"]``); ``individual`` ``(n, k)``: each patient's importance-weighted posterior
    mean of its individual parameters on their unconstrained scale (``spec.individual`` order,
    ``cohort.patients`` order); ``info``: diagnostics (:func:`refine_population`)."""

    sites: tuple[str, ...]
    constraints: tuple[str, ...]
    loc: np.ndarray
    cov: np.ndarray
    individual: np.ndarray
    info: dict

    def sample(self, key, num_draws: int) -> dict[str, np.ndarray]:
        """``num_draws`` draws ``{site: (num_draws,)}`` (natural units) of the Laplace
        approximation: ``N(loc, cov)`` mapped back by each site's ``T^-1``."""
        if not self.info.get("hessian_ok", False):
            raise ValueError("no Laplace approximation: the Hessian at the marginal maximum is not positive definite")
        u = np.asarray(jax.random.multivariate_normal(key, self.loc, self.cov, (num_draws,)))
        return {
            name: np.asarray(transform(c)[1](u[:, j]))
            for j, (name, c) in enumerate(zip(self.sites, self.constraints, strict=True))
        }


def _value_and_grad_np(value_and_grad, args, v):
    return tuple(np.asarray(a, float) for a in value_and_grad(jnp.asarray(v), *args))


def _check_inputs(spec, cohort, errors, log_individual, start, cap, counts):
    if not spec.individual:
        raise ValueError("refine_population: the specification has no individual parameter to integrate out")
    check_error_models(spec, cohort.units, errors, "refine_population")
    error_parameters = {p for e in errors.values() for p in e.parameters}
    for p in spec.parameters:
        if p.name in error_parameters and p.level == "individual":
            raise ValueError(f"refine_population: error-model parameter {p.name!r} must be population-level")
    structural = [
        p.name for p in spec.parameters if p.free and p.level != "individual" and p.name not in error_parameters
    ]
    if structural:
        raise ValueError(
            f"refine_population: free population-level parameter(s) {structural} are in no error model; "
            "only individual parameters and the error models' may be free (predictions are made once per round)"
        )
    n, k = len(cohort), len(spec.individual)
    if log_individual.ndim != 3 or log_individual.shape[1:] != (n, k) or log_individual.shape[0] < 2:
        raise ValueError(
            f"log_individual must be (draws >= 2, patients {n}, individual parameters {k} {spec.individual}); "
            f"got shape {log_individual.shape}"
        )
    if not np.all(np.isfinite(log_individual)):
        raise ValueError("log_individual has non-finite values")
    names = [name for name, _ in population_sites(spec)]
    missing = [s for s in names if s not in start]
    if missing:
        raise ValueError(f"start lacks population site(s) {missing}; it needs {names}")
    for name, constraint in zip(names, population_site_constraints(spec), strict=True):
        lo, hi = CONSTRAINTS[constraint]
        value = float(start[name])
        if not (np.isfinite(value) and lo < value < hi):
            raise ValueError(
                f"start[{name!r}] = {start[name]!r} is outside the support of its constraint {constraint!r}: "
                f"it must be finite and in ({lo}, {hi})"
            )
    unknown = sorted(set(cap or {}) - set(cohort.groups))
    if unknown:
        raise ValueError(f"cap: {unknown} are not observables of the cohort {sorted(cohort.groups)}")
    bad = {o: c for o, c in (cap or {}).items() if not np.isfinite(float(c))}
    if bad:
        raise ValueError(f"cap values must be finite: {bad}")
    for name, (value, low) in counts.items():
        if not value >= low:
            raise ValueError(f"{name} must be >= {low}; got {value}")


def refine_population(
    predict: Predict,
    spec: ParameterSpec,
    cohort: Cohort,
    errors: Mapping[str, ErrorModel],
    log_individual,
    start: Mapping[str, float],
    key,
    *,
    draws: int = 256,
    adapt: int = 4,
    final_draws: int = 512,
    inflate: float = 1.5,
    df: float = 4.0,
    max_shift_sd: float = MAX_SHIFT_SD,
    max_low_ess_share: float = MAX_LOW_ESS_SHARE,
    retries: int = 1,
    cap: Mapping[str, float] | None = None,
) -> RefinedPopulation:
    """Population parameters by adaptive importance sampling of each patient's marginal likelihood
    (the random effects integrated out), its maximum a posteriori and a Laplace approximation on
    the unconstrained scale: the posterior of :func:`~inference.population_model`'s population-level
    sites (``predict``, ``spec``, ``cohort``, ``errors`` as there; no covariate effects, no
    ``inputs``) without a variational family's bias (module docstring).

    For patient ``i`` with individual parameters ``x = T(p_i)`` on their unconstrained scale (one
    per ``spec.individual``, each through its constraint's transform ``T``) and population
    ``theta``: ``p(y_i | theta) = E_q[p(y_i | x) N(x; T(typical), omega) / q_i(x)]``,
    estimated from draws of the proposal ``q_i``, a mixture of equal parts: a multivariate t
    (``df``) around the patient's current posterior mean and covariance (scale x ``inflate``), and
    the population distribution at the current ``theta`` (covering what the patient's data leave
    to the population). ``theta`` maximises ``sum_i log p_hat(y_i | theta) + log prior(theta)``
    (L-BFGS-B on the sites' unconstrained scale, the prior with the log-Jacobian of ``T^-1``:
    :func:`mechanistic.constraints.log_jacobian`). ``adapt`` rounds of ``draws`` draws per patient
    (the same base random numbers each round) re-centre the proposals on the importance-weighted
    posterior moments; then two independent rounds of ``final_draws`` give the estimate (their
    mean) and its Monte Carlo error (their difference), and the Hessian there the Laplace
    covariance. While the two estimates differ by more than ``max_shift_sd`` posterior SDs, or
    more than ``max_low_ess_share`` of the patients have an effective sample size < 2, the final
    rounds are redone with twice the draws (``retries`` times at most; the caller judges the last
    ``info``).

    ``predict(params, times) -> {observable: (T,)}``: one patient, ``params`` the individual and
    fixed parameters (scalars), ``times`` ``(T,)`` day; vmapped over patients and draws, once per
    round (so every free population-level parameter must be an error-model parameter). Any
    constraint (positive, unit_interval, real). ``log_individual`` ``(n_draws >= 2, n, k)``: draws
    of each patient's individual parameters on their unconstrained scale ``T(p_i)`` (the log of a
    positive one, the logit of a unit-interval one, a real one as it is; e.g. from SVI) that start
    the proposals; ``start``: every population site (:func:`~inference.population_sites`) to start
    from, natural units, inside its constraint's support. ``cap``: observable -> upper bound (its
    unit): predictions above it, or NaN, are set to it, so that a runaway draw gets a weight ~0
    through the likelihood; for an observable without a cap a draw with a non-finite prediction
    gets weight 0. ``key``: a JAX PRNG key.

    ``info``: ``hessian_ok``, ``lbfgs_ok``, the per-patient effective sample size of the final
    weights (both rounds pooled: ``is_ess_min``, ``is_ess_1pct``, ``is_ess_median``; the patients
    below 2 and their share: ``is_low_ess_patients``, ``is_low_ess_share``), ``mc_shift_sd``, the
    two final estimates' largest difference in posterior SDs, and ``final_draws`` (per round)."""
    require_float64("inference.refine_population", "the cohort")
    log_individual = np.asarray(log_individual, float)
    counts = {"draws": (draws, 2), "final_draws": (final_draws, 2), "adapt": (adapt, 1), "retries": (retries, 0)}
    _check_inputs(spec, cohort, errors, log_individual, start, cap, counts)
    if not (inflate > 0 and df > 0):
        raise ValueError(f"inflate and df must be > 0; got inflate={inflate}, df={df}")
    cap = dict(cap or {})
    sites = population_sites(spec)
    names = [name for name, _ in sites]
    constraints = population_site_constraints(spec)
    forwards, inverses = zip(*(transform(c) for c in constraints), strict=True)
    ind = list(spec.individual)
    ind_inverse = [transform(spec[p].constraint)[1] for p in ind]
    k, n = len(ind), len(cohort)
    typ = jnp.asarray([names.index(p) for p in ind])
    omg = jnp.asarray([names.index(f"omega_{p}") for p in ind])
    fixed = {p.name: float(p.value) for p in spec.parameters if not p.free}
    observables = list(cohort.groups)
    error_index = {
        o: {p: names.index(p) for p in errors[o].parameters if p not in fixed} for o in observables
    }  # fmt: skip
    error_fixed = {o: {p: fixed[p] for p in errors[o].parameters if p in fixed} for o in observables}
    index = {o: cohort.groups[o][0][:, None, :] for o in observables}  # (n, 1, R)
    data = {o: tuple(jnp.asarray(a)[:, None] for a in cohort.groups[o][1:]) for o in observables}
    times = jnp.asarray(cohort.times)

    def predict_fixed(x, t):
        """One patient's prediction at unconstrained individual parameters ``x`` (k,)."""
        params = {p: inverse(x[j]) for j, (p, inverse) in enumerate(zip(ind, ind_inverse, strict=True))}
        return predict({**params, **fixed}, t)

    batched = jax.jit(jax.vmap(jax.vmap(predict_fixed, in_axes=(0, None))))  # patients x draws

    def natural(u):
        """The population sites in natural units from ``u`` (g,), their unconstrained values."""
        return jnp.stack([inverse(u[j]) for j, inverse in enumerate(inverses)])

    def objective(u, x, pred, log_q):
        theta = natural(u)
        ll = None
        for o in observables:
            value, censored, mask = data[o]
            params = {p: theta[j] for p, j in error_index[o].items()} | error_fixed[o]
            term = jnp.sum(jnp.where(mask, errors[o].log_likelihood(params, pred[o], value, censored), 0.0), -1)
            ll = term if ll is None else ll + term
        lp = jnp.sum(dist.Normal(u[typ], theta[omg]).log_prob(x), -1)
        log_w = ll + lp - log_q
        marginal = jnp.sum(jax.scipy.special.logsumexp(log_w, -1) - jnp.log(log_w.shape[-1]))
        prior = sum(
            d.log_prob(theta[j]) + log_jacobian(c, u[j])
            for j, ((_, d), c) in enumerate(zip(sites, constraints, strict=True))
        )
        return -(marginal + prior), log_w

    value_and_grad = jax.jit(jax.value_and_grad(lambda *a: objective(*a)[0]))
    weights = jax.jit(lambda *a: objective(*a)[1])
    hessian = jax.jit(jax.hessian(lambda *a: objective(*a)[0]))

    def predictions(x, log_q):
        """Predictions at the observed rows ``{observable: (n, S, R)}`` of the draws ``x`` (n, S, k)
        (unconstrained scale); ``log_q`` set to +inf (weight 0) where an uncapped prediction is not
        finite."""
        full = batched(jnp.asarray(x), times)
        pred, ok = {}, np.ones(x.shape[:2], bool)
        for o in observables:
            p = np.take_along_axis(np.asarray(full[o]), index[o], axis=2)
            if o in cap:
                p = np.minimum(np.nan_to_num(p, nan=cap[o]), cap[o])
            else:
                finite = np.isfinite(p) | ~np.asarray(cohort.groups[o][3])[:, None]
                ok &= finite.all(-1)
                p = np.where(finite, p, 1.0)
            pred[o] = jnp.asarray(p)
        if not ok.all():
            none = np.flatnonzero(~ok.any(-1))
            if none.size:
                raise ValueError(
                    f"refine_population: predict gave non-finite values for every draw of patient "
                    f"{cohort.patients[none[0]]!r}; give that observable a cap or check the model"
                )
            log_q = jnp.where(jnp.asarray(ok), log_q, jnp.inf)
        return pred, log_q

    def step(u, mean, cov, base):
        """One importance-sampling MAP from ``u``: proposals from (mean, cov) and the population at ``u``;
        returns the optimiser's result, the weighted patient means and covariances, and the draws."""
        z, g, z_pop = base
        half, size = z.shape[1], z.shape[1] + z_pop.shape[1]
        chol = np.linalg.cholesky(cov + 1e-9 * np.eye(k)) * inflate
        typical, omega = u[np.asarray(typ)], np.asarray(natural(jnp.asarray(u)))[np.asarray(omg)]
        x = np.concatenate(
            [mean[:, None] + np.einsum("nij,nsj->nsi", chol, z) / np.sqrt(g), typical + omega * z_pop], axis=1
        )
        log_t = dist.MultivariateStudentT(df, jnp.asarray(mean)[:, None], jnp.asarray(chol)[:, None]).log_prob(x)
        log_pop = jnp.sum(dist.Normal(typical, omega).log_prob(x), -1)
        log_q = jnp.logaddexp(np.log(half / size) + log_t, np.log(1 - half / size) + log_pop)
        pred, log_q = predictions(x, log_q)
        args = (jnp.asarray(x), pred, log_q)
        result = scipy_minimize(partial(_value_and_grad_np, value_and_grad, args), u, jac=True, method="L-BFGS-B")
        log_w = np.asarray(weights(jnp.asarray(result.x), *args))
        w = np.exp(log_w - log_w.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        mean = np.einsum("ns,nsi->ni", w, x)
        d = x - mean[:, None]
        return result, mean, np.einsum("ns,nsi,nsj->nij", w, d, d), args

    def base(key, size):
        k_z, k_g, k_pop = jax.random.split(key, 3)
        half = size // 2
        g = np.asarray(jax.random.gamma(k_g, df / 2, (n, half, 1))) / (df / 2)
        return (np.asarray(jax.random.normal(k_z, (n, half, k))), g,
                np.asarray(jax.random.normal(k_pop, (n, size - half, k))))  # fmt: skip

    def final_estimate(key, size):
        """Two independent rounds of ``size`` draws: the estimate (mean of their optima), its Laplace
        covariance, the weighted patient means (first round) and the diagnostics."""
        finals = [step(u_pop, mean, cov, base(k, size)) for k in jax.random.split(key)]
        u = np.mean([f[0].x for f in finals], axis=0)
        hess = np.mean([np.asarray(hessian(jnp.asarray(u), *f[3])) for f in finals], axis=0)
        hess = 0.5 * (hess + hess.T)
        hessian_ok = bool(np.all(np.isfinite(hess))) and bool(np.all(np.linalg.eigvalsh(hess) > 0))
        cov_u = np.linalg.inv(hess) if hessian_ok else np.full_like(hess, np.nan)
        shift = np.abs(finals[0][0].x - finals[1][0].x) / np.sqrt(np.diag(cov_u)) if hessian_ok else np.inf
        # both rounds draw from the same proposals: pool their weights at the estimate
        log_w = np.concatenate([np.asarray(weights(jnp.asarray(u), *f[3])) for f in finals], axis=-1)
        w = np.exp(log_w - log_w.max(-1, keepdims=True))
        ess = w.sum(-1) ** 2 / np.sum(w**2, -1)
        low = ess < 2
        info = {
            "hessian_ok": hessian_ok,
            "lbfgs_ok": all(bool(f[0].success) for f in finals),
            "is_ess_min": float(ess.min()),
            "is_ess_1pct": float(np.quantile(ess, 0.01)),
            "is_ess_median": float(np.median(ess)),
            "is_low_ess_patients": [cohort.patients[i] for i in np.flatnonzero(low)],
            "is_low_ess_share": float(low.mean()),
            # Monte Carlo error: two independent final estimates apart, in posterior SDs (worst parameter)
            "mc_shift_sd": float(np.max(shift)),
        }
        return u, cov_u, finals[0][1], info

    u = np.asarray([float(f(jnp.asarray(float(start[name])))) for name, f in zip(names, forwards, strict=True)])
    mean = log_individual.mean(0)
    centred = log_individual - mean
    cov = np.einsum("dni,dnj->nij", centred, centred) / len(log_individual)
    k_adapt, k_final = jax.random.split(key)
    adapt_base, history = base(k_adapt, draws), []
    for _ in range(adapt):  # the same base draws each time: only the proposals move
        result, mean, cov, _ = step(u, mean, cov, adapt_base)
        u = result.x
        history.append(u)
    u_pop = np.mean(history[-2:], axis=0)  # the adaptation can alternate between two points
    for attempt in range(retries + 1):  # more draws while the Monte Carlo error is too large
        size = final_draws * 2**attempt
        u, cov_u, individual, info = final_estimate(k_final, size)
        if info["mc_shift_sd"] <= max_shift_sd and info["is_low_ess_share"] <= max_low_ess_share:
            break
        k_final = jax.random.fold_in(k_final, attempt + 1)
    info["final_draws"] = size
    return RefinedPopulation(tuple(names), tuple(constraints), u, cov_u, individual, info)
