"""Comparison figures and the HTML report: panels, units on every axis, patient-day x axis,
consistent regimen colours, escaped HTML, PNGs that exist, and bad input named."""

import re

import jax
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from scenarios.compare import compare
from scenarios.ranking import summarise
from tests.scenarios.test_compare import DAYS, DRAWS, FAMILY, REGIMENS  # the comparison those tests check
from twin.formatting import event_cell, format_interval
from twin.plots import (
    PALETTE,
    best_change,
    dose_timeline,
    fan_chart,
    km_chart,
    posterior_pairs,
    resistant_fraction_chart,
    waterfall,
)
from twin.report import write_report

START = 100.0


@pytest.fixture(scope="module")
def comparison():
    ds = compare(FAMILY, DRAWS, REGIMENS, DAYS, key=jax.random.key(1), scan_every=28, noise_sd=0.1)
    ds.attrs["start_day"] = START
    return ds


@pytest.fixture(scope="module")
def observed():
    return pd.DataFrame(
        {
            "time": [0.0, 50.0, 100.0, 60.0, 100.0, 80.0],
            "observable": ["diameter", "diameter", "diameter", "resistant_fraction", "resistant_fraction", "cea"],
            "value": [45.0, 41.0, 38.5, 0.01, 0.02, 3.0],
            "censored": [False, False, False, True, False, False],
        }
    )


@pytest.fixture(scope="module")
def history():
    t = np.linspace(0.0, START, 11)
    scale = np.array([0.95, 1.0, 1.02, 1.05])[:, None]
    return xr.Dataset(
        {
            "diameter": (("draw", "time"), scale * (45.0 - 0.065 * t)),
            "resistant_fraction": (("draw", "time"), scale * (1e-3 + 1e-4 * t)),
        },
        coords={"draw": np.arange(4), "time": t},
    )


@pytest.fixture(scope="module")
def posterior():
    rng = np.random.default_rng(0)
    shape = (2, 50)
    return xr.Dataset(
        {
            "growth_rate": (("chain", "draw"), rng.normal(0.01, 0.001, shape), {"units": "1/day"}),
            "resistant0": (("chain", "draw"), 10 ** rng.uniform(0.0, 3.0, shape), {"units": "mm^3"}),
            "shift": (("chain", "draw"), rng.normal(0.0, 1.0, shape), {"units": "mm"}),
        },
        coords={"chain": [0, 1], "draw": np.arange(50)},
    )


def _axes_with_ylabel(fig, text):
    return [ax for ax in fig.axes if text in ax.get_ylabel()]


def test_fan_chart_panels_units_and_patient_days(comparison, observed, history):
    fig = fan_chart(comparison, observed, history)
    assert isinstance(fig, Figure) and len(fig.axes) == 3  # one panel per regimen
    assert "mm" in fig.axes[0].get_ylabel() and "day" in fig.axes[-1].get_xlabel()
    for ax in fig.axes:
        first = ax.get_lines()[0]  # the median forecast is drawn first
        assert first.get_gid().startswith("median:") and first.get_xdata()[0] == pytest.approx(START)
        assert first.get_xdata()[-1] == pytest.approx(START + DAYS)
        gids = {line.get_gid() for line in ax.get_lines()}
        assert {"history median", "observed", "PR line", "PD line", "decision day"} <= gids
    # RECIST lines relative to the decision-day median baseline
    baseline = float(np.median(comparison.sum_of_diameters.isel(regimen=0, time=0)))
    lines = {line.get_gid(): line for line in fig.axes[0].get_lines()}
    assert lines["PR line"].get_ydata()[0] == pytest.approx(0.7 * baseline)
    assert lines["PD line"].get_ydata()[0] == pytest.approx(1.2 * baseline)
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "+20% vs decision-day baseline" in legend and "+5 mm over the nadir" in legend and "decision day" in legend
    # the other observable ("cea") is ignored; the observed diameter points sit at their patient days
    np.testing.assert_array_equal(lines["observed"].get_xdata(), [0.0, 50.0, 100.0])
    one = fan_chart(comparison, regimens=[str(REGIMENS[2])])
    assert len(one.axes) == 1 and to_hex(one.axes[0].get_lines()[0].get_color()) == PALETTE[2].lower()


