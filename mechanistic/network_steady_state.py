"""Quasi-steady state of a signalling network: the fixed point ``x = P(Bc(x))`` for the current
perturbation (mutations and drug levels), found by a root finder and differentiated by the
implicit function theorem (``jax.lax.custom_root``), so gradients never unroll the iterations.

Algorithm: Picard iterations ``x <- P(Bc(x))`` from ``x0`` (exact after ``depth + 1`` sweeps on
an acyclic network), then, for networks with cycles, pseudo-transient continuation: implicit
Euler steps of the dynamics whose step grows as the residual falls (switched evolution
relaxation), so that it follows the dynamics towards a stable state and ends as Newton's method.
The result is *converged* when the residual ``max |P(Bc(x)) - x|`` is below ``tol`` and, for
networks with cycles, the fixed point is stable for ``dx/dt = (P(Bc(x)) - x) / tau`` (all eigenvalues of the
Jacobian in the left half-plane: tested through the Cayley transform, which maps them into the
unit disc, and repeated squaring; runs on any device). A negative-feedback loop that oscillates
has no stable fixed point: it is reported as not converged, never returned as if it were one.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from mechanistic.network import Perturbation, SignallingNetwork


class NetworkConvergenceError(RuntimeError):
    """The quasi-steady-state solve found no stable fixed point."""


class SteadyStateOptions(eqx.Module):
    """``picard``/``newton``: Picard and continuation-Newton iteration counts (None: ``depth + 1``
    and 0 for acyclic networks, ``n_nodes`` and 40 with cycles). ``tol``: residual tolerance (activity units)."""

    picard: int | None = eqx.field(static=True, default=None)
    newton: int | None = eqx.field(static=True, default=None)
    tol: float = eqx.field(static=True, default=1e-8)


class SteadyState(eqx.Module):
    """``x (..., n)`` activities; ``residual (...)``; ``stable (...)``; ``converged (...)``."""

    x: jax.Array
    residual: jax.Array
    stable: jax.Array
    converged: jax.Array


def _counts(network: SignallingNetwork, options: SteadyStateOptions) -> tuple[int, int, bool]:
    acyclic = network.is_acyclic()
    picard = options.picard if options.picard is not None else (network.depth() + 1 if acyclic else network.n_nodes)
    newton = options.newton if options.newton is not None else (0 if acyclic else 40)
    return picard, newton, acyclic


def _is_stable(jac: jax.Array, tau: jax.Array, squarings: int = 48) -> jax.Array:
    """All eigenvalues of ``A = (jac - I) / tau`` have negative real part (with a small margin)."""
    n = jac.shape[-1]
    a = (jac - jnp.eye(n)) / tau[:, None]
    h = 1.0 / jnp.max(jnp.sum(jnp.abs(a), axis=-1))
    eye = jnp.eye(n)
    m = jnp.linalg.solve(eye - 0.5 * h * a, eye + 0.5 * h * a)  # Cayley: Re(lambda) < 0 <=> |mu| < 1

    def square(carry, _):
        mat, log_scale = carry
        mat = mat @ mat
        s = jnp.maximum(jnp.max(jnp.abs(mat)), 1e-300)
        return (mat / s, 2.0 * log_scale + jnp.log(s)), None

    (mat, log_scale), _ = jax.lax.scan(square, (m, jnp.asarray(0.0)), None, length=squarings)
    log_rho = log_scale / 2.0**squarings  # -> log spectral radius of m
    return log_rho < -1e-12


@eqx.filter_jit
def steady_state(
    network: SignallingNetwork,
    perturbation: Perturbation | None = None,
    x0: jax.Array | None = None,
    options: SteadyStateOptions = SteadyStateOptions(),
) -> SteadyState:
    """The fixed point reached from ``x0 (n,)`` (default: every node at 0.5, inputs at level).

    Pure and traceable (vmap it over perturbations; compiled once per network structure and
    options); never raises inside a trace: check ``converged`` or call :func:`check_steady_state`.
    """
    n = network.n_nodes
    pert = Perturbation.none(n) if perturbation is None else perturbation
    picard, newton, acyclic = _counts(network, options)
    start = jnp.full((n,), 0.5) if x0 is None else jnp.asarray(x0, dtype=float)

    def residual_fn(x):
        return network.target(x, pert) - x

    tau_rel = jax.lax.stop_gradient(network.tau / jnp.max(network.tau))

    def solve(f, x):
        x = jax.lax.fori_loop(0, picard, lambda _, y: f(y) + y, x)

        def ptc_step(_, carry):  # pseudo-transient continuation: implicit Euler steps that grow into Newton
            y, dt, prev = carry
            r = f(y)
            norm = jnp.max(jnp.abs(r))
            dt = jnp.clip(dt * prev / jnp.maximum(norm, 1e-300), 1e-3, 1e12)
            step = jnp.linalg.solve(jnp.diag(tau_rel / dt) - jax.jacfwd(f)(y), r)
            y = jnp.clip(y + jnp.where(jnp.all(jnp.isfinite(step)), step, 0.0), 0.0, 1.0)
            return y, dt, norm

        init = (x, jnp.asarray(1.0), jnp.max(jnp.abs(f(x))))
        return jax.lax.fori_loop(0, newton, ptc_step, init)[0]

    def tangent_solve(g, y):
        return jnp.linalg.solve(jax.jacfwd(g)(y), y)

    x = jax.lax.custom_root(residual_fn, start, solve, tangent_solve)
    xs = jax.lax.stop_gradient(x)
    res = jnp.max(jnp.abs(jax.lax.stop_gradient(residual_fn(xs))))
    if acyclic:
        stable = jnp.asarray(True)
    else:
        jac = jax.jacfwd(lambda y: network.target(y, jax.lax.stop_gradient(pert)))(xs)
        stable = _is_stable(jac, jax.lax.stop_gradient(network.tau))
    converged = (res < options.tol) & stable & jnp.all(jnp.isfinite(xs))
    return SteadyState(x, res, stable, converged)


def check_steady_state(state: SteadyState, what: str = "the network") -> SteadyState:
    """Raise :class:`NetworkConvergenceError` where ``state`` did not converge (concrete values)."""
    bad = ~jnp.asarray(state.converged)
    if bool(jnp.any(bad)):
        where = [tuple(int(i) for i in idx) for idx in jnp.argwhere(bad)]
        res = jnp.max(jnp.where(bad, state.residual, 0.0))
        unstable = bool(jnp.any(bad & ~state.stable))
        cause = (
            "the fixed point found is unstable (a feedback loop that oscillates or switches)"
            if unstable
            else f"the residual stayed at {float(res):.3g}"
        )
        at = f" at batch index {where[:5]}" if where and where[0] else ""
        raise NetworkConvergenceError(
            f"quasi-steady state of {what} did not converge{at}: {cause}. The network has no stable fixed "
            "point for these drug levels and mutations; simulate it in dynamic mode instead, or raise "
            "SteadyStateOptions(picard=..., newton=...)"
        )
    return state
