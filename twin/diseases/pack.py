"""A disease pack: everything disease-specific that a :class:`twin.DigitalTwin` needs.

The twin's machinery (calibration, the model check, what-ifs, the living update, save/load, the
report and the CLI) is the same for every disease; a pack supplies the rest:

- the personalised model family: :meth:`DiseasePack.model_for` builds it from a patient's record
  (e.g. clones from the tumour's mutations) and :meth:`DiseasePack.model_from_json` reads it back
  from a saved twin. Besides :class:`mechanistic.ModelFamily`, the twin needs of it: ``spec()``
  (``inference.ParameterSpec``: priors with sources and fixed values), ``errors(observables)``
  (residual error models), ``priors`` and ``fixed`` (names), ``units()``, ``drugs``,
  ``with_drugs(drugs)``, ``solve_inputs`` / ``solve`` (doses as data) and ``to_json()``;
- what is fitted and how the disease is followed: :attr:`~DiseasePack.fit_observables`,
  :attr:`~DiseasePack.scan_every` (day), the ranking endpoint :attr:`~DiseasePack.primary`;
- the regimen vocabulary: :meth:`~DiseasePack.standard_regimens`, :meth:`~DiseasePack.parse_regimen`
  and the drugs' label doses (:meth:`~DiseasePack.label_daily_mg`, :meth:`~DiseasePack.above_label`);
- the disease's reading of the record itself (:meth:`~DiseasePack.record_response`: has the
  patient already progressed, by the disease's own criteria?), extra model checks, the model's
  assumptions in words for the report (:meth:`~DiseasePack.model_notes`), an optional drug screen,
  and a shipped example patient.

A saved twin stores its pack's :attr:`~DiseasePack.name` and :attr:`~DiseasePack.version`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class RecordResponse(NamedTuple):
    """The disease's response criteria read from the record itself. ``scans``: DataFrame of the
    assessments (``time``, the measured value, ``category``); ``progressed_on``: the day of the
    first progression or None; ``progressed_now``: the last assessment is a progression;
    ``text``: one sentence; ``observed_burden``: the last assessment's tumour burden (mm^3) where
    the pack can read one (what-ifs then start from it when the record shows progression), else None."""

    scans: object
    progressed_on: float | None
    progressed_now: bool
    text: str
    observed_burden: float | None = None


class DiseasePack(abc.ABC):
    """What a twin needs to know about one disease (see the module docstring)."""

    name: str
    """Identifier saved with a twin (e.g. ``"egfr_nsclc"``)."""
    version: str
    """Changes when the pack's models, priors or regimens change (a saved twin records it)."""
    title: str
    """The disease in words, for reports."""
    fit_observables: tuple[str, ...]
    """The record's observables the twin fits, in order."""
    primary: str
    """The ranking endpoint of what-ifs (a name in ``scenarios.ENDPOINTS``)."""
    scan_every: int
    """Days between the assessments that decide adaptive regimens and switches."""
    response_criteria: str
    """The name of the response criteria :meth:`record_response` applies (e.g. ``"RECIST"``)."""
    target_accept: float = 0.95
    """NUTS target acceptance of a new twin's calibration: the value at which the pack's default
    calibration passes its diagnostics on synthetic patients (``benchmarks/nuts_replicates.py``)."""

    @abc.abstractmethod
    def model_for(self, record) -> object:
        """The personalised model family of ``record`` (a ``twin.PatientRecord``)."""

    @abc.abstractmethod
    def model_from_json(self, text: str) -> object:
        """The model that ``model.to_json()`` wrote."""

    @abc.abstractmethod
    def standard_regimens(self, days: int) -> list:
        """The pack's standard regimens over ``days`` days (``scenarios.Regimen``)."""

    @abc.abstractmethod
    def parse_regimen(self, text: str, days: int, *, allow_above_limit: bool = False):
        """A regimen from the pack's one-line syntax; an error quoting ``text`` otherwise."""

    @abc.abstractmethod
    def record_response(self, record) -> RecordResponse:
        """The disease's response criteria applied to the record's own measurements."""

    def label_daily_mg(self, drugs: Sequence[str]) -> dict[str, float]:
        """Label dose per day (mg) of those ``drugs`` that have one (for the exposure column; the
        shared table :data:`twin.dose_limits.DOSE_LIMITS`)."""
        from twin.dose_limits import DOSE_LIMITS

        return {d: DOSE_LIMITS[d].label_per_day_mg for d in drugs if d in DOSE_LIMITS}

    def above_label(self, regimen) -> list[str]:
        """What in ``regimen`` exceeds a label dose, in words (empty when nothing does;
        :func:`twin.diseases.regimen_syntax.above_label`)."""
        from twin.diseases.regimen_syntax import above_label

        return above_label(regimen)

    def model_problems(self, record, posterior, model) -> list[str]:
        """Disease-specific reasons the calibrated model may not explain ``record`` (e.g. a
        lesion near the model's carrying capacity); empty by default."""
        return []

    def model_notes(self, model) -> list[str]:
        """What a reader of a forecast must know about ``model`` and the ranking endpoint, in
        sentences (the report's notes); empty by default."""
        return []

    def screen(self, twin, *, pairs: bool = True):
        """An in-silico drug screen on ``twin`` (an ``xarray.Dataset``, ``scenarios.screen_model``'s
        layout), or None where the pack has none (the default)."""
        return None

    def example_files(self) -> dict:
        """Paths of the shipped example patient's files: ``record``, optionally ``mutations`` and
        ``next_scan`` (what ``twin demo`` reads)."""
        raise NotImplementedError(f"the {self.name!r} pack ships no example patient")

    def example_patient(self, part: str = "record"):
        """The pack's shipped synthetic example patient (``twin.PatientRecord``)."""
        raise NotImplementedError(f"the {self.name!r} pack ships no example patient")


def sphere_volume(diameter_mm: float) -> float:
    """Volume (mm^3) of a sphere of ``diameter_mm``: a lesion's burden from its longest diameter."""
    return float(np.pi * diameter_mm**3 / 6.0)
