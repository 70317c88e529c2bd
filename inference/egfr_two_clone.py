"""Calibration defaults for the flagship EGFR-TKI two-clone model (``mechanistic.catalogue.egfr_two_clone``).

:func:`egfr_two_clone_spec` is the parameter specification a twin starts from: the quantities one
patient's scans can inform are free with weakly informative, literature-anchored priors; those
they cannot (PK, potency, capacity, cost of resistance) are fixed at the catalogue's sourced
values. :func:`egfr_two_clone_predict` maps parameters to the observables (longest diameter of
a sphere of the total volume, mm; total volume, mm^3; resistant fraction) under a dose schedule,
solved on :class:`mechanistic.LawsonGrid` (3 steps a day; a NUTS gradient in milliseconds).

Free parameters (priors on the log or logit scale, 95% ranges in brackets):

- ``volume0`` (mm^3), burden at day 0: LogNormal(log 3e4, 1.5) [1.6e3, 5.7e5] — a 39 mm sphere;
  RECIST target lesions are 10 mm to ~10 cm.
- ``resistant_fraction0`` (1), T790M share at day 0: logit-normal(logit 1e-3, 2) [2e-5, 0.05] —
  pre-existing T790M clones are below 1% in most untreated EGFR-mutant tumours (Hata et al.,
  Nat Med 2016; Oxnard et al., JCO 2016 find baseline T790M in a minority at low allele fractions).
- ``growth_rate`` (1/day), Gompertz rate: LogNormal(log 0.01, 0.7) [2.5e-3, 0.04] — at 30 cm^3 the
  catalogue value gives a volume doubling time of ~35 days; untreated NSCLC doubling times span
  ~1-12 months (Detterbeck & Gibson, J Thorac Oncol 2008).
- ``max_kill`` (1/day), erlotinib's maximal kill of sensitive cells: LogNormal(log 0.06, 0.7)
  [0.015, 0.24] — responses of -30% to -70% in diameter within 2-3 months on first-line EGFR TKIs.
- ``sd_add`` (mm) and ``cv`` (1), combined residual error of a diameter: HalfNormal(2) and
  HalfNormal(0.1) — inter-reader variability of RECIST measurements is ~2 mm plus ~10%.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

import mechanistic as m
from inference.parameters import Parameter, ParameterSpec
from mechanistic.catalogue import egfr_two_clone

# Lawson grid for daily oral dosing: steps at 0, ~1.2 h and ~3.6 h after each erlotinib dose (ka 22.8 /day)
FLAGSHIP_GRID = m.SolverOptions(grid=m.LawsonGrid(substeps=1, absorption_offsets=(1.2, 3.6), nodes=5))
_CATALOGUE = "mechanistic.catalogue.egfr_two_clone"


def _logit_normal(median: float, sd: float) -> dist.Distribution:
    return dist.TransformedDistribution(
        dist.Normal(float(np.log(median / (1 - median))), sd), dist.transforms.SigmoidTransform()
    )


def egfr_two_clone_spec() -> ParameterSpec:
    """Free and fixed parameters of the flagship model for one patient (see the module docstring)."""
    return ParameterSpec(
        [
            Parameter("volume0", "mm^3", dist.LogNormal(np.log(3e4), 1.5), source="RECIST lesion sizes"),
            Parameter(
                "resistant_fraction0",
                "1",
                _logit_normal(1e-3, 2.0),
                constraint="unit_interval",
                source="Hata et al. Nat Med 2016; Oxnard et al. JCO 2016",
            ),
            Parameter("growth_rate", "1/day", dist.LogNormal(np.log(0.01), 0.7), source="Detterbeck & Gibson 2008"),
            Parameter("max_kill", "1/day", dist.LogNormal(np.log(0.06), 0.7), source=_CATALOGUE),
            Parameter("fitness_cost", "1", value=0.25, constraint="unit_interval", source="Chmielecki et al. 2011"),
            Parameter("ec50_sensitive", "mg/L", value=0.1, source=_CATALOGUE),
            Parameter("ec50_resistant", "mg/L", value=8.0, source=_CATALOGUE),
            Parameter("capacity", "mm^3", value=2.0e5, source=_CATALOGUE),
            Parameter("sd_add", "mm", dist.HalfNormal(2.0), source="RECIST inter-reader variability"),
            Parameter("cv", "1", dist.HalfNormal(0.1), source="RECIST inter-reader variability"),
        ]
    )


def egfr_two_clone_predict(doses: m.DoseTable, *, t0: float = 0.0, options: m.SolverOptions = FLAGSHIP_GRID):
    """``predict(params, times) -> {"diameter" (T,) mm, "volume" (T,) mm^3, "resistant_fraction" (T,)}``
    for :func:`~inference.patient_model`, under ``doses`` (erlotinib, day 0 = treatment start),
    from the burden at ``t0`` (day; <= the first observation time). A failed solve gives NaN
    predictions, which the samplers reject."""

    def predict(params, times):
        model = egfr_two_clone(
            growth_rate=params["growth_rate"],
            fitness_cost=params["fitness_cost"],
            max_kill=params["max_kill"],
            ec50_sensitive=params["ec50_sensitive"],
            ec50_resistant=params["ec50_resistant"],
            capacity=params["capacity"],
        )
        v0, f0 = params["volume0"], params["resistant_fraction0"]
        sol = m.solve(model, jnp.stack([v0 * (1 - f0), v0 * f0]), doses, times, t0=t0, options=options)
        volume = m.total_volume(sol.clones)
        out = {
            "diameter": m.longest_diameter(volume),
            "volume": volume,
            "resistant_fraction": m.resistant_fraction(sol.clones, model.tumour.resistant),
        }
        return {k: jnp.where(sol.ok, v, jnp.nan) for k, v in out.items()}

    return predict
