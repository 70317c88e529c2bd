"""FLAURA (Soria et al. NEJM 2018;378:113-125): the flagship model's virtual population fitted to
the trial's published aggregate results, and the trial re-run on it.

FLAURA randomised 556 patients with untreated EGFR-mutant (ex19del or L858R) advanced NSCLC 1:1 to
osimertinib 80 mg daily (279) or a standard EGFR-TKI (277; gefitinib 250 mg or erlotinib 150 mg
daily); RECIST 1.1 scans every 6 weeks for 18 months, then every 12 weeks; primary endpoint
investigator-assessed PFS. Published (fitted here, :data:`PUBLISHED`): median PFS 18.9 months
(95% CI 15.2-21.4) vs 10.2 (9.6-11.1), HR 0.46 (0.37-0.57), ORR 80% vs 76%.

Virtual patient (the twin's model, :class:`twin.diseases.egfr_nsclc.model.TwinModel`, clones sensitive, T790M and
bypass): baseline volume ``volume0`` (mm^3), Gompertz ``growth_rate`` (1/day), ``max_kill``
(1/day), pre-existing T790M share ``resistant_fraction0`` and bypass share ``bypass_fraction0``
(both at randomisation) and the Gompertz ``capacity`` (mm^3; drawn from the twin's prior,
:data:`twin.diseases.egfr_nsclc.model.DEFAULT_PRIORS`, never fitted), each log- (logit-) normal between patients;
ex19del with probability 0.63 (FLAURA: 63% ex19del in both arms), else L858R (drawn through the standard-normal
``mutation_z``: ex19del when below ``Phi^-1(0.63)``). The tumour is one lesion (its longest
diameter is the SLD); scan noise as the twin's residual error. The comparator arm is erlotinib
150 mg daily for everyone (an assumption: about two thirds of FLAURA's comparator patients took
gefitinib, whose plasma-to-cell potency the drug table maps less reliably; gefitinib and
erlotinib gave similar PFS head to head, Yang et al. Br J Cancer 2017;116:568, CTONG0901).

Calibration (:func:`fit`): Nelder-Mead on the typical values of ``max_kill``, ``growth_rate``,
``resistant_fraction0`` and ``bypass_fraction0`` (log / logit scale), minimising the squared
distance of the simulated medians, HR (log scale) and ORRs from the published ones in units of
their standard errors (from the 95% CIs; ORR binomial), on a large virtual trial with common
random numbers (Allen et al. CPT Pharmacometrics Syst Pharmacol 2016;5:140, virtual populations
fitted to aggregate data). Between-patient SDs are fixed (:data:`OMEGA`, assumptions). The result
is stored in :data:`FITTED`. Other published numbers (:data:`CHECKS`) are only compared, never fitted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from mechanistic.constraints import CONSTRAINTS as SUPPORTS
from mechanistic.constraints import transform
from mechanistic.family import ModelFamily, ParameterInfo
from scenarios import DAYS_PER_MONTH
from twin.diseases.egfr_nsclc.model import DEFAULT_PRIORS

EX19DEL_SHARE = 0.63  # Soria 2018 Table 1: ex19del 63% in each arm (175/279 osimertinib, 174/277 comparator)
N_PER_ARM = (277, 279)  # comparator (control, first), osimertinib
ARMS = ("comparator", "osimertinib")
SCANS_EVERY = (42.0, 84.0)  # days: every 6 weeks, then every 12 weeks
SCANS_SWITCH = (546.0,)  # after 18 months (78 weeks)
ENROLMENT_DAYS = 470.0  # randomised December 2014 - March 2016 (~15.5 months)
FOLLOW_UP_DAYS = 912.0  # data cut-off 12 June 2017, ~30 months after the first randomisation (approximate)
DROPOUT_PER_YEAR = 0.05  # assumption: loss to follow-up / withdrawal before progression
SCAN_NOISE = (1.5, 0.05)  # mm additive, proportional: the twin's residual error (egfr_nsclc.model.FIXED cv)
COMPARATOR = ("erlotinib", 150.0)  # drug, mg daily (see the module docstring)
OSIMERTINIB = ("osimertinib", 80.0)
SOURCE = "Soria et al. NEJM 2018;378:113-125 (FLAURA)"


@dataclass(frozen=True)
class Estimate:
    """A published number with its 95% CI (``lo``, ``hi``; months, ratio or proportion) and source."""

    value: float
    lo: float
    hi: float
    source: str
    log_scale: bool = True  # the CI is symmetric on the log scale (medians, hazard ratios)

    @property
    def se(self) -> float:
        """Standard error on the scale of the CI (log for ``log_scale``), from the CI's width."""
        if self.log_scale:
            return (math.log(self.hi) - math.log(self.lo)) / (2 * 1.96)
        return (self.hi - self.lo) / (2 * 1.96)

    def z(self, simulated: float) -> float:
        """Distance of a simulated value from the published one in standard errors."""
        if self.log_scale:
            return (math.log(max(simulated, 1e-12)) - math.log(self.value)) / self.se
        return (simulated - self.value) / self.se


