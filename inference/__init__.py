"""Bayesian calibration of mechanistic models to patient data (numpyro).

Parameter specifications with checked priors, one patient's observations with censoring and
missing values, residual error models, a numpyro model generated from a simulator, and MAP,
Laplace and NUTS fits with ArviZ diagnostics, sequential updating (warm-started NUTS), a
hierarchical population model over a cohort whose posterior becomes a new patient's prior, SVI
for large cohorts, and batched multistart least squares of growth curves (the classical fits).
"""

from inference.calibrate import Posterior, calibrate
from inference.fit import (
    CalibrationWarning,
    Diagnostics,
    MapResult,
    WarmStart,
    diagnose,
    laplace,
    map_estimate,
    nuts,
    to_inference_data,
    update,
    warm_start,
)
from inference.importance import RefinedPopulation, refine_population
from inference.least_squares import FitResult, Metrics, aic, aic_laleh, fit_curve, metrics
from inference.least_squares import predict as predict_curve
from inference.observations import Observations
from inference.parameters import Parameter, ParameterSpec
from inference.patient_model import (
    PatientData,
    likelihood_model,
    patient_data,
    patient_model,
    patient_model_and_data,
)
from inference.population import (
    Cohort,
    population_description,
    population_model,
    population_prior,
    population_site_constraints,
    population_sites,
)
from inference.population_guide import population_guide
from inference.svi import SviResult, svi
from mechanistic.measurement import Combined, Proportional

__all__ = [
    "CalibrationWarning",
    "Posterior",
    "Cohort",
    "Combined",
    "Diagnostics",
    "FitResult",
    "MapResult",
    "Metrics",
    "Observations",
    "Parameter",
    "ParameterSpec",
    "PatientData",
    "Proportional",
    "RefinedPopulation",
    "SviResult",
    "WarmStart",
    "aic",
    "aic_laleh",
    "calibrate",
    "diagnose",
    "fit_curve",
    "laplace",
    "likelihood_model",
    "map_estimate",
    "metrics",
    "nuts",
    "patient_data",
    "patient_model",
    "patient_model_and_data",
    "population_description",
    "population_guide",
    "population_model",
    "population_prior",
    "population_site_constraints",
    "population_sites",
    "predict_curve",
    "refine_population",
    "svi",
    "to_inference_data",
    "update",
    "warm_start",
]
