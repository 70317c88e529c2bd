"""The shared benchmark problem (shared/bench/README.md): our solve reproduces the given
noise-free volumes (computed there with an 8th-order rtol = atol = 1e-12 solve)."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import mechanistic as m

BENCH = Path(__file__).resolve().parents[3] / "shared" / "bench" / "reference_observations.csv"


@pytest.mark.skipif(not BENCH.is_file(), reason=f"benchmark data not found at {BENCH}")
def test_reference_problem_true_volumes():
    df = pd.read_csv(BENCH)
    tumour = m.TumourModel(
        ("S", "R"),
        "logistic",
        growth_rate=[0.10, 0.03],
        capacity=2000.0,
        kill=m.EmaxEffect(emax=[[0.40], [0.0]], ec50=0.5),
    )
    model = m.DiseaseModel({"drug": m.OneCompartment(k=3.0, v=50.0, ka=12.0)}, tumour)
    sol = m.solve(
        model,
        jnp.array([180.0, 2.0]),
        m.daily(0, 179, "drug", 100.0),
        df.time_day.to_numpy(float),
        options=m.SolverOptions(rtol=1e-11, atol=1e-11),
    )
    # the file gives about 10 significant digits
    np.testing.assert_allclose(np.asarray(m.total_volume(sol.clones)), df.true_volume_mm3, rtol=1e-8)
