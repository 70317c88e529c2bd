"""BoolNet files (the ``targets, factors`` text of the R package BoolNet, Müssel, Hopfensitz and
Kestler, Bioinformatics 26:1378, 2010; also PyBoolNet's ``.bnet``) to and from a
:class:`~mechanistic.network.SignallingNetwork`.

One rule per line, ``target, expression``, after an optional ``targets, factors`` header; ``#``
starts a comment. Expressions use ``&``, ``|``, ``!``, parentheses and the constants ``0``/``1``
(the grammar of :mod:`mechanistic.boolean_rules`). A target whose expression is a constant is an
input held at that level. BoolNet's self-loop inputs (``X, X``: keep the current value) stay a
node with its own input, as in rule text; give ``X, 1`` (or ``0``) for an input held fixed.
Probabilistic networks (a third column) and BoolNet's temporal extensions are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from mechanistic import boolean_rules
from mechanistic.network import SignallingNetwork

_HEADER = re.compile(r"\s*targets\s*,\s*factors\s*(,.*)?\Z", re.IGNORECASE)


def parse_boolnet(text: str, *, source: str = "<text>") -> tuple[dict[str, tuple], dict[str, str]]:
    """``({target: expression}, {target: 'source, line N'})`` of BoolNet text (module docstring).
    ``source`` names the text in error messages (:class:`~mechanistic.boolean_rules.RuleSyntaxError`
    with line and column)."""
    header = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0]
        if not line.strip():
            continue
        match = _HEADER.match(line)
        if match and match.group(1):
            raise ValueError(
                f"{source}, line {number}: columns {line.strip()!r}: probabilistic BoolNet networks are not supported "
                "(expected 'targets, factors')"
            )
        if match:
            header.add(number)
        break
    rules = boolean_rules.parse_rules(text, assign=",", source=source, skip_lines=frozenset(header))
    lines = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        target = raw.split("#", 1)[0].split(",", 1)[0].strip()
        if target in rules and number not in header:
            lines.setdefault(target, f"{source}, line {number}")
    return rules, lines


def read_boolnet(
    path: str | Path,
    *,
    kinds: Mapping[str, str] | None = None,
    tau=None,
    level: Mapping[str, float] | None = None,
) -> SignallingNetwork:
    """Read a BoolNet ``targets, factors`` file into a network; ``kinds``, ``tau`` (day) and
    ``level`` as in :meth:`SignallingNetwork.from_rules`. A name used but given no rule is an
    error naming it and the line that uses it."""
    path = Path(path)
    rules, lines = parse_boolnet(path.read_text(), source=str(path))
    return SignallingNetwork.from_expressions(rules, kinds=kinds, tau=tau, level=level, where=lines)


def boolnet_text(network: SignallingNetwork) -> str:
    """The network's Boolean model as BoolNet text (inputs as their constant level, 0 or 1)."""
    rows = [f"{node}, {boolean_rules.to_text(expr)}" for node, expr in network.to_expressions().items()]
    return "targets, factors\n" + "\n".join(rows) + "\n"


def write_boolnet(network: SignallingNetwork, path: str | Path) -> Path:
    """Write :func:`boolnet_text` to ``path``; returns the path."""
    path = Path(path)
    path.write_text(boolnet_text(network))
    return path
