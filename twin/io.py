"""Reading and writing patient files: CSV in, :class:`~twin.record.PatientRecord` out, and back.

Three formats, each holding any number of patients (readers return ``{id: PatientRecord}``;
:func:`read_patient` returns one). Units are checked and converted on reading, so records are
always in canonical units (day, mg, mm, mm^3, mg/L, fraction; see :mod:`twin.record`).
Column names are matched case-insensitively, cells are stripped and blank rows are skipped. The
long and mutations readers ignore extra columns; the NONMEM-style reader refuses any column it does
not read unless it is named in ``ignore=`` (NONMEM files carry dosing columns such as ``SS``).

**Long CSV** (:func:`read_long_csv`, :func:`write_long_csv`): one row per observation, dose or
covariate::

    id,kind,time,time_unit,observable,drug,covariate,value,amount,unit,route,duration
    P1,covariate,,,,,body_weight,70.0,,kg,,
    P1,observation,-7.0,day,diameter,,,52.0,,mm,,
    P1,dose,0.0,day,,erlotinib,,,150.0,mg,oral,
    P1,observation,56.0,day,diameter,,,TOO SMALL TO MEASURE,,mm,,

- ``kind``: ``observation``, ``dose`` or ``covariate``. The column may be left out; each row's
  kind is then the one of ``observable``, ``drug`` (or ``amount``) and ``covariate`` it fills.
- observation rows: ``time``, ``observable`` (``diameter``, ``volume``, ``concentration``,
  ``resistant_fraction``), ``value``, ``unit`` (diameter mm/cm; volume mm^3/cm^3/mL;
  concentration mg/L, ug/mL, ng/mL; resistant_fraction 1 or %). ``value`` is a number,
  ``<L`` (below the detection limit L, in ``unit``), ``TOO SMALL TO MEASURE`` (below an
  unstated limit) or ``NOT EVALUABLE`` / empty (missing).
- dose rows: ``time``, ``drug``, ``amount``, ``unit`` (mg, g, ug, or mg/kg, which needs the
  patient's ``body_weight`` covariate in kg), ``route`` (``oral``, ``iv_bolus``, ``infusion``, or
  as clinicians write them: ``po``, ``PO``, ``by mouth``; ``iv`` is a bolus, or an infusion where a
  duration is given; :func:`twin.record.normalise_route`), ``duration`` (infusions only, in the
  row's time unit; the column is optional).
- covariate rows: ``covariate`` (name), ``value`` and ``unit`` (``body_weight`` kg, ``age``
  year, ``height`` cm; others any unit, or text values with an empty unit for categories).
- ``time_unit`` (day, week, hour and spellings in :func:`twin.record.units_of`) is optional; where
  the column or a cell is empty, ``time_unit=`` of the reader applies (default ``"day"``).
- Within a patient, observation rows and dose rows are each sorted by time (they may
  interleave); an observable measured twice at one time, or a drug given twice at one time by
  one route, is a duplicate.

The writer puts covariates first, then observations and doses merged by time, in canonical
units with ``time_unit`` ``day``.

**NONMEM-style CSV** (:func:`read_nonmem`, :func:`write_nonmem`): columns ``ID, TIME, DV, AMT,
EVID, CMT`` and optionally ``MDV, RATE, ADDL, II, CENS`` and covariate columns. ``EVID`` 0 is an
observation (skipped where ``MDV`` is 1), 1 a dose, 2 a row that is skipped; other EVIDs are
refused. ``CMT`` is mapped by explicit arguments: ``dose_compartments={1: ("erlotinib",
"oral")}`` and ``observation_compartments={2: ("concentration", "ng/mL"), 3: ("diameter",
"mm")}``. ``time_unit`` and ``amount_unit`` are required (NONMEM files carry no units; TIME is
usually in hours). As in NONMEM, ``RATE`` decides how a dose into an intravenous compartment
(mapped to ``iv_bolus`` or ``infusion``, which mean the same here) is given: ``RATE > 0`` is an
infusion lasting ``AMT/RATE``, an empty or 0 ``RATE`` a bolus; ``RATE > 0`` into an ``oral``
compartment is an error. ``ADDL``/``II`` add doses every ``II``; ``CENS`` 1 marks a value below the
detection limit, with the limit in ``DV`` (the M3 convention). ``covariates={"WT":
("body_weight", "kg")}`` reads columns as covariates, which must be constant within a patient.
No dosing value is dropped: ``SS`` (steady state) is not supported, so an ``SS`` column may be
present only with every cell empty or 0; ``II`` on a dose row needs ``ADDL`` > 0; observation and
EVID 2 rows may not carry ``AMT``, ``RATE``, ``ADDL`` or ``II`` (other than empty or 0). Any other
column (``PCMT``, ``TAD``, an unmapped covariate...) is refused, listing the columns read, unless
``ignore=`` names it (it may not name a column the reader reads, nor ``SS``); date columns
(``DATE``, ``DAT1``-``DAT3``, which NONMEM adds to TIME) are always refused.
Rows of a patient are contiguous and sorted by TIME. The writer writes not-evaluable
observations with ``MDV`` 1, so they are dropped on reading; everything else round-trips.

**Doses** (both formats). A dose row is a dose taken: an amount of 0 is refused ("a held dose is
an absent row; give the amount taken"), so a held dose is simply left out. Drug names of
:data:`twin.dose_limits.DOSE_LIMITS` (every drug of the EGFR drug table with PK) are read in any
case and by brand name (``Tarceva`` is ``erlotinib``); a near miss of one of them (``erlotnib``) is
refused, suggesting the name; other drugs are read as written and not checked. Every dose of a
known drug is checked by :func:`twin.dose_limits.check_dose`, per row and per calendar day: above
the hard limit (2x the highest dose studied) or ~1000x off a plausible dose (150 g written for 150
mg) the row is refused, naming the limit and its source or the likely meant amount; above the
label dose the reader warns (one :class:`twin.dose_limits.DoseWarning` per patient and drug,
naming the rows). ``allow_above_limit=True`` accepts doses past the hard limit (still warned).

**Mutations CSV** (:func:`read_mutations`, :func:`write_mutations`, or ``mutations=`` of the
readers): columns ``id, gene, variant, vaf`` with ``vaf`` a fraction in [0, 1]. Variants are read
as laboratories write them (p.L858R, p.Leu858Arg, l858r, E746_A750del, "exon 19 deletion",
"MET amp": :func:`twin.variants.normalise_variant`) and held by their canonical name, the lab's
text kept in :attr:`twin.record.VariantCall.reported` (and written back by
:func:`write_mutations`); a spelling that fits no accepted form is refused with the list of forms.

A file that is not text (a spreadsheet workbook, a binary file) is refused naming the file and
the row of the first byte that is not UTF-8 text.

Errors are :class:`PatientFileError`: one line naming the file, the row (1-based, the header
being row 1, as a spreadsheet shows it), the column, the bad value and what would be valid.
Files are only ever opened for reading by the readers.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from os import PathLike
from pathlib import Path
from typing import NoReturn

import numpy as np

from twin.dose_limits import (
    DOSE_LIMITS,
    DoseLimitError,
    DoseWarning,
    canonical_drug,
    check_dose,
    closest_drug,
    daily_totals,
    dose_limits,
    unknown_drug_message,
)
from twin.record import (
    COVARIATE_UNITS,
    OBSERVABLES,
    ROUTES,
    Covariate,
    Dose,
    Observation,
    PatientRecord,
    PatientRecordError,
    VariantCall,
    to_canonical,
    unit_factor,
    units_of,
)

PathType = str | PathLike

KINDS: tuple[str, ...] = ("observation", "dose", "covariate")
LONG_COLUMNS: tuple[str, ...] = (
    "id",
    "kind",
    "time",
    "time_unit",
    "observable",
    "drug",
    "covariate",
    "value",
    "amount",
    "unit",
    "route",
    "duration",
)
NONMEM_COLUMNS: tuple[str, ...] = ("ID", "TIME", "DV", "AMT", "EVID", "CMT", "MDV")
NONMEM_READ: tuple[str, ...] = (*NONMEM_COLUMNS, "RATE", "ADDL", "II", "CENS", "SS")  # SS: empty or 0 only
NONMEM_DATES: tuple[str, ...] = ("DATE", "DAT1", "DAT2", "DAT3")  # NONMEM adds them to TIME: never ignored
MUTATION_COLUMNS: tuple[str, ...] = ("id", "gene", "variant", "vaf")
BELOW_DETECTION = "TOO SMALL TO MEASURE"
NOT_EVALUABLE = "NOT EVALUABLE"
PER_KG = "mg/kg"

_NEEDS = {
    "observation": ("time", "observable", "value", "unit"),
    "dose": ("time", "drug", "amount", "unit", "route"),
    "covariate": ("covariate", "value", "unit"),
}


class PatientFileError(ValueError):
    """A patient file is invalid. ``path``, ``row`` (1-based; the header is row 1), ``column``,
    ``value`` (the cell's text) and ``problem`` are attributes; the message is one line."""

    def __init__(self, path: PathType, row: int, column: str | None, value: str | None, problem: str):
        self.path, self.row, self.column, self.value, self.problem = Path(path), row, column, value, problem
        where = f"{path}, row {row}" + (f", column {column!r}" if column else "")
        what = f", value {value!r}" if value is not None else ""
        super().__init__(f"{where}{what}: {problem}")


# ----------------------------------------------------------------------------------------------
# Reading a table


def _text_of(path: Path) -> str:
    """The file's text (UTF-8, with or without a byte-order mark), or a PatientFileError naming the
    file and the row of the first byte that is not text."""
    data = path.read_bytes()
    nul = data.find(b"\x00")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        bad = e.start if nul < 0 else min(nul, e.start)
    else:
        if nul < 0:
            return text
        bad = nul
    row = data[:bad].count(b"\n") + 1
    raise PatientFileError(
        path,
        row,
        None,
        None,
        f"is not a text CSV file (byte 0x{data[bad]:02x} at offset {bad} is not UTF-8 text; a spreadsheet "
        "workbook or other binary file?): save it as CSV (UTF-8) and read that",
    )


@dataclass
class _Row:
    number: int  # 1-based; the header is row 1
    cells: dict[str, str]  # lower-case column name -> stripped text


class _Table:
    """A CSV file's header and non-blank rows, read once."""

    def __init__(self, path: PathType):
        self.path = Path(path)
        raw = list(csv.reader(io.StringIO(_text_of(self.path), newline="")))
        if not raw or not any(c.strip() for c in raw[0]):
            raise PatientFileError(self.path, 1, None, None, "the file has no header row (column names)")
        header = [c.strip() for c in raw[0]]
        self.written: dict[str, str] = {}  # lower-case -> as written
        for j, name in enumerate(header):
            if not name:
                if any(j < len(r) and r[j].strip() for r in raw[1:]):
                    raise PatientFileError(self.path, 1, f"#{j + 1}", "", "a column with values has no name")
                continue
            if name.lower() in self.written:
                raise PatientFileError(self.path, 1, name, name, "the column name appears twice")
            self.written[name.lower()] = name
        keys = [h.lower() for h in header]
        self.rows: list[_Row] = []
        for number, cells in enumerate(raw[1:], start=2):
            if not any(c.strip() for c in cells):
                continue
            extra = [j for j in range(len(header), len(cells)) if cells[j].strip()]
            if extra:
                raise PatientFileError(
                    self.path,
                    number,
                    f"#{extra[0] + 1}",
                    cells[extra[0]].strip(),
                    f"the row has a value in column {extra[0] + 1} but the header names only {len(header)} columns",
                )
            text = {k: (cells[j].strip() if j < len(cells) else "") for j, k in enumerate(keys) if k}
            self.rows.append(_Row(number, text))

    def has(self, key: str) -> bool:
        return key in self.written

    def name(self, key: str) -> str:
        """A column's name as written in the file (or as expected, where it is missing)."""
        return self.written.get(key, key)

    def require(self, key: str, why: str = "", shown: str | None = None) -> None:
        """Fail unless the column ``key`` (lower case; ``shown`` as the user would write it) exists."""
        if key not in self.written:
            found = ", ".join(self.written.values())
            shown = shown or key
            raise PatientFileError(
                self.path, 1, shown, None, f"missing column {shown!r}{why}; the columns are: {found}"
            )

    def fail(self, row: _Row, key: str, problem: str) -> NoReturn:
        raise PatientFileError(self.path, row.number, self.name(key), row.cells.get(key, ""), problem)

    def text(self, row: _Row, key: str) -> str:
        return row.cells.get(key, "")

    def number(self, row: _Row, key: str, what: str) -> float:
        """The cell as a finite number, or an error saying what was expected."""
        text = row.cells.get(key, "")
        if text in ("", "."):
            self.fail(row, key, f"is empty; expected a number ({what})")
        try:
            value = float(text)
        except ValueError:
            self.fail(row, key, f"is not a number; expected a number ({what}), with any unit in its own column")
        if not math.isfinite(value):
            self.fail(row, key, f"must be a finite number ({what})")
        return value

    def convert(self, row: _Row, key: str, unit: str, quantity: str) -> float:
        """The cell, a number in ``unit``, in the canonical unit of ``quantity`` (exactly, then
        rounded once)."""
        self.number(row, key, f"{quantity} in {unit}")
        return to_canonical(row.cells[key], unit, quantity)

    def integer(self, row: _Row, key: str, what: str, default: int | None = None) -> int:
        if default is not None and row.cells.get(key, "") in ("", "."):
            return default
        value = self.number(row, key, what)
        if value != int(value):
            self.fail(row, key, f"must be a whole number ({what})")
        return int(value)

    def unit(self, row: _Row, key: str, quantity: str, extra: tuple[str, ...] = ()) -> str:
        """The cell as a unit spelling of ``quantity`` (case-insensitive), or an error listing them."""
        valid = units_of(quantity) + extra
        by_lower = {u.lower(): u for u in valid}
        text = row.cells.get(key, "")
        if text.lower() not in by_lower:
            self.fail(row, key, f"unknown unit for {quantity}; valid units: {', '.join(valid)}")
        return by_lower[text.lower()]


# ----------------------------------------------------------------------------------------------
# Building records while remembering which file row each entry came from


@dataclass
class _Origin:
    table: _Table
    row: _Row
    columns: dict[str, str]  # record attribute -> lower-case column
    notes: dict[str, str] = field(default_factory=dict)  # record attribute -> added to its errors

    def fail(self, attribute: str, problem: str) -> NoReturn:
        self.table.fail(self.row, self.columns.get(attribute, attribute), problem + self.notes.get(attribute, ""))


@dataclass
class _Patient:
    pid: str
    observations: list[Observation] = field(default_factory=list)
    doses: list[Dose] = field(default_factory=list)
    covariates: dict[str, Covariate] = field(default_factory=dict)
    mutations: list[VariantCall] = field(default_factory=list)
    origins: dict[str, list | dict] = field(
        default_factory=lambda: {"observations": [], "doses": [], "covariates": {}, "mutations": []}
    )

    def add(self, kind: str, make: Callable[[], object], origin: _Origin, key=None) -> None:
        """Build a row with ``make()``, turning its validation error into a file error."""
        try:
            item = make()
        except PatientRecordError as e:
            origin.fail(e.attribute, e.problem)
        if kind == "covariates":
            self.covariates[key] = item
            self.origins[kind][key] = origin
        else:
            getattr(self, kind).append(item)
            self.origins[kind].append(origin)

    def check_doses(self, allow_above_limit: bool) -> None:
        """Check every dose row of a drug in :data:`twin.dose_limits.DOSE_LIMITS` (per row and per
        calendar day): errors name the file and row; doses above the label dose are reported in one
        :class:`~twin.dose_limits.DoseWarning` per drug and file."""
        above: dict[tuple[str, Path], list[tuple[int, float, str, str]]] = {}
        of_drug: dict[str, list[int]] = {}
        for i, (dose, origin) in enumerate(zip(self.doses, self.origins["doses"], strict=True)):
            if dose.drug not in DOSE_LIMITS:
                continue
            try:
                verdict = check_dose(dose.drug, dose.amount, confirm=allow_above_limit)
            except DoseLimitError as e:
                origin.fail("amount", e.problem)
            if verdict.above_label:
                above.setdefault((dose.drug, origin.table.path), []).append(
                    (origin.row.number, dose.amount, "", verdict.level)
                )
            of_drug.setdefault(dose.drug, []).append(i)
        shared_days = []  # (drug, day, total mg, rows) for each calendar day with several doses of a drug
        for drug, index in of_drug.items():
            given = [self.doses[i] for i in index]
            days, totals, day_of = daily_totals([d.time for d in given], [d.amount for d in given])
            for k in np.flatnonzero(np.bincount(day_of) >= 2):
                rows = [index[j] for j in np.flatnonzero(day_of == k)]
                shared_days.append((drug, int(days[k]), float(totals[k]), rows))
        for drug, day, total, rows in shared_days:
            origin = self.origins["doses"][rows[-1]]
            numbers = ", ".join(str(self.origins["doses"][i].row.number) for i in rows)
            try:
                verdict = check_dose(drug, total, confirm=allow_above_limit, per="day")
            except DoseLimitError as e:
                origin.fail(
                    "amount", f"{e.problem} (the {drug} doses of day {day}, rows {numbers}, add up to {total:g} mg)"
                )
            if verdict.above_label:
                above.setdefault((drug, origin.table.path), []).append(
                    (origin.row.number, total, " per day", verdict.level)
                )
        for (drug, path), rows in above.items():
            lim = dose_limits(drug)
            shown = ", ".join(f"{r}{' (day total)' if per else ''}" for r, _, per, _ in rows[:8])
            row, most, per, _ = max(rows, key=lambda r: r[1])
            beyond = sum(level == "above_limit" for *_, level in rows)
            confirmed = (
                f"; {beyond} above the hard limit of {lim.hard_limit_mg:g} mg per dose / {lim.hard_limit_per_day_mg:g} "
                "mg per day, accepted by allow_above_limit"
                if beyond
                else ""
            )
            warnings.warn(
                f"{path}: patient {self.pid!r}: {len(rows)} {drug} dose(s) above the label dose "
                f"({lim.label_schedule}; {lim.label_source}) at rows {shown}{', ...' if len(rows) > 8 else ''}; "
                f"the largest {most:g} mg{per} (row {row}){confirmed}",
                DoseWarning,
                stacklevel=4,
            )

    def build(self) -> PatientRecord:
        try:
            return PatientRecord(
                self.pid, tuple(self.observations), tuple(self.doses), dict(self.covariates), tuple(self.mutations)
            )
        except PatientRecordError as e:
            origins = self.origins[e.field]
            origin = origins[e.index]
            problem = e.problem
            if e.other is not None:
                other = origins[e.other]
                elsewhere = "" if other.table is origin.table else f" of {other.table.path}"
                problem += f" (row {other.row.number}{elsewhere})"
            origin.fail(e.attribute, problem)


def _patient(patients: dict[str, _Patient], table: _Table, row: _Row, key: str = "id") -> _Patient:
    pid = table.text(row, key)
    if not pid:
        table.fail(row, key, "the patient id is empty")
    if pid not in patients:
        patients[pid] = _Patient(pid)
    return patients[pid]


def _check_time_unit(time_unit: str) -> str:
    if time_unit not in units_of("time"):
        raise ValueError(f"time_unit={time_unit!r} is not a time unit; valid: {units_of('time')}")
    return time_unit


def _amount_mg(table: _Table, row: _Row, key: str, unit_key: str, unit: str, patient: _Patient) -> float:
    """The amount cell ``key`` in mg (``unit`` mg/kg uses the patient's body weight)."""
    if unit != PER_KG:
        return table.convert(row, key, unit, "amount")
    table.number(row, key, f"amount in {unit}")
    weight = patient.covariates.get("body_weight")
    if weight is None:
        table.fail(
            row,
            unit_key,
            f"a dose in {PER_KG} needs the body weight of patient {patient.pid!r}: give a body_weight covariate in kg",
        )
    return float(Fraction(row.cells[key]) * Fraction(weight.value))


def _unit_note(unit: str, value: float | None, observable: str) -> dict[str, str]:
    """Errors about a converted value say what it became."""
    canonical = OBSERVABLES[observable]
    if unit == canonical or value is None:
        return {}
    return {"value": f"; {unit} converted to {value!r} {canonical}"}


def _observation_value(table: _Table, row: _Row, observable: str, unit: str) -> tuple[float | None, str]:
    """The value cell of a long-CSV observation row: (value or limit in canonical units, status)."""
    text = table.text(row, "value")
    if text.upper() in (NOT_EVALUABLE, ""):
        return None, "not_evaluable"
    if text.upper() == BELOW_DETECTION:
        return None, "below_detection"
    below = text.startswith("<")
    number_text = text[1:].strip() if below else text
    try:
        number = float(number_text)
    except ValueError:
        table.fail(
            row,
            "value",
            f"is not a number; expected a number, '<limit', {BELOW_DETECTION!r} or {NOT_EVALUABLE!r} "
            f"(the unit goes in column {table.name('unit')!r})",
        )
    if not math.isfinite(number):
        table.fail(row, "value", "must be a finite number")
    return to_canonical(number_text, unit, observable), "below_detection" if below else "measured"


# ----------------------------------------------------------------------------------------------
# Long CSV


def _kind(table: _Table, row: _Row) -> str:
    if table.has("kind"):
        kind = table.text(row, "kind").lower()
        if kind not in KINDS:
            table.fail(row, "kind", f"is not a row kind; valid: {', '.join(KINDS)}")
        return kind
    filled = [
        k
        for k, cols in (("observation", ("observable",)), ("dose", ("drug", "amount")), ("covariate", ("covariate",)))
        if any(table.text(row, c) for c in cols)
    ]
    if len(filled) != 1:
        table.fail(
            row,
            "kind",
            "cannot tell whether the row is an observation, a dose or a covariate: fill exactly one of "
            "'observable', 'drug', 'covariate', or add a 'kind' column",
        )
    return filled[0]


def read_long_csv(
    path: PathType,
    *,
    time_unit: str = "day",
    mutations: PathType | None = None,
    allow_above_limit: bool = False,
) -> dict[str, PatientRecord]:
    """Read a long CSV (see the module docstring) into ``{id: PatientRecord}``.

    ``time_unit``: unit of ``time`` (and ``duration``) where the file has no ``time_unit``
    column or cell. ``mutations``: a mutations CSV to attach (its ids must be in ``path``).
    ``allow_above_limit``: accept doses above the hard limit of :mod:`twin.dose_limits` (a
    :class:`~twin.dose_limits.DoseWarning` still says so).
    """
    default_unit = _check_time_unit(time_unit)
    table = _Table(path)
    table.require("id")
    kinds = [(row, _kind(table, row)) for row in table.rows]
    for kind, needs in _NEEDS.items():
        first = next((row for row, k in kinds if k == kind), None)
        for key in needs if first is not None else ():
            table.require(key, f" (needed by {kind} rows such as row {first.number})")
    patients: dict[str, _Patient] = {}
    for row, kind in kinds:  # covariates first: mg/kg doses need the body weight
        p = _patient(patients, table, row)
        if kind == "covariate":
            _read_covariate(table, row, p)
    for row, kind in kinds:
        p = patients[table.text(row, "id")]
        if kind == "covariate":
            continue
        t_unit = default_unit
        if table.text(row, "time_unit"):
            t_unit = table.unit(row, "time_unit", "time")
        time = table.convert(row, "time", t_unit, "time")
        if kind == "observation":
            observable = table.text(row, "observable")
            if observable not in OBSERVABLES:
                table.fail(row, "observable", f"is not an observable; valid: {', '.join(OBSERVABLES)}")
            unit = table.unit(row, "unit", observable)
            value, status = _observation_value(table, row, observable, unit)
            origin = _Origin(table, row, {"status": "value"}, _unit_note(unit, value, observable))
            p.add(
                "observations",
                lambda: Observation(time, observable, value, OBSERVABLES[observable], status),  # noqa: B023
                origin,
            )
        else:
            unit = table.unit(row, "unit", "amount", (PER_KG,))
            amount = _amount_mg(table, row, "amount", "unit", unit, p)
            duration = 0.0
            if table.text(row, "duration"):
                duration = table.convert(row, "duration", t_unit, "time")
            route = table.text(row, "route")
            drug = _drug(table, row, table.text(row, "drug"))
            note = {} if unit == "mg" else {"amount": f" (the row gives {table.text(row, 'amount')} {unit})"}
            p.add(
                "doses",
                lambda: Dose(time, drug, amount, route, duration),  # noqa: B023
                _Origin(table, row, {}, note),
            )
    if mutations is not None:
        _attach_mutations(patients, mutations, table.path)
    for p in patients.values():
        p.check_doses(allow_above_limit)
    return {pid: p.build() for pid, p in patients.items()}


def _drug(table: _Table, row: _Row, text: str) -> str:
    """The drug cell: a known drug's name (any case, or a brand name), or another drug's name as
    written; a near miss of a known drug (a typo) is an error suggesting it."""
    known = canonical_drug(text)
    if known is not None:
        return known
    if text and closest_drug(text) is not None:
        table.fail(row, "drug", f"{unknown_drug_message(text)} (other drugs are read as written)")
    return text


def _read_covariate(table: _Table, row: _Row, p: _Patient) -> None:
    name = table.text(row, "covariate")
    if not name:
        table.fail(row, "covariate", "a covariate row needs a covariate name")
    if name in p.covariates:
        earlier = p.origins["covariates"][name].row.number
        table.fail(row, "covariate", f"duplicates the covariate of row {earlier} for patient {p.pid!r}")
    unit = table.text(row, "unit")
    if name in COVARIATE_UNITS and unit != COVARIATE_UNITS[name]:
        table.fail(row, "unit", f"{name} must be given in {COVARIATE_UNITS[name]!r}")
    text = table.text(row, "value")
    try:
        value: float | str = float(text)
    except ValueError:
        if unit:
            table.number(row, "value", f"{name} in {unit}")
        value = text
    p.add("covariates", lambda: Covariate(value, unit), _Origin(table, row, {"name": "covariate"}), key=name)


def _records(records: PatientRecord | Iterable[PatientRecord] | Mapping[str, PatientRecord]) -> list[PatientRecord]:
    if isinstance(records, PatientRecord):
        records = [records]
    elif isinstance(records, Mapping):
        records = list(records.values())
    records = list(records)
    ids = [r.patient_id for r in records]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"patient ids must be unique; repeated: {duplicated}")
    return records


