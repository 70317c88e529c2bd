"""Vaghi et al. 2020 (PLOS Comput Biol 16(2): e1007178): back-predicting a tumour's age from a few
late volume measurements with the reduced Gompertz model and a population prior, against per-animal
likelihood maximisation (the paper: mean relative error 12.2% vs 78% on the breast data).

Set-up (the paper's, as the data set's README states): V(0) = Vc = 1 mm^3 at injection (day 0),
Gompertz dV/dt = (alpha - beta ln(V/Vc)) V, so ln(V/Vc) = (alpha/beta)(1 - exp(-beta a)) at age a;
reduced Gompertz alpha = k beta + q with k, q population-level and beta individual, written here as
alpha = alpha_ref + k (beta - BETA_REF) (alpha_ref = alpha at BETA_REF) so that the two population
parameters are nearly uncorrelated a posteriori (the k, q form is a narrow ridge for NUTS). Zeros
dropped. :func:`cross_validated_age_errors` is the paper's out-of-sample workflow on any data in the
format of ``shared/refdata/vaghi2020_benzekry2014_mouse`` (:func:`load_animals`).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd
from scipy.optimize import least_squares

from inference import (
    Cohort,
    Observations,
    Parameter,
    ParameterSpec,
    Proportional,
    diagnose,
    nuts,
    population_model,
    population_prior,
    to_inference_data,
)

BREAST_FILE = Path("vaghi2020_benzekry2014_mouse") / "breast_vol_data.txt"
BETA_REF = 0.07  # 1/day, near the typical beta of this data set
AGE_MAX = 60.0  # day: upper end of the flat prior on the age at the first used measurement
SPEC = ParameterSpec(
    [
        Parameter("beta", "1/day", dist.LogNormal(np.log(0.1), 1.0), level="individual"),
        # alpha/beta ~ ln(K/Vc) with carrying capacity K ~ 1e3-1e4 mm^3: k near 7-9
        Parameter("k", "1", dist.Normal(7.0, 2.0), constraint="real"),
        Parameter("alpha_ref", "1/day", dist.LogNormal(np.log(0.5), 0.5)),
        Parameter("sigma", "1", dist.HalfNormal(0.5)),
    ]
)


def load_animals(path) -> list[pd.DataFrame]:
    """One DataFrame per animal (columns ``ID, Time`` (day since injection), ``Observation``
    (mm^3)), sorted by time, zeros dropped; ``path``: a tab-separated file in the data set's format
    or the refdata folder (its breast file)."""
    path = Path(path)
    path = path / BREAST_FILE if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"load_animals: {path} not found")
    d = pd.read_csv(path, sep="\t")
    missing = {"ID", "Time", "Observation"} - set(d.columns)
    if missing:
        raise ValueError(f"load_animals: {path} lacks columns {sorted(missing)}; it has {list(d.columns)}")
    d = d[d.Observation > 0]  # the authors drop zeros
    return [g.sort_values("Time") for _, g in d.groupby("ID")]


def log_volume(age, beta, k, alpha_ref):
    """ln(V/Vc) of the reduced Gompertz model at ``age`` (day)."""
    alpha = alpha_ref + k * (beta - BETA_REF)
    return alpha / beta * (1.0 - jnp.exp(-beta * age))


def predict(p, t):
    """The observable (volume, mm^3) at ages ``t`` (day) for parameters ``p``."""
    return {"volume": jnp.exp(log_volume(t, p["beta"], p["k"], p["alpha_ref"]))}


class AgeErrors(NamedTuple):
    """Relative errors of the back-predicted ages (one per predicted animal, both folds) and the
    sampler problems met (empty: all diagnostics passed)."""

    population_prior: np.ndarray
    likelihood_maximisation: np.ndarray
    problems: tuple[str, ...]


def back_predict(prior: ParameterSpec, last3: np.ndarray, key) -> tuple[np.ndarray, tuple[str, ...]]:
    """Posterior median age (day) at the first of each animal's last 3 measurements, and the
    sampler's problems; ``last3`` (n, 3, 2) of (day, volume mm^3). Population k, alpha_ref, sigma at
    their posterior medians."""
    k = float(prior["k"].prior.loc)
    alpha_ref, sigma = (float(np.exp(prior[n].prior.loc)) for n in ("alpha_ref", "sigma"))
    dt = jnp.asarray(last3[:, :, 0] - last3[:, :1, 0])
    log_v = jnp.log(jnp.asarray(last3[:, :, 1]))

    def model():
        with numpyro.plate("animal", len(last3)):
            beta = numpyro.sample("beta", prior["beta"].prior)
            age = numpyro.sample("age", dist.Uniform(0.0, AGE_MAX))
            mu = log_volume(age[:, None] + dt, beta[:, None], k, alpha_ref)
            numpyro.factor("loglik", jnp.sum(dist.Normal(mu, sigma).log_prob(log_v), axis=1))

    mcmc = nuts(model, key, chains=4, warmup=1000, samples=2500)  # 66 quantities: ample draws for R-hat < 1.01
    diag = diagnose(to_inference_data(mcmc), min_ess=200, warn=False)
    return np.median(np.asarray(mcmc.get_samples()["age"]), axis=0), tuple(diag.problems)


def maximum_likelihood_age(last3: np.ndarray) -> np.ndarray:
    """Per-animal least squares on ln V of the full Gompertz (alpha, beta, age) from 3 points,
    the paper's comparator; several starts, best cost kept."""
    ages = []
    for t, v in ((a[:, 0] - a[0, 0], np.log(a[:, 1])) for a in last3):

        def resid(x, t=t, v=v):
            alpha, beta, age = x
            return alpha / beta * (1 - np.exp(-beta * (age + t))) - v

        fits = [least_squares(resid, x0, bounds=([1e-3, 1e-3, 0.0], [5.0, 2.0, AGE_MAX]))
                for x0 in ([0.5, 0.05, 10.0], [1.0, 0.2, 20.0], [0.3, 0.01, 40.0])]  # fmt: skip
        ages.append(min(fits, key=lambda f: f.cost).x[2])
    return np.asarray(ages)