def test_regimen_colours_agree_between_figures(comparison, observed, history):
    fan = fan_chart(comparison, observed, history)
    rf = resistant_fraction_chart(comparison, observed, history)
    assert len(rf.axes) == 1
    ax = rf.axes[0]
    assert "day" in ax.get_xlabel() and "0-1" in ax.get_ylabel()
    rf_colours = {line.get_gid(): to_hex(line.get_color()) for line in ax.get_lines()}
    for i, (panel, name) in enumerate(zip(fan.axes, comparison.regimen.values, strict=True)):
        fan_colour = to_hex(panel.get_lines()[0].get_color())
        assert fan_colour == rf_colours[f"median:{name}"] == PALETTE[i].lower()
    censored = [line for line in ax.get_lines() if line.get_gid() == "observed censored"]
    assert censored and censored[0].get_marker() == "v" and censored[0].get_markerfacecolor() == "none"


def test_dose_timeline_rows_and_units(comparison):
    fig = dose_timeline(comparison)
    rows = _axes_with_ylabel(fig, "mg/day")
    assert len(rows) == 3 and "day" in rows[-1].get_xlabel()
    # continuous: 150 mg/day from the decision day (patient day 100) to the horizon
    steps = [p for p in rows[0].patches if p.get_gid() == f"dose:{REGIMENS[0]}:erlotinib"]
    values, edges = steps[0].get_data().values, steps[0].get_data().edges
    np.testing.assert_allclose(values, 150.0)
    assert edges[0] == START and edges[-1] == START + DAYS
    varies = np.ptp(comparison.dose.isel(regimen=2).values[:, :-1], axis=0).any()
    assert len(_axes_with_ylabel(fig, "draws on drug (%)")) == int(varies)  # adaptive only, where draws differ


def test_dose_timeline_two_drugs_switch_and_share_of_draws():
    """A synthetic switch regimen (erlotinib, then osimertinib in some draws) stays readable:
    one step per drug in its own colour, and the share of draws on drug on a right axis."""
    t = np.arange(0.0, 57.0, 7.0)
    dose = np.zeros((2, 4, t.size, 2))
    dose[0, :, :-1, 0] = 7 * 150.0  # continuous erlotinib
    for d, switch in enumerate([3, 5, 8, 8]):  # switch at bin `switch` (8: never)
        dose[1, d, :switch, 0] = 7 * 150.0
        dose[1, d, switch:-1, 1] = 7 * 80.0
    dose[1, 0, 6, :] = 0.0  # one draw off drug for a bin
    ds = xr.Dataset(
        {"dose": (("regimen", "draw", "time", "drug"), dose, {"units": "mg"})},
        coords={"regimen": ["erlotinib", "erlotinib, then osimertinib"], "time": t, "drug": ["erlotinib", "osimer"]},
    )
    fig = dose_timeline(ds)
    main = _axes_with_ylabel(fig, "mg/day")
    assert len(main) == 2 and len(_axes_with_ylabel(fig, "draws on drug (%)")) == 1
    switch = {p.get_gid(): p for p in main[1].patches if p.get_gid()}
    erl, osi = switch["dose:erlotinib, then osimertinib:erlotinib"], switch["dose:erlotinib, then osimertinib:osimer"]
    assert to_hex(erl.get_edgecolor()) != to_hex(osi.get_edgecolor())
    np.testing.assert_allclose(erl.get_data().values[:3], 150.0)
    np.testing.assert_allclose(osi.get_data().values[5], 80.0 * 2 / 4)  # half the draws switched by bin 5
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "erlotinib (mg/day)" in legend and "osimer (mg/day)" in legend


def test_waterfall(comparison):
    fig = waterfall(comparison)
    assert len(fig.axes) == 3
    assert "%" in fig.axes[0].get_ylabel() and "draw" in fig.axes[0].get_xlabel()
    change = best_change(comparison)
    heights = sorted(p.get_height() for p in fig.axes[0].patches)
    np.testing.assert_allclose(heights, np.sort(change.isel(regimen=0).values))
    assert (change <= 0).all()  # time 0 is included in the minimum


