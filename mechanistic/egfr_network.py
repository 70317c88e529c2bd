"""The shipped EGFR-mutant NSCLC signalling network, its drugs, variants and a network-driven
clone model.

Topology (25 nodes; acyclic, so its quasi-steady state is exact after one sweep per layer).
Inputs: EGF and HGF ligands (low autocrine level), PTEN (present).

- ERBB receptors: EGFR (ligand, or constitutive with an activating mutation); ERBB2 transactivated
  by EGFR; ERBB3 (kinase-impaired) phosphorylated by EGFR, ERBB2 or MET — the MET bypass of
  Engelman et al., Science 2007;316:1039.
- MET: activated by HGF; amplification raises its activity gain (Engelman 2007; Bean et al.,
  PNAS 2007;104:20932).
- RAS-RAF-MEK-ERK: GRB2/SOS recruited by EGFR, ERBB2 or MET.
- PI3K-AKT-mTOR: PI3K recruited by ERBB3 (p85 binding sites; Engelman 2007) or RAS; AKT needs
  PIP3 (PI3K without PTEN); mTORC1 downstream of AKT.
- Apoptosis: BIM is induced by FOXO3 (active without AKT) and degraded after ERK
  phosphorylation; EGFR-TKI killing of EGFR-mutant cells needs BIM (Costa et al., PLoS Med
  2007;4:e315; Gong et al., PLoS Med 2007;4:e294). BIM neutralises BCL2; ERK stabilises MCL1.
- Phenotypes: PROLIFERATION needs an ERK output (cyclin D1 or MYC) and mTORC1; APOPTOSIS needs
  BIM with BCL2 and MCL1 off.

Feedbacks known in these pathways (ERK -| SOS, S6K -| IRS1) are left out of this version; the
network is a qualitative model (logic from the cited papers; Hill constants and coefficients
are the CNORode defaults k = 0.5, n = 3; time constants are order-of-magnitude values: minutes
for phosphorylation, hours for transcription and phenotype).
"""

from __future__ import annotations

from mechanistic.boolean_rules import parse_rules
from mechanistic.drug_catalogue_panel import NodeMap
from mechanistic.model import DiseaseModel
from mechanistic.mutations import Mutation, VariantEffect, personalise
from mechanistic.network import SignallingNetwork
from mechanistic.network_phenotype import NetworkPhenotype
from mechanistic.pk import OneCompartment
from mechanistic.targeted_drugs import DrugPanel, TargetedDrug
from mechanistic.tumour import TumourModel
from mechanistic.units import convert

EGFR_RULES = """
# inputs (activity in [0, 1])
EGF = 1          # level set below (low autocrine EGF)
HGF = 1          # level set below (low HGF)
PTEN = 1         # level set below (lipid phosphatase opposing PI3K)
# ERBB receptors and MET
EGFR = EGF
ERBB2 = EGFR
MET = HGF
ERBB3 = EGFR | ERBB2 | MET
# RAS-RAF-MEK-ERK
GRB2 = EGFR | ERBB2 | MET
RAS = GRB2
RAF = RAS
MEK = RAF
ERK = MEK
# PI3K-AKT-mTOR
PI3K = ERBB3 | RAS
PIP3 = PI3K & !PTEN
AKT = PIP3
MTORC1 = AKT
# apoptosis control
FOXO3 = !AKT
BIM = FOXO3 & !ERK
BCL2 = !BIM
MCL1 = ERK
# transcriptional outputs and phenotypes
CCND1 = ERK
MYC = ERK
PROLIFERATION = (CCND1 | MYC) & MTORC1
APOPTOSIS = BIM & !BCL2 & !MCL1
"""

_LEVELS = {"EGF": 0.2, "HGF": 0.2, "PTEN": 0.3}  # illustrative: ligand-poor tumour; PTEN opposes, not abolishes, PI3K
_FAST, _TRANSCRIPTION, _PHENOTYPE = 5.0 / (24 * 60), 2.0 / 24, 6.0 / 24  # day: 5 min, 2 h, 6 h
_TAU = {
    **{n: _TRANSCRIPTION for n in ("FOXO3", "BIM", "BCL2", "MCL1", "CCND1", "MYC")},
    "PROLIFERATION": _PHENOTYPE,
    "APOPTOSIS": _PHENOTYPE,
}


