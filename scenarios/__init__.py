"""Regimens, adaptive policies, clinical endpoints, regimen comparison over parameter draws,
and the in-silico drug screen on personalised networks.

Takes a mechanistic model and arrays of parameter draws (from a posterior, a prior or a
virtual population: anything); knows nothing about how the draws were obtained.
"""

from scenarios.adaptive import Trajectory, output_times, simulate_regimen
from scenarios.compare import compare, summarise
from scenarios.drug_screen import screen, screen_model, steady_state_exposure, treatments
from scenarios.endpoints import (
    CR,
    NE,
    PD,
    PR,
    RESPONSE_NAMES,
    SD,
    EventTime,
    best_overall_response,
    cumulative_dose,
    cycles_before,
    days_on_drug,
    first_time,
    recist,
    time_to_growth_over_nadir,
    time_to_progression,
    time_to_threshold,
    value_at,
)
from scenarios.explain import explain, ranking_drivers, sensitivities
from scenarios.optimise import OptimisationResult, maximise, soft_time_to_threshold
from scenarios.policy import DoseModulation, SwitchOnProgression, ThresholdAdaptive
from scenarios.regimen import (
    Regimen,
    adaptive_threshold,
    combination,
    continuous,
    dose_modulation,
    dose_reduction,
    intermittent,
    pulsed,
    switch_on_progression,
    with_break,
)

__all__ = [
    "CR",
    "NE",
    "PD",
    "PR",
    "RESPONSE_NAMES",
    "SD",
    "DoseModulation",
    "EventTime",
    "OptimisationResult",
    "Regimen",
    "SwitchOnProgression",
    "ThresholdAdaptive",
    "Trajectory",
    "adaptive_threshold",
    "best_overall_response",
    "combination",
    "compare",
    "continuous",
    "cumulative_dose",
    "cycles_before",
    "days_on_drug",
    "dose_modulation",
    "dose_reduction",
    "explain",
    "first_time",
    "intermittent",
    "maximise",
    "output_times",
    "pulsed",
    "ranking_drivers",
    "recist",
    "screen",
    "screen_model",
    "sensitivities",
    "simulate_regimen",
    "soft_time_to_threshold",
    "steady_state_exposure",
    "summarise",
    "switch_on_progression",
    "time_to_growth_over_nadir",
    "time_to_progression",
    "time_to_threshold",
    "treatments",
    "value_at",
    "with_break",
]
