"""The growth laws written once: solutions against their ODEs, and the two users (the tumour model's
law names, the Laleh growth curves) built on the same objects."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from mechanistic.growth_curves import GROWTH_CURVES
from mechanistic.growth_laws import AbstractGrowthLaw, Bertalanffy, Exponential, GeneralGompertz, Gompertz, Logistic

T = np.array([0.0, 0.3, 1.0, 4.0, 10.0, 30.0])

CLOSED_FORMS = {
    "exponential": Exponential(0.2),
    "decay": Exponential(-0.1),
    "logistic": Logistic(0.4, 5.0),
    "bertalanffy": Bertalanffy(0.8, -0.3, 0.05),
    "bertalanffy_no_loss": Bertalanffy(0.8, -0.25),
    "gompertz": Gompertz(0.1, 0.3),
    "gompertz_rate_0": Gompertz(0.0, 0.2),
}


@pytest.mark.parametrize("law", CLOSED_FORMS.values(), ids=CLOSED_FORMS)
def test_closed_form_solves_its_ode(law):
    """``dV/dt`` of the closed form (autodiff in t, t > 0) equals ``rhs(V)``, and ``V(0) = v0``."""
    v0 = 0.7
    assert float(law.solution(0.0, v0)) == pytest.approx(v0, rel=1e-15)
    v, dv = jax.jvp(lambda t: law.solution(t, v0), (jnp.asarray(T[1:]),), (jnp.ones_like(T[1:]),))
    np.testing.assert_allclose(np.asarray(dv), np.asarray(law.rhs(v)), rtol=1e-12, atol=1e-15)


def test_general_gompertz_matches_a_tight_adaptive_solve_and_reduces_to_gompertz():
    law, v0 = GeneralGompertz(0.15, 0.4, -0.2), 0.05
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(lambda t, y, args: law.rhs(y)),
        diffrax.Tsit5(),
        0.0,
        T[-1],
        0.01,
        jnp.asarray(v0),
        saveat=diffrax.SaveAt(ts=jnp.asarray(T)),
        stepsize_controller=diffrax.PIDController(rtol=1e-12, atol=1e-14),
        max_steps=100_000,
    )
    np.testing.assert_allclose(np.asarray(law.solution(T, v0, substeps=64)), np.asarray(sol.ys), rtol=1e-8)
    flat = GeneralGompertz(0.15, 0.4, 0.0)
    np.testing.assert_array_equal(np.asarray(flat.solution(T, v0)), np.asarray(flat.gompertz.solution(T, v0)))
    with pytest.raises(ValueError, match=r"t must be 1-D.*shape \(2, 3\)"):
        law.solution(np.zeros((2, 3)), v0)
    with pytest.raises(ValueError, match="substeps must be >= 1; got 0"):
        law.solution(T, v0, substeps=0)


def test_gompertz_with_capacity_is_the_capacity_form():
    rate, capacity = jnp.array([0.02, 0.05]), jnp.array([2e5, 1e3])
    w = jnp.array([3e4, 7e2])
    law = Gompertz.with_capacity(rate, capacity)
    np.testing.assert_allclose(np.asarray(law.per_capita(w)), np.asarray(rate * jnp.log(capacity / w)), rtol=1e-14)
    plateau = law.solution(jnp.array([1e5]), 10.0)  # ln V relaxes to ln K
    assert float(plateau[0]) == pytest.approx(2e5, rel=1e-12)


@pytest.mark.parametrize(
    "name, kwargs, law_type",
    [
        ("exponential", {}, Exponential),
        ("logistic", dict(capacity=[1e3, 2e3]), Logistic),
        ("gompertz", dict(capacity=[1e3, 2e3]), Gompertz),
        ("bertalanffy", dict(bertalanffy_exponent=[0.7, 0.75]), Bertalanffy),
    ],
)
def test_tumour_model_uses_the_named_law(name, kwargs, law_type):
    """The name maps to the law object; the rate carries the fitness cost; the law sees the
    competition-weighted burden."""
    competition = jnp.array([[1.0, 0.5], [0.4, 1.0]])
    tum = m.TumourModel(
        ("a", "b"), name, growth_rate=[0.3, 0.2], fitness_cost=[0.0, 0.1], competition=competition, **kwargs
    )
    law = tum.growth_law()
    assert isinstance(law, law_type) and isinstance(law, AbstractGrowthLaw)
    np.testing.assert_allclose(np.asarray(law.rate), [0.3, 0.18], rtol=1e-15)
    n = jnp.array([150.0, 30.0])
    np.testing.assert_array_equal(np.asarray(tum.per_capita_growth(n)), np.asarray(law.per_capita(competition @ n)))
    assert name in m.GROWTH_LAWS


def test_unknown_law_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown growth law 'weibull'; valid laws are \('exponential', 'logistic'"):
        m.TumourModel(["a"], "weibull", growth_rate=0.1)


def test_growth_curves_are_the_laws_in_the_papers_parameters():
    """Each Laleh curve is its law's solution; ``rhs`` is the law's; the laws are the expected objects."""
    expected = {
        "exponential": (Exponential, [0.3, 0.1]),
        "logistic": (Logistic, [0.3, 4.0]),
        "classic_bertalanffy": (Bertalanffy, [0.5, 0.1]),
        "general_bertalanffy": (Bertalanffy, [0.5, 0.1, 0.8]),
        "gompertz": (Gompertz, [0.1, 0.3]),
        "general_gompertz": (GeneralGompertz, [0.1, 0.3, 0.8]),
    }
    assert tuple(expected) == tuple(GROWTH_CURVES)
    v = jnp.array([0.2, 1.0, 3.0])
    for name, (law_type, params) in expected.items():
        curve = GROWTH_CURVES[name]
        law = curve.law(jnp.asarray(params))
        assert isinstance(law, law_type), name
        np.testing.assert_array_equal(np.asarray(curve(T, [*params, 0.4])), np.asarray(law.solution(T, 0.4)))
        np.testing.assert_array_equal(np.asarray(curve.rhs(v, jnp.asarray(params))), np.asarray(law.rhs(v)))
    a, b, lam = 0.5, 0.1, 0.8  # general Bertalanffy: a V^l - b V
    rhs = GROWTH_CURVES["general_bertalanffy"].rhs(v, jnp.array([a, b, lam]))
    np.testing.assert_allclose(np.asarray(rhs), np.asarray(a * v**lam - b * v), rtol=1e-15)
    classic = GROWTH_CURVES["classic_bertalanffy"].law(jnp.array([a, b]))
    assert classic.per_capita_exponent == -1.0 / 3.0
    with pytest.raises(ValueError, match=r"gompertz: params must have shape \(2,\); got \(3,\)"):
        GROWTH_CURVES["gompertz"].law(jnp.zeros(3))


def test_laws_are_pytrees_that_vmap():
    rates = jnp.array([0.1, 0.2, 0.3])
    laws = eqx.filter_vmap(lambda r: Logistic(r, 2.0))(rates)
    v = eqx.filter_vmap(lambda law: law.solution(T, 0.5))(laws)
    assert v.shape == (3, T.size)
    np.testing.assert_array_equal(np.asarray(v[1]), np.asarray(Logistic(rates[1], 2.0).solution(T, 0.5)))
