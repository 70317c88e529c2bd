"""Regimen library (data, one-line descriptions, bad input) and adaptive policies."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
import scenarios as s
from mechanistic.catalogue import egfr_two_clone

D = 112


def test_descriptions_read_like_a_prescription():
    cont = s.continuous("erlotinib", 150, D)
    osi = s.continuous("osimertinib", 80, D)
    assert str(cont) == "erlotinib 150 mg daily"
    assert str(s.pulsed("erlotinib", 1200, 2, 50, 7, D)) == "erlotinib 1200 mg d1-2 + 50 mg d3-7 weekly"
    assert str(s.intermittent("erlotinib", 150, 21, 7, D)) == "erlotinib 150 mg daily, 21 days on / 7 days off"
    assert (
        str(s.dose_reduction("erlotinib", 150, 100, 28, D)) == "erlotinib 150 mg daily, reduced to 100 mg from day 28"
    )
    assert str(s.combination(cont, osi)) == "erlotinib 150 mg daily + osimertinib 80 mg daily"
    assert str(s.with_break(cont, 28, 42)) == "erlotinib 150 mg daily, break days 28-41"
    assert str(s.switch_on_progression(cont, osi, 56)).startswith(
        "erlotinib 150 mg daily, then osimertinib 80 mg daily at first progression"
    )
    assert str(s.adaptive_threshold(cont)) == (
        "erlotinib 150 mg daily, adaptive AT50 against the burden at the regimen's start (its first decision) "
        "(hold below 50% of it, resume at 100%; decisions every 56 days)"
    )
    assert "adaptive AT50 against the pre-treatment burden (hold below 50% of it" in str(
        s.adaptive_threshold(cont, baseline="pretreatment")
    )


def test_regimen_doses():
    pulsed = s.pulsed("erlotinib", 1200, 2, 50, 7, 14)
    np.testing.assert_array_equal(np.asarray(pulsed.doses.amount), [1200, 1200] + [50] * 5 + [1200, 1200] + [50] * 5)
    brk = s.with_break(s.continuous("erlotinib", 150, 10), 3, 5)
    np.testing.assert_array_equal(np.asarray(brk.doses.amount), [150] * 3 + [0, 0] + [150] * 5)
    on_off = s.intermittent("x", 100, 2, 1, 7)
    np.testing.assert_array_equal(np.asarray(on_off.doses.amount), [100, 100, 0, 100, 100, 0, 100])


def test_fixed_regimens_batch_and_differentiate():
    model = egfr_two_clone()
    a, b = s.continuous("erlotinib", 150, D), s.pulsed("erlotinib", 1200, 2, 50, 7, D)
    stacked = jax.tree.map(lambda *x: jnp.stack(x), a.doses, b.doses)
    final = jax.vmap(lambda d: m.solve(model, jnp.array([3e4, 3.0]), d, jnp.array([0.0, D])).clones[-1])(stacked)
    assert final.shape == (2, 2) and not np.allclose(final[0], final[1])

    def burden(dose_mg):
        doses = s.continuous("erlotinib", 1.0, D).doses
        doses = eqx_tree_amount(doses, doses.amount * dose_mg)
        return m.total_volume(m.solve(model, jnp.array([3e4, 3.0]), doses, jnp.array([0.0, D])).clones[-1])

    assert float(jax.grad(burden)(150.0)) < 0  # more drug, smaller tumour


def eqx_tree_amount(doses, amount):
    import equinox as eqx

    return eqx.tree_at(lambda d: d.amount, doses, amount)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: s.continuous("erlotinib", -150, D), "amount=-150 must be a finite dose"),
        (lambda: s.continuous("erlotinib", 150, 0), "days=0 must be a whole number"),
        (lambda: s.pulsed("erlotinib", 1200, 9, 50, 7, D), "high_days=9 must be between 1 and period=7"),
        (lambda: s.dose_reduction("erlotinib", 150, 100, 500, D), "from_day=500 must be inside the horizon"),
        (lambda: s.with_break(s.continuous("e", 1, D), 20, 10), "need 0 <= start < end"),
        (lambda: s.with_break(s.continuous("e", 1, D), -5, 10), "need 0 <= start < end"),
        (
            lambda: s.adaptive_threshold(s.continuous("e", 1, D), hold_below=1.5),
            r"hold_below=1.5 is invalid; it must be a fraction in \(0, 1\]",
        ),
        (lambda: s.adaptive_threshold(s.continuous("e", 1, D), hold_below=0.0), r"hold_below=0.0 is invalid"),
        (lambda: s.adaptive_threshold(s.continuous("e", 1, D), decision_every=-1), "decision_every=-1.0 must be > 0"),
        (lambda: s.ThresholdAdaptive(0.5, 1.0, temperature=0.0), "temperature=0.0 must be > 0"),
        (
            lambda: s.switch_on_progression(s.continuous("e", 1, D), s.continuous("e", 2, D)),
            "share drugs",
        ),
    ],
)
def test_bad_regimens_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_threshold_policy_exact_and_smooth_limit():
    exact = s.ThresholdAdaptive(0.5, 1.0)
    smooth = s.ThresholdAdaptive(0.5, 1.0, temperature=1e-4)
    burden = [100.0, 70.0, 45.0, 80.0, 101.0, 60.0, 40.0]  # baseline 100
    for policy in (exact, smooth):
        state, levels = policy.init(1), []
        for b in burden:
            state, level = policy.decide(state, b, 100.0, 0.0)
            levels.append(float(level))
        np.testing.assert_allclose(levels, [1, 1, 0, 0, 1, 1, 0], atol=1e-6)
        assert float(state.cycles) == pytest.approx(1.0, abs=1e-6)
    # gradient of the level with respect to the threshold exists for the smooth rule only
    grad = jax.grad(lambda h: s.ThresholdAdaptive(h, 1.0, temperature=0.05).decide(exact.init(1), 48.0, 100.0, 0.0)[1])
    assert float(grad(0.5)) < 0  # a higher hold threshold makes holding more likely


def test_dose_modulation_and_switch_policies():
    mod = s.DoseModulation(response=0.1, growth=0.1, down=0.5, up=1.5)
    state, out = mod.init(1), []
    for b in [100.0, 80.0, 79.0, 95.0, 130.0]:
        state, level = mod.decide(state, b, 100.0, 0.0)
        out.append(float(level))
    assert out == [1.0, 0.5, 0.5, 0.75, 1.0]  # down after -20%, keep, up after +20% (x2), capped at 1
    sw = s.SwitchOnProgression(0, 1, threshold=0.2)
    state, out = sw.init(2), []
    for b in [100.0, 60.0, 70.0, 73.0, 50.0]:
        state, level = sw.decide(state, b, 100.0, 0.0)
        out.append(np.asarray(level).tolist())
    assert out == [[1, 0], [1, 0], [1, 0], [0, 1], [0, 1]]  # 73 > 1.2 x 60: switch, and stay switched


def test_adaptive_regimen_holds_and_resumes_on_the_flagship_model():
    cont = s.continuous("erlotinib", 150, 364)
    at = s.adaptive_threshold(cont, 0.5, 1.0, decision_every=28)
    tr = s.simulate_regimen(egfr_two_clone(), jnp.array([3e4, 3.0]), at, 364)
    assert bool(tr.ok) and tr.levels.shape == (13, 1) and tr.clones.shape == (365, 2)
    lv = np.asarray(tr.levels[:, 0])
    assert lv[0] == 1 and (lv == 0).any()  # starts on, holds once the burden halves
    given = np.asarray(tr.doses_given).reshape(13, 28)
    np.testing.assert_array_equal(given, 150.0 * lv[:, None] * np.ones((1, 28)))  # doses follow decisions


def test_adaptive_simulation_uses_no_hidden_prng_key(monkeypatch):
    """Noise needs an explicit key; a noiseless run draws nothing, so it neither needs nor makes
    a key (it used to split a hidden jax.random.key(0))."""
    model, y0 = egfr_two_clone(), jnp.array([3e4, 3.0])
    at = s.adaptive_threshold(s.continuous("erlotinib", 150, D), 0.5, 1.0, decision_every=28)
    with pytest.raises(ValueError, match=r"noise_sd=0.1 > 0 draws measurement noise and needs key="):
        s.simulate_regimen(model, y0, at, D, noise_sd=0.1)
    keyed = s.simulate_regimen(model, y0, at, D, key=jax.random.key(3))

    def no_default_key(*args, **kwargs):
        raise AssertionError("simulate_regimen made a PRNG key of its own")

    monkeypatch.setattr(jax.random, "key", no_default_key)
    plain = s.simulate_regimen(model, y0, at, D)
    np.testing.assert_array_equal(np.asarray(plain.measured), np.asarray(keyed.measured))
    np.testing.assert_array_equal(np.asarray(plain.levels), np.asarray(keyed.levels))


def test_decision_loop_on_the_fixed_grid_makes_the_same_decisions():
    """The adaptive decision loop on the dose-aligned fixed grid (mechanistic.FixedGrid) against a
    tight adaptive solve (moved from tests/mechanistic/test_fixed_grid.py: it needs scenarios)."""
    tight, grid = m.SolverOptions(rtol=1e-10, atol=1e-8), m.SolverOptions(grid=m.FixedGrid())
    y0 = jnp.array([3e4, 3.0])
    at = s.adaptive_threshold(s.continuous("erlotinib", 150, 364), 0.5, 1.0, decision_every=28)
    a = s.simulate_regimen(egfr_two_clone(), y0, at, 364, options=tight)
    g = s.simulate_regimen(egfr_two_clone(), y0, at, 364, options=grid)
    np.testing.assert_array_equal(np.asarray(a.levels), np.asarray(g.levels))
    ratio = np.asarray(m.total_volume(g.clones)) / np.asarray(m.total_volume(a.clones))
    assert np.max(np.abs(ratio - 1)) < 5e-4


def test_at50_against_the_pretreatment_burden_holds_where_the_first_decision_rule_treats():
    """The burden today is 30% of the pre-treatment burden: AT50 against the pre-treatment burden
    holds at the first decision (30% < 50%) and resumes only when the burden is back at 100% of it;
    against today's burden (the first decision) it treats on."""
    cont = s.continuous("erlotinib", 150, 112)
    y0 = jnp.array([3e4, 3.0])
    before = float(m.total_volume(y0)) / 0.3
    pre = s.adaptive_threshold(cont, decision_every=28, baseline="pretreatment")
    now = s.adaptive_threshold(cont, decision_every=28)
    model = egfr_two_clone()
    tr_pre = s.simulate_regimen(model, y0, pre, 112, pretreatment=before)
    tr_now = s.simulate_regimen(model, y0, now, 112, pretreatment=before)  # ignored: its baseline is day 0
    lv_pre, lv_now = np.asarray(tr_pre.levels[:, 0]), np.asarray(tr_now.levels[:, 0])
    assert lv_pre[0] == 0 and lv_now[0] == 1
    measured = np.asarray(tr_pre.measured)
    assert (measured < before).all() and (lv_pre == 0).all()  # never back at 100%: held throughout
    np.testing.assert_array_equal(np.asarray(tr_pre.doses_given), 0.0)
    # read as diameters, the baseline is the pre-treatment diameter: 30% of the volume is 67% of the
    # diameter (treat on), 10% of the volume is 46% of it (hold)
    for share, level in ((0.3, 1.0), (0.1, 0.0)):
        volume = float(m.total_volume(y0)) / share
        tr_d = s.simulate_regimen(model, y0, pre, 112, pretreatment=volume, measured_as="diameter")
        assert float(tr_d.levels[0, 0]) == level, (share, np.asarray(tr_d.measured))
    with pytest.raises(ValueError, match="decides against the pre-treatment burden: pass pretreatment="):
        s.simulate_regimen(model, y0, pre, 112)
    with pytest.raises(ValueError, match=r"baseline='start' is not one of \('first_decision', 'pretreatment'\)"):
        s.adaptive_threshold(cont, baseline="start")


