"""DigitalTwin: calibration recovers the example's truth, save -> load loses nothing, update checks the
new scan against the predictive interval and narrows the prediction, bad input is named."""

from dataclasses import replace

import numpy as np
import pytest
import scipy.special

import scenarios as sc
from twin import DigitalTwin, example_patient
from twin.diseases.egfr_nsclc.examples.generate_example import TRUTH
from twin.record import Observation, PatientRecord

DAYS = 112  # two 8-weekly scans: small what-ifs for the tests
REGIMENS = [sc.continuous("erlotinib", 150.0, DAYS), sc.continuous("osimertinib", 80.0, DAYS)]


@pytest.fixture(scope="module")
def twin():
    """The Laplace twin with the default chains x samples (4 x 1000), as ``twin demo`` (test_cli) makes it:
    the same programs, so one of the two loads them from the session's compilation cache (and the
    update below from the CLI's ``twin update``) instead of compiling them again."""
    return DigitalTwin.from_record(example_patient()).calibrate(method="laplace", seed=0)


@pytest.fixture(scope="module")
def step(twin):
    return twin.update(example_patient("next_scan"))


def test_calibration_covers_the_truth(twin):
    """One data set and one seed: the truth need not lie inside each 90% interval (four such events
    hold together only ~2/3 of the time), so each true value is asked to lie within 3.5 posterior SDs
    on the unconstrained scale (log, logit for the fraction; ~1 in 2000 per parameter for a calibrated
    posterior). Coverage at the nominal level over replicate patients: benchmarks/nuts_replicates.py."""
    summary = twin.summary().set_index("parameter")
    assert set(summary.index) == {"volume0", "resistant_fraction0", "growth_rate", "max_kill", "sd_add", "capacity"}
    for name in ("volume0", "growth_rate", "max_kill", "resistant_fraction0"):
        unconstrained = scipy.special.logit if name == "resistant_fraction0" else np.log
        draws = unconstrained(np.asarray(twin.posterior[name]).ravel())
        z = (unconstrained(TRUTH[name]) - draws.mean()) / draws.std()
        assert abs(z) < 3.5, f"{name}: truth {TRUTH[name]} is {z:.1f} posterior SDs from the posterior mean"
    assert summary.loc["growth_rate", "units"] == "1/day" and twin.diagnostics == ()


def test_repr_reads_like_a_summary(twin):
    text = repr(twin)
    assert "DigitalTwin of patient 'EX-001'" in text and "EGFR T790M 0.1%" in text
    assert "Laplace approximation at the MAP, 4000 draws (seed 0)" in text
    assert "growth_rate = " in text and "1/day (90% CI" in text and "decision day: 154" in text
    assert "not modelled: TP53 R273H" in text


