"""Closed-form PK against an independent ODE solve, gradients, published erlotinib exposure."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from mechanistic.dosing import INFUSION, IV_BOLUS, ORAL

# A mixed schedule for one drug: oral with lag and F, an IV bolus, an infusion.
MIXED = (
    m.every(1.0, 3, "drug", 100.0, "oral", start=0.0, bioavailability=0.7, lag=0.1)
    + m.dose(0.5, "drug", 50.0, "iv_bolus")
    + m.dose(1.7, "drug", 200.0, "infusion", duration=0.25)
    + m.dose(2.6, "drug", 80.0, "oral", bioavailability=0.9, lag=0.05)
)
T_OBS = np.linspace(0.03, 5.0, 60)


def rows(doses):
    return m.DoseRows.of(doses, doses.drug == 0)


@jax.jit
def _segment(y, t0, t1, rate, k):
    """Integrate depot/central/peripheral amounts (mg) over [t0, t1] with infusion ``rate``."""
    ka, k10, k12, k21 = k

    def f(t, a, args):
        return jnp.array([-ka * a[0], ka * a[0] - (k10 + k12) * a[1] + k21 * a[2] + rate, k12 * a[1] - k21 * a[2]])

    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(f),
        diffrax.Dopri8(),
        t0,
        t1,
        None,
        y,
        stepsize_controller=diffrax.PIDController(rtol=1e-13, atol=1e-13),
        max_steps=100_000,
    )
    return sol.ys[-1]


def reference_ode(doses, ka, k10, k12, k21, v1, t_obs):
    """Concentration by integrating the compartment ODEs, restarting at every dose event."""
    r = doses.rows()
    boluses = []  # (time, compartment, amount)
    rate_changes = []  # (time, delta rate)
    for d in r:
        if d["route"] == "oral":
            boluses.append((d["time_day"] + d["lag_day"], 0, d["amount_mg"] * d["bioavailability"]))
        elif d["route"] == "iv_bolus":
            boluses.append((d["time_day"], 1, d["amount_mg"]))
        else:
            rate = d["amount_mg"] / d["duration_day"]
            rate_changes += [(d["time_day"], rate), (d["time_day"] + d["duration_day"], -rate)]
    breaks = sorted({0.0, *[b[0] for b in boluses], *[c[0] for c in rate_changes], *t_obs})
    y, rate, out = jnp.zeros(3), 0.0, {}
    k = jnp.array([ka, k10, k12, k21])
    for i, t in enumerate(breaks):
        for tb, comp, amt in boluses:
            if tb == t:
                y = y.at[comp].add(amt)
        rate += sum(dr for tc, dr in rate_changes if tc == t)
        out[t] = float(y[1]) / v1
        if i + 1 < len(breaks):
            y = _segment(y, t, breaks[i + 1], rate, k)
    return np.array([out[t] for t in t_obs])


def test_one_compartment_closed_form_equals_ode():
    pk = m.OneCompartment(k=0.6, v=40.0, ka=3.0)
    closed = np.asarray(pk.concentration(rows(MIXED), T_OBS))
    ref = reference_ode(MIXED, 3.0, 0.6, 0.0, 0.0, 40.0, T_OBS)
    np.testing.assert_allclose(closed, ref, rtol=1e-8)


def test_two_compartment_closed_form_equals_ode():
    cl, v1, q, v2, ka = 20.0, 30.0, 8.0, 70.0, 2.5
    pk = m.TwoCompartment(cl=cl, v1=v1, q=q, v2=v2, ka=ka)
    closed = np.asarray(pk.concentration(rows(MIXED), T_OBS))
    ref = reference_ode(MIXED, ka, cl / v1, q / v1, q / v2, v1, T_OBS)
    np.testing.assert_allclose(closed, ref, rtol=1e-8)


def test_two_compartment_iv_bolus_is_biexponential_with_unit_initial_concentration():
    pk = m.TwoCompartment(cl=5.0, v1=10.0, q=3.0, v2=20.0)
    amp, lam = pk.disposition()
    np.testing.assert_allclose(float(jnp.sum(amp)), 1.0 / 10.0, rtol=1e-14)  # C(0+) = dose / V1
    # AUC = dose / CL for any linear model.
    np.testing.assert_allclose(float(jnp.sum(amp / lam)), 1.0 / 5.0, rtol=1e-12)


def _oral_conc(params, t_obs=jnp.array([0.7, 1.3, 2.9])):
    amount, time, f, lag = params
    table = m.DoseTable(
        time=jnp.stack([0.0, time]),
        amount=jnp.stack([100.0, amount]),
        drug=jnp.zeros(2, int),
        route=jnp.full(2, ORAL),
        duration=jnp.zeros(2),
        bioavailability=jnp.stack([0.8, f]),
        lag=jnp.stack([0.0, lag]),
        drugs=("drug",),
    )
    pk = m.TwoCompartment(cl=20.0, v1=30.0, q=8.0, v2=70.0, ka=2.5)
    return jnp.sum(pk.concentration(rows(table), t_obs) * jnp.array([1.0, 2.0, 3.0]))


def central_difference(f, x, rel=1e-6):
    x = np.asarray(x, float)
    g = np.zeros_like(x)
    for i in range(x.size):
        h = rel * max(abs(x[i]), 1.0)
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (float(f(jnp.asarray(x + e))) - float(f(jnp.asarray(x - e)))) / (2 * h)
    return g


def test_gradients_wrt_amount_time_bioavailability_lag_match_finite_differences():
    x = jnp.array([150.0, 0.5, 0.6, 0.15])  # amount mg, time day, F, lag day
    grad = np.asarray(jax.grad(_oral_conc)(x))
    fd = central_difference(_oral_conc, x)
    assert np.all(np.abs(grad) > 1e-3), f"a sensitivity is (near) zero: {grad}"
    np.testing.assert_allclose(grad, fd, rtol=1e-5)


def test_infusion_and_bolus_gradients_match_finite_differences():
    def conc(p):
        amount, time, duration = p
        table = m.DoseTable(
            time=jnp.stack([0.0, time]),
            amount=jnp.stack([amount, amount]),
            drug=jnp.zeros(2, int),
            route=jnp.array([IV_BOLUS, INFUSION]),
            duration=jnp.stack([0.0, duration]),
            bioavailability=jnp.ones(2),
            lag=jnp.zeros(2),
            drugs=("drug",),
        )
        return jnp.sum(m.OneCompartment(k=0.6, v=40.0).concentration(rows(table), jnp.array([0.9, 1.2, 2.0])))

    x = jnp.array([120.0, 0.8, 0.6])
    np.testing.assert_allclose(np.asarray(jax.grad(conc)(x)), central_difference(conc, x), rtol=1e-5)


def test_erlotinib_steady_state_trough_matches_smpc():
    """Lu et al. 2006 typical values, 150 mg QD; EU SmPC steady-state trough 1.28 ug/mL
    (non-smokers). Tolerance 5% (the issue's)."""
    pk = m.OneCompartment.from_clearance(
        cl=m.convert(3.95, "L/h", "L/day"), v=233.0, ka=m.convert(0.95, "1/h", "1/day")
    )
    doses = m.daily(0, 29, "erlotinib", 150.0)
    trough = float(pk.concentration(rows(doses), 29.0 - 1e-9))  # just before the 30th dose
    assert trough == pytest.approx(1.28, rel=0.05)
    # and it is steady: the trough a day earlier is within 0.1%
    assert float(pk.concentration(rows(doses), 28.0 - 1e-9)) == pytest.approx(trough, rel=1e-3)


def test_michaelis_menten_approaches_linear_when_unsaturated():
    """With C << km, vmax C/(km + C) ~ (vmax/km) C: the ODE path equals closed-form linear PK."""
    km = 1e9
    vmax = 0.6 * 40.0 * km  # vmax / km = CL = k V
    doses = m.every(1.0, 4, "drug", 100.0, "oral", bioavailability=0.7, lag=0.1) + m.dose(
        1.7, "drug", 200.0, "infusion", duration=0.25
    )
    mm = m.DiseaseModel({"drug": m.MichaelisMentenOneCompartment(vmax=vmax, km=km, v=40.0, ka=3.0)})
    sol = m.solve(mm, jnp.zeros(0), doses, T_OBS, options=m.SolverOptions(rtol=1e-11, atol=1e-11))
    linear = m.OneCompartment(k=0.6, v=40.0, ka=3.0).concentration(rows(doses), T_OBS)
    assert int(sol.result) == 0
    np.testing.assert_allclose(np.asarray(sol.concentrations[:, 0]), np.asarray(linear), rtol=1e-7)


def test_michaelis_menten_saturates_against_scipy():
    from scipy.integrate import solve_ivp

    vmax, km, v, ka = 50.0, 1.0, 40.0, 3.0
    doses = m.every(1.0, 3, "drug", 300.0, "oral")
    sol = m.solve(
        m.DiseaseModel({"drug": m.MichaelisMentenOneCompartment(vmax=vmax, km=km, v=v, ka=ka)}),
        jnp.zeros(0),
        doses,
        T_OBS,
        options=m.SolverOptions(rtol=1e-11, atol=1e-11),
    )

    def f(t, a):
        c = a[1] / v
        return [-ka * a[0], ka * a[0] - vmax * c / (km + c)]

    y, t_prev, out = np.zeros(2), 0.0, []
    bounds = [1.0, 2.0, np.inf]
    y[0] += 300.0
    for t in T_OBS:
        while t >= bounds[0]:
            y = solve_ivp(f, (t_prev, bounds[0]), y, method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1]
            y[0] += 300.0
            t_prev = bounds.pop(0)
        if t > t_prev:
            y = solve_ivp(f, (t_prev, t), y, method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1]
            t_prev = t
        out.append(y[1] / v)
    np.testing.assert_allclose(np.asarray(sol.concentrations[:, 0]), out, rtol=1e-7)
    # saturation: the apparent clearance is lower than vmax/km at high concentration
    assert float(jnp.max(sol.concentrations)) > km


def test_several_drugs_at_once_equal_each_drug_alone():
    a = m.daily(0, 4, "erlotinib", 150.0)
    b = m.every(2.0, 3, "osimertinib", 80.0, start=0.5)
    pk_a = m.OneCompartment(k=0.4, v=233.0, ka=22.8)
    pk_b = m.TwoCompartment(cl=340.0, v1=500.0, q=100.0, v2=500.0, ka=5.8)
    model = m.DiseaseModel({"osimertinib": pk_b, "erlotinib": pk_a})
    both = m.solve(model, jnp.zeros(0), a + b, T_OBS).concentrations
    np.testing.assert_allclose(np.asarray(both[:, 1]), np.asarray(pk_a.concentration(rows(a), T_OBS)), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(both[:, 0]), np.asarray(pk_b.concentration(rows(b), T_OBS)), rtol=1e-13)


def test_direct_exposure_is_the_infusion_rate():
    doses = m.dose(1.0, "D", 2.0, "infusion", duration=2.0) + m.dose(5.0, "D", 1.0, "infusion", duration=0.5)
    c = m.DirectExposure().concentration(rows(doses), jnp.array([0.5, 1.0, 2.9, 3.0, 4.0, 5.2, 5.6]))
    np.testing.assert_array_equal(np.asarray(c), [0.0, 1.0, 1.0, 0.0, 0.0, 2.0, 0.0])


def test_daily_exposure_is_the_dose_fraction_over_each_day():
    doses = m.daily(0, 2, "abiraterone", 1000.0) + m.dose(5.0, "abiraterone", 500.0)  # days 0, 1, 2 and 5
    pk = m.DailyExposure(reference_mg=1000.0)
    c = pk.concentration(rows(doses), jnp.array([0.5, 2.9, 3.0, 4.0, 5.2, 6.0]))
    np.testing.assert_allclose(np.asarray(c), [1.0, 1.0, 0.0, 0.0, 0.5, 0.0], atol=1e-15)
    with pytest.raises(ValueError, match="reference_mg"):
        m.DailyExposure(reference_mg=0.0)
    with pytest.raises(ValueError, match="route 'infusion'"):
        pk.check_routes(np.array([1]), "abiraterone")  # ROUTES[1] is "infusion"


def test_padding_and_vmap_over_schedules():
    pk = m.OneCompartment(k=0.6, v=40.0, ka=3.0)
    short = m.daily(0, 2, "drug", 100.0)
    long = m.every(0.5, 7, "drug", 40.0, start=0.2)
    batch = jax.tree.map(lambda *x: jnp.stack(x), short.pad(7), long)
    got = jax.vmap(lambda d: pk.concentration(rows(d), T_OBS))(batch)
    np.testing.assert_allclose(np.asarray(got[0]), np.asarray(pk.concentration(rows(short), T_OBS)), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(got[1]), np.asarray(pk.concentration(rows(long), T_OBS)), rtol=1e-14)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: m.OneCompartment(k=-1.0, v=10.0), "k="),
        (lambda: m.OneCompartment(k=1.0, v=float("nan")), "v="),
        (lambda: m.OneCompartment(k=1.0, v=0.0), "v=0.0 is invalid; it must be finite and > 0"),
        (lambda: m.OneCompartment(k=1.0, v=10.0, ka=1.0), "ka=1.0 equals a disposition rate"),
        (lambda: m.TwoCompartment(cl=1.0, v1=1.0, q=0.0, v2=1.0), "q="),
        (lambda: m.MichaelisMentenOneCompartment(vmax=1.0, km=0.0, v=1.0, ka=1.0), "km="),
    ],
)
def test_bad_pk_parameters_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_route_the_model_cannot_take_is_rejected_before_tracing():
    model = m.DiseaseModel({"drug": m.OneCompartment(k=0.6, v=40.0)})  # no ka: IV only
    with pytest.raises(ValueError, match="route 'oral' is not supported by OneCompartment"):
        m.solve(model, jnp.zeros(0), m.dose(0.0, "drug", 10.0, "oral"), T_OBS)
    with pytest.raises(ValueError, match="unknown to the model"):
        m.solve(model, jnp.zeros(0), m.dose(0.0, "aspirin", 10.0, "iv_bolus"), T_OBS)
