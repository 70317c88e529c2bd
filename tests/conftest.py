"""Test configuration: float64 on (the library never flips it at import time)."""

from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)

REFDATA = Path(__file__).resolve().parents[1].parent / "shared" / "refdata"


@pytest.fixture(scope="session")
def refdata() -> Path:
    """The shared reference-data folder; tests using it skip (with the reason) where it is absent."""
    if not REFDATA.is_dir():
        pytest.skip(f"reference data not found at {REFDATA} (present in CI; see DESIGN.md)")
    return REFDATA
