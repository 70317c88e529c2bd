"""From a drug catalogue (potencies per gene) to a network's drugs (IC50s per node) with exposures.

A :class:`NodeMap` says which genes' products a network node stands for and which assay variants
are which of the network's variants; each network passes its own (the shipped EGFR network's is
``mechanistic.egfr_network.EGFR_NODE_MAP``). Node potency (:func:`node_potencies`), per drug, node
and network variant:

- the gene's value for a network variant is the median over the assay variants mapped to it (e.g.
  the five exon-19 deletion constructs of Davis 2011 for ``ex19del``);
- the node's value is the **largest** over the node's genes the drug has a value for: a node that
  stands for redundant isoforms (MEK1/MEK2, ERK1/ERK2) signals through the least-inhibited one;
- a node is a target only where at least one of its values is uncensored (bound); a censored value
  (not bound up to the highest tested concentration) enters as that concentration.

:func:`catalogue_drugs` builds :class:`~mechanistic.targeted_drugs.TargetedDrug` s and their
:class:`Exposure` s, every one labelled with where its numbers come from: a curated table wins for
the drugs it names (cellular IC50s on the network's scale); otherwise the catalogue's potency times
``cellular_shift`` (an explicit assumption, default 1: IC50 = Kd/Ki/IC50 as measured). Exposure:
a clinical concentration where the caller gives one, else ``fold_over_potency`` times the drug's
most potent target (any gene: the clinical dose of a drug is set by its primary target, modelled
or not). :func:`coverage` reports which drugs hit which node and which hit none.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mechanistic.drug_catalogue import (
    DEFAULT_SOURCE_PRIORITY,
    WILD_TYPE,
    DrugCatalogue,
    GenePotency,
    normalise_drug_name,
)
from mechanistic.network import SignallingNetwork
from mechanistic.targeted_drugs import DEFAULT_VARIANT, DrugPanel, TargetedDrug

# Placeholder used only when a drug has no molecular weight and its exposure is assumed in nM: the
# network sees exactly the nM concentration (mg/L -> nM uses the same weight both ways), and the
# Exposure says its mg/L value is not a real mass concentration.
NOMINAL_MOLECULAR_WEIGHT = 1000.0  # g/mol
# Davis et al. 2011 count a kinase as bound in their selectivity score S(3 uM) when Kd < 3 uM.
HIT_BELOW_NM = 3000.0


@dataclass(frozen=True)
class NodeMap:
    """``genes``: HGNC gene -> network node; ``variants``: (gene, assay variant) -> network
    variant of the gene's node (``"default"`` to use a qualified construct, e.g. ``"[cyclinD1]"``, as
    the node's wild-type value). Assay variants not listed are kept in the catalogue but not used.
    ``notes``: why each choice was made (documentation)."""

    genes: Mapping[str, str]
    variants: Mapping[tuple[str, str], str] = field(default_factory=dict)
    notes: str = ""

    def check(self, network: SignallingNetwork) -> None:
        """Every mapped node must be a node of ``network``; every gene with mapped variants must be
        mapped to a node."""
        bad = sorted({n for n in self.genes.values() if n not in network.nodes})
        if bad:
            raise ValueError(f"node map names node(s) {bad} that are not in the network {network.nodes}")
        unmapped = sorted({g for g, _ in self.variants if g not in self.genes})
        if unmapped:
            raise ValueError(f"node map lists variants of gene(s) {unmapped} that it maps to no node")


@dataclass(frozen=True)
class NodePotency:
    """A drug's potency (nM) on a network node for one network variant (``"default"`` = wild
    type), from the gene ``gene`` (the largest among the node's genes), and the gene values used."""

    drug: str
    node: str
    variant: str
    value_nM: float
    kind: str
    source: str
    censored: bool
    gene: str
    gene_potencies: tuple[GenePotency, ...]


def node_potencies(
    catalogue: DrugCatalogue, node_map: NodeMap, source_priority: Sequence[str] = DEFAULT_SOURCE_PRIORITY
) -> tuple[NodePotency, ...]:
    """Node potencies of every catalogue drug by the rules in the module docstring."""
    groups: dict[tuple[str, str, str], dict[str, list[GenePotency]]] = {}
    for gp in catalogue.gene_potencies(source_priority):
        node = node_map.genes.get(gp.gene)
        if node is None:
            continue
        if gp.assay_variant == WILD_TYPE:
            variant = DEFAULT_VARIANT
        else:
            variant = node_map.variants.get((gp.gene, gp.assay_variant))
            if variant is None:
                continue
        groups.setdefault((gp.drug, node, variant), {}).setdefault(gp.gene, []).append(gp)
    out = []
    for (drug, node, variant), per_gene in sorted(groups.items()):
        values = {}
        for gene, gps in per_gene.items():
            censored = all(g.censored for g in gps)
            pool = gps if censored else [g for g in gps if not g.censored]
            values[gene] = (float(statistics.median(g.value_nM for g in pool)), censored, pool)
        gene = max(values, key=lambda g: values[g][0])
        value, censored, pool = values[gene]
        used = tuple(g for gps in per_gene.values() for g in gps)
        out.append(NodePotency(drug, node, variant, value, pool[0].kind, pool[0].source, censored, gene, used))
    return tuple(out)


@dataclass(frozen=True)
class Coverage:
    """Which catalogue drugs reach the network. ``hitting``: drugs with an uncensored potency <=
    ``hit_below_nM`` on at least one node (any variant); ``per_node``: node -> those drugs;
    ``weak_only``: drugs whose modelled potencies are all above the threshold or censored;
    ``mechanism_only``: drugs whose only link to a modelled node is a mechanism target without a
    potency (e.g. an antibody); ``no_modelled_target``: the rest; ``unmeasured_genes``: mapped
    genes that no record of the catalogue names."""

    n_drugs: int
    hit_below_nM: float
    hitting: tuple[str, ...]
    per_node: Mapping[str, tuple[str, ...]]
    weak_only: tuple[str, ...]
    mechanism_only: tuple[str, ...]
    no_modelled_target: tuple[str, ...]
    unmeasured_genes: tuple[str, ...] = ()

    def summary(self) -> str:
        """A few lines for a log or report."""
        nodes = ", ".join(f"{n} {len(d)}" for n, d in sorted(self.per_node.items()))
        return (
            f"{self.n_drugs} drugs; {len(self.hitting)} hit >= 1 modelled node (potency <= {self.hit_below_nM:g} nM); "
            f"per node: {nodes}; {len(self.weak_only)} reach a node only weakly, {len(self.mechanism_only)} only by "
            f"a mechanism target without potency, {len(self.no_modelled_target)} have no modelled target; "
            f"mapped genes no source measured: {list(self.unmeasured_genes)}"
        )


def coverage(
    catalogue: DrugCatalogue,
    node_map: NodeMap,
    *,
    hit_below_nM: float = HIT_BELOW_NM,
    source_priority: Sequence[str] = DEFAULT_SOURCE_PRIORITY,
) -> Coverage:
    """The :class:`Coverage` of ``catalogue`` on the nodes of ``node_map``."""
    if not (np.isfinite(hit_below_nM) and hit_below_nM > 0):
        raise ValueError(f"hit_below_nM={hit_below_nM!r} must be finite and > 0 (nM)")
    per_node: dict[str, set[str]] = {}
    reached = set()
    for p in node_potencies(catalogue, node_map, source_priority):
        reached.add(p.drug)
        if not p.censored and p.value_nM <= hit_below_nM:
            per_node.setdefault(p.node, set()).add(p.drug)
    hitting = set().union(*per_node.values())
    mechanism = {d for d, g in catalogue.mechanism_targets if g in node_map.genes} - reached
    drugs = set(catalogue.drugs)
    return Coverage(
        n_drugs=len(drugs),
        hit_below_nM=hit_below_nM,
        hitting=tuple(sorted(hitting)),
        per_node={n: tuple(sorted(d)) for n, d in sorted(per_node.items())},
        weak_only=tuple(sorted(reached - hitting)),
        mechanism_only=tuple(sorted(mechanism)),
        no_modelled_target=tuple(sorted(drugs - reached - mechanism)),
        unmeasured_genes=tuple(sorted(set(node_map.genes) - catalogue.genes)),
    )


@dataclass(frozen=True)
class Exposure:
    """A drug's concentration for a screen: plasma mg/L (what
    :meth:`~mechanistic.targeted_drugs.DrugPanel.factor` takes) and nM; ``basis`` ``"clinical"``
    or ``"assumed"``; ``note`` how it was obtained. ``nominal_molecular_weight``: the drug's
    molecular weight is unknown, so its mg/L value is only a unit carrier (see
    :data:`NOMINAL_MOLECULAR_WEIGHT`)."""

    drug: str
    mg_per_L: float
    nM: float
    basis: str
    note: str
    nominal_molecular_weight: bool = False


@dataclass(frozen=True)
class CatalogueDrugs:
    """Network drugs from a catalogue: ``drugs`` (TargetedDrug, each ``source`` saying where its
    IC50s come from), ``exposures`` by drug, ``potencies`` (node potencies behind the catalogue
    drugs), ``untargeted`` (catalogue drugs with no modelled target: not in ``drugs``, never
    scored as "no effect"), ``assumptions`` (the labelled assumptions used)."""

    drugs: tuple[TargetedDrug, ...]
    exposures: Mapping[str, Exposure]
    potencies: tuple[NodePotency, ...]
    untargeted: tuple[str, ...]
    assumptions: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.drugs)

    def panel(self, network: SignallingNetwork) -> DrugPanel:
        return DrugPanel(network, self.drugs)

    def exposure_mg_per_L(self) -> dict[str, float]:
        """Drug -> plasma concentration (mg/L), e.g. for ``scenarios.drug_screen.screen``."""
        return {d: e.mg_per_L for d, e in self.exposures.items()}


