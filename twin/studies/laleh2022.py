"""Ghaffari Laleh et al. 2022 (PLOS Comput Biol 18:e1009822): the loader of their tumour-diameter
series (shared/refdata/laleh2022_sld, or any file in that format) and their workflow as a function
a user calls on their own data: the six growth laws fitted to every series with nested starts, and
forecasts from the early scans, with the metrics tables (:class:`GrowthLawComparison`).

The loader follows the authors' preprocessing (KatherLab/ImmunotherapyModels, Fit.py and Utils.py):

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

import time
from dataclasses import dataclass, replace
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from inference.least_squares import FitResult, fit_curve, metrics, predict
from mechanistic.growth_curves import GROWTH_CURVES

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

    ``refdata_dir``: a CSV file in the S1 Dataset's long format, or the shared refdata folder
    (containing ``laleh2022_sld/``); ``min_points``:
    minimum measurements per series; ``non_numeric``: ``"drop"`` or ``"zero"``;
    ``max_diameter_mm``: normalising diameter (default: the file's maximum, 228 mm; the authors'
    also spans Study5, which is not in the file).
    """
    if non_numeric not in ("drop", "zero"):
        raise ValueError(f"load_laleh: non_numeric must be 'drop' or 'zero'; got {non_numeric!r}")
    if min_points < 1:
        raise ValueError(f"load_laleh: min_points must be >= 1; got {min_points}")
    path = Path(refdata_dir)
    path = path / FILE if path.is_dir() else path
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


LAWS = tuple(GROWTH_CURVES)
HOLDOUT = 3  # scans held out for forecasting (Fit.py: dimension[0:-3])
# general Gompertz: RK4 makes it ~10x costlier; fewer starts, plus the Gompertz fit as a start (l = 1)
FIT_OPTIONS = {law: {"n_starts": 8, "n_candidates": 1024} for law in LAWS} | {
    "general_gompertz": {"n_starts": 4, "n_candidates": 256}
}


def nested_starts(law: str, fits: dict[str, FitResult]) -> np.ndarray | None:
    """``(S, m, k)`` LM starts from the fits of laws nested in ``law`` (so a law never fits worse
    than one of its special cases): exponential = logistic with b -> inf = Gompertz with a = 0 =
    general Bertalanffy with l = 1; classic Bertalanffy = general Bertalanffy with l = 2/3;
    Gompertz = general Gompertz with l = 1."""
    p = {name: np.asarray(f.params) for name, f in fits.items()}
    if law == "logistic":
        e = p["exponential"]
        return np.stack([np.maximum(e[:, 0] - e[:, 1], 0.0), np.full(len(e), 1e6), e[:, 2]], -1)[:, None]
    if law == "gompertz":
        e = p["exponential"]
        return np.stack([np.zeros(len(e)), e[:, 0] - e[:, 1], e[:, 2]], -1)[:, None]
    if law == "general_bertalanffy":
        e, c = p["exponential"], p["classic_bertalanffy"]
        with_l = lambda x, lam: np.stack([x[:, 0], x[:, 1], np.full(len(x), lam), x[:, 2]], -1)  # noqa: E731
        return np.stack([with_l(e, 1.0), with_l(c, 2.0 / 3.0)], 1)
    if law == "general_gompertz":
        g = p["gompertz"]
        return np.stack([g[:, 0], g[:, 1], np.ones(len(g)), g[:, 2]], -1)[:, None]
    return None


def fit_growth_laws(t, y, mask) -> dict[str, FitResult]:
    """The six laws fitted to every series, in :data:`LAWS` order (nested starts need it). The
    shapes, options and nesting are the same for every call, so each law compiles once."""
    fits: dict[str, FitResult] = {}
    for law in LAWS:
        fits[law] = fit_curve(GROWTH_CURVES[law], t, y, mask, init=nested_starts(law, fits), **FIT_OPTIONS[law])
    return fits


def stack(fn) -> np.ndarray:
    """``(S, 6)``: ``fn(law)`` side by side, in :data:`LAWS` order."""
    return np.stack([np.asarray(fn(law)) for law in LAWS], axis=1)


def by_law(values) -> dict[str, float]:
    """``{law: value}`` for six values in :data:`LAWS` order (for assertion messages and tables)."""
    return {law: float(v) for law, v in zip(LAWS, values, strict=True)}


def geometric_mean(x, floor=1e-9) -> np.ndarray:
    """Column-wise geometric mean; errors are floored at 1e-9 (normalised volume, ~0.2 mm^3)."""
    return np.exp(np.mean(np.log(np.maximum(x, floor)), axis=0))


