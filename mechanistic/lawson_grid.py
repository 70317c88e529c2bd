"""The Lawson engine: the dose-aligned grid of :mod:`mechanistic.fixed_grid`, integrated on log
clone volumes by a Lawson (integrating-factor) RK4 for tumour models with closed-form PK.

On ``x = log N``: ``dx/dt = g(N) F(t) + (M^T N) / N - L(t)`` with growth factor ``F`` and loss
``L`` from the tumour model's drug response. The loss, which follows the fast concentration
profile, is integrated exactly in time by Gauss–Legendre quadrature over each half step; RK4
handles only the volume-dependent growth."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.fixed_grid import AbstractGrid, left_limit
from mechanistic.rk4 import rk4_step


class LawsonGrid(AbstractGrid):
    """The dose-aligned grid integrated on log clone volumes by a Lawson RK4: the per-capita loss
    (drug kill, death, network apoptosis) is integrated by ``nodes``-point Gauss–Legendre
    quadrature over each half step; a growth-inhibition effect is sampled at the RK4 stages, so it
    relies on the grid resolving the concentration. Far fewer steps than
    :class:`~mechanistic.fixed_grid.FixedGrid` for the same accuracy under repeated dosing (on the
    shared reference problem: 3 steps a day, max relative error 4e-6). Closed-form PK only, no
    dynamic networks, and clone volumes must stay positive (a clone starting at 0 that receives
    mutation in-flow needs ``FixedGrid`` or adaptive steps)."""

    substeps: int = eqx.field(static=True, default=2)
    absorption_offsets: tuple[float, ...] = eqx.field(static=True, default=(0.25, 0.5, 1.0, 2.0, 4.0))
    window: int | None = eqx.field(static=True, default=None)
    nodes: int = eqx.field(static=True, default=5)

    def __check_init__(self):
        if not (isinstance(self.nodes, int) and 1 <= self.nodes <= 20):
            raise ValueError(f"LawsonGrid: nodes={self.nodes!r} must be an integer in [1, 20]")


def integrate(tumour, concentrations, n0: jax.Array, points: jax.Array, nodes: int) -> jax.Array:
    """Clone volumes ``(n_points, n_clones)`` at the grid ``points`` from ``n0 (n_clones,)``, for a
    tumour model without ODE states besides the clones; ``concentrations(t (P,)) -> (P, n_drugs)``.

    The tumour model gives its rates (:meth:`~mechanistic.tumour.TumourModel.drug_response`,
    ``growth_factor``, ``constant_loss_rate``, ``log_growth_rate`` and its kill effect's ``unit``
    and ``scale``); RK4
    integrates the growth with ``F`` at the stage times (the step end as a left limit, as in
    :func:`mechanistic.fixed_grid.integrate`)."""
    t, t_next = points[:-1], points[1:]
    h = t_next - t
    gx, gw = np.polynomial.legendre.leggauss(nodes)
    starts = jnp.stack([t, t + h / 2], axis=1)  # (steps, 2): the two half steps
    half = (h / 2)[:, None, None]
    quad_t = starts[..., None] + half * (gx + 1) / 2  # (steps, 2, nodes)
    conc = concentrations(quad_t.reshape(-1))

    def quadrature(values):  # (steps * 2 * nodes, ...) -> (steps, 2, ...)
        values = values.reshape(*quad_t.shape, *values.shape[1:])
        w = (gw / 2).reshape(-1, *([1] * (values.ndim - 3)))
        return jnp.sum(values * w, axis=2) * half.reshape(*half.shape[:2], *([1] * (values.ndim - 3)))

    kill = tumour.kill
    if tumour.network is None:
        # The loss (death + mutation out-flow + kill) is linear in the kill's scale (emax, slope):
        # integrate the unit effects, which depend only on concentrations and potency, and scale
        # them inside the step. Under vmap over patients who share PK and potency the quadrature
        # is done once, and no (patients, steps, nodes) array is formed.
        constant = tumour.constant_loss_rate()  # (n,)
        units = None if kill is None else quadrature(jax.vmap(kill.unit)(conc))  # (steps, 2, n, drugs)

        def half_step_loss(k, hh):
            loss = jnp.broadcast_to(constant * (hh / 2), (2, constant.shape[0]))
            return loss if units is None else loss + jnp.sum(kill.scale * units[k], axis=-1)  # (2, n)
    else:
        _, loss = jax.vmap(tumour.drug_response)(conc)
        integral = quadrature(loss)  # (steps, 2, n)

        def half_step_loss(k, hh):
            return integral[k]

    stage_t = jnp.stack([t, t + h / 2, left_limit(t_next, t)], axis=1)
    if tumour.network is None and tumour.growth_inhibition is None:
        factor = jnp.ones((*stage_t.shape, 1))  # no drug acts on growth (broadcasts over clones)
    elif tumour.network is None:  # shared by patients with the same PK and potency
        factor = jax.vmap(tumour.growth_factor)(concentrations(stage_t.reshape(-1)))
        factor = factor.reshape(*stage_t.shape, -1)  # (steps, 3, n)
    else:
        factor, _ = jax.vmap(tumour.drug_response)(concentrations(stage_t.reshape(-1)))
        factor = factor.reshape(*stage_t.shape, -1)

    def step(x, inputs):
        k, hh, (f0, fm, f1) = inputs  # (), (), (3, n or 1)
        i1, i2 = half_step_loss(k, hh)  # (n,) each: the loss integrated over each half step
        # RK4 on z = x + (loss integrated from the step's start): stage states shifted back to x
        x = rk4_step(
            lambda z: tumour.log_growth_rate(z, f0),
            lambda z: tumour.log_growth_rate(z - i1, fm),
            lambda z: tumour.log_growth_rate(z - i1 - i2, f1),
            x,
            hh,
        )
        x = x - i1 - i2
        return x, x

    x0 = jnp.log(n0)
    steps = (jnp.arange(h.shape[0]), h, factor)
    _, xs = jax.lax.scan(step, x0, steps, unroll=2)  # unroll: ~25% faster gradients, ~0.5 s more compile time
    return jnp.exp(jnp.concatenate([x0[None], xs]))