def catalogue_drugs(
    catalogue: DrugCatalogue,
    network: SignallingNetwork,
    node_map: NodeMap,
    *,
    drugs: Sequence[str] | None = None,
    curated: Sequence[TargetedDrug] = (),
    clinical_mg_per_L: Mapping[str, tuple[float, str]] | None = None,
    fold_over_potency: float = 10.0,
    cellular_shift: float = 1.0,
    hit_below_nM: float = HIT_BELOW_NM,
    source_priority: Sequence[str] = DEFAULT_SOURCE_PRIORITY,
) -> CatalogueDrugs:
    """TargetedDrugs and exposures for ``drugs`` (default: every curated drug and every catalogue
    drug with a potency <= ``hit_below_nM`` on a modelled node, as :func:`coverage` counts them; a
    named drug without any bound modelled target is an error).

    ``curated``: hand-checked drugs (cellular IC50s per node and variant) that win over the
    catalogue for the drugs they name. ``clinical_mg_per_L``: drug -> (average plasma
    concentration mg/L, its source). Assumptions (each output says which it used): catalogue IC50
    = ``cellular_shift`` x potency (Kd, Ki, IC50 or EC50 as measured), Hill 1, Imax 1, fraction
    unbound 1; without a clinical concentration, exposure = ``fold_over_potency`` x the drug's most
    potent (shifted) potency on any gene."""
    for name, value in (("fold_over_potency", fold_over_potency), ("cellular_shift", cellular_shift)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name}={value!r} must be finite and > 0")
    clinical = dict(clinical_mg_per_L or {})
    for drug, (conc, _) in clinical.items():
        if not (np.isfinite(conc) and conc > 0):
            raise ValueError(f"clinical_mg_per_L[{drug!r}]={conc!r} must be finite and > 0 (mg/L)")
    node_map.check(network)
    curated_by_name = {d.name: d for d in curated}
    potencies = node_potencies(catalogue, node_map, source_priority)
    by_drug: dict[str, list[NodePotency]] = {}
    for p in potencies:
        by_drug.setdefault(p.drug, []).append(p)
    targeted = {d for d, ps in by_drug.items() if any(not p.censored for p in ps)}
    untargeted = tuple(sorted(set(catalogue.drugs) - targeted - set(curated_by_name)))
    if drugs is None:
        hits = set(coverage(catalogue, node_map, hit_below_nM=hit_below_nM, source_priority=source_priority).hitting)
        names = list(curated_by_name) + sorted(hits - set(curated_by_name))
    else:
        names = [normalise_drug_name(d) for d in drugs]
    missing = sorted({n for n in names if n not in curated_by_name and n not in targeted})
    if missing:
        raise ValueError(
            f"drug(s) {missing} have no modelled target in the catalogue (none of their genes maps to a node of "
            f"the network, or none is bound); they cannot be scored on this network"
        )
    most_potent = _most_potent(catalogue, source_priority)
    built, exposures, used = [], {}, []
    assumptions = {
        f"catalogue IC50 = {cellular_shift:g} x measured potency (Kd/Ki/IC50/EC50 as labelled; no Cheng-Prusoff "
        "or cell-assay conversion); Hill 1, Imax 1, fraction unbound 1",
        f"without a clinical concentration: exposure = {fold_over_potency:g} x the drug's most potent target potency",
    }
    for name in names:
        if name in curated_by_name:
            drug = curated_by_name[name]
            floor = min(v for v in drug.table().values())
        else:
            ps = by_drug[name]
            used.extend(ps)
            mw = catalogue.molecular_weights.get(name)
            drug = TargetedDrug(
                name,
                _ic50_table(name, ps, cellular_shift),
                molecular_weight=mw[0] if mw else NOMINAL_MOLECULAR_WEIGHT,
                source="catalogue: " + "; ".join(sorted({f"{p.node} {p.source} {p.kind}" for p in ps})),
            )
            floor = cellular_shift * most_potent[name]
        built.append(drug)
        nominal = name not in curated_by_name and name not in catalogue.molecular_weights
        exposures[name] = _exposure(drug, clinical.get(name), fold_over_potency * floor, nominal, fold_over_potency)
    if any(e.nominal_molecular_weight for e in exposures.values()):
        assumptions.add(f"no molecular weight: nominal {NOMINAL_MOLECULAR_WEIGHT:g} g/mol carries the nM exposure")
    return CatalogueDrugs(tuple(built), exposures, tuple(used), untargeted, tuple(sorted(assumptions)))