def test_compare_ranks_osimertinib_first_with_t790m_rising(twin):
    result = twin.compare(REGIMENS, days=DAYS, n_draws=20)
    assert result.dataset.attrs["start_day"] == 154.0
    assert result.table.regimen[0] == "osimertinib 80 mg daily"
    assert result.dataset.sizes == {"regimen": 2, "draw": 20, "time": DAYS // 7 + 1, "drug": 2}


def test_save_load_loses_nothing_and_compares_identically(twin, tmp_path):
    path = twin.save(tmp_path / "ex.twin.nc")
    back = DigitalTwin.load(path)
    assert back.record == twin.record and back.model == twin.model and back.settings == twin.settings
    assert back.versions == twin.versions and back.diagnostics == twin.diagnostics
    for name in twin.free_parameters:
        np.testing.assert_array_equal(back.posterior[name].values, twin.posterior[name].values)
        assert back.posterior[name].attrs["units"] == twin.posterior[name].attrs["units"]
    a = twin.compare(REGIMENS, days=DAYS, n_draws=20).dataset
    b = back.compare(REGIMENS, days=DAYS, n_draws=20).dataset
    for name in ("volume", "time_to_2x_baseline", "resistant_fraction"):
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_update_checks_the_scan_refits_and_narrows_the_prediction(twin, step):
    assert list(step.checks.observable) == ["diameter", "resistant_fraction"]
    row = step.checks.iloc[0]
    assert row.time == 210.0 and row.value == 23.4 and row["lo"] < row["median"] < row["hi"]
    assert step.surprised == bool(step.checks.outside.any())
    new = step.twin
    assert new.now == 210.0 and len(new.log) == 1 and new.log[0]["new_day"] == 210.0
    assert max(d.time for d in new.record.doses) == 209.0  # the doses given since the decision day
    # the same future day, the same doses: the predictive interval narrows with the new scan
    before = replace(twin, record=new.record).predictive_interval([266.0]).set_index("observable")
    after = new.predictive_interval([266.0]).set_index("observable")
    width = lambda pi: pi.loc["diameter", "hi"] - pi.loc["diameter", "lo"]  # noqa: E731
    assert width(after) < width(before)


def test_a_scan_far_from_the_prediction_is_flagged(twin):
    odd = PatientRecord("EX-001", [Observation(210.0, "diameter", 60.0, "mm")])
    checks = twin.check(odd)
    assert checks.outside.tolist() == [True] and checks.hi[0] < 60.0


def with_scans(record: PatientRecord, *scans: tuple[float, float]) -> PatientRecord:
    """``record`` with extra diameter scans ``(day, mm)`` (erlotinib continued daily up to the last)."""
    last = max(d.time for d in record.doses)
    doses = [replace(record.doses[-1], time=float(t)) for t in range(int(last) + 1, int(max(t for t, _ in scans)))]
    new = PatientRecord(record.patient_id, [Observation(t, "diameter", v, "mm") for t, v in scans], doses)
    return record.merge(new)


def test_model_check_of_the_record(twin):
    assert twin.model_check == () and "model check (the record against the posterior predictive): passed" in repr(twin)
    check = twin.record_check()
    fitted = [o for o in twin.record.observations if o.observable in twin.observables]
    assert len(check) == len(fitted) and check.p_value.between(0, 1).all()
    assert check.censored.sum() == sum(o.status == "below_detection" for o in fitted)
    # the same posterior against a record with a 95 mm scan it never saw: that scan is not explained
    odd = replace(twin, record=with_scans(twin.record, (210.0, 95.0)))
    problems = odd._model_problems()
    assert problems[0].startswith("day 210 diameter 95 mm: predictive p-value 0.000")
    assert problems[-1] == "the model does not explain this patient: treat its forecasts with caution"
    # the capacity is free: the warning reads its 5th posterior percentile (the prior's, ~3.1e5 mm^3, 84 mm)
    assert any("diameter of the 5th posterior percentile of the model's carrying capacity" in p for p in problems)


@pytest.mark.slow  # ~40 s: a Laplace refit of a record the model cannot explain
def test_a_refit_that_absorbs_a_misfit_as_noise_is_not_passed(twin):
    odd = replace(twin, record=with_scans(twin.record, (210.0, 95.0)), posterior=None)
    with pytest.warns(UserWarning, match="does not explain"):
        refit = odd.calibrate()
    assert refit.model_check and "model check (the record against the posterior predictive): FAILED" in repr(refit)


def test_recist_of_the_record_and_what_ifs_from_the_observed_burden(twin):
    assert not twin.record_response().progressed_now
    assert "no RECIST progression in the record" in repr(twin)
    progressed = replace(twin, record=with_scans(twin.record, (210.0, 40.0)))
    response = progressed.record_response()
    nadir = min(o.value for o in twin.record.observations if o.observable == "diameter" and o.status == "measured")
    assert progressed.record_response().progressed_on == 210.0 and response.progressed_now
    assert response.scans.category.tolist()[-1] == "PD" and f"over the nadir {nadir:.3g} mm" in response.text
    result = progressed.compare(REGIMENS, days=DAYS, n_draws=20)
    np.testing.assert_allclose(result.dataset.sum_of_diameters.isel(time=0).values, 40.0, rtol=1e-9)
    assert "observed burden of the last assessment" in result.dataset.attrs["start_state"]


def test_updated_twin_round_trips_with_its_log(step, tmp_path):
    back = DigitalTwin.load(step.twin.save(tmp_path / "u.nc"))
    assert back.log == step.twin.log and back.record == step.twin.record


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda t: t.calibrate(method="mcmc"), ValueError, r"method='mcmc' is not one of \('nuts', 'laplace'\)"),
        (lambda t: t.calibrate(chains=0), ValueError, "chains=0 must be a whole number >= 1"),
        (lambda t: t.calibrate(init="map"), ValueError, r"init='map' is not one of \('laplace', 'prior'\)"),
        (lambda t: t.compare(days=100), ValueError, "days=100 must be a positive multiple of 56"),
        (lambda t: t.draws(10_000), ValueError, r"n=10000 draws: must be a whole number in \[1, 4000\]"),
        (lambda t: t.predictive_interval([-20.0]), ValueError, "must be non-empty and >= the first observation day"),
        (lambda t: t.update(PatientRecord("P-2", [Observation(300.0, "diameter", 20.0, "mm")])), ValueError,
         "the new record is not patient 'EX-001'"),
    ],
)  # fmt: skip
def test_bad_requests_are_named(twin, call, error, match):
    with pytest.raises(error, match=match):
        call(twin)


