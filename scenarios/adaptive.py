"""Simulating a regimen: one solve for a fixed schedule, a decision loop for an adaptive one.

The decision loop is a ``lax.scan`` over decision intervals. At each decision time it
measures the burden (optionally with log-normal measurement noise), lets the policy set the
dose levels for the coming interval, writes the realised doses of that interval into the dose
table and integrates to the next decision, carrying the tumour and PK states. Closed-form PK
sees every dose given so far, so drug given before a hold keeps acting as it washes out.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import mechanistic as m
from mechanistic.checks import concrete
from scenarios.regimen import Regimen

MEASURES = ("volume", "diameter")


class Trajectory(NamedTuple):
    """A simulated regimen. Shapes: ``times (T,)`` day, ``clones (T, n_clones)`` mm^3,
    ``concentrations (T, n_drugs)`` mg/L (model drugs), ``decision_times (K,)``,
    ``measured (K,)`` burden read at each decision, ``levels (K, n_regimen_drugs)``,
    ``doses_given (n_doses,)`` mg per template row, ``cycles ()`` treatment resumptions
    (threshold policies; 0 otherwise), ``ok ()`` every solve succeeded."""

    times: jax.Array
    clones: jax.Array
    concentrations: jax.Array
    decision_times: jax.Array
    measured: jax.Array
    levels: jax.Array
    doses_given: jax.Array
    cycles: jax.Array
    ok: jax.Array


def output_times(days: int, output_every: float = 1.0) -> np.ndarray:
    """The output grid ``0, output_every, ..., days`` (day)."""
    n = round(days / output_every)
    if not math.isclose(n * output_every, days):
        raise ValueError(f"the horizon days={days!r} must be a multiple of output_every={output_every!r}")
    return output_every * np.arange(n + 1)


def with_grid_window(options: m.SolverOptions, regimen: Regimen, days: int) -> m.SolverOptions:
    """For a fixed step grid in a decision loop, set ``window`` to the most template rows in any
    decision interval, so that each interval steps only through its own doses. Needs a concrete
    (untraced) template; otherwise ``options`` is returned unchanged (every row: correct, slower)."""
    if options.grid is None or options.grid.window is not None or not regimen.adaptive:
        return options
    times = concrete(regimen.doses.time)
    if times is None:
        return options
    every = regimen.decision_every
    counts = [np.sum((times >= k * every) & (times <= (k + 1) * every)) for k in range(math.ceil(days / every))]
    fixed = dataclasses.replace(options.grid, window=max(1, int(max(counts))))
    return dataclasses.replace(options, grid=fixed)


def measure(clones: jax.Array, how: str | Callable) -> jax.Array:
    """The burden a policy reads from a state: ``how`` in :data:`MEASURES` (total volume in mm^3 or
    the diameter of a sphere of it in mm), or a function of the state (e.g. a family's PSA)."""
    if callable(how):
        return how(clones)
    volume = m.total_volume(clones)
    return volume if how == "volume" else m.longest_diameter(volume)


def simulate_regimen(
    model: m.DiseaseModel,
    y0: jax.Array,
    regimen: Regimen,
    days: int,
    *,
    output_every: float = 1.0,
    key: jax.Array | None = None,
    noise_sd: float = 0.0,
    measured_as: str | Callable = "volume",
    options: m.SolverOptions = m.SolverOptions(),
    pretreatment: jax.Array | float | None = None,
) -> Trajectory:
    """Simulate ``regimen`` for ``days`` from clone volumes ``y0`` (pure; jit/vmap it).

    ``noise_sd``: log-scale SD of the burden a policy reads; ``key``: the PRNG key of that noise,
    required where ``noise_sd`` > 0 and unused otherwise (a noiseless run draws nothing, and no
    key is ever chosen for the caller); ``measured_as``: which burden the policy reads
    (``"volume"`` in mm^3 or ``"diameter"`` in mm), or a function ``state (n,) -> burden`` (e.g.
    ``lambda y: family.observe(y)["psa"]``; ``pretreatment`` is then given in its units). The policy's
    baseline is the burden read at the first decision, or, for a regimen with
    ``baseline="pretreatment"``, ``pretreatment``: the total tumour volume before treatment began
    (mm^3; read as ``measured_as``, without measurement noise; ignored by other regimens). For
    reverse-mode gradients through many decision intervals, give ``options`` a small ``max_steps``
    (per interval): diffrax's checkpoint buffers scale with it, once per interval.
    """
    if not callable(measured_as) and measured_as not in MEASURES:
        raise ValueError(f"measured_as={measured_as!r}; valid: {MEASURES}")
    if regimen.adaptive and regimen.baseline == "pretreatment" and pretreatment is None:
        raise ValueError(
            f"regimen {regimen.description!r} decides against the pre-treatment burden: pass "
            "pretreatment= (total tumour volume before treatment, mm^3)"
        )
    if noise_sd and key is None:
        raise ValueError(
            f"noise_sd={noise_sd!r} > 0 draws measurement noise and needs key= (e.g. key=jax.random.key(seed)); "
            "no default key is used"
        )
    grid = output_times(days, output_every)
    if not regimen.adaptive:
        sol = m.solve(model, y0, regimen.doses, grid, options=options)
        ones = jnp.ones((1, len(regimen.drugs)))
        meas = measure(sol.clones[:1], measured_as)
        return Trajectory(
            sol.ts,
            sol.clones,
            sol.concentrations,
            jnp.zeros(1),
            meas,
            ones,
            regimen.doses.amount,
            jnp.asarray(0.0),
            sol.ok,
        )
    every = regimen.decision_every
    if every > days:
        raise ValueError(f"decision_every={every!r} is beyond the horizon days={days!r}: no decision would be made")
    n_sub = round(every / output_every)
    if n_sub < 1 or not math.isclose(n_sub * output_every, every):
        raise ValueError(f"decision_every={every!r} must be a positive multiple of output_every={output_every!r}")
    n_int = math.ceil(days / every)
    t_dec = every * jnp.arange(n_int)
    options = with_grid_window(options, regimen, days)
    sub = every * jnp.arange(0, n_sub + 1) / n_sub  # interval start, then n_sub output times
    template = regimen.doses
    n_drugs = len(regimen.drugs)
    keys = jax.random.split(key, n_int) if noise_sd else None  # noiseless: no key, none drawn
    y0 = jnp.asarray(y0, dtype=float)

    def read(clones, k):
        noise = jnp.exp(noise_sd * jax.random.normal(keys[k])) if noise_sd else 1.0
        return measure(clones, measured_as) * noise

    first = read(y0, 0)
    if regimen.baseline == "pretreatment":
        value = jnp.asarray(pretreatment, dtype=float)
        baseline = value if callable(measured_as) or measured_as == "volume" else m.longest_diameter(value)
    else:
        baseline = first
    policy = regimen.policy

    def interval(carry, k):
        clones, state, pstate, given = carry
        t = t_dec[k]
        measured = jnp.where(k == 0, first, read(clones, k))
        pstate, levels = policy.decide(pstate, measured, baseline, t)
        levels = jnp.broadcast_to(levels, (n_drugs,))
        now = (template.time >= t) & (template.time < t + every)
        given = jnp.where(now, template.amount * levels[template.drug], given)
        doses = eqx.tree_at(lambda d: d.amount, template, given)
        sol = m.solve(model, clones, doses, t + sub, t0=t, options=options, state0=state)
        out = (sol.clones, sol.concentrations, measured, levels, sol.ok)
        return (sol.clones[-1], sol.state, pstate, given), out

    state0 = m.initial_state(model, eqx.tree_at(lambda d: d.amount, template, jnp.zeros_like(template.amount)))
    init = (y0, state0, policy.init(n_drugs), jnp.zeros_like(template.amount))
    (_, _, pstate, given), (clones, conc, measured, levels, ok) = jax.lax.scan(interval, init, jnp.arange(n_int))
    n_out = len(grid)

    def stitch(x):  # (n_int, n_sub + 1, ...) -> (n_out, ...): the start once, then each interval's outputs
        return jnp.concatenate([x[0, :1], x[:, 1:].reshape(-1, *x.shape[2:])])[:n_out]

    clones, conc = stitch(clones), stitch(conc)
    cycles = pstate.cycles if hasattr(pstate, "cycles") else jnp.asarray(0.0)
    return Trajectory(jnp.asarray(grid), clones, conc, t_dec, measured, levels, given, cycles, jnp.all(ok))
