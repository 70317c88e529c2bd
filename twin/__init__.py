"""The digital twin: patient records, the flagship model and the ``twin`` command line.

``DigitalTwin``, ``TwinModel`` and the regimen helpers import JAX; they load on first use, so
``import twin.io`` (files only) stays light.
"""

from importlib import import_module

from twin.io import (
    PatientFileError,
    read_long_csv,
    read_mutations,
    read_nonmem,
    read_patient,
    write_long_csv,
    write_mutations,
    write_nonmem,
)
from twin.record import (
    COVARIATE_UNITS,
    OBSERVABLES,
    STATUSES,
    Covariate,
    Dose,
    Observation,
    PatientRecord,
    PatientRecordError,
    VariantCall,
)

_LAZY = {
    "Comparison": "twin.digital_twin",
    "DigitalTwin": "twin.digital_twin",
    "Settings": "twin.digital_twin",
    "Update": "twin.digital_twin",
    "Prior": "twin.diseases.egfr_nsclc.model",
    "TwinModel": "twin.diseases.egfr_nsclc.model",
    "TwinModelError": "twin.diseases.egfr_nsclc.model",
    "parse_regimen": "twin.diseases.egfr_nsclc.regimens",
    "standard_regimens": "twin.diseases.egfr_nsclc.regimens",
    "example_patient": "twin.diseases.egfr_nsclc.example",
    "synthetic_patient": "twin.diseases.egfr_nsclc.synthetic",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'twin' has no attribute {name!r}")


__all__ = [
    "COVARIATE_UNITS",
    "Comparison",
    "DigitalTwin",
    "Prior",
    "Settings",
    "TwinModel",
    "TwinModelError",
    "Update",
    "example_patient",
    "parse_regimen",
    "standard_regimens",
    "synthetic_patient",
    "OBSERVABLES",
    "STATUSES",
    "Covariate",
    "Dose",
    "Observation",
    "PatientFileError",
    "PatientRecord",
    "PatientRecordError",
    "VariantCall",
    "read_long_csv",
    "read_mutations",
    "read_nonmem",
    "read_patient",
    "write_long_csv",
    "write_mutations",
    "write_nonmem",
]
