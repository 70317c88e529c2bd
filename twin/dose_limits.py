"""Dose plausibility: per drug, the label dose, the doses studied, the dose-limiting toxicities
and a hard limit, and :func:`check_dose`, which the patient-file readers and the regimen parser
use.

Every drug of ``mechanistic.egfr_network.EGFR_DRUG_PK`` has a :class:`DoseLimits` row in
:data:`DOSE_LIMITS` (a test checks it), and so do the drugs of the other disease packs
(abiraterone). Amounts in mg, per administration unless named per day.

- The **label dose** is the approved dose and schedule; a dose above it is allowed but marked
  (:class:`DoseWarning` from the readers, :func:`twin.diseases.egfr_nsclc.regimens.above_label` for regimens).
- The **highest dose studied** is the largest dose given to patients in a published trial (phase
  I escalations, pulsed schedules); the **hard limit** is :data:`HARD_LIMIT_FACTOR` x that dose, per
  administration and per day. Above it :func:`check_dose` raises :class:`DoseLimitError` unless
  ``confirm=True`` (a researcher's explicit choice).
- A **unit typo**: an amount above the hard limit that is ~1000x a studied dose (150000 mg of
  erlotinib: 150 g written for 150 mg), or below the lowest dose studied and ~1/1000 of a studied
  one (0.15 mg: 150 ug for 150 mg), raises :class:`DoseLimitError` saying "did you mean ... mg?
  check the unit".
- Doses below the lowest dose studied (but not 1000x off) are accepted without a warning: dose
  reductions and tapers are ordinary care.

Sources are cited per row; values marked "(from memory; unverified)" could not be checked against
the paper while writing this table.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

HARD_LIMIT_FACTOR = 2.0
"""Hard limit = this x the highest dose studied (per administration, and per day)."""
UNIT_FACTOR = 1000.0
"""The factor between adjacent mass units (g / mg / ug) that a unit typo multiplies by."""
LEVELS = ("ok", "below_studied", "above_label", "above_limit")
"""Verdict levels: within the label (or a studied lower dose), below the lowest dose studied,
above the label dose, above the hard limit (only returned with ``confirm=True``)."""


class DoseWarning(UserWarning):
    """A dose above the label dose (or above the hard limit, confirmed)."""


class DoseLimitError(ValueError):
    """A dose above the hard limit, or a likely unit typo. ``drug``, ``mg``, ``per``, ``limit``
    (mg, the limit crossed; None for a low typo), ``suggestion`` (mg, for a unit typo, else None)
    and ``problem`` (the message without ``where``) are attributes."""

    def __init__(self, where: str, drug: str, mg: float, per: str, limit, suggestion, problem: str):
        self.drug, self.mg, self.per, self.limit, self.suggestion, self.problem = (
            drug,
            mg,
            per,
            limit,
            suggestion,
            problem,
        )
        super().__init__(f"{where}: {problem}" if where else problem)


class UnknownDrugError(ValueError):
    """A drug not in :data:`DOSE_LIMITS`; the message suggests the closest known name."""


@dataclass(frozen=True)
class DoseLimits:
    """One drug's dose facts (mg). ``label_mg`` per administration, ``label_per_day_mg`` per day,
    ``label_schedule`` as text; ``lowest_studied_mg``, ``max_studied_mg`` (per administration) and
    ``max_studied_per_day_mg`` from the trials in ``sources``; ``max_studied`` and ``mtd`` as text;
    ``dose_limiting_toxicities`` short text; ``aliases`` brand names (lower case)."""

    drug: str
    label_mg: float
    label_per_day_mg: float
    label_schedule: str
    label_source: str
    lowest_studied_mg: float
    max_studied_mg: float
    max_studied_per_day_mg: float
    max_studied: str
    mtd: str
    dose_limiting_toxicities: str
    sources: tuple[str, ...]
    aliases: tuple[str, ...] = ()

    def __post_init__(self):
        for name in ("label_mg", "label_per_day_mg", "lowest_studied_mg", "max_studied_mg", "max_studied_per_day_mg"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"DoseLimits({self.drug!r}).{name}={value!r} must be a number > 0 (mg)")
        if not self.lowest_studied_mg <= self.label_mg <= self.max_studied_mg <= self.max_studied_per_day_mg:
            raise ValueError(
                f"DoseLimits({self.drug!r}): need lowest studied <= label <= max studied <= max studied per day (mg)"
            )
        if not self.label_mg <= self.label_per_day_mg <= self.max_studied_per_day_mg:
            raise ValueError(f"DoseLimits({self.drug!r}): need label <= label per day <= max studied per day (mg)")

    @property
    def hard_limit_mg(self) -> float:
        """mg per administration above which :func:`check_dose` refuses without ``confirm``."""
        return HARD_LIMIT_FACTOR * self.max_studied_mg

    @property
    def hard_limit_per_day_mg(self) -> float:
        """mg per day above which :func:`check_dose` (``per="day"``) refuses without ``confirm``."""
        return HARD_LIMIT_FACTOR * self.max_studied_per_day_mg


_ROWS = (
    DoseLimits(
        "erlotinib",
        label_mg=150.0,
        label_per_day_mg=150.0,
        label_schedule="150 mg once daily",
        label_source="Tarceva prescribing information (NSCLC)",
        lowest_studied_mg=25.0,
        max_studied_mg=2000.0,
        max_studied_per_day_mg=2000.0,
        max_studied="2000 mg once weekly without dose-limiting toxicity (Milton et al. Cancer 2006;107:1034); "
        "pulsed 1200 mg on days 1-2 + 50 mg days 3-7 weekly (Yu et al. Ann Oncol 2017;28:278)",
        mtd="150 mg daily continuous (Hidalgo et al. J Clin Oncol 2001;19:3267); pulsed 1200 mg days 1-2 + 50 mg "
        "days 3-7 (Yu et al. 2017); weekly not reached at 2000 mg (Milton et al. 2006)",
        dose_limiting_toxicities="daily: diarrhoea, rash (Hidalgo 2001); pulsed: transaminitis, mucositis, rash "
        "(Yu 2017)",
        sources=(
            "Tarceva prescribing information",
            "Hidalgo M et al. J Clin Oncol 2001;19:3267-79 (daily 25-200 mg; from memory, unverified)",
            "Milton DT et al. Cancer 2006;107:1034-41 (1200, 1600, 2000 mg weekly; no DLT)",
            "Yu HA et al. Ann Oncol 2017;28:278-84 (pulse 600-1600 mg days 1-2; MTD 1200 mg)",
        ),
        aliases=("tarceva",),
    ),
    DoseLimits(
        "gefitinib",
        label_mg=250.0,
        label_per_day_mg=250.0,
        label_schedule="250 mg once daily",
        label_source="Iressa prescribing information",
        lowest_studied_mg=50.0,
        max_studied_mg=1000.0,
        max_studied_per_day_mg=1000.0,
        max_studied="1000 mg daily (Baselga et al. J Clin Oncol 2002;20:4292; Herbst et al. J Clin Oncol 2002;20:3815)",
        mtd="DLT at 700 mg/day 14 of 28 days (Ranson et al. J Clin Oncol 2002;20:2240), at 800-1000 mg/day "
        "continuous (Herbst 2002; Baselga 2002)",
        dose_limiting_toxicities="grade 3 diarrhoea, rash, somnolence",
        sources=(
            "Iressa prescribing information",
            "Ranson M et al. J Clin Oncol 2002;20:2240-50 (50-925 mg/day)",
            "Herbst RS et al. J Clin Oncol 2002;20:3815-25 (150-1000 mg/day)",
            "Baselga J et al. J Clin Oncol 2002;20:4292-302 (150-1000 mg/day)",
        ),
        aliases=("iressa",),
    ),
    DoseLimits(
        "osimertinib",
        label_mg=80.0,
        label_per_day_mg=80.0,
        label_schedule="80 mg once daily",
        label_source="Tagrisso prescribing information",
        lowest_studied_mg=20.0,
        max_studied_mg=240.0,
        max_studied_per_day_mg=240.0,
        max_studied="240 mg once daily (AURA phase I, Janne et al. N Engl J Med 2015;372:1689)",
        mtd="not reached at 240 mg daily (Janne et al. 2015)",
        dose_limiting_toxicities="none in escalation; rash, diarrhoea rising with dose (Janne et al. 2015)",
        sources=(
            "Tagrisso prescribing information",
            "Janne PA et al. N Engl J Med 2015;372:1689-99 (20-240 mg daily)",
        ),
        aliases=("tagrisso",),
    ),
    DoseLimits(
        "capmatinib",
        label_mg=400.0,
        label_per_day_mg=800.0,
        label_schedule="400 mg twice daily",
        label_source="Tabrecta prescribing information",
        lowest_studied_mg=100.0,
        max_studied_mg=600.0,
        max_studied_per_day_mg=1200.0,
        max_studied="600 mg twice daily as capsules (Esaki et al. Cancer Sci 2019;110:1340; Bang et al. Cancer Sci "
        "2020;111:536)",
        mtd="not reached (Esaki et al. 2019; Bang et al. 2020)",
        dose_limiting_toxicities="grade 2 suicidal ideation (600 mg twice daily), grade 3 depression (400 mg twice "
        "daily) (Esaki et al. 2019)",
        sources=(
            "Tabrecta prescribing information",
            "Esaki T et al. Cancer Sci 2019;110:1340-51 (100 mg once daily to 600 mg twice daily)",
            "Bang YJ et al. Cancer Sci 2020;111:536-47 (page numbers from memory, unverified)",
        ),
        aliases=("tabrecta", "inc280"),
    ),
    DoseLimits(
        "trametinib",
        label_mg=2.0,
        label_per_day_mg=2.0,
        label_schedule="2 mg once daily",
        label_source="Mekinist prescribing information",
        lowest_studied_mg=0.125,
        max_studied_mg=4.0,
        max_studied_per_day_mg=4.0,
        max_studied="4 mg once daily (Infante et al. Lancet Oncol 2012;13:773; top dose from memory, unverified; "
        "loading doses above it may have been given)",
        mtd="3 mg once daily; 2 mg recommended (Infante et al. 2012)",
        dose_limiting_toxicities="rash, diarrhoea, central serous retinopathy (Infante et al. 2012)",
        sources=(
            "Mekinist prescribing information",
            "Infante JR et al. Lancet Oncol 2012;13:773-81 (0.125 mg upwards; MTD 3 mg)",
        ),
        aliases=("mekinist",),
    ),
    DoseLimits(
        "alpelisib",
        label_mg=300.0,
        label_per_day_mg=300.0,
        label_schedule="300 mg once daily",
        label_source="Piqray prescribing information",
        lowest_studied_mg=30.0,
        max_studied_mg=450.0,
        max_studied_per_day_mg=450.0,
        max_studied="450 mg once daily (Juric et al. J Clin Oncol 2018;36:1291; top dose from memory, unverified)",
        mtd="400 mg once daily, 150 mg twice daily (Juric et al. 2018)",
        dose_limiting_toxicities="hyperglycaemia, nausea, hypophosphataemia (Juric et al. 2018)",
        sources=(
            "Piqray prescribing information",
            "Juric D et al. J Clin Oncol 2018;36:1291-9 (once and twice daily escalation)",
        ),
        aliases=("piqray", "byl719"),
    ),
    DoseLimits(
        "abiraterone",
        label_mg=1000.0,
        label_per_day_mg=1000.0,
        label_schedule="1,000 mg once daily on an empty stomach, with prednisone 5 mg twice a day",
        label_source="Zytiga prescribing information (metastatic castration-resistant prostate cancer)",
        lowest_studied_mg=250.0,
        max_studied_mg=2000.0,
        max_studied_per_day_mg=2000.0,
        max_studied="2000 mg once daily in the phase I escalation (250-2000 mg; Attard et al. J Clin Oncol "
        "2008;26:4563; from memory, unverified)",
        mtd="not reached at 2000 mg daily; 1000 mg chosen from the plateau of the endocrine effect (Attard 2008; "
        "from memory, unverified)",
        dose_limiting_toxicities="mineralocorticoid excess (hypertension, hypokalaemia, fluid retention), "
        "hepatotoxicity (label)",
        sources=(
            "Zytiga prescribing information",
            "Attard G et al. J Clin Oncol 2008;26:4563-71 (phase I, 250-2000 mg daily; from memory, unverified)",
            "Szmulewitz RZ et al. J Clin Oncol 2018;36:1389-95 (250 mg with a low-fat meal vs 1000 mg fasting; "
            "from memory, unverified)",
        ),
        aliases=("zytiga", "abiraterone acetate"),
    ),
)

DOSE_LIMITS: Mapping[str, DoseLimits] = MappingProxyType({row.drug: row for row in _ROWS})
"""Drug name -> its :class:`DoseLimits` (read-only)."""

_SPELLINGS = MappingProxyType(
    {**{row.drug: row.drug for row in _ROWS}, **{a: row.drug for row in _ROWS for a in row.aliases}}
)


def canonical_drug(name: str) -> str | None:
    """The table's name for ``name`` (case-insensitive; brand names accepted), or None."""
    return _SPELLINGS.get(str(name).strip().lower())