def _binomial(p: float, n: int, source: str) -> Estimate:
    se = math.sqrt(p * (1 - p) / n)
    return Estimate(p, p - 1.96 * se, p + 1.96 * se, source + "; 95% CI computed here (normal approximation)", False)


# Fitted: Soria 2018, abstract and Figure 1 / Table 2
PUBLISHED: dict[str, Estimate] = {
    "median_pfs_comparator": Estimate(10.2, 9.6, 11.1, SOURCE + ", abstract"),
    "median_pfs_osimertinib": Estimate(18.9, 15.2, 21.4, SOURCE + ", abstract"),
    "hazard_ratio": Estimate(0.46, 0.37, 0.57, SOURCE + ", abstract (PFS, osimertinib vs comparator)"),
    "orr_comparator": _binomial(0.76, 277, SOURCE + ", abstract"),
    "orr_osimertinib": _binomial(0.80, 279, SOURCE + ", abstract"),
}

# Checks, never fitted (months unless stated). Values from the cited papers as recalled here;
# those marked "unverified" could not be opened in this session.
CHECKS: dict[str, Estimate] = {
    "median_pfs_osimertinib_ex19del": Estimate(21.4, 16.5, 24.3, SOURCE + ", Fig. 2 subgroups (CI unverified)"),
    "median_pfs_osimertinib_L858R": Estimate(14.4, 11.1, 18.9, SOURCE + ", Fig. 2 subgroups (CI unverified)"),
    "median_pfs_comparator_ex19del": Estimate(11.0, 9.7, 12.6, SOURCE + ", Fig. 2 subgroups (CI unverified)"),
    "median_pfs_comparator_L858R": Estimate(9.5, 8.1, 11.0, SOURCE + ", Fig. 2 subgroups (CI unverified)"),
    "median_pfs_erlotinib_EURTAC": Estimate(9.7, 8.4, 12.3, "Rosell et al. Lancet Oncol 2012;13:239 (EURTAC)"),
    "median_pfs_erlotinib_OPTIMAL": Estimate(13.1, 10.6, 16.5, "Zhou et al. Lancet Oncol 2011;12:735 (OPTIMAL)"),
    "median_pfs_gefitinib_IPASS_EGFR": Estimate(9.5, 7.3, 10.8, "Mok et al. NEJM 2009;361:947 (IPASS EGFR+)"),
}  # fmt: skip
# PFS events at the cut-off (maturity): 136 of 279 osimertinib, 206 of 277 comparator (Soria 2018, Fig. 1; unverified)
CHECK_EVENTS = {"comparator": 206 / 277, "osimertinib": 136 / 279}

PARAMETERS = ("volume0", "growth_rate", "max_kill", "resistant_fraction0", "bypass_fraction0", "capacity",
              "mutation_z")  # fmt: skip
