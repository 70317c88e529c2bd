"""Bayesian calibration of mechanistic models to patient data (numpyro).

Parameter specifications with checked priors, one patient's observations with censoring and
missing values, residual error models, a numpyro model generated from a simulator, and MAP,
Laplace and NUTS fits with ArviZ diagnostics, sequential updating (warm-started NUTS), a
hierarchical population model over a cohort whose posterior becomes a new patient's prior, and
SVI for large cohorts.
"""

from inference.error_models import Combined, Proportional
from inference.fit import (
    CalibrationWarning,
    Diagnostics,
    MapResult,
    diagnose,
    laplace,
    map_estimate,
    nuts,
    to_inference_data,
    update,
)
from inference.observations import Observations
from inference.parameters import CONSTRAINTS, Parameter, ParameterSpec
from inference.patient_model import patient_model
from inference.population import TRANSFORMS, Cohort, population_model, population_prior
from inference.svi import SviResult, svi

__all__ = [
    "CONSTRAINTS",
    "CalibrationWarning",
    "Cohort",
    "Combined",
    "Diagnostics",
    "MapResult",
    "Observations",
    "Parameter",
    "ParameterSpec",
    "Proportional",
    "SviResult",
    "TRANSFORMS",
    "diagnose",
    "laplace",
    "map_estimate",
    "nuts",
    "patient_model",
    "population_model",
    "population_prior",
    "svi",
    "to_inference_data",
    "update",
]