def test_overlapping_combination_is_refused():
    cont = s.continuous("erlotinib", 150, D)
    with pytest.raises(ValueError, match="both dose erlotinib on day 0 \\(overlapping schedule entries\\)"):
        s.combination(cont, s.pulsed("erlotinib", 1200, 2, 50, 7, D))


def test_switch_to_osimertinib_at_progression_controls_t790m():
    """Erlotinib, then osimertinib at first progression (8-weekly scans) on a two-drug model in
    which osimertinib also kills the T790M clone (illustrative potencies)."""
    erl = egfr_two_clone().pk[0]
    osi = m.OneCompartment.from_clearance(
        cl=m.convert(14.2, "L/h", "L/day"), v=986.0, ka=m.convert(0.24, "1/h", "1/day")
    )  # Brown et al. 2017 typical values (shared/refdata/README.md)
    tumour = m.TumourModel(
        ("sensitive", "T790M"),
        "gompertz",
        growth_rate=0.01,
        capacity=2e5,
        fitness_cost=[0.0, 0.25],
        kill=m.EmaxEffect(emax=[[0.06, 0.06], [0.06, 0.06]], ec50=[[0.1, 0.02], [8.0, 0.02]]),
        resistant=(False, True),
    )
    model = m.DiseaseModel({"erlotinib": erl, "osimertinib": osi}, tumour)
    days = 728
    switch = s.switch_on_progression(s.continuous("erlotinib", 150, days), s.continuous("osimertinib", 80, days), 56)
    y0 = jnp.array([3e4, 3.0])
    tr = s.simulate_regimen(model, y0, switch, days)
    only_erl = s.simulate_regimen(model, y0, s.continuous("erlotinib", 150, days), days)
    levels = np.asarray(tr.levels)
    k = int(np.argmax(levels[:, 1] > 0))  # the scan at which it switched
    assert 0 < k and (levels[:k] == [1, 0]).all() and (levels[k:] == [0, 1]).all()
    assert float(m.total_volume(tr.clones[-1])) < 0.5 * float(m.total_volume(only_erl.clones[-1]))


