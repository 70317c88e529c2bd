"""Personalisation by mutations and the drug table: effects, IC50 shifts, bad input."""

import numpy as np
import pytest

import mechanistic as m
from mechanistic.egfr_network import EGFR_DRUGS, EGFR_VARIANTS, egfr_drug_panel, egfr_network


@pytest.fixture(scope="module")
def net():
    return egfr_network()


@pytest.fixture(scope="module")
def panel(net):
    return egfr_drug_panel(net)


def test_effects_map_to_the_perturbation_and_ic50s(net, panel):
    muts = [
        m.Mutation("EGFR", "L858R"),
        m.Mutation("EGFR", "T790M"),
        m.Mutation("MET", "amplification"),
        m.Mutation("PTEN", "loss"),
    ]
    p = m.personalise(net, panel, muts, EGFR_VARIANTS)
    egfr, met, pten = net.index("EGFR"), net.index("MET"), net.index("PTEN")
    assert p.perturbation.floor[egfr] == 1.0 and p.perturbation.gain[met] == 20.0 and p.perturbation.loss[pten] == 1.0
    erl, osi = panel.names.index("erlotinib"), panel.names.index("osimertinib")
    # the most resistant listed variant of the target wins: T790M over L858R for erlotinib
    assert p.ic50[erl, egfr] == 5000.0 and p.ic50[osi, egfr] == 15.0
    wild = m.personalise(net, panel, [], EGFR_VARIANTS)
    assert wild.ic50[erl, egfr] == 1000.0 and np.all(wild.perturbation.floor == 0)


def test_drug_factor_is_bliss_independent(net, panel):
    conc = np.zeros(panel.n_drugs)
    erl = panel.names.index("erlotinib")
    conc[erl] = 393.4e-6 * 20.0  # 20 nM (MW 393.4 g/mol) = the default IC50 of L858R -> half inhibition
    p = m.personalise(net, panel, [m.Mutation("EGFR", "L858R")], EGFR_VARIANTS)
    factor = panel.factor(conc, p.ic50)
    assert factor[net.index("EGFR")] == pytest.approx(0.5, rel=1e-9)
    assert np.all(np.delete(np.asarray(factor), net.index("EGFR")) == 1.0)


def test_unknown_genes_and_variants_are_listed(net, panel):
    muts = [
        m.Mutation("EGFR", "L858R"),
        m.Mutation("EGFR", "G719X"),
        m.Mutation("STK11", "loss"),
        m.Mutation("KEAP1", "G333C"),
    ]
    with pytest.raises(
        m.UnknownVariantError,
        match=r"genes not in the network: \['KEAP1', 'STK11'\]; "
        r"variants without a known effect: EGFR G719X",
    ):
        m.personalise(net, panel, muts, EGFR_VARIANTS)
    with pytest.warns(UserWarning, match="ignoring genes not in the network"):
        p = m.personalise(net, panel, muts, EGFR_VARIANTS, allow_unknown=True)
    assert p.perturbation.floor[net.index("EGFR")] == 1.0  # the known mutation still applies


def test_bad_mutations_and_drug_tables(net):
    with pytest.raises(ValueError, match=r"vaf=1.5 must be in \(0, 1\]"):
        m.Mutation("EGFR", "L858R", 1.5)
    with pytest.raises(ValueError, match=r"target 'HER9' is not a node"):
        m.DrugPanel(net, [m.TargetedDrug("x", {"HER9": 1.0}, molecular_weight=400.0)])
    with pytest.raises(ValueError, match=r"IC50 for EGFR \(T790M\) = -3.0 must be finite and > 0"):
        m.DrugPanel(net, [m.TargetedDrug("x", {"EGFR": {"default": 1.0, "T790M": -3.0}}, molecular_weight=400.0)])
    with pytest.raises(ValueError, match=r"has variant IC50s but no 'default' IC50"):
        m.DrugPanel(net, [m.TargetedDrug("x", {"EGFR": {"T790M": 3.0}}, molecular_weight=400.0)])
    with pytest.raises(ValueError, match=r"repeated: \['erlotinib'\]"):
        m.DrugPanel(net, [EGFR_DRUGS[0], EGFR_DRUGS[0]])
    rows = [{"drug": "x", "target": "MEK", "ic50_nM": 2.0}, {"drug": "x", "target": "MEK"}]
    with pytest.raises(ValueError, match=r"drug table row 2: missing column\(s\) \['ic50_nM'\]"):
        m.DrugPanel.from_rows(net, rows, {"x": {"molecular_weight": 600.0}})


def test_drug_panel_from_rows(net):
    rows = [
        {"drug": "x", "target": "EGFR", "variant": "", "ic50_nM": 100.0},
        {"drug": "x", "target": "EGFR", "variant": "T790M", "ic50_nM": 900.0},
        {"drug": "y", "target": "MEK", "ic50_nM": 2.0},
    ]
    panel = m.DrugPanel.from_rows(net, rows, {"x": {"molecular_weight": 400.0}, "y": {"molecular_weight": 600.0}})
    assert panel.names == ("x", "y")
    assert panel.ic50[0, net.index("EGFR")] == 100.0 and panel.variant_ic50 == ((0, net.index("EGFR"), "T790M", 900.0),)


def test_clones_from_allele_fractions():
    report = [
        m.Mutation("EGFR", "L858R", 0.42),
        m.Mutation("TP53", "R273H", 0.38),
        m.Mutation("EGFR", "T790M", 0.063),
        m.Mutation("MET", "amplification", 0.04),
    ]
    clones, fractions = m.clones_from_mutations(report)
    assert list(clones) == ["truncal", "EGFR T790M", "MET amplification"]
    assert clones["EGFR T790M"] == (report[0], report[1], report[2])
    assert fractions["EGFR T790M"] == pytest.approx(0.063 / 0.40) and sum(fractions.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="add up to more than 1"):
        m.clones_from_mutations(
            [
                m.Mutation("EGFR", "L858R", 0.4),
                m.Mutation("A", "x", 0.19),
                m.Mutation("B", "y", 0.19),
                m.Mutation("C", "z", 0.19),
            ],
            subclonal_below=0.9,
        )