def egfr_network(tau_scale: float = 1.0) -> SignallingNetwork:
    """The EGFR/ERBB-MET-MAPK-PI3K network above (25 nodes); ``tau_scale`` multiplies every
    time constant (phosphorylation 5 min, transcription 2 h, phenotype 6 h)."""
    kinds = {"PROLIFERATION": "phenotype", "APOPTOSIS": "phenotype", "CCND1": "gene", "MYC": "gene"}
    names = parse_rules(EGFR_RULES)
    tau = {n: tau_scale * _TAU.get(n, _FAST) for n in names}
    return SignallingNetwork.from_rules(EGFR_RULES, kinds=kinds, tau=tau, level=_LEVELS)


# Drugs. IC50s are cellular values (nM) for the target's activity in cell lines carrying the
# variant, compared with total plasma concentration (fraction_unbound = 1: the assays are run in
# serum). They are rounded literature values, to be checked against the papers before any
# quantitative use:
# - erlotinib, gefitinib: activating EGFR mutants (PC-9 ex19del, H3255 L858R) ~10-30 nM;
#   with T790M (H1975) > 3 uM (Cross et al., Cancer Discov 2014;4:1046; Kobayashi et al.,
#   NEJM 2005;352:786); wild-type EGFR in cells ~1 uM (not EGFR-driven).
# - osimertinib: ex19del/L858R ~15 nM, with T790M ~10 nM, wild-type ~500 nM (Cross 2014);
#   C797S abolishes covalent binding, > 3 uM (Thress et al., Nat Med 2015;21:560).
# - capmatinib (MET): ~1 nM cellular MET phosphorylation (Liu et al., Clin Cancer Res
#   2011;17:7127; biochemical 0.13 nM).
# - trametinib (MEK1/2): ~2 nM cellular ERK phosphorylation (Gilmartin et al., Clin Cancer Res
#   2011;17:989; biochemical 0.7-0.9 nM).
# - alpelisib (PI3K-alpha): ~250 nM cellular AKT phosphorylation (Fritsch et al., Mol Cancer
#   Ther 2014;13:1117; biochemical 4.6 nM).
# Molecular weights (free base, g/mol) from the product labels.
EGFR_DRUGS: tuple[TargetedDrug, ...] = (
    TargetedDrug(
        "erlotinib",
        {"EGFR": {"default": 1000.0, "L858R": 20.0, "ex19del": 10.0, "T790M": 5000.0}},
        molecular_weight=393.4,
        source="Cross 2014; Kobayashi 2005",
    ),
    TargetedDrug(
        "gefitinib",
        {"EGFR": {"default": 1000.0, "L858R": 20.0, "ex19del": 10.0, "T790M": 5000.0}},
        molecular_weight=446.9,
        source="Cross 2014; Kobayashi 2005",
    ),
    TargetedDrug(
        "osimertinib",
        {"EGFR": {"default": 500.0, "L858R": 15.0, "ex19del": 15.0, "T790M": 10.0, "C797S": 5000.0}},
        molecular_weight=499.6,
        source="Cross 2014; Thress 2015",
    ),
    TargetedDrug("capmatinib", {"MET": 1.0}, molecular_weight=412.4, source="Liu 2011"),
    TargetedDrug("trametinib", {"MEK": 2.0}, molecular_weight=615.4, source="Gilmartin 2011"),
    TargetedDrug("alpelisib", {"PI3K": 250.0}, molecular_weight=441.5, source="Fritsch 2014"),
)

# Variants with a network effect (affinity-only variants such as T790M and C797S act through
# the drug table above).
EGFR_VARIANTS: tuple[VariantEffect, ...] = (
    VariantEffect("EGFR", "L858R", "gain_of_function", source="Lynch NEJM 2004; Paez Science 2004"),
    VariantEffect("EGFR", "ex19del", "gain_of_function", source="Lynch NEJM 2004; Paez Science 2004"),
    VariantEffect("MET", "amplification", "amplification", 20.0, source="Engelman 2007 (illustrative gain)"),
    VariantEffect("ERBB2", "amplification", "amplification", 20.0, source="Takezawa Cancer Discov 2012 (illustrative)"),
    VariantEffect("RAS", "G12C", "gain_of_function", source="KRAS G12C, constitutive GTP-bound"),
    VariantEffect("PI3K", "E545K", "gain_of_function", 0.8, source="PIK3CA helical-domain mutant (illustrative)"),
    VariantEffect("PTEN", "loss", "loss_of_function", source="PTEN loss (Sos et al. Cancer Res 2009)"),
)

