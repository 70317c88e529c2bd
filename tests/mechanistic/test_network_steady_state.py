"""Quasi-steady state: agreement with the dynamics, implicit gradients, non-convergence reported."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechanistic import (
    NetworkConvergenceError,
    Perturbation,
    SignallingNetwork,
    check_steady_state,
    steady_state,
)

# a positive feedback loop (A <-> B) fed by an input, with an inhibitor: cycles, so the
# continuation-Newton path is used
CYCLIC = """
S = 1
I = 1
A = S | B
B = A & !I
OUT = A & B
"""


@eqx.filter_jit
def relax(net, pert, x0, t1=200.0):
    """The dynamics run to t1 (a reference for the fixed point)."""
    term = diffrax.ODETerm(lambda t, y, args: net.rhs(y, pert))
    sol = diffrax.diffeqsolve(
        term,
        diffrax.Tsit5(),
        0.0,
        t1,
        None,
        x0,
        stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-12),
        max_steps=100_000,
    )
    return sol.ys[-1]


@pytest.fixture(scope="module")
def cyclic():
    return SignallingNetwork.from_rules(CYCLIC, tau={"A": 0.3, "B": 1.0, "OUT": 0.5}, level={"I": 0.4})


def test_fixed_point_matches_the_relaxed_dynamics(cyclic):
    x0 = jnp.full(cyclic.n_nodes, 0.5)
    for factor in (1.0, 0.3):
        pert = Perturbation.none(cyclic.n_nodes).with_factor(jnp.ones(cyclic.n_nodes).at[2].set(factor))
        ss = check_steady_state(steady_state(cyclic, pert, x0))
        assert bool(ss.stable) and ss.residual < 1e-10
        np.testing.assert_allclose(ss.x, relax(cyclic, pert, x0), atol=1e-7)


def test_implicit_gradient_matches_finite_differences(cyclic):
    def out(factor, level):
        net = eqx.tree_at(lambda n: n.level, cyclic, cyclic.level.at[1].set(level))
        pert = Perturbation.none(net.n_nodes).with_factor(jnp.ones(net.n_nodes).at[2].set(factor))
        return steady_state(net, pert).x[-1]

    g = jax.grad(out, argnums=(0, 1))(0.7, 0.4)
    h = 1e-6
    fd = ((out(0.7 + h, 0.4) - out(0.7 - h, 0.4)) / (2 * h), (out(0.7, 0.4 + h) - out(0.7, 0.4 - h)) / (2 * h))
    assert abs(g[0]) > 1e-3 and abs(g[1]) > 1e-3
    np.testing.assert_allclose(g, fd, rtol=1e-5)


def test_oscillator_is_reported_not_returned():
    # a three-node negative ring with steep Hill functions oscillates: no stable fixed point
    ring = SignallingNetwork.from_rules("A = !C\nB = A\nC = B")
    steep = eqx.tree_at(lambda n: n.hill_n, ring, jnp.full_like(ring.hill_n, 8.0))
    ss = steady_state(steep)
    assert not bool(ss.converged) and not bool(ss.stable)
    with pytest.raises(NetworkConvergenceError, match="unstable"):
        check_steady_state(ss, "the ring")
    # a shallow ring is damped: its fixed point is stable and accepted
    assert bool(steady_state(ring).converged)


def test_vmapped_over_perturbations(cyclic):
    factors = jnp.linspace(0.0, 1.0, 5)
    perts = jax.vmap(lambda f: Perturbation.none(cyclic.n_nodes).with_factor(jnp.ones(cyclic.n_nodes).at[2].set(f)))(
        factors
    )
    batch = jax.vmap(lambda p: steady_state(cyclic, p))(perts)
    one = steady_state(cyclic, jax.tree_util.tree_map(lambda a: a[3], perts))
    assert batch.x.shape == (5, cyclic.n_nodes) and bool(jnp.all(batch.converged))
    np.testing.assert_allclose(batch.x[3], one.x, atol=1e-12)