def closest_drug(name: str) -> str | None:
    """The known drug whose name or brand name is closest to ``name`` (difflib; None if nothing is
    close: similarity below 0.75)."""
    match = difflib.get_close_matches(str(name).strip().lower(), list(_SPELLINGS), n=1, cutoff=0.75)
    return _SPELLINGS[match[0]] if match else None


def unknown_drug_message(name: str) -> str:
    """Why ``name`` is not a known drug, with the closest known one."""
    close = closest_drug(name)
    hint = f" (did you mean {close!r}?)" if close else ""
    return f"unknown drug {name!r}{hint}; known: {', '.join(DOSE_LIMITS)}"


def dose_limits(drug: str) -> DoseLimits:
    """The :class:`DoseLimits` of ``drug`` (any spelling :func:`canonical_drug` reads), or
    :class:`UnknownDrugError` naming the closest known drug."""
    name = canonical_drug(drug)
    if name is None:
        raise UnknownDrugError(unknown_drug_message(drug))
    return DOSE_LIMITS[name]


@dataclass(frozen=True)
class DoseVerdict:
    """The outcome of :func:`check_dose`: ``level`` (one of :data:`LEVELS`), ``message`` (empty when
    ok), and the dose checked."""

    drug: str
    mg: float
    per: str
    level: str
    message: str = ""

    @property
    def above_label(self) -> bool:
        return self.level in ("above_label", "above_limit")


