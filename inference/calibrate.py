"""One entry point: calibrate a model family to one patient's observations.

``calibrate(family, observations, priors, errors, doses, method=..., key=...)`` builds the
patient's numpyro model from the family's simulator, fits it and returns a :class:`Posterior`:
draws as an xarray Dataset ``(chain, draw)`` with units, and the diagnostics as data (no warnings
are raised; the caller decides what a failed check means).

The simulator is the family's :meth:`~mechanistic.ModelFamily.observables_at` with the patient's
doses as data where the family supports it (:meth:`~mechanistic.ModelFamily.solve_inputs`), so
every patient of the same padded sizes reuses one compiled fit (the numpyro model is built once
per equal (family, priors, errors)); otherwise :meth:`~mechanistic.ModelFamily.predict` with the
doses built in.

Methods: ``"laplace"`` (MAP by L-BFGS, then draws from the Gaussian at the MAP on the
unconstrained space; seconds) and ``"nuts"`` (chains started from Laplace draws, dense mass
matrix; the exact posterior, minutes), or a warm-started NUTS run from an earlier one's end
(``warm=``: e.g. after a new scan).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass

import jax
import numpy as np
import xarray as xr

from inference.fit import WarmStart, diagnose, import_arviz, laplace, map_estimate, nuts, update, warm_start
from inference.observations import Observations
from inference.parameters import ParameterSpec
from inference.patient_model import check_family, check_patient, likelihood_model, patient_data
from mechanistic.dosing import DoseTable
from mechanistic.family import ModelFamily
from mechanistic.measurement import ErrorModel

METHODS = ("nuts", "laplace")
INITS = ("laplace", "prior")


@dataclass(frozen=True)
class Posterior:
    """``draws``: every parameter (free and fixed) as ``(chain, draw)`` with a ``units`` attribute;
    ``method``; ``problems``: one line per failed check (Laplace: MAP convergence; NUTS: R-hat, ESS,
    divergences), empty when all pass; ``table``: the per-parameter R-hat / ESS table (NUTS) or None;
    ``warm``: after NUTS, where the chains ended (:class:`inference.fit.WarmStart`: a later
    :func:`calibrate` with ``warm=``, e.g. after a new scan, starts there), else None;
    ``diverging``: after NUTS, ``(chain, draw)`` bool, each draw's divergent transition flag."""

    draws: xr.Dataset
    method: str
    problems: tuple[str, ...]
    table: object = None
    warm: WarmStart | None = None
    diverging: np.ndarray | None = None

    @property
    def free(self) -> tuple[str, ...]:
        """The sampled parameters (those whose draws vary), in the specification's order."""
        return tuple(self.draws.attrs["free"])

    def to_dataset(self) -> xr.Dataset:
        """The posterior as one Dataset that NetCDF can hold (``to_netcdf``): the draws, attrs
        ``method`` and ``problems`` (JSON), and the warm start's variables (``warm_*``). The R-hat /
        ESS table is not kept (recompute it from the draws)."""
        ds = self.draws.copy()
        if self.diverging is not None:
            ds["diverging"] = (("chain", "draw"), np.asarray(self.diverging, dtype=np.int8))
        attrs = {**self.draws.attrs, "method": self.method, "problems": json.dumps(list(self.problems)),
                 "free": json.dumps(list(self.free))}  # fmt: skip
        if self.warm is not None:
            warm = self.warm.to_dataset()
            ds, attrs = ds.merge(warm), attrs | warm.attrs
        ds.attrs = attrs
        return ds

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> Posterior:
        """The :class:`Posterior` that :meth:`to_dataset` wrote (``table`` None)."""
        names = [v for v in ds.data_vars if not str(v).startswith("warm_") and v != "diverging"]
        draws = ds[names].drop_vars([c for c in ds.coords if c not in ("chain", "draw")])
        draws.attrs = {k: v for k, v in ds.attrs.items() if k in ("method", "patient")}
        draws.attrs["free"] = tuple(json.loads(ds.attrs["free"]))
        problems = tuple(json.loads(ds.attrs.get("problems", "[]")))
        diverging = ds["diverging"].values.astype(bool) if "diverging" in ds else None
        return cls(draws, str(ds.attrs["method"]), problems, None, WarmStart.from_dataset(ds), diverging)

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


def _check(family, observations, priors, errors, method, init, warm):
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {METHODS}")
    if init not in INITS:
        raise ValueError(f"init={init!r} is not one of {INITS}")
    if warm is not None and (method != "nuts" or not isinstance(warm, WarmStart)):
        raise ValueError("warm= needs method='nuts' and an inference.fit.WarmStart (Posterior.warm of a NUTS run)")
    if not isinstance(observations, Observations):
        raise TypeError(f"observations must be inference.Observations, got {type(observations).__name__}")
    if not isinstance(priors, ParameterSpec):
        raise TypeError(f"priors must be an inference.ParameterSpec, got {type(priors).__name__}")
    units = {name: observations.units.get(name) for name in observations.observables}
    check_family(family, priors, units, f"patient {observations.patient!r}")


@functools.lru_cache(maxsize=16)
def _shared_likelihood(family: ModelFamily, priors: ParameterSpec, errors: tuple) -> object:
    """The numpyro model of ``family.observables_at``, one object per equal (family, priors,
    errors): the fits take it as a static argument, so a new object per patient would trace them again."""
    return likelihood_model(family.observables_at, priors, dict(errors))


