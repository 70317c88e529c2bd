"""The notebooks in ``notebooks/`` run top to bottom (at their shipped, small sizes) in a fresh kernel.

Each runs in its own temporary working directory, so whatever it writes lands there. The kernel is
this interpreter (``sys.executable``), through a kernelspec written for the test, so it sees the
same environment as the tests whatever kernelspecs the machine has. The kernel shares the test
session's JAX compilation cache when conftest set one (``$TWIN_TEST_JAX_CACHE``).
"""

import json
import sys
import time
from pathlib import Path

import jax
import nbclient
import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
KERNEL = "patient-twin-tests"


def test_the_notebooks_are_found():
    assert [p.name for p in NOTEBOOKS] == [
        "01_whatif_one_patient.ipynb",
        "02_cohort_population_prior.ipynb",
        "03_network_personalisation_screen.ipynb",
        "04_your_own_model.ipynb",
        "05_prostate_adaptive_therapy.ipynb",
    ]


@pytest.fixture
def kernel(tmp_path_factory, monkeypatch):
    """A kernelspec that starts ``sys.executable -m ipykernel_launcher``, first on the Jupyter path."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(root))
    cache = jax.config.jax_compilation_cache_dir
    if cache:
        monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(cache))
    return KERNEL


@pytest.mark.slow  # ~70 s of kernels and compilation on 2 cores: the default run stays well under 15 min
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, kernel):
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path.name}: strip its outputs"
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name=kernel, resources={"metadata": {"path": str(tmp_path)}}
    )
    start = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{path.name} failed in a cell:\n{e}", pytrace=False)
    print(f"{path.name}: {time.perf_counter() - start:.0f} s")
    figures = sum(
        "image/png" in out.get("data", {}) for c in nb.cells if c.cell_type == "code" for out in c.get("outputs", [])
    )
    assert figures >= 1, f"{path.name} displayed no figure"