CONSTRAINTS = {
    "volume0": "positive",
    "growth_rate": "positive",
    "max_kill": "positive",
    "resistant_fraction0": "unit_interval",
    "bypass_fraction0": "unit_interval",
    "capacity": "positive",
    "mutation_z": "real",
}
# Between-patient SDs (log / logit scale; mutation_z standard normal): fixed, not fitted (assumptions
# unless noted): volume0 0.8 (diameter CV ~27%); growth_rate 0.5, max_kill 0.5; the T790M share
# 2.0 (the twin's prior scale, Hata et al. Nat Med 2016); the bypass share the same as T790M; the
# capacity the twin's prior (its median is the typical value).
CAPACITY_PRIOR = DEFAULT_PRIORS["capacity"][1]
OMEGA = {
    "volume0": 0.8,
    "growth_rate": 0.5,
    "max_kill": 0.5,
    "resistant_fraction0": 2.0,
    "bypass_fraction0": 2.0,
    "capacity": CAPACITY_PRIOR.scale,
    "mutation_z": 1.0,
}
# fitted: four typical values and the spreads of growth rate and maximal kill (``omega_`` names an
# omega), which set how many patients fail early on both drugs alike (and so the hazard ratio)
FIT_PARAMETERS = (
    "max_kill", "growth_rate", "resistant_fraction0", "bypass_fraction0", "omega_growth_rate", "omega_max_kill",
)  # fmt: skip


@dataclass(frozen=True)
class FlauraPopulation:
    """Typical values (natural units) and between-patient SDs (:data:`OMEGA` scales) of the virtual
    FLAURA patients; ``fitted``: which typical values were fitted; ``note``: when and how."""

    typical: Mapping[str, float]
    omega: Mapping[str, float] = field(default_factory=lambda: dict(OMEGA))
    fitted: tuple[str, ...] = FIT_PARAMETERS
    note: str = ""

    def __post_init__(self):
        for name in PARAMETERS:
            if name not in self.typical or name not in self.omega:
                raise ValueError(
                    f"FlauraPopulation: {name!r} needs a typical value and an omega; got {dict(self.typical)}"
                )
            v, w = float(self.typical[name]), float(self.omega[name])
            lo, hi = SUPPORTS[CONSTRAINTS[name]]
            if not (lo < v < hi) or not (math.isfinite(w) and w >= 0):
                raise ValueError(f"FlauraPopulation: {name} typical {v!r} must be in ({lo}, {hi}) and omega {w!r} >= 0")

    def virtual_population(self, n_draws: int = 1):
        """A ``scenarios.VirtualPopulation`` of ``n_draws`` identical draws (each draw one trial)."""
        from scenarios.virtual_population import VirtualPopulation

        typical = {k: np.full(n_draws, float(self.typical[k])) for k in PARAMETERS}
        omega = {k: np.full(n_draws, float(self.omega[k])) for k in PARAMETERS}
        return VirtualPopulation(typical, omega, dict(CONSTRAINTS))


# The stored fit, in two stages after the capacity became a drawn parameter (median 1e6 mm^3 instead
# of a fixed 2e5): from the previous fit (two stages from max_kill 0.045, growth_rate 0.0039, T790M
# 3e-3, bypass 1.1e-6, omegas growth 1.0 / kill 0.6, the bypass omega set to 4.9 by hand) with its
# growth rate scaled by ln(2e5/3e4) / ln(1e6/3e4) = 0.54 (the same Gompertz growth at the typical
# baseline), fit(n_per_arm=1000, seed=2018): 120 evaluations, discrepancy 0.140 on its own trial,
# but its comparator median fell below the published CI on 3 of 4 other seeds (overfit to one
# trial's random numbers); then fit(that, n_per_arm=1000, n_trials=2, seed=7, max_evaluations=60):
# 60 evaluations, discrepancy 0.324 (sum of squared z of the mean of two trials of 1,000 per arm).
FITTED = FlauraPopulation(
    typical={
        "volume0": 3.0e4,
        "growth_rate": 0.0019670,
        "max_kill": 0.052508,
        "resistant_fraction0": 0.0074561,
        "bypass_fraction0": 8.2833e-7,
        "capacity": CAPACITY_PRIOR.location,
        "mutation_z": 0.0,
    },
    omega={**OMEGA, "growth_rate": 1.2170, "max_kill": 0.70139, "bypass_fraction0": 4.9},
    note="fit() Nelder-Mead, 2026-12-03, 2 trials of 1000 per arm, seed 7; 60 evaluations; discrepancy 0.324",
)


