"""compare(): dims, endpoints, determinism, summary; bad input named."""

from dataclasses import dataclass, field

import jax
import numpy as np
import pytest

import scenarios as s
from mechanistic.catalogue import EGFRTwoClone
from scenarios.compare import compare
from scenarios.ranking import summarise

DAYS = 168
CONT = s.continuous("erlotinib", 150, DAYS)
REGIMENS = [CONT, s.intermittent("erlotinib", 150, 14, 14, DAYS), s.adaptive_threshold(CONT, 0.6, 1.0, 28)]
DRAWS = {"growth_rate": np.array([0.008, 0.01, 0.012, 0.014]), "resistant0": np.array([1.0, 3.0, 10.0, 30.0])}
FAMILY = EGFRTwoClone(free=("growth_rate", "resistant0"))


@pytest.fixture(scope="module")
def result():
    return compare(FAMILY, DRAWS, REGIMENS, DAYS, key=jax.random.key(1), scan_every=28, noise_sd=0.1)


def test_dims_units_and_coordinates(result):
    assert result.volume.dims == ("regimen", "draw", "time")
    assert result.time_to_progression.dims == ("regimen", "draw")
    assert result.cumulative_dose.dims == ("regimen", "draw", "drug")
    assert list(result.regimen.values) == [str(r) for r in REGIMENS]
    np.testing.assert_array_equal(result.growth_rate.values, DRAWS["growth_rate"])  # draws kept as coords
    assert result.time.attrs["units"] == "day" and result.time_to_progression.attrs["units"] == "day"


def test_endpoints_are_consistent(result):
    cont = result.sel(regimen=str(CONT))
    assert (cont.cumulative_dose.sel(drug="erlotinib") == 150.0 * DAYS).all()
    assert (cont.days_on_drug == DAYS).all()
    intermittent = result.isel(regimen=1)
    assert (intermittent.days_on_drug == DAYS / 2).all() and (intermittent.days_off_drug == DAYS / 2).all()
    # censored endpoints sit at the censoring time, never at infinity
    ttp = result.time_to_progression.values
    assert np.isfinite(ttp).all() and (ttp <= DAYS).all()
    assert (result.time_to_progression.values[~result.progressed.values] == DAYS).all()


def test_dose_given_per_stored_interval_adds_up_to_the_cumulative_dose(result):
    assert result.dose.dims == ("regimen", "draw", "time", "drug")
    np.testing.assert_allclose(result.dose.sum("time"), result.cumulative_dose)
    weekly = result.dose.sel(regimen=str(CONT), drug="erlotinib").values
    assert (weekly[:, :-1] == 7 * 150.0).all()  # every full week of continuous dosing
    # the adaptive regimen's weekly doses are all-or-nothing per decision period (28 days = 4 weeks)
    at = result.dose.isel(regimen=2, drug=0).values[:, :-1].reshape(len(DRAWS["growth_rate"]), -1, 4)
    assert np.all(at.min(axis=2) == at.max(axis=2))


def test_same_key_same_numbers(result):
    again = compare(FAMILY, DRAWS, REGIMENS, DAYS, key=jax.random.key(1), scan_every=28, noise_sd=0.1)
    np.testing.assert_array_equal(again.volume.values, result.volume.values)


def test_summary_ranks_with_probabilities(result):
    table = summarise(result, dose_penalty_per_g=0.5)
    assert set(table.regimen) == {str(r) for r in REGIMENS}
    p_alone, p_tied = table["P(best on time_to_progression)"], table["P(tied for best on time_to_progression)"]
    assert ((0 <= p_alone) & (p_alone + p_tied <= 1)).all()
    assert table["expected utility"].is_monotonic_decreasing
    rmst = result.time_to_progression.mean("draw").to_series()
    assert table.set_index("regimen")["time_to_progression RMST"].to_dict() == pytest.approx(rmst.to_dict())
    lo, hi = table.loc[0, "time_to_progression 90% CI"]
    assert lo <= table.loc[0, "time_to_progression median"] <= hi
    with pytest.raises(ValueError, match="primary='overall_survival' is not an event-time endpoint"):
        summarise(result, primary="overall_survival")
    with pytest.raises(ValueError, match="dose_penalty_per_g=-1 must be"):
        summarise(result, dose_penalty_per_g=-1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(regimens=[]), "regimens is empty"),
        (dict(regimens=[s.continuous("gefitinib", 250, DAYS)]), r"gives \['gefitinib'\], unknown to the model"),
        (dict(draws={}), "draws must be a non-empty dict"),
        (dict(draws={"growth_rate": np.array([0.01, np.nan])}), r"draws\['growth_rate'\]\[1\]=nan"),
        (dict(draws={"growth_rate": np.ones(2), "resistant0": np.ones(3)}), "same length"),
        (dict(regimens=[s.adaptive_threshold(CONT, decision_every=400)]), "decision_every=400.0 exceeds days=168"),
        (dict(regimens=[CONT, CONT]), "distinct descriptions"),
    ],
)
def test_bad_input_is_named(kwargs, match):
    args = dict(family=FAMILY, draws=DRAWS, regimens=REGIMENS, days=DAYS, key=jax.random.key(0))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        compare(**args)


