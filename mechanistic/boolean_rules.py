"""Boolean rule text: ``AKT = PI3K & !PTEN`` style, one rule per line.

Grammar (``#`` starts a comment; blank lines are skipped)::

    rule   := NAME ('=' | '*=') expr
    expr   := term (('|' | 'or') term)*
    term   := factor (('&' | 'and') factor)*
    factor := ('!' | '~' | 'not') factor | '(' expr ')' | NAME | '0' | '1' | 'True' | 'False'

Names are letters, digits, ``_``, ``.``, ``-`` and ``:`` (starting with a letter or ``_``).
A syntax error is a :class:`RuleSyntaxError` that shows the line and a caret at the position.
Expressions are kept as small tuples: ``("var", name)``, ``("const", bool)``, ``("not", e)``,
``("and", e1, e2, ...)``, ``("or", e1, e2, ...)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_.:\-]*)|(?P<num>[01])\b|(?P<op>\*=|[=!~&|()]))")
_WORDS = {"and": "&", "or": "|", "not": "!", "AND": "&", "OR": "|", "NOT": "!"}


class RuleSyntaxError(ValueError):
    """A Boolean rule that cannot be parsed; the message shows where."""

    def __init__(self, message: str, text: str, position: int, line: int | None = None, source: str | None = None):
        where = (f"{source}, " if source else "") + (f"line {line}, " if line is not None else "")
        super().__init__(f"{where}column {position + 1}: {message}\n    {text}\n    {' ' * position}^")
        self.message = message
        self.position = position
        self.line = line
        self.source = source


def _tokenize(text: str, line: int | None) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            bad = pos + len(text[pos:]) - len(text[pos:].lstrip())
            raise RuleSyntaxError(f"unexpected character {text[bad]!r}", text, bad, line)
        start = m.start(m.lastgroup)
        value = m.group(m.lastgroup)
        kind = m.lastgroup
        if kind == "name" and value in _WORDS:
            kind, value = "op", _WORDS[value]
        elif kind == "name" and value in ("True", "False"):
            kind, value = "num", "1" if value == "True" else "0"
        elif kind == "op" and value == "~":
            value = "!"
        tokens.append((kind, value, start))
        pos = m.end()
    tokens.append(("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str, line: int | None):
        self.text, self.line = text, line
        self.tokens = _tokenize(text, line)
        self.i = 0

    def peek(self):
        return self.tokens[self.i]

    def take(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, message: str, tok):
        raise RuleSyntaxError(message, self.text, tok[2], self.line)

    def expr(self):
        items = [self.term()]
        while self.peek()[:2] == ("op", "|"):
            self.take()
            items.append(self.term())
        return items[0] if len(items) == 1 else ("or", *items)

    def term(self):
        items = [self.factor()]
        while self.peek()[:2] == ("op", "&"):
            self.take()
            items.append(self.factor())
        return items[0] if len(items) == 1 else ("and", *items)

    def factor(self):
        tok = self.take()
        kind, value = tok[:2]
        if kind == "op" and value == "!":
            return ("not", self.factor())
        if kind == "op" and value == "(":
            inner = self.expr()
            close = self.take()
            if close[:2] != ("op", ")"):
                self.fail("expected ')'", close)
            return inner
        if kind == "name":
            return ("var", value)
        if kind == "num":
            return ("const", value == "1")
        what = "end of rule" if kind == "end" else repr(value)
        self.fail(f"expected a node name, a constant, '!' or '(' but found {what}", tok)


def parse_expression(text: str, line: int | None = None, source: str | None = None):
    """Parse a Boolean expression (the right-hand side of a rule); ``line`` and ``source`` (a file
    name) say where it is in error messages."""
    try:
        p = _Parser(text, line)
        out = p.expr()
        tok = p.peek()
        if tok[0] != "end":
            p.fail(f"unexpected {tok[1]!r} after a complete expression (missing '&' or '|'?)", tok)
    except RuleSyntaxError as err:
        if source is None:
            raise
        raise RuleSyntaxError(err.message, text, err.position, line, source) from None
    return out


def parse_rules(
    text: str, *, assign: str = "=", source: str | None = None, skip_lines: frozenset[int] = frozenset()
) -> dict[str, object]:
    """Parse rule lines into ``{target: expression}`` (in order of appearance).

    ``assign`` is what separates target and expression (``=``, also ``*=``, by default; ``,``
    for BoolNet files); ``source`` names the file in error messages; ``skip_lines`` are line
    numbers (from 1) that are not rules (e.g. a header). Raises :class:`RuleSyntaxError` (with
    the line number and position) for bad syntax or a target defined twice.
    """
    separator = r"(\*=|=)" if assign == "=" else f"({re.escape(assign)})"
    rules: dict[str, object] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip() or number in skip_lines:
            continue
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_.:\-]*)\s*" + separator, line)
        if m is None:
            pos = len(line) - len(line.lstrip())
            raise RuleSyntaxError(f"expected 'TARGET {assign.strip()} expression'", line, pos, number, source)
        target = m.group(1)
        if target in rules:
            raise RuleSyntaxError(f"node {target!r} already has a rule", line, m.start(1), number, source)
        offset = m.end()
        try:
            rules[target] = parse_expression(line[offset:], number)
        except RuleSyntaxError as err:
            raise RuleSyntaxError(err.message, line, offset + err.position, number, source) from None
    if not rules:
        where = f"{source}: " if source else ""
        raise ValueError(f"{where}no rules found: expected lines like 'AKT {assign.strip()} PI3K & !PTEN'")
    return rules


def variables(expr) -> list[str]:
    """Names used in an expression, in order of first appearance."""
    out: list[str] = []

    def walk(e):
        if e[0] == "var":
            if e[1] not in out:
                out.append(e[1])
        elif e[0] != "const":
            for child in e[1:]:
                walk(child)

    walk(expr)
    return out


def evaluate(expr, values: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate on Boolean arrays ``values[name]`` (all of one shape)."""
    kind = expr[0]
    if kind == "var":
        return np.asarray(values[expr[1]], dtype=bool)
    if kind == "const":
        shape = np.shape(next(iter(values.values()))) if values else ()
        return np.full(shape, expr[1])
    if kind == "not":
        return ~evaluate(expr[1], values)
    parts = [evaluate(e, values) for e in expr[1:]]
    return np.logical_and.reduce(parts) if kind == "and" else np.logical_or.reduce(parts)


def to_text(expr) -> str:
    """Format an expression back to rule text (fully parenthesised where needed)."""
    kind = expr[0]
    if kind == "var":
        return expr[1]
    if kind == "const":
        return "1" if expr[1] else "0"
    if kind == "not":
        inner = to_text(expr[1])
        return f"!{inner}" if expr[1][0] in ("var", "const", "not") else f"!({inner})"
    sep = " & " if kind == "and" else " | "
    return sep.join(to_text(e) if e[0] in ("var", "const", "not", kind) else f"({to_text(e)})" for e in expr[1:])
