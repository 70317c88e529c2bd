"""What is known about one patient: observations, doses given, covariates and mutations.

A :class:`PatientRecord` holds everything in canonical units, so code downstream never
converts: time in days (day 0 = start of treatment; scans before it have negative times),
doses in mg, observables in the units of :data:`OBSERVABLES` (the units of
``mechanistic.simulate``), covariates in the units of :data:`COVARIATE_UNITS`. Files in
other units are converted on reading by :mod:`twin.io`.

Censoring: an :class:`Observation` has a ``status``: ``"measured"``; ``"below_detection"``
(clinical "TOO SMALL TO MEASURE", left-censored; ``value`` is the detection limit where the
report gives it, else None); ``"not_evaluable"`` (clinical "NOT EVALUABLE", missing;
``value`` None).

Every row validates itself and the record checks the rows together (times sorted, no
duplicates); errors are :class:`PatientRecordError` naming the field, row, attribute and bad
value. Importing this module does not import JAX; the conversions to ``mechanistic`` and
``inference`` objects import them when called.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from mechanistic import units
from twin.variants import normalise_gene, normalise_variant

if TYPE_CHECKING:
    from inference.observations import Observations
    from mechanistic.dosing import DoseTable
    from mechanistic.mutations import Mutation

OBSERVABLES: Mapping[str, str] = {
    "diameter": "mm",  # longest diameter, or sum of longest diameters (RECIST)
    "volume": "mm^3",  # tumour volume
    "concentration": "mg/L",  # plasma drug concentration
    "resistant_fraction": "1",  # resistant fraction of the burden (e.g. ctDNA allele fraction)
    "psa": "ng/mL",  # serum prostate-specific antigen
}
"""Observable name -> the unit a record holds it in."""

ROUTES: tuple[str, ...] = ("iv_bolus", "infusion", "oral")
"""Dose routes (the same as ``mechanistic.ROUTES``)."""

_ROUTE_SPELLINGS: Mapping[str, str] = {
    **{s: "oral" for s in ("oral", "po", "p.o.", "by mouth", "per os", "orally", "os")},
    **{s: "iv_bolus" for s in ("iv_bolus", "iv bolus", "bolus", "i.v. bolus", "iv push")},
    **{s: "infusion" for s in ("infusion", "iv infusion", "i.v. infusion", "ivi")},
}
_IV = ("iv", "i.v.", "intravenous", "intravenously")
ROUTE_SPELLINGS: str = (
    "oral (po, PO, by mouth, per os), iv_bolus (iv bolus, bolus), infusion (iv infusion), "
    "or iv / intravenous (a bolus, or an infusion where a duration > 0 is given)"
)
"""The route spellings :func:`normalise_route` accepts, as text for error messages."""


def normalise_route(text: str, duration: float = 0.0) -> str:
    """The route (one of :data:`ROUTES`) that ``text`` spells, case-insensitively; ``iv`` is an
    infusion where ``duration`` (day) > 0, else a bolus. Raises ``ValueError`` listing the
    accepted spellings."""
    key = " ".join(str(text).lower().replace("_", " ").split()) if isinstance(text, str) else text
    if key in _IV:
        return "infusion" if isinstance(duration, numbers.Real) and duration > 0 else "iv_bolus"
    route = _ROUTE_SPELLINGS.get(key) or _ROUTE_SPELLINGS.get(str(text).strip().lower())
    if route is None:
        raise ValueError(f"is not a route; accepted: {ROUTE_SPELLINGS}")
    return route


STATUSES: tuple[str, ...] = ("measured", "below_detection", "not_evaluable")
"""Observation statuses: a number, left-censored below a detection limit, missing."""

COVARIATE_UNITS: Mapping[str, str] = {"body_weight": "kg", "age": "year", "height": "cm"}
"""Covariates with a known unit (others may have any unit, or none for categories)."""

# Unit spellings accepted in patient files, per quantity (the first is the canonical unit); their
# exact factors are mechanistic.units's.
_SPELLINGS: dict[str, tuple[str, ...]] = {
    "time": ("day", "days", "d", "week", "weeks", "h", "hour", "hours"),
    "length": ("mm", "cm"),
    "tumour_volume": ("mm^3", "mm3", "cm^3", "cm3", "mL"),
    "concentration": ("mg/L", "ug/mL", "ng/mL"),
    "fraction": ("1", "fraction", "%"),
    "marker_concentration": ("ng/mL", "ug/L", "ng/L"),
    "amount": ("mg", "g", "ug"),
}
_QUANTITY = {
    "diameter": "length",
    "volume": "tumour_volume",
    "concentration": "concentration",
    "resistant_fraction": "fraction",
    "psa": "marker_concentration",
}


def units_of(quantity: str) -> tuple[str, ...]:
    """The unit spellings accepted for ``quantity`` ("time", "amount" or an observable name)."""
    return _SPELLINGS[_QUANTITY.get(quantity, quantity)]


def unit_factor(unit: str, quantity: str) -> Fraction:
    """The exact factor from ``unit`` to the canonical unit of ``quantity`` ("time", "amount" or
    an observable name). Raises ``KeyError`` for a unit not in :func:`units_of`."""
    dimension = _QUANTITY.get(quantity, quantity)
    if unit not in _SPELLINGS[dimension]:
        raise KeyError(f"{unit!r} is not an accepted unit of {quantity}; accepted: {_SPELLINGS[dimension]}")
    return units.factor(unit, dimension)


def to_canonical(value: float | str | Fraction, unit: str, quantity: str) -> float:
    """``value`` (a number or its text) in ``unit``, in the canonical unit of ``quantity``,
    computed exactly and rounded once (so ``from_canonical`` texts read back bit for bit)."""
    return float(Fraction(value) * unit_factor(unit, quantity))


def from_canonical(value: float | Fraction, unit: str, quantity: str) -> float:
    """The inverse of :func:`to_canonical` (rounded once)."""
    return float(Fraction(value) / unit_factor(unit, quantity))


class PatientRecordError(ValueError):
    """A record or one of its rows is invalid.

    ``field``: "observations", "doses", "covariates" or "mutations"; ``index``: the row (its
    position, or the covariate name; None while the row is built on its own); ``attribute``:
    the offending attribute; ``value``: its value; ``problem``: what is wrong and what is valid;
    ``other``: the earlier row a duplicate or out-of-order row clashes with."""

    def __init__(self, field, index, attribute, value, problem, *, other=None, patient=None):
        self.field, self.index, self.attribute, self.value = field, index, attribute, value
        self.problem, self.other, self.patient = problem, other, patient
        where = f"{field}[{index!r}]" if index is not None else field
        who = f"patient {patient!r}: " if patient is not None else ""
        see = f" (see {field}[{other!r}])" if other is not None else ""
        super().__init__(f"{who}{where}.{attribute}={value!r}: {problem}{see}")


def _number(owner: str, attribute: str, value) -> float:
    """``value`` as a finite built-in float, or a PatientRecordError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PatientRecordError(owner, None, attribute, value, "is not a number")
    value = float(value)
    if not math.isfinite(value):
        raise PatientRecordError(owner, None, attribute, value, "must be finite")
    return value


