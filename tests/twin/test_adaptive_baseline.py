"""The twin's AT50 decides against the pre-treatment burden (Zhang et al. 2017), each posterior draw's
fitted volume at the first dose; ``at50-now`` against the burden on the decision day. A fixed
posterior (the example's true parameters, four volumes) instead of a calibration keeps this fast."""

import numpy as np
import pytest

from twin import DigitalTwin, example_patient
from twin.diseases.egfr_nsclc.examples.generate_example import TRUTH
from twin.diseases.egfr_nsclc.regimens import parse_regimen

DAYS = 112


def fixed_twin() -> DigitalTwin:
    """The example patient's twin with a posterior of four draws: the true parameters, the first
    scan's volume x 0.9, 1.0, 1.1, 1.2 (no calibration: fast what-ifs)."""
    twin = DigitalTwin.from_record(example_patient())
    scale = np.array([0.9, 1.0, 1.1, 1.2])
    samples = {k: (TRUTH[k] * (scale if k == "volume0" else np.ones(4)))[None] for k in twin.model.priors}
    return twin.with_draws(samples)


@pytest.fixture(scope="module")
def result():
    twin = fixed_twin()
    pre, now = parse_regimen("at50", DAYS), parse_regimen("erlotinib:150:at50-now", DAYS)
    return twin, twin.compare([pre, now], days=DAYS, n_draws=4)


def test_at50_holds_at_the_first_decision_against_the_pretreatment_burden(result):
    twin, comparison = result
    ds = comparison.dataset
    first_dose = min(d.time for d in twin.record.doses)
    assert ds.attrs["pretreatment_day"] == first_dose == 0.0
    # the example responded: on the decision day every draw is below 50% of its pre-treatment volume ...
    before, today = ds.pretreatment_volume.values, ds.volume.isel(regimen=0, time=0).values
    history = twin.history(n_draws=4, points=2)  # days t0 and now; the volume at day 0 lies between
    assert (today < 0.5 * before).all() and (before > history.volume.values[:, 0]).all()
    # ... so AT50 (pre-treatment) holds from the first decision, the decision-day version treats on
    weekly = ds.dose.sum("drug").values  # (regimen, draw, week) mg
    np.testing.assert_array_equal(weekly[0, :, :8], 0.0)
    np.testing.assert_array_equal(weekly[1, :, :8], 7 * 150.0)
    assert comparison.table["same as"].tolist() == ["", ""]


def test_the_output_says_what_the_baseline_is(result):
    _, comparison = result
    names = [str(r) for r in comparison.dataset.regimen.values]
    assert names[0].startswith("erlotinib 150 mg daily, adaptive AT50 against the pre-treatment burden (hold below 50%")
    assert names[1].startswith("erlotinib 150 mg daily, adaptive AT50 against the burden at the regimen's start")
    text = comparison.dataset.attrs["adaptive_baseline"]
    median = np.median(comparison.dataset.pretreatment_volume.values)
    assert f"fitted tumour volume on day 0 (the first dose): median {median:.3g} mm^3" in text
    assert "relative to each draw's burden on the decision day (day 154)" in text


def test_a_switch_at_progression_is_not_described_as_holding_against_a_baseline():
    """The switch reads its own nadir: with AT50 (pre-treatment) beside it, only AT50's baseline is stated."""
    twin = fixed_twin()
    regimens = [parse_regimen("at50", DAYS), parse_regimen("switch", DAYS)]
    text = twin.compare(regimens, days=DAYS, n_draws=4).dataset.attrs["adaptive_baseline"]
    assert "'against the pre-treatment burden'" in text
    assert "regimen's start" not in text
