"""Network v2 (EGFR-mutant NSCLC with feedback loops): convergence and stability of its quasi-steady
states over clones and drugs, the biology it must reproduce, its Boolean limit on a cyclic network, and
personalisation by copy number and expression."""

import equinox as eqx
import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mechanistic as m
from mechanistic.boolean_attractors import fixed_points
from mechanistic.egfr_network import EGFR_DRUG_PK
from mechanistic.egfr_network_v2 import (
    EGFR_CLONES_V2,
    EGFR_DRUGS_V2,
    EGFR_VARIANTS_V2,
    FEEDBACK_EDGES,
    egfr_drug_panel_v2,
    egfr_network_v2,
)

NET = egfr_network_v2()
PANEL = egfr_drug_panel_v2(NET)
CLONES = {"wild-type EGFR": (), **EGFR_CLONES_V2}


def saturating(drug: str) -> float:
    """100 x the drug's most potent IC50 (mg/L): saturating for its intended target."""
    d = next(d for d in EGFR_DRUGS_V2 if d.name == drug)
    return 100 * min(d.table().values()) * d.molecular_weight / 1e6


def clinical(drug: str) -> float:
    """Average steady-state plasma concentration (mg/L) of the standard dose: amount / (CL/F * interval),
    linear PK (tests/mechanistic/test_egfr_network.py checks this against the PK layer for erlotinib)."""
    amount, interval, cl, _, _ = EGFR_DRUG_PK[drug]
    return amount / (cl * 24 * interval)


def conc(levels: dict[str, float]) -> jax.Array:
    return jnp.asarray([levels.get(d, 0.0) for d in PANEL.names])


@pytest.fixture(scope="module")
def phenotype():
    clones = [m.personalise(NET, PANEL, muts, EGFR_VARIANTS_V2) for muts in CLONES.values()]
    return m.NetworkPhenotype(NET, PANEL, clones, apoptosis_rate=0.06)


TREATMENTS = {
    "none": {},
    **{d: {d: saturating(d)} for d in PANEL.names},
    "erlotinib (clinical)": {"erlotinib": clinical("erlotinib")},
    "osimertinib (clinical)": {"osimertinib": clinical("osimertinib")},
    "erlotinib + capmatinib (clinical)": {"erlotinib": clinical("erlotinib"), "capmatinib": clinical("capmatinib")},
    "osimertinib + capmatinib (clinical)": {
        "osimertinib": clinical("osimertinib"),
        "capmatinib": clinical("capmatinib"),
    },
}


@pytest.fixture(scope="module")
def states(phenotype):
    """Quasi-steady states of every clone under every treatment (one vmapped solve), by name."""
    levels = jnp.stack([conc(t) for t in TREATMENTS.values()])
    ss = jax.vmap(phenotype.steady_state)(levels)
    return {
        (t, c): (np.asarray(ss.x[i, j]), bool(ss.converged[i, j]), bool(ss.stable[i, j]))
        for i, t in enumerate(TREATMENTS)
        for j, c in enumerate(CLONES)
    }


def node(states, treatment, clone, name):
    x, converged, _ = states[(treatment, clone)]
    assert converged, f"{clone} under {treatment} did not converge"
    return float(x[NET.index(name)])


def test_the_network_is_cyclic_with_its_feedback_edges():
    assert not NET.is_acyclic()
    for source, target in FEEDBACK_EDGES:
        i = NET.index(target)
        assert NET.index(source) in NET.inputs[i]
    assert NET.n_nodes == 39


def test_every_clone_and_single_drug_converges_to_a_stable_state(states):
    bad = [k for k, (_, converged, stable) in states.items() if not (converged and stable)]
    assert not bad, f"no stable quasi-steady state for {bad}"


def test_steep_feedback_oscillates_and_is_reported_not_returned():
    # the reason for the shallower feedback edges: with the CNORode defaults (n = 3, k = 0.5) on them,
    # the L858R clone under erlotinib has no stable fixed point, and the solver says so
    steep = egfr_network_v2(feedback_hill_n=3.0, feedback_hill_k=0.5)
    panel = egfr_drug_panel_v2(steep)
    p = m.personalise(steep, panel, EGFR_CLONES_V2["L858R"], EGFR_VARIANTS_V2)
    ss = m.steady_state(steep, p.perturbation.with_factor(panel.factor(conc({"erlotinib": 1.0}), p.ic50)))
    assert not bool(ss.converged)
    with pytest.raises(m.NetworkConvergenceError, match="did not converge"):
        m.check_steady_state(ss)