def cross_validated_age_errors(animals: list[pd.DataFrame], seed: int = 0) -> AgeErrors:
    """The paper's out-of-sample check: the animals split into two halves; the population model
    (NUTS, 4 x (1000 + 1000) from the prior medians: a MAP is degenerate) is fitted on one half
    and, for each animal of the other, only its last 3 measurements are used; the unknown is the
    age at the first of them (flat prior on (0, AGE_MAX) days; truth = that day since injection).
    Relative error = |a1_hat - a1| / a1 with a1_hat the posterior median; likewise for per-animal
    likelihood maximisation. Fold ``f`` uses the key ``jax.random.key(seed + f)``."""
    halves = (animals[0::2], animals[1::2])
    rel_bayes, rel_ml, problems = [], [], []
    for fold, (train, test) in enumerate((halves, halves[::-1])):
        obs = [Observations.from_rows(f"M{i}", list(zip(g.Time, ["volume"] * len(g), g.Observation, strict=True)),
                                      units={"volume": "mm^3"}) for i, g in enumerate(train)]  # fmt: skip
        cohort = Cohort.from_observations(obs)
        model = population_model(predict, SPEC, cohort, {"volume": Proportional("sigma")}, centred=True)  # ~9 scans
        key = jax.random.key(seed + fold)
        mcmc = nuts(model, key, chains=4, warmup=1000, samples=1000)
        problems += [f"fold {fold} population fit: {p}" for p in diagnose(to_inference_data(mcmc), min_ess=200,
                                                                            warn=False).problems]  # fmt: skip
        prior = population_prior({k: np.asarray(v) for k, v in mcmc.get_samples().items()}, SPEC)
        last3 = np.stack([g[["Time", "Observation"]].to_numpy()[-3:] for g in test])
        truth = last3[:, 0, 0]  # day of the first used measurement = age since injection
        ages, trouble = back_predict(prior, last3, jax.random.fold_in(key, 1))
        problems += [f"fold {fold} back-prediction: {p}" for p in trouble]
        rel_bayes.append(np.abs(ages - truth) / truth)
        rel_ml.append(np.abs(maximum_likelihood_age(last3) - truth) / truth)
    return AgeErrors(np.concatenate(rel_bayes), np.concatenate(rel_ml), tuple(problems))