def daily_totals(time, amount) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per calendar day, the total of the doses given: ``time (n,)`` (day; the calendar day of a dose
    is ``floor(time)``) and ``amount (n,)`` (mg) of one drug. Returns ``days (D,)`` (the distinct
    calendar days, ascending), ``totals (D,)`` (mg given on each) and ``day_of (n,)`` (each dose's
    index into ``days``), what the per-day checks of :func:`check_dose` (``per="day"``) read."""
    time, amount = np.asarray(time, dtype=float), np.asarray(amount, dtype=float)
    if time.shape != amount.shape or time.ndim != 1:
        raise ValueError(f"time {time.shape} and amount {amount.shape} must be 1-D arrays of one entry per dose")
    days, day_of = np.unique(np.floor(time), return_inverse=True)
    return days, np.bincount(day_of, weights=amount, minlength=len(days)), day_of


def check_dose(drug: str, mg: float, *, where: str = "", confirm: bool = False, per: str = "administration"):
    """Check ``mg`` of ``drug`` given once (``per="administration"``) or in one day (``per="day"``).

    Returns a :class:`DoseVerdict`; raises :class:`DoseLimitError` (message starting with
    ``where``) above the hard limit or for a likely unit typo, unless ``confirm``; raises
    :class:`UnknownDrugError` for a drug not in :data:`DOSE_LIMITS`.
    """
    if per not in ("administration", "day"):
        raise ValueError(f"per={per!r} must be 'administration' or 'day'")
    lim = dose_limits(drug)
    mg = float(mg)
    daily = per == "day"
    label = lim.label_per_day_mg if daily else lim.label_mg
    top = lim.max_studied_per_day_mg if daily else lim.max_studied_mg
    hard = lim.hard_limit_per_day_mg if daily else lim.hard_limit_mg
    unit = "mg per day" if daily else "mg per dose"

    def fail(limit, suggestion, problem):
        raise DoseLimitError(where, lim.drug, mg, per, limit, suggestion, problem)

    if not confirm:
        lo, hi = lim.lowest_studied_mg, top
        if mg > hard and lo <= mg / UNIT_FACTOR <= hi:
            guess = mg / UNIT_FACTOR
            fail(
                hard,
                guess,
                f"{mg:g} {unit} of {lim.drug} is ~1000x a plausible dose ({lo:g}-{hi:g} mg studied): "
                f"did you mean {guess:g} mg? check the unit",
            )
        if mg < lo and lo <= mg * UNIT_FACTOR <= hi:
            guess = mg * UNIT_FACTOR
            fail(
                None,
                guess,
                f"{mg:g} {unit} of {lim.drug} is ~1/1000 of a plausible dose ({lo:g}-{hi:g} mg "
                f"studied): did you mean {guess:g} mg? check the unit",
            )
        if mg > hard:
            fail(
                hard,
                None,
                f"{mg:g} {unit} of {lim.drug} is above the hard limit of {hard:g} mg "
                f"({HARD_LIMIT_FACTOR:g} x the highest dose studied, {top:g} mg: {lim.max_studied}); the label dose "
                f"is {lim.label_schedule}. Confirm explicitly (confirm=True / allow_above_limit) to simulate it",
            )
    if mg > hard:
        return DoseVerdict(
            lim.drug,
            mg,
            per,
            "above_limit",
            f"{lim.drug} {mg:g} {unit} is above the hard limit of "
            f"{hard:g} mg ({HARD_LIMIT_FACTOR:g} x the highest dose studied; confirmed)",
        )
    if mg > label:
        return DoseVerdict(
            lim.drug,
            mg,
            per,
            "above_label",
            f"{lim.drug} {mg:g} {unit} is above the label dose ({lim.label_schedule}, {lim.label_source}; "
            f"highest studied {top:g} mg)",
        )
    if mg < lim.lowest_studied_mg:
        return DoseVerdict(
            lim.drug,
            mg,
            per,
            "below_studied",
            f"{lim.drug} {mg:g} {unit} is below the lowest dose studied ({lim.lowest_studied_mg:g} mg)",
        )
    return DoseVerdict(lim.drug, mg, per, "ok")
