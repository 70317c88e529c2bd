"""SBML-qual files (SBML Level 3 Version 1, ``qual`` package version 1) to and from a
:class:`~mechanistic.network.SignallingNetwork`: the exchange format of GINsim, CellCollective and
the CoLoMoTo tools (Chaouiya et al., "SBML qualitative models", BMC Syst Biol 7:135, 2013).

Read (standard library ``xml`` only):

- ``qualitativeSpecies``: the ``id`` is the node name (``name`` is not kept); ``maxLevel`` must be
  1 (Boolean; missing is taken as 1); a species that is ``constant`` or that no transition sets is
  an input, held at its ``initialLevel`` (0 or 1; ``level=`` overrides or supplies it). The
  ``initialLevel`` of other species is not used: a network has no initial state.
- ``transition``: ``listOfInputs`` (``qualitativeSpecies``, ``thresholdLevel``), ``listOfOutputs``
  (``assignmentLevel`` effect only), ``functionTerm`` (``resultLevel`` 0 or 1, MathML ``math``)
  and ``defaultTerm``. The node is on where a term of result 1 holds, or where the default is 1 and
  no term of result 0 holds.
- MathML: ``apply`` with ``and``, ``or``, ``xor``, ``not``, ``implies`` and the comparisons ``eq``,
  ``neq``, ``geq``, ``gt``, ``leq``, ``lt`` of a species with an integer (``cn``, or ``ci`` naming
  a transition input, which stands for its ``thresholdLevel``); ``true``/``false``; a bare
  ``ci`` species (on where its level is 1). An input's ``sign`` is not read: edge signs follow
  from the logic, as for rule text.

Anything else (a multi-valued species, another MathML element, a species no one declared, a node
set by two transitions) is a :class:`ValueError` naming the file, line and element.

The writer emits the logic and the input levels (Hill constants, ``tau`` and node kinds are not
part of SBML-qual and are not written), one transition per non-input node with a default term 0
and one function term 1 in GINsim's style (``level == 1`` comparisons).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from xml.parsers import expat

from mechanistic.network import SignallingNetwork

SBML_NS = "http://www.sbml.org/sbml/level3/version1/core"
QUAL_NS = "http://www.sbml.org/sbml/level3/version1/qual/version1"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"
COMPARISONS: tuple[str, ...] = ("eq", "neq", "geq", "gt", "leq", "lt")
CONNECTIVES: tuple[str, ...] = ("and", "or", "xor", "not", "implies")
_SID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FLIP = {"eq": "eq", "neq": "neq", "geq": "leq", "gt": "lt", "leq": "geq", "lt": "gt"}


def _parse_with_lines(path: Path) -> tuple[ET.Element, dict[ET.Element, int]]:
    """The XML tree (tags and attributes as ``{namespace}name``) and each element's line."""
    builder = ET.TreeBuilder()
    lines: dict[ET.Element, int] = {}
    parser = expat.ParserCreate(namespace_separator="}")

    def qualify(name: str) -> str:
        return "{" + name if "}" in name else name

    def start(tag, attrs):
        lines[builder.start(qualify(tag), {qualify(k): v for k, v in attrs.items()})] = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: builder.end(qualify(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(path.read_bytes(), True)
    except expat.ExpatError as err:
        raise ValueError(f"{path}, line {err.lineno}: not well-formed XML ({expat.ErrorString(err.code)})") from None
    return builder.close(), lines


class _Reader:
    """One file's elements, with error messages that name the file and line."""

    def __init__(self, path: Path):
        self.path = path
        self.root, self.lines = _parse_with_lines(path)

    def fail(self, element: ET.Element, message: str):
        raise ValueError(f"{self.path}, line {self.lines.get(element, '?')}: {message}")

    def attr(self, element: ET.Element, name: str, *, required: bool = True) -> str | None:
        """A ``qual:`` attribute (also accepted without the prefix)."""
        value = element.get(f"{{{QUAL_NS}}}{name}", element.get(name))
        if value is None and required:
            self.fail(element, f"<{_local(element.tag)}> has no qual:{name} attribute")
        return value

    def integer(self, element: ET.Element, name: str, default: int | None = None) -> int | None:
        value = self.attr(element, name, required=default is None)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            self.fail(element, f"qual:{name}={value!r} is not an integer")

    def children(self, parent: ET.Element | None, list_name: str, item: str) -> list[ET.Element]:
        found = None if parent is None else parent.find(f"{{{QUAL_NS}}}{list_name}")
        return [] if found is None else found.findall(f"{{{QUAL_NS}}}{item}")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_sbml_qual(
    path: str | Path,
    *,
    kinds: Mapping[str, str] | None = None,
    tau=None,
    level: Mapping[str, float] | None = None,
) -> SignallingNetwork:
    """Read an SBML-qual file (Boolean models; module docstring) into a network. ``kinds``,
    ``tau`` (day) and ``level`` as in :meth:`SignallingNetwork.from_rules`; ``level`` overrides
    the inputs' ``initialLevel``."""
    reader = _Reader(Path(path))
    model = reader.root.find(f"{{{SBML_NS}}}model")
    if _local(reader.root.tag) != "sbml" or model is None:
        reader.fail(reader.root, f"not an SBML Level 3 file (expected <sbml xmlns={SBML_NS!r}> with a <model>)")
    species = _read_species(reader, model)
    thresholds: dict[str, tuple[str, int]] = {}  # transition input id -> (species, thresholdLevel)
    rules: dict[str, tuple] = {}
    set_by: dict[str, str] = {}  # species -> the transition that sets it
    for transition in reader.children(model, "listOfTransitions", "transition"):
        name = reader.attr(transition, "id", required=False) or "(no id)"
        for item in reader.children(transition, "listOfInputs", "input"):
            source = reader.attr(item, "qualitativeSpecies")
            if source not in species:
                reader.fail(item, f"transition {name!r}: input species {source!r} is not declared")
            item_id = reader.attr(item, "id", required=False)
            if item_id is not None:
                thresholds[item_id] = (source, reader.integer(item, "thresholdLevel", default=1))
        expr = _transition_function(reader, transition, name, species, thresholds)
        outputs = reader.children(transition, "listOfOutputs", "output")
        if not outputs:
            reader.fail(transition, f"transition {name!r} has no output")
        for output in outputs:
            target = reader.attr(output, "qualitativeSpecies")
            if target not in species:
                reader.fail(output, f"transition {name!r}: output species {target!r} is not declared")
            effect = reader.attr(output, "transitionEffect", required=False) or "assignmentLevel"
            if effect != "assignmentLevel":
                reader.fail(output, f"transition {name!r}: effect {effect!r} is not supported; use assignmentLevel")
            if species[target][0]:
                reader.fail(output, f"transition {name!r} sets {target!r}, which is declared constant")
            if target in rules:
                reader.fail(output, f"species {target!r} is set by two transitions: {set_by[target]} and {name!r}")
            rules[target] = expr
            set_by[target] = f"{name!r} (line {reader.lines[transition]})"
    levels = {}
    for node, (_, initial, element) in species.items():
        if node in rules:
            continue
        given = (level or {}).get(node)
        if given is None and initial is None:
            reader.fail(
                element, f"input species {node!r} has no qual:initialLevel; give it with level={{{node!r}: ...}}"
            )
        rules[node] = ("const", bool(initial)) if given is None else ("const", given >= 0.5)
        levels[node] = float(initial) if given is None else given
    ordered = {node: rules[node] for node in species}
    where = {node: f"{reader.path}, transition {t}" for node, t in set_by.items()}
    levels.update(level or {})  # names that are not inputs are refused by from_expressions
    return SignallingNetwork.from_expressions(ordered, kinds=kinds, tau=tau, level=levels, where=where)


def _read_species(reader: _Reader, model: ET.Element) -> dict[str, tuple[bool, int | None, ET.Element]]:
    """``{id: (constant, initialLevel or None, element)}`` in file order; Boolean species only."""
    species: dict[str, tuple[bool, int | None, ET.Element]] = {}
    for element in reader.children(model, "listOfQualitativeSpecies", "qualitativeSpecies"):
        sid = reader.attr(element, "id")
        if sid in species:
            reader.fail(element, f"species {sid!r} is declared twice")
        max_level = reader.integer(element, "maxLevel", default=1)
        if max_level != 1:
            reader.fail(
                element, f"species {sid!r} has maxLevel {max_level}; only Boolean models (maxLevel 1) can be read"
            )
        initial = reader.integer(element, "initialLevel", default=-1)
        if initial not in (-1, 0, 1):
            reader.fail(element, f"species {sid!r} has initialLevel {initial}; a Boolean species is 0 or 1")
        constant = reader.attr(element, "constant", required=False) == "true"
        species[sid] = (constant, None if initial == -1 else initial, element)
    if not species:
        reader.fail(model, "no qual:qualitativeSpecies found (is this an SBML-qual file?)")
    return species


def _transition_function(reader: _Reader, transition, name: str, species, thresholds) -> tuple:
    """The Boolean function of a transition from its function terms and default term."""
    terms = reader.children(transition, "listOfFunctionTerms", "functionTerm")
    default_element = None
    found = transition.find(f"{{{QUAL_NS}}}listOfFunctionTerms")
    if found is not None:
        default_element = found.find(f"{{{QUAL_NS}}}defaultTerm")
    if default_element is None:
        reader.fail(transition, f"transition {name!r} has no qual:defaultTerm")
    default = reader.integer(default_element, "resultLevel")
    on, off = [], []
    for term in [default_element, *terms]:
        result = reader.integer(term, "resultLevel")
        if result not in (0, 1):
            reader.fail(term, f"transition {name!r}: resultLevel {result}; a Boolean model has results 0 or 1")
        if term is default_element:
            continue
        math = term.find(f"{{{MATHML_NS}}}math")
        if math is None or len(math) != 1:
            reader.fail(term, f"transition {name!r}: a functionTerm needs one MathML <math> expression")
        (on if result == 1 else off).append(_mathml(reader, math[0], name, species, thresholds))
    any_on = ("or", *on) if len(on) > 1 else (on[0] if on else ("const", False))
    if default == 0:
        return any_on
    any_off = ("or", *off) if len(off) > 1 else (off[0] if off else ("const", False))
    return ("or", any_on, ("not", any_off)) if on else ("not", any_off)


def _mathml(reader: _Reader, element, name: str, species, thresholds) -> tuple:
    """A MathML Boolean expression as a :mod:`~mechanistic.boolean_rules` tuple."""
    tag = _local(element.tag)
    if element.tag.startswith("{") and not element.tag.startswith(f"{{{MATHML_NS}}}"):
        reader.fail(element, f"transition {name!r}: <{tag}> is not MathML")
    if tag in ("true", "false"):
        return ("const", tag == "true")
    if tag == "ci":
        sid = (element.text or "").strip()
        if sid in species:
            return ("var", sid)
        reader.fail(element, f"transition {name!r}: <ci>{sid}</ci> is not a species (in a Boolean expression)")
    if tag != "apply" or len(element) == 0:
        reader.fail(element, f"transition {name!r}: unsupported MathML element <{tag}>; use apply, ci, true, false")
    operator, args = _local(element[0].tag), list(element[1:])
    if operator in COMPARISONS:
        if len(args) != 2:
            reader.fail(element, f"transition {name!r}: <{operator}> compares two values, got {len(args)}")
        left, right = (_operand(reader, a, name, species, thresholds) for a in args)
        if isinstance(left, int) and isinstance(right, str):
            left, right, operator = right, left, _FLIP[operator]
        if not (isinstance(left, str) and isinstance(right, int)):
            reader.fail(element, f"transition {name!r}: <{operator}> must compare a species with an integer level")
        return _compare(left, operator, right)
    if operator not in CONNECTIVES:
        reader.fail(
            element[0],
            f"transition {name!r}: unsupported MathML element <{operator}>; supported: {CONNECTIVES + COMPARISONS}",
        )
    parts = [_mathml(reader, a, name, species, thresholds) for a in args]
    if operator == "not":
        if len(parts) != 1:
            reader.fail(element, f"transition {name!r}: <not> takes one argument, got {len(parts)}")
        return ("not", parts[0])
    if operator == "implies":
        if len(parts) != 2:
            reader.fail(element, f"transition {name!r}: <implies> takes two arguments, got {len(parts)}")
        return ("or", ("not", parts[0]), parts[1])
    if not parts:
        reader.fail(element, f"transition {name!r}: <{operator}> has no arguments")
    if len(parts) == 1:
        return parts[0]
    if operator == "xor":  # true where an odd number of arguments is true
        out = parts[0]
        for p in parts[1:]:
            out = ("or", ("and", out, ("not", p)), ("and", ("not", out), p))
        return out
    return (operator, *parts)


def _operand(reader: _Reader, element, name: str, species, thresholds) -> str | int:
    """A comparison operand: a species id (str) or an integer level (a number or an input's threshold)."""
    tag, text = _local(element.tag), (element.text or "").strip()
    if tag == "ci" and text in species:
        return text
    if tag == "ci" and text in thresholds:
        return thresholds[text][1]
    if tag == "cn":
        try:
            return int(text)
        except ValueError:
            reader.fail(element, f"transition {name!r}: <cn>{text}</cn> is not an integer level")
    reader.fail(element, f"transition {name!r}: {text!r} in <{tag}> is neither a species, an input id nor an integer")


def _compare(sid: str, operator: str, value: int) -> tuple:
    """``level(sid) <operator> value`` for a Boolean species, as an expression."""
    on = {0: False, 1: True}
    holds = {
        "eq": lambda x: x == value,
        "neq": lambda x: x != value,
        "geq": lambda x: x >= value,
        "gt": lambda x: x > value,
        "leq": lambda x: x <= value,
        "lt": lambda x: x < value,
    }[operator]
    when_on, when_off = holds(on[1]), holds(on[0])
    if when_on == when_off:
        return ("const", bool(when_on))
    return ("var", sid) if when_on else ("not", ("var", sid))


def write_sbml_qual(network: SignallingNetwork, path: str | Path, *, model_id: str = "network") -> Path:
    """Write the network's Boolean model as SBML L3V1 qual v1 (module docstring); returns the path.

    Node names must be SBML ids (letters, digits, ``_``; not starting with a digit) and inputs
    must be at level 0 or 1 (:meth:`SignallingNetwork.to_expressions`)."""
    bad = [v for v in (*network.nodes, model_id) if not _SID.match(v)]
    if bad:
        raise ValueError(f"{bad} are not SBML ids (letters, digits and '_', not starting with a digit)")
    rules = network.to_expressions()
    q = "qual:"
    root = ET.Element(
        "sbml",
        {"xmlns": SBML_NS, "xmlns:qual": QUAL_NS, "level": "3", "version": "1", f"{q}required": "true"},
    )
    model = ET.SubElement(root, "model", {"id": model_id})
    compartments = ET.SubElement(model, "listOfCompartments")
    ET.SubElement(compartments, "compartment", {"id": "default", "constant": "true"})
    listed = ET.SubElement(model, f"{q}listOfQualitativeSpecies")
    for node, expr in rules.items():
        attrs = {f"{q}id": node, f"{q}compartment": "default", f"{q}maxLevel": "1"}
        attrs[f"{q}constant"] = "true" if expr[0] == "const" else "false"
        if expr[0] == "const":
            attrs[f"{q}initialLevel"] = str(int(expr[1]))
        ET.SubElement(listed, f"{q}qualitativeSpecies", attrs)
    transitions = ET.SubElement(model, f"{q}listOfTransitions")
    for i, (node, expr) in enumerate(rules.items()):
        if expr[0] == "const":
            continue
        transition = ET.SubElement(transitions, f"{q}transition", {f"{q}id": f"tr_{node}"})
        inputs = ET.SubElement(transition, f"{q}listOfInputs")
        for j, sign in zip(network.inputs[i], network.signs[i], strict=True):
            source = network.nodes[j]
            ET.SubElement(
                inputs,
                f"{q}input",
                {
                    f"{q}id": f"tr_{node}_in_{source}",
                    f"{q}qualitativeSpecies": source,
                    f"{q}thresholdLevel": "1",
                    f"{q}transitionEffect": "none",
                    f"{q}sign": "positive" if sign > 0 else "negative",
                },
            )
        outputs = ET.SubElement(transition, f"{q}listOfOutputs")
        ET.SubElement(
            outputs,
            f"{q}output",
            {f"{q}id": f"tr_{node}_out", f"{q}qualitativeSpecies": node, f"{q}transitionEffect": "assignmentLevel"},
        )
        terms = ET.SubElement(transition, f"{q}listOfFunctionTerms")
        ET.SubElement(terms, f"{q}defaultTerm", {f"{q}resultLevel": "0"})
        term = ET.SubElement(terms, f"{q}functionTerm", {f"{q}resultLevel": "1"})
        math = ET.SubElement(term, "math", {"xmlns": MATHML_NS})
        _to_mathml(math, expr)
    ET.indent(root)
    path = Path(path)
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)
    return path


def _to_mathml(parent: ET.Element, expr) -> None:
    kind = expr[0]
    if kind == "const":
        ET.SubElement(parent, "true" if expr[1] else "false")
        return
    apply = ET.SubElement(parent, "apply")
    if kind == "var":
        ET.SubElement(apply, "eq")
        ET.SubElement(apply, "ci").text = expr[1]
        ET.SubElement(apply, "cn", {"type": "integer"}).text = "1"
        return
    ET.SubElement(apply, kind)
    for child in expr[1:]:
        _to_mathml(apply, child)
