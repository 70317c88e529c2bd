"""Signalling networks as continuous logic dynamics (normalized-Hill multivariate interpolation).

Each node ``i`` has a Boolean update function ``B_i`` of its inputs (from ``networkx`` edges with
AND/OR logic, or from rule text). Its continuous version (Wittmann et al., BMC Syst Biol 2009,
"HillCube"; as in Odefy and CNORode) interpolates ``B_i`` multilinearly between the corners of
the unit cube, after passing every input through a normalized Hill function::

    f(u) = u^n (1 + k^n) / (u^n + k^n)              (f(0) = 0, f(1) = 1)
    Bc_i(x) = sum_{b in {0,1}^m} B_i(b) prod_j [b_j f_j(x_j) + (1 - b_j)(1 - f_j(x_j))]
    dx_i/dt = (P_i(Bc_i(x)) - x_i) / tau_i

Activities ``x`` are dimensionless in [0, 1]; ``tau`` is in days. ``P_i`` applies the
node's :class:`Perturbation` (mutations and drugs). Nodes without inputs are *inputs* held at
their ``level`` (e.g. a ligand). Because the interpolation is exact at the cube's corners, every
fixed point of the Boolean network is a fixed point of the continuous one, for any Hill constant.

Build from a ``networkx.DiGraph`` (:meth:`SignallingNetwork.from_graph`), rule text
(:meth:`~SignallingNetwork.from_rules`), parsed rules (:meth:`~SignallingNetwork.from_expressions`),
or SIF / GraphML files (:func:`read_sif`, :func:`read_graphml`); the community's Boolean formats
are read by :mod:`mechanistic.sbml_qual`, :mod:`mechanistic.boolnet` and :mod:`mechanistic.maboss`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from mechanistic import boolean_rules
from mechanistic.checks import check_range

NODE_KINDS: tuple[str, ...] = ("protein", "gene", "phenotype")
LOGIC: tuple[str, ...] = ("or", "and")
DEFAULT_HILL_K = 0.5  # normalized Hill constant (activity of half effect), CNORode default
DEFAULT_HILL_N = 3.0  # Hill coefficient, CNORode default
DEFAULT_TAU = 1.0 / 24.0  # day: one hour
MAX_INPUTS = 12  # the interpolation costs 2^inputs per node

_SIGNS = {
    "activation": 1,
    "activates": 1,
    "+": 1,
    "1": 1,
    "->": 1,
    "inhibition": -1,
    "inhibits": -1,
    "-": -1,
    "-1": -1,
    "-|": -1,
}


def parse_sign(value, where: str) -> int:
    """Edge sign from ``+1/-1`` or words ('activation', 'inhibition', '->', '-|', ...)."""
    key = str(value).strip().lower()
    if isinstance(value, int | float) and not isinstance(value, bool) and value in (1, -1):
        key = str(int(value))
    if key not in _SIGNS:
        raise ValueError(f"{where}: sign {value!r} is not valid; use one of {sorted(set(_SIGNS))}")
    return _SIGNS[key]


class Perturbation(eqx.Module):
    """Node-wise changes to a network, each of shape ``(n_nodes,)``, applied in this order to
    the interpolated input ``Bc``::

        constitutive:  B1 = floor + (1 - floor) Bc       (gain of function: floor 1)
        amplification: B2 = gain B1 / (1 + (gain - 1) B1)  (gain > 1 raises weak signals)
        loss:          B3 = (1 - loss) B2                (loss of function: loss 1)
        drugs:         P  = factor B3                    (factor = prod_d (1 - inhibition_d))
    """

    floor: jax.Array
    gain: jax.Array
    loss: jax.Array
    factor: jax.Array

    @classmethod
    def none(cls, n_nodes: int) -> Perturbation:
        return cls(jnp.zeros(n_nodes), jnp.ones(n_nodes), jnp.zeros(n_nodes), jnp.ones(n_nodes))

    def apply(self, b: jax.Array) -> jax.Array:
        b = self.floor + (1.0 - self.floor) * b
        b = self.gain * b / (1.0 + (self.gain - 1.0) * b)
        return self.factor * (1.0 - self.loss) * b

    def with_factor(self, factor: jax.Array) -> Perturbation:
        return eqx.tree_at(lambda p: p.factor, self, self.factor * factor)


def _normalized_hill(u: jax.Array, k: jax.Array, n: jax.Array) -> jax.Array:
    positive = u > 0.0
    un = jnp.where(positive, jnp.exp(n * jnp.log(jnp.where(positive, u, 1.0))), 0.0)
    kn = k**n
    return un * (1.0 + kn) / (un + kn)


class SignallingNetwork(eqx.Module):
    """A signalling network with continuous logic dynamics (module docstring).

    Array leaves (differentiable, vmappable): ``hill_k (n, M)``, ``hill_n (n, M)`` per node
    and input slot (``M`` = most inputs of any node), ``tau (n,)`` day, ``level (n,)`` the
    activity of input nodes. Static structure: ``nodes``, ``kinds``, ``inputs`` (indices of
    each node's inputs), ``signs`` (+1/-1 per input, as drawn), ``truth`` (each node's truth
    table; entry ``b`` has bit ``j`` = input ``j``), ``rules`` (the logic as text).
    """

    hill_k: jax.Array
    hill_n: jax.Array
    tau: jax.Array
    level: jax.Array
    nodes: tuple[str, ...] = eqx.field(static=True)
    kinds: tuple[str, ...] = eqx.field(static=True)
    inputs: tuple[tuple[int, ...], ...] = eqx.field(static=True)
    signs: tuple[tuple[int, ...], ...] = eqx.field(static=True)
    truth: tuple[tuple[bool, ...], ...] = eqx.field(static=True)
    rules: tuple[str, ...] = eqx.field(static=True)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_graph(cls, graph: nx.DiGraph) -> SignallingNetwork:
        """Build from a ``networkx.DiGraph``.

        Node attributes: ``kind`` (one of :data:`NODE_KINDS`, default protein), ``tau`` (day),
        ``level`` (activity of an input node, default 1), and either ``logic`` ('or': any
        activator and no inhibitor, the default; 'and': all activators and no inhibitor) or
        ``rule`` (a Boolean expression over the node's inputs, e.g. ``"EGFR & !PTEN"``).
        Edge attributes: ``sign`` (+1/-1, 'activation'/'inhibition'), ``k`` (Hill constant,
        default 0.5), ``n`` (Hill coefficient, default 3).
        """
        if not isinstance(graph, nx.DiGraph):
            raise ValueError(f"expected a networkx.DiGraph, got {type(graph).__name__}")
        if graph.number_of_nodes() == 0:
            raise ValueError("the graph has no nodes")
        nodes = tuple(str(v) for v in graph.nodes)
        index = {v: i for i, v in enumerate(graph.nodes)}
        kinds, inputs, signs, truth, rules, taus, levels, ks, ns = [], [], [], [], [], [], [], [], []
        for v in graph.nodes:
            attrs = graph.nodes[v]
            kind = attrs.get("kind", "protein")
            if kind not in NODE_KINDS:
                raise ValueError(f"node {v!r}: kind {kind!r} is not valid; use one of {NODE_KINDS}")
            preds = list(graph.predecessors(v))
            if len(preds) > MAX_INPUTS:
                raise ValueError(f"node {v!r} has {len(preds)} inputs; at most {MAX_INPUTS} are supported")
            sgn = [parse_sign(graph.edges[u, v].get("sign", 1), f"edge {u!r} -> {v!r}") for u in preds]
            expr = _node_expression(v, attrs, [str(u) for u in preds], sgn)
            kinds.append(kind)
            inputs.append(tuple(index[u] for u in preds))
            signs.append(tuple(sgn))
            truth.append(_truth_table(expr, [str(u) for u in preds]))
            rules.append(boolean_rules.to_text(expr) if preds else "input")
            taus.append(attrs.get("tau", DEFAULT_TAU))
            levels.append(attrs.get("level", 1.0))
            ks.append([graph.edges[u, v].get("k", DEFAULT_HILL_K) for u in preds])
            ns.append([graph.edges[u, v].get("n", DEFAULT_HILL_N) for u in preds])
        width = max(1, max(len(i) for i in inputs))
        pad = lambda rows, fill: [r + [fill] * (width - len(r)) for r in rows]  # noqa: E731
        return cls(
            nodes=nodes,
            kinds=tuple(kinds),
            inputs=tuple(inputs),
            signs=tuple(signs),
            truth=tuple(truth),
            rules=tuple(rules),
            hill_k=jnp.asarray(pad(ks, DEFAULT_HILL_K), dtype=float),
            hill_n=jnp.asarray(pad(ns, DEFAULT_HILL_N), dtype=float),
            tau=jnp.asarray(taus, dtype=float),
            level=jnp.asarray(levels, dtype=float),
        )

    @classmethod
    def from_rules(
        cls, text: str, *, kinds: Mapping[str, str] | None = None, tau=None, level: Mapping[str, float] | None = None
    ) -> SignallingNetwork:
        """Build from Boolean rule text, one ``TARGET = expression`` per line.

        Every name used must have its own rule; write ``EGF = 1`` for an input held at
        activity 1 (``= 0`` for 0). ``kinds`` maps node -> kind (default protein); ``tau``
        (day) is a scalar or a mapping node -> tau (missing nodes: the default); ``level`` maps
        input nodes to their activity in [0, 1] (overrides the rule's constant).
        """
        return cls.from_expressions(boolean_rules.parse_rules(text), kinds=kinds, tau=tau, level=level)

    @classmethod
    def from_expressions(
        cls,
        rules: Mapping[str, tuple],
        *,
        kinds: Mapping[str, str] | None = None,
        tau=None,
        level: Mapping[str, float] | None = None,
        where: Mapping[str, str] | None = None,
    ) -> SignallingNetwork:
        """Build from parsed rules ``{target: expression}`` (:mod:`mechanistic.boolean_rules`
        tuples), with ``kinds``, ``tau`` and ``level`` as in :meth:`from_rules`. A constant
        expression makes an input. ``where`` maps a target to where its rule was written (e.g.
        ``"net.bnet, line 4"``), for error messages. The file readers build through this.
        """
        where = dict(where or {})
        missing = {}
        for target, expr in rules.items():
            for name in boolean_rules.variables(expr):
                if name not in rules:
                    missing.setdefault(name, target)
        if missing:
            listed = ", ".join(
                f"{m!r} (used by {t!r}" + (f" at {where[t]})" if t in where else ")") for m, t in missing.items()
            )
            raise ValueError(
                f"edges to missing nodes: {listed} have no rule; give it one, e.g. the constant "
                f"'{next(iter(missing))} = 1' for an input held at activity 1"
            )
        kinds, level = dict(kinds or {}), dict(level or {})
        for what, given in (("kinds", kinds), ("tau", tau if isinstance(tau, Mapping) else {}), ("level", level)):
            unknown = set(given) - set(rules)
            if unknown:
                raise ValueError(f"{what} given for nodes not in the rules: {sorted(unknown)}")
        not_inputs = [n for n in level if rules[n][0] != "const"]
        if not_inputs:
            raise ValueError(
                f"level given for nodes that are not inputs: {not_inputs} (inputs have rules like 'EGF = 1')"
            )
        g = nx.DiGraph()
        for target, expr in rules.items():
            attrs = {"kind": kinds.get(target, "protein")}
            if tau is not None:
                attrs["tau"] = tau.get(target, DEFAULT_TAU) if isinstance(tau, Mapping) else tau
            if expr[0] == "const":
                attrs["level"] = level.get(target, 1.0 if expr[1] else 0.0)
            else:
                attrs["rule"] = expr
            g.add_node(target, **attrs)
        for target, expr in rules.items():
            if expr[0] != "const":
                for name in boolean_rules.variables(expr):
                    g.add_edge(name, target, sign=_sign_in(expr, name))
        return cls.from_graph(g)

    def to_expressions(self) -> dict[str, tuple]:
        """The Boolean model as ``{node: expression}``: each node's rule, and each input as the
        constant of its level. For writing Boolean formats, so an input's level must be 0 or 1
        (raises naming the node otherwise: its continuous level has no Boolean spelling)."""
        out = {}
        for i, node in enumerate(self.nodes):
            if self.inputs[i]:
                out[node] = boolean_rules.parse_expression(self.rules[i])
                continue
            value = float(self.level[i])
            if value not in (0.0, 1.0):
                raise ValueError(
                    f"input {node!r} has level {value:g}; a Boolean model holds inputs at 0 or 1: build the network "
                    f"with level={{{node!r}: 0 or 1}} (or set `level` with eqx.tree_at) before writing it"
                )
            out[node] = ("const", value == 1.0)
        return out

    # ----------------------------------------------------------------- structure
    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    def index(self, node: str) -> int:
        if node not in self.nodes:
            raise ValueError(f"unknown node {node!r}; the network has nodes {self.nodes}")
        return self.nodes.index(node)

    @property
    def is_input(self) -> np.ndarray:
        return np.asarray([len(i) == 0 for i in self.inputs])

    def to_graph(self) -> nx.DiGraph:
        """The network as a ``networkx.DiGraph`` (node kind/rule/tau/level; edge sign/k/n)."""
        g = nx.DiGraph()
        for i, v in enumerate(self.nodes):
            logic = {"rule": self.rules[i]} if self.inputs[i] else {}
            g.add_node(v, kind=self.kinds[i], tau=float(self.tau[i]), level=float(self.level[i]), **logic)
        for i, v in enumerate(self.nodes):
            for j, (u, s) in enumerate(zip(self.inputs[i], self.signs[i], strict=True)):
                g.add_edge(self.nodes[u], v, sign=s, k=float(self.hill_k[i, j]), n=float(self.hill_n[i, j]))
        return g

    def _topology(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(range(self.n_nodes))
        g.add_edges_from((u, i) for i, inp in enumerate(self.inputs) for u in inp)
        return g

    def is_acyclic(self) -> bool:
        return nx.is_directed_acyclic_graph(self._topology())

    def depth(self) -> int:
        """Longest input-to-node path (edges) of an acyclic network."""
        return nx.dag_longest_path_length(self._topology())

    def _layout(self):
        width = self.hill_k.shape[-1]
        n = self.n_nodes
        idx = np.zeros((n, width), dtype=int)
        mask = np.zeros((n, width), dtype=bool)
        table = np.zeros((n, 2**width))
        for i, (inp, tt) in enumerate(zip(self.inputs, self.truth, strict=True)):
            idx[i, : len(inp)] = inp
            mask[i, : len(inp)] = True
            # padded input bits carry weight 0 when set; repeat the table so the layout is valid
            table[i] = np.resize(np.asarray(tt, dtype=float), 2**width)
        return idx, mask, table, self.is_input

    # ----------------------------------------------------------------- dynamics
    def interpolate(self, x: jax.Array) -> jax.Array:
        """``Bc(x)``: the continuous logic of every node, ``x (..., n) -> (..., n)``."""
        idx, mask, table, source = self._layout()
        u = jnp.clip(x[..., idx], 0.0, 1.0)
        f = jnp.where(mask, _normalized_hill(u, self.hill_k, self.hill_n), 0.0)
        w = jnp.ones(f.shape[:-1] + (1,))
        for j in range(f.shape[-1]):
            fj = f[..., j : j + 1]
            w = jnp.concatenate([w * (1.0 - fj), w * fj], axis=-1)
        b = jnp.sum(w * table, axis=-1)
        return jnp.where(source, self.level, b)

    def target(self, x: jax.Array, perturbation: Perturbation | None = None) -> jax.Array:
        """The activity each node relaxes to, ``P(Bc(x))`` (shape of ``x``)."""
        b = self.interpolate(x)
        return b if perturbation is None else perturbation.apply(b)

    def rhs(self, x: jax.Array, perturbation: Perturbation | None = None) -> jax.Array:
        """``dx/dt`` (1/day)."""
        return (self.target(x, perturbation) - x) / self.tau

    # ----------------------------------------------------------------- Boolean view
    def boolean_update(self, states: np.ndarray, fixed: Mapping[str, bool] | None = None) -> np.ndarray:
        """Synchronous Boolean update of ``states (S, n)`` (bool). Inputs are on where their
        level is >= 0.5; ``fixed`` clamps nodes (e.g. a drug-inhibited target to False)."""
        states = np.asarray(states, dtype=bool)
        out = np.empty_like(states)
        levels = np.asarray(self.level) >= 0.5
        for i, (inp, tt) in enumerate(zip(self.inputs, self.truth, strict=True)):
            if not inp:
                out[:, i] = levels[i]
                continue
            code = np.zeros(states.shape[0], dtype=np.int64)
            for j, u in enumerate(inp):
                code |= states[:, u].astype(np.int64) << j
            out[:, i] = np.asarray(tt, dtype=bool)[code]
        for name, value in (fixed or {}).items():
            out[:, self.index(name)] = bool(value)
        return out

    def __check_init__(self):
        check_range("SignallingNetwork", "hill_k", self.hill_k, 0.0, strict=True)
        check_range("SignallingNetwork", "hill_n", self.hill_n, 0.0, strict=True)
        check_range("SignallingNetwork", "tau", self.tau, 0.0, strict=True)
        check_range("SignallingNetwork", "level", self.level, 0.0, strict=False, upper=1.0 + 1e-12)


def _sign_in(expr, name: str) -> int:
    """-1 where ``name`` appears only negated in ``expr``, else +1."""
    signs = set()

    def walk(e, negated):
        if e[0] == "var" and e[1] == name:
            signs.add(-1 if negated else 1)
        elif e[0] == "not":
            walk(e[1], not negated)
        elif e[0] in ("and", "or"):
            for c in e[1:]:
                walk(c, negated)

    walk(expr, False)
    return -1 if signs == {-1} else 1


def _node_expression(node, attrs, preds: list[str], signs: list[int]):
    if "rule" in attrs:
        rule = attrs["rule"]
        expr = boolean_rules.parse_expression(rule) if isinstance(rule, str) else rule
        used = boolean_rules.variables(expr)
        extra = [u for u in used if u not in preds]
        if extra:
            raise ValueError(
                f"node {node!r}: rule uses {extra} but the graph has no edge from them; inputs are {preds}"
            )
        unused = [u for u in preds if u not in used]
        if unused:
            raise ValueError(f"node {node!r}: edges from {unused} are not used by its rule {rule!r}")
        return expr
    logic = attrs.get("logic", "or")
    if logic not in LOGIC:
        raise ValueError(f"node {node!r}: logic {logic!r} is not valid; use one of {LOGIC} or give a 'rule'")
    act = [("var", u) for u, s in zip(preds, signs, strict=True) if s > 0]
    inh = [("not", ("var", u)) for u, s in zip(preds, signs, strict=True) if s < 0]
    if not preds:
        return ("const", True)
    if logic == "and":
        terms = act + inh
        return terms[0] if len(terms) == 1 else ("and", *terms)
    pos = [] if not act else [act[0] if len(act) == 1 else ("or", *act)]
    terms = pos + inh
    return terms[0] if len(terms) == 1 else ("and", *terms)


def _truth_table(expr, preds: list[str]) -> tuple[bool, ...]:
    m = len(preds)
    if m == 0:
        return (True,)
    codes = np.arange(2**m)
    values = {u: (codes >> j) & 1 == 1 for j, u in enumerate(preds)}
    return tuple(bool(v) for v in np.broadcast_to(boolean_rules.evaluate(expr, values), codes.shape))


def read_sif(path: str | Path, *, logic: str = "or") -> SignallingNetwork:
    """Read a SIF file: ``source interaction target [target ...]`` per line, with interaction
    ``1``/``-1``, ``activates``/``inhibits``, ``->``/``-|`` (CellNOpt style). Every node gets
    ``logic`` ('or' or 'and'); nodes without inputs are inputs at level 1."""
    path = Path(path)
    g = nx.DiGraph()
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 3:
            raise ValueError(f"{path}, line {number}: expected 'source interaction target', got {raw!r}")
        src, sign, targets = parts[0], parse_sign(parts[1], f"{path}, line {number}"), parts[2:]
        for t in (src, *targets):
            if t not in g:
                g.add_node(t, logic=logic)
        for t in targets:
            g.add_edge(src, t, sign=sign)
    if g.number_of_nodes() == 0:
        raise ValueError(f"{path}: no interactions found")
    return SignallingNetwork.from_graph(g)


def read_graphml(path: str | Path) -> SignallingNetwork:
    """Read a GraphML file (attributes as in :meth:`SignallingNetwork.from_graph`)."""
    g = nx.read_graphml(Path(path))
    if not g.is_directed():
        raise ValueError(f"{path}: the graph is undirected; signalling edges need a direction")
    return SignallingNetwork.from_graph(nx.DiGraph(g))