def test_uncalibrated_twin_says_what_to_do(tmp_path):
    twin = DigitalTwin.from_record(example_patient())
    assert "not calibrated: call .calibrate()" in repr(twin)
    with pytest.raises(ValueError, match=r"not calibrated: call \.calibrate\(\) first"):
        twin.compare()
    assert DigitalTwin.load(twin.save(tmp_path / "bare.nc")).record == twin.record
    record = example_patient()
    doses = [*record.doses[:1], replace(record.doses[1], drug="gefitinib")]  # any drug with PK joins the model
    given = DigitalTwin.from_record(PatientRecord("X", record.observations, doses, mutations=record.mutations))
    assert given.model.drugs == ("erlotinib", "osimertinib", "gefitinib")
    doses = [*record.doses[:1], replace(record.doses[1], drug="cisplatin")]
    with pytest.raises(ValueError, match=r"patient 'X' was given \['cisplatin'\]; the twin models"):
        DigitalTwin.from_record(PatientRecord("X", record.observations, doses, mutations=record.mutations))


def test_load_rejects_other_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no twin file at"):
        DigitalTwin.load(tmp_path / "missing.nc")
    (tmp_path / "x.nc").write_text("not netcdf")
    with pytest.raises(ValueError, match="is not a twin file"):
        DigitalTwin.load(tmp_path / "x.nc")


@pytest.fixture(scope="module")
def nuts_twin():
    """A short NUTS run (its diagnostics fail at this size: kept, not raised)."""
    with pytest.warns(UserWarning, match="sampler diagnostics failed"):
        return DigitalTwin.from_record(example_patient()).calibrate(method="nuts", chains=2, warmup=60, samples=60)


@pytest.mark.slow  # ~70 s: two short NUTS runs of the example patient
def test_nuts_twin_keeps_its_sampler_state_through_save_load_and_update(nuts_twin, tmp_path):
    assert nuts_twin.posterior.sizes == {"chain": 2, "draw": 60} and nuts_twin.diagnostics
    assert "DIAGNOSTICS FAILED" in repr(nuts_twin)
    back = DigitalTwin.load(nuts_twin.save(tmp_path / "nuts.nc"))
    assert back.warm.samples == 60 and back.warm.inverse_mass_matrix.keys() == nuts_twin.warm.inverse_mass_matrix.keys()
    for site, z in nuts_twin.warm.z.items():
        np.testing.assert_array_equal(back.warm.z[site], z)
    np.testing.assert_array_equal(back.posterior["diverging"].values, nuts_twin.posterior["diverging"].values)
    with pytest.warns(UserWarning, match="sampler diagnostics failed"):
        step = back.update(example_patient("next_scan"), warmup=30)
    assert step.twin.posterior.sizes == {"chain": 2, "draw": 60} and step.twin.now == 210.0
    assert step.twin.warm is not None and step.twin.settings.method == "nuts"
