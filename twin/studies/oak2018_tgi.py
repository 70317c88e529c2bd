"""Population tumour-dynamics models of the two OAK arms (docetaxel, atezolizumab), fitted to the
trial's target-lesion scans, for a virtual OAK trial.

Data: the Ghaffari Laleh et al. 2022 S1 Dataset (``shared/refdata/laleh2022_sld``; see
``twin.studies.laleh2022``), sheet Study4 = OAK (NCT02008227): ``Study_4_Arm_1`` = docetaxel,
``Study_4_Arm_2`` = atezolizumab. Each series is ONE target lesion's longest diameter (mm), the
first target lesion, not the RECIST sum (baseline median 37 mm vs. 66 mm SLD in the OAK tables).

Preprocessing (:func:`load_oak_series`):

- time = ``Treatment_Day`` (day since the first dose); the (at most one) pre-treatment scan of a
  series (day <= 0) is the baseline at t = 0 (the scan is days before the first dose, where the
  tumour is taken not to change); 5 of 701 series have no pre-treatment scan and start at their
  first on-treatment scan;
- 'TOO SMALL TO MEASURE' is left-censored below :data:`DETECTION_LIMIT_MM` = 5 mm (RECIST 1.1
  records a lesion too small to measure as 5 mm by default, and the file's smallest non-zero
  numbers are 5-6 mm); 'NOT EVALUABLE' and empty cells are dropped (counted in ``n_missing``);
  measured zeros (a lesion gone) stay 0, which the combined error model allows;
- inclusion: every series with >= 1 evaluable (numeric or censored) on-treatment scan. In this
  file that is all of them (325 docetaxel, 376 atezolizumab; no series is dropped), because the
  file itself holds only patients with >= 3 rows (the paper's ">= 3 measurements"). The bias is
  therefore the file's: 701 of OAK's 1,225 randomised patients (850 in the primary analysis),
  without those who died or progressed clinically before their second on-treatment scan (~day
  84), so the fitted population is more favourable than OAK's ITT population, more so for
  docetaxel (325 series against 376: more early drop-outs). The virtual trial should model that
  early loss itself (dropout) rather than expect it from these fits.

Model: the Stein bi-exponential size model in closed form (:class:`mechanistic.SteinBiexponential`)
``D(t) = baseline (exp(-shrinkage_rate t) + exp(growth_rate t) - 1)``, with independent
log-normal random effects on all three (``inference.population_model``) and a combined additive +
proportional residual error on diameters, ``sd = sqrt(sd_additive^2 + (cv D)^2)``. Priors (weakly
informative; typical value, then the between-patient SD of the log): baseline LogNormal(ln 37 mm,
1), HalfNormal(1); shrinkage_rate LogNormal(ln 0.01/day, 1.5), HalfNormal(2); growth_rate
LogNormal(ln 0.002/day, 1.5), HalfNormal(2); sd_additive HalfNormal(5 mm); cv HalfNormal(0.3).

Fit (:func:`fit_oak_arm`). The posterior is awkward: a tumour that only grows says nothing about
its shrinkage rate beyond "small", one that shrinks and never regrows nothing about its growth
rate, so many patients' random effects are prior-shaped and truncated, not Gaussian. NUTS on
``population_model`` (baseline centred, rates non-centred) is the reference but takes ~3-6 min an
arm here for 2 x (1000 + 1000) (trees of 255 steps). Gaussian variational families are biased:
SVI with a guide factorised into population x patients, or the structured
:func:`inference.population_guide`, gave the atezolizumab arm a typical shrinkage rate of 0.0017-0.0020/day
and between-patient SDs of ~1.05 for both rates, against NUTS's 0.00048/day, 1.94 and 1.38 (a
full-rank guide over all ~1,130 dimensions was slower than NUTS, ~30 ms a step, and unconverged
after 4,000). So ``method="svi"`` (default, ~30-45 s an arm on 2 cores) uses SVI only to find
each patient's posterior, then integrates the random effects out by adaptive importance sampling
(:func:`inference.refine_population`, through :func:`refine_marginal`) and returns draws of the
Laplace approximation at the maximum of the resulting marginal posterior of the 8 population
parameters. Against NUTS it agreed to within 0.23 (docetaxel) and 0.27 (atezolizumab) NUTS
posterior SDs on every population parameter, in one run each (2026-11); that check takes 10-20
min an arm on 2 cores and is opt-in (``TWIN_NUTS_CHECKS=1``, tests/studies/test_oak2018.py), not
run in CI: treat the agreement as measured once, not verified on every change. The returned
:class:`OakArmFit` carries population-level draws: typical values under the parameter names,
``omega_<name>`` and the error SDs (the sites ``population_model`` produces and
:func:`inference.population_prior` reads).

Predictive check (:func:`predictive_check`): virtual patients drawn as the virtual trial draws
them (a posterior draw's typical values times ``exp(omega * N(0, 1))``, residual noise from the
error model) are scanned on each observed patient's schedule; the distribution of the best %
change from baseline and the fraction with a >= 30% decrease (PR proxy, one lesion) are compared
with the observed ones. Both sides floor diameters at the detection limit (a censored observation
counts as 5 mm; a simulated value below 5 mm is reported as 5 mm), so the comparison is like for
like. Found (seed 0): the fraction <= -30% (observed 26.4% docetaxel, 23.3% atezolizumab;
simulated 28.3%, 27.7%) and the responders' tail are reproduced; the middle of the atezolizumab
arm is not (median best change observed -0.7%, simulated -15%): the residual error, CV 13% drawn
independently per scan, makes the best of ~6 scans look better than measured series do, whose
consecutive measurements are identical a third of the time (readers anchor on the previous scan).
Without residual noise the median is right (0.3%) but responders too few (16%). For docetaxel
(CV 8%) the middle matches and the growing tail is too heavy (90% quantile 16% against 5%).
A trial that applies RECIST to simulated scans inherits this: per-scan noise moves both the
nadir and progression from it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd

from inference.fit import CalibrationWarning, diagnose, nuts, to_inference_data
from inference.importance import RefinedPopulation, refine_population
from inference.observations import Observations
from inference.parameters import Parameter, ParameterSpec
from inference.population import Cohort, centred_parameters, population_model, population_sites
from inference.population_guide import population_guide
from inference.svi import svi
from mechanistic.measurement import Combined
from mechanistic.stein import stein_size
from twin.studies.laleh2022 import FILE

ARMS: dict[str, str] = {"docetaxel": "Study_4_Arm_1", "atezolizumab": "Study_4_Arm_2"}
STUDY = "Study4"
DETECTION_LIMIT_MM = 5.0
RESPONSE_CHANGE = -30.0  # % from baseline: RECIST partial response (here of one lesion)
INDIVIDUAL = ("baseline", "shrinkage_rate", "growth_rate")
ERROR = Combined("sd_additive", "cv")
METHODS = ("svi", "nuts")
MAX_SHIFT_SD = 1.0  # importance sampling: the two final estimates at most this many posterior SDs apart
MAX_LOW_ESS_SHARE = 0.01  # importance sampling: at most this share of patients with weights of ESS < 2
MAX_DIAMETER_MM = 1e4  # importance sampling: predictions capped at 10 m (a runaway draw)


def oak_spec() -> ParameterSpec:
    """The parameter specification (priors in the module docstring)."""
    return ParameterSpec(
        [
            Parameter(
                "baseline",
                "mm",
                dist.LogNormal(np.log(37.0), 1.0),
                level="individual",
                omega=dist.HalfNormal(1.0),
                source="target-lesion diameter at t = 0; OAK median 37 mm",
            ),
            Parameter(
                "shrinkage_rate",
                "1/day",
                dist.LogNormal(np.log(0.01), 1.5),
                level="individual",
                omega=dist.HalfNormal(2.0),
                source="Stein ks: decay of the treatment-sensitive part",
            ),
            Parameter(
                "growth_rate",
                "1/day",
                dist.LogNormal(np.log(0.002), 1.5),
                level="individual",
                omega=dist.HalfNormal(2.0),
                source="Stein kg: regrowth of the resistant part",
            ),
            Parameter("sd_additive", "mm", dist.HalfNormal(5.0), source="additive residual SD (measurement)"),
            Parameter("cv", "1", dist.HalfNormal(0.3), source="proportional residual SD"),
        ]
    )


def stein_predict(params: Mapping, times) -> dict[str, jax.Array]:
    """``{"diameter": D(times)}`` (mm) of the Stein model for one patient's parameters."""
    return {"diameter": stein_size(params, times)}


