"""The Zhang et al. 2017 three-population LV model of mCRPC under abiraterone (mechanistic.prostate_lv).

Sources: [Z17] Zhang, Cunningham, Brown, Gatenby, Nat Commun 2017;8:1816 (abstract); [Z17code] the
authors' code for [Z17], github.com/cunninghamjj/Integrating-evolutionary-dynamics-into-treatment-of-mCRPC
(Abiraterone_Main.m, ESSAnalysis.m, MatrixPermutations.m); [Z22] Zhang et al. eLife 2022;11:e76284
(abstract: the AT50 rule). The paper's figures could not be opened here, so the simulated time to
progression is checked against the authors' own simulation code (ported below, as they run it:
a discrete map with step 1 and a density floor), which its README says recreates the manuscript's
figures.

Every long course is 10,000 intervals (the authors' ``maxSimulationTime = 10000``) so that one
compiled program serves all of them; the courses are simulated once per module.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic.prostate_lv as pl

N = pl.AUTHORS_HORIZON  # 10,000 intervals


# --- the reference: the authors' discrete-time simulation, ported line by line ------------------


def authors_simulation(name: str, treatment: str, n: int = N, nadir_fraction: float = pl.AUTHORS_NADIR_FRACTION):
    """[Z17code] Abiraterone_Main.m in NumPy for ``treatment`` "SOC" or "Adaptive": densities
    (n, 4) at t = 0..n-1 (MATLAB index - 1), the abiraterone flag applied on [t, t+1) and the
    first treatment time. Its quirks are kept: Euler steps of 1, densities floored at 1e-9
    after every step, SOC switched on from MATLAB index ``firstTreatmentTime``."""
    a12, a13, a21, a23, a31, a32 = pl._COEFFICIENTS[name]
    r = np.array(pl.GROWTH_RATE)
    ess = np.array(pl.AUTHORS_EQUILIBRIUM[name])
    zenith = ess[3] * pl.AUTHORS_ZENITH_FRACTION
    nadir = zenith * nadir_fraction

    def step(y, on):
        k = (y[1] * 0.5, 100.0, 10000.0) if on else (y[1] * 1.5, 10000.0, 10000.0)
        d = np.array(
            [
                y[0] * r[0] * (1 - (y[0] + a12 * y[1] + a13 * y[2]) / k[0]),
                y[1] * r[1] * (1 - (a21 * y[0] + y[1] + a23 * y[2]) / k[1]),
                y[2] * r[2] * (1 - (a31 * y[0] + a32 * y[1] + y[2]) / k[2]),
                y[:3].sum() - 0.5 * y[3],
            ]
        )
        return y + d

    y = ess * pl.INITIAL_FRACTION
    first, z = 0, y.copy()
    while z[3] < zenith:
        first, z = first + 1, step(z, False)
    flag = np.zeros(n + 1)  # flag[time], MATLAB index
    if treatment == "SOC":
        flag[first:] = 1
    out = [y.copy()]
    for time in range(2, n + 1):
        if treatment == "Adaptive":
            flag[time] = 1 if y[3] > zenith else (0 if y[3] < nadir else flag[time - 1])
        y = step(y, flag[time] == 1)
        y[y < 1e-9] = 1e-9
        out.append(y.copy())
    return np.array(out), flag[2:], first


def authors_features(ys, on):
    """Time from the first abiraterone interval to a T- share above 90 % and 5 % (None: not
    reached; [Z17code] timeTo90Percent / timeTo5Percent), the cumulative dose relative to
    continuous dosing after the start, and the number of stops."""
    share = ys[:, 2] / ys[:, :3].sum(1)
    start = int(np.argmax(on > 0))

    def ttp(level):
        hit = np.nonzero((share > level) & (np.arange(len(share)) >= start))[0]
        return float(hit[0] - start) if len(hit) else None

    return ttp(0.9), ttp(0.05), on[start:].mean(), int(np.sum((on[:-1] > 0) & (on[1:] == 0)))


# --- fixtures: every course simulated once --------------------------------------------------------


@pytest.fixture(scope="module")
def p1():
    return pl.patient("zhang2017_patient1")


@pytest.fixture(scope="module")
def p2():
    return pl.patient("zhang2017_patient2")


def _at_equilibrium(params):
    """The pre-treatment equilibrium with absent types at the floor (treatment starts here)."""
    eq = pl.pretreatment_equilibrium(params)
    return eq.at[:3].set(jnp.maximum(eq[:3], params.floor))


@pytest.fixture(scope="module")
def courses(p1):
    """Representative patient #1: continuous abiraterone and AT50 (daily and 4-weekly PSA) from the
    pre-treatment equilibrium; the authors' protocol (start at 40 % of it, first dose when PSA
    reaches 80 % of the equilibrium PSA, daily PSA) with continuous dosing, their 40 % stop and
    the trial's 50 % stop."""
    y_eq = _at_equilibrium(p1)
    y_authors = pl.initial_state(p1)
    zenith = pl.AUTHORS_ZENITH_FRACTION * pl.pretreatment_equilibrium(p1)[3]
    authors = dict(baseline=zenith, initial_on=False)
    return {
        "continuous": pl.simulate_schedule(p1, y_eq, pl.continuous(N)),
        "at50": pl.simulate_adaptive(p1, y_eq, N),
        "at50_4weekly": pl.simulate_adaptive(p1, y_eq, N, check_every=28),
        "authors_soc": pl.simulate_adaptive(p1, y_authors, N, stop_fraction=0.0, **authors),
        "authors_at": pl.simulate_adaptive(p1, y_authors, N, stop_fraction=pl.AUTHORS_NADIR_FRACTION, **authors),
        "authors_at50": pl.simulate_adaptive(p1, y_authors, N, stop_fraction=0.5, **authors),
    }


