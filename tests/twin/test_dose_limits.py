"""Dose plausibility: the table covers every drug with PK, its facts are ordered, and check_dose
warns above the label, refuses above the hard limit unless confirmed, and catches unit typos."""

import numpy as np
import pytest

from mechanistic.egfr_network import EGFR_DRUG_PK
from twin.dose_limits import (
    DOSE_LIMITS,
    HARD_LIMIT_FACTOR,
    DoseLimitError,
    UnknownDrugError,
    canonical_drug,
    check_dose,
    closest_drug,
    dose_limits,
)


def test_every_drug_with_pk_has_limits_with_its_label_dose_and_sources():
    assert set(EGFR_DRUG_PK) <= set(DOSE_LIMITS)
    for drug, (amount, interval, *_) in EGFR_DRUG_PK.items():
        lim = DOSE_LIMITS[drug]
        # the PK table's standard dose is the label dose, per administration and per day
        assert lim.label_mg == amount
        assert lim.label_per_day_mg == pytest.approx(amount / interval)
        assert lim.lowest_studied_mg <= lim.label_mg <= lim.max_studied_mg < lim.hard_limit_mg
        assert lim.hard_limit_mg == HARD_LIMIT_FACTOR * lim.max_studied_mg
        assert lim.sources and lim.dose_limiting_toxicities and lim.mtd and lim.label_source
        assert check_dose(drug, lim.label_mg).level == "ok"
        assert check_dose(drug, lim.label_per_day_mg, per="day").level == "ok"


def test_label_and_studied_doses_from_the_trials():
    # Milton et al. Cancer 2006: weekly erlotinib to 2000 mg; Yu et al. Ann Oncol 2017: pulsed MTD 1200 mg
    assert DOSE_LIMITS["erlotinib"].max_studied_mg == 2000.0
    assert "1200 mg" in DOSE_LIMITS["erlotinib"].mtd
    assert DOSE_LIMITS["osimertinib"].max_studied_mg == 240.0  # AURA phase I, Janne et al. NEJM 2015
    assert DOSE_LIMITS["gefitinib"].max_studied_mg == 1000.0  # Baselga / Herbst JCO 2002
    assert DOSE_LIMITS["capmatinib"].label_schedule == "400 mg twice daily"


def test_above_label_warns_and_above_hard_limit_refuses_unless_confirmed():
    pulsed = check_dose("erlotinib", 1200.0)
    assert pulsed.level == "above_label" and pulsed.above_label
    assert "150 mg once daily" in pulsed.message
    with pytest.raises(DoseLimitError) as info:
        check_dose("erlotinib", 15000.0, where="regimen 'erlotinib:15000'")
    e = info.value
    assert str(e).startswith("regimen 'erlotinib:15000': 15000 mg per dose of erlotinib is above the hard limit")
    assert (e.drug, e.mg, e.limit, e.suggestion) == ("erlotinib", 15000.0, 4000.0, None)
    assert "Milton" in str(e)  # the source of the limit
    confirmed = check_dose("erlotinib", 15000.0, confirm=True)
    assert confirmed.level == "above_limit" and confirmed.above_label
    # per day: capmatinib's label is 400 mg twice daily
    assert check_dose("capmatinib", 800.0, per="day").level == "ok"
    assert check_dose("capmatinib", 800.0).level == "above_label"
    with pytest.raises(DoseLimitError, match="hard limit of 2400 mg"):
        check_dose("capmatinib", 2500.0, per="day")


@pytest.mark.parametrize(
    "drug, mg, meant",
    [
        ("erlotinib", 150000.0, 150.0),
        ("osimertinib", 80000.0, 80.0),
        ("erlotinib", 0.15, 150.0),
        ("trametinib", 0.002, 2.0),
    ],
)
def test_unit_typos_say_what_was_probably_meant(drug, mg, meant):
    with pytest.raises(DoseLimitError) as info:
        check_dose(drug, mg, where="here")
    assert f"did you mean {meant:g} mg? check the unit" in str(info.value)
    assert info.value.suggestion == pytest.approx(meant)


def test_low_doses_are_not_refused():
    assert check_dose("erlotinib", 25.0).level == "ok"
    assert check_dose("erlotinib", 10.0).level == "below_studied"  # not 1000x off: a dose reduction


def test_drug_names_aliases_and_typos():
    assert canonical_drug("Erlotinib") == "erlotinib"
    assert canonical_drug("TAGRISSO") == "osimertinib"
    assert canonical_drug("cisplatin") is None
    assert closest_drug("erlotnib") == "erlotinib"
    assert closest_drug("cisplatin") is None
    with pytest.raises(UnknownDrugError, match=r"unknown drug 'osimertnib' \(did you mean 'osimertinib'\?\)"):
        dose_limits("osimertnib")
    with pytest.raises(ValueError, match="per='week'"):
        check_dose("erlotinib", 150.0, per="week")


def test_daily_totals_sum_the_doses_of_each_calendar_day():
    from twin.dose_limits import daily_totals

    days, totals, day_of = daily_totals([0.0, 0.5, 1.0, 7.25, 7.9], [1200.0, 300.0, 50.0, 100.0, 100.0])
    np.testing.assert_array_equal(days, [0.0, 1.0, 7.0])
    np.testing.assert_array_equal(totals, [1500.0, 50.0, 200.0])
    np.testing.assert_array_equal(day_of, [0, 0, 1, 2, 2])
    with pytest.raises(ValueError, match=r"time \(2,\) and amount \(3,\) must be 1-D arrays"):
        daily_totals([0.0, 1.0], [1.0, 2.0, 3.0])
