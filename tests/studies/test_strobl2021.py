"""Strobl et al. 2021 (Cancer Res 81:1135), shared/refdata/strobl2021_at_lv: every row of both
ttpComparison files reproduced exactly with ``twin.studies.strobl2021`` (set-up in that module's
docstring). Default run: under continuous therapy (TreatmentBranch = MTD), TimeToFailure of every
MTD row on the integer-day grid (first day with total burden > 1.2 n0), and the README's continuous
crossing times. Slow: every row, MTD and AT50, as decision loops with daily decisions (drug state
constant over each day; at the end of each day: on if N > n0, off if N < 0.5 n0, else unchanged),
TimeToFailure and NCycles."""

import numpy as np
import pytest

from twin.studies.strobl2021 import (
    CROSSINGS,
    FILES,
    FOLDER,
    continuous_burden,
    crossing_times,
    load_ttp_comparison,
    mtd_time_to_failure,
    reproduce_rows,
)


def test_loader_adds_cost_and_branch_and_names_bad_input(refdata, tmp_path):
    table = load_ttp_comparison(refdata / FOLDER / "ttpComparison_cost_noTurnover.csv")
    assert len(table) == 48 and set(table.branch) == {"MTD", "AT50"}
    assert table.cost.max() == pytest.approx(0.5) and (table.cost == table.Cost / 100).all()  # Cost is in percent
    assert (load_ttp_comparison(refdata / FOLDER / "ttpComparison_n0fR.csv").cost == 0).all()  # no Cost column
    with pytest.raises(FileNotFoundError, match="nowhere.csv not found"):
        load_ttp_comparison(tmp_path / "nowhere.csv")
    (tmp_path / "short.csv").write_text("InitialTumourSize,RFrac,TreatmentBranch\n0.5,0.01,MTD\n")
    with pytest.raises(ValueError, match=r"short.csv lacks columns \['TimeToFailure', 'NCycles'\]"):
        load_ttp_comparison(tmp_path / "short.csv")
    header = "InitialTumourSize,RFrac,TreatmentBranch,TimeToFailure,NCycles\n"
    (tmp_path / "branch.csv").write_text(header + "0.5,0.01,MTD,300,\n0.5,0.01,AT-fifty,400,2\n")
    with pytest.raises(ValueError, match=r"branch.csv, line 3, column TreatmentBranch: 'AT-fifty'"):
        load_ttp_comparison(tmp_path / "branch.csv")
    (tmp_path / "n0.csv").write_text(header + "0.5,0.01,MTD,300,\n1.5,0.01,0.5,400,2\n")
    with pytest.raises(ValueError, match=r"n0.csv, line 3, column InitialTumourSize: 1.5 is not in \(0, 1\]"):
        load_ttp_comparison(tmp_path / "n0.csv")


@pytest.mark.parametrize("name", FILES)
def test_every_mtd_time_to_failure_reproduced_exactly(refdata, name):
    rows = mtd_time_to_failure(load_ttp_comparison(refdata / FOLDER / name))
    assert len(rows) in (18, 24)
    assert rows.ours_ok.all()
    mismatch = rows[rows.ours_ttf != rows.TimeToFailure][["InitialTumourSize", "RFrac", "TimeToFailure", "ours_ttf"]]
    assert mismatch.empty, f"rows not reproduced:\n{mismatch}"


def test_continuous_crossing_times_match_the_readme():
    """Continuous (not day-rounded) MTD failure times from the README of strobl2021_at_lv,
    verified there with an independent DOP853 solve; given to 0.1 day, so tolerance 0.05 day."""
    n0, f_r, expected = map(np.array, zip(*CROSSINGS, strict=True))
    burden, ok = continuous_burden(n0, f_r)
    assert ok.all()
    crossing = crossing_times(burden, n0)
    for i in range(len(CROSSINGS)):
        assert crossing[i] == pytest.approx(expected[i], abs=0.05), (n0[i], f_r[i])


@pytest.mark.slow  # 45 s; the continuous-therapy rows stay in the default run (above)
@pytest.mark.parametrize("name", FILES)
def test_every_row_reproduced_exactly(refdata, name):
    got = reproduce_rows(load_ttp_comparison(refdata / FOLDER / name))
    assert len(got) in (36, 48)
    assert got.ours_ok.all() and got.ours_observed.all()
    bad_ttf = got[got.ours_ttf != got.TimeToFailure]
    assert bad_ttf.empty, f"TimeToFailure not reproduced:\n{bad_ttf}"
    at = got[got.branch == "AT50"]
    assert len(at) == len(got) // 2
    bad_cycles = at[at.ours_cycles != at.NCycles]
    assert bad_cycles.empty, f"NCycles not reproduced:\n{bad_cycles}"
