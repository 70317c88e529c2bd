"""The drug catalogue from public data (Davis 2011 Kd, DrugCentral) and its network drugs: readers,
merge policy, known pharmacology, coverage of the shipped EGFR network, and bad input."""

import statistics

import numpy as np
import pytest

from mechanistic.drug_catalogue import DAVIS_2011, DRUGCENTRAL, DrugCatalogue, PotencyRecord
from mechanistic.drug_catalogue_panel import NodeMap, catalogue_drugs, coverage, node_potencies
from mechanistic.drug_catalogue_readers import read_davis2011, read_drugcentral, read_potency_table
from mechanistic.egfr_network import EGFR_DRUG_PK, EGFR_DRUGS, EGFR_NODE_MAP, egfr_drug_exposure, egfr_network

EX19DEL_FORMS = ("E746-A750del", "L747-E749del+A750P", "L747-S752del+P753S", "L747-T751del+Sins", "S752-I759del")


@pytest.fixture(scope="module")
def davis(refdata):
    return read_davis2011(refdata / "davis2011_kinase_kd")


@pytest.fixture(scope="module")
def drugcentral(refdata):
    return read_drugcentral(refdata / "drugcentral_targets" / "drugcentral_dti_human.csv")


@pytest.fixture(scope="module")
def catalogue(davis, drugcentral):
    return DrugCatalogue.combine(davis, drugcentral)


@pytest.fixture(scope="module")
def potency(catalogue):
    """(drug, node, variant) -> NodePotency on the EGFR network."""
    return {(p.drug, p.node, p.variant): p for p in node_potencies(catalogue, EGFR_NODE_MAP)}


def test_both_sources_load_with_their_attributions(davis, drugcentral, catalogue):
    assert len(davis.drugs) == 72
    # 72 x 442 assays, less the 3 non-human kinases and the JAK pseudokinase (JH2) constructs
    assert len(davis.records) + len(davis.skipped) == 72 * 442
    assert {s.reason for s in davis.skipped} == {
        "non-human kinase (no human gene)",
        "pseudokinase-domain construct, not catalytic",
    }
    assert len(drugcentral.drugs) > 1600
    assert set(catalogue.sources) == {DAVIS_2011, DRUGCENTRAL}
    assert any("CC BY-SA 4.0" in a for a in catalogue.attributions)
    assert any("Artistic-2.0" in a for a in catalogue.attributions)
    # the INN join: erlotinib is one drug with records from both sources
    assert {r.source for r in catalogue.of("Erlotinib")} == {DAVIS_2011, DRUGCENTRAL}


def test_first_generation_tkis_bind_activating_egfr_far_better_than_the_t790m_clone(potency):
    for drug in ("erlotinib", "gefitinib"):
        t790m = potency[(drug, "EGFR", "T790M")]
        assert t790m.source == DAVIS_2011 and not t790m.censored
        for variant in ("L858R", "ex19del"):
            assert t790m.value_nM > 50 * potency[(drug, "EGFR", variant)].value_nM
    # the network's T790M is Davis's double mutant EGFR(L858R,T790M), not EGFR(T790M) alone
    (gp,) = potency[("erlotinib", "EGFR", "T790M")].gene_potencies
    assert gp.assay_variant == "L858R+T790M"


def test_ex19del_is_the_median_of_the_five_davis_deletion_constructs(davis, potency):
    for drug in ("erlotinib", "afatinib", "lapatinib"):
        values = [r.value_nM for r in davis.of(drug) if r.gene == "EGFR" and r.assay_variant in EX19DEL_FORMS]
        assert len(values) == 5
        assert potency[(drug, "EGFR", "ex19del")].value_nM == statistics.median(values)


def test_not_bound_is_censored_and_does_not_make_a_target(potency):
    # lapatinib: EGFR(L858R,T790M) not detected in the 10 uM screen
    lap = potency[("lapatinib", "EGFR", "T790M")]
    assert lap.censored and lap.value_nM == 10_000
    assert potency[("erlotinib", "MEK", "default")].censored


def test_davis_wins_over_drugcentral_for_the_genes_it_measures(catalogue):
    gp = {(g.drug, g.gene, g.assay_variant): g for g in catalogue.gene_potencies()}
    afatinib = gp[("afatinib", "EGFR", "")]
    assert afatinib.source == DAVIS_2011 and afatinib.kind == "Kd"
    assert any(r.source == DRUGCENTRAL for r in afatinib.alternatives)  # kept, named, not used
    # reversing the priority changes the winner: the rule, not the data, decides
    reversed_gp = {(g.drug, g.gene, g.assay_variant): g for g in catalogue.gene_potencies((DRUGCENTRAL, DAVIS_2011))}
    assert reversed_gp[("afatinib", "EGFR", "")].source == DRUGCENTRAL


