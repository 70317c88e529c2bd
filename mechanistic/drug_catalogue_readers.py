"""Readers of public drug-target potency tables into a :class:`~mechanistic.drug_catalogue.DrugCatalogue`.

- :func:`read_davis2011`: the Davis et al. 2011 KINOMEscan Kd matrix in the long format of the
  project's reference data (``davis2011_kd_long.csv``, ``drug_names.csv``; Davis MI et al., Nat
  Biotechnol 2011;29:1046-1051, as redistributed in the R package timma 1.2.1, Artistic-2.0).
- :func:`read_drugcentral`: DrugCentral drug-target activities (``drugcentral_dti_human.csv``;
  Ursu O et al., Nucleic Acids Res 2017;45:D932-D939; CC BY-SA 4.0).
- :func:`read_potency_table`: a user's own table (drug, gene, variant, potency_nM, potency_type).

The data are read from the user's copy at run time; nothing derived from them is shipped with
the package (DrugCentral's share-alike licence would bind it). Every error names the file, the row
(1 = first data row) and the column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Collection, Iterator
from pathlib import Path

from mechanistic.drug_catalogue import (
    DAVIS_2011,
    DRUGCENTRAL,
    POTENCY_TYPES,
    WILD_TYPE,
    DrugCatalogue,
    PotencyRecord,
    SkippedRow,
    check_unique,
    normalise_drug_name,
)

DAVIS_ATTRIBUTION = (
    "Kd values from Davis MI et al., Nat Biotechnol 2011;29:1046-1051, as redistributed in the R package "
    "timma 1.2.1 (He L et al., Bioinformatics 2015; Artistic-2.0)."
)
DRUGCENTRAL_ATTRIBUTION = (
    "Drug-target activity data from DrugCentral (Ursu O et al., Nucleic Acids Res 2017;45:D932-D939), "
    "licensed CC BY-SA 4.0."
)
# KINOMEscan's screening ceiling: "Blank fields indicate interactions that were not detected in a
# 10 uM primary screen" (timma, man/davis.Rd).
DAVIS_NOT_BOUND_NM = 10_000.0
# JH2 is the JAK pseudokinase domain: binding there is not inhibition of the catalytic site.
DAVIS_EXCLUDED_FORMS = frozenset({"JH2domain-pseudokinase"})
# DrugCentral action types that activate their target: their potencies are not inhibitory.
ACTIVATING_ACTIONS = frozenset(
    {
        "AGONIST",
        "PARTIAL AGONIST",
        "ACTIVATOR",
        "POSITIVE ALLOSTERIC MODULATOR",
        "POSITIVE MODULATOR",
        "OPENER",
        "RELEASING AGENT",
        "SUBSTRATE",
        "PHARMACOLOGICAL CHAPERONE",
    }
)


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, row) of a CSV file, after checking that its header has ``required``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; the header has {reader.fieldnames}")
        yield from enumerate(reader, start=1)


def _positive(text: str, path: Path, number: int, column: str, unit: str = "nM") -> float:
    """A finite positive number from a cell, or an error naming file, row, column and value."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path} row {number}, column {column!r}: {text!r} is not a number ({unit})") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{path} row {number}, column {column!r}: {text!r} must be finite and > 0 ({unit})")
    return value


def read_davis2011(folder: str | Path) -> DrugCatalogue:
    """The Davis 2011 Kd matrix from ``folder/davis2011_kd_long.csv`` (and ``drug_names.csv`` for
    the names of compounds without an INN). Drug name: the INN where the file gives one, else the
    reconstructed compound code, lower case. ``bound=False`` rows become censored records at 10,000
    nM (not bound in the 10 uM screen). Skipped (listed in ``skipped``): non-human kinases (no
    gene) and JAK pseudokinase-domain (JH2) assays. A repeated (drug, assay) with another value is an
    error naming both rows."""
    folder = Path(folder)
    names_path = folder / "drug_names.csv"
    display = {}
    if names_path.is_file():
        for _, row in _rows(names_path, ("drug", "davis_name_reconstructed", "inn")):
            display[row["drug"]] = row["inn"] or row["davis_name_reconstructed"]
    path = folder / "davis2011_kd_long.csv"
    columns = ("drug", "inn", "kinase_assay", "gene", "variant", "assay_form", "kd_nM", "bound")
    records, skipped = [], []
    for number, row in _rows(path, columns):
        drug = normalise_drug_name(row["inn"] or display.get(row["drug"], row["drug"]))
        reference = f"{path.name} row {number} ({row['kinase_assay']})"
        if not row["gene"]:
            skipped.append(SkippedRow(reference, drug, "", "non-human kinase (no human gene)"))
            continue
        if row["assay_form"] in DAVIS_EXCLUDED_FORMS:
            skipped.append(SkippedRow(reference, drug, row["gene"], "pseudokinase-domain construct, not catalytic"))
            continue
        if row["bound"] not in ("True", "False"):
            raise ValueError(f"{path} row {number}, column 'bound': {row['bound']!r} must be True or False")
        bound = row["bound"] == "True"
        if bound:
            value = _positive(row["kd_nM"], path, number, "kd_nM")
        elif row["kd_nM"]:
            raise ValueError(f"{path} row {number}: bound=False but kd_nM={row['kd_nM']!r} (must be empty)")
        else:
            value = DAVIS_NOT_BOUND_NM
        variant = row["variant"] or WILD_TYPE
        if row["assay_form"]:  # e.g. ABL1 phosphorylated / nonphosphorylated: separate constructs, one gene
            variant = f"{variant}[{row['assay_form']}]" if variant else f"[{row['assay_form']}]"
        records.append(PotencyRecord(drug, row["gene"], variant, value, "Kd", DAVIS_2011, reference, not bound))
    check_unique(records, str(path))
    return DrugCatalogue(tuple(records), skipped=tuple(skipped), attributions=(DAVIS_ATTRIBUTION,))


