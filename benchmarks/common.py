"""What the benchmarks share: where their JSON goes (``--out``), the compilation cache of the
scripts that run ``twin`` in a subprocess (``--cache``), and compile time from JAX's own events,
for benchmarks that report compile and run time apart. Imports without JAX (the scripts
that time ``twin`` in a subprocess never load it)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"  # git-ignored

COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


def add_out_option(parser: argparse.ArgumentParser) -> None:
    """``--out DIR`` (default ``benchmarks/results/``): the folder the JSON is written to, or,
    ending in ``.json``, the file itself."""
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        metavar="DIR",
        help="folder for the JSON (default benchmarks/results/), or a file name ending in .json",
    )


def add_cache_option(parser: argparse.ArgumentParser) -> None:
    """``--cache DIR`` for the scripts that time ``twin`` in a fresh process: the compilation cache
    (``TWIN_CACHE_DIR``) of those runs; default none, i.e. a new empty folder (a real first run)."""
    parser.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="compilation cache of the twin runs instead of a new empty folder (the first run is then not cold)",
    )


def result_path(out: Path | str, name: str) -> Path:
    """The file the JSON ``name`` goes to under ``--out`` (``out`` itself when it ends in ``.json``)."""
    out = Path(out)
    return out if out.suffix == ".json" else out / name


def write_json(out: Path | str, name: str, record, **dumps) -> Path:
    """Write ``record`` as JSON (``json.dumps`` options ``dumps``, default ``indent=2``) to
    :func:`result_path`, creating its folder; returns the path."""
    path = result_path(out, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, **{"indent": 2, **dumps}) + "\n")
    return path


class CompileClock:
    """Records the spans JAX spends tracing, lowering and compiling (``jax.monitoring`` events) from
    its creation on; :meth:`seconds` adds them up within a window."""

    def __init__(self):
        import jax

        self.intervals: list[tuple[float, float]] = []
        jax.monitoring.register_event_duration_secs_listener(self._record)

    def _record(self, event, duration, **_):
        if event in COMPILE_EVENTS:
            end = time.perf_counter()
            self.intervals.append((end - duration, end))

    def seconds(self, t0: float, t1: float) -> float:
        """Seconds within [t0, t1] (``time.perf_counter``) spent compiling (nested events counted once)."""
        spans = sorted((max(a, t0), min(b, t1)) for a, b in self.intervals if b > t0 and a < t1)
        total, end = 0.0, float("-inf")
        for a, b in spans:
            if b > end:
                total += b - max(a, end)
                end = b
        return total
