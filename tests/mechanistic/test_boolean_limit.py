"""The Boolean limit: with very steep Hill functions the continuous network's stable steady states
are the fixed points of the same network read as a Boolean model (exhaustive attractor search),
on the shipped EGFR network and on random small networks (property-based)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mechanistic import (
    Perturbation,
    SignallingNetwork,
    SteadyStateOptions,
    asynchronous_attractors,
    steady_state,
    synchronous_attractors,
)
from mechanistic.boolean_attractors import fixed_points
from mechanistic.egfr_network import egfr_network

STEEP = 60.0  # Hill coefficient of the Boolean limit
OPTIONS = SteadyStateOptions(newton=60)


def steep(net: SignallingNetwork) -> SignallingNetwork:
    """Very steep Hill functions and fast nodes (tau / 100)."""
    return eqx.tree_at(lambda n: (n.hill_n, n.tau), net, (jnp.full_like(net.hill_n, STEEP), net.tau / 100))


def clamp(net: SignallingNetwork, fixed: dict[str, bool]) -> Perturbation:
    """The continuous perturbation that clamps nodes like the Boolean ``fixed``: on = constitutive
    (floor 1), off = fully inhibited (factor 0)."""
    p = Perturbation.none(net.n_nodes)
    for name, on in fixed.items():
        i = net.index(name)
        p = Perturbation(p.floor.at[i].set(1.0 if on else 0.0), p.gain, p.loss, p.factor.at[i].set(1.0 if on else 0.0))
    return p


def solve_from(net, pert, starts):
    return jax.vmap(lambda x0: steady_state(net, pert, x0, OPTIONS))(jnp.asarray(starts, dtype=float))


def check_boolean_limit(net: SignallingNetwork, fixed: dict[str, bool], key, n_random: int = 16):
    sync = synchronous_attractors(net, fixed)
    points = fixed_points(sync)
    cont = steep(net)
    pert = clamp(cont, fixed)
    free = ~net.is_input  # inputs stay at their level; the Boolean model reads them as on where >= 0.5
    # one batch: the Boolean fixed points, then random starts
    corner = np.asarray(points, dtype=float).reshape(-1, net.n_nodes)
    starts = jnp.concatenate([jnp.asarray(corner), jax.random.uniform(key, (n_random, net.n_nodes))])
    ss = solve_from(cont, pert, starts)
    k = len(points)
    # every Boolean fixed point is a stable steady state of the steep continuous network
    assert bool(jnp.all(ss.converged[:k])), f"Boolean fixed points {points} not stable in the continuous limit"
    np.testing.assert_allclose(ss.x[:k, free], corner[:, free], atol=1e-6)
    # every steady state reached from a random start that lies at a corner is a Boolean fixed point
    found = 0
    corners = {tuple(np.asarray(p)[free]) for p in points}
    for x, ok in zip(np.asarray(ss.x)[k:, free], np.asarray(ss.converged)[k:], strict=True):
        if ok and np.all(np.minimum(x, 1 - x) < 1e-3):
            found += 1
            assert tuple(int(v) for v in np.round(x)) in corners, f"steady state {np.round(x, 3)} is not a Boolean one"
    return points, found


CONDITIONS = [
    {},  # no mutation, no drug
    {"EGFR": True},  # activating EGFR mutation
    {"EGFR": True, "MEK": False},  # ... under a MEK inhibitor at full inhibition
    {"EGFR": False, "MET": True},  # EGFR inhibited, MET constitutively active
]


@pytest.mark.parametrize("fixed", CONDITIONS, ids=["untreated", "EGFR-mutant", "EGFR+MEKi", "EGFRi+MET"])
def test_shipped_network_boolean_limit(fixed):
    net = egfr_network()
    points, found = check_boolean_limit(net, fixed, jax.random.key(1))
    assert len(points) == 1 and found > 0  # acyclic: one fixed point, reached from every start


def test_shipped_network_behaviour_in_the_boolean_model():
    net = egfr_network()
    state = lambda fixed: dict(zip(net.nodes, fixed_points(synchronous_attractors(net, fixed))[0], strict=True))  # noqa: E731
    mutant = state({"EGFR": True})
    assert mutant["PROLIFERATION"] == 1 and mutant["APOPTOSIS"] == 0
    inhibited = state({"EGFR": False})
    assert inhibited["PROLIFERATION"] == 0 and inhibited["APOPTOSIS"] == 1
    bypass = state({"EGFR": False, "MET": True})
    assert bypass["PROLIFERATION"] == 1 and bypass["APOPTOSIS"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("fixed", CONDITIONS[:2], ids=["untreated", "EGFR-mutant"])
def test_shipped_network_asynchronous_fixed_points_are_the_synchronous_ones(fixed):
    net = egfr_network()
    sync, asyn = synchronous_attractors(net, fixed), asynchronous_attractors(net, fixed)
    assert fixed_points(sync) == fixed_points(asyn)
    assert all(len(a) == 1 for a in asyn)


@st.composite
def random_networks(draw):
    n = draw(st.integers(2, 6))
    g = nx.DiGraph()
    names = [f"N{i}" for i in range(n)]
    for name in names:
        g.add_node(name, logic=draw(st.sampled_from(["or", "and"])), level=float(draw(st.booleans())))
    for target in names:
        sources = draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
        for s in sources:
            g.add_edge(s, target, sign=draw(st.sampled_from([1, -1])), k=draw(st.sampled_from([0.3, 0.5, 0.7])))
    return SignallingNetwork.from_graph(g)


def random_network_property(net):
    points, _ = check_boolean_limit(net, {}, jax.random.key(0), n_random=8)
    # both update schemes have the same fixed points (they differ only in cyclic attractors)
    assert fixed_points(asynchronous_attractors(net)) == points


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(random_networks())
def test_random_networks_boolean_limit(net):
    random_network_property(net)  # one compile per network: a dozen examples here, more in the slow run


@pytest.mark.slow  # one compile per network (~5 s each on 2 cores): 60 networks, not 150, to fit CI's budget
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_networks())
def test_random_networks_boolean_limit_many(net):
    random_network_property(net)