# --- 1. the pre-treatment equilibrium ----------------------------------------------------------------


def test_closed_form_equilibrium_matches_the_authors_values(p1, p2):
    """[Z17code] ESSAnalysis.m found the equilibria by 100,000 steps of simulation (hard-coded as
    "ESS" rows 7 and 5 in Abiraterone_Main.m): patient #2 interior, patient #1 without T- (floored
    to 1e-9 there)."""
    for params, name in ((p1, "zhang2017_patient1"), (p2, "zhang2017_patient2")):
        ours = np.asarray(pl.pretreatment_equilibrium(params))
        theirs = np.array(pl.AUTHORS_EQUILIBRIUM[name])
        np.testing.assert_allclose(ours[[0, 1, 3]], theirs[[0, 1, 3]], rtol=1e-10)
        assert ours[2] == pytest.approx(theirs[2] if theirs[2] > 1e-6 else 0.0, rel=1e-10, abs=1e-8)
    np.testing.assert_allclose(pl.interior_equilibrium(p2), pl.pretreatment_equilibrium(p2), rtol=1e-12)
    assert float(pl.interior_equilibrium(p1)[2]) < 0  # no equilibrium with all three types for #1
    for params in (p1, p2):  # a fixed point of the ODE, PSA = sum x / sigma
        eq = pl.pretreatment_equilibrium(params)
        np.testing.assert_allclose(pl.rhs(0.0, eq, params, 0.0), 0.0, atol=1e-9)
        assert float(eq[3]) == pytest.approx(float(jnp.sum(eq[:3])) / 0.5, rel=1e-14)


def test_long_untreated_run_converges_to_the_closed_form_equilibrium(p1, p2):
    """Test 1: from 10-30 % off the equilibrium, 500,000 days without abiraterone (the slowest mode
    decays at 4.7e-5/day for patient #2) land on the closed form: relative error < 1e-7."""
    errors = {}
    for params, name in ((p2, "patient2"), (p1, "patient1")):
        eq = pl.pretreatment_equilibrium(params)
        start = eq * jnp.array([1.2, 0.9, 1.3, 0.8])
        start = start.at[2].set(jnp.maximum(start[2], 10.0))  # patient 1: T- present at the start
        run = pl.simulate_schedule(params, start, np.zeros(N), dt=50.0)
        assert int(run.result) == 0
        end = np.concatenate([run.cells[-1], run.psa[-1:]])
        present = np.asarray(eq) > 0
        errors[name] = np.max(np.abs(end[present] / np.asarray(eq)[present] - 1))
        assert errors[name] < 1e-7, (name, end, eq)
        if not present[2]:  # T- cannot invade patient #1's equilibrium: it falls to the floor
            assert end[2] <= 1.0001 * float(params.floor)
    print("equilibrium relative errors:", errors)


# --- 2. continuous abiraterone -----------------------------------------------------------------------


def test_continuous_abiraterone_collapses_tp_and_t_minus_takes_over(courses, p1):
    """Test 2 ([Z17] abstract: "Simulations with standard abiraterone dosing demonstrate strong
    selection for androgen-independent cells and rapid treatment failure")."""
    run = courses["continuous"]
    eq = pl.pretreatment_equilibrium(p1)
    t = np.asarray(run.times)
    cells = np.asarray(run.cells)
    assert cells[t == 100.0, 1][0] < 0.02 * float(eq[1])  # TP below 2 % of its pre-treatment level in 100 days
    assert cells[t == 100.0, 0][0] < 0.1 * float(eq[0])  # T+ (capacity mu x_TP) follows it
    share = np.asarray(pl.resistant_share(run))
    assert share[0] < 1e-12 and share[-1] > 0.999  # T- from the floor to the whole tumour
    assert cells[-1, 2] == pytest.approx(float(p1.tminus_capacity_on), rel=1e-6)
    ttp, reached = pl.time_to_progression(run)
    assert bool(reached) and 1000.0 < float(ttp) < N


