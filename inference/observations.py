"""One patient's observations for calibration: (time, observable, value) rows with censoring.

Clinical tables hold text in value columns: ``"TOO SMALL TO MEASURE"`` is a value below the
detection limit of that observable (left-censored at ``detection_limit[observable]``) and
``"NOT EVALUABLE"`` is missing (dropped and counted in ``n_missing``). Any other text, a
non-finite number, a negative value or a time out of order within an observable is an error
naming the row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

BELOW_DETECTION = ("TOO SMALL TO MEASURE",)
MISSING = ("NOT EVALUABLE", "")


@dataclass(frozen=True)
class Observations:
    """Arrays of equal length ``n``: ``time`` (day), ``value`` (the observable's unit; the
    detection limit where censored), ``observable`` (names), ``censored`` (bool). ``units``:
    observable -> unit. ``n_missing``: rows dropped as not evaluable."""

    patient: str
    time: np.ndarray
    value: np.ndarray
    observable: tuple[str, ...]
    censored: np.ndarray
    units: Mapping[str, str] = field(default_factory=dict)
    n_missing: int = 0

    def __len__(self) -> int:
        return len(self.time)

    @property
    def observables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.observable))

    @property
    def times(self) -> np.ndarray:
        """Sorted unique observation times (day)."""
        return np.unique(self.time)

    def first(self, n_times: int) -> Observations:
        """The observations at the first ``n_times`` distinct times (e.g. scans before a cut-off)."""
        keep = np.isin(self.time, self.times[:n_times])
        return self._subset(keep)

    def after(self, n_times: int) -> Observations:
        """The observations after the first ``n_times`` distinct times."""
        return self._subset(~np.isin(self.time, self.times[:n_times]))

    def _subset(self, keep: np.ndarray) -> Observations:
        obs = tuple(o for o, k in zip(self.observable, keep, strict=True) if k)
        return Observations(self.patient, self.time[keep], self.value[keep], obs, self.censored[keep], self.units, 0)

    @classmethod
    def from_rows(
        cls,
        patient: str,
        rows: Iterable[tuple[float, str, object]],
        *,
        units: Mapping[str, str],
        detection_limit: Mapping[str, float] | None = None,
    ) -> Observations:
        """Build from ``(time day, observable, value)`` rows (value a number or clinical text)."""
        limits = dict(detection_limit or {})
        times, values, names, cens = [], [], [], []
        missing = 0
        for number, (t, name, raw) in enumerate(rows, start=1):
            where = f"patient {patient!r}, row {number}"
            if name not in units:
                raise ValueError(f"{where}: observable {name!r} has no unit; known observables: {sorted(units)}")
            try:
                t = float(t)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: time {t!r} is not a number (day)") from None
            if not math.isfinite(t):
                raise ValueError(f"{where}: time {t!r} is not finite")
            text = raw.strip().upper() if isinstance(raw, str) else None
            if text in MISSING:
                missing += 1
                continue
            if text in BELOW_DETECTION:
                if name not in limits:
                    raise ValueError(f"{where}: {raw!r} needs a detection limit for {name!r} (detection_limit=...)")
                value, censored = float(limits[name]), True
            else:
                try:
                    value = float(raw)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{where}: value {raw!r} is not a number, {BELOW_DETECTION[0]!r} or {MISSING[0]!r}"
                    ) from None
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"{where}: value {raw!r} must be finite and >= 0 ({units[name]})")
                censored = False
            times.append(t)
            values.append(value)
            names.append(name)
            cens.append(censored)
        if not times:
            raise ValueError(f"patient {patient!r}: no evaluable observations ({missing} not evaluable)")
        if all(cens):
            raise ValueError(f"patient {patient!r}: every observation is below detection; nothing to calibrate to")
        for name in set(names):
            t = np.asarray([ti for ti, n in zip(times, names, strict=True) if n == name])
            if np.any(np.diff(t) <= 0):
                i = int(np.argmax(np.diff(t) <= 0)) + 1
                raise ValueError(f"patient {patient!r}: {name} times must increase; time {t[i]} follows {t[i - 1]}")
        return cls(
            patient, np.asarray(times), np.asarray(values), tuple(names), np.asarray(cens, bool), dict(units), missing
        )
