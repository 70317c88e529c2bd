"""Solving a :class:`~mechanistic.model.DiseaseModel` under a dose schedule.

:func:`solve` is the pure, jit- and vmap-able array path used by inference: it never raises
inside a trace but returns a :class:`Solution` whose ``result`` code and ``ok`` flag report
failures. :func:`check_solution` turns a failed solution into a :class:`SolveError` that
names what went wrong and what to try.

This module assembles the ODE (drug input from the dose table, linear PK evaluated exactly inside
the vector field, network and tumour right-hand sides) and dispatches to one engine, each in its
own module: adaptive steps (:mod:`mechanistic.adaptive_steps`, the default), RK4 on a fixed
dose-aligned grid (:mod:`mechanistic.fixed_grid`) or the Lawson integrator on that grid
(:mod:`mechanistic.lawson_grid`). Float64 must be enabled by the caller (entry points and tests
do).
"""

from __future__ import annotations

from typing import NamedTuple

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic import fixed_grid, lawson_grid
from mechanistic.adaptive_steps import SUCCESS, failure_reason, solve_adaptive
from mechanistic.buckets import bucket, pad_repeating_last
from mechanistic.checks import check_range, concrete
from mechanistic.dosing import DoseTable
from mechanistic.exponential_events import accumulate, evaluate
from mechanistic.fixed_grid import AbstractGrid, at_times, grid_points, in_window
from mechanistic.lawson_grid import LawsonGrid
from mechanistic.model import DiseaseModel
from mechanistic.pk import DoseRows
from mechanistic.tumour import TumourModel


class SolverOptions(eqx.Module):
    """Tolerances and limits. ``rtol`` is relative; ``atol`` is absolute in the state's units
    (mm^3 for clones, mg for PK amounts). ``max_steps`` bounds the work of one solve.
    ``checkpoints`` is the number of steps stored for reverse-mode gradients (None: about
    log(max_steps), least memory; more checkpoints, less recomputation, faster gradients).
    ``grid``: a :class:`~mechanistic.fixed_grid.FixedGrid` or
    :class:`~mechanistic.lawson_grid.LawsonGrid` replaces adaptive stepping (faster, no error
    control; see those modules)."""

    rtol: float = 1e-8
    atol: float = 1e-9
    max_steps: int = eqx.field(static=True, default=100_000)
    checkpoints: int | None = eqx.field(static=True, default=None)
    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    grid: AbstractGrid | None = None  # None: adaptive steps (rtol/atol); else a fixed dose-aligned grid

    def __check_init__(self):
        for name in ("rtol", "atol"):
            check_range("SolverOptions", name, getattr(self, name), 0.0, strict=True)
        if not (isinstance(self.max_steps, int) and self.max_steps > 0):
            raise ValueError(f"SolverOptions: max_steps={self.max_steps!r} must be a positive integer")


class Solution(eqx.Module):
    """Trajectories at the requested times. Shapes (plus any leading batch dims):
    ``ts (T,)`` day, ``clones (T, n_clones)`` mm^3, ``concentrations (T, n_drugs)`` mg/L,
    ``result ()`` int (0 = success, else a key of ``mechanistic.adaptive_steps.FAILURES``), ``num_steps ()``,
    ``state (n_internal_states,)``: the ODE states besides clone volumes at ``ts[-1]`` (non-linear
    PK amounts, then network activities in dynamic mode), to continue a solve from there (e.g. in
    a decision loop)."""

    ts: jax.Array
    clones: jax.Array
    concentrations: jax.Array
    result: jax.Array
    num_steps: jax.Array
    state: jax.Array

    @property
    def ok(self) -> jax.Array:
        """True where the solve succeeded and every value is finite."""
        finite = jnp.all(jnp.isfinite(self.clones), axis=(-1, -2)) & jnp.all(
            jnp.isfinite(self.concentrations), axis=(-1, -2)
        )
        return (self.result == SUCCESS) & finite


class SolveError(RuntimeError):
    """An ODE solve failed (step limit, non-finite state, step size underflow)."""


