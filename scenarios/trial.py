"""Running a virtual trial: every arm on every virtual patient of every population draw.

For each arm, ``n_draws x n_patients`` virtual patients are simulated in one vectorised program
(chunks of ``chunk_size`` patients under ``lax.map``, each chunk vmapped), split across all
devices along the patient axis with ``jax.sharding``. Each patient gets its own PRNG key, so
results do not depend on how the patients were split: sharded and unsharded runs give the same
numbers for the same key.

Per virtual patient, from the simulated *scans* (measurement noise added), not the latent state:
the RECIST 1.1 category at each scan, the best (confirmed) overall response, progression-free
survival (first PD scan, or death; censored at the last assessed scan), time on treatment (until
PD, death, dropout or cut-off), and overall survival from a :class:`LogNormalSurvival` link on
the model-predicted week-8 change and baseline size.

Multi-host: start every host with ``jax.distributed.initialize(...)`` before calling
:func:`run_trial` with the same design and key on every host; ``jax.devices()`` then spans all
hosts, each host simulates the patients on its own devices, and the results are gathered to
every host (``multihost_utils.process_allgather``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mechanistic.measurement import Combined
from scenarios.endpoints import PD, best_overall_response, confirmed_responses, recist
from scenarios.trial_design import WEEK8_DAY, Arm, TrialDesign
from scenarios.trial_result import TrialResult
from scenarios.virtual_population import VirtualPopulation

DAYS_PER_YEAR = 365.25
SCAN_NOISE = Combined("additive", "proportional")  # a scan's sum of diameters about the true one (mm)


@dataclass(frozen=True)
class _Settings:
    """The static part of one arm's program (hashable: compiled once per arm and settings)."""

    eval_times: tuple[float, ...]
    scan_index: tuple[int, ...]
    week8_index: int
    follow_up_days: float
    additive_mm: float
    proportional: float
    survival: tuple[float, float, float, float] | None
    confirm: bool


def _patient(size, s: _Settings, params, key, enrol_day, dropout_per_day, early_dropout):
    """Endpoints of one virtual patient (days from randomisation)."""
    times = np.asarray(s.eval_times)
    sld = size(params, times)
    scan_t = jnp.asarray(times[np.asarray(s.scan_index)])
    true_scans = sld[np.asarray(s.scan_index)]
    baseline = true_scans[0]
    change8 = (sld[s.week8_index] - baseline) / jnp.maximum(baseline, 1e-9)
    k_noise, k_drop, k_death, k_early, k_when = jax.random.split(key, 5)
    noise = {"additive": s.additive_mm, "proportional": s.proportional}
    observed = jnp.maximum(SCAN_NOISE.sample(k_noise, noise, true_scans), 0.0)
    dropout = jnp.where(
        dropout_per_day > 0, jax.random.exponential(k_drop) / jnp.maximum(dropout_per_day, 1e-300), jnp.inf
    )
    early = jax.random.uniform(k_early) < early_dropout  # leaves before the first post-baseline scan
    dropout = jnp.where(early, jax.random.uniform(k_when) * scan_t[1], dropout)
    end = jnp.minimum(s.follow_up_days - enrol_day, dropout)  # administrative censoring, dropout
    if s.survival is None:
        death = jnp.inf
    else:
        intercept, c8, cb, sigma = s.survival
        log_t = intercept + c8 * change8 + cb * jnp.log(jnp.maximum(baseline, 1e-3))
        death = jnp.exp(log_t + sigma * jax.random.normal(k_death))
    stop = jnp.minimum(end, death)
    assessed = scan_t <= stop
    cats = recist(jnp.where(assessed, observed, jnp.nan))
    is_pd = cats == PD
    progressed = jnp.any(is_pd)
    pd_day = jnp.where(progressed, scan_t[jnp.argmax(is_pd)], jnp.inf)
    died = death <= end
    last_scan = jnp.max(jnp.where(assessed, scan_t, 0.0))
    pfs_event = progressed | died
    pfs = jnp.where(progressed, pd_day, jnp.where(died, death, last_scan))
    response_cats = confirmed_responses(cats) if s.confirm else cats
    return {
        "pfs_days": pfs,
        "pfs_event": pfs_event,
        "os_days": jnp.minimum(death, end),
        "os_event": died,
        "time_on_treatment_days": jnp.minimum(pd_day, stop),
        "best_response": best_overall_response(response_cats),
        "week8_change": change8,
        "baseline_sld": baseline,
        "scans_assessed": jnp.sum(assessed),
    }


