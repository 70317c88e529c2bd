"""Benchmark: in-silico drug screen of ~1,000 treatments (no drug, 45 single drugs, all 990 pairs)
on one patient's three personalised EGFR networks (sensitive, T790M, MET-amplified clones), in
quasi-steady-state mode.

The 45 drugs are the six shipped EGFR-panel drugs plus 39 synthetic ones, each with one random
target (a signalling node) and a random IC50 (1-1,000 nM), at a random exposure of 0.1-10 times
its IC50 (seeded). Reports the first call (compile + run) and the warm time of
``scenarios.screen`` (median of repeats), and, as the baseline in the same run, the same
treatments screened one at a time by a Python loop over the jitted single-treatment screen.
JSON to ``benchmarks/results/drug_screen.json`` (``--out DIR``: elsewhere).
Run: ``.venv/bin/python benchmarks/drug_screen.py [--drugs 45] [--repeats 5]``.
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
from mechanistic.egfr_network import (  # noqa: E402
    EGFR_CLONES,
    EGFR_DRUG_PK,
    EGFR_DRUGS,
    EGFR_VARIANTS,
    egfr_drug_pk,
    egfr_network,
)
from scenarios.drug_screen import screen, steady_state_exposure, treatments  # noqa: E402

SIGNALLING = (
    "EGFR",
    "ERBB2",
    "MET",
    "ERBB3",
    "GRB2",
    "RAS",
    "RAF",
    "MEK",
    "ERK",
    "PI3K",
    "PIP3",
    "AKT",
    "MTORC1",
    "MCL1",
    "BCL2",
)


def build(n_drugs: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    net = egfr_network()
    drugs = list(EGFR_DRUGS)
    exposure = {d.name: steady_state_exposure(egfr_drug_pk(d.name), *EGFR_DRUG_PK[d.name][:2]) for d in drugs}
    for k in range(n_drugs - len(drugs)):
        ic50 = float(10 ** rng.uniform(0, 3))
        mw = 450.0
        drugs.append(m.TargetedDrug(f"synthetic{k:02d}", {str(rng.choice(SIGNALLING)): ic50}, molecular_weight=mw))
        exposure[f"synthetic{k:02d}"] = float(10 ** rng.uniform(-1, 1)) * ic50 * mw * 1e-6  # mg/L
    panel = m.DrugPanel(net, drugs)
    clones = [m.personalise(net, panel, muts, EGFR_VARIANTS) for muts in EGFR_CLONES.values()]
    phen = m.NetworkPhenotype(net, panel, clones, apoptosis_rate=0.06)
    tumour = m.TumourModel(tuple(EGFR_CLONES), "gompertz", growth_rate=0.01, capacity=2e5, network=phen)
    return tumour, exposure


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--drugs", type=int, default=45)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", type=int, default=100, help="treatments in the one-at-a-time baseline")
    add_out_option(parser)
    args = parser.parse_args()
    tumour, exposure = build(args.drugs)
    combos = treatments(list(exposure))
    fractions = [0.8, 0.1, 0.1]
    result, first = timed(lambda: screen(tumour, exposure, combos, fractions=fractions))
    warm = [timed(lambda: screen(tumour, exposure, combos, fractions=fractions))[1] for _ in range(args.repeats)]
    # baseline: one treatment at a time (same compiled function, batch of one)
    sub = combos[: args.baseline]
    timed(lambda: screen(tumour, exposure, [sub[0]], fractions=fractions))  # compile the batch-of-one shape
    one = [timed(lambda c=c: screen(tumour, exposure, [c], fractions=fractions))[1] for c in sub]
    warm_s = float(np.median(warm))
    loop_per = float(np.median(one))
    out = {
        "benchmark": "drug_screen",
        "treatments": len(combos),
        "clones": tumour.n_clones,
        "network_nodes": tumour.network.network.n_nodes,
        "drugs": len(exposure),
        "converged": bool(result.converged.all()),
        "first_call_s": first,
        "warm_s": warm_s,
        "warm_all_s": warm,
        "warm_per_treatment_us": 1e6 * warm_s / len(combos),
        "baseline_one_at_a_time_per_treatment_s": loop_per,
        "baseline_extrapolated_total_s": loop_per * len(combos),
        "speedup_vs_one_at_a_time": loop_per * len(combos) / warm_s,
        "target_warm_s": 1.0,
        "top5": [str(t) for t in result.treatment.sortby(result["rank"]).values[:5]],
        "device": jax.devices()[0].device_kind,
        "platform": platform.platform(),
        "cpu_count": __import__("os").cpu_count(),
        "jax": jax.__version__,
    }
    write_json(args.out, "drug_screen.json", out)
    print(json.dumps({k: v for k, v in out.items() if k != "warm_all_s"}, indent=2))


if __name__ == "__main__":
    main()