def test_intermittent_schedule(p1):
    """A fixed on/off schedule is what it says: 200 days on, 400 off, a third of the drug."""
    doses = pl.intermittent(N, 200, 400)
    assert doses[:200].all() and not doses[200:600].any() and doses[600:800].all()
    run = pl.simulate_schedule(p1, _at_equilibrium(p1), doses)
    np.testing.assert_array_equal(np.asarray(run.dose), doses)
    assert float(pl.on_fraction(run)) == pytest.approx(doses.mean())
    assert int(pl.cycles(run)) == 17


# --- 3. AT50 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["at50", "at50_4weekly"])
def test_at50_cycles_psa_and_spares_the_drug(courses, key):
    """Test 3: AT50 ([Z22] abstract: stop below 50 % of the pre-treatment PSA, resume at baseline;
    daily PSA as in [Z17code], and every 28 days): PSA cycles between about half the baseline and
    the baseline, at least 2 stops, abiraterone off most of the time, no progression in 10,000 days."""
    run = courses[key]
    psa = np.asarray(run.psa) / float(run.psa[0])
    on = np.asarray(run.dose) > 0
    assert int(pl.cycles(run)) >= 2
    stops = np.nonzero(on[:-1] & ~on[1:])[0] + 1
    assert np.all(psa[stops] < 0.5)  # stopped only below half the baseline
    if key == "at50":  # read daily: stopped within a day of crossing half the baseline
        assert np.all(psa[stops] > 0.45)
    resumes = np.nonzero(~on[:-1] & on[1:])[0] + 1
    assert len(resumes) >= 2 and np.all(psa[resumes] >= 1.0)
    assert float(pl.on_fraction(run)) < 0.1  # [Z17]'s trial: 47 % of standard dosing; here far less
    assert not bool(pl.time_to_progression(run)[1])
    assert int(run.result) == 0


# --- 4. time to progression, AT vs continuous ----------------------------------------------------


def test_time_to_progression_matches_the_authors_simulation(courses):
    """Test 4. Reference: [Z17code] Abiraterone_Main.m for representative patient #1 (matrixIndex 7),
    ported above; the paper's own simulation figure could not be read here, so no number is read off
    it. Their code gives: SOC (continuous from the first dose), T- above 90 % 3,832 days after the
    first dose; adaptive with their 40 % nadir, not within the 10,000-step horizon, 8 stops, T- above
    5 % after 7,713 days; with the trial's 50 % stop, not reached, 9 stops, 5 % after 8,634 days.
    The ODE (exact in time, where their map takes Euler steps of one day) agrees within 1 % on the
    SOC time to progression and 2 % on the 5 % times, with the same number of stops; AT outlasts
    continuous dosing in every variant, by more than the trial's 27 / 16.5 months ([Z17] abstract;
    clinical medians, a lower bound here since AT is censored at the horizon)."""
    ys, on, _ = authors_simulation("zhang2017_patient1", "SOC")
    soc90, soc5, _, _ = authors_features(ys, on)
    ys, on, _ = authors_simulation("zhang2017_patient1", "Adaptive")
    at90, at5, at_dose, at_stops = authors_features(ys, on)
    assert (soc90, at90, at_stops) == (3832.0, None, 8) and at5 == 7713.0  # the port, as recorded above

    ttp_soc, reached_soc = pl.time_to_progression(courses["authors_soc"])
    assert bool(reached_soc) and float(ttp_soc) == pytest.approx(soc90, rel=0.01)
    assert float(pl.time_to_progression(courses["authors_soc"], 0.05)[0]) == pytest.approx(soc5, rel=0.01)
    at = courses["authors_at"]
    assert not bool(pl.time_to_progression(at)[1])
    assert int(pl.cycles(at)) == at_stops
    assert float(pl.time_to_progression(at, 0.05)[0]) == pytest.approx(at5, rel=0.02)
    assert float(pl.on_fraction(at)) == pytest.approx(at_dose, rel=0.15)

    ys, on, _ = authors_simulation("zhang2017_patient1", "Adaptive", nadir_fraction=0.5)  # the trial's 50 %
    at50_90, at50_5, _, at50_stops = authors_features(ys, on)
    assert (at50_90, at50_5, at50_stops) == (None, 8634.0, 9)
    assert int(pl.cycles(courses["authors_at50"])) == at50_stops
    assert float(pl.time_to_progression(courses["authors_at50"], 0.05)[0]) == pytest.approx(at50_5, rel=0.02)

    horizon_after_start = N - float(pl.treatment_start(courses["authors_at50"]))
    for key in ("authors_at50", "at50", "at50_4weekly"):
        assert not bool(pl.time_to_progression(courses[key])[1]), key  # censored at the horizon
    ttp_cont, _ = pl.time_to_progression(courses["continuous"])
    assert horizon_after_start / float(ttp_soc) > 27 / 16.5
    assert (N - 0.0) / float(ttp_cont) > 27 / 16.5
    print(f"TTP (days after first dose), patient #1: continuous {float(ttp_soc):.1f} (authors' code {soc90:.0f}),")
    print(f"  from equilibrium {float(ttp_cont):.1f}; AT not reached within {horizon_after_start:.0f} days")


