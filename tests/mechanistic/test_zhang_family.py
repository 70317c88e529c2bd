"""mechanistic.ZhangFamily / ZhangTumour: the Zhang et al. 2017 model through the generic solver
(adaptive and fixed-grid engines) and the model-family seam, checked against the standalone
``prostate_lv.simulate_schedule``."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from mechanistic import prostate_lv as z
from mechanistic.catalogue import EGFRTwoClone

N = 400  # days
TS = np.arange(N + 1.0)
FAMILY = m.ZhangFamily()
DRUG = "abiraterone"
SCHEDULES = {  # dose fraction per day
    "continuous": z.continuous(N),
    "intermittent 60 on / 30 off": z.intermittent(N, 60, 30),
    "half dose": 0.5 * z.continuous(N),
}
ENGINES = {"adaptive": m.SolverOptions(), "fixed grid": m.SolverOptions(grid=m.FixedGrid())}
# measured max relative errors vs simulate_schedule (patient #2, 400 days): adaptive (rtol 1e-8)
# cells 2.2e-7, PSA 2e-9; fixed grid (daily, 2 substeps) cells 4.4e-7, PSA 6.0e-6
TOLERANCE = {"adaptive": 1e-6, "fixed grid": 2e-5}


def params(name="zhang2017_patient2"):
    return {k: jnp.asarray(v) for k, v in FAMILY.patient_parameters(name).items()}


def daily_doses(fractions):
    """One oral row a day (zero amounts on days off): every schedule has the same dose times, so the
    fixed grid's step points and the compiled solve are shared."""
    return m.every(1.0, N, DRUG, jnp.asarray(fractions) * 1000.0)


@eqx.filter_jit
def _solve(p, doses, options, points):
    return m.solve(FAMILY.build(p), FAMILY.initial_state(p), doses, TS, options=options, points=points)


@pytest.fixture(scope="module")
def solve():
    """``solve(params, fractions, engine)`` -> Solution; one compiled program per engine."""
    p0 = params()
    grid = ENGINES["fixed grid"]
    points = jnp.asarray(m.step_points(FAMILY.build(p0), daily_doses(np.ones(N)), TS, 0.0, grid))

    def run(p, fractions, engine):
        return _solve(p, daily_doses(fractions), ENGINES[engine], points if engine == "fixed grid" else None)

    return run


@pytest.fixture(scope="module")
def reference():
    """``simulate_schedule`` of patient #2 from the family's initial state, per schedule."""
    p = params()
    y0 = FAMILY.initial_state(p).at[3].divide(p["psa_scale"])  # model PSA units
    return {name: z.simulate_schedule(z.patient("zhang2017_patient2"), y0, f) for name, f in SCHEDULES.items()}


def test_the_family_is_a_valid_model_family():
    FAMILY.check()
    assert len(FAMILY.parameters) == 17 and FAMILY.burden == "psa"
    units = {p.name: p.unit for p in FAMILY.parameters}
    assert units["growth_rate_tminus"] == "1/day" and units["psa_scale"] == "ng/mL" and units["a12"] == "1"
    assert FAMILY.observables == {"psa": "ng/mL", "burden": "cells", "resistant_fraction": "1"}
    assert EGFRTwoClone().burden == "volume"  # the default of ModelFamily
    tumour = FAMILY.build(params()).tumour
    assert isinstance(tumour, m.AbstractTumour) and isinstance(tumour, m.ZhangTumour)
    assert tumour.clones == ("T+", "TP", "T-", "PSA") and tumour.resistant == (False, False, True, False)
    small = m.ZhangFamily(free=("psa_scale",))
    assert [p.name for p in small.parameters] == ["psa_scale"]
    np.testing.assert_allclose(small.initial_state({"psa_scale": 1e-3}), FAMILY.initial_state(params()))


def test_the_state_rhs_is_the_solver_rhs_in_state_coordinates():
    tumour = FAMILY.build(params("zhang2017_patient1")).tumour
    y, conc = jnp.array([3000.0, 2000.0, 50.0, 12.0]), jnp.array([0.7])
    z_dot = tumour.solver_rhs(tumour.to_solver(y), conc)
    y_dot = jax.jvp(tumour.from_solver, (tumour.to_solver(y),), (z_dot,))[1]
    np.testing.assert_allclose(y_dot, tumour.rhs(y, conc), rtol=1e-12)
    np.testing.assert_allclose(tumour.from_solver(tumour.to_solver(y)), y, rtol=1e-14)


def test_initial_state_is_the_pretreatment_equilibrium():
    p = params()
    eq = z.AUTHORS_EQUILIBRIUM["zhang2017_patient2"]
    np.testing.assert_allclose(FAMILY.initial_state(p), [*eq[:3], eq[3] * 1e-3], rtol=1e-10)
    at_04 = m.ZhangFamily(initial_fraction=z.INITIAL_FRACTION).initial_state(p)
    np.testing.assert_allclose(at_04[:3], z.initial_state(z.patient("zhang2017_patient2"))[:3], rtol=1e-14)
    assert float(FAMILY.initial_state(params("zhang2017_patient1"))[2]) == z.FLOOR  # T- absent: at the floor


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_solve_reproduces_simulate_schedule(solve, reference, engine, schedule):
    sol = solve(params(), SCHEDULES[schedule], engine)
    ref = reference[schedule]
    assert bool(sol.ok)
    np.testing.assert_allclose(sol.clones[:, :3], ref.cells, rtol=TOLERANCE[engine])
    np.testing.assert_allclose(sol.clones[:, 3], 1e-3 * ref.psa, rtol=TOLERANCE[engine])
    obs = FAMILY.observe(sol.clones)
    np.testing.assert_allclose(obs["resistant_fraction"], z.resistant_share(ref), rtol=TOLERANCE[engine])
    np.testing.assert_allclose(obs["burden"], ref.cells.sum(-1), rtol=TOLERANCE[engine])