# Standard doses and apparent one-compartment oral PK (typical values, product labels unless
# noted; ka from the time to peak). Used for clinical exposures in the drug screen.
# (amount mg, interval day, CL/F L/h, V/F L, ka 1/h)
EGFR_DRUG_PK: dict[str, tuple[float, float, float, float, float]] = {
    "erlotinib": (150.0, 1.0, 3.95, 233.0, 0.95),  # Lu et al. Clin Pharmacol Ther 2006
    "gefitinib": (250.0, 1.0, 59.5, 2333.0, 0.3),  # label: CL 595 mL/min, V 1400 L, F 0.6
    "osimertinib": (80.0, 1.0, 14.3, 918.0, 0.25),  # label population PK
    "capmatinib": (400.0, 0.5, 24.0, 164.0, 0.7),  # label (approximate)
    "trametinib": (2.0, 1.0, 4.9, 1200.0, 0.7),  # label: CL/F 4.9 L/h; V/F set for t1/2 ~ 7 d
    "alpelisib": (300.0, 1.0, 9.0, 114.0, 0.35),  # label: AUC 33 ug h/mL, t1/2 ~ 8.5 h
}


def egfr_drug_panel(network: SignallingNetwork | None = None, drugs=EGFR_DRUGS) -> DrugPanel:
    return DrugPanel(network or egfr_network(), drugs)


def egfr_drug_pk(drug: str) -> OneCompartment:
    """One-compartment oral PK of a panel drug (apparent values, F folded in)."""
    _, _, cl, v, ka = EGFR_DRUG_PK[drug]
    return OneCompartment.from_clearance(cl=convert(cl, "L/h", "L/day"), v=v, ka=convert(ka, "1/h", "1/day"))


def egfr_drug_exposure(drug: str) -> float:
    """Average steady-state plasma concentration (mg/L) of a panel drug at its standard dose:
    ``amount / (CL/F * interval)``, the closed form for linear PK (the AUC of one dosing interval at
    steady state equals ``F * dose / CL``; Rowland & Tozer, Clinical Pharmacokinetics and
    Pharmacodynamics)."""
    amount, interval, cl, _, _ = EGFR_DRUG_PK[drug]
    return amount / (convert(cl, "L/h", "L/day") * interval)


# Genes -> nodes of egfr_network() for drug catalogues (mechanistic.drug_catalogue_panel). A node
# that stands for several isoforms takes the largest (least potent) of a drug's isoform values.
# - RAS: KRAS, NRAS, HRAS (the three RAS GTPases; GRB2/SOS activates all three).
# - RAF: BRAF, RAF1 (CRAF), ARAF (the RAF kinases downstream of RAS).
# - MEK: MAP2K1, MAP2K2 (MEK1/2, the only ERK1/2 kinases); MAP2K3-7 phosphorylate p38/JNK/ERK5.
# - ERK: MAPK3, MAPK1 (ERK1/2); not MAPK7 (ERK5), a separate pathway.
# - PI3K: PIK3CA (p110-alpha) only: the network's PI3K is recruited by ERBB3 and RAS, and RAS binds
#   and activates p110-alpha but not p110-beta, which is regulated by RAC/CDC42 and G-beta-gamma
#   (Fritsch et al., Cell 2013;153:1050); the network's E545K variant is PIK3CA's. PIK3CB (p110-beta,
#   PTEN-null tumours), PIK3CD and PIK3CG (leukocyte isoforms) are left out: a network with those
#   branches maps them to its own nodes.
# - AKT: AKT1, AKT2, AKT3. MTORC1: MTOR (the kinase of mTORC1; rapalogs act through it).
# - EGFR, ERBB2, ERBB3, MET, GRB2, BCL2, MCL1: their own genes. Not mapped: ligands (EGF, HGF),
#   PTEN, FOXO3, BIM (BCL2L11), CCND1, MYC (no inhibitor of these acts on the node's activity as
#   modelled; CDK4/6 inhibitors act downstream of CCND1, on nodes a v2 network adds).
# Assay variants (Davis 2011 EGFR constructs) -> the network's EGFR variants:
# - L858R <- EGFR(L858R);
# - ex19del <- the five exon-19 deletion constructs E746-A750del, L747-E749del+A750P,
#   L747-S752del+P753S, L747-T751del+Sins, S752-I759del (the median of the five);
# - T790M <- EGFR(L858R,T790M), the double mutant, not EGFR(T790M) on the wild-type background:
#   T790M is acquired at relapse on top of the activating mutation (Kobayashi et al., NEJM
#   2005;352:786; Pao et al., PLoS Med 2005;2:e73), so the clone carrying T790M carries both, and
#   the activating mutation lowers ATP affinity, which T790M restores (Yun et al., PNAS
#   2008;105:2070): the double-mutant construct is the one that measures that clone's drug binding.
#   The clone's IC50 is then max(L858R or ex19del value, this value) by TargetedDrug's rule; for
#   ex19del+T790M clones the L858R+T790M construct is the nearest measured (Davis has no
#   ex19del+T790M). EGFR(T790M), G719C/S and L861Q stay in the catalogue, unused by this network.
# - PIK3CA(E545K) -> the PI3K node's E545K.
EGFR_NODE_MAP = NodeMap(
    genes={
        "EGFR": "EGFR",
        "ERBB2": "ERBB2",
        "ERBB3": "ERBB3",
        "MET": "MET",
        "GRB2": "GRB2",
        **dict.fromkeys(("KRAS", "NRAS", "HRAS"), "RAS"),
        **dict.fromkeys(("BRAF", "RAF1", "ARAF"), "RAF"),
        **dict.fromkeys(("MAP2K1", "MAP2K2"), "MEK"),
        **dict.fromkeys(("MAPK3", "MAPK1"), "ERK"),
        "PIK3CA": "PI3K",
        **dict.fromkeys(("AKT1", "AKT2", "AKT3"), "AKT"),
        "MTOR": "MTORC1",
        "BCL2": "BCL2",
        "MCL1": "MCL1",
    },
    variants={
        ("EGFR", "L858R"): "L858R",
        **{
            ("EGFR", v): "ex19del"
            for v in ("E746-A750del", "L747-E749del+A750P", "L747-S752del+P753S", "L747-T751del+Sins", "S752-I759del")
        },
        ("EGFR", "L858R+T790M"): "T790M",
        ("PIK3CA", "E545K"): "E545K",
    },
    notes="see the comment above EGFR_NODE_MAP in mechanistic/egfr_network.py",
)


