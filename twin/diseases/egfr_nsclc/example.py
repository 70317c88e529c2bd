"""The shipped example patient (``examples/`` beside this module; ``examples/generate_example.py`` made it)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from twin.record import PatientRecord

EXAMPLE_ID = "EX-001"


def example_files() -> dict[str, Path]:
    """Paths of the example's files: ``record`` (long CSV), ``mutations`` and ``next_scan``."""
    root = Path(str(files("twin.diseases.egfr_nsclc") / "examples"))
    return {
        "record": root / "egfr_patient.csv",
        "mutations": root / "egfr_mutations.csv",
        "next_scan": root / "egfr_next_scan.csv",
    }


def example_patient(part: str = "record") -> PatientRecord:
    """The example EGFR-mutant patient EX-001 up to the decision day (``part="record"``) or their
    next scan (``part="next_scan"``), synthetic from the twin's own model."""
    from twin.io import read_patient

    paths = example_files()
    if part == "record":
        return read_patient(paths["record"], mutations=paths["mutations"])
    if part == "next_scan":
        return read_patient(paths["next_scan"])
    raise ValueError(f"part={part!r} must be 'record' or 'next_scan'")
