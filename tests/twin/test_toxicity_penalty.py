"""The twin's toxicity penalty: days of restricted mean per unit of relative exposure above the label
dose, ranked on, shown in the table and stated in the verdict and report."""

import pytest
from rich.console import Console

from tests.twin.test_adaptive_baseline import fixed_twin
from twin.cli import _table
from twin.diseases.egfr_nsclc.regimens import parse_regimen
from twin.report import ranking_explanation, ranking_table_html

DAYS = 112
EXCESS = 16 * 1200 / DAYS / 150 - 1  # 1200 mg on days 0, 7, ..., 105 against 150 mg/day: 1.143 - 1


@pytest.fixture(scope="module")
def results():
    twin = fixed_twin()
    regimens = [parse_regimen("erlotinib:150", DAYS), parse_regimen("erlotinib:1200:1:6", DAYS)]
    return {k: twin.compare(regimens, days=DAYS, n_draws=4, toxicity_penalty_days=k) for k in (0.0, 300.0)}


def test_the_penalty_is_the_excess_exposure_over_the_label_times_the_days_per_unit(results):
    plain, penalised = (results[k].table.set_index("regimen") for k in (0.0, 300.0))
    weekly = "erlotinib 1200 mg daily, 1 days on / 6 days off"
    assert plain.loc[weekly, "exposure above label"] == pytest.approx(EXCESS)
    assert plain.loc["erlotinib 150 mg daily", "exposure above label"] == 0.0
    assert (plain["toxicity penalty (days)"] == 0).all()
    assert penalised.loc[weekly, "toxicity penalty (days)"] == pytest.approx(300 * EXCESS)  # 42.9 days
    rmst = penalised["time_to_2x_baseline RMST"]
    assert (rmst == plain["time_to_2x_baseline RMST"]).all()  # the endpoint does not move
    score = rmst - penalised["toxicity penalty (days)"]
    assert penalised["expected utility"].to_dict() == pytest.approx(score.to_dict())
    assert list(penalised.index) == sorted(penalised.index, key=lambda r: -penalised.loc[r, "expected utility"])
    assert results[300.0].dataset.attrs["toxicity_penalty_days"] == 300.0
    assert "toxicity penalty for exposure above the label dose" in results[300.0].verdict.text
    assert "toxicity" not in results[0.0].verdict.text


def test_the_table_and_report_show_the_penalty_only_when_used(results):
    def printed(result):
        console = Console(record=True, width=250)
        _table(console, result, "t")
        return console.export_text()

    with_penalty, without = printed(results[300.0]), printed(results[0.0])
    assert "toxicity (days)**" in with_penalty and "-43" in with_penalty
    assert "** Ranked by score = restricted mean minus a toxicity penalty of 300 days per unit" in with_penalty
    assert "toxicity" not in without.replace("toxicity penalty for", "")
    ds = results[300.0].dataset
    html = ranking_table_html(results[300.0].table, ds, ds.attrs["primary"])
    assert "toxicity penalty (days)**" in html and ">-43<" in html
    plain = results[0.0]
    assert "toxicity penalty (days)" not in ranking_table_html(plain.table, plain.dataset, ds.attrs["primary"])
    lines = ranking_explanation(ds.attrs["primary"], DAYS, 4, 300.0)
    assert lines[1].startswith("** Ranked by score = restricted mean minus a toxicity penalty of 300 days")
    assert not any("toxicity" in line for line in ranking_explanation(ds.attrs["primary"], DAYS, 4))


def test_a_negative_penalty_is_refused_before_simulating():
    with pytest.raises(ValueError, match=r"toxicity_penalty_days=-1.0 must be a finite number >= 0"):
        fixed_twin().compare(days=DAYS, n_draws=4, toxicity_penalty_days=-1.0)