def _model_and_data(family, observations, priors, errors, doses, t0):
    """``(numpyro model, PatientData)`` of one patient (see the module docstring)."""
    check_patient(priors, observations, errors)
    inputs = family.solve_inputs(doses, observations.times, t0=t0)
    if inputs is None:  # the doses are built into the simulator
        predict = family.predict(doses, t0=t0)
        model = likelihood_model(lambda params, times, _: predict(params, times), priors, errors)
    else:
        try:
            model = _shared_likelihood(family, priors, tuple(sorted(errors.items())))
        except TypeError:  # an unhashable family or error model: a model of its own
            model = likelihood_model(family.observables_at, priors, errors)
    return model, patient_data(observations, inputs)


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
    chains: int = 4,
    warmup: int = 1000,
    samples: int = 1000,
    target_accept: float = 0.95,
    dense_mass: bool = True,
    init: str = "laplace",
    warm: WarmStart | None = None,
    restarts: int = 2,
) -> Posterior:
    """Calibrate ``family`` to ``observations`` (one patient) under ``doses`` given from ``t0``
    (day) with the ``priors`` (a prior or a fixed value for each of the family's parameters, plus
    the error models' SDs) and ``errors`` (observable -> :mod:`mechanistic.measurement` model).

    ``"laplace"``: ``chains`` x ``samples`` independent draws of the Gaussian at the MAP (L-BFGS
    from ``restarts`` starts), shaped like NUTS output. ``"nuts"``: ``chains`` x (``warmup`` +
    ``samples``), ``target_accept``, ``dense_mass`` (a full mass matrix), chains started from
    Laplace draws (``init="laplace"``; numpyro's default starts where the Hessian at the MAP is
    not positive definite) or the prior medians (``"prior"``); the defaults are the twin's, checked
    on synthetic patients of the flagship by ``benchmarks/nuts_replicates.py``. ``warm``: a NUTS
    run continued from an earlier one's end (its step size and mass matrix; ``warmup`` re-tunes
    the step size only), e.g. after a new scan. Checks: R-hat <= 1.01, bulk and tail ESS >= 100 per
    chain, no divergences. Needs float64. The same ``key`` gives the same draws (MAP starts and
    NUTS from ``key``, Laplace draws from ``fold_in(key, 1)``)."""
    _check(family, observations, priors, errors, method, init, warm)
    model, data = _model_and_data(family, observations, priors, errors, doses, t0)
    args = (data,)
    problems, table, warm_end, diverging = [], None, None, None
    if method == "laplace":
        fit = map_estimate(model, key, model_args=args, restarts=restarts, warn=False)
        problems += [fit.problem] if fit.problem else []
        values = _laplace_draws(model, fit, key, args, chains * samples, unconstrained=False)
        arrays = {k: np.asarray(values[k]).reshape(chains, samples) for k in priors.free}
    else:
        if warm is not None:
            mcmc = update(model, warm, key, warmup=warmup, samples=samples, target_accept=target_accept,
                          model_args=args)  # fmt: skip
        else:
            starts = None
            if init == "laplace":
                fit = map_estimate(model, key, model_args=args, restarts=restarts, warn=False)
                try:
                    starts = _laplace_draws(model, fit, key, args, chains, unconstrained=True)
                except ValueError:  # the Hessian at the MAP is not positive definite
                    starts = None
            mcmc = nuts(model, key, model_args=args, chains=chains, warmup=warmup, samples=samples,
                        target_accept=target_accept, dense_mass=dense_mass, init_unconstrained=starts)  # fmt: skip
        arrays = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items() if k in priors.free}
        diverging = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["diverging"], dtype=bool)
        warm_end = warm_start(mcmc)
    shape = next(iter(arrays.values())).shape
    for p in priors.parameters:
        if not p.free:
            arrays[p.name] = np.full(shape, float(p.value))
    units = priors.units
    data_vars = {name: (("chain", "draw"), arrays[name], {"units": units[name]}) for name in priors.names}
    ds = xr.Dataset(data_vars, coords={"chain": np.arange(shape[0]), "draw": np.arange(shape[1])},
                    attrs={"method": method, "patient": observations.patient, "free": priors.free})  # fmt: skip
    if method == "nuts":
        table, nuts_problems = _nuts_diagnostics(ds[list(priors.free)], diverging, min_ess=100.0 * shape[0])
        problems += nuts_problems
    return Posterior(ds, method, tuple(problems), table, warm_end, diverging)


def _laplace_draws(model, fit, key, args, n: int, *, unconstrained: bool) -> dict:
    return laplace(model, fit, jax.random.fold_in(key, 1), model_args=args, num_samples=n, unconstrained=unconstrained)


def _nuts_diagnostics(free: xr.Dataset, diverging: np.ndarray, *, min_ess: float) -> tuple[object, list[str]]:
    """The R-hat / ESS table and the failed checks of NUTS draws (free parameters, ``(chain, draw)``)."""
    az = import_arviz()
    stats = xr.Dataset({"diverging": (("chain", "draw"), diverging)}, coords=free.coords)
    diagnostics = diagnose(az.InferenceData(posterior=free, sample_stats=stats), min_ess=min_ess, warn=False)
    return diagnostics.table, list(diagnostics.problems)
