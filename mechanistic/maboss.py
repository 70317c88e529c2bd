"""MaBoSS network files (``.bnd``; Stoll et al., "Continuous time Boolean modeling for
biological signaling: application of Gillespie algorithm", BMC Syst Biol 6:116, 2012) into a
:class:`~mechanistic.network.SignallingNetwork`.

A file is ``Node NAME { attribute = value; ... }`` blocks (``Node`` in any case; ``//`` and
``/* */`` comments). What is kept:

- ``logic``: the node's Boolean function, with ``AND``/``OR``/``NOT`` or ``&``/``|``/``!``
  (also ``&&``/``||``), parentheses and ``0``/``1``. A constant logic makes an input.
- ``rate_up`` / ``rate_down`` are *not* mapped to ``tau``: they are rates in the MaBoSS run's own
  time unit (set by the ``.cfg``'s ``max_time``/``time_tick``, not a physical unit), so ``tau``
  keeps the default or the ``tau=`` given. They are read only for a node without ``logic``: then
  numeric rates ``(up > 0, down = 0)`` make an input at 1, ``(0, > 0)`` an input at 0, and
  ``(0, 0)`` an input frozen at its initial state, which is in the ``.cfg``: give it with ``level=``.
- Every other attribute (``description``, ``max_rank``, user attributes) is ignored, as MaBoSS
  itself ignores attributes it does not use. ``.cfg`` files are not read.

A ``$variable`` (defined in a ``.cfg``) where a value is needed, a name without a node, a node
declared twice or bad syntax is a :class:`ValueError` naming the file, line and value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from mechanistic import boolean_rules
from mechanistic.network import SignallingNetwork

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_NODE = re.compile(r"\s*node\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"\s*([A-Za-z_@][A-Za-z0-9_]*)\s*=\s*((?:\"[^\"]*\"|[^;\"}])*);", re.DOTALL)
_VARIABLE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"\s*[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?\s*\Z")


def _blank_comments(text: str) -> str:
    """Comments replaced by spaces (newlines kept, so offsets and line numbers still hold)."""
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)


def parse_maboss(text: str, *, source: str = "<text>") -> tuple[dict[str, dict[str, tuple[str, int]]], dict[str, int]]:
    """``({node: {attribute: (value, line)}}, {node: line})`` of ``.bnd`` text, in file order."""
    text = _blank_comments(text)
    line_of = lambda pos: text.count("\n", 0, pos) + 1  # noqa: E731
    nodes: dict[str, dict[str, tuple[str, int]]] = {}
    declared: dict[str, int] = {}
    pos = 0
    while text[pos:].strip():
        m = _NODE.match(text, pos)
        if m is None:
            start = pos + len(text[pos:]) - len(text[pos:].lstrip())
            found = text[start:].split("\n", 1)[0].strip()
            raise ValueError(f"{source}, line {line_of(start)}: expected 'Node NAME {{', found {found!r}")
        name = m.group(1)
        if name in declared:
            raise ValueError(
                f"{source}, line {line_of(m.start(1))}: node {name!r} is declared twice (first: line {declared[name]})"
            )
        declared[name] = line_of(m.start(1))
        attributes: dict[str, tuple[str, int]] = {}
        pos = m.end()
        while True:
            rest = text[pos:]
            if rest.lstrip().startswith("}"):
                pos += len(rest) - len(rest.lstrip()) + 1
                break
            a = _ATTRIBUTE.match(text, pos)
            if a is None:
                start = pos + len(rest) - len(rest.lstrip())
                what = "end of file" if not rest.strip() else repr(rest.lstrip().split("\n", 1)[0])
                raise ValueError(
                    f"{source}, line {line_of(start)}: in node {name!r}, expected 'attribute = value;' or '}}', "
                    f"found {what}"
                )
            key = a.group(1)
            if key in attributes:
                raise ValueError(f"{source}, line {line_of(a.start(1))}: node {name!r} sets {key!r} twice")
            attributes[key] = (a.group(2).strip(), line_of(a.start(2)))
            pos = a.end()
        nodes[name] = attributes
    if not nodes:
        raise ValueError(f"{source}: no 'Node NAME {{ ... }}' blocks found")
    return nodes, declared


def _logic(name: str, value: str, line: int, source: str) -> tuple:
    variable = _VARIABLE.search(value)
    if variable:
        raise ValueError(
            f"{source}, line {line}: node {name!r}: logic uses {variable.group()!r}, a variable of a .cfg file; "
            "only the node's own Boolean logic can be read"
        )
    text = " ".join(value.split()).replace("&&", "& ").replace("||", "| ")
    return boolean_rules.parse_expression(text, line, source)


def _rate(name: str, key: str, attributes, source: str) -> float:
    value, line = attributes.get(key, ("0", 0))
    variable = _VARIABLE.search(value)
    if variable:
        raise ValueError(
            f"{source}, line {line}: node {name!r} has no logic and its {key} uses {variable.group()!r}, a variable "
            "of a .cfg file: give the node a logic (e.g. 'logic = 1;')"
        )
    if not _NUMBER.match(value):
        raise ValueError(
            f"{source}, line {line}: node {name!r} has no logic and {key} = {value!r} is not a number: give the node "
            "a logic"
        )
    return float(value)


def read_maboss(
    path: str | Path,
    *,
    kinds: Mapping[str, str] | None = None,
    tau=None,
    level: Mapping[str, float] | None = None,
) -> SignallingNetwork:
    """Read a MaBoSS ``.bnd`` file into a network (what is kept: module docstring); ``kinds``,
    ``tau`` (day) and ``level`` as in :meth:`SignallingNetwork.from_rules`."""
    path = Path(path)
    source = str(path)
    nodes, declared = parse_maboss(path.read_text(), source=source)
    rules: dict[str, tuple] = {}
    where = {}
    for name, attributes in nodes.items():
        where[name] = f"{source}, line {attributes.get('logic', ('', declared[name]))[1]}"
        if "logic" in attributes:
            rules[name] = _logic(name, *attributes["logic"], source)
            continue
        up, down = _rate(name, "rate_up", attributes, source), _rate(name, "rate_down", attributes, source)
        if up > 0 and down > 0:
            raise ValueError(
                f"{where[name]}: node {name!r} has no logic and both rates positive (it flips at random): "
                "give it a logic"
            )
        if up == 0 and down == 0 and name not in (level or {}):
            raise ValueError(
                f"{where[name]}: node {name!r} has no logic and zero rates: it keeps its initial state, which the "
                f".cfg holds; give it with level={{{name!r}: ...}}"
            )
        rules[name] = ("const", up > 0 or (up == 0 and down == 0 and level[name] >= 0.5))
    return SignallingNetwork.from_expressions(rules, kinds=kinds, tau=tau, level=level, where=where)
