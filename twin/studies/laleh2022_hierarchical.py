"""The twin's claim on Ghaffari Laleh et al. 2022 (PLOS Comput Biol 18(2): e1009822; data in
../shared/refdata/laleh2022_sld, loaded with the paper's preprocessing by ``twin.studies.laleh2022``),
as a function a user calls on any series in that format (:func:`hierarchical_forecast`): fitted on
each patient's first 3 scans, a hierarchical Bayesian Gompertz model forecasts the remaining scans,
compared with per-patient maximum likelihood (least squares, as the paper fits) and with the 90%
predictive intervals' coverage of the held-out scans (the test: ``tests/studies``).

Both methods see the same first 3 scans of every series with >= 6 numeric measurements (580
series, 3,084 held-out scans) and the same clock: weeks = day / 7 from the first scan (the paper's
``ceil(day/7)`` ties scans in one week). MAE is on the paper's normalised volume (also shown: on
the measured diameter, mm); coverage on the measured diameters.

The hierarchical model. Gompertz ``dw/dt = b - a w`` for ``w = ln V`` (normalised volume), written
in terms of what three scans pin down: ``w0 = w(0)`` (first scan), ``d = w(T) - w(0)`` (change by
``T = 12`` weeks, about the third scan: median 13 weeks) and the relaxation rate ``a``:
``w(t) = w0 + d (1 - e^(-a t)) / (1 - e^(-a T))`` (``b = a w0 + a d / (1 - e^(-a T))``). In the
textbook ``(v0, a, b)`` form NUTS met a curved, near-unidentified ridge in ``(a, b)`` and did not
converge (R-hat 1.03 at 4 x (500 + 500)); here ``a`` only bends the curve between the scans and
its likelihood is flat, not curved, where the scans cannot tell it. Observed as the diameter
``D = max_LD V^(1/3)`` (mm) with combined additive + proportional error (zeros allowed).
Random effects: normal on ``w0`` and ``d``, log-normal on ``a``; ``w0`` and ``d`` are sampled
centred (each patient's scans determine them; non-centred they mix slowly), ``a`` non-centred
(weakly informed by 3 scans; centred it makes a funnel with its between-patient SD).

Priors (weakly informative; typical value, then between-patient SD on the same scale):
``w0 ~ N(3 ln(30/228), 3)`` (a 30 mm lesion, the file's median, +-1 in ln diameter), SD
``HalfNormal(3)``; ``d ~ N(0, 1)`` (+-28% in diameter by week 12), SD ``HalfNormal(1)``; ``a ~
LogNormal(ln 0.1, 1.5)`` 1/week (time constant 10 weeks; 0.5 to 200 weeks within 2 SD), SD of
``ln a`` ``HalfNormal(1)``; additive SD ``HalfNormal(3)`` mm, CV ``HalfNormal(0.2)``. ``a`` is
the one parameter the data inform weakly: its between-patient SD comes out at about 2 (90%
interval 1.2-2.9), against the prior, and the forecasts of fast growers depend on it (see below).

NUTS: 4 chains x (1000 warm-up + 2000 draws) from the prior medians, target acceptance 0.8, 31
or 63 leapfrog steps per draw, chains run one after another (vmapped chains move in lock-step,
each tree as deep as the deepest: about 3x slower here). The standard checks (R-hat <= 1.01, bulk
and tail ESS >= 400 for every one of the 3,488 quantities, no divergences) are asserted by the test; with
1000 draws per chain 2 of the 3,488 R-hats were 1.012. About 3 minutes on 2 shared CPU cores.

Measured (seed 2022): max R-hat 1.004, min ESS bulk 1,223 / tail 2,741, no divergences; MAE on
normalised volume 0.0123 hierarchical Bayes vs 0.549 least squares (which explodes on a few
Study3 series), on diameters 7.0 vs 8.6 mm; coverage 88.7%. Not uniformly better: per study the
Bayesian forecast wins Study3 and Study4, ties Study2 (0.0051 vs 0.0050) and loses Study1 (0.13
vs 0.027), almost all of it one fast-growing series (Study1, 52 -> 119 mm in 16 weeks, then a
plateau) whose forecast extrapolates near-exponential growth because the population's typical
``a`` is small (0.017/week); by trend it loses on 'Up' series. With a wider ``HalfNormal(2)``
on the SD of ``ln a`` Study1 gets worse (0.21; overall 0.018), the rest barely moves.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from inference import (
    Cohort,
    Combined,
    Observations,
    Parameter,
    ParameterSpec,
    diagnose,
    nuts,
    population_model,
    to_inference_data,
)
from inference.least_squares import fit_curve
from inference.least_squares import predict as predict_fitted
from mechanistic.growth_curves import GROWTH_CURVES
from twin.studies.laleh2022 import LalehSeries

N_TRAIN = 3
T_REF = 12.0  # weeks: d is the change in ln V from the first scan to T_REF
SPEC = ParameterSpec(
    [
        Parameter("w0", "1", dist.Normal(3 * np.log(30 / 228), 3.0), constraint="real", level="individual",
                  omega=dist.HalfNormal(3.0), source="ln V at the first scan; 30 mm of 228 mm"),
        Parameter("d", "1", dist.Normal(0.0, 1.0), constraint="real", level="individual",
                  omega=dist.HalfNormal(1.0), source="ln V(T_REF) - ln V(0)"),
        Parameter("a", "1/week", dist.LogNormal(np.log(0.1), 1.5), level="individual",
                  omega=dist.HalfNormal(1.0), source="Gompertz relaxation rate of ln V"),
        Parameter("sd_add", "mm", dist.HalfNormal(3.0)),
        Parameter("cv", "1", dist.HalfNormal(0.2)),
    ]
)  # fmt: skip
CHAINS, WARMUP, SAMPLES, MIN_ESS = 4, 1000, 2000, 400


def log_volume(p, t):
    """Gompertz ln V at ``t`` weeks after the first scan (``p``: w0, d, a)."""
    return p["w0"] + p["d"] * jnp.expm1(-p["a"] * t) / jnp.expm1(-p["a"] * T_REF)


class HierarchicalForecast(NamedTuple):
    """Held-out scans (flattened): absolute errors ``errors`` (``bayes``, ``ml``: normalised volume;
    ``bayes_mm``, ``ml_mm``: diameter, mm), ``covered`` (inside the 90% predictive interval),
    ``series`` (each held-out scan's series); ``diagnostics`` (``inference.diagnose`` of the
    NUTS run); ``table`` (text: MAE and coverage by study and trend); ``seconds`` (NUTS, all)."""

    errors: dict[str, np.ndarray]
    covered: np.ndarray
    series: np.ndarray
    diagnostics: object
    table: str
    seconds: tuple[float, float]


def hierarchical_forecast(data: LalehSeries, key: jax.Array) -> HierarchicalForecast:
    """Fit the hierarchical model (module docstring) to the first :data:`N_TRAIN` scans of every
    series of ``data`` and forecast the rest; the same for per-series least squares. The same
    ``key`` gives the same numbers."""
    start = time.perf_counter()
    max_ld = (data.volume_scale / 0.52) ** (1 / 3)
    weeks = (data.day - data.day[:, :1]) / 7.0
    position = np.arange(data.mask.shape[1])[None, :]
    train = data.mask & (position < N_TRAIN)
    test = data.mask & ~train

    def predict(p, t):
        return {"diameter": max_ld * jnp.exp(log_volume(p, t - t[0]) / 3.0)}

    scans = [zip(weeks[i, train[i]], ["diameter"] * N_TRAIN, data.diameter_mm[i, train[i]], strict=True)
             for i in range(len(data))]  # fmt: skip
    obs = [Observations.from_rows(f"S{i}", r, units={"diameter": "mm"}) for i, r in enumerate(scans)]
    cohort = Cohort.from_observations(obs)
    model = population_model(predict, SPEC, cohort, {"diameter": Combined("sd_add", "cv")}, centred=("w0", "d"))
    # sequential: each chain its own tree sizes; vmapped chains ran in lock-step, about 3x slower here
    mcmc = nuts(model, key, chains=CHAINS, warmup=WARMUP, samples=SAMPLES, chain_method="sequential")
    jax.block_until_ready(mcmc.get_samples())  # (dispatch is asynchronous)
    nuts_s = time.perf_counter() - start
    idata = to_inference_data(mcmc, SPEC.units, log_likelihood=False)  # ArviZ would take minutes on it
    diag = diagnose(idata, min_ess=MIN_ESS, warn=False)
    s = {k: np.asarray(v)[::2] for k, v in mcmc.get_samples().items()}  # every 2nd draw: 4,000 (memory)

    # Bayesian forecast at the held-out scans (flattened): posterior draws of each patient's parameters
    series, scan = np.nonzero(test)
    t = jnp.asarray(weeks[series, scan])
    ind = {k: jnp.asarray(s[f"{k}_individual"][:, series]) for k in ("w0", "d", "a")}  # (draws, held-out)
    log_v = np.asarray(log_volume(ind, t))
    bayes_volume = np.median(np.exp(log_v), axis=0)
    diameter = max_ld * np.exp(log_v / 3.0)
    bayes_diameter = np.median(diameter, axis=0)
    sd = np.hypot(s["sd_add"][:, None], s["cv"][:, None] * diameter)
    noisy = diameter + sd * np.random.default_rng(0).normal(size=diameter.shape)
    lo, hi = np.quantile(noisy, [0.05, 0.95], axis=0)
    y_d = data.diameter_mm[series, scan]
    covered = (y_d >= lo) & (y_d <= hi)

    # maximum likelihood per patient: the paper's least squares on the normalised volume
    law = GROWTH_CURVES["gompertz"]
    fit = fit_curve(law, weeks, np.where(train, data.volume, 0.0), train)
    ml_volume = np.asarray(predict_fitted(law, fit, weeks))[series, scan]
    ml_diameter = max_ld * np.cbrt(ml_volume)

    y = data.volume[series, scan]
    err = {
        "bayes": np.abs(bayes_volume - y),
        "ml": np.abs(ml_volume - y),
        "bayes_mm": np.abs(bayes_diameter - y_d),
        "ml_mm": np.abs(ml_diameter - y_d),
    }
    groups = {"all": np.ones(len(data), bool)}
    groups |= {g: data.study == g for g in sorted(set(data.study))}
    groups |= {g: data.trend == g for g in ("Up", "Down", "Fluctuate")}
    rows = ["group       series  held-out  MAE volume: Bayes     LS      MAE mm: Bayes      LS   90% PI cover"]
    for name, in_group in groups.items():
        m = in_group[series]
        rows.append(
            f"{name:<10} {in_group.sum():>7} {m.sum():>9}  {err['bayes'][m].mean():>17.4g} {err['ml'][m].mean():>7.4g}"
            f"  {err['bayes_mm'][m].mean():>13.3g} {err['ml_mm'][m].mean():>7.3g}  {covered[m].mean():>11.1%}"
        )
    diag_table = diag.table
    summary = (
        f"NUTS {CHAINS} x ({WARMUP} + {SAMPLES}): max R-hat {diag_table.r_hat.max():.4f}, min ESS bulk "
        f"{diag_table.ess_bulk.min():.0f}, tail {diag_table.ess_tail.min():.0f} ({len(diag_table)} quantities), "
        f"{diag.divergences} divergences"
    )
    seconds = (nuts_s, time.perf_counter() - start)
    return HierarchicalForecast(err, covered, series, diag, "\n".join([*rows, summary]), seconds)
