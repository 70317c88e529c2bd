"""A drug catalogue: measured drug potencies per human gene, from several public sources, and the
policy that turns several measurements of one drug on one gene into one number.

A :class:`PotencyRecord` is one measurement as a source gives it (drug, gene, the assay's variant,
potency in nM, its type, censoring, source, where in the file). A :class:`DrugCatalogue` holds the
records of one or more sources (readers: :mod:`mechanistic.drug_catalogue_readers`), the drugs'
molecular weights where a source gives them, the mechanism-of-action targets given without a
potency, the rows a reader skipped (with the reason) and the sources' attributions.

Merge policy (:meth:`DrugCatalogue.gene_potencies`), one number per (drug, gene, assay variant):

1. Source: for each (drug, gene), the first source of ``source_priority`` that measured that gene for
   that drug wins for all of the gene's variants (default: Davis 2011 before DrugCentral, because
   Davis measured every drug against the same panel, variant-resolved, with one assay type, Kd);
   the other sources' values are kept as ``alternatives``.
2. Potency type: within the source, uncensored values before censored ones, then the first type of
   :data:`POTENCY_TYPES` present (binding constants Kd, Ki first: they are on Davis's scale).
3. Duplicates: several values of the chosen type are summarised by their median (the DrugCentral
   curators' advice for this file); all values stay in ``alternatives``, and ``spread`` (max/min)
   says how far they disagree.

No conversion between potency types is made here: a Kd, Ki, IC50 or EC50 is kept as it was
measured and labelled with its type; what a network uses is decided by the panel builder
(:mod:`mechanistic.drug_catalogue_panel`), which states its assumption.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

# Concentration-type potencies accepted, in order of preference (binding constants first). Km (a
# substrate constant) and dose-type values (ED50, A2) are not inhibitory potencies.
POTENCY_TYPES: tuple[str, ...] = ("Kd", "Ki", "IC50", "EC50", "AC50", "Kb")
WILD_TYPE = ""  # assay variant of a wild-type (or unspecified) construct
DAVIS_2011 = "Davis 2011"
DRUGCENTRAL = "DrugCentral"
DEFAULT_SOURCE_PRIORITY: tuple[str, ...] = (DAVIS_2011, DRUGCENTRAL)


def normalise_drug_name(name: str) -> str:
    """Drug names are compared in lower case without surrounding blanks (INNs are lower case)."""
    return " ".join(str(name).split()).lower()


@dataclass(frozen=True)
class PotencyRecord:
    """One potency measurement. ``value_nM``: the potency (nM), or, when ``censored``, the highest
    concentration tested without an effect (the true value is larger). ``assay_variant``: the
    target construct's mutation(s) as the source writes them (``""`` = wild type), joined by ``+``.
    ``kind``: one of :data:`POTENCY_TYPES`. ``reference``: file and row (and assay) it came from."""

    drug: str
    gene: str
    assay_variant: str
    value_nM: float
    kind: str
    source: str
    reference: str
    censored: bool = False

    def __post_init__(self):
        where = f"{self.reference}: drug {self.drug!r}, gene {self.gene!r}"
        if not (self.drug and self.gene):
            raise ValueError(f"{where}: drug and gene must be non-empty")
        if self.kind not in POTENCY_TYPES:
            raise ValueError(f"{where}: potency type {self.kind!r} is not one of {POTENCY_TYPES}")
        if not (np.isfinite(self.value_nM) and self.value_nM > 0):
            raise ValueError(f"{where}: potency {self.value_nM!r} nM must be finite and > 0")


@dataclass(frozen=True)
class GenePotency:
    """The one potency the merge policy keeps for (drug, gene, assay variant), with what it came
    from: ``records`` used (the median's inputs) and ``alternatives`` (all records not used)."""

    drug: str
    gene: str
    assay_variant: str
    value_nM: float
    kind: str
    source: str
    censored: bool
    records: tuple[PotencyRecord, ...]
    alternatives: tuple[PotencyRecord, ...] = ()

    @property
    def spread(self) -> float:
        """max / min of the values the median was taken over (1 when they agree)."""
        values = [r.value_nM for r in self.records]
        return max(values) / min(values)


@dataclass(frozen=True)
class SkippedRow:
    """A source row a reader did not turn into a potency, and why."""

    reference: str
    drug: str
    gene: str
    reason: str


@dataclass(frozen=True)
class DrugCatalogue:
    """Potency records of one or more sources. ``molecular_weights``: drug -> (g/mol, source);
    ``mechanism_targets``: (drug, gene) pairs a source names as a mechanism-of-action target without
    a potency; ``skipped``: rows not used, with the reason; ``attributions``: one text per source."""

    records: tuple[PotencyRecord, ...]
    molecular_weights: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    mechanism_targets: frozenset[tuple[str, str]] = frozenset()
    skipped: tuple[SkippedRow, ...] = ()
    attributions: tuple[str, ...] = ()

    @property
    def drugs(self) -> tuple[str, ...]:
        """All drugs with a potency or a mechanism target, sorted."""
        return tuple(sorted({r.drug for r in self.records} | {d for d, _ in self.mechanism_targets}))

    @property
    def genes(self) -> frozenset[str]:
        return frozenset({r.gene for r in self.records} | {g for _, g in self.mechanism_targets})

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.source for r in self.records))

    def of(self, drug: str) -> tuple[PotencyRecord, ...]:
        """The records of one drug (name normalised)."""
        name = normalise_drug_name(drug)
        return tuple(r for r in self.records if r.drug == name)

    def gene_potencies(self, source_priority: Sequence[str] = DEFAULT_SOURCE_PRIORITY) -> tuple[GenePotency, ...]:
        """One :class:`GenePotency` per (drug, gene, assay variant) by the merge policy in the
        module docstring. Every source of the catalogue must appear in ``source_priority``."""
        unranked = sorted(set(self.sources) - set(source_priority))
        if unranked:
            raise ValueError(
                f"sources {unranked} are not ranked: pass source_priority listing all of {list(self.sources)}"
            )
        rank = {s: k for k, s in enumerate(source_priority)}
        by_gene: dict[tuple[str, str], list[PotencyRecord]] = {}
        for r in self.records:
            by_gene.setdefault((r.drug, r.gene), []).append(r)
        out = []
        for (drug, gene), records in sorted(by_gene.items()):
            best = min(rank[r.source] for r in records)
            chosen = [r for r in records if rank[r.source] == best]
            overridden = tuple(r for r in records if rank[r.source] != best)
            variants: dict[str, list[PotencyRecord]] = {}
            for r in chosen:
                variants.setdefault(r.assay_variant, []).append(r)
            for variant, group in variants.items():
                out.append(_summarise(drug, gene, variant, group, overridden))
        return tuple(out)

    @staticmethod
    def combine(*catalogues: DrugCatalogue) -> DrugCatalogue:
        """One catalogue from several (records and skipped rows concatenated). A drug given two
        different molecular weights is an error naming both."""
        weights: dict[str, tuple[float, str]] = {}
        for cat in catalogues:
            for drug, (mw, source) in cat.molecular_weights.items():
                if drug in weights and not np.isclose(weights[drug][0], mw, rtol=1e-3):
                    raise ValueError(
                        f"drug {drug!r}: molecular weight {weights[drug][0]} g/mol ({weights[drug][1]}) "
                        f"conflicts with {mw} g/mol ({source})"
                    )
                weights.setdefault(drug, (mw, source))
        return DrugCatalogue(
            records=tuple(r for c in catalogues for r in c.records),
            molecular_weights=weights,
            mechanism_targets=frozenset().union(*(c.mechanism_targets for c in catalogues)),
            skipped=tuple(s for c in catalogues for s in c.skipped),
            attributions=tuple(dict.fromkeys(a for c in catalogues for a in c.attributions)),
        )


