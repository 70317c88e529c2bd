"""The FLAURA virtual population (twin.studies.flaura2018): simulated vs published, with bands.

    .venv/bin/python benchmarks/flaura_calibration.py [--seeds 4] [--trials 10] [--refit]

For each seed, ``--trials`` virtual FLAURA trials of the published size (277 + 279) on the stored
population: the median over trials and the 90% band of median PFS, HR, ORR and PFS-event shares
(fitted: medians, HR, ORR; checked, never fitted: event shares, the ex19del / L858R subgroups,
the erlotinib arm against EURTAC, OPTIMAL and IPASS). Then the shipped example patient's twin
(Laplace) on osimertinib from its decision day: RECIST time to progression over 4 years.
``--refit`` re-runs :func:`twin.studies.flaura2018.fit` first (~15 min on 2 cores).
Writes benchmarks/results/flaura_calibration.json (``--out DIR``: elsewhere).
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np
from common import add_out_option, write_json

jax.config.update("jax_enable_x64", True)


def bands(summary: dict) -> dict:
    return {k: [round(float(np.quantile(v, q)), 3) for q in (0.05, 0.5, 0.95)] for k, v in summary.items()}


def main() -> None:
    from dataclasses import replace

    from twin.studies import flaura2018 as f

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--refit", action="store_true")
    add_out_option(ap)
    args = ap.parse_args()
    out: dict = {"published": {k: [e.lo, e.value, e.hi] for k, e in f.PUBLISHED.items()}}
    pop = f.FITTED
    if args.refit:
        pop, info = f.fit(verbose=True)
        out["refit"] = {"typical": dict(pop.typical), "omega": dict(pop.omega), "discrepancy": info["discrepancy"]}
    out["population"] = {"typical": dict(pop.typical), "omega": dict(pop.omega), "note": pop.note}
    start = time.perf_counter()
    design = f.design()
    per_seed = []
    for seed in range(args.seeds):
        s = f.trial_summary(f.simulate(pop, n_trials=args.trials, seed=seed, trial_design=design))
        per_seed.append({"seed": seed, "bands_5_50_95": bands(s)})
        print(seed, {k: v[1] for k, v in per_seed[-1]["bands_5_50_95"].items()}, flush=True)
    out["trials"] = per_seed
    out["seed_to_seed_spread_of_the_median_over_trials"] = {
        k: [min(p["bands_5_50_95"][k][1] for p in per_seed), max(p["bands_5_50_95"][k][1] for p in per_seed)]
        for k in per_seed[0]["bands_5_50_95"]
    }
    # checks, never fitted: subgroups by mutation (everyone ex19del / everyone L858R)
    checks = {}
    for label, z in (("ex19del", -8.0), ("L858R", 8.0)):
        sub = replace(pop, typical={**pop.typical, "mutation_z": z}, omega={**pop.omega, "mutation_z": 0.0})
        s = f.trial_summary(f.simulate(sub, n_trials=args.trials, seed=100, trial_design=design))
        checks[label] = {k: bands(s)[k] for k in ("median_pfs_comparator", "median_pfs_osimertinib", "hazard_ratio")}
    out["checks"] = {"subgroups": checks, "published": {k: [e.lo, e.value, e.hi] for k, e in f.CHECKS.items()},
                     "published_event_shares": f.CHECK_EVENTS}  # fmt: skip
    out["simulation_s"] = round(time.perf_counter() - start, 1)
    out["example_twin_osimertinib"] = example_twin()
    write_json(args.out, "flaura_calibration.json", out, indent=1, default=float)
    print(json.dumps({k: v for k, v in out.items() if k != "trials"}, indent=1, default=float))


def example_twin(days: int = 1456) -> dict:
    """The example patient's twin (Laplace, seed 0) on osimertinib 80 mg daily from its decision
    day: RECIST time to progression (8-weekly scans) over ``days`` days, 200 draws."""
    import scenarios as sc
    from twin import DigitalTwin, example_patient

    twin = DigitalTwin.from_record(example_patient()).calibrate(method="laplace", seed=0)
    ds = twin.simulate(sc.continuous("osimertinib", 80.0, days), days=days)
    ttp = ds.time_to_progression.values[0]
    progressed = ds.progressed.values[0].astype(bool)
    q = np.quantile(np.where(progressed, ttp, np.inf), [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        "days": days,
        "P(progressed by day 728)": float(np.mean(progressed & (ttp <= 728))),
        "P(progressed by end)": float(np.mean(progressed)),
        "time_to_progression_quantiles_5_25_50_75_95_days": [float(x) for x in q],
    }


if __name__ == "__main__":
    main()
