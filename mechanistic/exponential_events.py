"""Exact evaluation of sums of exponentials switched on at event times.

Linear pharmacokinetics is superposition: the concentration is a sum, over dose events
``e`` with ``s_e <= t``, of ``const_e + sum_i coeff_{e,i} * exp(-rate_i * (t - s_e))``.
:func:`accumulate` folds the events once in time order (a parallel scan), after which
:func:`evaluate` costs O(log n_events) per time point — cheap enough to call inside an
ODE right-hand side — and stays exact and differentiable in event times and coefficients.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class ExponentialEvents(NamedTuple):
    """Events with exponential responses. Shapes: ``times (E,)``, ``coeffs (E, m)``,
    ``const (E,)``, ``rates (m,)`` (1/day)."""

    times: jax.Array
    coeffs: jax.Array
    const: jax.Array
    rates: jax.Array


class AccumulatedEvents(NamedTuple):
    """Running sums just after each event (sorted by time): ``times (E,)``, ``state (E, m)``,
    ``const (E,)``, ``rates (m,)``."""

    times: jax.Array
    state: jax.Array
    const: jax.Array
    rates: jax.Array


def accumulate(events: ExponentialEvents) -> AccumulatedEvents:
    """Sort events by time and fold them into running sums (once per schedule).

    ``state_k = state_{k-1} * exp(-rate * (s_k - s_{k-1})) + coeff_k`` is a linear recurrence,
    evaluated with a parallel (associative) scan: O(log E) depth, vectorised, differentiable.
    """
    order = jnp.argsort(events.times, stable=True)
    times = events.times[order]
    coeffs = events.coeffs[order]
    const = jnp.cumsum(events.const[order])
    gaps = jnp.diff(times, prepend=times[:1])
    decay = jnp.exp(-events.rates * gaps[:, None])  # (E, m)

    def combine(left, right):
        (a1, b1), (a2, b2) = left, right
        return a1 * a2, b1 * a2 + b2

    _, state = jax.lax.associative_scan(combine, (decay, coeffs))
    return AccumulatedEvents(times, state, const, events.rates)


def evaluate(acc: AccumulatedEvents, t: jax.Array) -> jax.Array:
    """Value of the event sum at time(s) ``t`` (any shape); zero before the first event."""
    t = jnp.asarray(t)
    k = jnp.searchsorted(acc.times, t, side="right", method="scan") - 1
    started = k >= 0
    k = jnp.maximum(k, 0)
    dt = jnp.maximum(t - acc.times[k], 0.0)
    decay = jnp.exp(-acc.rates * dt[..., None])
    value = acc.const[k] + jnp.sum(acc.state[k] * decay, axis=-1)
    return jnp.where(started, value, 0.0)
