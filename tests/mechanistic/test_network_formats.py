"""Community network formats (SBML-qual, BoolNet, MaBoSS): round trips against rule text, a
published model, and errors that name the file, line and element."""

from pathlib import Path

import numpy as np
import pytest

from mechanistic import (
    RuleSyntaxError,
    SignallingNetwork,
    boolnet_text,
    read_boolnet,
    read_maboss,
    read_sbml_qual,
    write_boolnet,
    write_sbml_qual,
)
from mechanistic.boolean_attractors import asynchronous_attractors, fixed_points, synchronous_attractors

DATA = Path(__file__).resolve().parents[1] / "data" / "boolean_models"

# inputs on and off, negations, a negative feedback loop (RAS -> ERK -> SPRY -| RAS), a positive
# self-loop (MYC) and a mutual-inhibition loop (AKT -| PTEN -| AKT)
RULES = """
EGF = 1
TGFB = 0
RAS = EGF & !SPRY | TGFB
ERK = RAS
SPRY = ERK
AKT = RAS & !PTEN
PTEN = !AKT | TGFB
MYC = ERK & AKT | MYC & !TGFB
"""

BOOLNET = """targets, factors
# the same model as RULES
EGF, 1
TGFB, 0
RAS, EGF & !SPRY | TGFB
ERK, RAS
SPRY, ERK
AKT, RAS & !PTEN
PTEN, !AKT | TGFB
MYC, ERK & AKT | MYC & !TGFB
"""

MABOSS = """
// the same model as RULES
Node EGF { logic = 1; rate_up = @logic ? $u_EGF : 0; rate_down = @logic ? 0 : 1; }
node TGFB {
  description = "TGF-beta; held off";
  rate_up = 0;
  rate_down = 1.0;
}
Node RAS {
  logic = (EGF AND NOT SPRY) OR TGFB;   /* MaBoSS words */
  rate_up = @logic ? $u_RAS : 0;
  rate_down = @logic ? 0 : $d_RAS;
}
Node ERK { logic = RAS; }
Node SPRY { logic = ERK; max_rank = 2; }
Node AKT { logic = RAS && !PTEN; }
Node PTEN { logic = !AKT || TGFB; }
Node MYC {
  logic = ERK & AKT
          | MYC & !TGFB;
}
"""


def all_states(n: int) -> np.ndarray:
    codes = np.arange(2**n)
    return (codes[:, None] >> np.arange(n)) & 1 == 1


def assert_same_network(a: SignallingNetwork, b: SignallingNetwork):
    assert a.nodes == b.nodes
    assert a.inputs == b.inputs and a.signs == b.signs
    assert a.truth == b.truth  # each node's truth table, input by input
    assert np.array_equal(a.level, b.level) and np.array_equal(a.tau, b.tau)
    states = all_states(a.n_nodes)
    assert np.array_equal(a.boolean_update(states), b.boolean_update(states))


@pytest.fixture(scope="module")
def network():
    return SignallingNetwork.from_rules(RULES)


def test_sbml_qual_round_trip_keeps_the_logic(network, tmp_path):
    path = write_sbml_qual(network, tmp_path / "model.sbml")
    text = path.read_text()
    assert 'xmlns:qual="http://www.sbml.org/sbml/level3/version1/qual/version1"' in text
    assert 'qual:constant="true" qual:initialLevel="0"' in text  # TGFB, the constant
    back = read_sbml_qual(path)
    assert_same_network(back, network)
    assert not back.is_acyclic()
    assert back.rules == network.rules
    # the reader's keyword arguments work as from_rules'
    tuned = read_sbml_qual(path, tau=0.5, level={"EGF": 0.3}, kinds={"MYC": "gene"})
    assert tuned.kinds[tuned.index("MYC")] == "gene" and float(tuned.level[0]) == 0.3
    assert np.allclose(tuned.tau, 0.5)
    with pytest.raises(ValueError, match=r"level given for nodes that are not inputs: \['RAS'\]"):
        read_sbml_qual(path, level={"RAS": 1.0})
    with pytest.raises(ValueError, match=r"level given for nodes not in the rules: \['NOPE'\]"):
        read_sbml_qual(path, level={"NOPE": 1.0})


SBML_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1"
      xmlns:qual="http://www.sbml.org/sbml/level3/version1/qual/version1" qual:required="true">
