"""Dose tables: helpers, joining, padding, and errors that name the bad entry."""

import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from mechanistic.dosing import INFUSION, ORAL


def table(**overrides):
    cols = dict(
        time=jnp.array([0.0, 1.0]),
        amount=jnp.array([100.0, 100.0]),
        drug=jnp.array([0, 0]),
        route=jnp.array([ORAL, ORAL]),
        duration=jnp.zeros(2),
        bioavailability=jnp.ones(2),
        lag=jnp.zeros(2),
        drugs=("erlotinib",),
    )
    cols.update(overrides)
    return m.DoseTable(**cols)


def test_every_and_daily():
    t = m.every(0.5, 4, "x", [1.0, 2.0, 3.0, 4.0], start=2.0)
    np.testing.assert_array_equal(np.asarray(t.time), [2.0, 2.5, 3.0, 3.5])
    np.testing.assert_array_equal(np.asarray(t.amount), [1.0, 2.0, 3.0, 4.0])
    d = m.daily(3, 9, "x", 150.0)
    assert len(d) == 7 and float(d.time[0]) == 3.0 and float(d.time[-1]) == 9.0


def test_join_merges_drugs_and_sorts_by_time():
    t = m.daily(0, 2, "erlotinib", 150.0) + m.dose(1.5, "osimertinib", 80.0) + m.dose(0.5, "erlotinib", 10.0)
    assert t.drugs == ("erlotinib", "osimertinib")
    rows = t.rows()
    assert [r["time_day"] for r in rows] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert [r["drug"] for r in rows] == ["erlotinib", "erlotinib", "erlotinib", "osimertinib", "erlotinib"]
    assert rows[3]["amount_mg"] == 80.0


def test_pad_adds_zero_doses():
    t = m.daily(0, 2, "x", 1.0).pad(5)
    assert len(t) == 5 and float(jnp.sum(t.amount)) == 3.0
    with pytest.raises(ValueError, match="n must be >= 3"):
        m.daily(0, 2, "x", 1.0).pad(2)


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(amount=jnp.array([100.0, -5.0])), r"dose row 1: amount=-5.0 is invalid"),
        (dict(amount=jnp.array([jnp.nan, 1.0])), r"dose row 0: amount=nan"),
        (dict(time=jnp.array([2.0, 1.0])), r"dose row 1: time=1.0 comes before row 0"),
        (dict(time=jnp.array([-1.0, 1.0])), r"dose row 0: time=-1.0 is invalid"),
        (dict(route=jnp.array([ORAL, 7])), r"dose row 1: route=7 is invalid"),
        (dict(drug=jnp.array([0, 3])), r"dose row 1: drug=3 is invalid; expected a drug code into \('erlotinib',\)"),
        (dict(route=jnp.array([ORAL, INFUSION])), r"dose row 1: duration=0.0 is invalid; expected a finite infusion"),
        (dict(bioavailability=jnp.array([1.0, 1.5])), r"dose row 1: bioavailability=1.5"),
        (dict(lag=jnp.array([0.0, -0.1])), r"dose row 1: lag=-0.1"),
        (dict(amount=jnp.array([1.0, 2.0, 3.0])), "same length"),
    ],
)
def test_bad_rows_are_named(overrides, match):
    with pytest.raises(ValueError, match=match):
        table(**overrides)


def test_helper_errors():
    with pytest.raises(ValueError, match="unknown route 'subcutaneous'"):
        m.dose(0.0, "x", 1.0, "subcutaneous")
    with pytest.raises(ValueError, match="only 'infusion' has a duration"):
        m.dose(0.0, "x", 1.0, "oral", duration=1.0)
    with pytest.raises(ValueError, match="apply to route 'oral' only"):
        m.dose(0.0, "x", 1.0, "iv_bolus", lag=0.5)
    with pytest.raises(ValueError, match="n=0 must be an integer >= 1"):
        m.every(1.0, 0, "x", 1.0)
    with pytest.raises(ValueError, match="amount has 2 entries but n=3"):
        m.every(1.0, 3, "x", [1.0, 2.0])
    with pytest.raises(ValueError, match="last_day=1 is before first_day=5"):
        m.daily(5, 1, "x", 1.0)


def test_units_convert_and_refuse_mismatched_dimensions():
    assert m.convert(3.95, "L/h", "L/day") == pytest.approx(94.8)
    assert m.convert(2.0, "week", "day") == 14.0
    with pytest.raises(ValueError, match="cannot convert 'mg' \\(amount\\) to 'day' \\(time\\)"):
        m.convert(1.0, "mg", "day")
    with pytest.raises(ValueError, match="unknown unit 'furlong'"):
        m.convert(1.0, "furlong", "mm")


def test_with_drugs_recodes_into_another_drug_order():
    table = m.daily(0, 2, "osimertinib", 80.0)
    recoded = table.with_drugs(("erlotinib", "osimertinib"))
    assert recoded.drugs == ("erlotinib", "osimertinib")
    np.testing.assert_array_equal(recoded.drug, [1, 1, 1])
    np.testing.assert_array_equal(recoded.amount, table.amount)
    with pytest.raises(ValueError, match=r"\['osimertinib'\] of this dose table are not in drugs=\('erlotinib',\)"):
        table.with_drugs(("erlotinib",))
