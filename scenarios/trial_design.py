"""A virtual trial's design as data: arms, sizes, enrolment, scan schedule, censoring, noise, OS link.

Times are days from each patient's randomisation (day 0 = baseline scan), except enrolment,
which is in days from the trial's first randomisation. Every piece is a frozen dataclass: a
design can be printed, compared and reused; :func:`scenarios.run_trial` executes it.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

import mechanistic as m
from mechanistic.stein import stein_size
from scenarios.adaptive import simulate_regimen
from scenarios.regimen import Regimen
from scenarios.virtual_population import VirtualPopulation

ENDPOINTS = ("pfs", "os")
WEEK8_DAY = 56.0


def _positive(owner: str, name: str, value, *, allow_zero: bool = False, allow_inf: bool = False) -> None:
    ok = isinstance(value, int | float) and not math.isnan(value) and (value >= 0 if allow_zero else value > 0)
    if ok and math.isinf(value) and not allow_inf:
        ok = False
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner}: {name}={value!r} must be a {'' if allow_inf else 'finite '}number {bound}")


@dataclass(frozen=True)
class ScanSchedule:
    """Tumour assessments: every ``every[0]`` days up to day ``switch_after[0]``, then every
    ``every[1]`` days, ... (the last interval until the end of follow-up). OAK (Rittmeyer et al.
    2017): every 6 weeks for 36 weeks, then every 9 weeks: ``ScanSchedule((42, 63), (252,))``."""

    every: tuple[float, ...] = (42.0,)
    switch_after: tuple[float, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "every", tuple(float(e) for e in self.every))
        object.__setattr__(self, "switch_after", tuple(float(s) for s in self.switch_after))
        if not self.every:
            raise ValueError("ScanSchedule: every is empty; give at least one scan interval (days)")
        for i, e in enumerate(self.every):
            _positive("ScanSchedule", f"every[{i}]", e)
        if len(self.switch_after) != len(self.every) - 1:
            raise ValueError(
                f"ScanSchedule: {len(self.every)} intervals need {len(self.every) - 1} switch days; "
                f"got switch_after={self.switch_after}"
            )
        if any(b <= a for a, b in zip((0.0, *self.switch_after), self.switch_after, strict=False)):
            raise ValueError(f"ScanSchedule: switch_after={self.switch_after} must be positive and increasing")

    def times(self, horizon: float) -> np.ndarray:
        """Scan days ``(S,)``: 0 (baseline) and every scheduled scan up to ``horizon`` (day)."""
        if self.every[0] > horizon:
            raise ValueError(
                f"ScanSchedule: the first scan (day {self.every[0]:g}) is beyond the horizon "
                f"(day {horizon:g}); no response could be assessed"
            )
        times, t = [0.0], 0.0
        bounds = (*self.switch_after, math.inf)
        for every, until in zip(self.every, bounds, strict=True):
            while t + every <= min(until, horizon) + 1e-9:
                t += every
                times.append(t)
            if t + 1e-9 >= horizon:
                break
            t = max(t, until) if until < horizon else t
        return np.asarray(times)


@dataclass(frozen=True)
class ScanNoise:
    """Measurement error of a scan's sum of diameters: ``SLD_obs = SLD + sqrt(a^2 + (b SLD)^2) e``,
    e ~ N(0, 1), floored at 0 (``additive_mm`` = a, mm; ``proportional`` = b): the combined error
    model of :class:`mechanistic.measurement.Combined`, which calibration uses as its likelihood."""

    additive_mm: float = 0.0
    proportional: float = 0.0

    def __post_init__(self):
        _positive("ScanNoise", "additive_mm", self.additive_mm, allow_zero=True)
        _positive("ScanNoise", "proportional", self.proportional, allow_zero=True)


@dataclass(frozen=True)
class LogNormalSurvival:
    """Overall survival linked to tumour dynamics by a log-normal accelerated failure time model
    (Claret et al. 2009, 2013; Bruno et al. 2014):
    ``log T = intercept + week8_change x c8 + log_baseline x log(SLD_0 / 1 mm) + sigma e``, T in
    days, ``c8`` the model-predicted fractional change of the SLD from baseline at week 8 (-0.3 =
    30% shrinkage), e ~ N(0, 1). Coefficients are set by the user or fitted by :meth:`fit`."""

    intercept: float
    week8_change: float = 0.0
    log_baseline: float = 0.0
    sigma: float = 1.0

    def __post_init__(self):
        for name in ("intercept", "week8_change", "log_baseline"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v)):
                raise ValueError(f"LogNormalSurvival: {name}={v!r} must be a finite number")
        _positive("LogNormalSurvival", "sigma", self.sigma)

    def log_time(self, change8: jax.Array, baseline_mm: jax.Array) -> jax.Array:
        """Mean log survival time (log day) for week-8 changes and baselines (mm), any shape."""
        return (
            self.intercept + self.week8_change * change8 + self.log_baseline * jnp.log(jnp.maximum(baseline_mm, 1e-3))
        )

    @classmethod
    def fit(cls, days, event, change8, baseline_mm) -> LogNormalSurvival:
        """Maximum-likelihood fit (lifelines ``LogNormalAFTFitter``) to survival ``days`` (n,),
        ``event`` (n,) 1 = death, 0 = censored, week-8 changes and baseline SLDs (mm)."""
        import pandas as pd
        from lifelines import LogNormalAFTFitter

        df = pd.DataFrame(
            {
                "days": np.asarray(days, float),
                "event": np.asarray(event, int),
                "week8_change": np.asarray(change8, float),
                "log_baseline": np.log(np.asarray(baseline_mm, float)),
            }
        )
        bad = ~np.isfinite(df.to_numpy()).all(axis=1) | (df.days.to_numpy() <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"LogNormalSurvival.fit: row {i} {df.iloc[i].to_dict()} has a non-finite or non-positive value"
            )
        fitter = LogNormalAFTFitter().fit(df, duration_col="days", event_col="event")
        mu = fitter.params_["mu_"]
        return cls(
            float(mu["Intercept"]),
            float(mu["week8_change"]),
            float(mu["log_baseline"]),
            float(np.exp(fitter.params_["sigma_"]["Intercept"])),
        )


@dataclass(frozen=True, eq=False)
class Arm(abc.ABC):
    """One arm of a virtual trial: what a patient's tumour does, as data. :meth:`size` gives the
    sum of diameters (mm) of one patient with parameters ``params`` (scalars named in
    :attr:`parameters`) at days since randomisation; ``population``: the arm's own virtual
    population (e.g. per-arm fits), else the trial's. :class:`RegimenArm` (a model family on a
    regimen) and :class:`SteinArm` (an empirical SLD model) are the two kinds."""

    name: str
    population: VirtualPopulation | None = field(default=None, repr=False, kw_only=True)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Arm: name={self.name!r} must be a non-empty string")

    @property
    @abc.abstractmethod
    def parameters(self) -> tuple[str, ...]:
        """The patient parameters :meth:`size` reads (drawn from the virtual population)."""

    @abc.abstractmethod
    def size(self, params: Mapping[str, jax.Array], times: jax.Array) -> jax.Array:
        """Sum of diameters (mm) ``(T,)`` at sorted ``times`` (day since randomisation)."""


@dataclass(frozen=True, eq=False)
class SteinArm(Arm):
    """An arm whose tumour sizes follow the Stein bi-exponential model (:mod:`mechanistic.stein`;
    parameters ``baseline`` mm, ``shrinkage_rate`` and ``growth_rate`` 1/day), e.g. fitted per arm."""

    @property
    def parameters(self) -> tuple[str, ...]:
        return ("baseline", "shrinkage_rate", "growth_rate")

    def size(self, params, times):
        return stein_size(params, times)


@dataclass(frozen=True, eq=False)
class RegimenArm(Arm):
    """An arm running ``regimen`` on a :class:`mechanistic.ModelFamily` for ``days`` (each
    patient's parameters are the family's; its initial state is the family's, the clone volumes at
    randomisation, mm^3); the SLD is that of ``n_lesions`` equal spheres of the family's
    ``volume``. Adaptive regimens run their decision loop over ``days``."""

    family: m.ModelFamily
    regimen: Regimen
    days: int
    n_lesions: int = 1
    options: m.SolverOptions = field(
        default=m.SolverOptions(grid=m.LawsonGrid(substeps=1, absorption_offsets=(), nodes=5)), repr=False
    )

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.family, m.ModelFamily):
            raise TypeError(
                f"arm {self.name!r}: family must be a mechanistic.ModelFamily; got {type(self.family).__name__}"
            )
        if not isinstance(self.regimen, Regimen):
            raise TypeError(
                f"arm {self.name!r}: regimen must be a scenarios.Regimen; got {type(self.regimen).__name__}"
            )
        if "volume" not in self.family.observables:
            observes = list(self.family.observables)
            raise ValueError(f"arm {self.name!r}: {type(self.family).__name__} observes {observes}; a trial arm "
                             "reads tumour sizes (RECIST) from its volume")  # fmt: skip
        m.sum_of_diameters(jnp.ones(1), self.n_lesions)  # checks n_lesions

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.family.parameters)

    def size(self, params, times):
        model, y0 = self.family.build(params), self.family.initial_state(params)
        if self.regimen.adaptive:
            tr = simulate_regimen(model, y0, self.regimen, self.days, options=self.options)
            volume = jnp.interp(times, tr.times, self.family.observe(tr.clones)["volume"])
        else:
            sol = m.solve(model, y0, self.regimen.doses, times, options=self.options)
            volume = self.family.observe(sol.clones)["volume"]
        return m.sum_of_diameters(volume, self.n_lesions)


def stein_arm(name: str, population: VirtualPopulation | None = None) -> SteinArm:
    """An arm whose tumour sizes follow the Stein bi-exponential model (e.g. fitted per arm)."""
    return SteinArm(name, population=population)


def regimen_arm(
    name: str,
    family: m.ModelFamily,
    regimen: Regimen,
    *,
    days: int,
    n_lesions: int = 1,
    options: m.SolverOptions = RegimenArm.options,
    population: VirtualPopulation | None = None,
    check_params: Mapping[str, float] | None = None,
) -> RegimenArm:
    """A :class:`RegimenArm`; ``check_params`` (one patient's parameters, e.g. typical values)
    builds the model once to check the regimen's drugs."""
    arm = RegimenArm(name, family, regimen, days, n_lesions, options, population=population)
    if check_params is not None:
        model = family.build({k: jnp.asarray(v, dtype=float) for k, v in check_params.items()})
        unknown = [d for d in regimen.drugs if d not in model.drugs]
        if unknown:
            raise ValueError(f"arm {name!r}: regimen {regimen.description!r} gives {unknown}, unknown to the model "
                             f"(drugs {model.drugs})")  # fmt: skip
    return arm


@dataclass(frozen=True)
class TrialDesign:
    """A randomised trial. ``arms``: the first is the control. ``n_per_arm``: patients per arm (an
    int for all arms, or one per arm: the allocation). ``follow_up_days``: the data cut-off, in
    days after the first randomisation (administrative censoring). ``enrolment_days``: patients
    are randomised uniformly over ``[0, enrolment_days]`` (staggered entry: the later, the shorter
    their follow-up). ``dropout_per_year``: hazard of leaving the study (exponential; censors PFS
    and OS); ``early_dropout``: probability of leaving before the first post-baseline scan (never
    assessed: best response NE, PFS censored at baseline); both a number for all arms or one per
    arm. ``primary``: ``"pfs"`` or ``"os"`` (OS needs ``survival``), tested by a two-sided
    log-rank test at level ``alpha``. ``confirm_response``: a PR/CR counts for the best response
    only if the next scan confirms it (RECIST 1.1, as OAK's best confirmed response)."""

    arms: tuple[Arm, ...]
    n_per_arm: int | tuple[int, ...]
    scans: ScanSchedule
    follow_up_days: float
    enrolment_days: float = 0.0
    dropout_per_year: float = 0.0
    noise: ScanNoise = ScanNoise()
    survival: LogNormalSurvival | None = None
    primary: str = "pfs"
    alpha: float = 0.05
    confirm_response: bool = True
    early_dropout: float | tuple[float, ...] = 0.0

    def __post_init__(self):
        arms = tuple(self.arms)
        object.__setattr__(self, "arms", arms)
        if len(arms) < 1 or not all(isinstance(a, Arm) for a in arms):
            raise ValueError("TrialDesign: arms must be a non-empty sequence of Arm")
        names = [a.name for a in arms]
        if len(set(names)) != len(names):
            raise ValueError(f"TrialDesign: arm names must be distinct; got {names}")
        sizes = (self.n_per_arm,) * len(arms) if isinstance(self.n_per_arm, int | np.integer) else tuple(self.n_per_arm)
        if len(sizes) != len(arms):
            raise ValueError(f"TrialDesign: n_per_arm has {len(sizes)} entries for {len(arms)} arms")
        for name, n in zip(names, sizes, strict=True):
            if not (isinstance(n, int | np.integer) and n >= 1):
                raise ValueError(f"TrialDesign: arm {name!r} has n_per_arm={n!r}; it must be an integer >= 1")
        object.__setattr__(self, "n_per_arm", tuple(int(n) for n in sizes))
        _positive("TrialDesign", "follow_up_days", self.follow_up_days)
        _positive("TrialDesign", "enrolment_days", self.enrolment_days, allow_zero=True)
        if self.enrolment_days >= self.follow_up_days:
            raise ValueError(
                f"TrialDesign: enrolment_days={self.enrolment_days!r} must end before the data cut-off "
                f"follow_up_days={self.follow_up_days!r}"
            )
        for name in ("dropout_per_year", "early_dropout"):
            value = getattr(self, name)
            per_arm = (value,) * len(arms) if isinstance(value, int | float) else tuple(value)
            if len(per_arm) != len(arms):
                raise ValueError(f"TrialDesign: {name} has {len(per_arm)} entries for {len(arms)} arms")
            for arm, v in zip(names, per_arm, strict=True):
                _positive("TrialDesign", f"{name} of arm {arm!r}", v, allow_zero=True)
                if name == "early_dropout" and v >= 1:
                    raise ValueError(
                        f"TrialDesign: early_dropout of arm {arm!r} is {v!r}; it must be a probability < 1"
                    )
            object.__setattr__(self, name, tuple(float(v) for v in per_arm))
        if self.primary not in ENDPOINTS:
            raise ValueError(f"TrialDesign: primary={self.primary!r}; valid: {ENDPOINTS}")
        if self.primary == "os" and self.survival is None:
            raise ValueError("TrialDesign: primary='os' needs survival= (a LogNormalSurvival link to tumour dynamics)")
        if not 0 < self.alpha < 1:
            raise ValueError(f"TrialDesign: alpha={self.alpha!r} must be in (0, 1)")
        self.scans.times(self.follow_up_days)  # raises when the first scan is beyond the cut-off

    def scan_times(self) -> np.ndarray:
        """Scan days ``(S,)`` from randomisation up to the cut-off."""
        return self.scans.times(self.follow_up_days)
