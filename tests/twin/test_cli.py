"""The `twin` command line end to end, as a user runs it (subprocesses of the installed console script):
the demo prints the ranked table and writes the report and the twin; whatif, update and screen read
that twin; bad files and paths exit 1 with a one-line message; --help teaches."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import JAX_CACHE
from twin import DigitalTwin
from twin.diseases.egfr_nsclc.example import example_files

TWIN = shutil.which("twin", path=str(Path(sys.executable).parent)) or "twin"
SMALL = ["--days", "112", "--draws", "20"]


def run(*args, cwd=None):
    env = {**os.environ, "TWIN_CACHE_DIR": JAX_CACHE}  # reuse what the in-process tests compiled
    return subprocess.run([TWIN, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = run("demo", "--out", out, "--json", *SMALL)
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout)


def test_demo_ranks_the_standard_regimens_and_writes_the_report(demo):
    out, report = demo
    assert report["patient_id"] == "EX-001" and report["decision_day"] == 154.0 and report["method"] == "laplace"
    regimens = [r["regimen"] for r in report["regimens"]]
    assert len(regimens) == 5 and regimens.index("osimertinib 80 mg daily") < regimens.index("erlotinib 150 mg daily")
    assert {"erlotinib 150 mg daily", "erlotinib 1200 mg d1-2 + 50 mg d3-7 weekly"} <= set(regimens)
    for r in report["regimens"]:
        lo, hi = r["time_to_2x_baseline 90% CI"]
        assert lo <= r["time_to_2x_baseline median"] <= hi <= 112
        assert 0 <= r["time_to_2x_baseline not reached"] <= 1 and r["time_to_2x_baseline RMST"] <= 112
        assert r["P(best on time_to_2x_baseline)"] + r["P(tied for best on time_to_2x_baseline)"] <= 1
    best = report["regimens"][0]["regimen"].split(" (")[0]
    assert report["verdict"].startswith((best, "The twin cannot separate"))
    page = Path(report["report"])
    assert page == out / "index.html" and "EX-001" in page.read_text()
    for png in ("fan_chart.png", "resistant_fraction.png", "dose_timeline.png", "waterfall.png", "screen.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert Path(report["twin"]).is_file()


def test_whatif_update_and_screen_read_the_saved_twin(demo, tmp_path):
    out, report = demo
    twin = report["twin"]
    whatif = run("whatif", twin, "--regimen", "continuous", "--regimen", "erlotinib:100:at50", *SMALL)
    assert whatif.returncode == 0, whatif.stderr
    table = " ".join(whatif.stdout.split())  # the table a person reads
    assert "erlotinib 150 mg daily" in table and "erlotinib 100 mg daily, adaptive AT50" in table
    assert "Adaptive baseline: adaptive regimens 'against the pre-treatment burden'" in table
    assert "volume doubling" in table and "P(best) / P(tied)" in table and "Verdict:" in table
    assert "not a treatment recommendation" in table

    updated = tmp_path / "EX-001.twin.nc"  # updated in place: the version before is kept beside it
    shutil.copy2(twin, updated)
    step = run("update", updated, example_files()["next_scan"], "--json", *SMALL)
    assert step.returncode in (0, 3, 4), step.stderr
    payload = json.loads(step.stdout)
    assert [c["observable"] for c in payload["checks"]] == ["diameter", "resistant_fraction"]
    assert (step.returncode == 4) == payload["surprised"]
    assert (step.returncode == 3) == (not payload["surprised"] and bool(payload["model_check"]))
    kept = tmp_path / "EX-001.day154.twin.nc"
    assert payload["previous_version"] == str(kept) and kept.read_bytes() == Path(twin).read_bytes()
    assert DigitalTwin.load(updated).now == 210.0

    screen = run("screen", twin, "--no-pairs", "--json")
    assert screen.returncode == 0, screen.stderr
    ranked = json.loads(screen.stdout)["treatments"]
    assert ranked[0]["rank"] == 1 and {t["treatment"] for t in ranked} >= {"no drug", "osimertinib", "erlotinib"}


def test_bad_file_exits_1_with_a_one_line_message(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,kind,time,observable,value,unit\nP1,observation,0,diameter,big,mm\n")
    result = run("calibrate", bad)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert f"error: {bad}, row 2, column 'value'" in result.stderr and "'big'" in result.stderr


def test_unknown_disease_pack_exits_1_naming_the_packs():
    result = run("calibrate", example_files()["record"], "--disease", "prostat")
    assert result.returncode == 1
    assert "unknown disease pack 'prostat'; the packs are ['egfr_nsclc', 'prostate']" in result.stderr


def test_missing_twin_and_refdata_exit_1(tmp_path):
    result = run("whatif", tmp_path / "none.twin.nc")
    assert result.returncode == 1 and "no twin file at" in result.stderr
    result = run("validate", tmp_path / "nowhere")
    assert result.returncode == 1 and "nowhere" in result.stderr


def test_whatif_ranks_with_a_toxicity_penalty(demo):
    _, report = demo
    result = run("whatif", report["twin"], "--regimen", "continuous", "--regimen", "erlotinib:1200:1:6",
                 "--toxicity-penalty", "300", "--json", *SMALL)  # fmt: skip
    assert result.returncode in (0, 3), result.stderr
    payload = json.loads(result.stdout)
    assert payload["toxicity_penalty_days"] == 300.0
    rows = {r["regimen"]: r for r in payload["regimens"]}
    weekly = rows["erlotinib 1200 mg daily, 1 days on / 6 days off"]  # 1200 mg weekly: 1200 / 7 / 150 = 1.143
    assert weekly["toxicity penalty (days)"] == pytest.approx(300 * (16 * 1200 / 112 / 150 - 1))
    assert rows["erlotinib 150 mg daily"]["toxicity penalty (days)"] == 0.0
    assert "toxicity penalty for exposure above the label dose" in payload["verdict"]


def test_help_teaches():
    result = run("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "Exit codes: 0 ok, 1 bad input" in text and "demo" in text and "update" in text
    result = run("whatif", "--help")
    text = " ".join(result.stdout.split())
    assert "DRUG:MG:ON:OFF" in text and "at50-now" in text and "--toxicity-penalty " in text
