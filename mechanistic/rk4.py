"""One step of the classical 4th-order Runge–Kutta method, shared by every fixed-step integrator
(:mod:`mechanistic.fixed_grid`, :mod:`mechanistic.lawson_grid`, :mod:`mechanistic.growth_laws`)."""

from __future__ import annotations

from collections.abc import Callable

import jax

Derivative = Callable[[jax.Array], jax.Array]


def rk4_step(begin: Derivative, middle: Derivative, end: Derivative, y: jax.Array, h) -> jax.Array:
    """``y`` advanced by one RK4 step of size ``h``: ``begin``, ``middle`` and ``end`` give the
    derivative at a state at the step's start, midpoint and end (closures over the time, or over
    whatever else the integrator evaluates at those stages)."""
    k1 = begin(y)
    k2 = middle(y + h / 2 * k1)
    k3 = middle(y + h / 2 * k2)
    k4 = end(y + h * k3)
    return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
