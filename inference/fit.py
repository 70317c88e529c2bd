"""Fitting a numpyro model: MAP, Laplace approximation, NUTS (several chains, initialised at the
MAP), and diagnostics through ArviZ that warn, naming the problem and a remedy.

All work happens on numpyro's unconstrained space (``initialize_model``); results come back
constrained, as ``{name: array}`` dicts or an ArviZ ``InferenceData`` with parameter units in
``attrs``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from numpyro.infer import MCMC, NUTS, init_to_value
from numpyro.infer.util import initialize_model


class CalibrationWarning(UserWarning):
    """A fit or sampler diagnostic failed (named in the message, with a remedy)."""


class MapResult(NamedTuple):
    """``params``: constrained MAP ``{name: value}``; ``unconstrained``: the same on numpyro's
    unconstrained space; ``log_density``: log joint at the MAP; ``grad_norm``: final gradient norm
    (unconstrained); ``converged``: ``grad_norm < tol``."""

    params: dict
    unconstrained: dict
    log_density: float
    grad_norm: float
    converged: bool


def _setup(model: Callable, key):
    info = initialize_model(key, model, dynamic_args=False)
    return info.param_info.z, info.potential_fn, info.postprocess_fn


def map_estimate(model: Callable, key, *, steps: int = 500, tol: float = 1e-4, restarts: int = 4) -> MapResult:
    """Maximum a posteriori by L-BFGS (optax) on the unconstrained space from ``restarts`` random
    initialisations (numpyro's ``init_to_uniform``); the best one is returned. Warns
    (:class:`CalibrationWarning`) when the gradient norm stays above ``tol``."""
    z0, potential, post = _setup(model, key)
    flat0, unravel = ravel_pytree(z0)
    # numpyro's init_to_uniform: unconstrained values uniform in (-2, 2); the first start is its own
    starts = [flat0, *jax.random.uniform(jax.random.fold_in(key, 1), (restarts - 1, flat0.size), minval=-2, maxval=2)]
    f = lambda x: potential(unravel(x))  # noqa: E731
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(f)

    @jax.jit
    def run(x):
        def step(carry, _):
            x, state = carry
            value, grad = value_and_grad(x, state=state)
            updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
            return (optax.apply_updates(x, updates), state), None

        (x, _), _ = jax.lax.scan(step, (x, opt.init(x)), None, length=steps)
        value, grad = jax.value_and_grad(f)(x)
        return x, value, jnp.linalg.norm(grad)

    results = [run(x0) for x0 in starts]
    values = np.asarray([float(r[1]) for r in results])
    best = int(np.nanargmin(np.where(np.isfinite(values), values, np.nan)))
    x, value, gnorm = results[best]
    z = unravel(x)
    converged = bool(gnorm < tol)
    if not converged:
        warnings.warn(
            f"MAP did not converge: gradient norm {float(gnorm):.3g} > {tol} after {steps} L-BFGS steps; "
            "raise steps, or check that the priors and data are compatible",
            CalibrationWarning,
            stacklevel=2,
        )
    params = {k: np.asarray(v) for k, v in post(z).items()}
    return MapResult(params, z, -float(value), float(gnorm), converged)


def laplace(model: Callable, fit: MapResult, key, *, num_samples: int = 1000) -> dict:
    """Draws from the Laplace approximation at the MAP (Gaussian on the unconstrained space with
    the inverse Hessian of the negative log joint as covariance), returned constrained."""
    _, potential, post = _setup(model, jax.random.key(0))
    flat, unravel = ravel_pytree(fit.unconstrained)
    hess = jax.hessian(lambda x: potential(unravel(x)))(flat)
    cov = jnp.linalg.inv(0.5 * (hess + hess.T))
    eig = jnp.linalg.eigvalsh(cov)
    if not bool(jnp.all(eig > 0)):
        raise ValueError(
            "the Hessian at the MAP is not positive definite: the MAP is not a maximum or a "
            "parameter is not identified; fix it or use nuts()"
        )
    draws = jax.random.multivariate_normal(key, flat, cov, (num_samples,))
    return {k: np.asarray(v) for k, v in jax.vmap(lambda x: post(unravel(x)))(draws).items()}


def nuts(
    model: Callable,
    key,
    *,
    chains: int = 4,
    warmup: int = 1000,
    samples: int = 1000,
    init: MapResult | Mapping | None = None,
    target_accept: float = 0.8,
    chain_method: str = "vectorized",
    progress_bar: bool = False,
) -> MCMC:
    """NUTS with ``chains`` chains (vectorised on one device by default), initialised at ``init``
    (a :class:`MapResult` or ``{name: value}``; default numpyro's uniform initialisation)."""
    values = init.params if isinstance(init, MapResult) else init
    strategy = init_to_value(values=dict(values)) if values is not None else None
    kernel = NUTS(model, target_accept_prob=target_accept, **({"init_strategy": strategy} if strategy else {}))
    mcmc = MCMC(
        kernel,
        num_warmup=warmup,
        num_samples=samples,
        num_chains=chains,
        chain_method=chain_method,
        progress_bar=progress_bar,
    )
    mcmc.run(key, extra_fields=("diverging",))
    return mcmc


def to_inference_data(mcmc: MCMC, units: Mapping[str, str] | None = None):
    """ArviZ ``InferenceData`` (dims chain, draw) with each parameter's unit in its ``attrs``."""
    az = _arviz()
    idata = az.from_numpyro(mcmc)
    for name, unit in (units or {}).items():
        if name in idata.posterior:
            idata.posterior[name].attrs["units"] = unit
    return idata


class Diagnostics(NamedTuple):
    """``table``: ArviZ summary (r_hat, ess_bulk, ess_tail per parameter); ``divergences``;
    ``problems``: one line per failed check (empty when all pass)."""

    table: object
    divergences: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def diagnose(idata, *, max_rhat: float = 1.01, min_ess: float = 400.0, warn: bool = True) -> Diagnostics:
    """R-hat, bulk/tail ESS and divergences of an ``InferenceData``; each failure is a line in
    ``problems`` (and a :class:`CalibrationWarning` when ``warn``) naming the parameter and a remedy."""
    az = _arviz()
    table = az.summary(idata, kind="diagnostics", round_to="none")
    problems = []
    for name, row in table.iterrows():
        if not np.isfinite(row["r_hat"]) or row["r_hat"] > max_rhat:
            problems.append(
                f"{name}: R-hat {row['r_hat']:.3f} > {max_rhat} (chains disagree): run longer warm-up, "
                "initialise at the MAP, or reparameterise"
            )
        for col in ("ess_bulk", "ess_tail"):
            if not np.isfinite(row[col]) or row[col] < min_ess:
                problems.append(f"{name}: {col.replace('_', ' ')} {row[col]:.0f} < {min_ess:.0f}: draw more samples")
    div = int(np.asarray(idata.sample_stats["diverging"]).sum()) if "diverging" in idata.sample_stats else 0
    if div:
        problems.append(
            f"{div} divergent transition(s): raise target_accept (e.g. 0.95) or reparameterise "
            "(non-centred random effects)"
        )
    if warn and problems:
        warnings.warn("sampler diagnostics failed:\n  " + "\n  ".join(problems), CalibrationWarning, stacklevel=2)
    return Diagnostics(table, div, problems)


def _arviz():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # ArviZ announces its refactor on import
        import arviz

    return arviz