def _drug_codes(model: DiseaseModel, doses: DoseTable) -> jax.Array:
    """Each dose row's drug as an index into ``model.drugs`` (raises on unknown drugs)."""
    unknown = [d for d in doses.drugs if d not in model.drugs]
    if unknown:
        raise ValueError(f"dose table gives drug(s) {unknown} unknown to the model; the model has drugs {model.drugs}")
    lookup = jnp.asarray([model.drugs.index(d) for d in doses.drugs], dtype=int)
    return lookup[doses.drug]


def _check_routes(model: DiseaseModel, doses: DoseTable, codes: jax.Array) -> None:
    """Raise before tracing if a (non-zero) dose uses a route its drug's PK model lacks."""
    route, drug, amount = concrete(doses.route), concrete(codes), concrete(doses.amount)
    if route is None or drug is None:
        return
    given = np.ones(route.shape, bool) if amount is None else amount != 0
    for j, (name, pk) in enumerate(zip(model.drugs, model.pk, strict=True)):
        pk.check_routes(route[(drug == j) & given], name)


def _drug_rows(model: DiseaseModel, doses: DoseTable | None) -> list[DoseRows]:
    """Each drug's dose rows (checked: known drugs, routes its PK model has)."""
    if doses is None and model.pk:
        raise ValueError(f"the model has drugs {model.drugs}: give a DoseTable (with zero amounts for no drug)")
    if doses is not None:
        codes = _drug_codes(model, doses)
        _check_routes(model, doses, codes)
    return [DoseRows.of(doses, codes == j) for j in range(len(model.pk))]


def _drug_inputs(model: DiseaseModel, doses: DoseTable | None):
    """Per drug: folded dose events, resolution times, dose rows; and ``concentrations(t, pk_state)``."""
    rows_list = _drug_rows(model, doses)
    accs = [accumulate(_events(pk, rows)) for pk, rows in zip(model.pk, rows_list, strict=True)]
    step_ts = [pk.resolution_times(rows) for pk, rows in zip(model.pk, rows_list, strict=True)]

    def concentrations(t, pk_state):
        out, i = [], 0
        for pk, acc in zip(model.pk, accs, strict=True):
            if pk.n_states:
                out.append(pk.concentration_from_state(pk_state[..., i : i + pk.n_states]))
                i += pk.n_states
            else:
                out.append(evaluate(acc, t))
        return jnp.stack(out, axis=-1) if out else jnp.zeros(jnp.shape(t) + (0,))

    return accs, step_ts, rows_list, concentrations


def _events(pk, rows: DoseRows):
    return pk.input_events(rows) if pk.n_states else pk.events(rows)


def _grid_extras(model: DiseaseModel, rows_list, t0, g: AbstractGrid) -> list[jax.Array]:
    """The grid's points besides the output times: dose events and absorption offsets."""
    t0 = jnp.asarray(t0, dtype=float)
    w = None if g.window is None else 2 * g.window  # two events per dose row
    extra = []
    for pk, rows in zip(model.pk, rows_list, strict=True):
        extra.append(in_window(jnp.sort(_events(pk, rows).times), t0, w))
        ka = pk.absorption_rate()
        if ka is not None:
            oral = in_window(jnp.sort(rows.start_times()), t0, g.window)
            extra += [oral + c / ka for c in g.absorption_offsets]
    return extra


def _grid(model: DiseaseModel, rows_list, ts: jax.Array, t0, g: AbstractGrid) -> jax.Array:
    """Step points of the fixed grid: output times, dose events and absorption offsets. Evaluated
    eagerly where the inputs are concrete, so a schedule known before tracing gives a static grid
    without duplicate points (see :func:`grid_points`)."""
    with jax.ensure_compile_time_eval():
        return grid_points(ts, jnp.asarray(t0, dtype=float), _grid_extras(model, rows_list, t0, g), g.substeps)


@eqx.filter_jit
def _compiled_grid_extras(model: DiseaseModel, doses: DoseTable | None, t0: jax.Array, g: AbstractGrid):
    return _grid_extras(model, _drug_rows(model, doses), t0, g)