@dataclass(frozen=True)
class CountingFamily(EGFRTwoClone):
    calls: list = field(default_factory=list, compare=False, hash=False)

    def build(self, params):
        self.calls.append(1)
        return super().build(params)


def test_second_call_with_new_draw_values_does_not_recompile():
    family = CountingFamily(free=FAMILY.free)
    regimens = [CONT]
    compare(family, DRAWS, regimens, DAYS, key=jax.random.key(0), scan_every=28)
    first = len(family.calls)  # one eager call (to check regimens against the model) + one trace
    new_values = {k: v * 1.05 for k, v in DRAWS.items()}
    compare(family, new_values, regimens, DAYS, key=jax.random.key(3), scan_every=28)
    assert first == 2 and len(family.calls) == first + 1  # only the eager call: no retrace


def test_an_explicit_initial_state_replaces_the_familys():
    """The same clone volumes given as initial_state (e.g. a twin's decision-day state) give the
    same simulation; a wrong shape or a negative volume is named."""
    regimens = [CONT]
    initial = np.stack([np.full(4, 3e4), DRAWS["resistant0"]], axis=1)  # what FAMILY.initial_state gives
    fixed = EGFRTwoClone(free=("growth_rate",), resistant0=1e6)  # its own initial state is far off
    given = compare(fixed, DRAWS, regimens, DAYS, key=jax.random.key(1), scan_every=28, initial_state=initial)
    own = compare(FAMILY, DRAWS, regimens, DAYS, key=jax.random.key(1), scan_every=28)
    np.testing.assert_allclose(given.volume.values, own.volume.values, rtol=1e-12)
    with pytest.raises(ValueError, match=r"initial_state has shape \(4,\); it must be \(4, 2\)"):
        compare(FAMILY, DRAWS, regimens, DAYS, key=jax.random.key(1), initial_state=np.ones(4))
    with pytest.raises(ValueError, match=r"initial_state\[2, 1\]=-1.0 must be finite and >= 0"):
        negative = np.where(initial == 10.0, -1.0, initial)
        compare(FAMILY, DRAWS, regimens, DAYS, key=jax.random.key(1), initial_state=negative)
    with pytest.raises(ValueError, match=r"draws lack \['resistant0'\]"):
        compare(FAMILY, {"growth_rate": DRAWS["growth_rate"]}, regimens, DAYS, key=jax.random.key(1))


def test_a_criterion_of_ones_own_replaces_the_default_endpoints():
    """``criteria=``: the endpoints of a user's criterion (here: the largest diameter over the
    course, on the daily grid) instead of the family's defaults; one that reads an observable the
    family lacks is refused by name."""
    largest = s.Criterion(
        "largest diameter", "diameter", lambda course: {"largest_diameter": course.observed["diameter"].max()},
        lambda burden: {"largest_diameter": {"units": "mm"}},
    )  # fmt: skip
    own = compare(FAMILY, DRAWS, [CONT], DAYS, key=jax.random.key(1), scan_every=28, criteria=[largest])
    assert "largest_diameter" in own and "time_to_progression" not in own and "progressed" not in own
    assert own.largest_diameter.attrs["units"] == "mm"
    weekly = 2.0 * (3.0 * own.volume.values / (4.0 * np.pi)) ** (1 / 3)  # diameters at the stored days
    assert (own.largest_diameter.values >= weekly.max(axis=-1) - 1e-9).all()
    assert (own.largest_diameter.values <= 1.2 * weekly.max(axis=-1)).all()
    psa = s.Criterion("PSA", "psa", lambda course: {}, lambda burden: {})
    with pytest.raises(ValueError, match=r"criterion 'PSA' reads 'psa', which the family does not observe"):
        compare(FAMILY, DRAWS, [CONT], DAYS, key=jax.random.key(1), scan_every=28, criteria=[psa])
