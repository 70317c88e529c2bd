"""Eigenmann et al. 2016 (Mol Cancer Ther 15(12): 3110-3119, "Combining nonclinical experiments with
translational PKPD modeling to differentiate erlotinib and gefitinib"), erlotinib in the LXF A677 NSCLC
patient-derived xenograft (``shared/refdata/eigenmann2016_erlotinib_lxf_mouse``, the chi package's copy
of the data; README there): a hierarchical PK -> tumour-growth-inhibition model calibrated across all
dose groups (control, 6.25, 25 and 100 mg/kg daily, plus the sparse single-dose PK group) predicts
held-out mice (:func:`held_out_check`). No fitted numbers are published with the data; the check is
the coverage of the held-out volumes.

Model (time in days): one-compartment oral PK with first-order absorption (population ka, ke and
apparent volume V/F; the dose column in mg per mouse, the concentration column read as mg/L = ug/mL,
since 100 mg/kg gives values of a few units, far above ng/mL scale); tumour
ln V(t) = ln V0 + (lambda/beta)(1 - exp(-beta t)) - kappa AUC(t) (Gompertz-type decelerating growth,
kill proportional to concentration; AUC in closed form), with log-normal random effects on V0 and
lambda per mouse (non-centred; NUTS from the prior medians: a MAP start is degenerate for a
hierarchical model); proportional (log-normal) error on both observables (:data:`SPEC`,
:data:`ERRORS`, :func:`predict`). Held out: the two highest-numbered mice of each tumour group
(8 mice); their 90% population predictive intervals (new random effects, residual error) should
cover their measured volumes at close to the nominal rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd

from inference import (
    Cohort,
    Observations,
    Parameter,
    ParameterSpec,
    Proportional,
    diagnose,
    nuts,
    population_model,
    to_inference_data,
)

FOLDER = Path("eigenmann2016_erlotinib_lxf_mouse")
"""The study's folder, relative to the refdata folder; its files are ``lxf_<group>.csv``."""
GROUPS = ("control_growth", "low_erlotinib_dose", "medium_erlotinib_dose", "high_erlotinib_dose",
          "single_erlotinib_dose")  # fmt: skip
"""The dose groups, in the order :func:`load_mice` reads a folder; all but the last have tumours."""
COLUMNS = ("ID", "Time", "Observable", "Value")
"""The columns a file needs (``Dose``, mg per mouse at that time, is optional: no doses without it)."""
OBSERVABLES = {"Tumour volume": "volume", "Plasma concentration": "concentration"}
"""The file's Observable -> the model's observable (others, e.g. body weight, are not used)."""
UNITS = {"volume": "cm^3", "concentration": "mg/L"}
SPEC = ParameterSpec(
    [
        Parameter("v0", "cm^3", dist.LogNormal(np.log(0.15), 1.0), level="individual"),
        Parameter("lam", "1/day", dist.LogNormal(np.log(0.1), 1.0), level="individual"),
        Parameter("beta", "1/day", dist.LogNormal(np.log(0.05), 1.0)),
        Parameter("kappa", "L/(mg day)", dist.LogNormal(np.log(0.05), 1.5)),
        # ka is not identifiable from these samples (free, its posterior runs into the prior's upper tail
        # with R-hat > 1.01): fixed at 48/day, an absorption half-life of ~20 min
        Parameter("ka", "1/day", value=48.0),
        Parameter("ke", "1/day", dist.LogNormal(np.log(5.0), 1.0)),  # t_1/2 ~ 3 h in mice
        Parameter("v", "L", dist.LogNormal(np.log(0.05), 1.0)),  # ~1-2 L/kg x 0.03 kg
        Parameter("sigma_volume", "1", dist.HalfNormal(0.5)),
        Parameter("sigma_pk", "1", dist.HalfNormal(0.5)),
    ]
)
ERRORS = {"volume": Proportional("sigma_volume"), "concentration": Proportional("sigma_pk")}


class Mouse(NamedTuple):
    """One mouse: its dose ``group``, its ``observations`` (patient ``"<group>/<ID>"``; volume cm^3,
    concentration mg/L; day), and its doses: ``dose_time (n,)`` day and ``dose_mg (n,)`` mg."""

    group: str
    observations: Observations
    dose_time: np.ndarray
    dose_mg: np.ndarray