def _name(owner: str, attribute: str, value, what: str) -> str:
    if not (isinstance(value, str) and value.strip()):
        raise PatientRecordError(owner, None, attribute, value, f"must be a non-empty name ({what})")
    return value


@dataclass(frozen=True)
class Observation:
    """One measurement: ``time`` (day), ``observable`` (a key of :data:`OBSERVABLES`),
    ``value`` (in ``unit``, which must be the observable's unit in :data:`OBSERVABLES`),
    ``status`` (one of :data:`STATUSES`; see the module docstring for ``value`` then)."""

    time: float
    observable: str
    value: float | None
    unit: str
    status: str = "measured"

    def __post_init__(self):
        f = "observations"
        object.__setattr__(self, "time", _number(f, "time", self.time))
        if self.observable not in OBSERVABLES:
            raise PatientRecordError(f, None, "observable", self.observable, f"is not one of {tuple(OBSERVABLES)}")
        unit = OBSERVABLES[self.observable]
        if self.unit != unit:
            raise PatientRecordError(
                f,
                None,
                "unit",
                self.unit,
                f"a record holds {self.observable} in {unit!r}; convert on reading (twin.io does)",
            )
        if self.status not in STATUSES:
            raise PatientRecordError(f, None, "status", self.status, f"is not one of {STATUSES}")
        if self.status == "not_evaluable":
            if self.value is not None:
                raise PatientRecordError(f, None, "value", self.value, "must be None when not evaluable")
            return
        if self.value is None:
            if self.status == "measured":
                raise PatientRecordError(f, None, "value", None, "a measured observation needs a value")
            return
        value = _number(f, "value", self.value)
        upper = 1.0 if self.observable == "resistant_fraction" else math.inf
        if not 0 <= value <= upper or (self.status == "below_detection" and value == 0):
            valid = "in [0, 1]" if upper == 1.0 else ">= 0"
            if self.status == "below_detection":
                valid = "a detection limit > 0" + (" and <= 1" if upper == 1.0 else "")
            raise PatientRecordError(f, None, "value", self.value, f"must be {valid} ({self.observable} in {unit!r})")
        object.__setattr__(self, "value", value)