def test_osimertinib_is_not_in_davis_and_the_curated_table_wins_over_drugcentral(davis, catalogue, potency):
    assert "osimertinib" not in davis.drugs  # Davis 2011 predates it
    dc = potency[("osimertinib", "EGFR", "default")]
    assert dc.source == DRUGCENTRAL and ("osimertinib", "EGFR", "T790M") not in potency
    built = catalogue_drugs(catalogue, egfr_network(), EGFR_NODE_MAP, curated=EGFR_DRUGS, drugs=["osimertinib"])
    (osi,) = built.drugs
    assert osi == next(d for d in EGFR_DRUGS if d.name == "osimertinib")  # variant-resolved, cellular


def test_met_and_mek_inhibitors_hit_their_nodes(catalogue, potency):
    cov = coverage(catalogue, EGFR_NODE_MAP)
    assert "crizotinib" in cov.per_node["MET"] and potency[("crizotinib", "MET", "default")].value_nM < 10
    assert "trametinib" in cov.per_node["MEK"] and potency[("trametinib", "MEK", "default")].source == DRUGCENTRAL
    # capmatinib (approved 2020) is in neither source; it reaches MET through the curated table
    assert "capmatinib" not in catalogue.drugs
    built = catalogue_drugs(catalogue, egfr_network(), EGFR_NODE_MAP, curated=EGFR_DRUGS, drugs=["capmatinib"])
    assert set(built.drugs[0].ic50) == {"MET"}


def test_coverage_of_the_egfr_network(catalogue):
    cov = coverage(catalogue, EGFR_NODE_MAP)
    print("\n" + cov.summary())
    assert cov.n_drugs > 1700
    assert len(cov.hitting) >= 80
    assert len(cov.per_node["EGFR"]) >= 40 and len(cov.per_node["MET"]) >= 15 and len(cov.per_node["MEK"]) >= 15
    assert {"cetuximab", "panitumumab"} <= set(cov.mechanism_only)  # antibodies: target, no potency
    assert "metformin" in cov.no_modelled_target
    assert {"KRAS", "NRAS"} <= set(cov.unmeasured_genes)
    partition = set(cov.hitting) | set(cov.weak_only) | set(cov.mechanism_only) | set(cov.no_modelled_target)
    assert len(partition) == cov.n_drugs


def test_network_drugs_are_labelled_and_act_on_the_network(catalogue):
    net = egfr_network()
    clinical = {d: (egfr_drug_exposure(d), "EGFR_DRUG_PK") for d in EGFR_DRUG_PK}
    built = catalogue_drugs(catalogue, net, EGFR_NODE_MAP, curated=EGFR_DRUGS, clinical_mg_per_L=clinical)
    assert built.names[: len(EGFR_DRUGS)] == tuple(d.name for d in EGFR_DRUGS)
    assert len(built.drugs) >= 80 and "metformin" in built.untargeted
    assert {built.exposures[d].basis for d in EGFR_DRUG_PK} == {"clinical"}
    afatinib = built.exposures["afatinib"]
    assert afatinib.basis == "assumed" and afatinib.nominal_molecular_weight and "assumed" in afatinib.note
    assert any("nominal" in a for a in built.assumptions)
    panel = built.panel(net)
    # a clone with L858R and T790M takes the larger of its two IC50s (the double-mutant Kd for afatinib)
    d, i = panel.names.index("afatinib"), net.index("EGFR")
    ic50 = np.asarray(panel.personal_ic50({i: {"L858R", "T790M"}}))
    assert ic50[d, i] == pytest.approx(1.1)
    conc = np.array([built.exposure_mg_per_L()[n] for n in panel.names])
    factor = np.asarray(panel.factor(conc))
    assert np.all(np.isfinite(factor)) and factor[i] < 0.01  # dozens of EGFR inhibitors together


def test_cellular_shift_scales_ic50s_and_assumed_exposures_together(catalogue):
    net = egfr_network()
    one, shifted = (
        catalogue_drugs(catalogue, net, EGFR_NODE_MAP, drugs=["afatinib", "selumetinib"], cellular_shift=s)
        for s in (1.0, 20.0)
    )
    assert shifted.drugs[0].ic50["EGFR"]["default"] == pytest.approx(20 * one.drugs[0].ic50["EGFR"]["default"])
    # the occupancy at an assumed exposure (k x the shifted potency) does not depend on the shift
    for built in (one, shifted):
        built_factor = built.panel(net).factor(np.array([built.exposure_mg_per_L()[n] for n in built.names]))
        if built is one:
            reference = np.asarray(built_factor)
        else:
            np.testing.assert_allclose(np.asarray(built_factor), reference, rtol=1e-9)


