"""Compile once: after one patient is calibrated (Laplace) and compared (the standard regimens), a
second patient whose record pads to the same bucketed sizes (other numbers of doses and scans, other
days and values, the same mutations) is calibrated and compared without tracing any of the twin's
jitted entry points again.

This is the test form of "``eqx.debug.assert_max_traces`` on every jitted entry point the twin
uses": the library itself must not raise on a retrace (a user legitimately calls it with many shapes).

How tracing is counted: JAX records the ``jax.monitoring`` event :data:`TRACE_EVENT`, with the
traced function's name, each time ``jax.jit`` (or ``eqx.filter_jit``) traces a function at the top
level; a tracing-cache hit records nothing. The twin's jitted entry points are the functions the
packages compile, found in their source (:func:`jitted_functions`). Eager operations on arrays whose
sizes follow the record (the record's own RECIST, its predictive check) trace JAX's own functions,
not the packages': they are listed in the failure message but not asserted on. On failure the
message names each entry point that traced again, with JAX's explanation of the cache miss
(``jax.explain_cache_misses``: which argument changed).
"""

import ast
import logging
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import jax
import jax.numpy as jnp

from mechanistic import bucket
from twin import DigitalTwin, example_patient
from twin.record import Dose, Observation, PatientRecord

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mechanistic", "inference", "scenarios", "twin")
TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"  # jax._src.dispatch.JAXPR_TRACE_EVENT
TWIN_ENTRY_POINTS = {"_lbfgs_restarts", "_gaussian_draws", "_solve_history", "_simulate_draws"}
DAYS, N_DRAWS = 112, 20  # as `twin demo` in test_cli: the same compiled programs


def _is_jit(node: ast.expr) -> bool:
    """``jax.jit``, ``eqx.filter_jit`` (any spelling ending so) or a ``partial`` of one."""
    if isinstance(node, ast.Call):
        return bool(node.args) and ast.unparse(node.func).split(".")[-1] == "partial" and _is_jit(node.args[0])
    return isinstance(node, (ast.Name, ast.Attribute)) and ast.unparse(node).split(".")[-1] in ("jit", "filter_jit")


def jitted_functions() -> set[str]:
    """Names of the functions the packages jit-compile: decorated with ``jax.jit``,
    ``eqx.filter_jit`` or a ``partial`` of one, or passed to one by name (``eqx.filter_jit(solve)``)."""
    names = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if any(_is_jit(d) for d in node.decorator_list):
                        names.add(node.name)
                elif isinstance(node, ast.Call) and _is_jit(node.func) and node.args:
                    if isinstance(node.args[0], ast.Name):
                        names.add(node.args[0].id)
    return names


@contextmanager
def traces():
    """The names of the functions JAX traces at the top level inside the block, in order."""
    seen: list[str] = []

    def listen(event: str, duration: float, **kwargs) -> None:
        if event == TRACE_EVENT:
            seen.append(str(kwargs.get("fun_name", "?")))

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield seen
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


def second_patient(first: PatientRecord) -> PatientRecord:
    """Another patient in ``first``'s buckets: 3 diameter scans on 3 days instead of 4 on 4 (both
    pad to 4), the last on day 150 instead of 154, 150 daily erlotinib doses instead of 154 (both
    pad to 160), other values, the same mutations."""
    observations = [
        Observation(-10.0, "diameter", 38.2, "mm"),
        Observation(-10.0, "resistant_fraction", 0.005, "1", "below_detection"),
        Observation(56.0, "diameter", 31.0, "mm"),
        Observation(150.0, "diameter", 29.4, "mm"),
        Observation(150.0, "resistant_fraction", 0.0412, "1"),
    ]
    doses = [Dose(float(t), "erlotinib", 150.0) for t in range(150)]
    return PatientRecord("EX-002", observations, doses, first.covariates, first.mutations)


def calibrate_and_compare(record: PatientRecord):
    twin = DigitalTwin.from_record(record).calibrate(method="laplace", seed=0)
    return twin, twin.compare(days=DAYS, n_draws=N_DRAWS)


def test_jitted_entry_points_are_found_and_traces_are_counted():
    """The guard of the test below is not vacuous: the source scan finds the twin's entry points,
    and the listener sees a trace (a function jitted here, traced once, then a cache hit)."""
    assert TWIN_ENTRY_POINTS <= jitted_functions()

    @jax.jit
    def canary(x):
        return x + 1.0

    with traces() as seen:
        canary(jnp.ones(3))
        canary(jnp.zeros(3))
    assert seen.count("canary") == 1, seen


def test_a_second_patient_of_the_same_buckets_traces_no_jitted_entry_point_again(caplog):
    first = example_patient()
    second = second_patient(first)
    n_scans = lambda r: sum(o.observable == "diameter" for o in r.observations)  # noqa: E731
    assert (len(first.doses), n_scans(first)) == (154, 4) and (len(second.doses), n_scans(second)) == (150, 3)
    assert bucket(len(first.doses)) == bucket(len(second.doses)) and bucket(4, minimum=4) == bucket(3, minimum=4)
    assert second.mutations == first.mutations

    calibrate_and_compare(first)  # traces (and compiles or loads) what the twin needs, where not yet done
    with caplog.at_level(logging.WARNING), jax.explain_cache_misses(True), traces() as seen:
        twin, result = calibrate_and_compare(second)

    assert twin.now == 150.0 and len(result.table) == 5  # the standard regimens, ranked
    entry_points = jitted_functions()
    retraced = Counter(name for name in seen if name in entry_points)
    if retraced:
        names = ", ".join(f"{name} ({n}x)" for name, n in retraced.items())
        misses = [r.getMessage() for r in caplog.records if r.getMessage().startswith("TRACING CACHE MISS")]
        why = [m for m in misses if any(f"for {name} defined" in m or f"{name} id=" in m for name in retraced)]
        eager = Counter(name for name in seen if name not in retraced)
        raise AssertionError(
            f"the second patient traced the twin's jitted entry point(s) {names} again; JAX's explanation "
            "(explain_cache_misses) of each miss:\n"
            + "\n".join(why or misses or ["(none logged)"])
            + f"\n(not asserted: eager operations traced for the new record's sizes: {dict(eager)})"
        )
