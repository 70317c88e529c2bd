"""Fitting a numpyro model: MAP, Laplace approximation, NUTS (several chains, initialised at the
MAP), and diagnostics through ArviZ that warn, naming the problem and a remedy.

All work happens on numpyro's unconstrained space (``biject_to`` of each site's support); results come back
constrained, as ``{name: array}`` dicts or an ArviZ ``InferenceData`` with parameter units in
``attrs``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from numpyro import handlers
from numpyro.distributions.transforms import biject_to
from numpyro.infer import MCMC, NUTS, init_to_median, init_to_sample, init_to_value
from numpyro.infer.util import potential_energy


class CalibrationWarning(UserWarning):
    """A fit or sampler diagnostic failed (named in the message, with a remedy)."""


class MapResult(NamedTuple):
    """``params``: constrained MAP ``{name: value}``; ``unconstrained``: the same on numpyro's
    unconstrained space; ``log_density``: log joint at the MAP; ``grad_norm``: final gradient norm
    (unconstrained); ``converged``: ``grad_norm < tol``; ``problem``: why not, in words ("" when
    converged)."""

    params: dict
    unconstrained: dict
    log_density: float
    grad_norm: float
    converged: bool
    problem: str = ""


def _free_sites(model: Callable, key, model_args: tuple, strategy) -> dict:
    """``{name: (unconstrained value, transform)}`` of the latent sample sites, from one run of
    the model with values chosen by the numpyro init ``strategy`` (traceable)."""
    tr = handlers.trace(handlers.substitute(handlers.seed(model, key), substitute_fn=strategy)).get_trace(*model_args)
    sites = {}
    for name, site in tr.items():
        if site["type"] == "sample" and not site["is_observed"]:
            transform = biject_to(site["fn"].support)
            sites[name] = (transform.inv(site["value"]), transform)
    return sites


def _constrain(sites: dict, z: dict) -> dict:
    return {k: sites[k][1](v) for k, v in z.items()}


@partial(jax.jit, static_argnames=("model", "restarts", "steps", "tol"))
def _lbfgs_restarts(model, key, model_args, restarts: int, steps: int, tol: float):
    """L-BFGS from ``restarts`` starts (one after another); the data in ``model_args`` are arguments, so
    one compiled program serves every data set of the same shapes."""
    sites = _free_sites(model, key, model_args, init_to_median)
    flat0, unravel = ravel_pytree({k: v for k, (v, _) in sites.items()})
    draws = [
        ravel_pytree({k: v for k, (v, _) in _free_sites(model, k_, model_args, init_to_sample).items()})[0]
        for k_ in jax.random.split(jax.random.fold_in(key, 1), restarts - 1)
    ]
    # one nested jit: its trace is reused by the several places L-BFGS evaluates the potential
    f = jax.jit(lambda x: potential_energy(model, model_args, {}, unravel(x)))
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(f)

    def run(x):
        def step(carry):
            x, state = carry
            value, grad = value_and_grad(x, state=state)
            updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
            return optax.apply_updates(x, updates), state

        def going(carry):  # stop at the step limit or once the gradient is small (optax's L-BFGS recipe)
            count = optax.tree_utils.tree_get(carry[1], "count")
            gnorm = optax.tree_utils.tree_norm(optax.tree_utils.tree_get(carry[1], "grad"))
            return (count == 0) | ((count < steps) & (gnorm >= tol / 10))

        x, _ = jax.lax.while_loop(going, step, (x, opt.init(x)))
        value, grad = jax.value_and_grad(f)(x)
        return x, value, jnp.linalg.norm(grad)

    xs, values, gnorms = jax.lax.map(run, jnp.stack([flat0, *draws]))  # in turn: batching costs more to trace
    z = jax.vmap(unravel)(xs)
    return z, _constrain(sites, z), values, gnorms


def map_estimate(
    model: Callable, key, *, model_args: tuple = (), steps: int = 500, tol: float = 1e-4, restarts: int = 4,
    warn: bool = True,
) -> MapResult:  # fmt: skip
    """Maximum a posteriori by L-BFGS (optax) on the unconstrained space from ``restarts`` starts
    (the prior medians, then draws from the prior); the best one is returned. ``model_args``: the
    model's arguments (data as arrays: a new data set of the same shapes reuses the compiled
    fit). Not for starting a hierarchical model: its joint mode is degenerate (between-patient SD ->
    0, density -> infinity, in the centred form), so start NUTS there from the prior medians (the
    default). When the gradient norm stays above ``tol``, ``MapResult.problem`` says so (and, with
    ``warn``, a :class:`CalibrationWarning`)."""
    z, params, values, gnorms = _lbfgs_restarts(model, key, tuple(model_args), restarts, steps, tol)
    values = np.asarray(values)
    best = int(np.nanargmin(np.where(np.isfinite(values), values, np.nan)))
    gnorm = float(gnorms[best])
    converged = bool(gnorm < tol)
    problem = "" if converged else (
        f"MAP did not converge: gradient norm {gnorm:.3g} > {tol} after {steps} L-BFGS steps; "
        "raise steps, or check that the priors and data are compatible"
    )  # fmt: skip
    if problem and warn:
        warnings.warn(problem, CalibrationWarning, stacklevel=2)
    pick = lambda tree: {k: np.asarray(v[best]) for k, v in tree.items()}  # noqa: E731
    return MapResult(pick(params), pick(z), -float(values[best]), gnorm, converged, problem)


@partial(jax.jit, static_argnames=("model", "num_samples"))
def _gaussian_draws(model, key, model_args, z: dict, num_samples: int):
    sites = _free_sites(model, key, model_args, init_to_median)
    flat, unravel = ravel_pytree(z)
    grad = jax.grad(lambda x: potential_energy(model, model_args, {}, unravel(x)))
    # column by column (forward over reverse) without vmap: batching costs more to trace than it saves here
    hess = jax.lax.map(lambda v: jax.jvp(grad, (flat,), (v,))[1], jnp.eye(flat.size))
    cov = jnp.linalg.inv(0.5 * (hess + hess.T))
    draws = jax.vmap(unravel)(jax.random.multivariate_normal(key, flat, cov, (num_samples,)))
    return draws, _constrain(sites, draws), jnp.min(jnp.linalg.eigvalsh(cov))


def laplace(
    model: Callable, fit: MapResult, key, *, model_args: tuple = (), num_samples: int = 1000,
    unconstrained: bool = False,
) -> dict:  # fmt: skip
    """Draws ``{name: (num_samples,)}`` from the Laplace approximation at the MAP (Gaussian on the
    unconstrained space with the inverse Hessian of the negative log joint as covariance), returned
    constrained (``unconstrained=True``: on numpyro's unconstrained space, e.g. to start NUTS chains
    dispersed as the posterior: ``nuts(init_unconstrained=...)``)."""
    z = {k: jnp.asarray(v) for k, v in fit.unconstrained.items()}
    free, draws, min_eig = _gaussian_draws(model, key, tuple(model_args), z, num_samples)
    if not float(min_eig) > 0:
        raise ValueError(
            "the Hessian at the MAP is not positive definite: the MAP is not a maximum or a "
            "parameter is not identified; fix it or use nuts()"
        )
    return {k: np.asarray(v) for k, v in (free if unconstrained else draws).items()}


def nuts(
    model: Callable,
    key,
    *,
    chains: int = 4,
    warmup: int = 1000,
    samples: int = 1000,
    init: MapResult | Mapping | None = None,
    init_unconstrained: Mapping | None = None,
    target_accept: float = 0.8,
    dense_mass: bool = False,
    chain_method: str = "vectorized",
    progress_bar: bool = False,
    model_args: tuple = (),
) -> MCMC:
    """NUTS with ``chains`` chains (vectorised on one device by default), initialised at ``init``
    (a :class:`MapResult` or ``{name: value}``; default the prior medians, jittered per chain by
    numpyro) or at ``init_unconstrained`` ``{site: (chains,)}`` (one start per chain on the
    unconstrained space, e.g. ``laplace(..., unconstrained=True)``). ``dense_mass``: adapt a full
    mass matrix (for strongly correlated parameters). ``model_args``: the model's arguments (data
    as arrays, see :func:`map_estimate`)."""
    values = init.params if isinstance(init, MapResult) else init
    strategy = init_to_value(values=dict(values)) if values is not None else init_to_median
    kernel = NUTS(model, target_accept_prob=target_accept, init_strategy=strategy, dense_mass=dense_mass)
    mcmc = MCMC(
        kernel,
        num_warmup=warmup,
        num_samples=samples,
        num_chains=chains,
        chain_method=chain_method,
        progress_bar=progress_bar,
    )
    starts = None
    if init_unconstrained is not None:
        starts = {k: jnp.asarray(v) if chains > 1 else jnp.asarray(v)[0] for k, v in init_unconstrained.items()}
    mcmc.run(key, *model_args, init_params=starts, extra_fields=("diverging",))
    return mcmc


class WarmStart(NamedTuple):
    """Where a NUTS run ended, as plain arrays (saved with a twin): unconstrained positions
    ``z`` {site: (chains,)}, adapted ``step_size`` (chains,), the chains' mean
    ``inverse_mass_matrix`` {tuple of sites: (n,) diagonal or (n, n) dense}, and the run's
    ``samples`` per chain."""

    z: dict
    step_size: np.ndarray
    inverse_mass_matrix: dict
    samples: int

    def to_dataset(self):
        """As an ``xarray.Dataset`` that NetCDF can hold: variables ``warm_z__SITE`` and
        ``warm_step_size`` (dim ``warm_chain``), ``warm_inverse_mass_matrix`` (``warm_site`` and, when
        dense, ``warm_site_``); attrs ``warm_sites`` (JSON) and ``warm_samples``. One mass-matrix
        block (numpyro's default for a model's sites)."""
        import json

        import xarray as xr

        (sites, imm), *more = self.inverse_mass_matrix.items()
        if more:
            raise ValueError(f"WarmStart.to_dataset: one mass-matrix block supported; got {len(more) + 1}")
        data = {f"warm_z__{site}": (("warm_chain",), np.asarray(z)) for site, z in self.z.items()}
        data["warm_step_size"] = (("warm_chain",), np.asarray(self.step_size))
        dims = ("warm_site", "warm_site_") if np.ndim(imm) == 2 else ("warm_site",)
        data["warm_inverse_mass_matrix"] = (dims, np.asarray(imm))
        return xr.Dataset(data, attrs={"warm_sites": json.dumps(list(sites)), "warm_samples": int(self.samples)})

    @classmethod
    def from_dataset(cls, ds) -> WarmStart | None:
        """The :class:`WarmStart` that :meth:`to_dataset` wrote into ``ds`` (None if it holds none)."""
        import json

        if "warm_step_size" not in ds:
            return None
        sites = tuple(json.loads(ds.attrs["warm_sites"]))
        return cls(
            z={str(v)[len("warm_z__") :]: ds[v].values for v in ds.data_vars if str(v).startswith("warm_z__")},
            step_size=ds["warm_step_size"].values,
            inverse_mass_matrix={sites: ds["warm_inverse_mass_matrix"].values},
            samples=int(ds.attrs["warm_samples"]),
        )


def warm_start(mcmc: MCMC) -> WarmStart:
    """The :class:`WarmStart` of a finished run."""
    state = mcmc.last_state
    batched = mcmc.num_chains > 1
    imm = {
        k: np.asarray(v).mean(axis=0) if batched else np.asarray(v)
        for k, v in state.adapt_state.inverse_mass_matrix.items()
    }
    step = np.atleast_1d(np.asarray(state.adapt_state.step_size, dtype=float))
    z = {k: np.atleast_1d(np.asarray(v)) if batched else np.asarray(v)[None] for k, v in state.z.items()}
    return WarmStart(z, step, imm, int(mcmc.num_samples))


def update(
    model: Callable,
    previous: MCMC | WarmStart,
    key,
    *,
    warmup: int = 200,
    samples: int | None = None,
    target_accept: float = 0.8,
    model_args: tuple = (),
) -> MCMC:
    """Sequential updating: NUTS on ``model`` (the same parameters, more data — e.g. a new scan)
    warm-started from ``previous`` (a finished run or its :class:`WarmStart`): each chain starts
    where it ended, with the chains' mean step size and mass matrix (kept fixed), so a short
    ``warmup`` re-tunes only the step size. ``samples`` per chain default to the previous run's.
    Check the result with :func:`diagnose` as usual."""
    ws = warm_start(previous) if isinstance(previous, MCMC) else previous
    chains = len(ws.step_size)
    step = float(np.mean(ws.step_size))
    imm = {k: jnp.asarray(v) for k, v in ws.inverse_mass_matrix.items()}
    dense = any(v.ndim == 2 for v in imm.values())
    kernel = NUTS(model, step_size=step, inverse_mass_matrix=imm, adapt_mass_matrix=False,
                  target_accept_prob=target_accept, dense_mass=dense)  # fmt: skip
    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=samples or ws.samples, num_chains=chains,
                chain_method="vectorized", progress_bar=False)  # fmt: skip
    z = {k: jnp.asarray(v) if chains > 1 else jnp.asarray(v)[0] for k, v in ws.z.items()}
    mcmc.run(key, *model_args, init_params=z, extra_fields=("diverging",))
    return mcmc


def to_inference_data(mcmc: MCMC, units: Mapping[str, str] | None = None, *, log_likelihood: bool = True):
    """ArviZ ``InferenceData`` (dims chain, draw) with each parameter's unit in its ``attrs``.
    ``log_likelihood=False`` skips the pointwise log-likelihood group (needed for LOO/WAIC only):
    ArviZ computes it by re-running the model per draw, minutes for a large cohort."""
    az = import_arviz()
    idata = az.from_numpyro(mcmc, log_likelihood=log_likelihood)
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
    az = import_arviz()
    table = az.summary(idata, kind="diagnostics", round_to="none")
    problems = []
    checks = (
        ("r_hat", lambda v: v > max_rhat, f"R-hat > {max_rhat} (chains disagree): run longer warm-up, "
         "initialise at the MAP, or reparameterise", "max"),
        ("ess_bulk", lambda v: v < min_ess, f"bulk ESS < {min_ess:.0f}: draw more samples", "min"),
        ("ess_tail", lambda v: v < min_ess, f"tail ESS < {min_ess:.0f}: draw more samples", "min"),
    )  # fmt: skip
    for column, fails, advice, worst in checks:
        values = table[column].astype(float).fillna(np.inf if worst == "max" else -np.inf)  # NaN fails
        bad = values[fails(values)]
        if len(bad):
            name = bad.idxmax() if worst == "max" else bad.idxmin()
            problems.append(f"{advice} — {len(bad)} of {len(values)} quantities, worst {name} ({bad[name]:.3g})")
    div = int(np.asarray(idata.sample_stats["diverging"]).sum()) if "diverging" in idata.sample_stats else 0
    if div:
        problems.append(
            f"{div} divergent transition(s): raise target_accept (e.g. 0.95) or reparameterise "
            "(non-centred random effects)"
        )
    if warn and problems:
        warnings.warn("sampler diagnostics failed:\n  " + "\n  ".join(problems), CalibrationWarning, stacklevel=2)
    return Diagnostics(table, div, problems)


def import_arviz():
    """The ``arviz`` module, imported without its refactor announcement (a FutureWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # ArviZ announces its refactor on import
        import arviz

    return arviz
