"""Honest rankings: censoring shown, ties as ties, identical options merged, a verdict in words.

Hand-made comparison datasets (no simulation): every expected number is computed by hand.
"""

import numpy as np
import pytest
import xarray as xr

from scenarios.endpoints import ENDPOINTS
from scenarios.ranking import same_as, summarise, verdict

HORIZON = 728


def comparison(times: dict[str, list[float]], doses: dict[str, list[float]] | None = None, growth=None):
    """A ``scenarios.compare``-shaped Dataset whose every event time is ``times[regimen]`` per draw
    (a time at the horizon is censored) and whose daily dose per draw is ``doses[regimen]``."""
    names = list(times)
    t = np.asarray([times[r] for r in names], dtype=float)  # (regimen, draw)
    n = t.shape[1]
    daily = np.asarray([(doses or {}).get(r, [150.0 + 10 * i] * n) for i, r in enumerate(names)], dtype=float)
    data = {name: (("regimen", "draw"), t, {"units": e.unit}) for name, e in ENDPOINTS.items()}
    data["final_resistant_fraction"] = (("regimen", "draw"), np.full_like(t, 0.1), {"units": "1"})
    data["days_on_drug"] = (("regimen", "draw"), np.full_like(t, HORIZON), {"units": "day"})
    for flag in [e.event for e in ENDPOINTS.values() if e.event]:
        data[flag] = (("regimen", "draw"), t < HORIZON)
    data["cumulative_dose"] = (("regimen", "draw", "drug"), (daily * HORIZON)[..., None], {"units": "mg"})
    dose = np.repeat(daily[:, :, None, None], 3, axis=2)
    data["dose"] = (("regimen", "draw", "time", "drug"), dose, {"units": "mg"})
    coords = {"regimen": names, "draw": np.arange(n), "time": [0.0, 7.0, 14.0], "drug": ["erlotinib"]}
    coords["growth_rate"] = ("draw", np.linspace(0.01, 0.02, n) if growth is None else np.asarray(growth))
    return xr.Dataset(data, coords=coords, attrs={"horizon_days": HORIZON})


def test_ties_at_the_horizon_are_ties_and_censoring_is_counted():
    ds = comparison({"A": [728, 728, 728, 400], "B": [728, 728, 728, 300], "C": [100, 200, 300, 350]})
    table = summarise(ds).set_index("regimen")
    p = "time_to_progression"
    assert list(table.index) == ["A", "B", "C"]  # RMST 646 > 621 > 237.5
    assert table.loc["A", f"{p} RMST"] == pytest.approx((3 * 728 + 400) / 4)
    assert table.loc["A", f"P(best on {p})"] == pytest.approx(0.25)  # alone best only in draw 4
    assert table.loc["A", f"P(tied for best on {p})"] == pytest.approx(0.75)
    assert table.loc["B", f"P(best on {p})"] == 0.0 and table.loc["C", f"P(best on {p})"] == 0.0
    assert table.loc["A", f"{p} not reached"] == pytest.approx(0.75)
    assert table.loc["C", f"{p} not reached"] == 0.0
    # every draw is either one regimen alone best or a tie: the shares add up to 1 over options
    assert table[f"P(best on {p})"].sum() + 0.75 == pytest.approx(1.0)
    assert table.loc["B", "difference vs #1 (mean)"] == pytest.approx(-25.0)
    assert table.loc["A", "difference vs #1 90% CI"] == (0.0, 0.0)


def test_identical_doses_are_one_option():
    ds = comparison(
        {"cont": [300, 500, 700], "at50": [300, 500, 700], "osi": [200, 600, 728]},
        doses={"cont": [150.0] * 3, "at50": [150.0] * 3, "osi": [80.0] * 3},
    )
    assert same_as(ds) == {"at50": "cont"}
    table = summarise(ds).set_index("regimen")
    p = "time_to_progression"
    # cont/at50 are one option: not "tied" with each other; osi alone best in draws 2 and 3
    assert table.loc["cont", f"P(best on {p})"] == pytest.approx(1 / 3)
    assert table.loc["at50", f"P(best on {p})"] == pytest.approx(1 / 3)
    assert table.loc["osi", f"P(best on {p})"] == pytest.approx(2 / 3)
    assert table.loc["at50", "same as"] == "cont" and table.loc["cont", "same as"] == ""