def _files(path) -> list[Path]:
    """The files to read: a folder's ``lxf_<group>.csv`` for every group, or the given file(s)."""
    paths = [Path(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
    if len(paths) == 1 and paths[0].is_dir():
        paths = [paths[0] / f"lxf_{group}.csv" for group in GROUPS]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"load_mice: {p} not found")
    return paths


def _numeric(d: pd.DataFrame, path: Path, column: str) -> np.ndarray:
    """``d[column]`` as floats; ``ValueError`` naming the file, line and column of a non-number."""
    values = pd.to_numeric(d[column], errors="coerce").to_numpy(float)
    bad = np.isnan(values) & d[column].notna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"load_mice: {path}, line {i + 2}, column {column}: {d[column].iloc[i]!r} is not a number")
    return values


def load_mice(path) -> list[Mouse]:
    """The mice of the study's files: ``path`` is the data folder (every group of :data:`GROUPS`, in
    that order), one ``lxf_<group>.csv`` file or a sequence of them. Per file, mice in ID order; a
    mouse's rows sorted by observable, then time; rows of other observables and empty values dropped,
    and so are concentrations sampled at or before the mouse's first dose (two single-dose mice, 12
    and 30, were sampled at the dose time itself, where the model's concentration is 0); mice
    without rows left are skipped.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file and its
    missing columns, or the file, line and column of a non-numeric time, value or dose."""
    out = []
    for file in _files(path):
        d = pd.read_csv(file)
        missing = [c for c in COLUMNS if c not in d.columns]
        if missing:
            raise ValueError(
                f"load_mice: {file} lacks columns {missing} (the study's files have {list(COLUMNS)} and optionally "
                f"Dose, mg); it has {list(d.columns)}"
            )
        for column in ("Time", "Value") + (("Dose",) if "Dose" in d else ()):
            d[column] = _numeric(d, file, column)
        group = file.stem.removeprefix("lxf_")
        for mouse, g in d.groupby("ID"):
            rows = [(float(t), OBSERVABLES[o], v) for t, o, v in zip(g.Time, g.Observable, g.Value, strict=True)
                    if o in OBSERVABLES and np.isfinite(v)]  # fmt: skip
            doses = g[g.Dose.notna()] if "Dose" in g else pd.DataFrame({"Time": [], "Dose": []})  # control: none
            rows = [r for r in rows if r[1] == "volume" or np.any(doses.Time.to_numpy() < r[0])]
            rows.sort(key=lambda r: (r[1], r[0]))
            if not rows:
                continue
            obs = Observations.from_rows(f"{group}/{mouse}", rows, units=UNITS)
            out.append(Mouse(group, obs, doses.Time.to_numpy(float), doses.Dose.to_numpy(float)))
    return out


def padded_doses(mice: Sequence[Mouse]) -> tuple[jax.Array, jax.Array]:
    """Dose times (day) and amounts (mg) ``(n_mice, max doses)``, zero-padded (a zero amount is no dose)."""
    width = max(len(x.dose_time) for x in mice)
    times, amounts = np.zeros((len(mice), width)), np.zeros((len(mice), width))
    for i, x in enumerate(mice):
        times[i, : len(x.dose_time)], amounts[i, : len(x.dose_mg)] = x.dose_time, x.dose_mg
    return jnp.asarray(times), jnp.asarray(amounts)


def concentration_and_auc(p, t, dose_time, dose_mg):
    """1-compartment oral concentration (mg/L) and its integral from 0 (mg day/L) at ``t`` (T,) day,
    by superposition over the padded doses ``dose_time``, ``dose_mg`` (n,) (zero amounts are padding);
    ``p``: ``ka``, ``ke`` (1/day), ``v`` (L)."""
    tau = t[:, None] - dose_time[None, :]
    after = tau > 0
    tau = jnp.where(after, tau, 0.0)
    ka, ke, scale = p["ka"], p["ke"], dose_mg[None, :] / p["v"] * p["ka"] / (p["ka"] - p["ke"])
    c = jnp.where(after, scale * (jnp.exp(-ke * tau) - jnp.exp(-ka * tau)), 0.0).sum(axis=1)
    auc = jnp.where(after, scale * (-jnp.expm1(-ke * tau) / ke + jnp.expm1(-ka * tau) / ka), 0.0).sum(axis=1)
    return c, auc