# --- 5. bad input ----------------------------------------------------------------------------------


def test_bad_input_raises_naming_the_value(p1):
    with pytest.raises(ValueError, match="'patient3'.*zhang2017_patient1"):
        pl.patient("patient3")
    with pytest.raises(ValueError, match=r"populations\[1\]=-5\.0"):
        pl.simulate_schedule(p1, jnp.array([100.0, -5.0, 1.0, 10.0]), np.ones(3))
    with pytest.raises(ValueError, match=r"psa=-1\.0"):
        pl.simulate_adaptive(p1, jnp.array([100.0, 5.0, 1.0, -1.0]), 3)
    with pytest.raises(ValueError, match=r"stop_fraction=1\.5"):
        pl.simulate_adaptive(p1, _at_equilibrium(p1), 3, stop_fraction=1.5)
    with pytest.raises(ValueError, match=r"check_every=0"):
        pl.simulate_adaptive(p1, _at_equilibrium(p1), 3, check_every=0)
    with pytest.raises(ValueError, match=r"doses\[2\]=2\.0"):
        pl.simulate_schedule(p1, _at_equilibrium(p1), np.array([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match=r"tp_capacity_on=-100\.0"):
        pl.simulate_schedule(p1._replace(tp_capacity_on=jnp.asarray(-100.0)), _at_equilibrium(p1), np.ones(3))
    with pytest.raises(ValueError, match="must end in 4"):
        pl.simulate_schedule(p1, jnp.ones(3), np.ones(3))


# --- JAX: vmap, grad, one compiled program ---------------------------------------------------------


def test_equilibrium_vmaps_and_differentiates(p1, p2):
    """The closed form maps over a batch of patients and has the implicit-function derivative:
    d x*/d K_T- at patient #2's interior equilibrium equals -A^-1 d(rhs)/dK (checked by finite difference)."""
    batch = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), p1, p2)
    both = jax.vmap(pl.pretreatment_equilibrium)(batch)
    np.testing.assert_allclose(both[1], pl.pretreatment_equilibrium(p2), rtol=1e-14)

    def psa(k):
        return pl.pretreatment_equilibrium(p2._replace(tminus_capacity_off=k))[3]

    g = jax.grad(psa)(jnp.asarray(10000.0))
    fd = (psa(10000.0 + 1.0) - psa(10000.0 - 1.0)) / 2.0
    assert float(g) == pytest.approx(float(fd), rel=1e-6)  # negative: T- crowds out TP, which feeds T+


def test_a_second_course_does_not_compile_again(courses, p2):
    """Another patient, another policy and step, the same number of intervals: no new trace of the
    course (counted as tests/twin/test_compile_once.py does, through JAX's trace event)."""
    seen = []

    def listen(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/jaxpr_trace_duration":
            seen.append(str(kwargs.get("fun_name", "?")))

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        run = pl.simulate_adaptive(p2, _at_equilibrium(p2), N, 0.5, stop_fraction=0.3, check_every=7)
        pl.simulate_schedule(p2, _at_equilibrium(p2), pl.intermittent(N, 10, 20), dt=2)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert int(run.result) == 0
    assert "_course" not in seen, seen


def test_a_course_differentiates(p1):
    """grad of the PSA after a 30-day course of abiraterone with respect to the on-drug TP capacity
    (through the scan and the diffrax solves) agrees with a central finite difference."""
    y0 = _at_equilibrium(p1)

    def final_psa(k):
        return pl.simulate_schedule(p1._replace(tp_capacity_on=k), y0, np.ones(30)).psa[-1]

    g = jax.grad(final_psa)(jnp.asarray(100.0))
    fd = (final_psa(jnp.asarray(101.0)) - final_psa(jnp.asarray(99.0))) / 2.0
    assert float(g) == pytest.approx(float(fd), rel=1e-4) and float(g) > 0
