"""Bayesian calibration of mechanistic models to patient data (numpyro).

Parameter specifications with checked priors, one patient's observations with censoring and
missing values, residual error models, a numpyro model generated from a simulator, and MAP,
Laplace and NUTS fits with ArviZ diagnostics. Population (hierarchical) models, sequential
updating and the reference validations are the next steps of the calibration issue.
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
)
from inference.observations import Observations
from inference.parameters import CONSTRAINTS, Parameter, ParameterSpec
from inference.patient_model import patient_model

__all__ = [
    "CONSTRAINTS",
    "CalibrationWarning",
    "Combined",
    "Diagnostics",
    "MapResult",
    "Observations",
    "Parameter",
    "ParameterSpec",
    "Proportional",
    "diagnose",
    "laplace",
    "map_estimate",
    "nuts",
    "patient_model",
    "to_inference_data",
]
