"""The adaptive engine: diffrax's error-controlled steps (Tsit5 by default), with dose events as
``jump_ts`` (no step straddles a discontinuity in the drug input) and absorption times as
``step_ts`` (no step jumps over an absorption peak). Uses diffrax's public API only; failures come
back as this module's result codes (:data:`FAILURES`), never raised inside a trace."""

from __future__ import annotations

import diffrax
import jax
import jax.numpy as jnp

SUCCESS = 0

# result code -> (diffrax outcome, what it means); code 0 is success, the last code any other failure
FAILURES: dict[int, tuple[str, str]] = {
    1: ("max_steps_reached", "the solver reached its step limit"),
    2: ("dt_min_reached", "the step size fell below its minimum"),
    3: ("nonlinear_divergence", "an implicit solver's nonlinear solve diverged"),
    4: ("nonlinear_max_steps_reached", "an implicit solver's nonlinear solve did not converge"),
    5: ("singular", "a linear solve met a singular matrix"),
    6: ("breakdown", "a linear solve broke down"),
}
OTHER_FAILURE = len(FAILURES) + 1


def failure_reason(code: int) -> str:
    """What a non-zero result code of :func:`solve_adaptive` means."""
    return FAILURES.get(code, (None, "the solver failed"))[1]


def result_code(result) -> jax.Array:
    """A diffrax ``RESULTS`` value as an int code: 0 success, else a key of :data:`FAILURES`."""
    failed = [result == getattr(diffrax.RESULTS, name) for name, _ in FAILURES.values()]
    code = jnp.select(failed, jnp.asarray(list(FAILURES)), OTHER_FAILURE)
    return jnp.where(result == diffrax.RESULTS.successful, SUCCESS, code)


def solve_adaptive(vector_field, y0: jax.Array, t0, ts: jax.Array, jump_ts, step_ts, options):
    """States ``(T, dim)`` at the output times ``ts`` from ``y0`` at ``t0``, the result code and the
    number of steps. ``vector_field(t, y, args)``; ``jump_ts``/``step_ts``: arrays of times or None
    (no drug input); ``options``: a :class:`~mechanistic.solver.SolverOptions`."""
    controller = diffrax.PIDController(rtol=options.rtol, atol=options.atol)
    if jump_ts is not None:
        controller = diffrax.ClipStepSizeController(controller, jump_ts=jump_ts, step_ts=step_ts)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field),
        options.solver,
        t0=t0,
        t1=ts[-1],
        dt0=None,
        y0=y0,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=controller,
        max_steps=options.max_steps,
        adjoint=diffrax.RecursiveCheckpointAdjoint(checkpoints=options.checkpoints),
        throw=False,
    )
    return sol.ys, result_code(sol.result), sol.stats["num_steps"]
