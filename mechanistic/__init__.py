"""Mechanistic layer: dosing, pharmacokinetics, signalling networks, tumour clone dynamics,
observations, solver.

Units inside this package: time in days, amounts in mg, volumes of distribution in L,
concentrations in mg/L, tumour volumes in mm^3, diameters in mm. Float64 is expected: enable
it with ``jax.config.update("jax_enable_x64", True)`` in your entry point (importing this
package does not change global JAX settings); without it, building a model raises
``Float64Required`` naming the field.
"""

from mechanistic.boolean_attractors import asynchronous_attractors, synchronous_attractors
from mechanistic.boolean_rules import RuleSyntaxError
from mechanistic.buckets import bucket, pad_repeating_last
from mechanistic.dosing import ROUTES, DoseTable, concat, daily, dose, every
from mechanistic.drug_effect import EmaxEffect, LinearEffect
from mechanistic.exponential_events import ExponentialEvents, accumulate, evaluate
from mechanistic.fixed_grid import FixedGrid, LawsonGrid
from mechanistic.growth_curves import GROWTH_CURVES, GrowthCurve
from mechanistic.model import DiseaseModel
from mechanistic.mutations import (
    Mutation,
    Personalisation,
    UnknownVariantError,
    VariantEffect,
    clones_from_mutations,
    personalise,
)
from mechanistic.network import Perturbation, SignallingNetwork, read_graphml, read_sif
from mechanistic.network_phenotype import NetworkPhenotype
from mechanistic.network_steady_state import (
    NetworkConvergenceError,
    SteadyState,
    SteadyStateOptions,
    check_steady_state,
    steady_state,
)
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
from mechanistic.precision import ENABLE_X64, Float64Required, require_float64
from mechanistic.simulate import simulate, to_dataset
from mechanistic.solver import Solution, SolveError, SolverOptions, check_solution, initial_state, solve, step_points
from mechanistic.stein import SteinBiexponential
from mechanistic.targeted_drugs import DrugPanel, TargetedDrug
from mechanistic.tumour import GROWTH_LAWS, TumourModel
from mechanistic.units import convert

__all__ = [
    "GROWTH_CURVES",
    "GROWTH_LAWS",
    "GrowthCurve",
    "ROUTES",
    "DirectExposure",
    "DiseaseModel",
    "DoseRows",
    "DoseTable",
    "DrugPanel",
    "ENABLE_X64",
    "EmaxEffect",
    "ExponentialEvents",
    "FixedGrid",
    "Float64Required",
    "LawsonGrid",
    "LinearEffect",
    "MichaelisMentenOneCompartment",
    "Mutation",
    "NetworkConvergenceError",
    "NetworkPhenotype",
    "OneCompartment",
    "Personalisation",
    "Perturbation",
    "RuleSyntaxError",
    "SignallingNetwork",
    "Solution",
    "SolveError",
    "SolverOptions",
    "SteadyState",
    "SteadyStateOptions",
    "SteinBiexponential",
    "TargetedDrug",
    "TumourModel",
    "TwoCompartment",
    "UnknownVariantError",
    "VariantEffect",
    "accumulate",
    "asynchronous_attractors",
    "bucket",
    "check_solution",
    "check_steady_state",
    "clones_from_mutations",
    "concat",
    "convert",
    "daily",
    "dose",
    "evaluate",
    "every",
    "initial_state",
    "longest_diameter",
    "pad_repeating_last",
    "personalise",
    "read_graphml",
    "read_sif",
    "require_float64",
    "resistant_fraction",
    "simulate",
    "solve",
    "step_points",
    "steady_state",
    "sum_of_diameters",
    "synchronous_attractors",
    "to_dataset",
    "total_volume",
    "variant_allele_fraction",
]