def _arm_code(arm: str) -> str:
    if arm not in ARMS:
        raise ValueError(f"unknown OAK arm {arm!r}; valid arms are {list(ARMS)}")
    return ARMS[arm]


def load_oak_series(refdata_dir, arm: str, *, detection_limit_mm: float = DETECTION_LIMIT_MM) -> list[Observations]:
    """The OAK series of ``arm`` (``"docetaxel"`` or ``"atezolizumab"``), one
    :class:`Observations` per patient (observable ``"diameter"``, mm; patient id = the file's
    anonymised id), time = treatment day with the pre-treatment scan at 0, 'TOO SMALL TO MEASURE'
    censored below ``detection_limit_mm``, 'NOT EVALUABLE' dropped; series without an evaluable
    on-treatment scan are left out (none in the file). Keys, sorting and string handling as
    :func:`twin.studies.laleh2022.load_laleh`, which drops the censored rows this keeps."""
    code = _arm_code(arm)
    if not detection_limit_mm > 0:
        raise ValueError(f"detection_limit_mm must be > 0; got {detection_limit_mm}")
    path = Path(refdata_dir) / FILE
    if not path.is_file():
        raise FileNotFoundError(f"load_oak_series: {path} not found")
    raw = pd.read_csv(
        path,
        dtype={"Sheet": str, "Patient_Anonmyized": str, "Study_Arm": str, "TargetLesionLongDiam_mm": str},
        keep_default_na=False,
    )
    raw = raw[(raw["Sheet"] == STUDY) & (raw["Study_Arm"] == code)]
    raw = raw.assign(day=pd.to_numeric(raw["Treatment_Day"], errors="raise"))
    raw = raw.sort_values(["Patient_Anonmyized", "day"], kind="stable")
    series = []
    for patient, g in raw.groupby("Patient_Anonmyized", sort=True):
        day = g["day"].to_numpy(float)
        if np.count_nonzero(day <= 0) > 1:
            raise ValueError(f"OAK {arm} patient {patient!r}: {np.count_nonzero(day <= 0)} pre-treatment scans")
        rows = zip(np.maximum(day, 0.0), ["diameter"] * len(g), g["TargetLesionLongDiam_mm"], strict=True)
        obs = Observations.from_rows(
            patient, rows, units={"diameter": "mm"}, detection_limit={"diameter": detection_limit_mm}
        )
        if np.any(obs.time > 0):
            series.append(obs)
    if not series:
        raise ValueError(f"load_oak_series: no {arm} series ({code}) in {path}")
    return series


