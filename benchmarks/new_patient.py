"""Wall time of `twin calibrate --method laplace` for a *new* patient, as a clinic would run it: the
installed console script in a fresh process per patient, sharing one compilation cache.

Runs, in order: the example patient with an empty cache (a first run ever); the example again
(baseline: the same patient, warm cache); then new patients never seen before (the example's
record with fewer scans and a different number of dose rows, and with shifted scan sizes), warm
cache. The issue's target: a new patient under 10 s warm on a 2-core CPU. Reports the command's
wall time (process start to exit, imports included) and the calibration stage alone, with the
machine load.

    .venv/bin/python benchmarks/new_patient.py [--new-patients fewer_scans,dose_gap,larger_scans]
        [--cache DIR] [--out DIR]

Writes benchmarks/results/new_patient.json.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import add_cache_option, add_out_option, write_json

from twin.diseases.egfr_nsclc.example import example_files

STAGE = re.compile(r"done calibrating \(laplace\) \((\d+\.\d) s\)")
NEW_PATIENTS = ("fewer_scans", "dose_gap", "larger_scans")  # made by new_patients()


def new_patients(folder: Path) -> dict[str, Path]:
    """Variants of the example record (same mutations file): (name -> CSV path)."""
    rows = list(csv.DictReader(example_files()["record"].open()))
    header = list(rows[0])
    scans = sorted({float(r["time"]) for r in rows if r["kind"] == "observation"})
    variants = {
        # one scan fewer, and the doses up to that scan only: new dose count and scan count
        "fewer_scans": lambda r: r["kind"] == "covariate" or float(r["time"]) <= scans[-2],
        # every dose row but the last 9 days (a dose count in the same bucket), all scans
        "dose_gap": lambda r: r["kind"] != "dose" or float(r["time"]) < scans[-1] - 9,
    }
    out = {}
    for name, keep in variants.items():
        path = folder / f"{name}.csv"
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, header)
            w.writeheader()
            w.writerows(r for r in rows if keep(r))
        out[name] = path
    path = folder / "larger_scans.csv"  # every diameter 10% larger: new data, same shapes
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, header)
        w.writeheader()
        for r in rows:
            if r["observable"] == "diameter" and r["value"]:
                r = {**r, "value": f"{1.1 * float(r['value']):.1f}"}
            w.writerow(r)
    out["larger_scans"] = path
    return out


def calibrate(record: Path, cache: Path, out: Path) -> dict:
    twin = shutil.which("twin", path=str(Path(sys.executable).parent)) or "twin"
    command = [twin, "calibrate", str(record), "--mutations", str(example_files()["mutations"]),
               "--method", "laplace", "--out", str(out)]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True,
                            env={**os.environ, "TWIN_CACHE_DIR": str(cache), "COLUMNS": "150"})  # fmt: skip
    wall = time.perf_counter() - start
    if result.returncode not in (0, 3):
        raise SystemExit(f"twin calibrate failed ({result.returncode}):\n{result.stderr}")
    stage = STAGE.search(result.stdout)
    return {"wall_s": round(wall, 1), "calibrate_stage_s": float(stage.group(1)) if stage else None,
            "exit_code": result.returncode}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--new-patients",
        default=",".join(NEW_PATIENTS),
        metavar="NAMES",
        help=f"comma list of the new patients to calibrate (default all: {','.join(NEW_PATIENTS)})",
    )
    add_cache_option(parser)
    add_out_option(parser)
    args = parser.parse_args()
    chosen = [p for p in args.new_patients.split(",") if p]
    if unknown := sorted(set(chosen) - set(NEW_PATIENTS)):
        parser.error(f"--new-patients: unknown {unknown}; valid: {','.join(NEW_PATIENTS)}")
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = args.cache or tmp / "cache"
        patients = new_patients(tmp)
        example = example_files()["record"]
        runs["example, empty cache"] = calibrate(example, cache, tmp / "a.twin.nc")
        runs["example again (baseline: same patient)"] = calibrate(example, cache, tmp / "b.twin.nc")
        for name in chosen:
            runs[f"new patient: {name}"] = calibrate(patients[name], cache, tmp / f"{name}.twin.nc")
    for name, r in runs.items():
        print(f"{name:45s} wall {r['wall_s']:6.1f} s   calibration stage {r['calibrate_stage_s']} s")
    record = {
        "benchmark": "twin calibrate --method laplace, fresh process per patient, shared compilation cache",
        "target_s": 10,
        "runs": runs,
        "compilation_cache": str(args.cache) if args.cache else "new empty folder",
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "machine": platform.platform(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    path = write_json(args.out, "new_patient.json", record)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