<model id="m">
<listOfCompartments><compartment id="c" constant="true"/></listOfCompartments>
<qual:listOfQualitativeSpecies>
"""


def sbml(species: str, transitions: str) -> str:
    return (
        SBML_HEAD
        + species
        + "</qual:listOfQualitativeSpecies>\n<qual:listOfTransitions>\n"
        + transitions
        + ("</qual:listOfTransitions>\n</model>\n</sbml>\n")
    )


def species(sid, **attrs):
    attrs = {"compartment": "c", "maxLevel": "1", "constant": "false", **attrs}
    return f'<qual:qualitativeSpecies qual:id="{sid}" ' + " ".join(f'qual:{k}="{v}"' for k, v in attrs.items()) + "/>\n"


def transition(target, math_terms, default=0, inputs=(), tid=None):
    tid = tid or f"tr_{target}"
    listed = "".join(
        f'<qual:input qual:id="{i}" qual:qualitativeSpecies="{s}" qual:thresholdLevel="{t}" '
        'qual:transitionEffect="none"/>'
        for i, s, t in inputs
    )
    terms = "".join(
        f'<qual:functionTerm qual:resultLevel="{r}"><math xmlns="http://www.w3.org/1998/Math/MathML">\n{m}\n'
        "</math></qual:functionTerm>\n"
        for r, m in math_terms
    )
    return (
        f'<qual:transition qual:id="{tid}">\n<qual:listOfInputs>{listed}</qual:listOfInputs>\n'
        f'<qual:listOfOutputs><qual:output qual:id="{tid}_out" qual:qualitativeSpecies="{target}" '
        'qual:transitionEffect="assignmentLevel"/></qual:listOfOutputs>\n'
        f'<qual:listOfFunctionTerms><qual:defaultTerm qual:resultLevel="{default}"/>\n{terms}'
        "</qual:listOfFunctionTerms>\n</qual:transition>\n"
    )


def test_sbml_qual_in_the_styles_of_cellcollective_and_ginsim(tmp_path):
    """Thresholds through input ids (CellCollective), level comparisons either way round, a default
    term 1 with a result-0 term, a species no transition sets, and <true/>."""
    text = sbml(
        species("L", initialLevel="1") + species("I", constant="true", initialLevel="0") + species("A")
        + species("B") + species("C") + species("D"),
        transition(
            "A",
            [(1, "<apply><and/><apply><geq/><ci>L</ci><ci>thr_A_L</ci></apply>"
                 "<apply><lt/><ci>C</ci><cn type='integer'>1</cn></apply></apply>")],
            inputs=[("thr_A_L", "L", 1), ("thr_A_C", "C", 1)],
        )
        + transition("B", [(0, "<apply><eq/><cn type='integer'>1</cn><ci>A</ci></apply>")], default=1)
        + transition("C", [(1, "<apply><or/><apply><gt/><ci>B</ci><cn>0</cn></apply>"
                               "<apply><xor/><ci>I</ci><ci>D</ci></apply></apply>")])
        + transition("D", [(1, "<apply><implies/><ci>A</ci><apply><neq/><ci>D</ci><cn>1</cn></apply></apply>"),
                           (0, "<true/>")]),
    )  # fmt: skip
    path = tmp_path / "styles.sbml"
    path.write_text(text)
    net = read_sbml_qual(path)
    expected = SignallingNetwork.from_rules(
        "L = 1\nI = 0\nA = L & !C\nB = !A\nC = B | (I & !D) | (!I & D)\nD = !A | !D"
    )
    assert net.nodes == expected.nodes
    states = all_states(net.n_nodes)
    assert np.array_equal(net.boolean_update(states), expected.boolean_update(states))
    assert np.array_equal(net.level, expected.level)


def test_same_model_from_boolnet_maboss_and_rule_text(network, tmp_path):
    bnet = tmp_path / "model.bnet"
    bnet.write_text(BOOLNET)
    assert_same_network(read_boolnet(bnet), network)
    bnd = tmp_path / "model.bnd"
    bnd.write_text(MABOSS)
    assert_same_network(read_maboss(bnd), network)
    # and the BoolNet writer reads back
    again = read_boolnet(write_boolnet(network, tmp_path / "written.bnet"))
    assert_same_network(again, network)
    assert boolnet_text(network).splitlines()[:3] == ["targets, factors", "EGF, 1", "TGFB, 0"]


def test_maboss_node_without_logic_frozen_at_its_initial_state(tmp_path):
    bnd = tmp_path / "frozen.bnd"
    bnd.write_text("Node S { rate_up = 0; rate_down = 0; }\nNode X { logic = S; }\n")
    with pytest.raises(ValueError, match=r"frozen.bnd, line 1: node 'S' has no logic and zero rates.*level=\{'S'"):
        read_maboss(bnd)
    net = read_maboss(bnd, level={"S": 1.0})
    assert net.is_input.tolist() == [True, False] and float(net.level[0]) == 1.0


def test_published_faure_2006_cell_cycle_from_pyboolnet():
    """Fauré et al. 2006 as shipped by pyboolnet (tests/data/boolean_models/README.md): the
    steady state and the cyclic attractor of the package's attractor report."""
    net = read_boolnet(DATA / "faure_cellcycle.bnet")
    assert net.n_nodes == 10
    assert set(net.nodes) == {"CycD", "Cdc20", "CycA", "CycB", "CycE", "E2F", "Rb", "UbcH10", "cdh1", "p27"}
    order = ("Cdc20", "CycA", "CycB", "CycD", "CycE", "E2F", "Rb", "UbcH10", "cdh1", "p27")  # the report's
    as_report = lambda state: "".join(str(state[net.index(v)]) for v in order)  # noqa: E731
    for update in (synchronous_attractors, asynchronous_attractors):
        attractors = update(net)
        assert [as_report(s) for s in fixed_points(attractors)] == ["0000001011"]
        cyclic = [a for a in attractors if len(a) > 1]
        assert len(cyclic) == 1 and len(attractors) == 2
        for state in cyclic[0]:  # the trap space ---1--0--0: CycD on, Rb and p27 off
            code = as_report(state)
            assert (code[3], code[6], code[9]) == ("1", "0", "0")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