def _write(path: PathType, header: Iterable[str], rows: Iterable[Iterable[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _timeline(record: PatientRecord) -> list[Observation | Dose]:
    """Observations and doses merged by time (observations first at equal times)."""
    events = [(o.time, 0, i, o) for i, o in enumerate(record.observations)]
    events += [(d.time, 1, i, d) for i, d in enumerate(record.doses)]
    return [e[-1] for e in sorted(events, key=lambda e: e[:3])]


def write_long_csv(
    path: PathType, records: PatientRecord | Iterable[PatientRecord] | Mapping[str, PatientRecord]
) -> None:
    """Write records as a long CSV (mutations go to :func:`write_mutations`)."""
    rows = []
    for r in _records(records):
        for name, c in r.covariates.items():
            value = c.value if isinstance(c.value, str) else repr(c.value)
            rows.append({"id": r.patient_id, "kind": "covariate", "covariate": name, "value": value, "unit": c.unit})
        for e in _timeline(r):
            row = {"id": r.patient_id, "time": repr(e.time), "time_unit": "day"}
            if isinstance(e, Observation):
                if e.status == "measured":
                    value = repr(e.value)
                elif e.status == "not_evaluable":
                    value = NOT_EVALUABLE
                else:
                    value = BELOW_DETECTION if e.value is None else f"<{e.value!r}"
                row.update(kind="observation", observable=e.observable, value=value, unit=e.unit)
            else:
                duration = repr(e.duration) if e.route == "infusion" else ""
                row.update(kind="dose", drug=e.drug, amount=repr(e.amount), unit="mg", route=e.route)
                row["duration"] = duration
            rows.append(row)
    _write(path, LONG_COLUMNS, ([row.get(c, "") for c in LONG_COLUMNS] for row in rows))


# ----------------------------------------------------------------------------------------------
# Mutations


def _read_mutation_rows(path: PathType, patients: dict[str, _Patient], known: PathType | None) -> None:
    table = _Table(path)
    for key in ("id", "gene", "variant", "vaf"):
        table.require(key)
    for row in table.rows:
        pid = table.text(row, "id")
        if known is not None and pid not in patients:
            table.fail(row, "id", f"patient not in {known}; its patients are: {', '.join(patients)}")
        p = _patient(patients, table, row)
        vaf = table.number(row, "vaf", "variant allele fraction in [0, 1]")
        gene, variant = table.text(row, "gene"), table.text(row, "variant")
        p.add("mutations", lambda: VariantCall(gene, variant, vaf), _Origin(table, row, {}))  # noqa: B023


def _attach_mutations(patients: dict[str, _Patient], mutations: PathType, main: Path) -> None:
    _read_mutation_rows(mutations, patients, main)


def read_mutations(path: PathType) -> dict[str, tuple[VariantCall, ...]]:
    """Read a mutations CSV (``id, gene, variant, vaf``) into ``{id: (VariantCall, ...)}``."""
    patients: dict[str, _Patient] = {}
    _read_mutation_rows(path, patients, None)
    return {pid: p.build().mutations for pid, p in patients.items()}


def write_mutations(
    path: PathType, records: PatientRecord | Iterable[PatientRecord] | Mapping[str, PatientRecord]
) -> None:
    """Write the records' mutations as a mutations CSV."""
    rows = [(r.patient_id, m.gene, m.reported, repr(m.vaf)) for r in _records(records) for m in r.mutations]
    _write(path, MUTATION_COLUMNS, rows)


# ----------------------------------------------------------------------------------------------
# NONMEM-style


def _check_mappings(dose_compartments, observation_compartments, covariates, amount_unit):
    for cmt, spec in dose_compartments.items():
        if not (isinstance(spec, tuple) and len(spec) == 2 and spec[1] in ROUTES):
            raise ValueError(f"dose_compartments[{cmt!r}]={spec!r} must be a (drug, route) pair, route in {ROUTES}")
        if canonical_drug(spec[0]) is None and closest_drug(spec[0]) is not None:
            raise ValueError(f"dose_compartments[{cmt!r}]: {unknown_drug_message(spec[0])}")
    for cmt, spec in observation_compartments.items():
        if not (isinstance(spec, tuple) and len(spec) == 2 and spec[0] in OBSERVABLES):
            raise ValueError(
                f"observation_compartments[{cmt!r}]={spec!r} must be an (observable, unit) pair, "
                f"observable in {tuple(OBSERVABLES)}"
            )
        if spec[1] not in units_of(spec[0]):
            raise ValueError(f"observation_compartments[{cmt!r}]: unit {spec[1]!r} is not in {units_of(spec[0])}")
    for column, spec in (covariates or {}).items():
        if not (isinstance(spec, tuple) and len(spec) == 2):
            raise ValueError(f"covariates[{column!r}]={spec!r} must be a (name, unit) pair")
        name, unit = spec
        if name in COVARIATE_UNITS and unit != COVARIATE_UNITS[name]:
            raise ValueError(f"covariates[{column!r}]: {name} must be in {COVARIATE_UNITS[name]!r}, not {unit!r}")
    if amount_unit not in units_of("amount") + (PER_KG,):
        raise ValueError(f"amount_unit={amount_unit!r} is not valid; use one of {units_of('amount') + (PER_KG,)}")


def read_nonmem(
    path: PathType,
    *,
    time_unit: str,
    amount_unit: str,
    dose_compartments: Mapping[int, tuple[str, str]],
    observation_compartments: Mapping[int, tuple[str, str]],
    covariates: Mapping[str, tuple[str, str]] | None = None,
    mutations: PathType | None = None,
    allow_above_limit: bool = False,
    ignore: Iterable[str] = (),
) -> dict[str, PatientRecord]:
    """Read a NONMEM-style CSV (see the module docstring) into ``{id: PatientRecord}``.

    ``time_unit``: unit of TIME and II (e.g. ``"h"``); ``amount_unit``: unit of AMT (``"mg"``,
    or ``"mg/kg"`` with a body-weight covariate); ``dose_compartments``: CMT -> (drug, route);
    ``observation_compartments``: CMT -> (observable, unit of DV); ``covariates``: column ->
    (covariate name, unit); ``mutations``: a mutations CSV to attach; ``allow_above_limit``: as
    for :func:`read_long_csv`; ``ignore``: names of columns that carry neither a dose nor an
    observation (``TAD``, ``OCC``...), to be skipped. Every other column is read or refused: a file
    with a column not in :data:`NONMEM_READ`, ``covariates`` or ``ignore`` is refused, naming it and
    the columns read, and so is a row with a dosing value the reader cannot honour (``SS`` other
    than empty or 0; ``II`` without ``ADDL`` > 0; ``AMT``/``RATE``/``ADDL``/``II`` on a row that is
    not a dose), so that no dose is silently dropped or changed.
    """
    _check_time_unit(time_unit)
    _check_mappings(dose_compartments, observation_compartments, covariates, amount_unit)
    covariates = dict(covariates or {})
    read = {c.lower() for c in (*NONMEM_READ, *covariates)}
    ignored = _check_ignore(ignore, read)
    table = _Table(path)
    for key in ("ID", "TIME", "DV", "AMT", "EVID", "CMT", *covariates):
        table.require(key.lower(), shown=key)
    for name in NONMEM_DATES:
        if table.has(name.lower()):
            raise PatientFileError(
                table.path,
                1,
                table.name(name.lower()),
                None,
                f"date columns are not supported (NONMEM adds {name} to TIME): give TIME as the time since a "
                f"fixed start, e.g. the first dose, in {time_unit}, and leave {name} out",
            )
    unknown = [name for key, name in table.written.items() if key not in read | ignored]
    if unknown:
        others = f" (nor {', '.join(unknown[1:])})" if unknown[1:] else ""
        raise PatientFileError(
            table.path,
            1,
            unknown[0],
            None,
            f"is not a column the NONMEM reader reads{others}; it reads {', '.join(NONMEM_READ[:-1])}, SS (empty "
            f"or 0 only) and the columns of covariates= ({', '.join(covariates) or 'none'}): map a covariate in "
            f"covariates=, or, where a column carries no dose and no observation, pass ignore={unknown!r}",
        )
    patients: dict[str, _Patient] = {}
    rows_of: dict[str, list[_Row]] = {}
    last_id = None
    for row in table.rows:  # patients contiguous, times sorted, covariates constant
        p = _patient(patients, table, row)
        if p.pid != last_id and p.pid in rows_of:
            table.fail(
                row, "id", f"patient {p.pid!r} appears again after other patients; keep a patient's rows together"
            )
        last_id = p.pid
        previous = rows_of.setdefault(p.pid, [])
        t = table.number(row, "time", f"time in {time_unit}")
        if previous and t < table.number(previous[-1], "time", time_unit):
            table.fail(row, "time", f"is earlier than row {previous[-1].number}; sort a patient's rows by TIME")
        previous.append(row)
        for written, (name, unit) in covariates.items():
            column = written.lower()
            value = table.number(row, column, f"{name} in {unit}")
            if name not in p.covariates:
                p.add("covariates", lambda: Covariate(value, unit), _Origin(table, row, {"value": column}), key=name)  # noqa: B023
            elif p.covariates[name].value != value:
                first = p.origins["covariates"][name].row.number
                table.fail(row, column, f"differs from row {first}; covariates must be constant within a patient")
    for pid, rows in rows_of.items():
        for row in rows:
            _nonmem_row(table, row, patients[pid], time_unit, amount_unit, dose_compartments, observation_compartments)
        p = patients[pid]  # ADDL may have put doses out of order: sort, keeping the origins aligned
        order = sorted(range(len(p.doses)), key=lambda i: p.doses[i].time)  # noqa: B023
        p.doses = [p.doses[i] for i in order]
        p.origins["doses"] = [p.origins["doses"][i] for i in order]
    if mutations is not None:
        _attach_mutations(patients, mutations, table.path)
    for p in patients.values():
        p.check_doses(allow_above_limit)
    return {pid: p.build() for pid, p in patients.items()}


def _check_ignore(ignore: Iterable[str], read: set[str]) -> set[str]:
    """``ignore=`` of :func:`read_nonmem` as lower-case names; it may not name a column that is
    ``read`` (lower-case: :data:`NONMEM_READ` and the covariates) nor a date column."""
    if isinstance(ignore, str):
        raise TypeError(f"ignore={ignore!r} must be a collection of column names, e.g. [{ignore!r}]")
    ignored = set()
    for name in ignore:
        if not isinstance(name, str):
            raise TypeError(f"ignore: {name!r} is not a column name")
        if name.lower() in read:
            raise ValueError(
                f"ignore: column {name!r} is read by read_nonmem (columns {', '.join(NONMEM_READ)} and covariates=) "
                "and cannot be ignored"
            )
        if name.upper() in NONMEM_DATES:
            raise ValueError(f"ignore: column {name!r} is a NONMEM date, added to TIME, and cannot be ignored")
        ignored.add(name.lower())
    return ignored


def _zero(table: _Table, row: _Row, key: str) -> bool:
    """Whether the cell is empty, '.' or a number equal to 0 (a missing column counts as empty)."""
    return row.cells.get(key, "") in ("", ".") or table.number(row, key, f"{table.name(key)}, or empty") == 0


def _nonmem_row(table, row, p, time_unit, amount_unit, dose_compartments, observation_compartments):
    evid = table.integer(row, "evid", "0 observation, 1 dose, 2 other")
    if evid not in (0, 1, 2):
        table.fail(row, "evid", "is not supported; valid: 0 (observation), 1 (dose), 2 (other, skipped)")
    if not _zero(table, row, "ss"):
        ss = table.integer(row, "ss", "0, as steady state is not supported")
        table.fail(
            row,
            "ss",
            f"SS={ss} (steady state) is not supported: write out the doses that led to the steady state as rows "
            "(one row with ADDL and II from the first dose), or leave SS empty or 0",
        )
    if evid != 1:
        for key in ("amt", "rate", "addl", "ii"):
            if not _zero(table, row, key):
                table.fail(
                    row,
                    key,
                    f"an EVID {evid} row carries no dose, so {table.name(key)} would be dropped: "
                    f"give a dose its own row with EVID 1, or leave {table.name(key)} empty or 0 here",
                )
    if evid == 2:
        return
    time = table.convert(row, "time", time_unit, "time")
    cmt = table.integer(row, "cmt", "compartment number")
    mapping = observation_compartments if evid == 0 else dose_compartments
    if cmt not in mapping:
        arg = "observation_compartments" if evid == 0 else "dose_compartments"
        table.fail(row, "cmt", f"EVID {evid} row in a compartment not in {arg}={dict(mapping)!r}")
    if evid == 0:
        if table.has("mdv") and table.integer(row, "mdv", "0 or 1", default=0) == 1:
            return
        observable, unit = mapping[cmt]
        cens = table.integer(row, "cens", "0, or 1 below the detection limit", default=0) if table.has("cens") else 0
        if cens not in (0, 1):
            table.fail(row, "cens", "is not supported; valid: 0, or 1 (DV is the detection limit)")
        value = table.convert(row, "dv", unit, observable)
        status = "below_detection" if cens else "measured"
        columns = {"time": "time", "value": "dv", "status": "cens", "observable": "cmt"}
        origin = _Origin(table, row, columns, _unit_note(unit, value, observable))
        p.add("observations", lambda: Observation(time, observable, value, OBSERVABLES[observable], status), origin)
        return
    drug, route = mapping[cmt]
    drug = canonical_drug(drug) or drug
    amount = _amount_mg(table, row, "amt", "amt", amount_unit, p)
    rate_text = table.text(row, "rate")
    rate = 0.0 if rate_text in ("", ".") else table.number(row, "rate", "infusion rate in AMT per TIME unit, or 0")
    duration = 0.0
    if rate < 0:
        table.fail(row, "rate", "modelled rates (RATE -1, -2) are not supported; give RATE > 0 (infusion) or 0")
    if rate > 0:
        if route == "oral":
            table.fail(row, "rate", f"RATE > 0 is an infusion but compartment {cmt} is mapped to route 'oral'")
        route = "infusion"
        duration = to_canonical(Fraction(row.cells["amt"]) / Fraction(row.cells["rate"]), time_unit, "time")
    elif route == "infusion":
        route = "iv_bolus"
    addl = table.integer(row, "addl", "additional doses >= 0", default=0) if table.has("addl") else 0
    if addl < 0:
        table.fail(row, "addl", "must be >= 0")
    interval = 0.0
    if not addl and not _zero(table, row, "ii"):
        table.fail(
            row,
            "ii",
            "II (dosing interval) repeats a dose only with ADDL > 0, and SS is not supported: give ADDL, the "
            "number of doses after this one, or leave II empty or 0",
        )
    if addl:
        table.require("ii", f" (ADDL at row {row.number} needs it)", shown="II")
        interval = table.convert(row, "ii", time_unit, "time")
        if interval <= 0:
            table.fail(row, "ii", "must be > 0 where ADDL > 0")
    columns = {"time": "time", "amount": "amt", "drug": "cmt", "route": "cmt", "duration": "rate"}
    for k in range(addl + 1):
        t = time + k * interval
        p.add("doses", lambda: Dose(t, drug, amount, route, duration), _Origin(table, row, columns))  # noqa: B023


def _text(target: float, exact: Fraction, read: Callable[[str], float]) -> str:
    """The shortest decimal text near ``exact`` that ``read`` turns back into ``target`` exactly."""
    if exact == 0:
        return "0"
    for digits in range(1, 41):
        with localcontext(prec=digits):
            d = Decimal(exact.numerator) / Decimal(exact.denominator)
        text = format(d, "f") if -20 < d.adjusted() < 20 else format(d, "e")
        if read(text) == target:
            return text
    return text


def write_nonmem(
    path: PathType,
    records: PatientRecord | Iterable[PatientRecord] | Mapping[str, PatientRecord],
    *,
    time_unit: str,
    amount_unit: str,
    dose_compartments: Mapping[int, tuple[str, str]],
    observation_compartments: Mapping[int, tuple[str, str]],
    covariates: Mapping[str, tuple[str, str]] | None = None,
) -> None:
    """Write records as a NONMEM-style CSV; the arguments are those of :func:`read_nonmem`, so
    reading the file back with them gives the records again (not-evaluable rows aside: they are
    written with MDV 1). Below-detection rows need their detection limit. Mutations go to
    :func:`write_mutations`."""
    _check_time_unit(time_unit)
    _check_mappings(dose_compartments, observation_compartments, covariates, amount_unit)
    dose_cmt: dict[tuple[str, str], int] = {}
    for cmt, (drug, route) in dose_compartments.items():
        for r in ("oral",) if route == "oral" else ("iv_bolus", "infusion"):
            dose_cmt.setdefault((drug, r), cmt)
    obs_cmt = {spec[0]: (cmt, spec[1]) for cmt, spec in observation_compartments.items()}
    covariates = dict(covariates or {})
    records = _records(records)
    infusions = any(d.route == "infusion" for r in records for d in r.doses)
    censoring = any(o.status == "below_detection" for r in records for o in r.observations)
    header = [*NONMEM_COLUMNS, *(["RATE"] if infusions else []), *(["CENS"] if censoring else []), *covariates]

    def time_text(t: float) -> str:
        factor = unit_factor(time_unit, "time")
        return _text(t, Fraction(t) / factor, lambda x: to_canonical(x, time_unit, "time"))

    rows = []
    for r in records:
        cov_cells = []
        for column, (name, unit) in covariates.items():
            c = r.covariates.get(name)
            if c is None or isinstance(c.value, str) or c.unit != unit:
                raise ValueError(f"patient {r.patient_id!r}: covariate {name!r} in {unit!r} for column {column!r}: {c}")
            cov_cells.append(repr(c.value))
        weight = r.covariates.get("body_weight")
        if amount_unit == PER_KG and weight is None:
            raise ValueError(f"patient {r.patient_id!r}: amount_unit {PER_KG!r} needs a body_weight covariate")
        for e in _timeline(r):
            if isinstance(e, Observation):
                if e.observable not in obs_cmt:
                    raise ValueError(
                        f"patient {r.patient_id!r}: no compartment for observable {e.observable!r} "
                        f"in observation_compartments={dict(observation_compartments)!r}"
                    )
                cmt, unit = obs_cmt[e.observable]
                if e.status == "below_detection" and e.value is None:
                    raise ValueError(
                        f"patient {r.patient_id!r}: {e.observable} at day {e.time!r} is below detection with "
                        "no limit; NONMEM files need the limit in DV (CENS 1)"
                    )
                dv = "."
                if e.value is not None:
                    dv = _text(
                        e.value,
                        Fraction(e.value) / unit_factor(unit, e.observable),
                        lambda x, o=e.observable, u=unit: to_canonical(x, u, o),
                    )
                mdv = "1" if e.status == "not_evaluable" else "0"
                cells = [r.patient_id, time_text(e.time), dv, ".", "0", str(cmt), mdv]
                cells += ["."] if infusions else []
                cells += ["1" if e.status == "below_detection" else "0"] if censoring else []
            else:
                if (e.drug, e.route) not in dose_cmt:
                    raise ValueError(
                        f"patient {r.patient_id!r}: no compartment for {e.drug} by {e.route} "
                        f"in dose_compartments={dict(dose_compartments)!r}"
                    )
                if amount_unit == PER_KG:
                    w = Fraction(weight.value)
                    amt = _text(e.amount, Fraction(e.amount) / w, lambda x, w=w: float(Fraction(x) * w))
                else:
                    factor = unit_factor(amount_unit, "amount")
                    amt = _text(e.amount, Fraction(e.amount) / factor, lambda x: to_canonical(x, amount_unit, "amount"))
                cells = [r.patient_id, time_text(e.time), ".", amt, "1", str(dose_cmt[(e.drug, e.route)]), "1"]
                if infusions:
                    rate = "."
                    if e.route == "infusion":
                        a = Fraction(amt)
                        rate = _text(
                            e.duration,
                            a / (Fraction(e.duration) / unit_factor(time_unit, "time")),
                            lambda x, a=a: to_canonical(a / Fraction(x), time_unit, "time"),
                        )
                    cells.append(rate)
                cells += ["0"] if censoring else []
            rows.append(cells + cov_cells)
    _write(path, header, rows)


# ----------------------------------------------------------------------------------------------
# One patient, any format


def read_patient(
    path: PathType, id: str | None = None, *, mutations: PathType | None = None, **options
) -> PatientRecord:
    """Read one patient from a long CSV or (where the header has EVID) a NONMEM-style CSV.

    ``id`` chooses the patient; it may be left out only where the file has one. ``options``
    go to :func:`read_long_csv` or :func:`read_nonmem` (which needs its unit and compartment
    arguments).
    """
    nonmem = _Table(path).has("evid")  # header only matters; files are small
    read = read_nonmem if nonmem else read_long_csv
    records = read(path, mutations=mutations, **options)
    if id is None:
        if len(records) != 1:
            raise PatientFileError(
                path, 1, "id", None, f"the file has {len(records)} patients ({', '.join(records)}); choose one with id="
            )
        return next(iter(records.values()))
    if id not in records:
        raise PatientFileError(path, 1, "id", id, f"no such patient; the file has: {', '.join(records)}")
    return records[id]