@pytest.mark.parametrize("patient", z.PATIENTS)
def test_untreated_stays_at_the_pretreatment_equilibrium(solve, patient):
    p = params(patient)
    sol = solve(p, np.zeros(N), "adaptive")
    assert bool(sol.ok)
    np.testing.assert_allclose(sol.clones, np.broadcast_to(FAMILY.initial_state(p), (N + 1, 4)), rtol=1e-9)


def test_predict_is_accurate_and_differentiable_on_sparse_psa():
    """Monthly PSA over drug holidays without dose rows: the grid keeps steps <= 1 day (PSA decays at
    0.5/day; the dose-aligned grid alone steps 14 days there and RK4 blows up). Reference:
    ``simulate_schedule`` (agrees with a tight adaptive solve, rtol 1e-11, to 2e-9)."""
    fractions = np.where(np.arange(N) % 150 < 60, 1.0, 0.0)  # 60 days on, 90 off
    doses = m.concat([m.daily(s, s + 59, DRUG, 1000.0) for s in (0, 150, 300)])
    days = np.arange(0, N + 1, 28)
    p = params()
    y0 = FAMILY.initial_state(p).at[3].divide(p["psa_scale"])
    ref = z.simulate_schedule(z.patient("zhang2017_patient2"), y0, fractions)
    predict = FAMILY.predict(doses)
    q = {k: p[k] for k in ("psa_scale", "growth_rate_tminus")}

    def loss(q):
        pred = predict({**p, **q}, days)  # concrete times inside jit: the dense grid
        return jnp.sum(jnp.log(pred["psa"])), pred

    value_and_grad = jax.jit(jax.value_and_grad(loss, has_aux=True))
    (_, pred), grad = value_and_grad(q)
    # measured max relative errors: psa 6.8e-6, burden and T- share 2.1e-6
    np.testing.assert_allclose(pred["psa"], 1e-3 * ref.psa[days], rtol=2e-5)
    np.testing.assert_allclose(pred["burden"], ref.cells[days].sum(-1), rtol=2e-5)
    np.testing.assert_allclose(pred["resistant_fraction"], z.resistant_share(ref)[days], rtol=2e-5)

    assert np.isclose(grad["psa_scale"], len(days) / 1e-3, rtol=1e-10)  # PSA is proportional to psa_scale
    r, h = q["growth_rate_tminus"], 1e-6 * q["growth_rate_tminus"]
    (up, _), _ = value_and_grad({**q, "growth_rate_tminus": r + h})
    (down, _), _ = value_and_grad({**q, "growth_rate_tminus": r - h})
    assert abs(float(grad["growth_rate_tminus"])) > 0
    np.testing.assert_allclose(grad["growth_rate_tminus"], (up - down) / (2 * h), rtol=1e-5)
    hessian = jax.jit(jax.hessian(lambda q: loss(q)[0]))(q)  # forward over reverse, as the Laplace fit
    assert all(np.isfinite(float(v)) for row in hessian.values() for v in row.values())


def test_bad_inputs_name_the_value():
    p = params()
    with pytest.raises(ValueError, match=r"ZhangFamily: a21=-0.4 is invalid"):
        FAMILY.build({**p, "a21": -0.4})
    with pytest.raises(ValueError, match=r"ZhangFamily: psa_scale=0.0 is invalid"):
        FAMILY.initial_state({**p, "psa_scale": 0.0})
    with pytest.raises(ValueError, match=r"params lack \['psa_decay'\]"):
        FAMILY.build({k: v for k, v in p.items() if k != "psa_decay"})
    with pytest.raises(ValueError, match=r"free=\['growth_rate'\] unknown"):
        m.ZhangFamily(free=("growth_rate",))
    with pytest.raises(ValueError, match="base='patient3' unknown"):
        m.ZhangFamily(base="patient3")
    with pytest.raises(ValueError, match="unknown patient 'patient3'"):
        m.ZhangFamily.patient_parameters("patient3")
    model = FAMILY.build(p)
    with pytest.raises(ValueError, match="LawsonGrid needs a TumourModel .* ZhangTumour"):
        m.solve(
            model,
            FAMILY.initial_state(p),
            m.daily(0, 2, DRUG, 1000.0),
            TS[:4],
            options=m.SolverOptions(grid=m.LawsonGrid()),
        )
    with pytest.raises(ValueError, match="tumour must be an AbstractTumour .* got str"):
        m.DiseaseModel({DRUG: m.DailyExposure(reference_mg=1000.0)}, "T+")
    with pytest.raises(TypeError, match="abstract"):
        m.AbstractTumour()
