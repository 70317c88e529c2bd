"""Loader for the Ghaffari Laleh et al. 2022 tumour-diameter series (shared/refdata/laleh2022_sld),
used by the validation tests and ``twin validate``, with the authors' preprocessing
(KatherLab/ImmunotherapyModels, Fit.py and Utils.py):

- one series per key ``(Sheet, Patient_Anonmyized)``, the patient id read as a string;
- measurements sorted by ``Treatment_Day``; time in weeks ``ceil(day / 7)``, with ``t <= 0 -> 0.1``;
- volume ``0.52 LD^3`` divided by ``0.52 max(LD)^3`` (the dataset maximum, over every row);
- series kept when they have at least ``min_points`` measurements (the authors: 6);
- each series' trend, 'Up', 'Down' or 'Fluctuate', by the authors' ``Detect_Trend_Of_Data``.

Non-numeric diameters ('NOT EVALUABLE', 'TOO SMALL TO MEASURE', empty): the authors replace them
by 0 and count them towards the 6 points; the default here (``non_numeric="drop"``) drops them and
counts numeric measurements only; ``non_numeric="zero"`` reproduces the authors.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

FILE = Path("laleh2022_sld") / "laleh2022_s1_studies1to4_long.csv"


@dataclass(frozen=True)
class LalehSeries:
    """Padded series, ``S`` series by ``N`` (the longest) points; padding repeats the last valid
    time and has volume 0 and ``mask`` False.

    ``keys``: ``(Sheet, Patient_Anonmyized)`` per series; ``study`` (``Study1``..``Study4``) and
    ``arm`` (``Study_<s>_Arm_<a>``) ``(S,)``; ``day (S, N)``: raw ``Treatment_Day``;
    ``diameter_mm (S, N)``; ``time_weeks (S, N)``; ``volume (S, N)``: normalised; ``mask (S, N)``;
    ``n_points (S,)``; ``trend (S,)``: see :func:`trend`; ``volume_scale``: ``0.52 max(LD)^3`` in
    mm^3 (volume = mm^3 / scale).
    """

    keys: tuple[tuple[str, str], ...]
    study: np.ndarray
    arm: np.ndarray
    day: np.ndarray
    diameter_mm: np.ndarray
    time_weeks: np.ndarray
    volume: np.ndarray
    mask: np.ndarray
    n_points: np.ndarray
    trend: np.ndarray
    volume_scale: float

    def __len__(self) -> int:
        return len(self.keys)

    def subset(self, index) -> LalehSeries:
        """The series at ``index`` (integer array, slice or boolean mask), same padding length."""
        idx = np.arange(len(self))[index]
        pick = lambda x: x[idx]  # noqa: E731
        return replace(
            self,
            keys=tuple(self.keys[i] for i in idx),
            **{f: pick(getattr(self, f)) for f in ("study", "arm", "day", "diameter_mm", "time_weeks", "volume")},
            mask=pick(self.mask),
            n_points=pick(self.n_points),
            trend=pick(self.trend),
        )

    def holdout_last(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(train, test)`` masks ``(S, N)``: the last ``k`` valid points of each series are test."""
        if not 0 < k < int(self.n_points.min()):
            raise ValueError(f"holdout_last: k must be in [1, {int(self.n_points.min()) - 1}]; got {k}")
        position = np.arange(self.mask.shape[1])[None, :]
        train = self.mask & (position < (self.n_points - k)[:, None])
        return train, self.mask & ~train


def weeks(day) -> np.ndarray:
    """The authors' time axis: ``ceil(day / 7)`` weeks, ``<= 0 -> 0.1``."""
    w = np.ceil(np.asarray(day, dtype=float) / 7.0)
    return np.where(w <= 0, 0.1, w)


def trend(values) -> str:
    """The authors' ``Detect_Trend_Of_Data`` (Utils.py) of one series: 'Up' when no step goes
    down, or the first step goes up and the falls sum to less than half the rises; 'Down' likewise;
    else 'Fluctuate'. Scale-free (they apply it to diameters divided by the maximum)."""
    steps = np.diff(np.asarray(values, dtype=float))  # one value: no steps, 'Up' (as the authors)
    rises, falls = steps[steps > 0].sum(), -steps[steps < 0].sum()
    if np.all(steps >= 0):
        return "Up"
    if np.all(steps <= 0):
        return "Down"
    if steps[0] > 0 and not falls >= rises / 2:
        return "Up"
    if steps[0] < 0 and not rises >= falls / 2:
        return "Down"
    return "Fluctuate"


def load_laleh(refdata_dir, min_points: int = 6, *, non_numeric: str = "drop", max_diameter_mm=None) -> LalehSeries:
    """Load and preprocess the four NSCLC studies (see the module docstring).

    ``refdata_dir``: the shared refdata folder (containing ``laleh2022_sld/``); ``min_points``:
    minimum measurements per series; ``non_numeric``: ``"drop"`` or ``"zero"``;
    ``max_diameter_mm``: normalising diameter (default: the file's maximum, 228 mm; the authors'
    also spans Study5, which is not in the file).
    """
    if non_numeric not in ("drop", "zero"):
        raise ValueError(f"load_laleh: non_numeric must be 'drop' or 'zero'; got {non_numeric!r}")
    if min_points < 1:
        raise ValueError(f"load_laleh: min_points must be >= 1; got {min_points}")
    path = Path(refdata_dir) / FILE
    if not path.is_file():
        raise FileNotFoundError(f"load_laleh: {path} not found")
    raw = pd.read_csv(path, dtype={"Sheet": str, "Patient_Anonmyized": str, "Study_Arm": str})
    diam = pd.to_numeric(raw["TargetLesionLongDiam_mm"], errors="coerce")
    max_ld = float(diam.max()) if max_diameter_mm is None else float(max_diameter_mm)
    if not max_ld > 0:
        raise ValueError(f"load_laleh: max_diameter_mm must be > 0; got {max_ld}")
    data = raw.assign(diameter=diam if non_numeric == "drop" else diam.fillna(0.0))
    data = data.dropna(subset=["diameter", "Treatment_Day"])
    data = data.sort_values(["Sheet", "Patient_Anonmyized", "Treatment_Day"], kind="stable")
    groups = [g for _, g in data.groupby(["Sheet", "Patient_Anonmyized"], sort=True) if len(g) >= min_points]
    if not groups:
        raise ValueError(f"load_laleh: no series with >= {min_points} measurements in {path}")
    n_max = max(len(g) for g in groups)
    s = len(groups)
    day = np.zeros((s, n_max))
    diameter = np.zeros((s, n_max))
    mask = np.zeros((s, n_max), dtype=bool)
    for i, g in enumerate(groups):
        n = len(g)
        day[i, :n] = g["Treatment_Day"].to_numpy(float)
        day[i, n:] = day[i, n - 1]
        diameter[i, :n] = g["diameter"].to_numpy(float)
        mask[i, :n] = True
    volume_scale = 0.52 * max_ld**3
    return LalehSeries(
        keys=tuple((g["Sheet"].iloc[0], g["Patient_Anonmyized"].iloc[0]) for g in groups),
        study=np.array([g["Sheet"].iloc[0] for g in groups]),
        arm=np.array([g["Study_Arm"].iloc[0] for g in groups]),
        day=day,
        diameter_mm=diameter,
        time_weeks=weeks(day),
        volume=np.where(mask, 0.52 * diameter**3 / volume_scale, 0.0),
        mask=mask,
        n_points=mask.sum(1),
        trend=np.array([trend(diameter[i, : mask[i].sum()]) for i in range(s)]),
        volume_scale=volume_scale,
    )
