"""Reading a virtual trial as one would a real one: response rates, Kaplan–Meier curves, medians,
log-rank tests and hazard ratios per population draw (so every figure has a credible band), and
the probability that a trial of a given size meets its primary endpoint (a power curve).

The classical statistics come from lifelines through :mod:`scenarios.survival`. Times are stored
in days; tables report months (``DAYS_PER_MONTH`` = 365.25 / 12), as trial reports do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from scenarios import survival
from scenarios.endpoints import PR

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class TrialResult:
    """``design`` (a :class:`~scenarios.TrialDesign`) and ``data``: per (draw, arm, patient)
    ``pfs_days`` / ``pfs_event``, ``os_days`` / ``os_event`` (with a survival link),
    ``time_on_treatment_days``, ``best_response`` (codes into ``scenarios.RESPONSE_NAMES``),
    ``week8_change``, ``baseline_sld`` (mm), ``enrolment_day``, ``scans_assessed``; ``enrolled``
    (arm, patient) marks real patients of arms smaller than the largest."""

    design: object
    data: xr.Dataset

    @property
    def arms(self) -> list[str]:
        return [str(a) for a in self.data.arm.values]

    @property
    def n_draws(self) -> int:
        return int(self.data.sizes["draw"])

    def _arm(self, name: str, var: str, n: int | None = None) -> np.ndarray:
        """``var`` of arm ``name``: (n_draws, n) for its first ``n`` patients (default: all)."""
        if name not in self.arms:
            raise ValueError(f"unknown arm {name!r}; the trial has {self.arms}")
        size = int(self.data.enrolled.sel(arm=name).sum())
        n = size if n is None else n
        if not 1 <= n <= size:
            raise ValueError(f"arm {name!r}: n={n!r} patients requested; 1..{size} were simulated")
        return self.data[var].sel(arm=name).values[:, :n]

    def _endpoint(self, endpoint: str | None) -> str:
        endpoint = self.design.primary if endpoint is None else endpoint
        if endpoint not in ("pfs", "os"):
            raise ValueError(f"endpoint={endpoint!r}; valid: 'pfs', 'os'")
        if f"{endpoint}_days" not in self.data:
            raise ValueError(f"the trial has no {endpoint!r}: give the design a survival link to simulate OS")
        return endpoint

    def response_rates(self) -> xr.DataArray:
        """Objective response rate (CR or PR as best response; all randomised patients in the
        denominator) per (draw, arm)."""
        rates = [(self._arm(a, "best_response") <= PR).mean(axis=1) for a in self.arms]
        return xr.DataArray(np.stack(rates, axis=1), coords={"draw": self.data.draw, "arm": self.arms}, name="orr")

    def kaplan_meier(self, endpoint: str | None = None, timeline_days=None, level: float = 0.9) -> xr.Dataset:
        """Kaplan–Meier curves per arm and draw with the ``level`` band over draws (dims arm,
        draw, time in days); see :func:`scenarios.survival.km_bands`."""
        endpoint = self._endpoint(endpoint)
        if timeline_days is None:
            timeline_days = np.linspace(0.0, float(self.design.follow_up_days), 201)
        bands = [
            survival.km_bands(
                self._arm(a, f"{endpoint}_days"), self._arm(a, f"{endpoint}_event"), timeline_days, level=level
            )
            for a in self.arms
        ]
        return xr.concat(bands, dim=pd.Index(self.arms, name="arm"))

    def medians(self, endpoint: str | None = None) -> xr.DataArray:
        """Kaplan–Meier median (days; inf when not reached) per (draw, arm)."""
        km = self.kaplan_meier(endpoint, timeline_days=np.array([0.0, float(self.design.follow_up_days)]))
        return km["median_survival"].transpose("draw", "arm")

    def tests(self, endpoint: str | None = None, n: int | None = None) -> pd.DataFrame:
        """Per experimental arm and draw: log-rank p against the control (the first arm) and the
        direction of the effect (the ratio of event rates per patient-day, < 1 favouring the
        experimental arm), on the first ``n`` patients per arm (default: all)."""
        endpoint = self._endpoint(endpoint)
        control = self.arms[0]
        t0, e0 = self._arm(control, f"{endpoint}_days", n), self._arm(control, f"{endpoint}_event", n)
        rows = []
        for arm in self.arms[1:]:
            t1, e1 = self._arm(arm, f"{endpoint}_days", n), self._arm(arm, f"{endpoint}_event", n)
            for d in range(self.n_draws):
                _, p = survival.logrank(t1[d], e1[d], t0[d], e0[d])
                ratio = (e1[d].sum() / max(t1[d].sum(), 1e-12)) / max(e0[d].sum() / max(t0[d].sum(), 1e-12), 1e-12)
                rows.append({"arm": arm, "draw": d, "p": p, "event_rate_ratio": ratio})
        return pd.DataFrame(rows)

    def success(self, endpoint: str | None = None, n: int | None = None) -> pd.DataFrame:
        """Per experimental arm and draw: does the trial (first ``n`` patients per arm) meet its
        endpoint — two-sided log-rank p < alpha in the experimental arm's favour?"""
        t = self.tests(endpoint, n)
        t["success"] = (t.p < self.design.alpha) & (t.event_rate_ratio < 1)
        return t

    def power_curve(self, sizes: Sequence[int], endpoint: str | None = None) -> pd.DataFrame:
        """Probability that a trial with ``n`` patients per arm (same enrolment period and cut-off)
        meets its primary endpoint, for each ``n`` in ``sizes``: the fraction of population draws
        in which it succeeds (the first ``n`` simulated patients of each arm form the trial; they
        are independent draws). Columns: arm, n_per_arm, probability, mc_se (binomial, over draws)."""
        sizes = list(sizes)
        if not sizes:
            raise ValueError("sizes is empty: give trial sizes (patients per arm) to evaluate")
        rows = []
        for n in sizes:
            if not (isinstance(n, int | np.integer) and n >= 2):
                raise ValueError(f"trial size {n!r} must be an integer >= 2 patients per arm")
            ok = self.success(endpoint, int(n)).groupby("arm", sort=False).success.mean()
            for arm, p in ok.items():
                rows.append({"arm": arm, "n_per_arm": int(n), "probability": float(p),
                             "mc_se": float(np.sqrt(p * (1 - p) / self.n_draws))})  # fmt: skip
        return pd.DataFrame(rows)

    def hazard_ratios(self, endpoint: str | None = None) -> pd.DataFrame:
        """Cox hazard ratio of each experimental arm against the control, per draw (lifelines)."""
        endpoint = self._endpoint(endpoint)
        control = self.arms[0]
        t0, e0 = self._arm(control, f"{endpoint}_days"), self._arm(control, f"{endpoint}_event")
        rows = []
        for arm in self.arms[1:]:
            t1, e1 = self._arm(arm, f"{endpoint}_days"), self._arm(arm, f"{endpoint}_event")
            for d in range(self.n_draws):
                group = np.r_[np.zeros(t0.shape[1]), np.ones(t1.shape[1])]
                hr = survival.hazard_ratio(np.r_[t0[d], t1[d]], np.r_[e0[d], e1[d]], group)
                rows.append({"arm": arm, "draw": d, "hazard_ratio": hr.hazard_ratio})
        return pd.DataFrame(rows)

    def summary(self, level: float = 0.9, hazard_ratios: bool = False) -> pd.DataFrame:
        """One row per arm: median over population draws and the ``level`` band of the ORR (%),
        median PFS / OS (months), median time on treatment (months) and, for experimental arms,
        the probability of success at the simulated size (and Cox HR if ``hazard_ratios``: slower)."""
        lo, hi = (1 - level) / 2, (1 + level) / 2
        orr = self.response_rates()

        def band(x):
            x = np.asarray(x, float)
            return float(np.median(x)), (float(np.quantile(x, lo)), float(np.quantile(x, hi)))

        endpoints = [e for e in ("pfs", "os") if f"{e}_days" in self.data]
        medians = {e: self.medians(e) / DAYS_PER_MONTH for e in endpoints}
        success = {e: self.success(e).groupby("arm").success.mean() for e in endpoints}
        hrs = {e: self.hazard_ratios(e).groupby("arm").hazard_ratio for e in endpoints} if hazard_ratios else {}
        rows = []
        for arm in self.arms:
            row = {"arm": arm, "n": int(self.data.enrolled.sel(arm=arm).sum())}
            row["ORR %"], row[f"ORR % {level:.0%} band"] = band(100 * orr.sel(arm=arm))
            for e in endpoints:
                row[f"median {e.upper()} (months)"], row[f"median {e.upper()} {level:.0%} band"] = band(
                    medians[e].sel(arm=arm)
                )
                if arm != self.arms[0]:
                    row[f"P(success on {e.upper()})"] = float(success[e][arm])
                    if e in hrs:
                        row[f"HR {e.upper()}"], row[f"HR {e.upper()} {level:.0%} band"] = band(hrs[e].get_group(arm))
            tot = np.median(self._arm(arm, "time_on_treatment_days"), axis=1) / DAYS_PER_MONTH
            row["median time on treatment (months)"] = band(tot)[0]
            rows.append(row)
        return pd.DataFrame(rows)
