"""The `twin` command line: the demo runs end to end and reports sensible numbers."""

import json

from typer.testing import CliRunner

from twin.cli import app


def test_demo_json_table_and_figure(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--json", "--days", "365", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [r["regimen"] for r in report["regimens"]] == [
        "erlotinib 150 mg daily",
        "erlotinib 1200 mg d1-2 + 50 mg d3-7 weekly",
    ]
    continuous, pulsed = report["regimens"]
    assert continuous["cumulative_dose_mg"] == 365 * 150.0
    assert pulsed["cumulative_dose_mg"] == 105 * 1200.0 + 260 * 50.0  # 52 weeks + 1 day
    for r in report["regimens"]:
        assert r["nadir_change_percent"] < -30  # both respond (PR by diameter)
        assert 0.0 < r["final_resistant_fraction"] <= 1.0
    # the pulsed schedule's high peaks hit the T790M clone too, delaying its outgrowth
    assert pulsed["final_resistant_fraction"] < continuous["final_resistant_fraction"]
    assert (tmp_path / "demo.png").stat().st_size > 10_000


def test_help_teaches():
    result = CliRunner().invoke(app, ["demo", "--help"])
    assert result.exit_code == 0 and "20% diameter growth over the nadir" in " ".join(result.output.split())


def test_bad_option_exits_nonzero():
    result = CliRunner().invoke(app, ["demo", "--days", "5"])
    assert result.exit_code != 0
