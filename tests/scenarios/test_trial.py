"""Virtual trials (scenarios/virtual_population.py, trial_design.py, trial.py, trial_result.py):
virtual patients from a population posterior, the design's checks, endpoints from noisy scans,
determinism, sharding, power."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

import scenarios as sc
from scenarios.endpoints import CR, NE, PD, PR, SD, confirmed_responses

ROOT = Path(__file__).resolve().parents[2]
D, N = 6, 64


STEIN = {"baseline": "positive", "shrinkage_rate": "positive", "growth_rate": "positive"}


def stein_population(ks=0.02, kg=0.004, omega=0.4, n_draws=D, spread=0.1, seed=0) -> sc.VirtualPopulation:
    """A Stein population: typical values scattered by ``spread`` (log-scale) over draws."""
    rng = np.random.default_rng(seed)
    typical = {"baseline": 40.0, "shrinkage_rate": ks, "growth_rate": kg}
    samples = {k: v * np.exp(spread * rng.standard_normal(n_draws)) for k, v in typical.items()}
    samples |= {f"omega_{k}": np.full(n_draws, omega) for k in typical}
    return sc.VirtualPopulation.from_posterior(samples, STEIN)


def design(arms, n=N, **kw) -> sc.TrialDesign:
    settings = dict(scans=sc.ScanSchedule((42.0, 63.0), (252.0,)), follow_up_days=720.0, enrolment_days=180.0,
                    noise=sc.ScanNoise(additive_mm=1.0, proportional=0.05))  # fmt: skip
    return sc.TrialDesign(arms, n, **{**settings, **kw})


@pytest.fixture(scope="module")
def two_arm():
    """Control (slow shrinkage, fast regrowth) vs experimental (the reverse)."""
    control = sc.stein_arm("control", stein_population(ks=0.005, kg=0.006, seed=1))
    experimental = sc.stein_arm("experimental", stein_population(ks=0.03, kg=0.002, seed=2))
    survival = sc.LogNormalSurvival(intercept=5.0, week8_change=-2.0, log_baseline=-0.3, sigma=0.8)
    d = design((control, experimental), survival=survival, dropout_per_year=0.1)
    return d, sc.run_trial(d, jax.random.key(3))


# --- virtual population ------------------------------------------------------------------------


def test_virtual_patients_follow_the_population_and_are_reproducible():
    pop = stein_population(omega=0.3, spread=0.0)
    a = pop.sample(jax.random.key(0), 4000)
    b = pop.sample(jax.random.key(0), 4000)
    assert a["baseline"].shape == (D, 4000)
    np.testing.assert_array_equal(np.asarray(a["growth_rate"]), np.asarray(b["growth_rate"]))
    log_b = np.log(np.asarray(a["baseline"]))
    np.testing.assert_allclose(np.median(log_b, axis=1), np.log(40.0), atol=0.03)  # SE 0.3/sqrt(4000)*1.25
    np.testing.assert_allclose(log_b.std(axis=1), 0.3, rtol=0.05)


def test_covariate_effects_shift_the_typical_value():
    """Covariate effects act on the transformed scale about the cohort's centre; without given
    covariates, virtual patients resample the cohort's (``inference.population_description``
    gives these keyword arguments for a fitted population model)."""
    samples = {"baseline": np.full(3, 40.0), "omega_baseline": np.full(3, 1e-6), "beta_baseline_ecog": np.full(3, 0.5)}
    description = {"constraints": {"baseline": "positive"}, "fixed": {}, "centres": {"ecog": 1.0},
                   "covariate_pool": {"ecog": np.array([0.0, 2.0])}}  # fmt: skip
    pop = sc.VirtualPopulation.from_posterior(samples, **description)
    out = pop.sample(jax.random.key(0), 2, covariates={"ecog": np.array([1.0, 3.0])})
    np.testing.assert_allclose(np.asarray(out["baseline"])[0], [40.0, 40.0 * np.exp(1.0)], rtol=1e-4)
    resampled = pop.sample(jax.random.key(1), 50)["baseline"]  # covariates drawn from the cohort's 0 / 2
    assert set(np.round(np.log(np.asarray(resampled)[0] / 40.0), 3)) <= {-0.5, 0.5}


def test_population_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"omega_baseline.*draw 1"):
        sc.VirtualPopulation.from_posterior(
            {"baseline": np.ones(3), "omega_baseline": np.array([0.1, np.nan, 0.1])}, {"baseline": "positive"}
        )
    with pytest.raises(ValueError, match="constraint 'log'"):
        sc.VirtualPopulation({"b": np.ones(2)}, {"b": np.ones(2)}, {"b": "log"})
    with pytest.raises(ValueError, match="n_patients=0"):
        stein_population().sample(jax.random.key(0), 0)


# --- design ------------------------------------------------------------------------------------


def test_oak_scan_schedule():
    times = sc.ScanSchedule((42.0, 63.0), (252.0,)).times(400.0)
    np.testing.assert_array_equal(times, [0, 42, 84, 126, 168, 210, 252, 315, 378])
    with pytest.raises(ValueError, match="beyond the horizon"):
        sc.ScanSchedule((42.0,)).times(30.0)
    with pytest.raises(ValueError, match="switch days"):
        sc.ScanSchedule((42.0, 63.0))


def test_design_errors_name_the_field():
    arm = sc.stein_arm("a", stein_population())
    with pytest.raises(ValueError, match=r"arm 'a' has n_per_arm=0"):
        design((arm,), n=0)
    with pytest.raises(ValueError, match="primary='dfs'"):
        design((arm,), primary="dfs")
    with pytest.raises(ValueError, match="survival"):
        design((arm,), primary="os")
    with pytest.raises(ValueError, match="beyond the horizon"):
        design((arm,), scans=sc.ScanSchedule((800.0,)))
    with pytest.raises(ValueError, match="distinct"):
        design((arm, arm))


def test_arm_with_unknown_regimen_drug_is_refused():
    from mechanistic.catalogue import EGFRTwoClone

    regimen = sc.continuous("nivolumab", 240.0, 56)
    with pytest.raises(ValueError, match=r"\['nivolumab'\], unknown to the model"):
        sc.regimen_arm("nivo", EGFRTwoClone(free=()), regimen, days=56, check_params={})
    with pytest.raises(TypeError, match="family must be a mechanistic.ModelFamily; got function"):
        sc.regimen_arm("nivo", lambda p: None, regimen, days=56)
    arm = sc.regimen_arm("osi", EGFRTwoClone(), sc.continuous("erlotinib", 150.0, 56), days=56)
    assert arm.regimen.description == "erlotinib 150 mg daily" and isinstance(arm.family, EGFRTwoClone)
    assert arm.parameters == tuple(p.name for p in EGFRTwoClone().parameters)


def test_population_without_the_arms_parameters_is_refused():
    pop = sc.VirtualPopulation.from_posterior(
        {"baseline": np.ones(2), "omega_baseline": np.ones(2)}, {"baseline": "positive"}
    )
    with pytest.raises(ValueError, match=r"needs parameters \['shrinkage_rate', 'growth_rate'\]"):
        sc.run_trial(design((sc.stein_arm("a"),), n=4), jax.random.key(0), pop)


def test_confirmation_demotes_single_responses():
    cats = np.array([NE, PR, SD, PR, CR, PD])
    np.testing.assert_array_equal(np.asarray(confirmed_responses(cats)), [NE, SD, SD, PR, SD, PD])


# --- running ------------------------------------------------------------------------------------


def test_trial_shapes_determinism_and_consistency(two_arm):
    d, res = two_arm
    ds = res.data
    assert ds.pfs_days.dims == ("draw", "arm", "patient") and ds.pfs_days.shape == (D, 2, N)
    again = sc.run_trial(d, jax.random.key(3))
    for name in ("pfs_days", "os_days", "best_response", "week8_change"):
        np.testing.assert_array_equal(ds[name].values, again.data[name].values)
    assert np.all(ds.pfs_days.values <= ds.os_days.values + 1e-9)  # progression or death comes first
    ev = ds.pfs_event.values  # treated until progression or death; a censored PFS stops at the last scan
    assert np.all(ds.time_on_treatment_days.values[ev] <= ds.pfs_days.values[ev] + 1e-9)
    assert np.all(ds.time_on_treatment_days.values[~ev] >= ds.pfs_days.values[~ev])
    follow = d.follow_up_days - ds.enrolment_day.values
    assert np.all(ds.os_days.values <= follow + 1e-9)  # administrative censoring
    assert np.all((ds.enrolment_day.values >= 0) & (ds.enrolment_day.values <= 180.0))
    # the experimental arm shrinks more: more responses, later progression
    orr = res.response_rates().mean("draw")
    assert orr.sel(arm="experimental") > orr.sel(arm="control") + 0.2
    med = res.medians("pfs").median("draw")
    assert med.sel(arm="experimental") > med.sel(arm="control")


def test_endpoints_of_identical_noise_free_patients_match_hand_computation():
    """omega = 0, no noise, no dropout, no staggering: every patient is the typical Stein patient;
    PD is the first scan at >= 1.2 x nadir and >= +5 mm (RECIST 1.1), read off the closed form."""
    spec_pop = stein_population(ks=0.02, kg=0.004, omega=1e-9, spread=0.0, n_draws=1)
    arm = sc.stein_arm("a", spec_pop)
    d = sc.TrialDesign((arm,), 8, sc.ScanSchedule((42.0,)), follow_up_days=600.0)
    res = sc.run_trial(d, jax.random.key(0))
    scans = np.arange(0.0, 601.0, 42.0)
    sld = 40.0 * (np.exp(-0.02 * scans) + np.exp(0.004 * scans) - 1)
    nadir = np.minimum.accumulate(sld)
    prior_nadir = np.r_[sld[0], nadir[:-1]]
    pd_scan = scans[np.flatnonzero((sld >= 1.2 * prior_nadir) & (sld - prior_nadir >= 5.0))[0]]
    np.testing.assert_allclose(res.data.pfs_days.values, pd_scan)
    assert res.data.pfs_event.values.all()
    confirmed_pr = np.any((sld[1:-1] <= 0.7 * sld[0]) & (sld[2:] <= 0.7 * sld[0]) & (scans[2:] < pd_scan))
    assert (res.data.best_response.values == PR).all() == confirmed_pr
    change8 = (40.0 * (np.exp(-0.02 * 56) + np.exp(0.004 * 56) - 1) - 40.0) / 40.0
    np.testing.assert_allclose(res.data.week8_change.values, change8, rtol=1e-6)


def test_power_grows_with_size_and_null_trials_rarely_succeed(two_arm):
    _, res = two_arm
    curve = res.power_curve([8, 32, 64])
    assert list(curve.n_per_arm) == [8, 32, 64]
    assert curve.probability.iloc[-1] >= curve.probability.iloc[0]
    assert curve.probability.iloc[-1] == 1.0  # a large effect at 64 per arm
    pop = stein_population(seed=5)
    null = sc.run_trial(design((sc.stein_arm("a", pop), sc.stein_arm("b", pop)), n=N), jax.random.key(9))
    assert null.power_curve([N]).probability.iloc[0] <= 0.5  # 6 draws at alpha 0.05: P(>= 3 successes) ~ 2e-3
    with pytest.raises(ValueError, match="1..64 were simulated"):
        res.power_curve([65])


def test_summary_table(two_arm):
    _, res = two_arm
    table = res.summary()
    assert list(table.arm) == ["control", "experimental"]
    assert {"ORR %", "median PFS (months)", "median OS (months)", "P(success on PFS)"} <= set(table.columns)
    km = res.kaplan_meier("os")
    assert set(km.dims) >= {"arm", "draw", "time"}


def test_survival_link_fit_recovers_coefficients():
    rng = np.random.default_rng(0)
    n = 4000
    change8 = rng.uniform(-0.6, 0.4, n)
    base = rng.lognormal(np.log(50.0), 0.4, n)
    truth = sc.LogNormalSurvival(intercept=7.0, week8_change=-1.5, log_baseline=-0.4, sigma=0.7)
    t = np.exp(np.asarray(truth.log_time(change8, base)) + truth.sigma * rng.standard_normal(n))
    censor = rng.uniform(200, 3000, n)
    fit = sc.LogNormalSurvival.fit(np.minimum(t, censor), (t <= censor).astype(int), change8, base)
    assert abs(fit.week8_change - truth.week8_change) < 0.15
    assert abs(fit.log_baseline - truth.log_baseline) < 0.1
    assert abs(fit.sigma - truth.sigma) < 0.05


SHARD_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    sys.path.insert(0, {root!r})
    from tests.scenarios.test_trial import design, stein_population
    import scenarios as sc
    assert len(jax.devices()) == 4, jax.devices()
    arm = sc.stein_arm("a", stein_population())
    surv = sc.LogNormalSurvival(intercept=6.0, week8_change=-1.0, sigma=0.5)
    d = design((arm,), n=50, survival=surv, dropout_per_year=0.2)
    a = sc.run_trial(d, jax.random.key(1), chunk_size=64).data
    b = sc.run_trial(d, jax.random.key(1), devices=jax.devices()[:1], chunk_size=64).data
    print(json.dumps({{k: bool(np.array_equal(a[k].values, b[k].values, equal_nan=True)) for k in a.data_vars}}))
    """
)


