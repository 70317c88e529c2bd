"""Gradient-based regimen optimisation with optax.

Regimen parameters (dose levels, thresholds of smooth adaptive policies, ...) are tuned to
maximise an expected utility over parameter draws. Endpoints defined by a first crossing are
step functions of the parameters, so the optimiser works on a smooth surrogate
(:func:`soft_time_to_threshold`); report the optimum re-evaluated with the exact rule beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def soft_time_to_threshold(times, burden, factor: float = 1.2, reference=None, sharpness: float = 0.01):
    """Smooth time (day) until ``burden > factor x reference``: the area under a soft survival
    curve ``prod_s (1 - sigmoid((burden_s - factor ref) / (sharpness ref)))``. Tends to the exact
    first-crossing time on the grid as ``sharpness -> 0``; censored at the horizon."""
    ref = burden[0] if reference is None else reference
    hazard = jax.nn.sigmoid((burden - factor * ref) / (sharpness * ref))
    survival = jnp.cumprod(1.0 - hazard)
    dt = jnp.diff(times)
    return jnp.sum(survival[:-1] * dt)


class OptimisationResult(NamedTuple):
    params: object  # the optimised pytree
    values: jax.Array  # objective at each step (steps,)


def maximise(
    objective: Callable[[object], jax.Array],
    params,
    *,
    steps: int = 100,
    optimizer: optax.GradientTransformation | None = None,
    project: Callable[[object], object] = lambda p: p,
) -> OptimisationResult:
    """Projected gradient ascent of ``objective(params)`` with an optax optimizer (default Adam,
    learning rate 0.05). ``project`` maps parameters back into the feasible set after each step
    (e.g. clip a daily dose to its maximum, rescale to a cumulative-dose cap)."""
    if steps < 1:
        raise ValueError(f"steps={steps!r} must be >= 1")
    opt = optimizer or optax.adam(0.05)
    value_and_grad = jax.jit(jax.value_and_grad(objective))

    @jax.jit
    def update(params, state, grad):
        updates, state = opt.update(jax.tree.map(jnp.negative, grad), state, params)
        return project(optax.apply_updates(params, updates)), state

    state = opt.init(params)
    values = []
    for _ in range(steps):
        value, grad = value_and_grad(params)
        values.append(value)
        params, state = update(params, state, grad)
    return OptimisationResult(params, jnp.stack(values))
