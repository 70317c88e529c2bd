"""The FLAURA virtual population: published numbers and their SEs, the trial design, the virtual
patient, the bypass clone that lets osimertinib fail, and (slow) the stored population re-running
FLAURA inside its published CIs."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from twin.diseases.egfr_nsclc.model import BYPASS, FIXED, FLAURA_POPULATION, TwinModel
from twin.record import VariantCall as V
from twin.studies import flaura2018 as f


def test_published_numbers_and_their_standard_errors():
    hr = f.PUBLISHED["hazard_ratio"]
    assert (hr.value, hr.lo, hr.hi) == (0.46, 0.37, 0.57)
    assert hr.se == pytest.approx((math.log(0.57) - math.log(0.37)) / 3.92)
    assert hr.z(0.46) == 0.0 and hr.z(0.57) == pytest.approx(math.log(0.57 / 0.46) / hr.se)
    orr = f.PUBLISHED["orr_osimertinib"]
    assert not orr.log_scale and orr.se == pytest.approx(math.sqrt(0.8 * 0.2 / 279))
    exact = {k: np.array([v.value]) for k, v in f.PUBLISHED.items()}
    assert f.discrepancy(exact) == pytest.approx(0.0, abs=1e-12)
    off = {**exact, "median_pfs_osimertinib": np.array([21.4])}  # at the upper CI limit: ~ (1.96 * 0.58)^2
    assert 0.5 < f.discrepancy(off) < 4.0


def test_design_follows_the_protocol():
    d = f.design((5, 7))
    t = d.scan_times()
    assert (
        t[:3].tolist() == [0.0, 42.0, 84.0]
        and 546.0 in t
        and set(np.diff(t[t >= 546])) == {84.0}
        and t[-1] <= f.FOLLOW_UP_DAYS
    )
    assert d.n_per_arm == (5, 7) and [a.name for a in d.arms] == ["comparator", "osimertinib"]


def test_population_rejects_bad_values():
    with pytest.raises(ValueError, match="bypass_fraction0 typical 1.5 must be in"):
        f.FlauraPopulation({**f.FITTED.typical, "bypass_fraction0": 1.5})
    with pytest.raises(ValueError, match="'mutation_z' needs a typical value"):
        f.FlauraPopulation({k: v for k, v in f.FITTED.typical.items() if k != "mutation_z"})


def test_virtual_patient_draws_its_mutation():
    patient = f.VirtualPatient.default()
    p = {k: jnp.asarray(v) for k, v in f.FITTED.typical.items()}
    assert [q.name for q in patient.parameters] == list(f.PARAMETERS)
    model_del, y0 = patient.build(ex19del := {**p, "mutation_z": jnp.asarray(-3.0)}), patient.initial_state(ex19del)
    model_l858r = patient.build({**p, "mutation_z": jnp.asarray(3.0)})
    ec50_del, ec50_l858r = np.asarray(model_del.tumour.kill.ec50), np.asarray(model_l858r.tumour.kill.ec50)
    assert ec50_del[0, 0] == pytest.approx(0.5 * ec50_l858r[0, 0])  # erlotinib: 10 vs 20 nM (drug table)
    assert float(y0[-1]) == pytest.approx(f.FITTED.typical["volume0"] * f.FITTED.typical["bypass_fraction0"])


def test_the_twin_prior_is_the_stored_population():
    for name, (typical, omega) in FLAURA_POPULATION.items():
        assert (typical, omega) == pytest.approx((f.FITTED.typical[name], f.FITTED.omega[name]), rel=1e-4)
    assert FIXED["bypass_fraction0"][0] == pytest.approx(f.FITTED.typical["bypass_fraction0"], rel=0.01)


def test_every_twin_has_a_bypass_clone_no_tki_reaches():
    model = TwinModel.from_mutations([V("EGFR", "L858R", 0.4), V("EGFR", "C797S", 0.02)])
    assert model.clones == ("sensitive", "T790M", "C797S", BYPASS) and model.resistant[-1]
    np.testing.assert_array_equal(np.asarray(model.efficacy)[-1], 0.0)
    assert not model.spec()["bypass_fraction0"].free  # fixed: not among the twin's NUTS parameters
    assert TwinModel.from_json(model.to_json()) == model


def test_osimertinib_fails_at_a_plausible_time_for_a_typical_patient():
    """With the bypass clone, a typical FLAURA patient progresses on osimertinib (volume back above
    its baseline) within 1-4 years; without it (share ~0), not within 4 years."""
    model = TwinModel.from_mutations([V("EGFR", "ex19del", 0.4)])
    days = 4 * 365
    doses = m.daily(0, days, "osimertinib", 80.0)
    times = jnp.arange(0.0, days + 1, 7.0)

    def regrowth_day(bypass):
        p = {k: jnp.asarray(v) for k, v in {**model.fixed, **f.FITTED.typical, "bypass_fraction0": bypass}.items()}
        v = m.total_volume(m.solve(model.build(p), model.initial_state(p), doses, times).clones)
        above = np.flatnonzero((np.asarray(v) > float(v[0])) & (np.asarray(times) > 0))
        return float(times[above[0]]) if above.size else math.inf

    assert 365 < regrowth_day(f.FITTED.typical["bypass_fraction0"]) < 4 * 365
    assert math.isinf(regrowth_day(1e-30))


@pytest.mark.slow  # ~1 min on 2 cores: 10 virtual FLAURA trials of the published size
def test_stored_population_reproduces_flaura():
    """Bands over 10 trials of 277 + 279 patients (seed 0). The typical trial's medians and HR lie
    inside the published 95% CIs (the fitted targets) with a margin: the median over trials is
    compared, whose seed-to-seed spread (over seeds 0-3, 10 trials each) is reported in
    benchmarks/flaura_calibration.py."""
    s = f.trial_summary(f.simulate(f.FITTED, n_trials=10, seed=0))
    for name in ("median_pfs_comparator", "median_pfs_osimertinib", "hazard_ratio"):
        est = f.PUBLISHED[name]
        mid = float(np.median(s[name]))
        assert est.lo < mid < est.hi, f"{name}: median over trials {mid:.3g} outside the published CI {est.lo, est.hi}"
    for arm in ("comparator", "osimertinib"):
        orr = float(np.median(s[f"orr_{arm}"]))
        est = f.PUBLISHED[f"orr_{arm}"]
        assert est.lo - 0.02 < orr < est.hi + 0.02, f"ORR {arm}: {orr:.2f} vs published {est.value}"