@dataclass(frozen=True)
class OakArmFit:
    """A fitted OAK arm. ``samples``: population-level posterior draws ``{site: (n_draws,)}`` —
    typical values under the parameter names, ``omega_<name>`` (SD of the log between patients),
    ``sd_additive`` (mm) and ``cv``; ``cohort``: the data fitted (``n_series`` patients);
    ``error``: the residual error model (its parameter names index ``samples``); ``method``:
    ``"svi"`` or ``"nuts"``; ``diagnostics``: ``problems`` (one line per failed check, empty when
    all pass; :attr:`ok`) and the numbers behind them (svi: ``svi_final_loss``, ``svi_warnings``,
    ``is_ess_min`` / ``is_ess_1pct`` / ``is_ess_median``, ``is_low_ess_patients`` /
    ``is_low_ess_share``, ``mc_shift_sd``, ``final_draws``, ``hessian_ok``, ``lbfgs_ok``; nuts:
    ``max_r_hat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``);
    ``wall_s``: seconds the fit took (compilation included, data loading not); ``losses``: the SVI
    loss curve; ``individual``: each patient's posterior median (nuts, svi without refinement) or
    importance-weighted posterior mean on the log scale, exponentiated (svi), per individual
    parameter, in ``cohort.patients`` order."""

    arm: str
    spec: ParameterSpec
    samples: dict[str, np.ndarray]
    cohort: Cohort
    error: Combined
    n_series: int
    method: str
    diagnostics: dict = field(default_factory=dict)
    wall_s: float = float("nan")
    losses: np.ndarray | None = None
    individual: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.diagnostics.get("problems")

    @property
    def n_draws(self) -> int:
        return len(next(iter(self.samples.values())))

    def summary(self) -> dict[str, tuple[float, float, float]]:
        """``{site: (median, 5%, 95%)}`` of every population-level site."""
        return {k: tuple(float(q) for q in np.quantile(v, [0.5, 0.05, 0.95])) for k, v in self.samples.items()}

    def virtual_patients(self, key, n: int) -> dict[str, np.ndarray]:
        """``n`` virtual patients as the virtual trial draws them: for each, a random posterior
        draw's typical values times ``exp(omega * N(0, 1))`` per individual parameter, and that
        draw's error SDs. ``{name: (n,)}`` for every parameter of ``spec``."""
        k_draw, k_eta = jax.random.split(key)
        d = np.asarray(jax.random.randint(k_draw, (n,), 0, self.n_draws))
        eta = np.asarray(jax.random.normal(k_eta, (len(INDIVIDUAL), n)))
        out = {
            p: self.samples[p][d] * np.exp(self.samples[f"omega_{p}"][d] * e)
            for p, e in zip(INDIVIDUAL, eta, strict=True)
        }
        return out | {p: self.samples[p][d] for p in self.error.parameters}

    def simulate_scans(self, key, params: Mapping[str, np.ndarray], times, *, noise: bool = True) -> np.ndarray:
        """Measured diameters (mm) of patients ``params`` (``{name: (n,)}``) at ``times`` (``(n, T)``
        days): the model plus residual noise from :attr:`error` (``noise=False``: the model only),
        clipped at 0 mm."""
        times = jnp.asarray(times, float)
        p = {k: jnp.asarray(v, float) for k, v in params.items()}
        pred = jax.vmap(lambda q, t: stein_predict(q, t)["diameter"])({k: p[k] for k in INDIVIDUAL}, times)
        if noise:
            pred = self.error.sample(key, {k: p[k][:, None] for k in self.error.parameters}, pred)
        return np.maximum(np.asarray(pred), 0.0)