@dataclass(frozen=True)
class Dose:
    """One dose given: ``time`` (day, >= 0), ``drug``, ``amount`` (mg, > 0: a held dose is an
    absent row), ``route`` (one of :data:`ROUTES`, or a spelling :func:`normalise_route` reads:
    ``po``, ``by mouth``, ``iv``), ``duration`` (day; > 0 for an infusion, 0 otherwise)."""

    time: float
    drug: str
    amount: float
    route: str = "oral"
    duration: float = 0.0

    def __post_init__(self):
        f = "doses"
        time = _number(f, "time", self.time)
        if time < 0:
            raise PatientRecordError(f, None, "time", self.time, "must be >= 0 (day 0 is the start of treatment)")
        object.__setattr__(self, "time", time)
        _name(f, "drug", self.drug, "a dose needs the drug given")
        amount = _number(f, "amount", self.amount)
        if amount < 0:
            raise PatientRecordError(f, None, "amount", self.amount, "must be > 0 (mg)")
        if amount == 0:
            raise PatientRecordError(
                f, None, "amount", self.amount, "a held dose is an absent row; give the amount taken (mg > 0)"
            )
        object.__setattr__(self, "amount", amount)
        duration = _number(f, "duration", self.duration)
        try:
            object.__setattr__(self, "route", normalise_route(self.route, duration))
        except ValueError as e:
            raise PatientRecordError(f, None, "route", self.route, f"{e} (canonical: {ROUTES})") from None
        if self.route == "infusion" and not duration > 0:
            raise PatientRecordError(f, None, "duration", self.duration, "an infusion needs a duration > 0 (day)")
        if self.route != "infusion" and duration != 0:
            raise PatientRecordError(f, None, "duration", self.duration, f"must be 0 for route {self.route!r}")
        object.__setattr__(self, "duration", duration)


@dataclass(frozen=True)
class Covariate:
    """A covariate value: a number with its ``unit`` ("1" if dimensionless), or a category
    (text, ``unit`` "")."""

    value: float | str
    unit: str = ""

    def __post_init__(self):
        f = "covariates"
        if not isinstance(self.unit, str):
            raise PatientRecordError(f, None, "unit", self.unit, "must be a string")
        if isinstance(self.value, str):
            if not self.value.strip():
                raise PatientRecordError(f, None, "value", self.value, "must be a number or a non-empty category")
            if self.unit:
                raise PatientRecordError(f, None, "unit", self.unit, "a category has no unit (use '')")
            try:
                float(self.value)
            except ValueError:
                return
            raise PatientRecordError(f, None, "value", self.value, "reads as a number: give it as a number")
        object.__setattr__(self, "value", _number(f, "value", self.value))


@dataclass(frozen=True)
class VariantCall:
    """A sequenced variant: ``gene`` (upper-cased), ``variant`` (its canonical name, e.g. "L858R",
    "ex19del", "T790M", "amplification": :func:`twin.variants.normalise_variant` reads p.L858R,
    p.Leu858Arg, E746_A750del, "exon 19 deletion", "MET amp" ...), ``vaf`` variant allele fraction
    in [0, 1] (0: tested and not detected), ``reported`` the variant as the laboratory wrote it
    (default: ``variant`` as given; not part of equality)."""

    gene: str
    variant: str
    vaf: float
    reported: str | None = field(default=None, compare=False)

    def __post_init__(self):
        f = "mutations"
        _name(f, "gene", self.gene, "e.g. 'EGFR'")
        _name(f, "variant", self.variant, "e.g. 'T790M'")
        gene = normalise_gene(self.gene)
        try:
            variant = normalise_variant(gene, self.variant)
        except ValueError as e:
            raise PatientRecordError(f, None, "variant", self.variant, str(e)) from None
        if self.reported is None:
            object.__setattr__(self, "reported", str(self.variant).strip())
        object.__setattr__(self, "gene", gene)
        object.__setattr__(self, "variant", variant)
        vaf = _number(f, "vaf", self.vaf)
        if not 0 <= vaf <= 1:
            raise PatientRecordError(f, None, "vaf", self.vaf, "must be a fraction in [0, 1] (35% is 0.35)")
        object.__setattr__(self, "vaf", vaf)

    def to_mutation(self) -> Mutation:
        """As a ``mechanistic.Mutation`` (needs ``vaf > 0``)."""
        from mechanistic.mutations import Mutation

        return Mutation(self.gene, self.variant, self.vaf)


