"""Test configuration: float64 on (the library never flips it at import time), and JAX's persistent
compilation cache in ``.pytest_cache/jax`` (``$TWIN_TEST_JAX_CACHE`` overrides; ``off`` disables):
programs compiled once — also by a different closure with the same computation, or by a CLI
subprocess pointed at the same folder — load from disk instead of recompiling."""

import os
from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)
JAX_CACHE = os.environ.get("TWIN_TEST_JAX_CACHE", str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax"))
if JAX_CACHE != "off":
    jax.config.update("jax_compilation_cache_dir", JAX_CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)

REFDATA = Path(__file__).resolve().parents[1].parent / "shared" / "refdata"


@pytest.fixture(scope="session")
def refdata() -> Path:
    """The shared reference-data folder; tests using it skip (with the reason) where it is absent."""
    if not REFDATA.is_dir():
        pytest.skip(f"reference data not found at {REFDATA} (present in CI; see DESIGN.md)")
    return REFDATA


@pytest.fixture(scope="session")
def oak_arm_fit(refdata):
    """``oak_arm_fit(arm)``: the default OAK per-arm fit (``fit_oak_arm``, key 0), made on first use
    and shared by the slow tests that need it (inference's fit check and the virtual OAK trial)."""
    from twin.studies.oak2018_tgi import fit_oak_arm

    fits = {}

    def get(arm: str):
        if arm not in fits:
            fits[arm] = fit_oak_arm(refdata, arm, key=jax.random.key(0))
        return fits[arm]

    return get
