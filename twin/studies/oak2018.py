"""Loader for the OAK per-patient outcomes (atezolizumab vs docetaxel in previously treated NSCLC;
Gandara et al. 2018 Nat Med, Supplementary Table 8; shared/refdata/oak_gandara2018, README there):
the reference for virtual-trial survival and response statistics.

850 patients (the OAK primary ITT population), 425 per arm. Times in months, as in the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scenarios.endpoints import RESPONSE_NAMES
from scenarios.trial_result import DAYS_PER_MONTH  # noqa: F401  (the file's months: days / 30.4375)

FILE = Path("oak_gandara2018") / "oak_clinical.csv"
ARMS = {"MPDL3280A": "atezolizumab", "Docetaxel": "docetaxel"}  # TRT01P -> arm


def load_oak_clinical(refdata_dir) -> pd.DataFrame:
    """One row per patient (index ``patient_id``, the file's ``PtID``) with columns

    - ``arm``: 'atezolizumab' or 'docetaxel' (``TRT01P``);
    - ``os_months``, ``os_event``: overall survival (month) and 1 = death, 0 = censored
      (``OS``, ``1 - OS.CNSR``);
    - ``pfs_months``, ``pfs_event``: progression-free survival likewise (``PFS``, ``PFS.CNSR``);
    - ``best_response``: best confirmed overall response 'CR', 'PR', 'SD', 'PD' or 'NE'
      (``BCOR``; missing '.' -> 'NE', as in an intention-to-treat response rate);
    - ``baseline_sld_mm``: baseline sum of longest diameters (mm; ``blSLD``, NaN where missing).

    ``refdata_dir``: the shared reference-data folder (containing ``oak_gandara2018/``) or the
    ``oak_gandara2018`` folder itself.
    """
    root = Path(refdata_dir)
    path = root / FILE.name if (root / FILE.name).is_file() else root / FILE
    if not path.is_file():
        raise FileNotFoundError(f"OAK clinical data not found at {path} (expected {FILE} under the refdata folder)")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"PtID", "TRT01P", "OS", "OS.CNSR", "PFS", "PFS.CNSR", "BCOR", "blSLD"} - set(raw.columns)
    if missing:
        raise ValueError(f"{path} lacks the columns {sorted(missing)}")
    unknown = sorted(set(raw["TRT01P"]) - set(ARMS))
    if unknown:
        raise ValueError(f"{path}: unknown arms {unknown} in TRT01P; expected {sorted(ARMS)}")
    best = raw["BCOR"].replace(".", "NE")
    bad = sorted(set(best) - set(RESPONSE_NAMES))
    if bad:
        raise ValueError(f"{path}: unknown BCOR values {bad}; expected {RESPONSE_NAMES} or '.'")

    def number(column: str) -> pd.Series:
        return pd.to_numeric(raw[column].replace(".", np.nan), errors="raise")

    frame = pd.DataFrame(
        {
            "patient_id": raw["PtID"].astype(int),
            "arm": raw["TRT01P"].map(ARMS),
            "os_months": number("OS"),
            "os_event": 1 - number("OS.CNSR").astype(int),
            "pfs_months": number("PFS"),
            "pfs_event": 1 - number("PFS.CNSR").astype(int),
            "best_response": best,
            "baseline_sld_mm": number("blSLD"),
        }
    ).set_index("patient_id")
    for column in ("os_months", "pfs_months"):
        if frame[column].isna().any():
            raise ValueError(f"{path}: missing {column} for patients {list(frame.index[frame[column].isna()])}")
    return frame
