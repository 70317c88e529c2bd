"""Mechanistic layer: dosing, pharmacokinetics, signalling networks, tumour clone dynamics,
observations, solver.

Units inside this package: time in days, amounts in mg, volumes of distribution in L,
concentrations in mg/L, tumour volumes in mm^3, diameters in mm. Float64 is expected: enable
it with ``jax.config.update("jax_enable_x64", True)`` in your entry point (importing this
package does not change global JAX settings); without it, building a model raises
``Float64Required`` naming the field.

Every name below loads its module on first use, so ``import mechanistic.units`` (unit
conversion only) does not import JAX.
"""

from importlib import import_module

_LAZY = {
    "asynchronous_attractors": "mechanistic.boolean_attractors",
    "boolean_fixed_points": "mechanistic.boolean_attractors",
    "synchronous_attractors": "mechanistic.boolean_attractors",
    "RuleSyntaxError": "mechanistic.boolean_rules",
    "bucket": "mechanistic.buckets",
    "pad_repeating_last": "mechanistic.buckets",
    "CONSTRAINTS": "mechanistic.constraints",
    "TRANSFORMS": "mechanistic.constraints",
    "LOG_JACOBIANS": "mechanistic.constraints",
    "individual_values": "mechanistic.constraints",
    "log_jacobian": "mechanistic.constraints",
    "transform": "mechanistic.constraints",
    "DoseTable": "mechanistic.dosing",
    "ROUTES": "mechanistic.dosing",
    "concat": "mechanistic.dosing",
    "daily": "mechanistic.dosing",
    "dose": "mechanistic.dosing",
    "every": "mechanistic.dosing",
    "EmaxEffect": "mechanistic.drug_effect",
    "LinearEffect": "mechanistic.drug_effect",
    "EGFR_CLONES_V2": "mechanistic.egfr_network_v2",
    "EGFR_DRUGS_V2": "mechanistic.egfr_network_v2",
    "EGFR_RULES_V2": "mechanistic.egfr_network_v2",
    "EGFR_VARIANTS_V2": "mechanistic.egfr_network_v2",
    "egfr_drug_panel_v2": "mechanistic.egfr_network_v2",
    "ExponentialEvents": "mechanistic.exponential_events",
    "accumulate": "mechanistic.exponential_events",
    "evaluate": "mechanistic.exponential_events",
    "FixedGrid": "mechanistic.fixed_grid",
    "ModelFamily": "mechanistic.family",
    "ParameterInfo": "mechanistic.family",
    "LawsonGrid": "mechanistic.lawson_grid",
    "AbstractGrowthLaw": "mechanistic.growth_laws",
    "Bertalanffy": "mechanistic.growth_laws",
    "Exponential": "mechanistic.growth_laws",
    "GeneralGompertz": "mechanistic.growth_laws",
    "Gompertz": "mechanistic.growth_laws",
    "Logistic": "mechanistic.growth_laws",
    "GROWTH_CURVES": "mechanistic.growth_curves",
    "GrowthCurve": "mechanistic.growth_curves",
    "GeneLevel": "mechanistic.gene_levels",
    "apply_gene_levels": "mechanistic.gene_levels",
    "Combined": "mechanistic.measurement",
    "ErrorModel": "mechanistic.measurement",
    "Proportional": "mechanistic.measurement",
    "DiseaseModel": "mechanistic.model",
    "Mutation": "mechanistic.mutations",
    "Personalisation": "mechanistic.mutations",
    "UnknownVariantError": "mechanistic.mutations",
    "VariantEffect": "mechanistic.mutations",
    "clones_from_mutations": "mechanistic.mutations",
    "personalise": "mechanistic.mutations",
    "Perturbation": "mechanistic.network",
    "SignallingNetwork": "mechanistic.network",
    "read_graphml": "mechanistic.network",
    "read_sif": "mechanistic.network",
    "NetworkPhenotype": "mechanistic.network_phenotype",
    "NetworkConvergenceError": "mechanistic.network_steady_state",
    "SteadyState": "mechanistic.network_steady_state",
    "SteadyStateOptions": "mechanistic.network_steady_state",
    "check_steady_state": "mechanistic.network_steady_state",
    "steady_state": "mechanistic.network_steady_state",
    "longest_diameter": "mechanistic.observation",
    "resistant_fraction": "mechanistic.observation",
    "sum_of_diameters": "mechanistic.observation",
    "total_volume": "mechanistic.observation",
    "variant_allele_fraction": "mechanistic.observation",
    "DailyExposure": "mechanistic.pk",
    "DirectExposure": "mechanistic.pk",
    "DoseRows": "mechanistic.pk",
    "MichaelisMentenOneCompartment": "mechanistic.pk",
    "OneCompartment": "mechanistic.pk",
    "TwoCompartment": "mechanistic.pk",
    "ENABLE_X64": "mechanistic.precision",
    "Float64Required": "mechanistic.precision",
    "require_float64": "mechanistic.precision",
    "simulate": "mechanistic.simulation",
    "to_dataset": "mechanistic.simulation",
    "Solution": "mechanistic.solver",
    "SolveError": "mechanistic.solver",
    "SolverOptions": "mechanistic.solver",
    "check_solution": "mechanistic.solver",
    "initial_state": "mechanistic.solver",
    "solve": "mechanistic.solver",
    "step_points": "mechanistic.solver",
    "GridInputs": "mechanistic.solver",
    "grid_inputs": "mechanistic.solver",
    "SteinBiexponential": "mechanistic.stein",
    "stein_size": "mechanistic.stein",
    "DrugPanel": "mechanistic.targeted_drugs",
    "TargetedDrug": "mechanistic.targeted_drugs",
    "ZhangFamily": "mechanistic.prostate_lv",
    "ZhangTumour": "mechanistic.prostate_lv",
    "AbstractTumour": "mechanistic.tumour",
    "GROWTH_LAWS": "mechanistic.tumour",
    "TumourModel": "mechanistic.tumour",
    "convert": "mechanistic.units",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mechanistic' has no attribute {name!r}")


def __dir__():
    return sorted(_LAZY)


__all__ = sorted(_LAZY)