@dataclass(frozen=True)
class VirtualPatient(ModelFamily):
    """The trial arms' model family: the twin's model of an ex19del or an L858R tumour (chosen per
    patient by ``mutation_z``), with the twin's fixed values for everything not drawn; the initial
    state is the clone volumes at randomisation. Hashable: one compiled program per design."""

    ex19del: object  # twin.diseases.egfr_nsclc.model.TwinModel
    l858r: object

    @classmethod
    def default(cls) -> VirtualPatient:
        from twin.diseases.egfr_nsclc.model import TwinModel
        from twin.record import VariantCall

        drugs = (COMPARATOR[0], OSIMERTINIB[0])
        return cls(*(TwinModel.from_mutations([VariantCall("EGFR", v, 0.4)], drugs) for v in ("ex19del", "L858R")))

    @property
    def parameters(self) -> tuple[ParameterInfo, ...]:
        units = {**self.ex19del.units(), "mutation_z": "1"}
        return tuple(ParameterInfo(name, units[name], CONSTRAINTS[name]) for name in PARAMETERS)

    def _with_fixed(self, params):
        import jax.numpy as jnp

        return {**{k: jnp.asarray(v, dtype=float) for k, v in self.ex19del.fixed.items()}, **params}

    def build(self, params):
        import jax
        import jax.numpy as jnp

        p = self._with_fixed(params)
        is_del = p["mutation_z"] < float(_normal_quantile(EX19DEL_SHARE))
        a, b = self.ex19del.build(p), self.l858r.build(p)
        return jax.tree.map(lambda x, y: jnp.where(is_del, x, y), a, b)

    def initial_state(self, params):
        return self.ex19del.initial_state(self._with_fixed(params))


def _normal_quantile(p: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(p))


def design(n_per_arm: tuple[int, int] = N_PER_ARM, patient: VirtualPatient | None = None):
    """The FLAURA ``scenarios.TrialDesign`` (comparator first) on the virtual patient (arms without
    a population: pass one to ``run_trial``)."""
    import scenarios as sc

    patient = VirtualPatient.default() if patient is None else patient
    days = int(FOLLOW_UP_DAYS) + 1
    arms = tuple(
        sc.regimen_arm(name, patient, sc.continuous(drug, mg, days), days=days)
        for name, (drug, mg) in zip(ARMS, (COMPARATOR, OSIMERTINIB), strict=True)
    )
    return sc.TrialDesign(
        arms=arms,
        n_per_arm=tuple(int(n) for n in n_per_arm),
        scans=sc.ScanSchedule(SCANS_EVERY, SCANS_SWITCH),
        follow_up_days=FOLLOW_UP_DAYS,
        enrolment_days=ENROLMENT_DAYS,
        dropout_per_year=DROPOUT_PER_YEAR,
        noise=sc.ScanNoise(*SCAN_NOISE),
    )


def simulate(population: FlauraPopulation = FITTED, *, n_trials: int = 20, n_per_arm=N_PER_ARM, seed: int = 0,
             trial_design=None):  # fmt: skip
    """``n_trials`` virtual FLAURA trials of ``n_per_arm`` patients on ``population``: a
    ``scenarios.TrialResult`` with dims (draw = trial, arm, patient)."""
    import jax

    import scenarios as sc

    trial_design = design(n_per_arm) if trial_design is None else trial_design
    return sc.run_trial(trial_design, jax.random.key(seed), population.virtual_population(n_trials))


def trial_summary(trial) -> dict[str, np.ndarray]:
    """Per virtual trial (draw): medians (months, interpolated KM), Cox HR (osimertinib vs
    comparator), ORR and share with a PFS event, each ``(n_trials,)``."""
    from scenarios.survival import hazard_ratio, km_median

    out: dict[str, list] = {k: [] for k in (*PUBLISHED, "events_comparator", "events_osimertinib")}
    data = trial.data
    for d in range(trial.n_draws):
        arm = {}
        for name in ARMS:
            n = int(data.enrolled.sel(arm=name).sum())
            sel = data.sel(arm=name, draw=d)
            arm[name] = (sel.pfs_days.values[:n], sel.pfs_event.values[:n].astype(bool), sel.best_response.values[:n])
        for name, (t, e, best) in arm.items():
            out[f"median_pfs_{name}"].append(km_median(t, e, interpolate=True) / DAYS_PER_MONTH)
            out[f"orr_{name}"].append(float(np.mean(best <= 1)))  # CR (0) or PR (1), scenarios.endpoints codes
            out[f"events_{name}"].append(float(np.mean(e)))
        (t0, e0, _), (t1, e1, _) = arm["comparator"], arm["osimertinib"]
        group = np.r_[np.zeros(len(t0)), np.ones(len(t1))]
        out["hazard_ratio"].append(hazard_ratio(np.r_[t0, t1], np.r_[e0, e1], group).hazard_ratio)
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def discrepancy(summary: Mapping[str, np.ndarray]) -> float:
    """Sum over :data:`PUBLISHED` of the squared distance (in published SEs) of the mean simulated
    value (medians and HR on the log scale) from the published one."""
    total = 0.0
    for name, est in PUBLISHED.items():
        x = np.asarray(summary[name], dtype=float)
        value = float(np.exp(np.mean(np.log(x)))) if est.log_scale else float(np.mean(x))
        total += est.z(value) ** 2
    return total