def test_posterior_pairs(posterior):
    fig = posterior_pairs(posterior)
    assert len(fig.axes) == 6  # lower triangle + diagonal of 3 parameters
    bottom = [ax for ax in fig.axes if ax.get_xlabel()]
    assert [ax.get_xlabel() for ax in bottom] == ["growth_rate (1/day)", "resistant0 (mm^3)", "shift (mm)"]
    assert [ax.get_xscale() for ax in bottom] == ["linear", "log", "linear"]  # resistant0 spans 3 decades
    assert {ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()} == {"resistant0 (mm^3)", "shift (mm)"}
    two = posterior_pairs(posterior, ["shift", "growth_rate"], max_draws=20)
    assert len(two.axes) == 3
    assert len(two.axes[1].collections[0].get_offsets()) == 20  # thinned
    with pytest.raises(ValueError, match=r"\['nope'\] not scalar.*valid: \['growth_rate', 'resistant0', 'shift'\]"):
        posterior_pairs(posterior, ["growth_rate", "nope"])


def test_bad_comparison_is_named(comparison):
    bad = comparison.drop_vars(["sum_of_diameters", "volume"])  # no diameters: the burden (volume) is drawn
    with pytest.raises(ValueError, match=r"fan_chart: comparison has no \['volume'\]"):
        fan_chart(bad)
    with pytest.raises(ValueError, match="waterfall|best_change"):
        waterfall(bad)
    with pytest.raises(ValueError, match=r"regimens \['weekly'\] are not in the comparison; valid"):
        fan_chart(comparison, regimens=["weekly"])
    with pytest.raises(ValueError, match=r"observed lacks columns \['value'\]"):
        fan_chart(comparison, pd.DataFrame({"time": [0.0], "observable": ["diameter"]}))


def test_report_writes_html_and_every_png(comparison, observed, history, posterior, tmp_path):
    table = summarise(comparison)
    evil = "<script>alert(1)</script> & co"
    table.loc[0, "regimen"] = evil
    screen = xr.Dataset(
        {
            "net_growth_rate": (("treatment", "clone"), [[-0.02, 0.01], [0.005, 0.004]], {"units": "1/day"}),
            "rank": ("treatment", [1, 2]),
        },
        coords={"treatment": ["osimertinib", "erlotinib"], "clone": ["sensitive", "T790M"]},
    )
    out = tmp_path / "new" / "report"
    index = write_report(
        out,
        title="Patient 7 <demo>",
        table=table,
        comparison=comparison,
        observed=observed,
        history=history,
        posterior=posterior,
        notes=["growth is Gompertz", "doses < 5 mg ignored"],
        screen=screen,
        diagnostics_lines=["R-hat max 1.01", "divergences: 0"],
    )
    assert index == out / "index.html" and index.is_file()
    page = index.read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert "Patient 7 &lt;demo&gt;" in page and "doses &lt; 5 mg ignored" in page and "R-hat max 1.01" in page
    assert "http" not in page and "<style>" in page  # self-contained
    horizon = comparison.attrs["horizon_days"]
    assert f"RECIST progression by day {horizon}: median (90% interval)" in page
    for _, row in table.iterrows():  # each regimen's event times, censoring written out
        expected = event_cell(row, "time_to_progression", horizon)
        assert re.fullmatch(r"(>?\d+ d \(>?\d+–>?\d+\)|not reached \(\d+%\))", expected) and expected in page
    assert format_interval(0.45, (0.2, 0.8), "1") == "45% (20–80%)"
    linked = re.findall(r'<img src="([^"]+)" alt="[^"]+">', page)
    assert set(linked) == {
        "fan_chart.png",
        "resistant_fraction.png",
        "dose_timeline.png",
        "waterfall.png",
        "posterior_pairs.png",
        "screen.png",
    }
    for name in linked:
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5_000


def test_km_chart_bands_and_observed_curves():
    import scenarios as sc
    from tests.scenarios.test_trial import design, stein_population

    pop = stein_population()
    res = sc.run_trial(design((sc.stein_arm("a", pop), sc.stein_arm("b", pop)), n=32), jax.random.key(0))
    km = res.kaplan_meier("pfs")
    observed = {
        "a": sc.kaplan_meier(res.data.pfs_days.values[0, 0] / sc.DAYS_PER_MONTH, res.data.pfs_event.values[0, 0])
    }
    fig = km_chart(km, observed, title="virtual")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert "months" in ax.get_xlabel() and "probability" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("a: virtual") and "a: observed" in labels and labels[-1].startswith("b: virtual")
    assert ax.get_lines()[0].get_color() == PALETTE[0]
    with pytest.raises(ValueError, match="kaplan_meier"):
        km_chart(xr.Dataset())