ONE = species("A", constant="true", initialLevel="1")


def line_of(text: str, marker: str) -> int:
    """The line (from 1) where ``marker`` first appears in ``text``."""
    return text[: text.index(marker)].count("\n") + 1


TWO_B = transition("B", [(1, "<ci>A</ci>")]) + transition("B", [(1, "<true/>")], tid="tr_B2")


@pytest.mark.parametrize(
    ("text", "marker", "message"),
    [
        (
            sbml(ONE + species("B"), transition("B", [(1, "<apply><not/><ci>Z</ci></apply>")])),
            "<ci>Z",
            r"transition 'tr_B': <ci>Z</ci> is not a species",
        ),
        (sbml(ONE + species("B", maxLevel="2"), ""), '"B"', r"species 'B' has maxLevel 2; only Boolean models"),
        (
            sbml(ONE + species("B"), transition("B", [(1, "<apply><plus/><ci>A</ci><cn>1</cn></apply>")])),
            "<plus/>",
            r"transition 'tr_B': unsupported MathML element <plus>",
        ),
        (sbml(species("A") + ONE, ""), "initialLevel", r"species 'A' is declared twice"),
        (
            sbml(ONE + species("B"), TWO_B),
            "tr_B2_out",
            r"species 'B' is set by two transitions: 'tr_B' \(line \d+\) and 'tr_B2'",
        ),
        (
            sbml(ONE + species("B"), transition("B", [(1, "<ci>A</ci>")], inputs=[("i", "Q", 1)])),
            '"Q"',
            r"transition 'tr_B': input species 'Q' is not declared",
        ),
        (sbml(ONE + species("B"), "") + "<oops>", "<oops>", r"not well-formed XML"),
        (sbml(species("A"), ""), '"A"', r"input species 'A' has no qual:initialLevel; give it with level=\{'A': ...\}"),
    ],
)
def test_sbml_qual_errors_name_the_line_and_element(tmp_path, text, marker, message):
    with pytest.raises(ValueError, match=rf"bad.sbml, line {line_of(text, marker)}: {message}"):
        read_sbml_qual(write(tmp_path, "bad.sbml", text))


def test_writers_refuse_what_they_cannot_spell(tmp_path):
    half = SignallingNetwork.from_rules("EGF = 1\nERK = EGF", level={"EGF": 0.4})
    with pytest.raises(ValueError, match=r"input 'EGF' has level 0.4; a Boolean model holds inputs at 0 or 1"):
        write_sbml_qual(half, tmp_path / "half.sbml")
    with pytest.raises(ValueError, match=r"input 'EGF' has level 0.4"):
        boolnet_text(half)
    dotted = SignallingNetwork.from_rules("p.EGF = 1\nERK = p.EGF")
    with pytest.raises(ValueError, match=r"\['p.EGF'\] are not SBML ids"):
        write_sbml_qual(dotted, tmp_path / "dotted.sbml")


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("targets, factors\nA, 1\nB, A & C\n", ValueError, r"'C' \(used by 'B' at \S*bad.bnet, line 3\)"),
        ("targets, factors\nA, 1\nA, 0\n", RuleSyntaxError, r"bad.bnet, line 3, column 1: node 'A' already has a rule"),
        ("targets, factors\nA, 1\nB, A &\n", RuleSyntaxError, r"bad.bnet, line 3, column 7: expected a node name"),
        ("targets, factors, probabilities\nA, 1, 1\n", ValueError, r"line 1: .*probabilistic BoolNet"),
    ],
)
def test_boolnet_errors_name_the_line(tmp_path, text, error, message):
    with pytest.raises(error, match=message):
        read_boolnet(write(tmp_path, "bad.bnet", text))


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("Node A { logic = A; }\nNode B {\n logic = A & $flag;\n}\n", ValueError, r"bad.bnd, line 3: .*'\$flag'"),
        ("Node A { logic = A; }\nNode B {\n logic = A & C;\n}\n", ValueError, r"'C' \(used by 'B' at \S*, line 3\)"),
        ("Node A { logic = A; }\n\nnode A { logic = 1; }\n", ValueError, r"line 3: node 'A' is declared twice"),
        ("Node A {\n logic = A\n}\n", ValueError, r"line 2: in node 'A', expected 'attribute = value;'"),
        ("Node A { logic = A ^ A; }\n", RuleSyntaxError, r"bad.bnd, line 1, column 3: unexpected character '\^'"),
        ("Node A { rate_up = $u; }\n", ValueError, r"line 1: node 'A' has no logic and its rate_up uses '\$u'"),
        ("Edge A { }\n", ValueError, r"line 1: expected 'Node NAME \{', found 'Edge A \{ \}'"),
    ],
)
def test_maboss_errors_name_the_line(tmp_path, text, error, message):
    with pytest.raises(error, match=message):
        read_maboss(write(tmp_path, "bad.bnd", text))