def test_erlotinib_stops_proliferation_and_starts_apoptosis_of_the_sensitive_clones(states):
    for clone in ("L858R", "ex19del"):
        assert node(states, "none", clone, "PROLIFERATION") > 0.9
        assert node(states, "none", clone, "APOPTOSIS") < 0.05
        assert node(states, "erlotinib (clinical)", clone, "PROLIFERATION") < 0.05
        assert node(states, "erlotinib (clinical)", clone, "APOPTOSIS") > 0.5


def test_t790m_resists_erlotinib_not_osimertinib_and_c797s_resists_osimertinib(states):
    assert node(states, "erlotinib (clinical)", "T790M", "PROLIFERATION") > 0.9
    assert node(states, "erlotinib (clinical)", "T790M", "APOPTOSIS") < 0.05
    assert node(states, "osimertinib (clinical)", "T790M", "PROLIFERATION") < 0.05
    assert node(states, "osimertinib (clinical)", "T790M", "APOPTOSIS") > 0.5
    assert node(states, "osimertinib (clinical)", "T790M+C797S", "PROLIFERATION") > 0.9


def test_met_amplification_bypasses_egfr_inhibition_and_capmatinib_restores_it(states):
    # Engelman et al., Science 2007: MET amplification keeps ERBB3-PI3K on under gefitinib; MET inhibition restores
    assert node(states, "erlotinib (clinical)", "MET_amp", "PROLIFERATION") > 0.5
    assert node(states, "erlotinib (clinical)", "MET_amp", "APOPTOSIS") < 0.05
    assert node(states, "erlotinib + capmatinib (clinical)", "MET_amp", "PROLIFERATION") < 0.05
    assert node(states, "erlotinib + capmatinib (clinical)", "MET_amp", "APOPTOSIS") > 0.5
    assert node(states, "osimertinib (clinical)", "T790M+MET_amp", "PROLIFERATION") > 0.5
    assert node(states, "osimertinib + capmatinib (clinical)", "T790M+MET_amp", "PROLIFERATION") < 0.05
    assert node(states, "osimertinib + capmatinib (clinical)", "T790M+MET_amp", "APOPTOSIS") > 0.5


def test_mek_inhibition_relieves_erk_feedback_upstream(states):
    # ERK -| SOS / BRAF relief raises RAS-GTP (Pratilas et al., PNAS 2009; Lito et al., Cancer Cell 2012) and
    # ERK -| EGFR T669 relief raises ERBB3 phosphorylation (Turke et al., Cancer Res 2012)
    clone = "L858R"
    assert node(states, "trametinib", clone, "ERK") < 0.05
    assert node(states, "trametinib", clone, "KRAS") > node(states, "none", clone, "KRAS") + 0.1
    assert node(states, "trametinib", clone, "ERBB3") > node(states, "none", clone, "ERBB3") + 0.1
    assert node(states, "trametinib", clone, "AKT") >= node(states, "none", clone, "AKT")


def test_mtorc1_inhibition_raises_irs1_and_akt(states):
    # O'Reilly et al., Cancer Res 2006: rapamycin/RAD001 induce IRS1 and IGF1R-dependent AKT activation
    for clone in ("wild-type EGFR", "L858R"):
        assert node(states, "everolimus", clone, "S6K") < 0.05
        assert node(states, "everolimus", clone, "IRS1") > node(states, "none", clone, "IRS1") + 0.15
        assert node(states, "everolimus", clone, "AKT") > node(states, "none", clone, "AKT")
    # where AKT is not already saturated by the EGFR mutant, the rise is large
    assert node(states, "everolimus", "wild-type EGFR", "AKT") > node(states, "none", "wild-type EGFR", "AKT") + 0.3


def test_pi3k_inhibition_raises_her3_through_foxo(states):
    # Chandarlapaty et al., Cancer Cell 2011: AKT inhibition -> FOXO -> HER3 expression and phosphorylation
    clone = "L858R"
    assert node(states, "alpelisib", clone, "AKT") < 0.05
    assert node(states, "alpelisib", clone, "ERBB3_EXPR") > node(states, "none", clone, "ERBB3_EXPR") + 0.3
    assert node(states, "alpelisib", clone, "ERBB3") > node(states, "none", clone, "ERBB3") + 0.1


def test_every_drug_and_variant_names_its_source():
    assert all(d.source for d in EGFR_DRUGS_V2) and all(v.source for v in EGFR_VARIANTS_V2)
    for v in EGFR_VARIANTS_V2:
        NET.index(v.target)


# ------------------------------------------------------------------ Boolean limit on the cyclic network
def clamp(net, fixed):
    p = m.Perturbation.none(net.n_nodes)
    for name, on in fixed.items():
        i = net.index(name)
        p = m.Perturbation(p.floor.at[i].set(float(on)), p.gain, p.loss, p.factor.at[i].set(float(on)))
    return p