def predict(p, t, doses):
    """The observables at ``t`` (T,) day for the parameters ``p`` of :data:`SPEC` and ``doses``
    (times day, amounts mg): ``volume`` (cm^3) and ``concentration`` (mg/L), each (T,)."""
    c, auc = concentration_and_auc(p, t, *doses)
    growth = p["lam"] / p["beta"] * -jnp.expm1(-p["beta"] * t)
    return {"volume": p["v0"] * jnp.exp(growth - p["kappa"] * auc), "concentration": c}


def held_out_split(mice: Sequence[Mouse], per_group: int = 2) -> tuple[list[Mouse], list[Mouse]]:
    """(training, held-out) mice: held out, the ``per_group`` highest-numbered mice of each tumour
    group (all groups of :data:`GROUPS` but the single-dose PK group)."""
    held_out = []
    for group in GROUPS[:4]:
        ids = sorted((x.observations.patient for x in mice if x.group == group), key=lambda s: int(s.split("/")[1]))
        held_out += ids[-per_group:]
    train = [x for x in mice if x.observations.patient not in held_out]
    test = [x for x in mice if x.observations.patient in held_out]
    return train, test


class HeldOutCheck(NamedTuple):
    """The result of :func:`held_out_check`: ``coverage`` (fraction of held-out volumes inside
    their 90% predictive interval, ``inside`` of ``total``), ``interval_widths`` (per held-out mouse,
    the median over its scans of the interval's hi/lo ratio), ``kappa_median`` (L/(mg day)), the
    sampler's ``problems`` (empty: all diagnostics passed) and the posterior ``samples`` (name ->
    (draws,) or (draws, mice))."""

    coverage: float
    inside: int
    total: int
    interval_widths: np.ndarray
    kappa_median: float
    problems: tuple[str, ...]
    samples: dict[str, np.ndarray]


def held_out_check(mice: Sequence[Mouse], key: jax.Array, seed: int, *, per_group: int = 2) -> HeldOutCheck:
    """Fit the hierarchical PK-TGI model to the training mice of :func:`held_out_split` and predict the
    held-out ones as new mice. NUTS from key ``key``: 4 chains x (1000 warm-up + 1000) at target
    acceptance 0.95 (with 500 at 0.9, omega_lam's R-hat was 1.011 with one divergence for key 2016;
    1000 / 0.95 gave R-hat <= 1.007 and no divergences for keys 2016, 1, 2); diagnostics at R-hat
    <= 1.01, ESS >= 200. Predictions: per posterior draw, new random effects of v0 and lambda and a
    residual error, drawn from ``np.random.default_rng(seed)``; 5-95% quantiles."""
    train, test = held_out_split(mice, per_group)
    cohort = Cohort.from_observations([x.observations for x in train])
    model = population_model(predict, SPEC, cohort, ERRORS, inputs=padded_doses(train))
    mcmc = nuts(model, key, chains=4, warmup=1000, samples=1000, target_accept=0.95)
    diag = diagnose(to_inference_data(mcmc, SPEC.units), min_ess=200, warn=False)
    s = {k: np.asarray(v) for k, v in mcmc.get_samples().items()}

    rng = np.random.default_rng(seed)
    inside, total, widths = 0, 0, []
    draws = len(s["kappa"])
    for x in test:
        rows = np.asarray(x.observations.observable) == "volume"
        t, y = x.observations.time[rows], x.observations.value[rows]
        p = {k: s[k] for k in ("beta", "kappa", "ke", "v")} | {"ka": np.full(draws, SPEC["ka"].value)}
        for name in ("v0", "lam"):  # a new mouse: new random effects around the typical values
            p[name] = s[name] * np.exp(s[f"omega_{name}"] * rng.normal(size=draws))
        doses = (jnp.asarray(x.dose_time), jnp.asarray(x.dose_mg))
        pred = jax.vmap(predict, in_axes=(0, None, None))(p, jnp.asarray(t), doses)["volume"]
        sim = np.asarray(pred) * np.exp(s["sigma_volume"][:, None] * rng.normal(size=pred.shape))
        lo, hi = np.quantile(sim, [0.05, 0.95], axis=0)
        inside += int(np.sum((y >= lo) & (y <= hi)))
        total += len(y)
        widths.append(np.median(hi / lo))
    return HeldOutCheck(
        inside / total, inside, total, np.asarray(widths), float(np.median(s["kappa"])), tuple(diag.problems), s
    )
