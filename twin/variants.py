"""Variant names as laboratories and clinicians write them, mapped to one canonical name.

:func:`normalise_variant` is the one place spellings are read; :class:`twin.record.VariantCall`
calls it, so the mutations reader, records built in Python and saved twins all agree. The
canonical names are those of the shipped EGFR network (:data:`mechanistic.egfr_network.EGFR_VARIANTS`
and the drug table's affinity variants):

- protein changes in HGVS one-letter form without ``p.``: ``L858R``, ``T790M``, ``C797S``,
  ``R273H``, ``E746_A750del``, ``L747_P753delinsS``, ``R213*``, ``E709fs`` ... read from one- or
  three-letter HGVS, with or without ``p.`` and predicted-consequence parentheses, any case
  (``p.L858R``, ``p.(Leu858Arg)``, ``l858r``, ``p.Cys797Ser``);
- ``ex19del``: any in-frame deletion (``del`` or ``delins``) within EGFR codons 746-759 (the exon-19
  deletions of Lynch et al. NEJM 2004 and Paez et al. Science 2004: E746_A750del, L747_P753delinsS,
  E746_S752delinsV, L747_T751del, ...) and the class names "exon 19 deletion", "del19", "ex19del",
  "exon19del", "19del";
- ``ex20ins`` (EGFR/ERBB2 "exon 20 insertion"), ``ex14skip`` (MET "exon 14 skipping");
- copy number: ``amplification`` ("amp", "amplified", "MET amp", "copy number amplification"),
  ``gain`` (a low-level copy-number gain is not an amplification and stays distinct), ``loss``
  ("homozygous deletion", "deep deletion"); ``fusion`` ("EML4-ALK fusion", "rearrangement").

EGFR residues named in a protein change are checked against the reference sequence where this
module knows it (codons 745-759, 790, 797, 858; UniProt P00533): ``R858L`` is refused because
codon 858 is Leu. A variant text that fits none of these forms is refused with a
:class:`VariantNameError` listing what is accepted. Cell-level DNA notation (``c.2573T>G``) is
refused: give the protein change. Importing this module imports nothing heavy.
"""

from __future__ import annotations

import re

CANONICAL_CLASSES: dict[str, str] = {
    "ex19del": "EGFR in-frame exon-19 deletion (codons 746-759)",
    "ex20ins": "exon-20 insertion",
    "ex14skip": "MET exon-14 skipping",
    "amplification": "copy-number amplification",
    "gain": "low-level copy-number gain (not an amplification)",
    "loss": "loss of function / homozygous deletion",
    "fusion": "gene fusion / rearrangement (e.g. EML4-ALK)",
}
"""Class names (no residue numbers) -> what they mean."""

ACCEPTED = (
    "a protein change in HGVS one- or three-letter form (L858R, p.L858R, p.Leu858Arg, T790M, p.Cys797Ser, "
    "E746_A750del, p.Glu746_Ala750del, L747_P753delinsS, R213*, E709fs), an exon-19 deletion class name "
    "(ex19del, exon 19 deletion, del19, exon19del), ex20ins (exon 20 insertion), ex14skip (exon 14 skipping), "
    "a copy-number call (amplification, amp, amplified, MET amp; gain; loss, homozygous deletion), "
    "or fusion (EML4-ALK fusion, rearrangement)"
)

_THREE = {
    "ala": "A", "arg": "R", "asn": "N", "asp": "D", "cys": "C", "gln": "Q", "glu": "E", "gly": "G",
    "his": "H", "ile": "I", "leu": "L", "lys": "K", "met": "M", "phe": "F", "pro": "P", "ser": "S",
    "thr": "T", "trp": "W", "tyr": "Y", "val": "V", "ter": "*", "sec": "U",
}  # fmt: skip
_ONE = "ACDEFGHIKLMNPQRSTVWYU"

# EGFR reference residues (UniProt P00533, mature numbering as used clinically): the exon-19
# deletion window and the codons of the common point mutations.
_EGFR_REFERENCE = {
    **dict(zip(range(745, 760), "KELREATSPKANKEI", strict=True)),
    790: "T",
    797: "C",
    858: "L",
}
EX19_FIRST, EX19_LAST = 746, 759

# class spellings, compared after lower-casing and removing spaces, "-", "_" and "."
_CLASS_SPELLINGS = {
    "ex19del": {
        "ex19del", "exon19del", "exon19deletion", "exon19deletions", "del19", "19del", "e19del", "ex19deletion",
        "exon19dels", "deletion19", "delex19", "delexon19", "exon19inframedeletion",
    },
    "ex20ins": {"ex20ins", "exon20ins", "exon20insertion", "exon20insertions", "ins20", "20ins", "e20ins"},
    "ex14skip": {"ex14skip", "exon14skipping", "exon14skip", "metex14", "ex14skipping", "ex14", "exon14"},
    "amplification": {
        "amplification", "amp", "amplified", "ampl", "copynumberamplification", "cnamplification",
        "focalamplification", "highlevelamplification", "cnvamplification",
    },
    "gain": {"gain", "copynumbergain", "cngain", "lowlevelgain", "cnvgain"},
    "loss": {"loss", "homozygousdeletion", "deepdeletion", "biallelicloss", "lossoffunction", "copynumberloss"},
}  # fmt: skip
_CLASS_OF = {spelling: name for name, spellings in _CLASS_SPELLINGS.items() for spelling in spellings}
_CLASS_GENES = {"ex19del": ("EGFR",), "ex20ins": ("EGFR", "ERBB2"), "ex14skip": ("MET",)}