def test_curated_cellular_ic50s_are_a_consistent_multiple_of_davis_kd(potency):
    """The hand table's cellular IC50s (Cross 2014, Kobayashi 2005) against Davis's Kd on the same
    variants: one factor (the size of a cellular_shift) for both drugs and both activating variants."""
    ratios = {}
    for drug in (d for d in EGFR_DRUGS if d.name in ("erlotinib", "gefitinib")):
        for variant in ("L858R", "ex19del", "T790M"):
            ratios[(drug.name, variant)] = drug.ic50["EGFR"][variant] / potency[(drug.name, "EGFR", variant)].value_nM
    print("\ncurated cellular IC50 / Davis Kd:", {k: round(v, 1) for k, v in ratios.items()})
    assert all(5 < r < 100 for r in ratios.values())


# --- bad input -------------------------------------------------------------------------------

DAVIS_HEADER = "drug,inn,kinase_assay,gene,variant,assay_form,species,gene_source,kd_nM,bound\n"


def _davis(tmp_path, rows, header=DAVIS_HEADER):
    folder = tmp_path / "davis"
    folder.mkdir()
    (folder / "davis2011_kd_long.csv").write_text(header + "".join(r + "\n" for r in rows))
    return folder


def test_missing_column_names_file_and_column(tmp_path):
    folder = _davis(
        tmp_path, ["Erlotinib,erlotinib,EGFR,EGFR,,,Homo sapiens,assay name,True"], DAVIS_HEADER.replace(",kd_nM", "")
    )
    with pytest.raises(ValueError, match=r"davis2011_kd_long.csv: missing column\(s\) \['kd_nM'\]"):
        read_davis2011(folder)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "abc"])
def test_non_positive_or_non_finite_potency_names_the_row(tmp_path, value):
    folder = _davis(
        tmp_path,
        [
            "Erlotinib,erlotinib,EGFR,EGFR,,,Homo sapiens,assay name,0.67,True",
            f"Erlotinib,erlotinib,EGFR(L858R),EGFR,L858R,,Homo sapiens,assay name,{value},True",
        ],
    )
    with pytest.raises(ValueError, match=rf"row 2, column 'kd_nM': '{value}'"):
        read_davis2011(folder)


def test_conflicting_duplicates_in_davis_name_both_rows(tmp_path):
    folder = _davis(
        tmp_path,
        [
            "Erlotinib,erlotinib,EGFR,EGFR,,,Homo sapiens,assay name,0.67,True",
            "Erlotinib,erlotinib,EGFR,EGFR,,,Homo sapiens,assay name,0.9,True",
        ],
    )
    with pytest.raises(
        ValueError, match=r"0.67 nM \(davis2011_kd_long.csv row 1 .*0.9 nM \(davis2011_kd_long.csv row 2"
    ):
        read_davis2011(folder)


def test_bound_must_be_true_or_false(tmp_path):
    folder = _davis(tmp_path, ["Erlotinib,erlotinib,EGFR,EGFR,,,Homo sapiens,assay name,0.67,yes"])
    with pytest.raises(ValueError, match=r"row 1, column 'bound': 'yes'"):
        read_davis2011(folder)


def test_drugcentral_skips_what_is_not_an_inhibitory_potency(tmp_path):
    path = tmp_path / "dc.csv"
    path.write_text(
        "drug,gene,act_type,relation,potency_nM,action_type,moa,source\n"
        "Drug A,EGFR,IC50,=,5,INHIBITOR,1,CHEMBL\n"
        "drug a,EGFR,Km,=,7,,,CHEMBL\n"
        "drug a,MET,IC50,>,7,,,IUPHAR\n"
        "drug b,EGFR,EC50,=,3,AGONIST,1,CHEMBL\n"
        "drug c,EGFR,,,,ANTIBODY BINDING,1,DRUG LABEL\n"
    )
    cat = read_drugcentral(path)
    assert [(r.drug, r.gene, r.value_nM) for r in cat.records] == [("drug a", "EGFR", 5.0)]
    assert [s.reason.split()[0] for s in cat.skipped] == ["potency", "inequality", "activating"]
    assert cat.mechanism_targets == {("drug c", "EGFR")}
    path.write_text("drug,gene,act_type,relation,potency_nM,action_type,moa,source\nx,EGFR,IC50,=,nan,,,CHEMBL\n")
    with pytest.raises(ValueError, match=r"dc.csv row 1, column 'potency_nM': 'nan' must be finite and > 0"):
        read_drugcentral(path)