def test_verdict_separates_only_when_the_draws_agree():
    clear = comparison({"A": [500, 600, 700, 650] * 5, "B": [300, 400, 500, 450] * 5})
    v = verdict(clear, summarise(clear))
    assert v.separated and v.best == "A" and v.runner_up == "B" and v.p_better == 1.0
    assert v.difference == pytest.approx(200.0)
    assert "A has the longest time to RECIST progression: 200 days more than B" in v.text
    close = comparison({"A": [728, 728, 728, 728, 500], "B": [728, 728, 728, 728, 400]})
    v = verdict(close, summarise(close))
    assert not v.separated and v.p_tied == pytest.approx(0.8)
    assert "cannot separate A and B within 2 years" in v.text
    assert "tied in 80%" in v.text and "neither reaches the event by day 728" in v.text


def test_verdict_names_what_drives_the_order():
    growth = np.linspace(0.005, 0.03, 20)
    a = 700 - 20000 * (growth - 0.005)  # A wins for slow tumours, B for fast ones
    ds = comparison({"A": a, "B": np.full(20, 450.0)}, growth=growth)
    v = verdict(ds, summarise(ds))
    assert not v.separated and list(v.drivers)[0] == "growth_rate" and v.drivers["growth_rate"] < -0.9
    assert "depends most on growth_rate" in v.text


def test_one_option_and_bad_arguments():
    ds = comparison({"A": [300, 400], "A again": [300, 400]}, doses={"A": [150, 150], "A again": [150, 150]})
    v = verdict(ds, summarise(ds))
    assert v.runner_up is None and "Only one distinct option" in v.text and "identical doses" in v.text
    with pytest.raises(ValueError, match="primary='days_on_drug' is not an event-time endpoint"):
        summarise(ds, primary="days_on_drug")
    with pytest.raises(ValueError, match="level=1.2 must be in"):
        verdict(ds, summarise(ds), level=1.2)


def test_toxicity_penalty_ranks_by_restricted_mean_minus_excess_exposure():
    """1200 mg once weekly against erlotinib's label 150 mg/day: relative exposure 1200 / 7 / 150 =
    1.143, excess 0.143; 150 mg daily: exactly 1, no excess."""
    ds = comparison(
        {"cont": [500, 500, 500, 500], "weekly": [520, 530, 540, 550]},
        doses={"cont": [150.0] * 4, "weekly": [1200.0 / 7] * 4},
    )
    labels = {"erlotinib": 150.0}
    excess = 1200 / 7 / 150 - 1  # 0.142857
    p = "time_to_progression"
    plain = summarise(ds, toxicity_penalty_days=0.0, label_daily_mg=labels).set_index("regimen")
    assert list(plain.index) == ["weekly", "cont"]  # RMST 535 > 500, no penalty: numbers as before
    assert plain.loc["weekly", "exposure above label"] == pytest.approx(excess)
    assert plain.loc["cont", "exposure above label"] == 0.0
    assert (plain["toxicity penalty (days)"] == 0).all()
    assert plain.loc["weekly", "expected utility"] == pytest.approx(535.0)
    mild = summarise(ds, toxicity_penalty_days=200.0, label_daily_mg=labels).set_index("regimen")
    assert mild.loc["weekly", "toxicity penalty (days)"] == pytest.approx(200 * excess)  # 28.6 days
    assert mild.loc["weekly", "expected utility"] == pytest.approx(535 - 200 * excess)  # 506.4 > 500
    assert list(mild.index) == ["weekly", "cont"]
    strict = summarise(ds, toxicity_penalty_days=300.0, label_daily_mg=labels)
    assert list(strict.regimen) == ["cont", "weekly"]  # 535 - 42.9 = 492.1 < 500
    assert strict.set_index("regimen").loc["weekly", f"{p} RMST"] == pytest.approx(535.0)  # the endpoint unchanged
    text = verdict(ds, strict).text
    assert text.startswith("weekly has the longer time to RECIST progression: 35 days more than cont")
    assert "the toxicity penalty ranks cont first" in text
    assert "minus a toxicity penalty for exposure above the label dose: cont 500 - 0 = 500 days; " in text
    assert "weekly 535 - 43 = 492 days" in text
    assert "toxicity" not in verdict(ds, summarise(ds)).text


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"toxicity_penalty_days": -1.0, "label_daily_mg": {"erlotinib": 150.0}}, "toxicity_penalty_days=-1.0 must"),
        ({"toxicity_penalty_days": 10.0}, "toxicity_penalty_days=10.0 needs label_daily_mg"),
        ({"toxicity_penalty_days": 10.0, "label_daily_mg": {"osimertinib": 80.0}}, "drug 'erlotinib' is given but"),
    ],
)
def test_toxicity_penalty_bad_input_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        summarise(comparison({"a": [1.0, 2.0]}), **kwargs)