# A reduced input set: IGF1R clamped (IGF1's level 0.5 sits exactly at the Hill constant, where the steep
# limit is 1/2, not a Boolean value; and with IGF1R on and mTORC1 free, S6K -| IRS1 is a Boolean cycle).
BOOLEAN_CONDITIONS = {
    "untreated wild type": {"IGF1R": False},
    "EGFR inhibited": {"IGF1R": False, "EGFR": False},
    "EGFR mutant + MEK inhibited": {"IGF1R": False, "EGFR": True, "MEK": False},
    # MET drives SOS under the ERK feedback (a Boolean cycle): the ERK loops are opened by clamping ERK on
    "EGFR inhibited, MET on, ERK loops opened": {"IGF1R": False, "EGFR": False, "MET": True, "ERK": True},
    "EGFR inhibited, IGF1R on, mTORC1 inhibited": {"IGF1R": True, "EGFR": False, "MTORC1": False},
}


@pytest.mark.parametrize("fixed", BOOLEAN_CONDITIONS.values(), ids=BOOLEAN_CONDITIONS.keys())
def test_boolean_fixed_points_are_continuous_fixed_points_for_any_hill_constant(fixed):
    points = m.boolean_fixed_points(NET, fixed)
    assert points, f"no Boolean fixed point under {fixed}"
    corners = jnp.asarray(points, dtype=float)
    pert = clamp(NET, fixed)
    free = ~NET.is_input
    for seed in range(3):  # random Hill constants and coefficients: the interpolation is exact at corners
        kk, kn = jax.random.split(jax.random.key(seed))
        net = eqx.tree_at(
            lambda n: (n.hill_k, n.hill_n),
            NET,
            (
                jax.random.uniform(kk, NET.hill_k.shape, minval=0.1, maxval=2.0),
                jax.random.uniform(kn, NET.hill_n.shape, minval=0.5, maxval=6.0),
            ),
        )
        target = jax.vmap(lambda x, net=net: net.target(x, pert))(corners)
        np.testing.assert_allclose(np.asarray(target)[:, free], np.asarray(corners)[:, free], atol=1e-12)
    # steep limit: each Boolean fixed point is a stable continuous steady state
    steep = eqx.tree_at(lambda n: n.hill_n, NET, jnp.full_like(NET.hill_n, 60.0))
    ss = jax.vmap(lambda x0: m.steady_state(steep, pert, x0))(corners)
    assert bool(jnp.all(ss.converged))
    np.testing.assert_allclose(np.asarray(ss.x)[:, free], np.asarray(corners)[:, free], atol=1e-6)


def test_the_boolean_model_reproduces_the_clinical_logic():
    def state(fixed):
        points = m.boolean_fixed_points(NET, fixed)
        assert len(points) == 1, points
        return dict(zip(NET.nodes, points[0], strict=True))

    inhibited = state(BOOLEAN_CONDITIONS["EGFR inhibited"])
    assert inhibited["PROLIFERATION"] == 0 and inhibited["APOPTOSIS"] == 1
    bypass = state(BOOLEAN_CONDITIONS["EGFR inhibited, MET on, ERK loops opened"])
    assert bypass["ERBB3"] == 1 and bypass["AKT"] == 1
    assert bypass["PROLIFERATION"] == 1 and bypass["APOPTOSIS"] == 0
    mek = state(BOOLEAN_CONDITIONS["EGFR mutant + MEK inhibited"])
    assert mek["KRAS"] == 1 and mek["ERBB3"] == 1 and mek["ERK"] == 0


def test_the_egfr_mutant_boolean_model_has_no_fixed_point_only_a_cycle():
    # the negative feedbacks make the untreated mutant oscillate in the Boolean model; the continuous model
    # (shallow feedback edges) has a stable intermediate state instead (test above)
    assert m.boolean_fixed_points(NET, {"IGF1R": False, "EGFR": True}) == []


@st.composite
def random_networks(draw):
    n = draw(st.integers(2, 7))
    g = nx.DiGraph()
    names = [f"N{i}" for i in range(n)]
    for name in names:
        g.add_node(name, logic=draw(st.sampled_from(["or", "and"])), level=float(draw(st.booleans())))
    for target in names:
        for s in draw(st.lists(st.sampled_from(names), max_size=3, unique=True)):
            g.add_edge(s, target, sign=draw(st.sampled_from([1, -1])))
    return m.SignallingNetwork.from_graph(g)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(random_networks(), st.data())