@dataclass
class GrowthLawComparison:
    """The published comparison on any :class:`LalehSeries`: the six laws fitted to every series
    and forecasts from all but the last :data:`HOLDOUT` scans (:meth:`run`), with the metrics
    tables (:meth:`fit_table`, :meth:`forecast_table`, :meth:`report`); per-series arrays are
    ``(S, 6)`` in :data:`LAWS` order (``r2``, ``sse``, ``aic``, ``aic_laleh``, ``forecast_mae``,
    ``forecast_last``)."""

    data: LalehSeries
    fits: dict[str, FitResult]
    forecasts: dict[str, FitResult]
    seconds: float

    def __post_init__(self):
        d = self.data
        m = {
            law: metrics(
                predict(GROWTH_CURVES[law], f, d.time_weeks), d.volume, d.mask, GROWTH_CURVES[law].n_parameters
            )
            for law, f in self.fits.items()
        }
        self.r2, self.sse, self.aic, self.aic_laleh = (
            stack(lambda law, k=k: getattr(m[law], k)) for k in ("r2", "sse", "aic", "aic_laleh")
        )
        _, test = d.holdout_last(HOLDOUT)
        pred = {law: np.asarray(predict(GROWTH_CURVES[law], f, d.time_weeks)) for law, f in self.forecasts.items()}
        self.forecast_mae = stack(lambda law: metrics(pred[law], d.volume, test, 0).mae)
        last = d.n_points - 1
        self.forecast_last = stack(
            lambda law: np.abs(pred[law][np.arange(len(d)), last] - d.volume[np.arange(len(d)), last])
        )
        # AIC comparisons skip series that a law fits exactly (SSE = 0, AIC = -inf): constant series,
        # complete responses
        self.comparable = np.isfinite(self.aic).all(axis=1)

    @classmethod
    def run(cls, data: LalehSeries) -> GrowthLawComparison:
        start = time.perf_counter()
        fits = fit_growth_laws(data.time_weeks, data.volume, data.mask)
        train, _ = data.holdout_last(HOLDOUT)
        forecasts = fit_growth_laws(data.time_weeks, data.volume, train)
        jax.block_until_ready(forecasts)
        return cls(data, fits, forecasts, time.perf_counter() - start)

    @property
    def delta_aic(self) -> np.ndarray:
        a = self.aic[self.comparable]
        return a - a.min(axis=1, keepdims=True)

    def fit_table(self) -> pd.DataFrame:
        c, monotone = self.comparable, self.data.trend != "Fluctuate"
        best = np.bincount(np.argmin(self.aic[c], axis=1), minlength=6)
        best_laleh = np.bincount(np.argmin(self.aic_laleh[c], axis=1), minlength=6)
        return pd.DataFrame(
            {
                "median R2": np.median(self.r2, 0),
                "mean R2": self.r2.mean(0),
                "median R2 Up/Down": np.median(self.r2[monotone], 0),
                "median AIC": np.median(self.aic[c], 0),
                "mean AIC": self.aic[c].mean(0),
                "n best AIC": best,
                "share dAIC<=2": (self.delta_aic <= 2).mean(0),
                "n best AIC_laleh": best_laleh,
                "converged": stack(lambda law: self.fits[law].converged).mean(0),
            },
            index=LAWS,
        )

    def forecast_table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "mean MAE": self.forecast_mae.mean(0),
                "median MAE": np.median(self.forecast_mae, 0),
                "geomean MAE": geometric_mean(self.forecast_mae),
                "mean last": self.forecast_last.mean(0),
                "geomean last": geometric_mean(self.forecast_last),
            },
            index=LAWS,
        )

    def arm_trend_aic_winners(self) -> pd.Series:
        """Per (arm, trend) row, the law with the lowest mean AIC (the layout of the paper's Fig 3C)."""
        c = self.comparable
        rows = pd.DataFrame(self.aic[c], columns=LAWS).assign(arm=self.data.arm[c], trend=self.data.trend[c])
        return rows.groupby(["arm", "trend"]).mean().idxmin(axis=1).value_counts()

    def report(self) -> str:
        with pd.option_context(
            "display.width", 250, "display.max_columns", None, "display.float_format", "{:.4g}".format
        ):
            return (
                f"{len(self.data)} series, fits + forecasts of 6 laws in {self.seconds:.1f} s\n"
                f"{self.fit_table()}\n(AIC columns over {self.comparable.sum()} series without an exact fit)\n"
                f"forecast errors, normalised volume x 1e3:\n{self.forecast_table() * 1e3}\n"
                f"lowest mean AIC per arm x trend: {self.arm_trend_aic_winners().to_dict()}"
            )
