"""Do the twin's default calibration settings pass on patients drawn from its own prior?

Simulation-based check of the defaults (issue: "default NUTS passes its diagnostics on at least 19
of 20 synthetic patients drawn from the calibrated population, and calibration coverage over those
replicates is nominal"). Each synthetic patient (``twin.diseases.egfr_nsclc.synthetic.synthetic_patient``): the
example's mutations (EGFR L858R, T790M subclone), parameters drawn from the twin's prior (the FLAURA
population for growth rate, maximal kill and T790M share; the other priors as shipped), erlotinib
150 mg daily from day 0, CT scans at days -10, 42, 98 and 154 and ctDNA at -10 and 154 (the
example's schedule), measurement noise from the twin's error models. Each is calibrated with
``DigitalTwin.calibrate()`` as shipped (or ``--method``), and we record: sampler diagnostics
passed (R-hat, bulk/tail ESS, divergences), the model check, wall time, and whether each true
parameter lies inside its central 90% posterior interval (coverage; binomial 95% interval over
patients).

    .venv/bin/python benchmarks/nuts_replicates.py --patients 20 [--first 0] [--method nuts] [--tag T]
    .venv/bin/python benchmarks/nuts_replicates.py --combine results/a.json results/b.json  # parts run in parallel

Writes benchmarks/results/nuts_replicates[_FIRST][_T].json (``--out DIR``: elsewhere). Slow: minutes per
patient on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from common import add_out_option, write_json

LEVEL = 0.9


def _synthetic(disease: str):
    """``make(i) -> (record, truth)`` of the disease's synthetic patients."""
    import jax

    if disease == "prostate":
        from twin.diseases.prostate.synthetic import synthetic_patient as prostate_patient

        return lambda i: prostate_patient(jax.random.key(1000 + i), f"SYN-{i}")
    from twin.diseases.egfr_nsclc.model import TwinModel
    from twin.diseases.egfr_nsclc.synthetic import CALLS, synthetic_patient

    model = TwinModel.from_mutations(CALLS)
    return lambda i: synthetic_patient(model, jax.random.key(1000 + i), f"SYN-{i}")


def _ranking(twin) -> dict:
    """Prostate: the calibrated twin's P(best) of continuous abiraterone vs AT50 over 2 years."""
    compared = twin.compare(twin.pack.standard_regimens(728)[:2], days=728, n_draws=100)
    column = f"P(best on {twin.pack.primary})"
    return {str(r): round(float(p), 3) for r, p in zip(compared.table.regimen, compared.table[column], strict=True)}


def run(patients: int, first: int, method: str | None, options: dict, disease: str = "egfr_nsclc") -> dict:
    import jax

    jax.config.update("jax_enable_x64", True)
    from twin.digital_twin import DigitalTwin

    make = _synthetic(disease)
    rows = []
    for i in range(first, first + patients):
        record, truth = make(i)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            twin = DigitalTwin.from_record(record, pack=disease).calibrate(method=method, seed=i, **options)
            ranking = _ranking(twin) if disease == "prostate" else None
        wall = time.perf_counter() - start
        inside = {}
        for name, value in truth.items():
            draws = np.asarray(twin.posterior[name]).ravel()
            lo, hi = np.quantile(draws, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
            inside[name] = bool(lo <= value <= hi)
        rows.append({"patient": record.patient_id, "truth": truth, "diagnostics_passed": not twin.diagnostics,
                     "diagnostics": list(twin.diagnostics), "model_check": list(twin.model_check),
                     "inside_90": inside, "wall_s": round(wall, 1), "p_best": ranking})  # fmt: skip
        print(f"{record.patient_id}: {'pass' if not twin.diagnostics else 'FAIL'} {wall:.0f} s "
              f"inside {sum(inside.values())}/{len(inside)} {list(twin.diagnostics)}", flush=True)  # fmt: skip
    return {"rows": rows, "method": method or "default", "options": options, "disease": disease}


def coverage(rows: list[dict]) -> dict:
    from scipy.stats import binomtest

    out = {}
    for name in rows[0]["inside_90"]:
        k = sum(r["inside_90"][name] for r in rows)
        ci = binomtest(k, len(rows)).proportion_ci(0.95)
        out[name] = {"covered": k, "of": len(rows), "ci95": [round(ci.low, 3), round(ci.high, 3)]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--method", default=None, help="nuts or laplace (default: the twin's default)")
    parser.add_argument("--mass", choices=("dense", "diagonal"), default=None, help="NUTS mass matrix")
    parser.add_argument("--target-accept", type=float, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--init", choices=("laplace", "prior"), default=None, help="where NUTS chains start")
    parser.add_argument("--tag", default="", help="suffix of the result file")
    parser.add_argument("--disease", default="egfr_nsclc", choices=("egfr_nsclc", "prostate"), help="disease pack")
    parser.add_argument("--combine", nargs="+", type=Path, metavar="JSON",
                        help="merge the rows of these part files into nuts_replicates.json")  # fmt: skip
    add_out_option(parser)
    args = parser.parse_args()
    if args.combine:
        parts = [json.loads(p.read_text()) for p in args.combine]
        result = {**parts[0], "rows": [r for p in parts for r in p["rows"]], "parts": [str(p) for p in args.combine]}
        args.first, args.tag = 0, ""
    else:
        dense = None if args.mass is None else args.mass == "dense"
        options = {k: v for k, v in {"dense_mass": dense, "target_accept": args.target_accept,
                                     "warmup": args.warmup, "init": args.init}.items() if v is not None}  # fmt: skip
        result = run(args.patients, args.first, args.method, options, args.disease)
    rows = result["rows"]
    record = {
        "benchmark": "default calibration on synthetic patients drawn from the twin's prior",
        "target": "diagnostics pass on >= 19 of 20; 90% intervals cover the truth ~90% of the time",
        "passed": sum(r["diagnostics_passed"] for r in rows),
        "of": len(rows),
        "coverage_90": coverage(rows),
        **{k: v for k, v in result.items() if k not in ("passed", "of", "coverage_90")},
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "machine": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    suffix = (f"_{result.get('disease')}" if result.get("disease", "egfr_nsclc") != "egfr_nsclc" else "")
    suffix += (f"_{args.first}" if args.first else "") + (f"_{args.tag}" if args.tag else "")
    path = write_json(args.out, f"nuts_replicates{suffix}.json", record)
    print(f"passed {record['passed']} of {record['of']}; coverage {record['coverage_90']}\nwrote {path}")


if __name__ == "__main__":
    main()
