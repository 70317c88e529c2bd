"""The shipped example patient (``examples/`` beside this module; ``examples/generate_example.py`` made
it from the pack's own model and prints its truth)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from twin.record import PatientRecord

EXAMPLE_ID = "PC-001"


def example_files() -> dict[str, Path]:
    """Paths of the example's files: ``record`` (long CSV) and ``next_scan`` (the next PSA check)."""
    root = Path(str(files("twin.diseases.prostate") / "examples"))
    return {"record": root / "prostate_patient.csv", "next_scan": root / "prostate_next_psa.csv"}


def example_patient(part: str = "record") -> PatientRecord:
    """The example patient PC-001 up to the decision day (``part="record"``) or their next PSA check
    (``part="next_scan"``), synthetic from the pack's model."""
    from twin.io import read_patient

    paths = example_files()
    if part in ("record", "next_scan"):
        return read_patient(paths[part])
    raise ValueError(f"part={part!r} must be 'record' or 'next_scan'")
