"""Every script in ``benchmarks/`` runs, with tiny sizes, so that none of them can rot (slow).

Each script runs as ``python benchmarks/NAME.py ...`` in a fresh process from the repository root,
on the CPU, writing its JSON to a temporary folder (``--out``), never into the repository; the test
checks the exit code and the JSON's main keys. The tiny sizes still take each script through its
whole code path, baseline included, except where noted in ``SCRIPTS``. The subprocesses share the
test session's JAX compilation cache (conftest's ``JAX_CACHE``; the scripts that time ``twin`` in a
fresh process get it as ``--cache`` instead of an empty folder) and cache every program, however
quick its compilation, so that a second run of this file mostly loads from disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
REFERENCE_PROBLEM = ROOT.parent / "shared" / "bench" / "reference_observations.csv"
HELPERS = {"common"}  # modules the scripts import, not benchmarks


@dataclass(frozen=True)
class Script:
    args: tuple[str, ...]  # the tiny sizes
    result: str  # the JSON file the script writes under --out
    keys: tuple[str, ...]  # its main keys
    data: Path | None = None  # a file outside the repository it needs (skips without)
    refdata: str | None = None  # a folder of ../shared/refdata it needs (skips without)
    cache_option: bool = False  # it runs `twin` in a subprocess: pass the compilation cache as --cache
    then: tuple[str, ...] = ()  # a second run ("{out}": the output folder), e.g. merging part files


# In an order that lets later scripts load what earlier ones compiled (the twin's Laplace fit first).
SCRIPTS = {
    "drug_screen": Script(
        ("--drugs", "8", "--repeats", "1", "--baseline", "2"),  # the 6 shipped drugs + 2 synthetic ones
        "drug_screen.json",
        ("treatments", "first_call_s", "warm_s", "baseline_one_at_a_time_per_treatment_s", "top5"),
    ),
    "nuts_replicates": Script(
        ("--patients", "1", "--method", "laplace"),  # NUTS (the default) takes minutes per patient
        "nuts_replicates.json",
        ("passed", "of", "coverage_90", "rows"),
        then=("--combine", "{out}/nuts_replicates.json"),
    ),
    "flaura_calibration": Script(
        ("--seeds", "1", "--trials", "1"),  # without --refit (~15 min)
        "flaura_calibration.json",
        ("published", "population", "trials", "checks", "example_twin_osimertinib"),
    ),
    "demo": Script(
        ("--draws", "10", "--days", "56"),
        "demo.json",
        ("runs", "target_s"),
        cache_option=True,
    ),
    "new_patient": Script(
        ("--new-patients", "dose_gap"),
        "new_patient.json",
        ("runs", "target_s"),
        cache_option=True,
    ),
    "virtual_trial": Script(
        ("--draws", "2", "--patients", "4", "--chunk", "8", "--baseline-patients", "2"),
        "virtual_trial.json",
        ("lawson_grid", "summary", "baseline_adaptive_tsit5"),
    ),
    "compare_regimens": Script(
        ("--draws", "4"),
        "compare_regimens.json",
        ("per_regimen", "warm_total_s", "accuracy_vs_tight_adaptive_50_draws", "ranking"),
    ),
    "reference_problem": Script(
        ("--batch", "8", "--scipy-solves", "1"),
        "reference_problem.json",
        ("ours", "ours_fixed_grid", "scipy_baseline"),
        data=REFERENCE_PROBLEM,
    ),
    "reference_nuts": Script(
        # no Stan (an optional environment, ~40 min) and no per-gradient profile (~80 s of adaptive solves)
        ("--chains", "2", "--warmup", "10", "--samples", "10", "--map-steps", "10", "--no-stan", "--no-profile"),
        "reference_nuts.json",
        ("map", "log_density_check", "accuracy_at_truth", "ours"),
        data=REFERENCE_PROBLEM,
    ),
    "population_svi": Script(
        ("--steps", "20", "--subset", "5", "--nuts-warmup", "10", "--nuts-samples", "10", "--draws", "20"),
        "population_svi.json",
        ("data_counts", "latent_variables", "cohort_svi", "subset", "least_squares"),
        refdata="laleh2022_sld",
    ),
}
NOT_RUN = {
    "stan_reference": "the Stan baseline of reference_nuts.py: needs PyStan, installed only in the optional "
    ".venv-bench-stan (benchmarks/requirements-stan.txt), and reads its job from reference_nuts.py on stdin",
    "side_by_side": "runs other scripts listed here (each tested on its own) from two versions of the code, with "
    "the sizes of a real comparison; it writes their JSON into the working tree's benchmarks/results/",
}


def test_every_script_is_listed():
    scripts = {p.stem for p in BENCHMARKS.glob("*.py")} - HELPERS
    assert scripts == set(SCRIPTS) | set(NOT_RUN), "list each benchmark script in SCRIPTS (or NOT_RUN, with why)"


def _env() -> dict[str, str]:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg"}
    cache = jax.config.jax_compilation_cache_dir  # set by conftest unless TWIN_TEST_JAX_CACHE=off
    if cache:
        env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    return env


def _run(name: str, args: list[str]) -> subprocess.CompletedProcess:
    command = [sys.executable, str(BENCHMARKS / f"{name}.py"), *args]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1200)
    print(f"{name}: {time.perf_counter() - start:.1f} s ({' '.join(args)})")
    assert proc.returncode == 0, (
        f"{' '.join(command)} failed (exit {proc.returncode})\n--- stdout ---\n{proc.stdout[-3000:]}"
        f"\n--- stderr ---\n{proc.stderr[-5000:]}"
    )
    return proc


def _results_in_repository() -> dict[Path, int]:
    folder = BENCHMARKS / "results"
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")} if folder.is_dir() else {}


@pytest.mark.parametrize(
    "name",
    [*SCRIPTS, *(pytest.param(n, marks=pytest.mark.skip(reason=why)) for n, why in NOT_RUN.items())],
)
def test_benchmark_runs(name, tmp_path, request):
    script = SCRIPTS[name]
    if script.data is not None and not script.data.exists():
        pytest.skip(f"{name} needs {script.data}, not found (see ../shared/bench/README.md)")
    if script.refdata is not None:
        folder = request.getfixturevalue("refdata") / script.refdata
        if not folder.is_dir():
            pytest.skip(f"{name} needs {folder}, not found")
    out = tmp_path / "out"
    args = [*script.args, "--out", str(out)]
    cache = jax.config.jax_compilation_cache_dir
    if script.cache_option and cache:
        args += ["--cache", str(cache)]
    before = _results_in_repository()
    _run(name, args)
    if script.then:
        _run(name, [a.format(out=out) for a in script.then] + ["--out", str(out)])
    assert _results_in_repository() == before, "the benchmark wrote into benchmarks/results/"
    assert sorted(p.name for p in out.iterdir()) == [script.result]
    record = json.loads((out / script.result).read_text())
    missing = [k for k in script.keys if k not in record]
    assert not missing, f"{script.result} lacks {missing}; it has {sorted(record)}"
