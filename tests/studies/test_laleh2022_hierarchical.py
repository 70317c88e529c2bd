"""Ghaffari Laleh et al. 2022: fitted on each patient's first 3 scans, the twin's hierarchical
Bayesian Gompertz model forecasts the remaining scans better (lower MAE) than per-patient maximum
likelihood, and its 90% predictive intervals cover 80-95% of the held-out scans. The model, its
priors and the measured numbers: ``twin/studies/laleh2022_hierarchical.py``."""

import jax
import pytest

from twin.studies.laleh2022 import load_laleh
from twin.studies.laleh2022_hierarchical import hierarchical_forecast


@pytest.mark.slow
def test_hierarchical_forecast_beats_per_patient_maximum_likelihood(refdata):
    result = hierarchical_forecast(load_laleh(refdata, min_points=6), jax.random.key(2022))
    print(f"\n{result.table}\n{result.seconds[0]:.0f} s for NUTS, {result.seconds[1]:.0f} s in all")
    assert result.diagnostics.ok, result.diagnostics.problems
    mae_bayes, mae_ml = float(result.errors["bayes"].mean()), float(result.errors["ml"].mean())
    assert mae_bayes < mae_ml
    assert 0.80 <= result.covered.mean() <= 0.95