def _summarise(
    drug: str, gene: str, variant: str, group: list[PotencyRecord], overridden: tuple[PotencyRecord, ...]
) -> GenePotency:
    uncensored = [r for r in group if not r.censored]
    pool = uncensored or group
    kind = next(k for k in POTENCY_TYPES if any(r.kind == k for r in pool))
    used = tuple(r for r in pool if r.kind == kind)
    if uncensored:
        value = float(statistics.median(r.value_nM for r in used))
    else:  # not bound at any tested concentration: the highest tested is the bound the data give
        value = max(r.value_nM for r in used)
    rest = tuple(r for r in group if r not in used) + overridden
    return GenePotency(drug, gene, variant, value, kind, used[0].source, not uncensored, used, rest)


def check_unique(records: Iterable[PotencyRecord], what: str) -> None:
    """Refuse repeated (drug, gene, assay variant, type) measurements with different values in a
    table that should hold one per key (``what`` names the table); both rows are named."""
    seen: dict[tuple[str, str, str, str], PotencyRecord] = {}
    for r in records:
        key = (r.drug, r.gene, r.assay_variant, r.kind)
        first = seen.setdefault(key, r)
        if first is not r and (first.value_nM != r.value_nM or first.censored != r.censored):
            raise ValueError(
                f"{what}: conflicting duplicate potencies for drug {r.drug!r}, gene {r.gene!r}, "
                f"variant {r.assay_variant or 'wild type'!r}, {r.kind}: {first.value_nM} nM ({first.reference}) "
                f"and {r.value_nM} nM ({r.reference}); keep one row per key"
            )