def _check_known_covariate(name: str, cov: Covariate) -> None:
    unit = COVARIATE_UNITS.get(name)
    if unit is None:
        return
    if cov.unit != unit:
        raise PatientRecordError("covariates", name, "unit", cov.unit, f"{name} is held in {unit!r}")
    if isinstance(cov.value, str) or cov.value < 0 or (cov.value == 0 and name != "age"):
        raise PatientRecordError("covariates", name, "value", cov.value, f"{name} must be a number > 0 ({unit})")


def _first_clash(keys: list, field_name: str, attribute: str, values: list, what: str) -> None:
    """Raise on the first row whose key equals an earlier row's key."""
    seen: dict = {}
    for i, key in enumerate(keys):
        if key in seen:
            raise PatientRecordError(field_name, i, attribute, values[i], f"duplicates {what}", other=seen[key])
        seen[key] = i


def _time(row) -> float:
    return row.time


def _first_unsorted(times: list[float], field_name: str) -> None:
    for i in range(1, len(times)):
        if times[i] < times[i - 1]:
            raise PatientRecordError(
                field_name,
                i,
                "time",
                times[i],
                f"is earlier than the previous row's time {times[i - 1]!r} (day); sort the rows by time",
                other=i - 1,
            )


@dataclass(frozen=True)
class PatientRecord:
    """One patient: ``observations`` and ``doses`` (tuples sorted by time, no duplicates),
    ``covariates`` (name -> :class:`Covariate`), ``mutations`` (tuple of :class:`VariantCall`).

    Lists are accepted and stored as tuples; covariates may be given as ``(value, unit)``
    pairs and mutations as ``mechanistic.Mutation``.
    """

    patient_id: str
    observations: tuple[Observation, ...] = ()
    doses: tuple[Dose, ...] = ()
    covariates: Mapping[str, Covariate] = field(default_factory=dict, hash=False)
    mutations: tuple[VariantCall, ...] = ()

    def __post_init__(self):
        pid = self.patient_id
        if not (isinstance(pid, str) and pid.strip()):
            raise PatientRecordError("patient_id", None, "patient_id", pid, "must be a non-empty string")
        try:
            self._normalise_and_check()
        except PatientRecordError as e:
            if e.patient is None:
                raise PatientRecordError(
                    e.field, e.index, e.attribute, e.value, e.problem, other=e.other, patient=pid
                ) from None
            raise

    def _normalise_and_check(self) -> None:
        for name, cls in (("observations", Observation), ("doses", Dose)):
            rows = tuple(getattr(self, name))
            for i, row in enumerate(rows):
                if not isinstance(row, cls):
                    raise PatientRecordError(name, i, "type", type(row).__name__, f"must be a {cls.__name__}")
            object.__setattr__(self, name, rows)
        calls = []
        for i, m in enumerate(self.mutations):
            if not isinstance(m, VariantCall):
                try:
                    m = VariantCall(m.gene, m.variant, m.vaf, getattr(m, "reported", None))
                except AttributeError:
                    raise PatientRecordError(
                        "mutations", i, "type", type(m).__name__, "must be a VariantCall (gene, variant, vaf)"
                    ) from None
            calls.append(m)
        object.__setattr__(self, "mutations", tuple(calls))
        covariates = {}
        for name, cov in dict(self.covariates).items():
            if not (isinstance(name, str) and name.strip()):
                raise PatientRecordError("covariates", name, "name", name, "must be a non-empty string")
            if not isinstance(cov, Covariate):
                try:
                    cov = Covariate(*cov) if isinstance(cov, tuple) else Covariate(cov)
                except PatientRecordError as e:
                    raise PatientRecordError("covariates", name, e.attribute, e.value, e.problem) from None
            _check_known_covariate(name, cov)
            covariates[name] = cov
        object.__setattr__(self, "covariates", covariates)

        obs, doses = self.observations, self.doses
        _first_unsorted([o.time for o in obs], "observations")
        _first_clash(
            [(o.time, o.observable) for o in obs],
            "observations",
            "time",
            [o.time for o in obs],
            "an observation of the same observable at the same time",
        )
        _first_unsorted([d.time for d in doses], "doses")
        _first_clash(
            [(d.time, d.drug, d.route) for d in doses],
            "doses",
            "time",
            [d.time for d in doses],
            "a dose of the same drug by the same route at the same time",
        )
        seen: dict = {}
        for i, m in enumerate(self.mutations):
            key = (m.gene, m.variant)
            if key in seen:
                same = self.mutations[seen[key]]
                also = f" (both are {m.gene} {m.variant})" if (same.reported, m.reported) != (m.variant,) * 2 else ""
                raise PatientRecordError(
                    "mutations", i, "variant", m.reported, f"duplicates a call of the same gene and variant{also}",
                    other=seen[key],
                )  # fmt: skip
            seen[key] = i

    @property
    def observables(self) -> tuple[str, ...]:
        """Observables present, in first-seen order."""
        return tuple(dict.fromkeys(o.observable for o in self.observations))

    @property
    def drugs(self) -> tuple[str, ...]:
        """Drugs given, in first-seen order."""
        return tuple(dict.fromkeys(d.drug for d in self.doses))

    def to_observations(
        self,
        *,
        observables: Iterable[str] | None = None,
        detection_limit: Mapping[str, float] | None = None,
        units: Mapping[str, str] | None = None,
    ) -> Observations:
        """The observations as ``inference.Observations`` (for calibration).

        ``observables``: which to keep (default all present). ``units``: observable -> unit to
        express values in (default the record's units, :data:`OBSERVABLES`). Rows below
        detection are censored at ``detection_limit[observable]`` (in the output unit) where
        given, else at the row's own limit; rows not evaluable are dropped and counted in
        ``n_missing``.
        """
        import numpy as np

        from inference.observations import Observations

        keep = tuple(self.observables if observables is None else observables)
        for name in keep:
            if name not in OBSERVABLES:
                raise ValueError(f"patient {self.patient_id!r}: observables has {name!r}; known: {tuple(OBSERVABLES)}")
        units = dict(units or {})
        for name, unit in units.items():
            if name not in OBSERVABLES or unit not in units_of(name):
                valid = units_of(name) if name in OBSERVABLES else tuple(OBSERVABLES)
                raise ValueError(f"patient {self.patient_id!r}: units[{name!r}]={unit!r} is not valid; use {valid}")
        out_unit = {name: units.get(name, OBSERVABLES[name]) for name in keep}
        limits = dict(detection_limit or {})
        times, values, names, censored, missing = [], [], [], [], 0
        for i, o in enumerate(self.observations):
            if o.observable not in out_unit:
                continue
            if o.status == "not_evaluable":
                missing += 1
                continue
            if o.status == "below_detection" and o.observable in limits:
                value = float(limits[o.observable])
            elif o.value is None:
                raise ValueError(
                    f"patient {self.patient_id!r}: observations[{i}] ({o.observable} at day {o.time!r}) is below "
                    f"detection with no limit given; pass detection_limit={{{o.observable!r}: ...}}"
                )
            else:
                value = from_canonical(o.value, out_unit[o.observable], o.observable)
            times.append(o.time)
            values.append(value)
            names.append(o.observable)
            censored.append(o.status == "below_detection")
        if not times:
            raise ValueError(f"patient {self.patient_id!r}: no evaluable observations of {keep} ({missing} missing)")
        if all(censored):
            raise ValueError(f"patient {self.patient_id!r}: every observation is below detection; nothing to fit")
        return Observations(
            self.patient_id,
            np.asarray(times, dtype=float),
            np.asarray(values, dtype=float),
            tuple(names),
            np.asarray(censored, dtype=bool),
            out_unit,
            missing,
        )

    def to_dose_table(self) -> DoseTable:
        """The doses given as a ``mechanistic.DoseTable`` (bioavailability 1 and no lag: those
        belong to the PK model)."""
        import jax.numpy as jnp

        from mechanistic.dosing import ROUTES as MECHANISTIC_ROUTES
        from mechanistic.dosing import DoseTable

        if not self.doses:
            raise ValueError(f"patient {self.patient_id!r} has no doses")
        drugs = self.drugs
        n = len(self.doses)
        return DoseTable(
            time=jnp.asarray([d.time for d in self.doses], dtype=float),
            amount=jnp.asarray([d.amount for d in self.doses], dtype=float),
            drug=jnp.asarray([drugs.index(d.drug) for d in self.doses], dtype=int),
            route=jnp.asarray([MECHANISTIC_ROUTES.index(d.route) for d in self.doses], dtype=int),
            duration=jnp.asarray([d.duration for d in self.doses], dtype=float),
            bioavailability=jnp.ones((n,), dtype=float),
            lag=jnp.zeros((n,), dtype=float),
            drugs=drugs,
        )

    def observations_frame(self):
        """The observations as a ``pandas.DataFrame``: ``time`` (day), ``observable``, ``value`` (the
        record's unit; the detection limit where censored, NaN where not evaluable), ``unit``,
        ``censored`` (bool)."""
        import pandas as pd

        rows = [
            (o.time, o.observable, math.nan if o.value is None else o.value, o.unit, o.status == "below_detection")
            for o in self.observations
        ]
        return pd.DataFrame(rows, columns=["time", "observable", "value", "unit", "censored"])

    def to_dict(self) -> dict:
        """Plain JSON-able data (floats round-trip exactly through ``json``)."""
        return {
            "patient_id": self.patient_id,
            "observations": [vars(o).copy() for o in self.observations],
            "doses": [vars(d).copy() for d in self.doses],
            "covariates": {k: vars(c).copy() for k, c in self.covariates.items()},
            "mutations": [vars(m).copy() for m in self.mutations],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> PatientRecord:
        """The inverse of :meth:`to_dict` (validated like any record)."""
        return cls(
            data["patient_id"],
            [Observation(**o) for o in data["observations"]],
            [Dose(**d) for d in data["doses"]],
            {k: Covariate(**c) for k, c in data["covariates"].items()},
            [VariantCall(**m) for m in data["mutations"]],
        )

    def merge(self, new: PatientRecord) -> PatientRecord:
        """This record with ``new``'s rows added (e.g. the next scan). Rows present in both must
        be identical; ``new`` must be the same patient. Covariates and mutations of ``new``
        replace those of the same name (a later report supersedes)."""
        if new.patient_id != self.patient_id:
            raise PatientRecordError(
                "patient_id", None, "patient_id", new.patient_id, f"the new record is not patient {self.patient_id!r}"
            )
        old_obs = {(o.time, o.observable): o for o in self.observations}
        old_doses = {(d.time, d.drug, d.route): d for d in self.doses}
        for i, o in enumerate(new.observations):
            same = old_obs.get((o.time, o.observable))
            if same is not None and same != o:
                problem = (
                    f"contradicts the record's {same.observable} at day {o.time:g} ({same.value!r}, {same.status})"
                )
                raise PatientRecordError("observations", i, "value", o.value, problem, patient=self.patient_id)
        for i, d in enumerate(new.doses):
            same = old_doses.get((d.time, d.drug, d.route))
            if same is not None and same != d:
                problem = f"contradicts the record's {d.drug} dose at day {d.time:g} ({same.amount!r} mg)"
                raise PatientRecordError("doses", i, "amount", d.amount, problem, patient=self.patient_id)
        obs = sorted({**old_obs, **{(o.time, o.observable): o for o in new.observations}}.values(), key=_time)
        doses = sorted({**old_doses, **{(d.time, d.drug, d.route): d for d in new.doses}}.values(), key=_time)
        calls = {(m.gene, m.variant): m for m in (*self.mutations, *new.mutations)}
        return PatientRecord(self.patient_id, obs, doses, {**self.covariates, **new.covariates}, list(calls.values()))

    def to_mutations(self, *, min_vaf: float = 0.0) -> tuple[Mutation, ...]:
        """The variants detected (``vaf > min_vaf``) as ``mechanistic.Mutation`` objects."""
        return tuple(m.to_mutation() for m in self.mutations if m.vaf > min_vaf)
