"""Growth laws against their closed forms; competition, mutation flow, costs, drug effects."""

import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m

T = np.linspace(0.0, 200.0, 41)
TIGHT = m.SolverOptions(rtol=1e-11, atol=1e-12)


def grow(tumour, y0, pk=None, doses=None, ts=T):
    model = m.DiseaseModel(pk or {}, tumour)
    sol = m.solve(model, jnp.asarray(y0, float), doses, ts, options=TIGHT)
    assert bool(sol.ok)
    return np.asarray(sol.clones)


def test_exponential_matches_closed_form():
    got = grow(m.TumourModel(["a"], "exponential", growth_rate=0.03), [50.0])[:, 0]
    np.testing.assert_allclose(got, 50.0 * np.exp(0.03 * T), rtol=1e-6)


def test_logistic_matches_closed_form():
    r, k, v0 = 0.05, 1e4, 20.0
    got = grow(m.TumourModel(["a"], "logistic", growth_rate=r, capacity=k), [v0])[:, 0]
    np.testing.assert_allclose(got, k / (1 + (k / v0 - 1) * np.exp(-r * T)), rtol=1e-6)


def test_gompertz_matches_closed_form():
    r, k, v0 = 0.02, 5e4, 100.0
    got = grow(m.TumourModel(["a"], "gompertz", growth_rate=r, capacity=k), [v0])[:, 0]
    np.testing.assert_allclose(got, k * np.exp(np.log(v0 / k) * np.exp(-r * T)), rtol=1e-6)


def test_general_bertalanffy_matches_closed_form():
    a, b, g, v0 = 0.5, 0.01, 0.7, 30.0  # dV/dt = a V^g - b V
    got = grow(m.TumourModel(["a"], "bertalanffy", growth_rate=a, bertalanffy_exponent=g, death_rate=b), [v0])[:, 0]
    expected = (a / b + (v0 ** (1 - g) - a / b) * np.exp(-(1 - g) * b * T)) ** (1 / (1 - g))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_fitness_cost_and_turnover_lower_the_net_rate():
    tum = m.TumourModel(["s", "r"], "exponential", growth_rate=0.03, fitness_cost=[0.0, 0.4], death_rate=[0.01, 0.0])
    got = grow(tum, [1.0, 1.0])
    np.testing.assert_allclose(got[:, 0], np.exp(0.02 * T), rtol=1e-6)
    np.testing.assert_allclose(got[:, 1], np.exp(0.018 * T), rtol=1e-6)


def test_mutation_flow_moves_cells_between_clones():
    r, mu = 0.02, 1e-3
    tum = m.TumourModel(["s", "r"], "exponential", growth_rate=r, mutation_rate=[[0.0, mu], [0.0, 0.0]])
    got = grow(tum, [100.0, 0.0])
    np.testing.assert_allclose(got[:, 0], 100 * np.exp((r - mu) * T), rtol=1e-6)
    np.testing.assert_allclose(got[1:, 1], 100 * np.exp(r * T[1:]) * (1 - np.exp(-mu * T[1:])), rtol=1e-6)


def test_lotka_volterra_competition_reaches_coexistence_equilibrium():
    # N1 + 0.5 N2 = 1 and 0.4 N1 + N2 = 0.8  =>  N* = (0.75, 0.5)
    tum = m.TumourModel(
        ["a", "b"], "logistic", growth_rate=0.1, capacity=[1.0, 0.8], competition=[[1.0, 0.5], [0.4 / 0.8 * 0.8, 1.0]]
    )
    got = grow(tum, [0.01, 0.01], ts=np.array([0.0, 3000.0]))
    np.testing.assert_allclose(got[-1], [0.75, 0.5], rtol=1e-8)


def test_emax_kill_and_growth_inhibition_under_constant_exposure():
    c, r, emax, ec50 = 2.0, 0.03, 0.05, 1.0
    effect = m.EmaxEffect([[emax], [0.0]], ec50=ec50)
    inhibit = m.LinearEffect([[0.0], [0.25]])
    tum = m.TumourModel(["s", "r"], "exponential", growth_rate=r, kill=effect, growth_inhibition=inhibit)
    doses = m.dose(0.0, "D", c * 300.0, "infusion", duration=300.0)
    got = grow(tum, [10.0, 10.0], pk={"D": m.DirectExposure()}, doses=doses)
    np.testing.assert_allclose(got[:, 0], 10 * np.exp((r - emax * c / (ec50 + c)) * T), rtol=1e-6)
    np.testing.assert_allclose(got[:, 1], 10 * np.exp(r * (1 - 0.25 * c) * T), rtol=1e-6)


def test_stein_biexponential():
    model = m.SteinBiexponential(baseline=80.0, growth_rate=0.002, shrinkage_rate=0.01)
    t = np.linspace(0, 2000, 200001)
    sld = np.asarray(model(t))
    assert sld[0] == pytest.approx(80.0)
    assert t[np.argmin(sld)] == pytest.approx(float(model.nadir_time()), abs=0.02)
    assert float(model(100.0)) == pytest.approx(80 * (np.exp(-1.0) + np.exp(0.2) - 1), rel=1e-14)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(clones=["a"], growth="weibull", growth_rate=0.1), "unknown growth law 'weibull'"),
        (dict(clones=["a", "b"], growth="exponential", growth_rate=[0.1, 0.2, 0.3]), "growth_rate must be"),
        (dict(clones=["a"], growth="exponential", growth_rate=float("nan")), r"growth_rate\[0\]=nan"),
        (dict(clones=["a"], growth="logistic", growth_rate=0.1), "needs a finite capacity"),
        (dict(clones=["a"], growth="logistic", growth_rate=0.1, capacity=-5.0), r"capacity\[0\]=-5.0"),
        (dict(clones=["a"], growth="exponential", growth_rate=0.1, death_rate=-0.1), r"death_rate\[0\]"),
        (dict(clones=["a"], growth="exponential", growth_rate=0.1, fitness_cost=1.0), r"fitness_cost\[0\]=1.0"),
        (dict(clones=["a", "a"], growth="exponential", growth_rate=0.1), "distinct"),
        (
            dict(clones=["a", "b"], growth="exponential", growth_rate=0.1, mutation_rate=[[0, -1], [0, 0]]),
            r"mutation_rate\[0, 1\]",
        ),
        (
            dict(clones=["a", "b"], growth="exponential", growth_rate=0.1, kill=m.EmaxEffect([[0.1]], ec50=1.0)),
            "1 rows but there are 2 clones",
        ),
    ],
)
def test_bad_tumour_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        m.TumourModel(**kwargs)


def test_effect_columns_must_match_the_model_drugs():
    tum = m.TumourModel(["a"], "exponential", growth_rate=0.1, kill=m.EmaxEffect([[0.1, 0.1]], ec50=1.0))
    with pytest.raises(ValueError, match="2 drug column"):
        m.DiseaseModel({"erlotinib": m.OneCompartment(k=1.0, v=1.0)}, tum)
    with pytest.raises(ValueError, match=r"ec50\[0, 0\]=0.0"):
        m.EmaxEffect([[0.1]], ec50=0.0)