def oak_guide(cohort: Cohort, spec: ParameterSpec, centred=()):
    """:func:`inference.population_guide` for the OAK population model, started at each patient's
    first measured diameter (a centred ``baseline``: ``a_i`` at its log; the typical baseline at
    their median)."""
    index, value, censored, mask = cohort.groups["diameter"]
    first = np.where(mask & ~censored & (value > 0), value, np.nan)[:, 0]
    centred = centred_parameters(spec, centred)
    start = {"baseline": np.nanmedian(first)} if np.any(np.isfinite(first)) else {}
    individual_start = {"baseline": first} if "baseline" in centred else {}
    return population_guide(spec, cohort, centred, start=start, individual_start=individual_start)


def refine_marginal(
    cohort: Cohort,
    spec: ParameterSpec,
    error: Combined,
    log_individual: np.ndarray,
    start: Mapping[str, float],
    key,
    *,
    max_shift_sd: float = MAX_SHIFT_SD,
    max_low_ess_share: float = MAX_LOW_ESS_SHARE,
    **options,
) -> RefinedPopulation:
    """:func:`inference.refine_population` of the Stein model (:func:`stein_predict`) on the
    diameters (``error``: their error model), predictions capped at :data:`MAX_DIAMETER_MM` (a
    runaway draw's weight ~0); ``options`` (``draws``, ``adapt``, ``final_draws``, ...) as there."""
    return refine_population(
        stein_predict,
        spec,
        cohort,
        {"diameter": error},
        log_individual,
        start,
        key,
        max_shift_sd=max_shift_sd,
        max_low_ess_share=max_low_ess_share,
        cap={"diameter": MAX_DIAMETER_MM},
        **options,
    )


