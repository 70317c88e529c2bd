"""The digital twin: patient records, the flagship model and the ``twin`` command line."""

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

__all__ = [
    "COVARIATE_UNITS",
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
