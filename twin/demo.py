"""The first ``twin demo``: the flagship two-clone EGFR-TKI model under two erlotinib regimens.

Simulates two years of continuous 150 mg daily and of the pulsed schedule of Yu et al. 2017
(1200 mg on days 1-2 + 50 mg on days 3-7, weekly), then reports the time to 20% growth of the
tumour diameter over its nadir, the final resistant fraction and the cumulative dose. The
parameters are the catalogue's illustrative typical values, not a calibrated patient (that
arrives with the calibration issue).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import xarray as xr

import mechanistic as m
import scenarios as sc
from mechanistic.catalogue import egfr_two_clone

HORIZON_DAYS = 730
INITIAL_VOLUMES_MM3 = (3.0e4, 3.0)  # sensitive, T790M (0.01% resistant at start)


def regimens(days: int = HORIZON_DAYS) -> list[sc.Regimen]:
    """Continuous 150 mg daily, and 1200 mg days 1-2 + 50 mg days 3-7 weekly (Yu et al. 2017)."""
    return [sc.continuous("erlotinib", 150.0, days), sc.pulsed("erlotinib", 1200.0, 2, 50.0, 7, days)]


@dataclass
class RegimenSummary:
    regimen: str
    nadir_change_percent: float
    time_to_progression_days: float | None  # None: not reached within the horizon (censored)
    final_resistant_fraction: float
    cumulative_dose_mg: float


def run(days: int = HORIZON_DAYS) -> tuple[xr.Dataset, list[RegimenSummary]]:
    """Simulate every demo regimen; return the trajectories (dims regimen, time) and a summary."""
    model = egfr_two_clone()
    ts = np.arange(0.0, days + 1.0)
    pk_times = np.linspace(0.0, 28.0, 561)  # a fine grid to show peaks and troughs
    results, summary = [], []
    for regimen in regimens(days):
        name, doses = str(regimen), regimen.doses
        ds = m.simulate(model, INITIAL_VOLUMES_MM3, doses, ts)
        profile = model.pk_of("erlotinib").concentration(m.DoseRows.of(doses, doses.for_drug("erlotinib")), pk_times)
        ds["erlotinib_profile"] = xr.DataArray(
            np.asarray(profile), dims="pk_time", coords={"pk_time": pk_times}, attrs={"units": "mg/L"}
        )
        d = ds.diameter.values
        progression = sc.time_to_growth_over_nadir(ts, d, 0.2)
        summary.append(
            RegimenSummary(
                regimen=name,
                nadir_change_percent=float(100.0 * (d.min() / d[0] - 1.0)),
                time_to_progression_days=float(progression.time) if bool(progression.observed) else None,
                final_resistant_fraction=float(ds.resistant_fraction[-1]),
                cumulative_dose_mg=float(np.sum(np.asarray(doses.amount))),
            )
        )
        results.append(ds)
    names = [s.regimen for s in summary]
    return xr.concat(results, dim=xr.DataArray(names, dims="regimen", name="regimen")), summary


def plot(ds: xr.Dataset, summary: list[RegimenSummary], path: Path) -> Path:
    """Diameter, resistant fraction and concentration per regimen, written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = ["#0072B2", "#E69F00", "#009E73", "#CC79A7"]  # Okabe-Ito, colour-blind safe
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    t = ds.time.values
    for i, (reg, s) in enumerate(zip(ds.regimen.values, summary, strict=True)):
        c = colours[i % len(colours)]
        sel = ds.sel(regimen=reg)
        axes[0].plot(t, sel.diameter, color=c, label=reg)
        if s.time_to_progression_days is not None:
            ttp = s.time_to_progression_days
            axes[0].axvline(ttp, color=c, ls=":", lw=1)
            axes[0].annotate(
                f"PD day {ttp:.0f}",
                (ttp, float(sel.diameter.sel(time=ttp))),
                color=c,
                fontsize=8,
                xytext=(4, 4),
                textcoords="offset points",
            )
        axes[1].plot(t, sel.resistant_fraction, color=c)
        axes[2].plot(sel.pk_time, sel.erlotinib_profile, color=c)
    axes[0].set(xlabel="time (day)", ylabel="tumour diameter (mm, sphere)", title="Tumour size")
    axes[0].legend(fontsize=8)
    axes[1].set(xlabel="time (day)", ylabel="T790M fraction of burden", title="Resistant fraction", ylim=(0, 1.02))
    axes[2].set(xlabel="time (day)", ylabel="erlotinib (mg/L)", title="Plasma concentration, first 4 weeks")
    fig.suptitle("Flagship two-clone EGFR-TKI model (illustrative typical parameters; not a calibrated patient)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def summary_rows(summary: list[RegimenSummary]) -> list[dict]:
    return [asdict(s) for s in summary]
