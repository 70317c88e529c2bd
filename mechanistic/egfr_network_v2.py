"""Version 2 of the EGFR-mutant NSCLC signalling network: the drug targets of EGFR-mutant lung
cancer and the feedback loops that v1 (:mod:`mechanistic.egfr_network`) leaves out.

Topology (39 nodes, cyclic). Inputs: ligands EGF, HGF, GAS6, IGF1, FGF2; PTEN and CDKN2A (p16).
Every rule below carries its source in the rule text; the feedback loops are:

- ERK -| SOS (SOS1 phosphorylation releases it from GRB2; Corbalan-Garcia et al., Mol Cell Biol
  1996;16:5674; Douville & Downward, Oncogene 1997;15:373). SPRY (induced by ERK, -| GRB2/SOS;
  Hanafusa et al., Nat Cell Biol 2002;4:850) is left out: a second, slow inhibitor of SOS next to
  the fast one made the MET-amplified clone under EGFR inhibition oscillate in the continuous model;
- ERK -| BRAF (inhibitory RAF phosphorylation; Dougherty et al., Mol Cell 2005;17:215; the strong
  ERK -> RAF feedback makes the cascade a negative-feedback amplifier: Sturm et al., Sci Signal
  2010;3:ra90; Fritsche-Guenther et al., Mol Syst Biol 2011;7:489);
- DUSP6 (MKP-3) induced by ERK, DUSP6 -| ERK (Ekerot et al., Biochem J 2008;412:287);
- ERK -| ERBB3 phosphorylation through EGFR T669 / HER2 T677: MEK inhibition raises ERBB3-PI3K-AKT
  in EGFR-mutant and HER2-amplified cells (Turke et al., Cancer Res 2012;72:3228);
- S6K -| IRS1: mTORC1 inhibition raises IRS1 and IGF1R-driven PI3K/AKT (O'Reilly et al., Cancer
  Res 2006;66:1500; Harrington et al., J Cell Biol 2004;166:213);
- AKT -| FOXO -> ERBB3 transcription: AKT inhibition raises HER3 expression and signalling
  (Chandarlapaty et al., Cancer Cell 2011;19:58).

Logic is qualitative. Hill constants and coefficients are the CNORode defaults (k = 0.5, n = 3),
except the feedback edges (n = 2, k = 2: illustrative, explained at :data:`FEEDBACK_EDGES`). Time
constants are order-of-magnitude values (illustrative, as v1):
phosphorylation 5 min, transcription 2 h, phenotype 6 h.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx

from mechanistic.boolean_rules import parse_rules
from mechanistic.egfr_network import EGFR_DRUGS, EGFR_VARIANTS
from mechanistic.mutations import Mutation, VariantEffect
from mechanistic.network import SignallingNetwork
from mechanistic.targeted_drugs import DrugPanel, TargetedDrug

EGFR_RULES_V2 = """
# inputs (activity in [0, 1]; levels in EGFR_LEVELS_V2)
EGF = 1
HGF = 1
GAS6 = 1        # AXL ligand
IGF1 = 1        # serum IGF-1
FGF2 = 1        # autocrine FGF2 (Terai et al., Mol Cancer Res 2013;11:759: FGF2-FGFR1 loop in TKI resistance)
PTEN = 1
CDKN2A = 1      # p16INK4a, inhibits CDK4/6 (Serrano et al., Nature 1993;366:704)
# receptor tyrosine kinases
EGFR = EGF                      # activating mutations make it ligand-independent (Lynch NEJM 2004; Paez Science 2004)
ERBB2 = EGFR                    # transactivated in EGFR/HER2 heterodimers
MET = HGF                       # amplification bypasses EGFR through ERBB3 (Engelman et al., Science 2007;316:1039)
AXL = GAS6                      # AXL activation in EGFR-TKI resistance (Zhang et al., Nat Genet 2012;44:852)
FGFR1 = FGF2
IGF1R = IGF1                    # IGF1R in EGFR-TKI resistance (Guix et al., J Clin Invest 2008;118:2609)
# ERBB3 is phosphorylated by EGFR/HER2 unless ERK's T669/T677 feedback limits it (Turke 2012), or
# by MET (Engelman 2007); FOXO-driven HER3 expression overrides the limit (Chandarlapaty 2011)
ERBB3 = ((EGFR | ERBB2) & (!ERK | ERBB3_EXPR)) | MET
ERBB3_EXPR = FOXO               # FOXO-dependent HER3 transcription (Chandarlapaty 2011)
IRS1 = IGF1R & !S6K             # S6K1 phosphorylates and degrades IRS1 (Harrington 2004; O'Reilly 2006)
# RAS-RAF-MEK-ERK with its feedbacks
SOS = (EGFR | ERBB2 | MET | AXL | FGFR1) & !ERK   # GRB2-SOS at pY receptors; ERK feedback (Corbalan-Garcia 1996)
KRAS = SOS
BRAF = KRAS & !ERK              # Dougherty 2005
MEK = BRAF
ERK = MEK & !DUSP6              # Ekerot 2008
DUSP6 = ERK
# PI3K-AKT-mTOR
# p85 at pY-ERBB3 (Engelman et al., PNAS 2005;102:3788) and IRS1; RAS-GTP binds p110a (Rodriguez-Viciana et al.,
# Nature 1994;370:527)
PIK3CA = ERBB3 | IRS1 | KRAS
PIP3 = PIK3CA & !PTEN
AKT = PIP3
MTORC1 = AKT                    # AKT -| TSC2 -| RHEB (Inoki et al., Nat Cell Biol 2002;4:648)
S6K = MTORC1
# cell cycle: cyclin D1-CDK4/6 phosphorylates RB, releasing E2F
CCND1 = ERK                     # ERK-dependent cyclin D1 transcription (Lavoie et al., J Biol Chem 1996;271:20608)
CDK46 = CCND1 & !CDKN2A
RB = !CDK46
E2F = !RB
# apoptosis: BH3-only BIM and BAD against BCL2, BCL-XL and MCL1
FOXO = !AKT                     # AKT excludes FOXO3 from the nucleus (Brunet et al., Cell 1999;96:857)
# FOXO3 induces BIM (Dijkers et al., Curr Biol 2000;10:1201); ERK marks it for degradation (Ley et al., J Biol
# Chem 2003;278:18811); EGFR-TKI killing needs BIM (Costa et al., PLoS Med 2007;4:e315)
BIM = FOXO & !ERK
BAD = !AKT                      # AKT phosphorylates BAD (Datta et al., Cell 1997;91:231)
BCL2 = !BIM
BCLXL = !BIM & !BAD
MCL1 = ERK                      # ERK stabilises MCL1 (Domina et al., Oncogene 2004;23:5301)
# phenotypes
PROLIFERATION = E2F & MTORC1
APOPTOSIS = BIM & !BCL2 & !BCLXL & !MCL1
"""

# Input levels, all illustrative (a ligand-poor tumour; PTEN opposes, not abolishes, PI3K as in v1;
# serum IGF-1 present; p16 low, as often in NSCLC).
EGFR_LEVELS_V2 = {"EGF": 0.2, "HGF": 0.2, "GAS6": 0.2, "IGF1": 0.5, "FGF2": 0.2, "PTEN": 0.3, "CDKN2A": 0.2}

_FAST, _TRANSCRIPTION, _PHENOTYPE = 5.0 / (24 * 60), 2.0 / 24, 6.0 / 24  # day: 5 min, 2 h, 6 h (illustrative)
_TRANSCRIBED = ("ERBB3_EXPR", "DUSP6", "CCND1", "BIM", "MCL1")
_TAU = {
    **{n: _TRANSCRIPTION for n in _TRANSCRIBED},
    "IRS1": 12.0 / 24,  # IRS1 is lost by S6K1-driven degradation and re-accumulates over hours to a day after
    # mTORC1 inhibition (Harrington 2004; O'Reilly 2006); 12 h is illustrative. With 2 h the EGFR-inhibited
    # clones oscillate through S6K -| IRS1.
    "PROLIFERATION": _PHENOTYPE,
    "APOPTOSIS": _PHENOTYPE,
}

# Feedback edges (source, target) get Hill n = 2, k = 2 (a shallower, weaker inhibition than the
# CNORode n = 3, k = 0.5): illustrative, chosen so that the negative loops have a stable steady state (a
# negative-feedback amplifier, Sturm et al. 2010) for every clone and drug of the sweep in
# tests/mechanistic/test_egfr_network_v2.py. With n = 3, k = 0.5, or n = 1, the untreated or the
# EGFR-inhibited clones oscillate (sustained limit cycle of ERK and S6K in the dynamic model): population-
# averaged phospho-ERK settles after a damped transient even where single cells pulse (Albeck et al., Mol
# Cell 2013;49:249), which is what the phenotype reads.
FEEDBACK_EDGES: tuple[tuple[str, str], ...] = (
    ("ERK", "SOS"),
    ("ERK", "BRAF"),
    ("DUSP6", "ERK"),
    ("ERK", "ERBB3"),
    ("S6K", "IRS1"),
    ("FOXO", "ERBB3_EXPR"),
)
FEEDBACK_HILL_N = 2.0
FEEDBACK_HILL_K = 2.0


def egfr_network_v2(
    tau_scale: float = 1.0, feedback_hill_n: float = FEEDBACK_HILL_N, feedback_hill_k: float = FEEDBACK_HILL_K
) -> SignallingNetwork:
    """The v2 network above (38 nodes, with feedback loops). ``tau_scale`` multiplies every time
    constant; ``feedback_hill_n`` is the Hill coefficient of the :data:`FEEDBACK_EDGES`."""
    kinds = {"PROLIFERATION": "phenotype", "APOPTOSIS": "phenotype", **{n: "gene" for n in _TRANSCRIBED}}
    names = parse_rules(EGFR_RULES_V2)
    tau = {n: tau_scale * _TAU.get(n, _FAST) for n in names}
    net = SignallingNetwork.from_rules(EGFR_RULES_V2, kinds=kinds, tau=tau, level=EGFR_LEVELS_V2)
    hill_n, hill_k = net.hill_n, net.hill_k
    for source, target in FEEDBACK_EDGES:
        i, j = net.index(target), net.index(source)
        slot = net.inputs[i].index(j)
        hill_n = hill_n.at[i, slot].set(feedback_hill_n)
        hill_k = hill_k.at[i, slot].set(feedback_hill_k)
    return eqx.tree_at(lambda n: (n.hill_n, n.hill_k), net, (hill_n, hill_k))


def _retarget(drug: TargetedDrug, renames: dict[str, str]) -> TargetedDrug:
    """``drug`` with its target nodes renamed (v1's node names -> v2's gene names)."""
    return dataclasses.replace(drug, ic50={renames.get(t, t): v for t, v in drug.ic50.items()})


# Drugs: v1's table (IC50s and sources in mechanistic.egfr_network) with v2's node names, plus:
# - everolimus (mTORC1, allosteric with FKBP12): > 95 % S6K1 inactivation at 20 nM in human PBMCs ex
#   vivo (Boulay et al., Cancer Res 2004;64:252), so a cellular IC50 of about 1 nM (20 nM / 19 for
#   Hill 1); molecular weight 958.2 g/mol (label).
EGFR_DRUGS_V2: tuple[TargetedDrug, ...] = (
    *(_retarget(d, {"PI3K": "PIK3CA"}) for d in EGFR_DRUGS),
    TargetedDrug("everolimus", {"MTORC1": 1.0}, molecular_weight=958.2, source="Boulay 2004"),
)

# Variants: v1's with v2's node names, plus the resistance alterations the v2 nodes allow. Gains
# labelled illustrative are set like v1's MET amplification (activity gain, Perturbation.gain).
EGFR_VARIANTS_V2: tuple[VariantEffect, ...] = (
    *(v for v in EGFR_VARIANTS if v.gene in ("EGFR", "MET", "ERBB2", "PTEN")),
    VariantEffect(
        "KRAS", "G12C", "gain_of_function", source="KRAS G12C, constitutively GTP-bound (Ostrem et al., Nature 2013)"
    ),
    VariantEffect(
        "BRAF",
        "V600E",
        "gain_of_function",
        source="BRAF V600E in EGFR-TKI resistance (Ohashi et al., PNAS 2012;109:E2127)",
    ),
    VariantEffect(
        "PIK3CA",
        "E545K",
        "gain_of_function",
        0.8,
        source="PIK3CA helical-domain mutant (Sequist et al., Sci Transl Med 2011) (illustrative floor)",
    ),
    VariantEffect(
        "AXL", "overexpression", "amplification", 20.0, source="Zhang et al., Nat Genet 2012 (illustrative gain)"
    ),
    VariantEffect(
        "FGFR1",
        "amplification",
        "amplification",
        20.0,
        source="FGFR1 amplification after osimertinib (Kim et al., J Thorac Oncol 2015; illustrative gain)",
    ),
    VariantEffect(
        "IGF1R", "activation", "amplification", 10.0, source="Guix et al., J Clin Invest 2008 (illustrative gain)"
    ),
    VariantEffect(
        "CDKN2A",
        "loss",
        "loss_of_function",
        source="CDKN2A deletion, co-occurring in EGFR-mutant NSCLC (Blakely et al., Nat Genet 2017;49:1693)",
    ),
)

# Clone types for the convergence sweep and the behaviour tests.
EGFR_CLONES_V2: dict[str, tuple[Mutation, ...]] = {
    "L858R": (Mutation("EGFR", "L858R"),),
    "ex19del": (Mutation("EGFR", "ex19del"),),
    "T790M": (Mutation("EGFR", "L858R"), Mutation("EGFR", "T790M")),
    "MET_amp": (Mutation("EGFR", "L858R"), Mutation("MET", "amplification")),
    "T790M+MET_amp": (Mutation("EGFR", "L858R"), Mutation("EGFR", "T790M"), Mutation("MET", "amplification")),
    "T790M+C797S": (Mutation("EGFR", "L858R"), Mutation("EGFR", "T790M"), Mutation("EGFR", "C797S")),
}


def egfr_drug_panel_v2(network: SignallingNetwork | None = None, drugs=EGFR_DRUGS_V2) -> DrugPanel:
    """The v2 drugs acting on ``network`` (default :func:`egfr_network_v2`)."""
    return DrugPanel(network or egfr_network_v2(), drugs)