def test_decisions_outside_the_horizon_are_refused():
    at = s.adaptive_threshold(s.continuous("erlotinib", 150, D), decision_every=200)
    with pytest.raises(ValueError, match="decision_every=200.0 is beyond the horizon days=112"):
        s.simulate_regimen(egfr_two_clone(), jnp.array([3e4, 3.0]), at, D)


def test_at50_on_psa_through_the_family_reproduces_the_standalone_zhang_model():
    """scenarios' AT50 reading the family's burden (PSA) on mechanistic.ZhangFamily equals
    prostate_lv.simulate_adaptive (daily checks, hold below 50% of the starting PSA, resume at it)
    for the paper's representative patient #2 (Zhang et al. 2017): the same doses, PSA within 1e-5."""
    from mechanistic import prostate_lv as z

    days = 600
    family = m.ZhangFamily()
    p = {k: jnp.asarray(v) for k, v in family.patient_parameters("zhang2017_patient2").items()}
    y0 = family.initial_state(p)
    at50 = s.adaptive_threshold(s.continuous("abiraterone", 1000.0, days), 0.5, 1.0, decision_every=1.0,
                                baseline="pretreatment")  # fmt: skip
    psa0 = family.observe(y0)["psa"]
    tr = s.simulate_regimen(family.build(p), y0, at50, days, pretreatment=psa0,
                            measured_as=lambda y: family.observe(y)["psa"])  # fmt: skip
    zp = z.patient("zhang2017_patient2")
    ref = z.simulate_adaptive(zp, z.pretreatment_equilibrium(zp), days, stop_fraction=0.5)
    np.testing.assert_array_equal(np.asarray(tr.levels[:, 0]), np.asarray(ref.dose))
    psa = np.asarray(family.observe(tr.clones)["psa"])
    np.testing.assert_allclose(psa / psa[0], np.asarray(ref.psa) / float(ref.psa[0]), rtol=1e-5)
    assert int(np.asarray(z.cycles(ref))) >= 1 and 0 < float(np.asarray(ref.dose).mean()) < 1  # AT50 holds the drug