def _user_table(tmp_path, rows):
    path = tmp_path / "mine.csv"
    path.write_text("drug,gene,variant,potency_nM,potency_type,molecular_weight\n" + "".join(r + "\n" for r in rows))
    return path


def test_user_table_refuses_conflicting_duplicates_and_unknown_genes(tmp_path):
    path = _user_table(tmp_path, ["newdrug,MET,,2,IC50,400", "NewDrug,MET,,3,IC50,400"])
    with pytest.raises(ValueError, match=r"2.0 nM \(mine.csv row 1\) and 3.0 nM \(mine.csv row 2\)"):
        read_potency_table(path, "mine")
    path = _user_table(tmp_path, ["newdrug,MET,,2,IC50,400", "newdrug,MEK1,,3,IC50,400", "newdrug,C-MET,,3,IC50,"])
    with pytest.raises(ValueError, match=r"unknown gene\(s\) MEK1 \(mine.csv row 2\), C-MET \(mine.csv row 3\)"):
        read_potency_table(path, "mine", genes=EGFR_NODE_MAP.genes)
    cat = read_potency_table(path, "mine", genes=EGFR_NODE_MAP.genes, allow_unknown_genes=True)
    assert [r.gene for r in cat.records] == ["MET"] and [s.gene for s in cat.skipped] == ["MEK1", "C-MET"]
    assert cat.molecular_weights["newdrug"][0] == 400


def test_a_user_table_must_be_ranked_and_its_weight_gives_a_clinical_exposure(tmp_path, catalogue):
    user = read_potency_table(_user_table(tmp_path, ["newdrug,MET,,2,IC50,400"]), "mine")
    both = DrugCatalogue.combine(catalogue, user)
    net = egfr_network()
    with pytest.raises(ValueError, match=r"sources \['mine'\] are not ranked"):
        catalogue_drugs(both, net, EGFR_NODE_MAP, drugs=["newdrug"])
    built = catalogue_drugs(
        both,
        net,
        EGFR_NODE_MAP,
        drugs=["newdrug"],
        clinical_mg_per_L={"newdrug": (0.4, "a trial")},
        source_priority=("mine", DAVIS_2011, DRUGCENTRAL),
    )
    assert built.exposures["newdrug"].nM == pytest.approx(1000.0)  # 0.4 mg/L / 400 g/mol
    with pytest.raises(ValueError, match="needs its molecular weight"):
        catalogue_drugs(catalogue, net, EGFR_NODE_MAP, drugs=["afatinib"], clinical_mg_per_L={"afatinib": (0.1, "x")})


def test_drugs_without_a_modelled_target_or_wild_type_value_are_refused(tmp_path, catalogue):
    net = egfr_network()
    with pytest.raises(ValueError, match=r"\['metformin'\] have no modelled target"):
        catalogue_drugs(catalogue, net, EGFR_NODE_MAP, drugs=["erlotinib", "metformin"])
    variant_only = DrugCatalogue((PotencyRecord("x", "EGFR", "L858R", 1.0, "Kd", "mine", "mine.csv row 1"),))
    with pytest.raises(ValueError, match=r"drug 'x', node EGFR: potencies for variant\(s\) \['L858R'\] but none"):
        catalogue_drugs(variant_only, net, EGFR_NODE_MAP, source_priority=("mine",), drugs=["x"])


def test_node_map_must_name_network_nodes():
    with pytest.raises(ValueError, match=r"node\(s\) \['CDK4'\] that are not in the network"):
        NodeMap({"CDK4": "CDK4", "EGFR": "EGFR"}).check(egfr_network())
    with pytest.raises(ValueError, match=r"variants of gene\(s\) \['PIK3CB'\]"):
        NodeMap({"EGFR": "EGFR"}, {("PIK3CB", "E1051K"): "x"}).check(egfr_network())


def test_potency_record_refuses_bad_values():
    with pytest.raises(ValueError, match=r"t.csv row 3: drug 'x', gene 'EGFR': potency -1.0 nM"):
        PotencyRecord("x", "EGFR", "", -1.0, "Kd", "s", "t.csv row 3")
    with pytest.raises(ValueError, match=r"potency type 'pIC50' is not one of"):
        PotencyRecord("x", "EGFR", "", 1.0, "pIC50", "s", "t.csv row 3")
