"""Regimens, adaptive policies, clinical endpoints, regimen comparison over parameter draws,
the in-silico drug screen on personalised networks, and virtual trials.

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
    confirmed_responses,
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
from scenarios.trial import run_trial
from scenarios.trial_design import (
    Arm,
    LogNormalSurvival,
    ScanNoise,
    ScanSchedule,
    TrialDesign,
    regimen_arm,
    stein_arm,
    stein_size,
)
from scenarios.trial_result import DAYS_PER_MONTH, TrialResult
from scenarios.virtual_population import VirtualPopulation

__all__ = [
    "Arm",
    "CR",
    "DAYS_PER_MONTH",
    "DoseModulation",
    "EventTime",
    "LogNormalSurvival",
    "NE",
    "OptimisationResult",
    "PD",
    "PR",
    "RESPONSE_NAMES",
    "Regimen",
    "SD",
    "ScanNoise",
    "ScanSchedule",
    "SwitchOnProgression",
    "ThresholdAdaptive",
    "Trajectory",
    "TrialDesign",
    "TrialResult",
    "VirtualPopulation",
    "adaptive_threshold",
    "best_overall_response",
    "combination",
    "compare",
    "confirmed_responses",
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
    "regimen_arm",
    "run_trial",
    "screen",
    "screen_model",
    "sensitivities",
    "simulate_regimen",
    "soft_time_to_threshold",
    "steady_state_exposure",
    "stein_arm",
    "stein_size",
    "summarise",
    "switch_on_progression",
    "time_to_growth_over_nadir",
    "time_to_progression",
    "time_to_threshold",
    "treatments",
    "value_at",
    "with_break",
]
