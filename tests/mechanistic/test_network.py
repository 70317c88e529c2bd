"""Network construction: graphs, rule text, SIF, GraphML; the continuous logic; bad input."""

import equinox as eqx
import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from mechanistic import RuleSyntaxError, SignallingNetwork, read_graphml, read_sif
from mechanistic.boolean_rules import parse_rules

RULES = """
EGF = 1
PTEN = 1
EGFR = EGF
PI3K = EGFR
AKT = PI3K & !PTEN   # comment
ERK = EGFR | PI3K
"""


def test_rules_build_the_expected_truth_tables():
    net = SignallingNetwork.from_rules(RULES)
    assert net.nodes == ("EGF", "PTEN", "EGFR", "PI3K", "AKT", "ERK")
    akt = net.index("AKT")
    assert [net.nodes[i] for i in net.inputs[akt]] == ["PI3K", "PTEN"]
    assert net.signs[akt] == (1, -1)
    # bit 0 = PI3K, bit 1 = PTEN: only (PI3K on, PTEN off) is on
    assert net.truth[akt] == (False, True, False, False)
    assert net.truth[net.index("ERK")] == (False, True, True, True)
    assert net.is_acyclic() and net.depth() == 3


def test_graph_logic_or_and_with_inhibitors():
    g = nx.DiGraph()
    g.add_edge("A", "X", sign="activation")
    g.add_edge("B", "X", sign=1)
    g.add_edge("C", "X", sign="-|")
    g.add_edge("A", "Y", sign=1)
    g.add_edge("B", "Y", sign=1)
    g.add_edge("C", "Y", sign=-1)
    g.nodes["Y"]["logic"] = "and"
    net = SignallingNetwork.from_graph(g)
    x, y = net.index("X"), net.index("Y")
    code = np.arange(8)
    a, b, c = code & 1, (code >> 1) & 1, (code >> 2) & 1
    assert np.array_equal(net.truth[x], ((a | b) & (1 - c)).astype(bool))
    assert np.array_equal(net.truth[y], (a & b & (1 - c)).astype(bool))


def test_continuous_logic_is_exact_at_corners_and_follows_hill():
    net = SignallingNetwork.from_rules("A = 1\nB = 1\nX = A & !B\nY = A | B")
    for a in (0.0, 1.0):
        for b in (0.0, 1.0):
            out = net.interpolate(jnp.array([a, b, 0.0, 0.0]))
            assert out[2] == pytest.approx(float(a == 1 and b == 0), abs=1e-12)
            assert out[3] == pytest.approx(float(a == 1 or b == 1), abs=1e-12)
    # one input: normalized Hill f(u) = u^n (1 + k^n) / (u^n + k^n), k = 0.5, n = 3
    u = 0.3
    f = u**3 * (1 + 0.5**3) / (u**3 + 0.5**3)
    out = net.interpolate(jnp.array([u, 0.0, 0.0, 0.0]))
    assert out[2] == pytest.approx(f, rel=1e-12)
    out = net.interpolate(jnp.array([u, u, 0.0, 0.0]))  # OR: 1 - (1 - f)^2
    assert out[3] == pytest.approx(1 - (1 - f) ** 2, rel=1e-12)
    assert out[2] == pytest.approx(f * (1 - f), rel=1e-12)


def test_graph_round_trip_and_graphml(tmp_path):
    net = SignallingNetwork.from_rules(RULES, tau=0.01, level={"EGF": 0.4})
    back = SignallingNetwork.from_graph(net.to_graph())
    assert back.truth == net.truth and back.nodes == net.nodes
    assert np.allclose(back.level, net.level) and np.allclose(back.tau, net.tau)
    path = tmp_path / "net.graphml"
    nx.write_graphml(net.to_graph(), path)
    again = read_graphml(path)  # input order may differ; the logic may not
    states = np.random.default_rng(0).random((64, net.n_nodes)) < 0.5
    assert again.nodes == net.nodes
    assert np.array_equal(again.boolean_update(states), net.boolean_update(states))
    x = jnp.linspace(0.1, 0.9, net.n_nodes)
    assert np.allclose(again.interpolate(x), net.interpolate(x))


def test_sif_reader(tmp_path):
    path = tmp_path / "net.sif"
    path.write_text("EGF 1 EGFR\nEGFR 1 ERK PI3K\nPTEN -1 AKT\nPI3K activates AKT\n")
    net = read_sif(path)
    akt = net.index("AKT")
    assert {net.nodes[i] for i in net.inputs[akt]} == {"PTEN", "PI3K"}
    bad = tmp_path / "bad.sif"
    bad.write_text("A 1 B\nB sideways C\n")
    with pytest.raises(ValueError, match=r"line 2: sign 'sideways' is not valid"):
        read_sif(bad)


def test_gradients_through_the_interpolation():
    net = SignallingNetwork.from_rules(RULES)
    x = jnp.full(net.n_nodes, 0.6)
    g = jax.grad(lambda k: jnp.sum(eqx.tree_at(lambda n: n.hill_k, net, k).interpolate(x)))(net.hill_k)
    assert np.all(np.isfinite(g)) and np.any(g != 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AKT = PI3K & & PTEN\nPI3K = 1\nPTEN = 1", r"line 1, column 14: expected a node name"),
        ("AKT = (PI3K | PTEN\nPI3K = 1\nPTEN = 1", r"line 1, column 19: expected '\)'"),
        ("A = 1\nB = A C", r"line 2, column 7: unexpected 'C' after a complete expression"),
        ("A = 1\n= A", r"line 2, column 1: expected 'TARGET = expression'"),
        ("A = 1\nB = A $ 1", r"line 2, column 7: unexpected character '\$'"),
        ("A = 1\nA = 0", r"line 2, column 1: node 'A' already has a rule"),
    ],
)
def test_rule_syntax_errors_show_the_position(text, message):
    with pytest.raises(RuleSyntaxError, match=message) as err:
        parse_rules(text)
    assert "^" in str(err.value)


def test_edges_to_missing_nodes_and_bad_attributes():
    with pytest.raises(ValueError, match=r"edges to missing nodes: 'PTEN' \(used by 'AKT'\)"):
        SignallingNetwork.from_rules("PI3K = 1\nAKT = PI3K & !PTEN")
    g = nx.DiGraph()
    g.add_edge("A", "B", sign="up")
    with pytest.raises(ValueError, match=r"edge 'A' -> 'B': sign 'up' is not valid"):
        SignallingNetwork.from_graph(g)
    g = nx.DiGraph()
    g.add_edge("A", "B")
    g.nodes["B"]["rule"] = "A & C"
    with pytest.raises(ValueError, match=r"node 'B': rule uses \['C'\] but the graph has no edge"):
        SignallingNetwork.from_graph(g)
    g.nodes["B"]["kind"] = "enzyme"
    g.nodes["B"]["rule"] = "A"
    with pytest.raises(ValueError, match=r"node 'B': kind 'enzyme' is not valid"):
        SignallingNetwork.from_graph(g)
    g.nodes["B"]["kind"] = "protein"
    g.edges["A", "B"]["k"] = -0.5
    with pytest.raises(ValueError, match=r"hill_k\[1, 0\]=-0.5 is invalid"):
        SignallingNetwork.from_graph(g)
    with pytest.raises(ValueError, match=r"level given for nodes that are not inputs: \['AKT'\]"):
        SignallingNetwork.from_rules(RULES, level={"AKT": 0.5})
