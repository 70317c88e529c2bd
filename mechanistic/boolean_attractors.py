"""Exhaustive attractor search of a network's Boolean model (synchronous and asynchronous).

Inputs (nodes without inputs) are held at their level (on where >= 0.5) and ``fixed`` nodes are
clamped, so the search runs over the ``2^m`` states of the other ``m`` nodes (``m`` at most
:data:`MAX_FREE_NODES`). An attractor is returned as a tuple of states, each a tuple of 0/1 per
network node; a fixed point is an attractor of one state.

- Synchronous: all nodes update at once; attractors are the cycles of the state map.
- Asynchronous (general asynchronous): one node updates at a time; attractors are the terminal
  strongly connected components of the state-transition graph. Its fixed points are the
  synchronous ones; its other attractors can differ.
- Fixed points only (:func:`boolean_fixed_points`): enumerated over a feedback vertex set of the
  free nodes (``2^|FVS|`` candidates; the other nodes follow by propagation through the acyclic
  rest), so networks with many free nodes but few feedback loops are searched exactly.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from mechanistic.network import SignallingNetwork

MAX_FREE_NODES = 22


def _every_setting(base: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """``(2^len(nodes), n)`` Boolean states: ``base`` with every on/off setting of ``nodes``
    (state ``k`` sets node ``nodes[j]`` to bit ``j`` of ``k``)."""
    codes = np.arange(2 ** len(nodes), dtype=np.int64)
    states = np.broadcast_to(base, (codes.size, base.size)).copy()
    for j, i in enumerate(nodes):
        states[:, i] = (codes >> j) & 1 == 1
    return states


def _state_space(network: SignallingNetwork, fixed: Mapping[str, bool] | None):
    fixed = dict(fixed or {})
    for name in fixed:
        network.index(name)
    clamped = network.is_input.copy()
    base = np.asarray(network.level) >= 0.5
    for name, value in fixed.items():
        clamped[network.index(name)] = True
        base[network.index(name)] = bool(value)
    free = np.flatnonzero(~clamped)
    if free.size > MAX_FREE_NODES:
        raise ValueError(
            f"exhaustive search over {free.size} free nodes (2^{free.size} states) is too large; "
            f"at most {MAX_FREE_NODES} (clamp nodes with `fixed`)"
        )
    return _every_setting(base, free), free, fixed


def _encode(states: np.ndarray, free: np.ndarray) -> np.ndarray:
    code = np.zeros(states.shape[0], dtype=np.int64)
    for j, i in enumerate(free):
        code |= states[:, i].astype(np.int64) << j
    return code


def _as_tuple(state: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in state)


def synchronous_attractors(network: SignallingNetwork, fixed: Mapping[str, bool] | None = None):
    """All attractors (cycles) of the synchronous update, each a tuple of states in cycle order."""
    states, free, fixed = _state_space(network, fixed)
    succ = _encode(network.boolean_update(states, fixed), free)
    alive = np.unique(succ)
    while True:  # the image of the map shrinks to the union of its cycles
        nxt = np.unique(succ[alive])
        if nxt.size == alive.size:
            break
        alive = nxt
    seen, out = set(), []
    for start in alive:
        if start in seen:
            continue
        cycle, s = [], start
        while s not in seen:
            seen.add(s)
            cycle.append(s)
            s = succ[s]
        out.append(tuple(_as_tuple(states[c]) for c in cycle))
    return sorted(out)


def asynchronous_attractors(network: SignallingNetwork, fixed: Mapping[str, bool] | None = None):
    """All attractors of the general asynchronous update (terminal strongly connected
    components of the state-transition graph), each a sorted tuple of states."""
    states, free, fixed = _state_space(network, fixed)
    n = states.shape[0]
    update = network.boolean_update(states, fixed)
    rows, cols = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    codes = np.arange(n, dtype=np.int64)
    for j, i in enumerate(free):
        flip = update[:, i] != states[:, i]
        rows.append(codes[flip])
        cols.append(codes[flip] ^ (1 << j))
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = sp.csr_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n))
    _, label = connected_components(graph, directed=True, connection="strong")
    leaving = np.zeros(int(label.max()) + 1, dtype=bool)
    leaving[label[rows[label[rows] != label[cols]]]] = True
    out = []
    for comp in np.flatnonzero(~leaving):
        members = np.flatnonzero(label == comp)
        out.append(tuple(sorted(_as_tuple(states[c]) for c in members)))
    return sorted(out)


def fixed_points(attractors) -> list[tuple[int, ...]]:
    """The single-state attractors."""
    return [a[0] for a in attractors if len(a) == 1]


def _feedback_vertex_set(graph: nx.DiGraph) -> list[int]:
    """A small (greedy, not minimum) set of nodes whose removal leaves ``graph`` acyclic."""
    g, chosen = graph.copy(), []
    while not nx.is_directed_acyclic_graph(g):
        cyclic = [c for c in nx.strongly_connected_components(g) if len(c) > 1 or g.has_edge(*[next(iter(c))] * 2)]
        node = max((v for c in cyclic for v in c), key=lambda v: (g.has_edge(v, v), g.in_degree(v) * g.out_degree(v)))
        chosen.append(node)
        g.remove_node(node)
    return sorted(chosen)


def boolean_fixed_points(network: SignallingNetwork, fixed: Mapping[str, bool] | None = None):
    """All fixed points of the Boolean model (inputs at their level, ``fixed`` nodes clamped), each a
    tuple of 0/1 per node, sorted; the same set as ``fixed_points(synchronous_attractors(...))`` but
    searched over a feedback vertex set of the free nodes (at most :data:`MAX_FREE_NODES` of them)."""
    fixed = dict(fixed or {})
    clamped = network.is_input.copy()
    base = np.asarray(network.level) >= 0.5
    for name, value in fixed.items():
        clamped[network.index(name)] = True
        base[network.index(name)] = bool(value)
    free = set(np.flatnonzero(~clamped).tolist())
    g = nx.DiGraph()
    g.add_nodes_from(free)
    g.add_edges_from((u, i) for i in free for u in network.inputs[i] if u in free)
    fvs = np.asarray(_feedback_vertex_set(g), dtype=int)
    if fvs.size > MAX_FREE_NODES:
        raise ValueError(
            f"the free nodes have a feedback vertex set of {fvs.size} nodes (2^{fvs.size} candidates); at most "
            f"{MAX_FREE_NODES} (clamp nodes with `fixed`)"
        )
    states = _every_setting(base, fvs)
    for _ in range(len(free) - fvs.size + 1):  # the acyclic rest settles after its depth + 1 sweeps
        update = network.boolean_update(states, fixed)
        update[:, fvs] = states[:, fvs]
        states = update
    consistent = np.all(network.boolean_update(states, fixed) == states, axis=1)
    return sorted({_as_tuple(s) for s in states[consistent]})