def fit_oak_arm(
    refdata_dir,
    arm: str,
    *,
    key,
    method: str = "svi",
    spec: ParameterSpec | None = None,
    num_draws: int = 2000,
    steps: int = 1500,
    learning_rate: float = 0.01,
    refine: bool = True,
    is_draws: int = 256,
    chains: int = 2,
    warmup: int = 1000,
    samples: int = 1000,
    init: OakArmFit | None = None,
    detection_limit_mm: float = DETECTION_LIMIT_MM,
) -> OakArmFit:
    """Fit the population Stein model (module docstring) to ``arm``'s series; ``key`` a JAX PRNG key.

    ``method="svi"`` (~30-40 s an arm on 2 cores): :func:`inference.svi` with
    :func:`oak_guide` (``steps``, ``learning_rate``), then, with ``refine`` (default),
    :func:`refine_marginal` (``is_draws`` importance draws per patient) from the SVI fit and
    ``num_draws`` draws of its Laplace approximation. Without ``refine``: ``num_draws`` draws from
    the guide, whose Gaussian family biases the population here (atezolizumab: typical shrinkage
    rate 0.0017 against 0.0005/day, its between-patient SD 1.07 against 1.9): not for trials.
    Problems (after :func:`refine_marginal`'s retry with twice the draws): the two final
    importance-sampling estimates more than 1 posterior SD apart, more than 1% of the patients
    with importance weights of ESS < 2 (fewer are named in a warning), a Hessian not positive
    definite; without ``refine``, an SVI loss not finite or still falling (with it, SVI only
    starts the proposals and its warnings are kept in ``diagnostics["svi_warnings"]``).

    ``method="nuts"`` (the reference; ~3-6 min an arm): :func:`inference.nuts` on
    ``population_model`` (baseline centred, rates non-centred), ``chains`` x (``warmup`` +
    ``samples``) one chain after another, target acceptance 0.9; problems: R-hat > 1.01 or bulk /
    tail ESS < 100 per chain for a population-level site, or divergences (the random effects of
    patients whose scans barely inform a rate mix slowly; they are not checked). The chains start
    at the prior medians, or at ``init`` (a fit of the same arm: its population medians and
    per-patient values). From the prior medians a chain can stick: for atezolizumab with
    ``key=jax.random.key(1)`` one of two chains stayed at a typical shrinkage rate ~1e-6/day
    (R-hat 2.2) over 2 x (1000 + 2000) draws, 27 min; seeds 7 and 3 mixed.

    Problems are listed in ``diagnostics["problems"]`` and warn
    (:class:`~inference.CalibrationWarning`)."""
    _arm_code(arm)
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}")
    spec = oak_spec() if spec is None else spec
    missing = [p for p in (*INDIVIDUAL, *ERROR.parameters) if p not in spec.names]
    if missing:
        raise ValueError(f"spec lacks parameter(s) {missing}; it has {spec.names}")
    series = load_oak_series(refdata_dir, arm, detection_limit_mm=detection_limit_mm)
    cohort = Cohort.from_observations(series)
    centred = ("baseline",)
    model = population_model(stein_predict, spec, cohort, {"diameter": ERROR}, centred=centred)
    keep = [name for name, _ in population_sites(spec)]
    start = time.perf_counter()
    losses, problems, diagnostics = None, [], {}
    if method == "svi":
        k_svi, k_draw, k_is, k_laplace = jax.random.split(key, 4)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CalibrationWarning)
            result = svi(
                model,
                k_svi,
                steps=steps,
                learning_rate=learning_rate,
                guide=lambda _: oak_guide(cohort, spec, centred),
            )
        svi_problems = [str(w.message) for w in caught if issubclass(w.category, CalibrationWarning)]
        losses = result.losses
        draws = result.sample(k_draw, num_draws if not refine else 500)
        pop = {k: np.asarray(draws[k]) for k in keep}
        individual = {p: np.median(np.asarray(draws[f"{p}_individual"]), axis=0) for p in spec.individual}
        diagnostics["svi_final_loss"] = float(np.mean(losses[-max(steps // 10, 10) :]))
        diagnostics["svi_warnings"] = svi_problems
        if not refine:
            problems += svi_problems
        else:
            log_ind = np.stack([np.log(np.asarray(draws[f"{p}_individual"])) for p in spec.individual], -1)
            start_at = {k: float(np.median(v)) for k, v in pop.items()}
            refined = refine_marginal(
                cohort, spec, ERROR, log_ind, start_at, k_is, draws=is_draws, final_draws=2 * is_draws
            )
            info = refined.info
            diagnostics.update(info)
            if not info["mc_shift_sd"] <= MAX_SHIFT_SD:
                problems.append(
                    f"importance-sampling refinement unstable: two independent estimates differ by "
                    f"{info['mc_shift_sd']:.2g} posterior SDs with {info['final_draws']} draws; raise is_draws"
                )
            low = info["is_low_ess_patients"]
            if info["is_low_ess_share"] > MAX_LOW_ESS_SHARE:
                problems.append(
                    f"{len(low)} of {len(cohort)} patients' importance weights have ESS < 2 "
                    f"(more than {MAX_LOW_ESS_SHARE:.0%}): "
                    f"raise is_draws"
                )
            elif low:  # a few poorly integrated patients: their noise is inside mc_shift_sd; named, not fatal
                warnings.warn(
                    f"OAK {arm} fit: importance weights with ESS < 2 for patient(s) {low} "
                    f"(min {info['is_ess_min']:.2g}); their marginal likelihoods are noisy (inside the "
                    f"Monte Carlo error {info['mc_shift_sd']:.2g} posterior SDs)",
                    CalibrationWarning,
                    stacklevel=2,
                )
            if not info["hessian_ok"]:
                problems.append(
                    "the Hessian at the marginal MAP is not positive definite: a parameter is not identified"
                )
            else:
                pop = refined.sample(k_laplace, num_draws)
            individual = {p: np.exp(refined.individual[:, j]) for j, p in enumerate(spec.individual)}
    else:
        values = None
        if init is not None:
            if init.arm != arm or init.cohort.patients != cohort.patients:
                raise ValueError(f"init is a fit of {init.arm!r} ({init.n_series} series), not of this {arm!r} cohort")
            values = {k: float(np.median(v)) for k, v in init.samples.items()}
            for p in spec.individual:
                log_p = np.log(init.individual[p])
                if p in centred:
                    values[f"z_{p}"] = log_p
                else:
                    values[f"eta_{p}"] = (log_p - np.log(values[p])) / values[f"omega_{p}"]
        mcmc = nuts(
            model,
            key,
            chains=chains,
            warmup=warmup,
            samples=samples,
            init=values,
            chain_method="sequential",
            target_accept=0.9,
        )
        draws = {k: np.asarray(v) for k, v in mcmc.get_samples().items()}
        pop = {k: draws[k] for k in keep}
        individual = {p: np.median(draws[f"{p}_individual"], axis=0) for p in spec.individual}
        idata = to_inference_data(mcmc, spec.units, log_likelihood=False)
        idata.posterior = idata.posterior[keep]
        diag = diagnose(idata, min_ess=100 * chains, warn=False)
        problems += diag.problems
        diagnostics |= {
            "max_r_hat": float(diag.table.r_hat.max()),
            "min_ess_bulk": float(diag.table.ess_bulk.min()),
            "min_ess_tail": float(diag.table.ess_tail.min()),
            "divergences": diag.divergences,
        }
    wall = time.perf_counter() - start
    bad = [k for k, v in pop.items() if not np.all(np.isfinite(v))]
    if bad:
        problems.append(f"non-finite draws of {bad}")
    for msg in problems:
        warnings.warn(f"OAK {arm} fit ({method}): {msg}", CalibrationWarning, stacklevel=2)
    diagnostics["problems"] = problems
    return OakArmFit(arm, spec, pop, cohort, ERROR, len(cohort), method, diagnostics, wall, losses, individual)


def best_change(values, times, mask, *, detection_limit_mm: float = DETECTION_LIMIT_MM) -> np.ndarray:
    """Best (lowest) % change from baseline of each series: ``values``, ``times`` (day) and
    ``mask`` ``(..., n, T)``; the baseline is the scan at t = 0, the best change the minimum over
    the valid scans at t > 0; diameters floored at ``detection_limit_mm``. NaN for a series
    without a scan at t = 0 or after it."""
    v = np.maximum(np.asarray(values, float), detection_limit_mm)
    times, mask = np.broadcast_to(times, v.shape), np.broadcast_to(mask, v.shape)
    at0 = mask & (times == 0)
    has0 = at0.any(-1)
    base = np.take_along_axis(v, np.argmax(at0, -1)[..., None], -1)[..., 0]
    post = mask & (times > 0)
    lowest = np.min(np.where(post, v, np.inf), axis=-1)
    change = 100.0 * (lowest / base - 1.0)
    return np.where(has0 & post.any(-1), change, np.nan)


@dataclass(frozen=True)
class PredictiveCheck:
    """``observed``: best % change per series (series with a baseline scan); ``simulated``
    ``(replicates, n)``: the same for virtual patients on those series' schedules, with residual
    noise; ``noise_free``: the same virtual patients without it; ``table``: the comparison."""

    arm: str
    observed: np.ndarray
    simulated: np.ndarray
    noise_free: np.ndarray
    table: str

    @property
    def observed_response(self) -> float:
        """Fraction of series with best change <= -30%."""
        return float(np.mean(self.observed <= RESPONSE_CHANGE))

    @property
    def simulated_response(self) -> float:
        """The same over all virtual replicates (with residual noise)."""
        return float(np.mean(self.simulated <= RESPONSE_CHANGE))

    def simulated_response_interval(self, level: float = 0.9) -> tuple[float, float]:
        """Central interval of the response fraction over the replicates (each the size of the arm)."""
        r = np.mean(self.simulated <= RESPONSE_CHANGE, axis=-1)
        return tuple(float(q) for q in np.quantile(r, [(1 - level) / 2, (1 + level) / 2]))


QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def predictive_check(
    fit: OakArmFit, key, *, replicates: int = 200, detection_limit_mm: float = DETECTION_LIMIT_MM
) -> PredictiveCheck:
    """Posterior predictive check of the best % change (module docstring): ``replicates`` virtual
    arms, each one virtual patient per observed series (with a baseline scan) on its schedule."""
    index, value, censored, mask = fit.cohort.groups["diameter"]
    times = np.take_along_axis(fit.cohort.times, index, axis=1)
    limit = detection_limit_mm
    observed = best_change(np.where(censored, limit, value), times, mask, detection_limit_mm=limit)
    keep = np.isfinite(observed)
    times, mask, observed = times[keep], mask[keep], observed[keep]
    n = len(observed)
    k_pat, k_noise = jax.random.split(key)
    params = fit.virtual_patients(k_pat, replicates * n)
    schedule = np.tile(times, (replicates, 1))
    simulated, noise_free = (
        best_change(fit.simulate_scans(k_noise, params, schedule, noise=noisy).reshape(replicates, n, -1), times,
                    mask, detection_limit_mm=limit)
        for noisy in (True, False)
    )  # fmt: skip
    rows = [
        f"OAK {fit.arm}: best % change from baseline, {n} series with a baseline scan; {replicates} virtual arms",
        "                        " + "".join(f"{f'q{int(100 * q)}':>7}" for q in QUANTILES) + "  <=-30%  >=+20%",
    ]
    for name, x in (("observed", observed), ("simulated", simulated), ("simulated, no noise", noise_free)):
        rows.append(
            f"  {name:<21}"
            + "".join(f"{q:>7.1f}" for q in np.quantile(x, QUANTILES))
            + f"  {np.mean(x <= RESPONSE_CHANGE):>6.1%}  {np.mean(x >= 20.0):>6.1%}"
        )
    lo, hi = np.quantile(np.mean(simulated <= RESPONSE_CHANGE, axis=-1), [0.05, 0.95])
    rows.append(f"  simulated <=-30%, 90% of virtual arms: {lo:.1%}-{hi:.1%}")
    return PredictiveCheck(fit.arm, observed, simulated, noise_free, "\n".join(rows))
