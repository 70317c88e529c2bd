"""The README as a contract: every ```python block runs as written, each in a fresh interpreter.

Each block runs as ``python -P -c BLOCK`` in its own temporary folder holding
``twin/diseases/egfr_nsclc/examples`` (a link to the shipped example files), so the
repository-relative paths of the blocks resolve and whatever they write (a twin file) lands in the
temporary folder; ``-P`` keeps that folder off
``sys.path`` so the link does not shadow the installed ``twin`` package. The subprocesses share
the test session's JAX compilation cache (conftest's ``JAX_CACHE``).

Blocks that sample with NUTS, calibrate a twin, compare regimens over 200 draws or run a virtual
trial are slow (``-m slow``); the rest (the simulation and the drug screen, ~25 s of CPU) run by
default, as do the float64 checks.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ENABLE_X64 = 'jax.config.update("jax_enable_x64", True)'
SLOW_CALLS = ("inf.nuts(", ".calibrate(", "s.compare(", "s.run_trial(")  # 1 to 8 min each on 2 cores


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def _first_line(block: str) -> str:
    """A short id: the block's number and its first line that is not an import or the x64 switch."""
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith(("import ", "from ", "jax.config"))]
    return re.sub(r"\W+", "_", lines[0])[:40].strip("_") if lines else "empty"


def _params(slow: bool):
    return [
        pytest.param(i, block, id=f"block{i}-{_first_line(block)}")
        for i, block in enumerate(BLOCKS, start=1)
        if any(call in block for call in SLOW_CALLS) == slow
    ]


def run_block(code: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter, from ``cwd`` (which gets a ``twin/diseases/egfr_nsclc/examples`` link)."""
    examples = Path("twin", "diseases", "egfr_nsclc", "examples")
    (cwd / examples.parent).mkdir(parents=True, exist_ok=True)
    if not (cwd / examples).exists():
        (cwd / examples).symlink_to(ROOT / examples, target_is_directory=True)
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("JAX_ENABLE_X64", None)  # the blocks switch float64 on themselves
    cache = jax.config.jax_compilation_cache_dir
    if cache:
        env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
    return subprocess.run(
        [sys.executable, "-P", "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _assert_runs(i: int, block: str, tmp_path: Path) -> None:
    start = time.perf_counter()
    proc = run_block(block, tmp_path)
    print(f"README block {i}: {time.perf_counter() - start:.1f} s")
    assert proc.returncode == 0, (
        f"README block {i} failed (exit {proc.returncode}):\n{block}\n--- stderr ---\n{proc.stderr[-4000:]}"
    )


def test_the_python_blocks_are_found():
    assert len(BLOCKS) >= 6, f"expected the README's Python blocks, found {len(BLOCKS)}"
    assert python_blocks("text\n```python\nx = 1\n```\n```bash\nls\n```\n") == ["x = 1\n"]


def test_every_block_that_uses_jax_enables_float64_first():
    for i, block in enumerate(BLOCKS, start=1):
        assert ENABLE_X64 in block, f"README block {i} does not switch float64 on: it cannot run on its own"


@pytest.mark.parametrize(("i", "block"), _params(slow=False))
def test_readme_block_runs(i, block, tmp_path):
    _assert_runs(i, block, tmp_path)


@pytest.mark.slow  # NUTS, a twin calibration, a regimen comparison or a virtual trial: minutes on 2 cores
@pytest.mark.parametrize(("i", "block"), _params(slow=True))
def test_readme_block_runs_slow(i, block, tmp_path):
    _assert_runs(i, block, tmp_path)


@pytest.mark.parametrize(
    ("call", "owner"),
    [("egfr_network_model(", "SignallingNetwork: "), ("inf.patient_model(", "inference.patient_model: ")],
    ids=["network", "calibration"],
)
def test_without_float64_a_block_says_how_to_enable_it(call, owner, tmp_path):
    """A block with its float64 line removed fails at once with an error that names the model and
    field and says how to enable float64 (the drug-screen block used to fail a range check,
    'SignallingNetwork: level[3]=1.0 is invalid', that did not say why)."""
    block = next(b for b in BLOCKS if call in b)
    proc = run_block(block.replace(ENABLE_X64, "pass"), tmp_path, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"mechanistic.precision.Float64Required: {owner}"), last
    assert "needs float64" in last and ENABLE_X64 in last, last