def read_drugcentral(path: str | Path) -> DrugCatalogue:
    """DrugCentral drug-target records (``drugcentral_dti_human.csv``: one row per drug x gene x
    activity record, potency_nM = 10^(9 - pact)). Kept as potencies: rows with a potency of a type
    in :data:`~mechanistic.drug_catalogue.POTENCY_TYPES` and relation ``=``, ``~`` or empty.
    Skipped (listed with the reason): other types (Km, ED50, ...), inequalities (DrugCentral does not
    say whether they refer to the concentration or to pact) and activating action types (agonists,
    openers, ...). Rows marked ``moa = 1`` without a potency become mechanism targets."""
    path = Path(path)
    columns = ("drug", "gene", "act_type", "relation", "potency_nM", "action_type", "moa", "source")
    records, skipped, mechanism = [], [], set()
    for number, row in _rows(path, columns):
        drug, gene = normalise_drug_name(row["drug"]), row["gene"].strip()
        reference = f"{path.name} row {number} ({row['source'] or 'no source'})"
        if not drug or not gene:
            raise ValueError(f"{path} row {number}: empty drug or gene ({row['drug']!r}, {row['gene']!r})")
        if row["action_type"] in ACTIVATING_ACTIONS:
            skipped.append(SkippedRow(reference, drug, gene, f"activating action type {row['action_type']}"))
            continue
        if not row["potency_nM"]:
            if row["moa"] == "1":
                mechanism.add((drug, gene))
            continue
        value = _positive(row["potency_nM"], path, number, "potency_nM")
        if row["act_type"] not in POTENCY_TYPES:
            skipped.append(SkippedRow(reference, drug, gene, f"potency type {row['act_type']!r} not inhibitory"))
            continue
        if row["relation"] not in ("=", "~", ""):
            skipped.append(SkippedRow(reference, drug, gene, f"inequality {row['relation']!r} of unknown direction"))
            continue
        records.append(PotencyRecord(drug, gene, WILD_TYPE, value, row["act_type"], DRUGCENTRAL, reference))
    return DrugCatalogue(
        tuple(records),
        mechanism_targets=frozenset(mechanism),
        skipped=tuple(skipped),
        attributions=(DRUGCENTRAL_ATTRIBUTION,),
    )


def read_potency_table(
    path: str | Path, source: str, *, genes: Collection[str] | None = None, allow_unknown_genes: bool = False
) -> DrugCatalogue:
    """A user's potency table (CSV): columns ``drug, gene, potency_nM, potency_type`` and optional
    ``variant`` (empty = wild type) and ``molecular_weight`` (g/mol). ``source`` labels its records
    (rank it in ``source_priority``). Repeated keys with different potencies are refused. With
    ``genes`` (the gene symbols the table is meant for, e.g. a node map's), rows naming other genes
    are an error listing them all, or, with ``allow_unknown_genes``, skipped and listed."""
    path = Path(path)
    records, weights, unknown = [], {}, []
    for number, row in _rows(path, ("drug", "gene", "potency_nM", "potency_type")):
        drug, gene = normalise_drug_name(row["drug"]), row["gene"].strip()
        if not drug or not gene:
            raise ValueError(f"{path} row {number}: empty drug or gene ({row['drug']!r}, {row['gene']!r})")
        if genes is not None and gene not in genes:
            unknown.append(SkippedRow(f"{path.name} row {number}", drug, gene, "gene not in the given gene list"))
            continue
        kind = row["potency_type"].strip()
        if kind not in POTENCY_TYPES:
            raise ValueError(f"{path} row {number}, column 'potency_type': {kind!r} is not one of {POTENCY_TYPES}")
        value = _positive(row["potency_nM"], path, number, "potency_nM")
        variant = (row.get("variant") or "").strip()
        records.append(PotencyRecord(drug, gene, variant, value, kind, source, f"{path.name} row {number}"))
        mw = (row.get("molecular_weight") or "").strip()
        if mw:
            weight = _positive(mw, path, number, "molecular_weight", "g/mol")
            if drug in weights and weights[drug][0] != weight:
                raise ValueError(
                    f"{path} row {number}: drug {drug!r} has molecular weights {weights[drug][0]} and {mw} g/mol"
                )
            weights[drug] = (weight, f"{path.name} row {number}")
    if unknown and not allow_unknown_genes:
        rows = ", ".join(f"{s.gene} ({s.reference})" for s in unknown)
        raise ValueError(
            f"{path}: unknown gene(s) {rows}; known: {sorted(genes or ())}. Fix the symbols or pass "
            "allow_unknown_genes=True to skip these rows"
        )
    check_unique(records, str(path))
    return DrugCatalogue(
        tuple(records), molecular_weights=weights, skipped=tuple(unknown), attributions=(f"{source}: {path}",)
    )
