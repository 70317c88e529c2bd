"""Benchmark: population (hierarchical Bayesian) fit of all 1,329 tumour-diameter series of
Ghaffari Laleh et al. 2022 (PLOS Comput Biol 18:e1009822; ``../shared/refdata/laleh2022_sld``,
studies 1-4) by SVI, with a short NUTS run on a random subset as the accuracy baseline and
per-series least squares as the non-Bayesian reference.

Data: the CSV is read directly (not with ``twin.studies.laleh2022.load_laleh``, whose default drops
the non-numeric rows) and each series goes through ``inference.Observations.from_rows``: 'TOO
SMALL TO MEASURE' is left-censored at ``--detection-limit`` mm (default 5 mm, the RECIST 1.1
default diameter of a lesion too small to measure); 'NOT EVALUABLE' and empty cells are missing
(dropped); a diameter of 0 mm (the lesion disappeared) is left-censored at the same limit too
(``--zeros censored``, default): observed as 0 under the combined additive + proportional
error, its likelihood is unbounded as the prediction goes to 0 with the additive SD, and NUTS
finds that degenerate mode (``--zeros observed`` on the 100-series subset: 300 of 600 draws
divergent, R-hat 2.3, additive SD down to 1e-154). Exact duplicate rows (same series, day and value; 4 in the
file) are dropped. Time is ``Treatment_Day / 7`` weeks; each curve starts at the series' first
evaluable scan. Every series is kept, whatever its number of scans: the 2 series with a single
numeric scan inform their own ``v0`` and the population distribution of ``v0``; their ``a`` and
``b`` come from the population distribution (partial pooling).

Model (the draft on branch ``wip/laleh-hierarchical``, fitted to all scans of all series):
Gompertz ``ln V = ln v0 e^(-a t) + (b/a)(1 - e^(-a t))`` on the volume normalised by the largest
diameter in the file (228 mm), observed as the diameter ``D = 228 mm V^(1/3)`` with combined
additive + proportional normal error; log-normal random effects on ``v0`` and ``a``, a normal one
on ``b`` (``inference.population_model``, non-centred).

Measured, in one run:

- SVI (``inference.svi``: Adam, cosine decay from ``--lr``) on the whole cohort with the
  mean-field ``"normal"`` and the ``"low_rank"`` guide: first call (compile + run) and a second,
  warm call with the same key (made only when the first call's run part took less than
  ``--warm-max-s``; otherwise the first call's run time, compile excluded, stands for it), the
  compile part of each from JAX's own compile events (``jax.monitoring``; ``svi`` re-traces on
  every call, so the warm call has a compile part too); the loss trajectory (20 block means), its
  relative change over the last 10% of steps (also in units of its standard error) and the
  negative ELBO of the fitted guide from 200 particles (not timed in); the number of latent
  variables; the population posterior;
- baseline: NUTS (``inference.nuts``, 2 chains x (300 + 300) by default, with R-hat, ESS and
  divergences) on a random subset of ``--subset`` series and SVI (both guides, same settings) on
  the same subset; per parameter, the SVI-NUTS difference of posterior means in NUTS posterior
  SDs and the ratio of posterior SDs, on the unconstrained scale (log for positive parameters),
  for the population parameters, per patient (max and median over the subset), and for the fitted
  diameters at every scan; the same comparison of NUTS chain 0 against chain 1 as the noise floor;
- reference: per-series least squares (``inference.least_squares.fit_curve``, Gompertz, on the
  normalised volume of the numeric scans, zeros included as in the paper) of every series with
  >= 3 numeric scans, first call and warm.

JAX picks the backend (CPU or GPU, unchanged); it is recorded with the device kind (a GPU needs
the CUDA build of jaxlib in the venv, e.g. ``pip install "jax[cuda12]==<the venv's jax>"``).
Writes JSON to ``benchmarks/results/population_svi.json`` (``--out DIR``: elsewhere) and prints it.
Run: ``.venv/bin/python benchmarks/population_svi.py [--steps 8000] [--low-rank-steps N]
[--lr 0.05] [--subset 100] [--nuts-warmup 300] [--nuts-samples 300] [--skip-nuts] [--skip-ls]``
(about 13 minutes on 2 shared CPU cores, 6 of them the low-rank fit of the cohort).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
import pandas as pd  # noqa: E402
from common import CompileClock, add_out_option, write_json  # noqa: E402
from numpyro import handlers  # noqa: E402
from numpyro.infer import Trace_ELBO  # noqa: E402

from inference import (  # noqa: E402
    Cohort,
    Combined,
    Observations,
    Parameter,
    ParameterSpec,
    diagnose,
    nuts,
    population_model,
    svi,
    to_inference_data,
)
from inference.least_squares import fit_curve  # noqa: E402
from mechanistic.growth_curves import GROWTH_CURVES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "refdata" / "laleh2022_sld" / "laleh2022_s1_studies1to4_long.csv"
INDIVIDUAL = ("v0", "a", "b")
SPEC = ParameterSpec(
    [
        Parameter("v0", "1", dist.LogNormal(np.log(3e-3), 1.5), level="individual"),  # (30 mm / 228 mm)^3
        Parameter("a", "1/week", dist.LogNormal(np.log(0.05), 1.5), level="individual"),
        Parameter("b", "1/week", dist.Normal(-0.2, 0.5), constraint="real", level="individual"),
        Parameter("sd_add", "mm", dist.HalfNormal(3.0)),
        Parameter("cv", "1", dist.HalfNormal(0.2)),
    ]
)
POPULATION = ("v0", "a", "b", "omega_v0", "omega_a", "omega_b", "sd_add", "cv")
BELOW = "TOO SMALL TO MEASURE"
REAL = {"b"}  # the only parameter on the real line; every other is positive (compared on the log scale)

COMPILES = CompileClock()  # compile spans from here on


def timed(fn):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    t1 = time.perf_counter()
    compile_s = COMPILES.seconds(t0, t1)
    return out, {"wall_s": t1 - t0, "compile_s": compile_s, "run_s": t1 - t0 - compile_s}


# --- data ---------------------------------------------------------------------------------------


def load(detection_limit: float, zeros: str):
    """One :class:`Observations` per series (time in weeks; zero diameters left-censored at the
    detection limit when ``zeros == "censored"``), each series' numeric scans ``(weeks, mm)`` for
    least squares (zeros kept, as the paper), the normalising diameter and counts."""
    raw = pd.read_csv(DATA, dtype=str, keep_default_na=False)
    n_rows = len(raw)
    raw = raw.drop_duplicates(["Sheet", "Patient_Anonmyized", "Treatment_Day", "TargetLesionLongDiam_mm"])
    raw["day"] = raw["Treatment_Day"].astype(float)
    raw["numeric"] = pd.to_numeric(raw["TargetLesionLongDiam_mm"], errors="coerce")
    max_ld = float(raw["numeric"].max())
    value = raw["TargetLesionLongDiam_mm"].where(~((raw["numeric"] == 0) & (zeros == "censored")), BELOW)
    raw = raw.assign(value=value).sort_values(["Sheet", "Patient_Anonmyized", "day"], kind="stable")
    obs, numeric = [], []
    for (sheet, pid), g in raw.groupby(["Sheet", "Patient_Anonmyized"], sort=True):
        rows = zip(g["day"] / 7.0, ["diameter"] * len(g), g["value"], strict=True)
        obs.append(
            Observations.from_rows(
                f"{sheet}/{pid}", rows, units={"diameter": "mm"}, detection_limit={"diameter": detection_limit}
            )
        )
        ok = g["numeric"].notna()
        numeric.append((g["day"][ok].to_numpy() / 7.0, g["numeric"][ok].to_numpy()))
    n_numeric = np.array([len(t) for t, _ in numeric])
    n_evaluable = np.array([len(o) for o in obs])
    counts = {
        "rows_in_file": n_rows,
        "duplicate_rows_dropped": n_rows - len(raw),
        "series": len(obs),
        "scans_evaluable": int(n_evaluable.sum()),
        "scans_numeric": int(n_numeric.sum()),
        "scans_numeric_zero": int((raw["numeric"] == 0).sum()),
        "scans_text_too_small_to_measure": int((raw["TargetLesionLongDiam_mm"].str.strip().str.upper() == BELOW).sum()),
        "scans_left_censored_in_model": int(sum(o.censored.sum() for o in obs)),
        "scans_missing_not_evaluable_or_empty": int(sum(o.n_missing for o in obs)),
        "series_with_censored": int(sum(o.censored.any() for o in obs)),
        "series_by_numeric_scans": {f">={k}": int((n_numeric >= k).sum()) for k in (1, 2, 3, 6)},
        "series_with_1_numeric_scan": int((n_numeric == 1).sum()),
        "series_with_1_evaluable_scan": int((n_evaluable == 1).sum()),
        "max_scans_per_series": int(n_evaluable.max()),
        "max_diameter_mm": max_ld,
    }
    return obs, numeric, max_ld, counts


def make_predict(max_ld: float):
    def predict(p, t):
        tau = t - t[0]
        a = p["a"]
        log_v = jnp.log(p["v0"]) * jnp.exp(-a * tau) + p["b"] / a * -jnp.expm1(-a * tau)
        return {"diameter": max_ld * jnp.exp(log_v / 3.0)}

    return predict


def make_model(obs, max_ld):
    cohort = Cohort.from_observations(obs)
    return population_model(make_predict(max_ld), SPEC, cohort, {"diameter": Combined("sd_add", "cv")}), cohort


def n_latent(model) -> int:
    trace = handlers.trace(handlers.seed(model, 0)).get_trace()
    return int(sum(np.size(v["value"]) for v in trace.values() if v["type"] == "sample" and not v["is_observed"]))


# --- SVI ----------------------------------------------------------------------------------------


def convergence(losses: np.ndarray, blocks: int = 20) -> dict:
    """Loss trajectory (block means) and the change over the last 10% of steps."""
    n = len(losses)
    w = max(n // 10, 10)
    last, before = losses[-w:], losses[-2 * w : -w]
    edges = np.linspace(0, n, blocks + 1).astype(int)
    return {
        "first_loss": float(losses[0]),
        "final_loss_mean_last_10pct": float(np.mean(last)),
        "loss_sd_last_10pct": float(np.std(last)),
        # mean of the 10% before minus the mean of the last 10%, relative to |final|: > 0 still falling
        "rel_change_last_10pct": float((np.mean(before) - np.mean(last)) / abs(np.mean(last))),
        "rel_change_last_10pct_in_noise_se": float(
            (np.mean(before) - np.mean(last)) / (np.std(last) / np.sqrt(w) + 1e-300)
        ),
        "trajectory_block_means": {
            int(edges[i + 1]): float(np.mean(losses[edges[i] : edges[i + 1]])) for i in range(blocks)
        },
    }


def run_svi(model, guide: str, steps: int, lr: float, seed: int, warm_max_s: float) -> tuple:
    """First call, then (when the first call's run part took < ``warm_max_s``) a second, warm
    call with the same key; the ELBO at the fitted guide from 200 particles (not timed in)."""
    fit = lambda: svi(model, jax.random.key(seed), steps=steps, learning_rate=lr, guide=guide)  # noqa: E731
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res, first = timed(fit)
        out = {"steps": steps, "learning_rate": lr, "first_call": first}
        if first["run_s"] < warm_max_s:
            res, out["warm_call"] = timed(fit)
        else:
            out["warm_call"] = None  # too slow to repeat: the first call's run_s (compile excluded) stands for it
    out["per_step_ms"] = 1e3 * (out["warm_call"] or first)["run_s"] / steps
    out["convergence"] = convergence(res.losses)
    elbo = Trace_ELBO(num_particles=200).loss(jax.random.key(seed + 1), res.params, model, res.guide)
    out["convergence"]["final_neg_elbo_200_particles"] = float(elbo)
    out["warnings"] = [str(x.message) for x in caught]
    if guide == "low_rank":
        out["rank"] = int(res.params["auto_cov_factor"].shape[-1])
    return res, out


# --- posterior comparison -----------------------------------------------------------------------


def transformed(samples: dict) -> dict:
    """Unconstrained draws of the population parameters and the per-patient parameters."""
    out = {}
    for k in POPULATION:
        x = np.asarray(samples[k], float)
        out[k] = x if k in REAL else np.log(x)
    for k in INDIVIDUAL:
        x = np.asarray(samples[f"{k}_individual"], float)
        out[f"{k}_individual"] = x if k in REAL else np.log(x)
    return out


def fitted_diameters(draws: dict, cohort: Cohort, max_ld: float) -> tuple[np.ndarray, np.ndarray]:
    """Each draw's fitted diameter (mm) at every scan time, ``(draws, n, T)``, and the mask of
    real (not padded) scan times ``(n, T)``."""
    predict = make_predict(max_ld)
    p = {k: jnp.asarray(draws[f"{k}_individual"]) for k in INDIVIDUAL}
    times = jnp.asarray(cohort.times)
    f = jax.vmap(lambda q: jax.vmap(lambda qi, ti: predict(qi, ti)["diameter"])(q, times))(p)
    index, _, _, mask = cohort.groups["diameter"]
    valid = np.zeros(cohort.times.shape, bool)
    for i in range(len(cohort)):
        valid[i, index[i, mask[i]]] = True
    return np.asarray(f), valid


def compare(draws: dict, reference: dict, cohort: Cohort, max_ld: float) -> dict:
    """``draws`` against ``reference`` (NUTS): posterior mean difference in reference posterior
    SDs and the SD ratio, on the unconstrained scale; per patient, and for the fitted diameters
    at every scan, the max and median over patients (scans)."""
    s, r = transformed(draws), transformed(reference)
    f_s, valid = fitted_diameters(draws, cohort, max_ld)
    f_r, _ = fitted_diameters(reference, cohort, max_ld)
    s["fitted_diameter_at_scans"], r["fitted_diameter_at_scans"] = f_s[:, valid], f_r[:, valid]
    out = {}
    for k in s:
        sd_ref = r[k].std(0)
        z = np.abs(s[k].mean(0) - r[k].mean(0)) / sd_ref
        ratio = s[k].std(0) / sd_ref
        if k in POPULATION:
            out[k] = {"abs_mean_diff_in_ref_sd": float(z), "sd_ratio_to_ref": float(ratio)}
        else:
            out[k] = {
                "max_abs_mean_diff_in_ref_sd": float(z.max()),
                "median_abs_mean_diff_in_ref_sd": float(np.median(z)),
                "sd_ratio_to_ref_median": float(np.median(ratio)),
                "sd_ratio_to_ref_min": float(ratio.min()),
                "sd_ratio_to_ref_max": float(ratio.max()),
            }
    out["max_over_population"] = max(out[k]["abs_mean_diff_in_ref_sd"] for k in POPULATION)
    out["max_over_patients"] = max(out[f"{k}_individual"]["max_abs_mean_diff_in_ref_sd"] for k in INDIVIDUAL)
    return out


def population_summary(draws: dict) -> dict:
    return {
        k: {
            "mean": float(np.mean(draws[k])),
            "q05": float(np.quantile(draws[k], 0.05)),
            "q95": float(np.quantile(draws[k], 0.95)),
        }
        for k in POPULATION
    }


# --- least squares ------------------------------------------------------------------------------


def least_squares(numeric, max_ld: float) -> dict:
    """Per-series Gompertz least squares on the normalised volume of the numeric scans (zeros
    included, as the paper), every series with >= 3 of them."""
    keep = [(t, d) for t, d in numeric if len(t) >= 3]
    n_max = max(len(t) for t, _ in keep)
    t, y, mask = np.zeros((len(keep), n_max)), np.zeros((len(keep), n_max)), np.zeros((len(keep), n_max), bool)
    for i, (tt, d) in enumerate(keep):
        t[i, : len(tt)], t[i, len(tt) :] = tt, tt[-1]
        y[i, : len(tt)] = (d / max_ld) ** 3
        mask[i, : len(tt)] = True
    law = GROWTH_CURVES["gompertz"]
    fit, first = timed(lambda: fit_curve(law, t, y, mask))
    fit, warm = timed(lambda: fit_curve(law, t, y, mask))
    return {
        "series": len(keep),
        "first_call": first,
        "warm_call": warm,
        "converged_fraction": float(np.mean(np.asarray(fit.converged))),
    }


# --- main ---------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8000, help="SVI steps (cohort and subset)")
    parser.add_argument(
        "--low-rank-steps", type=int, default=None, help="SVI steps of the low-rank guide (default --steps)"
    )
    parser.add_argument("--lr", type=float, default=0.05, help="peak Adam learning rate (cosine decay)")
    parser.add_argument("--detection-limit", type=float, default=5.0, help="mm, for 'TOO SMALL TO MEASURE'")
    parser.add_argument(
        "--zeros",
        choices=("censored", "observed"),
        default="censored",
        help="0 mm diameters: left-censored at the detection limit, or observed values (unbounded likelihood)",
    )
    parser.add_argument("--subset", type=int, default=100, help="series in the NUTS comparison")
    parser.add_argument("--nuts-chains", type=int, default=2)
    parser.add_argument("--nuts-warmup", type=int, default=300)
    parser.add_argument("--nuts-samples", type=int, default=300)
    parser.add_argument("--draws", type=int, default=2000, help="SVI posterior draws for the comparison")
    parser.add_argument("--guides", default="normal,low_rank")
    parser.add_argument(
        "--warm-max-s", type=float, default=120.0, help="repeat an SVI fit (warm call) only if its first run took less"
    )
    parser.add_argument("--skip-nuts", action="store_true")
    parser.add_argument("--skip-ls", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    add_out_option(parser)
    args = parser.parse_args()
    guides = args.guides.split(",")
    steps = {g: args.steps for g in guides} | ({"low_rank": args.low_rank_steps} if args.low_rank_steps else {})
    dev = jax.devices()[0]
    result = {
        "benchmark": "population_svi",
        "data": str(DATA.relative_to(ROOT.parent)),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "machine": {
            "backend": jax.default_backend(),
            "device": dev.device_kind,
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
        },
        "versions": {p: version(p) for p in ("jax", "jaxlib", "numpyro", "optax", "arviz")},
    }
    t_start = time.perf_counter()
    obs, numeric, max_ld, counts = load(args.detection_limit, args.zeros)
    result["data_counts"] = counts
    model, _ = make_model(obs, max_ld)
    result["latent_variables"] = n_latent(model)
    print(
        f"{counts['series']} series, {counts['scans_evaluable']} scans, {result['latent_variables']} latent variables"
    )

    # 1. SVI on the whole cohort
    result["cohort_svi"] = {}
    for guide in guides:
        res, out = run_svi(model, guide, steps[guide], args.lr, args.seed, args.warm_max_s)
        out["population_posterior"] = population_summary(res.sample(jax.random.key(1), 1000))
        result["cohort_svi"][guide] = out
        print(guide, json.dumps({k: out[k] for k in ("first_call", "warm_call", "per_step_ms")}))

    # 2. baseline: NUTS vs SVI on a random subset
    if not args.skip_nuts:
        rng = np.random.default_rng(args.seed)
        idx = np.sort(rng.choice(len(obs), size=min(args.subset, len(obs)), replace=False))
        sub, sub_cohort = make_model([obs[i] for i in idx], max_ld)

        def run_nuts():
            mcmc = nuts(
                sub,
                jax.random.key(args.seed),
                chains=args.nuts_chains,
                warmup=args.nuts_warmup,
                samples=args.nuts_samples,
            )
            jax.block_until_ready(mcmc.get_samples())
            return mcmc

        mcmc, nuts_t = timed(run_nuts)
        mcmc_draws = {k: np.asarray(v) for k, v in mcmc.get_samples().items()}
        diag = diagnose(to_inference_data(mcmc, SPEC.units), min_ess=100, warn=False)
        table = diag.table.astype(float)
        nuts_out = {
            "series": len(idx),
            "series_numeric_scans_ge2": int(sum(len(numeric[i][0]) >= 2 for i in idx)),
            "latent_variables": n_latent(sub),
            "chains": args.nuts_chains,
            "warmup": args.nuts_warmup,
            "samples": args.nuts_samples,
            "time": nuts_t,
            "divergences": diag.divergences,
            "max_rhat": float(table["r_hat"].max()),
            "min_ess_bulk": float(table["ess_bulk"].min()),
            "min_ess_tail": float(table["ess_tail"].min()),
            "diagnostics_ok_min_ess_100": bool(diag.ok),
            "diagnostics_problems": [str(p) for p in diag.problems][:10],
            "population_posterior": population_summary(mcmc_draws),
        }
        if args.nuts_chains >= 2:  # noise floor of the comparison: NUTS chain 0 against chain 1
            by_chain = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
            floor = compare(
                {k: v[0] for k, v in by_chain.items()}, {k: v[1] for k, v in by_chain.items()}, sub_cohort, max_ld
            )
            nuts_out["chain0_vs_chain1"] = floor
        result["subset"] = {"nuts": nuts_out, "svi": {}}
        print("nuts", json.dumps(nuts_t))
        for guide in guides:
            res, out = run_svi(sub, guide, steps[guide], args.lr, args.seed, args.warm_max_s)
            out["accuracy_vs_nuts"] = compare(res.sample(jax.random.key(1), args.draws), mcmc_draws, sub_cohort, max_ld)
            result["subset"]["svi"][guide] = out
            print(
                guide,
                "subset",
                json.dumps({k: out["accuracy_vs_nuts"][k] for k in ("max_over_population", "max_over_patients")}),
            )
        t = result["subset"]["svi"]
        result["subset"]["nuts_time_over_svi_time"] = {
            g: {
                "first_call_wall": nuts_t["wall_s"] / t[g]["first_call"]["wall_s"],
                "run_excluding_compile": nuts_t["run_s"] / t[g]["first_call"]["run_s"],
            }
            for g in guides
        }

    # 3. reference: per-series least squares
    if not args.skip_ls:
        result["least_squares"] = least_squares(numeric, max_ld)
        print("least squares", json.dumps(result["least_squares"]))

    result["total_wall_s"] = time.perf_counter() - t_start
    result["machine"]["load_average_at_end"] = os.getloadavg()
    write_json(args.out, "population_svi.json", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
