"""Benchmark scripts of two versions of the code side by side in one run: does a change slow
anything down?

For each script, the base commit's copy (exported with ``git archive`` into a temporary folder and
imported from there through ``PYTHONPATH``) and the working tree's copy run alternately
(base, head, base, head, ...) with the same arguments, each in a fresh process; we record each
process's wall time, the script's own JSON (read from that tree's ``benchmarks/results/``) and
the 1-minute load average before and after. The headline is the ratio of the median wall times,
head / base (a process includes compilation, as a user's first call does).

    .venv/bin/python benchmarks/side_by_side.py --base 4168e56 [--repeats 2] [--scripts demo,compare_regimens]

Writes benchmarks/results/side_by_side.json (``--out DIR``: elsewhere). Scripts that did not
exist or did not run at the base are reported as such, not compared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import add_out_option, write_json

ROOT = Path(__file__).resolve().parents[1]
# script -> (arguments, result file): arguments every compared version understands
SCRIPTS: dict[str, tuple[tuple[str, ...], str]] = {
    "demo": ((), "demo.json"),
    "compare_regimens": (("--draws", "1000"), "compare_regimens.json"),
    "reference_nuts": (
        ("--warmup", "200", "--samples", "200", "--variants", "lawson", "--no-stan"),
        "reference_nuts.json",
    ),  # fmt: skip
    "virtual_trial": (("--draws", "50", "--patients", "500", "--baseline-patients", "50"), "virtual_trial.json"),
}


def export(commit: str, into: Path) -> Path:
    """The tracked files of ``commit`` under ``into`` (raises naming the commit if git cannot),
    with ``../shared`` beside it pointing to the checkout's (data some scripts read)."""
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=False)
    if archive.returncode:
        raise SystemExit(f"side_by_side: git archive {commit!r} failed: {archive.stderr.decode().strip()}")
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    if (ROOT.parent / "shared").is_dir():
        (into.parent / "shared").symlink_to(ROOT.parent / "shared", target_is_directory=True)
    return into


def run_script(tree: Path, script: str, args: tuple[str, ...], result: str) -> dict:
    """One run of ``tree``'s copy of ``script``: wall time, exit code, the JSON it wrote, load."""
    path = tree / "benchmarks" / f"{script}.py"
    if not path.is_file():
        return {"skipped": f"{path.relative_to(tree)} does not exist in this version"}
    out = tree / "benchmarks" / "results" / result
    out.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(tree))
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(path), *args], cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    record = {"wall_s": round(wall, 1), "returncode": proc.returncode, "load_before": load_before,
              "load_after": os.getloadavg()[0]}  # fmt: skip
    if proc.returncode:
        record["stderr_tail"] = proc.stderr[-1500:]
    elif out.is_file():
        record["result"] = json.loads(out.read_text())
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare the working tree with")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each version per script")
    parser.add_argument("--scripts", default=",".join(SCRIPTS), help=f"comma list of {list(SCRIPTS)}")
    add_out_option(parser)
    args = parser.parse_args()
    names = args.scripts.split(",")
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        raise SystemExit(f"side_by_side: unknown scripts {unknown}; valid: {list(SCRIPTS)}")
    if args.repeats < 1:
        raise SystemExit(f"side_by_side: --repeats {args.repeats} must be >= 1")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    comparisons = {}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"base": export(args.base, Path(tmp) / "base"), "head": ROOT}
        for name in names:
            script_args, result = SCRIPTS[name]
            runs = {"base": [], "head": []}
            for _ in range(args.repeats):
                for version, tree in trees.items():
                    runs[version].append(run_script(tree, name, script_args, result))
                    print(name, version, {k: v for k, v in runs[version][-1].items() if k != "result"}, flush=True)
            ok = {v: sorted(r["wall_s"] for r in rs if r.get("returncode") == 0) for v, rs in runs.items()}
            median = {v: w[len(w) // 2] if w else None for v, w in ok.items()}
            ratio = round(median["head"] / median["base"], 3) if all(median.values()) else None
            comparisons[name] = {"arguments": list(script_args), "median_wall_s": median, "head_over_base": ratio,
                                 "runs": runs}  # fmt: skip
    record = {
        "benchmark": "benchmark scripts of two versions side by side (process wall time, compilation included)",
        "base": args.base,
        "head": f"{head.strip()} plus uncommitted changes, if any",
        "repeats": args.repeats,
        "comparisons": comparisons,
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    path = write_json(args.out, "side_by_side.json", record, default=str)
    for name, c in comparisons.items():
        print(f"{name}: median wall {c['median_wall_s']} s, head / base {c['head_over_base']}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