def _ic50_table(drug: str, potencies: list[NodePotency], shift: float) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    nodes = {p.node for p in potencies if not p.censored}
    for p in potencies:
        if p.node in nodes:
            table.setdefault(p.node, {})[p.variant] = shift * p.value_nM
    for node, values in table.items():
        if DEFAULT_VARIANT not in values:
            raise ValueError(
                f"drug {drug!r}, node {node}: potencies for variant(s) {sorted(values)} but none for the wild type; "
                "add a wild-type value (or map a construct to 'default' in the node map)"
            )
    return table


def _most_potent(catalogue: DrugCatalogue, source_priority: Sequence[str]) -> dict[str, float]:
    best: dict[str, float] = {}
    for gp in catalogue.gene_potencies(source_priority):
        if not gp.censored:
            best[gp.drug] = min(best.get(gp.drug, np.inf), gp.value_nM)
    return best


def _exposure(
    drug: TargetedDrug, clinical: tuple[float, str] | None, assumed_nM: float, nominal: bool, fold: float
) -> Exposure:
    nM_per_mg_per_L = 1e6 / drug.molecular_weight
    if clinical is not None:
        if nominal:
            raise ValueError(
                f"drug {drug.name!r}: a clinical concentration in mg/L needs its molecular weight, which no source "
                "gives; add it (e.g. a molecular_weight column in a user potency table)"
            )
        conc, source = clinical
        return Exposure(drug.name, conc, conc * nM_per_mg_per_L, "clinical", f"average steady state ({source})")
    note = f"assumed: {fold:g} x the most potent target potency ({assumed_nM / fold:.3g} nM)"
    return Exposure(drug.name, assumed_nM / nM_per_mg_per_L, assumed_nM, "assumed", note, nominal)