def test_sharded_and_unsharded_runs_are_identical():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SHARD_SCRIPT.format(root=str(ROOT))], env=env, capture_output=True,
                          text=True, cwd=ROOT, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    same = json.loads(proc.stdout.strip().splitlines()[-1])
    assert same and all(same.values()), same


def test_early_dropout_leaves_patients_unassessed_per_arm():
    pop = stein_population()
    arms = (sc.stein_arm("a", pop), sc.stein_arm("b", pop))
    res = sc.run_trial(design(arms, n=400, early_dropout=(0.0, 0.3)), jax.random.key(4)).data
    unassessed = (res.scans_assessed.values == 1).mean(axis=(0, 2))  # baseline only
    assert unassessed[0] < 0.02  # only administrative censoring of late enrollees
    assert abs(unassessed[1] - 0.3) < 0.03  # SE 0.3*0.7/sqrt(2400) ~ 0.01
    never = res.scans_assessed.values[:, 1] == 1
    assert (res.best_response.values[:, 1][never] == NE).all() and (res.pfs_days.values[:, 1][never] == 0).all()
    with pytest.raises(ValueError, match="early_dropout of arm 'b' is 1.0"):
        design(arms, early_dropout=(0.0, 1.0))
    with pytest.raises(ValueError, match="dropout_per_year has 3 entries for 2 arms"):
        design(arms, dropout_per_year=(0.1, 0.1, 0.1))
