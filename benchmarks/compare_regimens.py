"""Benchmark: ranking 6 regimens (2 adaptive) x N parameter draws of the flagship two-clone
erlotinib model over a 2-year horizon (728 days) with decisions at 8-weekly scans.

Reports, per regimen and in total, the first call (compile + run) and the warm time of
``scenarios.compare``, plus the per-solve cost. JSON to ``benchmarks/results/compare_regimens.json``
(``--out DIR``). Run: ``.venv/bin/python benchmarks/compare_regimens.py [--draws 1000] [--solver grid|adaptive]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
from common import add_out_option, write_json  # noqa: E402

import mechanistic as m  # noqa: E402
import scenarios as s  # noqa: E402
from mechanistic.catalogue import EGFRTwoClone  # noqa: E402
from scenarios.compare import compare  # noqa: E402
from scenarios.ranking import summarise  # noqa: E402

DAYS = 728  # 13 x 8 weeks


FAMILY = EGFRTwoClone(free=("growth_rate", "max_kill", "ec50_resistant", "resistant0"))  # 30,000 mm^3 sensitive


def regimens():
    cont = s.continuous("erlotinib", 150, DAYS)
    return [
        cont,
        s.pulsed("erlotinib", 1200, 2, 50, 7, DAYS),
        s.intermittent("erlotinib", 150, 21, 7, DAYS),
        s.dose_reduction("erlotinib", 150, 100, 56, DAYS),
        s.adaptive_threshold(cont, 0.5, 1.0, decision_every=56),
        s.dose_modulation(cont, decision_every=56),
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--solver", choices=("grid", "adaptive"), default="grid")
    add_out_option(parser)
    args = parser.parse_args()
    options = {
        "grid": m.SolverOptions(grid=m.FixedGrid()),  # dose-aligned fixed grid, RK4
        "adaptive": m.SolverOptions(rtol=1e-4, atol=1e-6),  # compare()'s default
    }[args.solver]
    rng = np.random.default_rng(0)
    n = args.draws
    draws = {
        "growth_rate": 0.01 * np.exp(0.2 * rng.normal(size=n)),
        "max_kill": 0.06 * np.exp(0.2 * rng.normal(size=n)),
        "ec50_resistant": 8.0 * np.exp(0.3 * rng.normal(size=n)),
        "resistant0": 3.0 * np.exp(0.5 * rng.normal(size=n)),
    }
    per_regimen = []
    for r in regimens():
        t = time.perf_counter()
        compare(FAMILY, draws, [r], DAYS, key=jax.random.key(0), options=options)
        first = time.perf_counter() - t
        t = time.perf_counter()
        compare(FAMILY, draws, [r], DAYS, key=jax.random.key(0), options=options)
        warm = time.perf_counter() - t
        per_regimen.append({"regimen": str(r), "first_call_s": first, "warm_s": warm, "per_solve_ms": 1e3 * warm / n})
    t = time.perf_counter()
    ds = compare(FAMILY, draws, regimens(), DAYS, key=jax.random.key(0), options=options)
    warm_total = time.perf_counter() - t
    table = summarise(ds, dose_penalty_per_g=0.1)
    # accuracy check against a tight adaptive solve on the first 50 draws
    sub = {k: v[:50] for k, v in draws.items()}
    tight = compare(FAMILY, sub, regimens(), DAYS, key=jax.random.key(0), options=m.SolverOptions(rtol=1e-9, atol=1e-8))
    here = ds.isel(draw=slice(0, 50))
    accuracy = {
        "max_rel_volume_error": float(np.max(np.abs(here.volume.values / tight.volume.values - 1))),
        "max_abs_time_to_progression_diff_days": float(
            np.max(np.abs(here.time_to_progression - tight.time_to_progression))
        ),
        "max_abs_time_to_1.2x_baseline_diff_days": float(
            np.max(np.abs(here["time_to_1.2x_baseline"] - tight["time_to_1.2x_baseline"]))
        ),
    }
    result = {
        "problem": f"6 regimens x {n} draws, flagship 2-clone erlotinib model, {DAYS} days, 8-weekly decisions",
        "solver": args.solver,
        "accuracy_vs_tight_adaptive_50_draws": accuracy,
        "machine": {
            "platform": platform.platform(),
            "jax_backend": jax.default_backend(),
            "devices": len(jax.devices()),
        },
        "per_regimen": per_regimen,
        "compile_s_total_estimate": sum(p["first_call_s"] - p["warm_s"] for p in per_regimen),
        "warm_total_s": warm_total,
        "target_warm_s": 10.0,
        "target_met": warm_total < 10.0,
        "ranking": table[["regimen", "time_to_progression median", "expected utility"]].to_dict("records"),
    }
    write_json(args.out, "compare_regimens.json", result, default=float)
    print(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    main()