def test_feedback_vertex_set_search_finds_the_exhaustive_fixed_points(net, data):
    clamped = data.draw(st.sets(st.sampled_from(net.nodes), max_size=2))
    fixed = {name: data.draw(st.booleans()) for name in sorted(clamped)}
    assert m.boolean_fixed_points(net, fixed) == fixed_points(m.synchronous_attractors(net, fixed))


# ------------------------------------------------------------------ copy number and expression
def test_gene_level_gains_follow_the_documented_formulas():
    assert m.GeneLevel("MET", copy_number=10).gain == pytest.approx(5.0)
    assert m.GeneLevel("MET", log2_ratio=2.0).gain == pytest.approx(4.0)
    assert m.GeneLevel("MET", copy_number=1).gain == pytest.approx(0.5)
    assert m.GeneLevel("AXL", expression_z=0.0).gain == pytest.approx(1.0)
    z = 1.0  # Phi(1) = 0.841345
    assert m.GeneLevel("AXL", expression_z=z).gain == pytest.approx(10 ** (2 * 0.8413447460685429 - 1))
    assert m.GeneLevel("AXL", expression_z=-z).gain == pytest.approx(1 / m.GeneLevel("AXL", expression_z=z).gain)
    assert m.GeneLevel("PTEN", copy_number=0).deleted


def qss(pers, c):
    return m.steady_state(NET, pers.perturbation.with_factor(PANEL.factor(c, pers.ic50)))


def test_met_copy_number_gain_confers_erlotinib_resistance_and_pten_deletion_raises_akt():
    base = m.personalise(NET, PANEL, EGFR_CLONES_V2["L858R"], EGFR_VARIANTS_V2)
    erl = conc({"erlotinib": clinical("erlotinib")})

    gained = m.apply_gene_levels(NET, base, [m.GeneLevel("MET", copy_number=40)])
    assert float(gained.perturbation.gain[NET.index("MET")]) == pytest.approx(20.0)
    x = {name: m.check_steady_state(qss(p, erl)).x for name, p in (("base", base), ("gained", gained))}
    assert float(x["base"][NET.index("PROLIFERATION")]) < 0.05
    assert float(x["gained"][NET.index("PROLIFERATION")]) > 0.5  # like the MET-amplified clone
    deleted = m.apply_gene_levels(NET, base, [m.GeneLevel("PTEN", copy_number=0)])
    assert float(deleted.perturbation.loss[NET.index("PTEN")]) == 1.0
    akt = [float(m.check_steady_state(qss(p, conc({}))).x[NET.index("AKT")]) for p in (base, deleted)]
    assert akt[1] > akt[0] + 0.05


def test_pten_loss_under_egfr_inhibition_oscillates_and_is_reported():
    # Known limit of v2: with EGFR off and PTEN lowered, PI3K is driven by IRS1 alone and the S6K -| IRS1 loop
    # has no stable state (sustained oscillation); the solver reports it, and the phenotype is NaN, not garbage.
    # (If a later version stabilises this loop, replace this test by the biology it should show.)
    base = m.personalise(NET, PANEL, EGFR_CLONES_V2["L858R"], EGFR_VARIANTS_V2)
    deleted = m.apply_gene_levels(NET, base, [m.GeneLevel("PTEN", copy_number=0)])
    with pytest.raises(m.NetworkConvergenceError):
        m.check_steady_state(qss(deleted, conc({"erlotinib": clinical("erlotinib")})))
    phen = m.NetworkPhenotype(NET, PANEL, [deleted], apoptosis_rate=0.06)
    growth, death = phen(conc({"erlotinib": clinical("erlotinib")}))
    assert bool(jnp.isnan(growth[0])) and bool(jnp.isnan(death[0]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"copy_number": 3, "expression_z": 1.0}, "exactly one"),
        ({"copy_number": -1}, "must be >= 0"),
        ({"log2_ratio": float("nan")}, "must be finite"),
        ({"copy_number": 2, "ploidy": 0}, "ploidy"),
    ],
)
def test_bad_gene_levels_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        m.GeneLevel("MET", **kwargs)


def test_gene_levels_for_unknown_or_repeated_nodes_are_rejected():
    base = m.personalise(NET, PANEL, (), EGFR_VARIANTS_V2)
    with pytest.raises(ValueError, match="not in the network"):
        m.apply_gene_levels(NET, base, [m.GeneLevel("MYC", copy_number=8)])
    with pytest.raises(ValueError, match="more than one"):
        m.apply_gene_levels(NET, base, [m.GeneLevel("MET", copy_number=8), m.GeneLevel("MET", expression_z=2.0)])
