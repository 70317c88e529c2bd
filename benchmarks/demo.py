"""Wall time of `twin demo` as a new user runs it: the installed console script in a fresh process,
first with an empty compilation cache (a first run), then again with the cache it filled (every
later run), stage by stage. The issue's target: under 2 minutes on a 2-core CPU.

    .venv/bin/python benchmarks/demo.py [--runs 1] [--draws 200] [--days 728] [--cache DIR] [--out DIR]

Writes benchmarks/results/demo.json.
"""

from __future__ import annotations

import argparse
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

STAGE = re.compile(r"done (.+?) \((\d+\.\d) s\)")


def run_demo(cache: Path, out: Path, options: list[str]) -> dict:
    twin = shutil.which("twin", path=str(Path(sys.executable).parent)) or "twin"
    start = time.perf_counter()
    result = subprocess.run(
        [twin, "demo", "--out", str(out), *options],
        capture_output=True,
        text=True,
        env={**os.environ, "TWIN_CACHE_DIR": str(cache), "COLUMNS": "150"},
    )
    wall = time.perf_counter() - start
    if result.returncode not in (0, 3):
        raise SystemExit(f"twin demo failed ({result.returncode}):\n{result.stderr}")
    stages = {name: float(s) for name, s in STAGE.findall(result.stdout)}
    return {"wall_s": round(wall, 1), "exit_code": result.returncode, "stages_s": stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="repetitions of the cold/warm pair")
    parser.add_argument("--draws", type=int, help="twin demo --draws (default: twin demo's, 200)")
    parser.add_argument("--days", type=int, help="twin demo --days (default: twin demo's, 728)")
    add_cache_option(parser)
    add_out_option(parser)
    args = parser.parse_args()
    options = [f"--{k}={v}" for k, v in (("draws", args.draws), ("days", args.days)) if v is not None]
    results = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            cache, out = args.cache or Path(tmp) / "cache", Path(tmp) / "out"
            cold = run_demo(cache, out, options)
            warm = run_demo(cache, out, options)
        results.append({"cold_cache": cold, "warm_cache": warm})
        print(f"cold cache {cold['wall_s']} s {cold['stages_s']}\nwarm cache {warm['wall_s']} s {warm['stages_s']}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    record = {
        "benchmark": "twin demo wall time (fresh process; cold vs warm compilation cache)",
        "target_s": 120,
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_end": load,
        "python": platform.python_version(),
        "twin_demo_options": options,
        "compilation_cache": str(args.cache) if args.cache else "new empty folder",
        "runs": results,
    }
    path = write_json(args.out, "demo.json", record)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