def _simulate(
    size, settings: _Settings, params, keys, enrol, rates, chunk: int, devices: Sequence
) -> dict[str, np.ndarray]:
    """Endpoints of ``B`` patients (``params`` leaves, ``keys``, ``enrol`` of leading size B)."""
    n = keys.shape[0]
    n_dev = len(devices)
    chunk = max(n_dev, -(-min(chunk, n) // n_dev) * n_dev)  # a multiple of the device count
    n_chunks = -(-n // chunk)
    pad = n_chunks * chunk - n

    def blocks(x):
        x = jnp.concatenate([x, x[:pad]]) if pad else x  # padding rows repeat real ones, dropped below
        return x.reshape(n_chunks, chunk, *x.shape[1:])

    inputs = jax.tree.map(blocks, (params, keys, enrol))
    mesh = Mesh(np.asarray(devices), ("patients",))
    inputs = jax.device_put(inputs, NamedSharding(mesh, PartitionSpec(None, "patients")))
    out = _run_blocks(size, settings, inputs, rates)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        out = multihost_utils.process_allgather(out, tiled=True)
    return {k: np.asarray(v).reshape(n_chunks * chunk)[:n] for k, v in out.items()}


@partial(jax.jit, static_argnums=(0, 1))
def _run_blocks(size, settings, inputs, rates):
    one = jax.vmap(lambda p, k, e: _patient(size, settings, p, k, e, *rates))
    return jax.lax.map(lambda block: one(*block), inputs)


def _population_for(arm: Arm, population: VirtualPopulation | None) -> VirtualPopulation:
    pop = arm.population if arm.population is not None else population
    if pop is None:
        raise ValueError(f"arm {arm.name!r} has no virtual population: give population= or the arm's own")
    missing = [p for p in arm.parameters if p not in pop.parameters]
    if missing:
        raise ValueError(
            f"arm {arm.name!r} needs parameters {missing}, which the population does not have (it has {pop.parameters})"
        )
    return pop


def run_trial(
    design: TrialDesign,
    key: jax.Array,
    population: VirtualPopulation | None = None,
    *,
    chunk_size: int = 8192,
    devices: Sequence | None = None,
) -> TrialResult:
    """Simulate ``design`` on virtual patients of ``population`` (or each arm's own): dims
    ``(draw, arm, patient)`` with ``patient`` up to the largest arm (smaller arms padded with
    NaN / False). ``devices``: where to run (default: all, ``jax.devices()``; one device gives the
    unsharded run). The same key gives the same trial on any number of devices."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices is empty")
    if not (isinstance(chunk_size, int) and chunk_size >= 1):
        raise ValueError(f"chunk_size={chunk_size!r} must be an integer >= 1")
    pops = [_population_for(arm, population) for arm in design.arms]
    n_draws = {p.n_draws for p in pops}
    if len(n_draws) != 1:
        raise ValueError(f"the arms' populations have different numbers of draws {sorted(n_draws)}; thin them equally")
    n_draws = n_draws.pop()
    scan_t = design.scan_times()
    eval_t = np.unique(np.concatenate([scan_t, [WEEK8_DAY]]))
    surv = design.survival
    settings = _Settings(
        eval_times=tuple(float(t) for t in eval_t),
        scan_index=tuple(int(i) for i in np.searchsorted(eval_t, scan_t)),
        week8_index=int(np.searchsorted(eval_t, WEEK8_DAY)),
        follow_up_days=float(design.follow_up_days),
        additive_mm=float(design.noise.additive_mm),
        proportional=float(design.noise.proportional),
        survival=None if surv is None else (surv.intercept, surv.week8_change, surv.log_baseline, surv.sigma),
        confirm=bool(design.confirm_response),
    )
    n_max = max(design.n_per_arm)
    results = []
    for a, (arm, pop, n) in enumerate(zip(design.arms, pops, design.n_per_arm, strict=True)):
        k_arm = jax.random.fold_in(key, a)
        params = pop.sample(jax.random.fold_in(k_arm, 0), n)  # (D, n)
        params = {k: jnp.reshape(params[k], (-1,)) for k in arm.parameters}
        enrol = design.enrolment_days * jax.random.uniform(jax.random.fold_in(k_arm, 1), (n_draws * n,))
        keys = jax.random.split(jax.random.fold_in(k_arm, 2), n_draws * n)
        rates = (jnp.asarray(design.dropout_per_year[a] / DAYS_PER_YEAR), jnp.asarray(design.early_dropout[a]))
        out = _simulate(arm.size, settings, params, keys, enrol, rates, chunk_size, devices)
        out["enrolment_day"] = np.asarray(enrol)
        out = {k: v.reshape(n_draws, n) for k, v in out.items()}
        results.append({k: _pad(v, n_max) for k, v in out.items()})
    data = {}
    for name in results[0]:
        data[name] = (
            ("draw", "arm", "patient"),
            np.stack([r[name] for r in results], axis=1),
            {"units": _UNITS.get(name, "1")},
        )
    ds = xr.Dataset(
        data,
        coords={"draw": np.arange(n_draws), "arm": [a.name for a in design.arms], "patient": np.arange(n_max)},
        attrs={"follow_up_days": design.follow_up_days, "primary": design.primary, "alpha": design.alpha},
    )
    ds["enrolled"] = (("arm", "patient"), np.arange(n_max)[None, :] < np.asarray(design.n_per_arm)[:, None])
    if surv is None:
        ds = ds.drop_vars(["os_days", "os_event"])
    return TrialResult(design, ds)


_UNITS = {
    "pfs_days": "day",
    "os_days": "day",
    "time_on_treatment_days": "day",
    "enrolment_day": "day",
    "baseline_sld": "mm",
}


def _pad(a: np.ndarray, n: int) -> np.ndarray:
    if a.shape[1] == n:
        return a
    fill = False if a.dtype == bool else (-1 if np.issubdtype(a.dtype, np.integer) else np.nan)
    return np.concatenate([a, np.full((a.shape[0], n - a.shape[1]), fill, dtype=a.dtype)], axis=1)