def _with(population: FlauraPopulation, x: np.ndarray) -> FlauraPopulation:
    """``population`` with the typical values of :data:`FIT_PARAMETERS` set from ``x`` (log / logit)."""
    typical, omega = dict(population.typical), dict(population.omega)
    for name, v in zip(FIT_PARAMETERS, x, strict=True):
        if name.startswith("omega_"):
            omega[name.removeprefix("omega_")] = float(np.exp(v))
        else:
            typical[name] = float(transform(CONSTRAINTS[name])[1](v))
    return FlauraPopulation(typical, omega, FIT_PARAMETERS, population.note)


def _unconstrained(population: FlauraPopulation) -> np.ndarray:
    out = []
    for name in FIT_PARAMETERS:
        if name.startswith("omega_"):
            out.append(np.log(float(population.omega[name.removeprefix("omega_")])))
            continue
        v = float(population.typical[name])
        out.append(float(transform(CONSTRAINTS[name])[0](v)))
    return np.asarray(out)


def fit(start: FlauraPopulation = FITTED, *, n_per_arm: int = 1000, n_trials: int = 1, seed: int = 2018,
        max_evaluations: int = 120, verbose: bool = False) -> tuple[FlauraPopulation, dict]:  # fmt: skip
    """Fit :data:`FIT_PARAMETERS`' typical values to :data:`PUBLISHED` (Nelder-Mead, log / logit
    scale, from ``start``) on ``n_trials`` virtual trials of ``n_per_arm`` patients per arm with
    common random numbers (the same ``seed`` for every evaluation; the discrepancy of the mean over
    trials). Returns the population and ``{"discrepancy", "evaluations", "summary"}``. About 3 ms
    per virtual patient on one CPU core: 2,000 patients and 120 evaluations take ~15 min on 2 cores."""
    import datetime

    from scipy.optimize import minimize

    trial_design = design((n_per_arm, n_per_arm))
    history = []

    def objective(x):
        pop = _with(start, x)
        summary = trial_summary(simulate(pop, n_trials=n_trials, seed=seed, trial_design=trial_design))
        value = discrepancy(summary)
        history.append((value, x.copy()))
        if verbose:
            print(len(history), round(value, 3), [f"{v:.4g}" for v in np.exp(x)],
                  {k: round(float(v[0]), 3) for k, v in summary.items()}, flush=True)  # fmt: skip
        return value

    x0 = _unconstrained(start)
    res = minimize(objective, x0, method="Nelder-Mead",
                   options={"maxfev": max_evaluations, "xatol": 0.02, "fatol": 0.05, "initial_simplex": x0 + np.vstack(
                       [np.zeros(len(x0)), 0.4 * np.eye(len(x0))])})  # fmt: skip
    best = _with(start, res.x)
    note = (f"fit() on {datetime.date.today().isoformat()}: Nelder-Mead, {len(history)} evaluations, "
            f"{n_trials} virtual trial(s) of {n_per_arm} per arm, seed {seed}; discrepancy {res.fun:.3f} "
            "(sum of squared z)")  # fmt: skip
    best = FlauraPopulation(best.typical, best.omega, FIT_PARAMETERS, note)
    summary = trial_summary(simulate(best, n_trials=n_trials, seed=seed, trial_design=trial_design))
    return best, {"discrepancy": float(res.fun), "evaluations": len(history), "summary": summary}