EGFR_CLONES: dict[str, tuple[Mutation, ...]] = {
    "sensitive": (Mutation("EGFR", "L858R"),),
    "T790M": (Mutation("EGFR", "L858R"), Mutation("EGFR", "T790M")),
    "MET_amp": (Mutation("EGFR", "L858R"), Mutation("MET", "amplification")),
}


def egfr_network_model(
    clones: dict[str, tuple[Mutation, ...]] | None = None,
    drugs: tuple[str, ...] = ("erlotinib", "osimertinib"),
    *,
    growth_rate=0.01,
    apoptosis_rate=0.06,
    fitness_cost=0.0,
    capacity=2e5,
    mode: str = "quasi_steady_state",
    tau_scale: float = 1.0,
) -> DiseaseModel:
    """A Gompertz multi-clone tumour whose clones' growth and death come from their own
    personalised EGFR network (default clones: sensitive L858R, L858R+T790M, L858R+MET amp),
    with the PK of ``drugs``. ``growth_rate`` (1/day at full proliferation activity),
    ``apoptosis_rate`` (1/day at full apoptosis) and ``capacity`` (mm^3) are illustrative,
    matching :func:`~mechanistic.catalogue.egfr_two_clone`. ``mode`` and ``tau_scale``: see
    :class:`~mechanistic.network_phenotype.NetworkPhenotype` and :func:`egfr_network`."""
    clones = EGFR_CLONES if clones is None else clones
    net = egfr_network(tau_scale)
    panel = egfr_drug_panel(net, [d for name in drugs for d in EGFR_DRUGS if d.name == name])
    if panel.names != tuple(drugs):
        raise ValueError(
            f"unknown drug(s) {sorted(set(drugs) - set(panel.names))}; known: {[d.name for d in EGFR_DRUGS]}"
        )
    per_clone = [personalise(net, panel, muts, EGFR_VARIANTS) for muts in clones.values()]
    phen = NetworkPhenotype(net, panel, per_clone, apoptosis_rate=apoptosis_rate, mode=mode)
    resistant = tuple(any(m.variant != "L858R" for m in muts) for muts in clones.values())
    tumour = TumourModel(
        tuple(clones),
        "gompertz",
        growth_rate=growth_rate,
        capacity=capacity,
        fitness_cost=fitness_cost,
        network=phen,
        resistant=resistant,
    )
    return DiseaseModel({d: egfr_drug_pk(d) for d in drugs}, tumour)