def step_points(model: DiseaseModel, doses: DoseTable | None, ts, t0: float, options: SolverOptions) -> np.ndarray:
    """The fixed grid's step points ``(P,)`` (day) for concrete ``doses``, output times ``ts`` and
    start ``t0``, as :func:`solve` builds them (pad them with ``mechanistic.pad_repeating_last``:
    zero-length steps change nothing). Pass them to :func:`solve` as ``points``. The dose events
    come from one compiled program per model and dose count (not op by op)."""
    if options.grid is None:
        raise ValueError("step_points: SolverOptions.grid is None (adaptive steps have no step points)")
    if doses is not None:
        _check_routes(model, doses, _drug_codes(model, doses))  # before tracing, where the values are concrete
    t0 = np.asarray(t0, dtype=float)
    extra = [np.asarray(e) for e in _compiled_grid_extras(model, doses, jnp.asarray(t0), options.grid)]
    return np.asarray(grid_points(np.asarray(ts, dtype=float), t0, extra, options.grid.substeps))


class GridInputs(NamedTuple):
    """A patient's doses and fixed-grid step points as data (the inputs of a family's
    ``observables_at``): ``doses`` padded to a bucket size, ``points (P,)`` (day) padded by
    repeating the last. Solve with ``solve(..., doses=inputs.doses, t0=inputs.points[0],
    points=inputs.points)``."""

    doses: DoseTable
    points: jax.Array


def grid_inputs(model: DiseaseModel, doses: DoseTable, ts, t0: float, options: SolverOptions) -> GridInputs:
    """:class:`GridInputs` for concrete ``doses`` (in ``model``'s drugs; padded here to
    ``mechanistic.bucket(len(doses))`` with zero doses), sorted output times ``ts`` and start ``t0``
    (day): :func:`step_points` padded, so records of the same padded sizes share compiled programs."""
    doses = doses.pad(bucket(len(doses)))
    points = step_points(model, doses, ts, t0, options)
    return GridInputs(doses, jnp.asarray(pad_repeating_last(points)))


def _initial_state(model: DiseaseModel, concentrations, t0) -> jax.Array:
    pk0 = jnp.zeros((model.n_pk_states,))
    if model.n_internal_states == model.n_pk_states:
        return pk0
    return jnp.concatenate([pk0, model.tumour.network.initial_state(concentrations(t0, pk0))])


def initial_state(model: DiseaseModel, doses: DoseTable | None, t0: float = 0.0) -> jax.Array:
    """The default ``state0`` of :func:`solve` (no drug in non-linear PK; networks in dynamic mode
    at their quasi-steady state for the concentrations at ``t0``)."""
    return _initial_state(model, _drug_inputs(model, doses)[3], jnp.asarray(t0, dtype=float))


