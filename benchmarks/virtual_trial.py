"""Benchmark: a 2-arm virtual trial of the flagship model (issue 8's scale target).

Erlotinib 150 mg daily vs osimertinib 80 mg daily, ``--patients`` per arm x ``--draws``
population draws (default 1,000 x 200 = 400,000 patient-simulations), two years with 6-weekly
scans, on the flagship twin model (sensitive + T790M clones, Gompertz growth, closed-form PK,
the twin's daily Lawson grid). The population is illustrative (typical values near the twin's
prior medians, scattered 10% over draws; between-patient SDs 0.3-0.5 on the log/logit scale):
this measures speed, not clinical truth.

Measures, in one run: first call (compile + run) and warm time of ``scenarios.run_trial`` on all
devices; the summary table; and a baseline on the same virtual patients of one draw: the library's
adaptive solver (Tsit5, rtol 1e-6) instead of the grid on one population draw, timed warm, with the agreement of the
endpoints (PFS days, best response) between the two.

Writes JSON to ``benchmarks/results/virtual_trial.json`` (``--out DIR``, or ``--out FILE.json``) and prints it.
Run: ``.venv/bin/python benchmarks/virtual_trial.py [--draws 200] [--patients 1000] [--chunk 8192]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
from common import add_out_option, write_json  # noqa: E402

import inference  # noqa: E402
import mechanistic as m  # noqa: E402
import scenarios as sc  # noqa: E402
from twin import TwinModel, VariantCall  # noqa: E402

DAYS = 728  # 104 weeks
LAWSON = m.SolverOptions(grid=m.LawsonGrid(substeps=1, absorption_offsets=(), nodes=5))  # the twin's solver
INDIVIDUAL = {"volume0": 0.5, "resistant_fraction0": 0.5, "growth_rate": 0.3, "max_kill": 0.3}  # omega


def flagship_population(model: TwinModel, n_draws: int, seed: int = 0) -> sc.VirtualPopulation:
    description = inference.population_description(model.spec())
    rng = np.random.default_rng(seed)
    typical = {
        "volume0": 3e4,
        "resistant_fraction0": 1e-3,
        "growth_rate": 0.01,
        "max_kill": 0.05,
        "sd_add": 1.5,
        "capacity": 1e6,  # a parameter since dc6a3b5 (was fixed at 2e5 mm^3): its prior median (egfr_nsclc/model.py)
    }
    samples = {k: v * np.exp(0.1 * rng.standard_normal(n_draws)) for k, v in typical.items()}
    samples |= {f"omega_{k}": np.full(n_draws, w) for k, w in INDIVIDUAL.items()}
    return sc.VirtualPopulation.from_posterior(samples, **description)


def design(model: TwinModel, n: int, options: m.SolverOptions) -> sc.TrialDesign:
    arms = (
        sc.regimen_arm("erlotinib", model, sc.continuous("erlotinib", 150.0, DAYS), days=DAYS, options=options),
        sc.regimen_arm("osimertinib", model, sc.continuous("osimertinib", 80.0, DAYS), days=DAYS, options=options),
    )
    return sc.TrialDesign(
        arms,
        n,
        sc.ScanSchedule((42.0,)),
        follow_up_days=float(DAYS),
        enrolment_days=0.0,
        noise=sc.ScanNoise(additive_mm=1.5, proportional=0.05),
    )


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--chunk", type=int, default=8192)
    parser.add_argument("--baseline-patients", type=int, default=200)
    add_out_option(parser)
    args = parser.parse_args()

    model = TwinModel.from_mutations([VariantCall("EGFR", "L858R", 0.42)])
    pop = flagship_population(model, args.draws)
    grid = design(model, args.patients, LAWSON)
    key = jax.random.key(0)
    result = {
        "problem": f"2 arms x {args.patients} patients x {args.draws} draws, {DAYS} days, scans every 42 days",
        "patient_simulations": 2 * args.patients * args.draws,
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
            "backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()],
        },
        "versions": {"jax": jax.__version__},
    }
    trial, first = timed(lambda: sc.run_trial(grid, key, pop, chunk_size=args.chunk))
    trial, warm = timed(lambda: sc.run_trial(grid, key, pop, chunk_size=args.chunk))
    result["lawson_grid"] = {"first_call_s": first, "warm_s": warm, "compile_s_estimate": first - warm}
    table = trial.summary()
    result["summary"] = json.loads(table.to_json(orient="records"))
    print(table.to_string(), flush=True)

    # baseline: the adaptive solver on the first patients of one draw
    n_base = min(args.baseline_patients, args.patients)
    one = flagship_population(model, 1)
    adaptive = design(model, n_base, m.SolverOptions(rtol=1e-6, atol=1e-6))
    fast = design(model, n_base, LAWSON)
    ref, _ = timed(lambda: sc.run_trial(adaptive, key, one))
    ref, ref_warm = timed(lambda: sc.run_trial(adaptive, key, one))
    sub, _ = timed(lambda: sc.run_trial(fast, key, one))
    sub, sub_warm = timed(lambda: sc.run_trial(fast, key, one))
    a, b = ref.data, sub.data
    result["baseline_adaptive_tsit5"] = {
        "patients": 2 * n_base,
        "warm_s": ref_warm,
        "lawson_warm_s_same_patients": sub_warm,
        "speedup": ref_warm / sub_warm,
        "pfs_days_identical_fraction": float(np.mean(a.pfs_days.values == b.pfs_days.values)),
        "best_response_identical_fraction": float(np.mean(a.best_response.values == b.best_response.values)),
        "max_rel_diff_week8_change": float(
            np.max(
                np.abs(a.week8_change.values - b.week8_change.values) / np.maximum(np.abs(a.week8_change.values), 1e-3)
            )
        ),
        "max_rel_diff_baseline_sld": float(np.max(np.abs(a.baseline_sld.values / b.baseline_sld.values - 1))),
    }
    write_json(args.out, "virtual_trial.json", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
