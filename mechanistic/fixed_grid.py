"""A fixed, dose-aligned step grid: a fast alternative to adaptive stepping for batches.

Steps land on every output time (each gap split into ``substeps``), on every dose event and at
``absorption_offsets`` absorption times (``c / ka``) after every oral dose, where the drug input
changes fastest. The classical 4th-order Runge–Kutta method integrates between grid points.
There is no error control: validate the grid against the adaptive solver for your model and
schedule (the tests do so for the flagship model), and keep output times dense (e.g. daily).

Why: under ``vmap`` the adaptive controller's bookkeeping dominates the cost of these small
ODEs, and on a shared grid the drug concentrations are computed once for all parameter draws.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.checks import concrete
from mechanistic.rk4 import rk4_step


class AbstractGrid(eqx.Module):
    """A dose-aligned step grid (abstract; :class:`FixedGrid` and
    :class:`~mechanistic.lawson_grid.LawsonGrid` integrate on it). ``substeps``: steps per gap
    between output times; ``absorption_offsets``: extra points ``c / ka`` after each oral dose;
    ``window``: the most dose rows that fall inside one solve (decision loops set it so that each
    interval steps only through its own doses); None uses every row."""

    substeps: eqx.AbstractVar[int]
    absorption_offsets: eqx.AbstractVar[tuple[float, ...]]
    window: eqx.AbstractVar[int | None]

    def __check_init__(self):
        name = type(self).__name__
        if not (isinstance(self.substeps, int) and self.substeps >= 1):
            raise ValueError(f"{name}: substeps={self.substeps!r} must be an integer >= 1")
        if any(not c > 0 for c in self.absorption_offsets):
            raise ValueError(f"{name}: absorption_offsets={self.absorption_offsets!r} must all be > 0")
        if self.window is not None and self.window < 1:
            raise ValueError(f"{name}: window={self.window!r} must be >= 1 or None")


class FixedGrid(AbstractGrid):
    """The grid integrated by classical RK4 on the full ODE state (any model)."""

    substeps: int = eqx.field(static=True, default=2)
    absorption_offsets: tuple[float, ...] = eqx.field(static=True, default=(0.25, 0.5, 1.0, 2.0, 4.0))
    window: int | None = eqx.field(static=True, default=None)


def in_window(times: jax.Array, t0, size: int | None) -> jax.Array:
    """The ``size`` smallest of the sorted ``times`` at or after ``t0`` (all when ``size`` is None)."""
    if size is None or size >= times.shape[0]:
        return times
    start = jnp.searchsorted(times, t0, side="left")
    padded = jnp.concatenate([times, jnp.full((size,), times[-1])])
    return jax.lax.dynamic_slice(padded, (start,), (size,))


def grid_points(ts: jax.Array, t0, extra: list[jax.Array], substeps: int) -> jax.Array:
    """Sorted step points: ``t0``, every output time with each gap split into ``substeps``, and the
    ``extra`` times clipped into ``[t0, ts[-1]]``.

    When every input is concrete (a schedule and output times known before tracing, as in a
    calibration) the grid is built in NumPy without duplicates; otherwise coinciding points (an
    output time on a dose time, clipped extras) stay in as zero-length steps, which change nothing
    but cost a step each."""
    values = [concrete(x) for x in (ts, t0, *extra)]
    if all(v is not None for v in values):
        ts_, t0_, *extra_ = (np.asarray(v, dtype=float) for v in values)
        starts = np.concatenate([np.reshape(t0_, (1,)), ts_[:-1]])
        sub = starts[:, None] + (ts_ - starts)[:, None] * (np.arange(substeps) / substeps)[None, :]
        pts = np.concatenate([sub.reshape(-1), ts_[-1:], *[np.clip(e, t0_, ts_[-1]) for e in extra_]])
        return jnp.asarray(np.unique(pts))
    starts = jnp.concatenate([jnp.reshape(t0, (1,)), ts[:-1]])
    frac = jnp.arange(substeps) / substeps
    sub = (starts[:, None] + (ts - starts)[:, None] * frac[None, :]).reshape(-1)
    pts = jnp.concatenate([sub, ts[-1:], *[jnp.clip(e, t0, ts[-1]) for e in extra]])
    return jnp.sort(pts)


def left_limit(t_next: jax.Array, t: jax.Array) -> jax.Array:
    """The time just before ``t_next`` (towards ``t``): where a step's end stage is evaluated, so that
    a dose or an on/off input switched at ``t_next`` acts from the next step. At 0 the next float
    down is a subnormal, which XLA on CPU flushes to 0 (the dose would act a step early: seen as a
    0.4% PSA error with a first observation before the first dose), so a small normal number is
    used there."""
    return jnp.where(t_next == 0.0, -1e-300, jnp.nextafter(t_next, t))


def integrate(vector_field, y0: jax.Array, points: jax.Array) -> jax.Array:
    """States ``(n_points, dim)`` at the grid ``points`` (``points[0]`` is the start), one RK4 step
    between consecutive points; ``vector_field(t, y, args)``. The step's end is evaluated as a left
    limit (just before a dose at that time)."""

    def step(y, ab):
        t, t_next = ab
        h = t_next - t
        y = rk4_step(
            lambda y: vector_field(t, y, None),
            lambda y: vector_field(t + h / 2, y, None),
            lambda y: vector_field(left_limit(t_next, t), y, None),
            y,
            h,
        )
        return y, y

    _, ys = jax.lax.scan(step, y0, (points[:-1], points[1:]))
    return jnp.concatenate([y0[None], ys])


def at_times(points: jax.Array, ys: jax.Array, ts: jax.Array) -> jax.Array:
    """Rows of ``ys`` at the grid points equal to ``ts`` (the last occurrence of each)."""
    idx = jnp.searchsorted(points, ts, side="right") - 1
    return ys[idx]