_AA = f"[{_ONE}]"
_SUBSTITUTION = re.compile(rf"({_AA})(\d+)({_AA}|\*|=)")
_RANGE = re.compile(rf"({_AA})(\d+)(?:_({_AA})(\d+))?(del|dup|delins|ins)({_AA}*|\*)")
_FRAMESHIFT = re.compile(rf"({_AA})(\d+)({_AA})?fs(?:\*|X)?(\d*)")
_THREE_TOKEN = re.compile("|".join(_THREE), re.IGNORECASE)


class VariantNameError(ValueError):
    """A variant text fits none of the accepted forms (the message lists them)."""


def normalise_gene(text: str) -> str:
    """A gene symbol, stripped and upper-cased (HGNC human symbols are upper case)."""
    return str(text).strip().upper()


def _squash(text: str) -> str:
    return re.sub(r"[\s\-_.]+", "", text.lower())


def _protein(text: str) -> str | None:
    """``text`` (no ``p.``) as a one-letter protein change, or None where it is not one."""
    text = re.sub("delins|del|dup|ins|fs", lambda m: m.group(0).lower(), text, flags=re.IGNORECASE)
    for candidate in (text, _THREE_TOKEN.sub(lambda m: _THREE[m.group(0).lower()], text)):
        candidate = _upper_residues(candidate)
        if any(p.fullmatch(candidate) for p in (_SUBSTITUTION, _RANGE, _FRAMESHIFT)):
            return candidate
    return None


def _upper_residues(text: str) -> str:
    """Upper-case everything except the HGVS keywords."""
    parts = re.split(r"(delins|del|dup|ins|fs)", text)
    return "".join(p if p in ("delins", "del", "dup", "ins", "fs") else p.upper() for p in parts)


def _check_reference(gene: str, change: str) -> None:
    if gene != "EGFR":
        return
    for residue, codon in re.findall(rf"({_AA})(\d+)", change.split("delins")[0].split("ins")[0]):
        ref = _EGFR_REFERENCE.get(int(codon))
        if ref is not None and ref != residue:
            three = {v: k.capitalize() for k, v in _THREE.items()}
            raise VariantNameError(
                f"EGFR codon {codon} is {ref} ({three[ref]}) in the reference sequence (UniProt P00533), not "
                f"{residue}; check the variant"
            )


def _exon19_deletion(change: str) -> bool:
    m = _RANGE.fullmatch(change)
    if m is None or m.group(5) not in ("del", "delins"):
        return False
    first = int(m.group(2))
    last = int(m.group(4)) if m.group(4) else first
    return EX19_FIRST <= first <= last <= EX19_LAST


def normalise_variant(gene: str, text: str) -> str:
    """The canonical name of variant ``text`` of ``gene`` (see the module docstring).

    Raises :class:`VariantNameError` (a ``ValueError``) naming the text and listing the accepted
    forms where it fits none, or where an EGFR residue contradicts the reference sequence.
    """
    gene = normalise_gene(gene)
    original = str(text)
    body = original.strip()
    if body.upper().startswith(gene + " ") or body.upper().startswith(gene + ":"):
        body = body[len(gene) + 1 :].strip()  # "MET amplification", "EGFR:L858R"
    if re.match(r"^[cgn]\.", body, re.IGNORECASE):
        raise VariantNameError(
            f"variant {original!r} is DNA-level notation; give the protein change (e.g. p.L858R) or a class name. "
            f"Accepted: {ACCEPTED}"
        )
    squashed = _squash(body)
    if squashed.endswith(("fusion", "rearrangement", "translocation")):
        return "fusion"
    if squashed in _CLASS_OF:
        name = _CLASS_OF[squashed]
        genes = _CLASS_GENES.get(name)
        if genes is not None and gene not in genes:
            raise VariantNameError(
                f"variant {original!r} ({CANONICAL_CLASSES[name]}) names a variant of {' or '.join(genes)}, "
                f"not of {gene}"
            )
        return name
    protein = body[2:] if body[:2].lower() == "p." else body
    if protein.startswith("(") and protein.endswith(")"):
        protein = protein[1:-1]  # HGVS predicted consequence, p.(Leu858Arg)
    change = _protein(protein.strip())
    if change is None:
        raise VariantNameError(f"variant {original!r} of {gene} is not understood. Accepted: {ACCEPTED}")
    _check_reference(gene, change)
    if gene == "EGFR" and _exon19_deletion(change):
        return "ex19del"
    return change
