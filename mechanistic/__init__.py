"""Mechanistic layer: dosing, pharmacokinetics, tumour clone dynamics, observations, solver.

Units inside this package: time in days, amounts in mg, volumes of distribution in L,
concentrations in mg/L, tumour volumes in mm^3, diameters in mm. Float64 is expected: enable
it with ``jax.config.update("jax_enable_x64", True)`` in your entry point (importing this
package does not change global JAX settings).
"""

from mechanistic.dosing import ROUTES, DoseTable, concat, daily, dose, every
from mechanistic.drug_effect import EmaxEffect, LinearEffect
from mechanistic.exponential_events import ExponentialEvents, accumulate, evaluate
from mechanistic.fixed_grid import FixedGrid
from mechanistic.model import DiseaseModel
from mechanistic.observation import (
    longest_diameter,
    resistant_fraction,
    sum_of_diameters,
    total_volume,
    variant_allele_fraction,
)
from mechanistic.pk import (
    DirectExposure,
    DoseRows,
    MichaelisMentenOneCompartment,
    OneCompartment,
    TwoCompartment,
)
from mechanistic.simulate import simulate, to_dataset
from mechanistic.solver import Solution, SolveError, SolverOptions, check_solution, solve
from mechanistic.stein import SteinBiexponential
from mechanistic.tumour import GROWTH_LAWS, TumourModel
from mechanistic.units import convert

__all__ = [
    "GROWTH_LAWS",
    "ROUTES",
    "DirectExposure",
    "DiseaseModel",
    "DoseRows",
    "DoseTable",
    "EmaxEffect",
    "ExponentialEvents",
    "FixedGrid",
    "LinearEffect",
    "MichaelisMentenOneCompartment",
    "OneCompartment",
    "Solution",
    "SolveError",
    "SolverOptions",
    "SteinBiexponential",
    "TumourModel",
    "TwoCompartment",
    "accumulate",
    "check_solution",
    "concat",
    "convert",
    "daily",
    "dose",
    "evaluate",
    "every",
    "longest_diameter",
    "resistant_fraction",
    "simulate",
    "solve",
    "sum_of_diameters",
    "to_dataset",
    "total_volume",
    "variant_allele_fraction",
]