def solve(
    model: DiseaseModel,
    y0: jax.Array,
    doses: DoseTable | None,
    ts: jax.Array,
    *,
    t0: float = 0.0,
    options: SolverOptions = SolverOptions(),
    state0: jax.Array | None = None,
    points: jax.Array | None = None,
) -> Solution:
    """Simulate ``model`` from clone volumes ``y0 (n_clones,)`` (mm^3; the tumour's state in its
    units) at time ``t0`` (day)
    under ``doses`` (None: untreated), saving at sorted times ``ts (T,)`` with ``ts[0] >= t0``.

    Pure and traceable: jit it, vmap it over models, ``y0`` or dose tables (same shapes).
    The other ODE states start at ``state0 (n_internal_states,)`` (default: no drug on board in
    non-linear PK; networks in dynamic mode at their quasi-steady state at ``t0``); closed-form
    PK includes every dose in the table, also those before ``t0``. ``points``: a fixed grid's step
    points from :func:`step_points` (default: computed here from ``doses`` and ``ts``); giving them
    lets doses, ``ts`` and ``t0`` be traced data (padded to bucketed sizes: one compiled program
    serves every schedule of those sizes) without falling back to the traced grid.
    """
    with jax.ensure_compile_time_eval():  # output times known before tracing stay concrete (a static grid)
        ts = jnp.asarray(ts, dtype=float)
    accs, step_ts, rows_list, concentrations = _drug_inputs(model, doses)

    n_pk = model.n_pk_states
    n_int = model.n_internal_states
    tumour = model.tumour
    if n_pk == 0 and tumour is None:
        conc = concentrations(ts, None)
        n_t = ts.shape[0]
        return Solution(ts, jnp.zeros((n_t, 0)), conc, jnp.asarray(SUCCESS), jnp.asarray(0), jnp.zeros((0,)))

    y0 = jnp.asarray(y0, dtype=float)
    if state0 is None:
        state0 = _initial_state(model, concentrations, t0)
    z0 = jnp.reshape(y0 if tumour is None else tumour.to_solver(y0), (-1,))  # the tumour in solver coordinates
    y_init = jnp.concatenate([jnp.asarray(state0, dtype=float), z0])
    to_state = (lambda z: z) if tumour is None else tumour.from_solver

    def vector_field(t, y, args):
        pk_state, net_state, clones = y[:n_pk], y[n_pk:n_int], y[n_int:]
        conc = concentrations(t, pk_state)
        parts, i = [], 0
        for pk, acc in zip(model.pk, accs, strict=True):
            if pk.n_states:
                parts.append(pk.rhs(pk_state[i : i + pk.n_states], evaluate(acc, t)))
                i += pk.n_states
        if n_int > n_pk:
            parts.append(tumour.network.rhs(net_state, conc))
        if tumour is not None:
            parts.append(tumour.solver_rhs(clones, conc, net_state))
        return jnp.concatenate(parts)

    if points is not None and options.grid is None:
        raise ValueError("solve: points are the step points of a fixed grid; set SolverOptions.grid")
    if options.grid is None:
        jump_ts = jnp.concatenate([acc.times for acc in accs]) if accs else None
        step = jnp.concatenate(step_ts) if accs else None
        ys, code, n_steps = solve_adaptive(vector_field, y_init, t0, ts, jump_ts, step, options)
        return Solution(ts, to_state(ys[:, n_int:]), concentrations(ts, ys[:, :n_pk]), code, n_steps, ys[-1, :n_int])
    g = options.grid
    points = _grid(model, rows_list, ts, t0, g) if points is None else jnp.asarray(points, dtype=float)
    n_steps = jnp.asarray(points.shape[0] - 1)
    if isinstance(g, LawsonGrid):
        if not isinstance(tumour, TumourModel):
            raise ValueError(
                f"LawsonGrid needs a TumourModel (it reads its growth and loss rates); this model's tumour is "
                f"{'absent' if tumour is None else type(tumour).__name__}: use FixedGrid or adaptive steps"
            )
        if n_int:
            raise ValueError(
                "LawsonGrid needs a tumour model with closed-form PK and no dynamic network "
                f"(this model has {n_pk} PK and {n_int - n_pk} network ODE states); use FixedGrid or adaptive steps"
            )
        clones = lawson_grid.integrate(tumour, lambda t: concentrations(t, None), y0, points, g.nodes)
        conc = concentrations(ts, None)
        return Solution(ts, at_times(points, clones, ts), conc, jnp.asarray(SUCCESS), n_steps, jnp.zeros((0,)))
    ys = at_times(points, fixed_grid.integrate(vector_field, y_init, points), ts)
    conc = concentrations(ts, ys[:, :n_pk])  # non-finite states show in Solution.ok
    return Solution(ts, to_state(ys[:, n_int:]), conc, jnp.asarray(SUCCESS), n_steps, ys[-1, :n_int])


def check_solution(solution: Solution, options: SolverOptions | None = None) -> Solution:
    """Return ``solution`` if every solve in it succeeded, else raise :class:`SolveError`."""
    ok = np.asarray(solution.ok)
    if ok.all():
        return solution
    result = np.broadcast_to(np.asarray(solution.result), ok.shape)
    bad = np.argwhere(~ok)
    first = tuple(int(i) for i in bad[0])
    code = int(result[first])
    if code != SUCCESS:
        reason = failure_reason(code)
    else:
        reason = (
            "the state became non-finite (NaN or inf); check parameters for overflow, and for network-driven "
            "clones whether the network has a stable state at these drug levels (mechanistic.check_steady_state)"
        )
    where = f" at batch index {first}" if ok.ndim else ""
    limit = f" (max_steps={options.max_steps})" if options is not None else ""
    raise SolveError(
        f"{len(bad)} of {ok.size} solve(s) failed{where}: {reason}{limit}. "
        "Remedies: raise SolverOptions.max_steps, loosen rtol/atol, or check that parameters "
        "are physiological (e.g. growth rates in 1/day, not 1/hour)."
    )
