"""One entry point: calibrate a model family to one patient's observations.

``calibrate(family, observations, priors, errors, doses, method=..., key=...)`` builds the
patient's numpyro model from the family's simulator (:meth:`mechanistic.ModelFamily.predict`), fits
it and returns a :class:`Posterior`: draws as an xarray Dataset ``(chain, draw)`` with units, and
the diagnostics as data (no warnings are raised; the caller decides what a failed check means).

Methods: ``"laplace"`` (MAP by L-BFGS, then draws from the Gaussian at the MAP on the
unconstrained space; seconds) and ``"nuts"`` (chains started from Laplace draws, dense mass
matrix; the exact posterior, minutes).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import jax
import numpy as np
import xarray as xr

from inference.fit import (
    CalibrationWarning,
    WarmStart,
    diagnose,
    laplace,
    map_estimate,
    nuts,
    to_inference_data,
    warm_start,
)
from inference.observations import Observations
from inference.parameters import ParameterSpec
from inference.patient_model import patient_model
from mechanistic.dosing import DoseTable
from mechanistic.family import ModelFamily
from mechanistic.measurement import ErrorModel

METHODS = ("laplace", "nuts")


@dataclass(frozen=True)
class Posterior:
    """``draws``: every parameter (free and fixed) as ``(chain, draw)`` with a ``units`` attribute;
    ``method``; ``problems``: one line per failed check (MAP convergence; for NUTS also R-hat, ESS,
    divergences), empty when all pass; ``table``: the per-parameter R-hat / ESS table (NUTS) or None;
    ``warm``: after NUTS, where the chains ended (:class:`inference.fit.WarmStart`: a later fit, e.g.
    :func:`inference.fit.update` with a new scan, starts there), else None."""

    draws: xr.Dataset
    method: str
    problems: tuple[str, ...]
    table: object = None
    warm: WarmStart | None = None

    def to_dataset(self) -> xr.Dataset:
        """The posterior as one Dataset that NetCDF can hold (``to_netcdf``): the draws, attrs
        ``method`` and ``problems`` (JSON), and the warm start's variables (``warm_*``). The R-hat /
        ESS table is not kept (recompute it from the draws)."""
        ds = self.draws.copy()
        attrs = {**self.draws.attrs, "method": self.method, "problems": json.dumps(list(self.problems))}
        if self.warm is not None:
            warm = self.warm.to_dataset()
            ds, attrs = ds.merge(warm), attrs | warm.attrs
        ds.attrs = attrs
        return ds

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> Posterior:
        """The :class:`Posterior` that :meth:`to_dataset` wrote (``table`` None)."""
        names = [v for v in ds.data_vars if not str(v).startswith("warm_")]
        draws = ds[names].drop_vars([c for c in ds.coords if c not in ("chain", "draw")])
        draws.attrs = {k: v for k, v in ds.attrs.items() if k in ("method", "patient")}
        problems = tuple(json.loads(ds.attrs.get("problems", "[]")))
        return cls(draws, str(ds.attrs["method"]), problems, None, WarmStart.from_dataset(ds))

    @property
    def ok(self) -> bool:
        return not self.problems

    def samples(self) -> dict[str, np.ndarray]:
        """``{parameter: (chain * draw,)}``: the draws flattened, e.g. for ``scenarios.compare``."""
        return {k: np.asarray(v).reshape(-1) for k, v in self.draws.data_vars.items()}

    def summary(self, level: float = 0.9) -> dict[str, tuple[float, float, float]]:
        """``{parameter: (median, lower, upper)}`` with a central ``level`` interval."""
        q = [0.5, (1 - level) / 2, (1 + level) / 2]
        return {k: tuple(float(x) for x in np.quantile(v, q)) for k, v in self.samples().items()}


def _check(family, observations, priors, errors, method):
    if not isinstance(family, ModelFamily):
        raise TypeError(f"family must be a mechanistic.ModelFamily, got {type(family).__name__}")
    family.check()
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {METHODS}")
    if not isinstance(observations, Observations):
        raise TypeError(f"observations must be inference.Observations, got {type(observations).__name__}")
    if not isinstance(priors, ParameterSpec):
        raise TypeError(f"priors must be an inference.ParameterSpec, got {type(priors).__name__}")
    need = {p.name for p in family.parameters}
    missing = sorted(need - set(priors.names))
    if missing:
        raise ValueError(f"priors give no prior or value for the family's parameters {missing}")
    unknown = sorted(set(observations.observables) - set(family.observables))
    if unknown:
        raise ValueError(f"observables {unknown} are not the family's; it observes {sorted(family.observables)}")
    for name, unit in observations.units.items():
        if name in family.observables and unit != family.observables[name]:
            raise ValueError(f"observations of {name!r} are in {unit!r} but the family observes it in "
                             f"{family.observables[name]!r}: convert them (mechanistic.units.convert)")  # fmt: skip


def calibrate(
    family: ModelFamily,
    observations: Observations,
    priors: ParameterSpec,
    errors: Mapping[str, ErrorModel],
    doses: DoseTable | None = None,
    *,
    key: jax.Array,
    method: str = "laplace",
    t0: float = 0.0,
    draws: int = 1000,
    chains: int = 4,
    warmup: int = 1000,
    samples: int = 1000,
    target_accept: float = 0.95,
) -> Posterior:
    """Calibrate ``family`` to ``observations`` (one patient) under ``doses`` given from ``t0``
    (day) with the ``priors`` (a prior or a fixed value for each of the family's parameters, plus
    the error models' SDs) and ``errors`` (observable -> :mod:`mechanistic.measurement` model).
    ``draws``: Laplace draws (``"laplace"``; one chain); NUTS: ``chains`` x (``warmup`` +
    ``samples``), the twin's defaults (checked on synthetic patients of the flagship by
    ``benchmarks/nuts_replicates.py``). Needs float64. The same ``key`` gives the
    same draws."""
    _check(family, observations, priors, errors, method)
    model = patient_model(family.predict(doses, t0=t0), priors, observations, errors)
    k_map, k_draws, k_nuts = jax.random.split(key, 3)
    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)  # reported as data below
        fit = map_estimate(model, k_map)
    if not fit.converged:
        problems.append(f"MAP did not converge (gradient norm {fit.grad_norm:.3g})")
    units = priors.units
    warm = None
    if method == "laplace":
        values = laplace(model, fit, k_draws, num_samples=draws)
        table = None
        arrays = {k: v[None] for k, v in values.items()}
    else:
        start = laplace(model, fit, k_draws, num_samples=chains, unconstrained=True)
        mcmc = nuts(model, k_nuts, chains=chains, warmup=warmup, samples=samples, init_unconstrained=start,
                    target_accept=target_accept, dense_mass=True)  # fmt: skip
        diagnostics = diagnose(to_inference_data(mcmc, units, log_likelihood=False), warn=False)
        problems += diagnostics.problems
        table, warm = diagnostics.table, warm_start(mcmc)
        arrays = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items() if k in priors.free}
    shape = next(iter(arrays.values())).shape
    for p in priors.parameters:
        if not p.free:
            arrays[p.name] = np.full(shape, float(p.value))
    data = {name: (("chain", "draw"), arrays[name], {"units": units[name]}) for name in priors.names}
    ds = xr.Dataset(data, coords={"chain": np.arange(shape[0]), "draw": np.arange(shape[1])},
                    attrs={"method": method, "patient": observations.patient})  # fmt: skip
    return Posterior(ds, method, tuple(problems), table, warm)
