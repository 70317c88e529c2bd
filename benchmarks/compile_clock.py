"""Compile time from JAX's own events, for benchmarks that report compile and run time apart."""

from __future__ import annotations

import time

import jax
import numpy as np

COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


class CompileClock:
    """Records the spans JAX spends tracing, lowering and compiling (``jax.monitoring`` events) from
    its creation on; :meth:`seconds` adds them up within a window."""

    def __init__(self):
        self.intervals: list[tuple[float, float]] = []
        jax.monitoring.register_event_duration_secs_listener(self._record)

    def _record(self, event, duration, **_):
        if event in COMPILE_EVENTS:
            end = time.perf_counter()
            self.intervals.append((end - duration, end))

    def seconds(self, t0: float, t1: float) -> float:
        """Seconds within [t0, t1] (``time.perf_counter``) spent compiling (nested events counted once)."""
        spans = sorted((max(a, t0), min(b, t1)) for a, b in self.intervals if b > t0 and a < t1)
        total, end = 0.0, -np.inf
        for a, b in spans:
            if b > end:
                total += b - max(a, end)
                end = b
        return total
