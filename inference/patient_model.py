"""A numpyro model generated from (simulator, parameter specification, one patient's observations).

``predict(params, times) -> {observable: predictions (T,)}`` is any JAX function of the parameter
dict and the sorted unique observation times (day), e.g. a wrapper around
:func:`mechanistic.solve`. The generated model draws the free parameters from their priors and
adds each observable's log-likelihood (with censoring) as a ``numpyro.factor`` named
``loglik_<observable>``. Users who need more can write their own numpyro model around ``predict``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro

from inference.fit import CalibrationWarning
from inference.observations import Observations
from inference.parameters import ParameterSpec
from mechanistic.buckets import bucket, pad_repeating_last
from mechanistic.family import ModelFamily
from mechanistic.measurement import ErrorModel, Proportional
from mechanistic.precision import require_float64

Predict = Callable[[dict, "jnp.ndarray"], Mapping[str, "jnp.ndarray"]]


def check_error_models(spec: ParameterSpec, observables, errors: Mapping[str, ErrorModel], who: str) -> None:
    """Every observable has an error model whose parameters are in the specification."""
    unmatched = [o for o in observables if o not in errors]
    if unmatched:
        raise ValueError(
            f"{who}: observations of {unmatched} have no error model; error models are given for {sorted(errors)}"
        )
    for name, err in errors.items():
        missing = [p for p in err.parameters if p not in spec.names]
        if missing:
            raise ValueError(
                f"error model of {name!r} uses parameter(s) {missing} not in the specification {spec.names}"
            )


def check_family(family, spec: ParameterSpec, units: Mapping[str, str], who: str) -> None:
    """``family`` is a valid :class:`mechanistic.ModelFamily` whose parameters ``spec`` covers and
    which observes every observable of ``units`` (observable -> unit of the data, None: not given)
    in that unit."""
    if not isinstance(family, ModelFamily):
        raise TypeError(f"family must be a mechanistic.ModelFamily, got {type(family).__name__}")
    family.check()
    missing = sorted({p.name for p in family.parameters} - set(spec.names))
    if missing:
        raise ValueError(f"priors give no prior or value for the family's parameters {missing}")
    unknown = sorted(set(units) - set(family.observables))
    if unknown:
        raise ValueError(f"{who}: observables {unknown} are not the family's; it observes {sorted(family.observables)}")
    for name, unit in units.items():
        if unit is not None and unit != family.observables[name]:
            raise ValueError(f"{who}: observations of {name!r} are in {unit!r} but the family observes it in "
                             f"{family.observables[name]!r}: convert them (mechanistic.units.convert)")  # fmt: skip


def check_values(err: ErrorModel, name: str, value, censored, time, who: str) -> None:
    """A log-normal (proportional) error model needs positive measured values."""
    if isinstance(err, Proportional):
        bad = np.flatnonzero((np.asarray(value) <= 0) & ~np.asarray(censored))
        if bad.size:
            i = bad[0]
            raise ValueError(
                f"{who}: {name} = {value[i]:g} at day {time[i]:g} is not positive, which a proportional "
                "(log-normal) error model cannot explain; mark it below detection (censored) or use Combined"
            )


class PatientData(NamedTuple):
    """One patient's record as arrays: the argument of a model from :func:`patient_model_and_data`.

    ``times (T,)``: the sorted unique observation times (day), padded by repeating the last;
    ``groups``: per observable, ``(index into times, value, censored, weight)``, each ``(N,)``
    (weight 1 for a measurement, 0 for padding); ``inputs``: what ``predict`` needs besides the
    parameters and times (e.g. doses), or None."""

    times: jax.Array
    groups: dict
    inputs: Any = None


def patient_data(observations: Observations, inputs: Any = None, *, padded: bool = True) -> PatientData:
    """The arrays of ``observations``; ``padded``: lengths rounded up to ``mechanistic.bucket``
    sizes, so that patients with similar numbers of scans share compiled programs."""
    times = np.asarray(observations.times, dtype=float)
    size = (lambda n: bucket(n, minimum=4)) if padded else (lambda n: n)
    index = np.searchsorted(times, observations.time)
    groups = {}
    for name in observations.observables:
        rows = np.flatnonzero(np.asarray(observations.observable) == name)
        pad = size(rows.size) - rows.size
        groups[name] = (
            jnp.asarray(np.pad(index[rows], (0, pad))),
            jnp.asarray(np.pad(observations.value[rows], (0, pad), mode="edge")),
            jnp.asarray(np.pad(observations.censored[rows], (0, pad))),
            jnp.asarray(np.pad(np.ones(rows.size), (0, pad))),
        )
    return PatientData(jnp.asarray(pad_repeating_last(times, size(times.size))), groups, inputs)


def check_patient(spec: ParameterSpec, observations: Observations, errors: Mapping[str, ErrorModel]) -> None:
    """Float64 is on, every observable has an error model whose parameters the specification has,
    values suit their error models; a single scan warns (a vague prior stays vague)."""
    who = f"patient {observations.patient!r}"
    require_float64("inference.patient_model", who)
    check_error_models(spec, observations.observables, errors, who)
    for name, err in errors.items():
        rows = np.asarray(observations.observable) == name
        check_values(err, name, observations.value[rows], observations.censored[rows], observations.time[rows], who)
    if len(observations.times) < 2:
        from_population = any(p.source.startswith("population posterior") for p in spec.parameters)
        advice = (
            "its posterior will stay close to the population prior it is given"
            if from_population
            else "give it a population prior (inference.population_prior) "
            "rather than a vague one, or the prediction will be as wide as the prior"
        )
        warnings.warn(
            f"{who} has a single scan (day {observations.times[0]:g}): {advice}", CalibrationWarning, stacklevel=3
        )


def likelihood_model(
    predict: Callable, spec: ParameterSpec, errors: Mapping[str, ErrorModel]
) -> Callable[[PatientData], None]:
    """The numpyro model as a function of a patient's :class:`PatientData` (prior of ``spec``,
    likelihood of ``errors``), as :func:`patient_model_and_data` builds it. The fits take the model
    as a static argument: build it once per (predict, spec, errors) and reuse it for every patient,
    or each new function object traces the fits again (compiled programs may still come from the
    persistent cache, but tracing costs seconds)."""
    # jitted so that numpyro's eager passes (initialisation, predictive draws, ArviZ's pointwise
    # log-likelihood) run one compiled solve instead of dispatching the solver op by op
    predict_compiled = jax.jit(predict)

    def model(data: PatientData):
        params = spec.sample()
        preds = predict_compiled(params, data.times, data.inputs)
        for name, (idx, value, censored, weight) in data.groups.items():
            if name not in preds:
                raise ValueError(f"predict returned {sorted(preds)} but the observations need {name!r}")
            ll = errors[name].log_likelihood(params, preds[name][idx], value, censored)
            numpyro.factor(f"loglik_{name}", jnp.sum(jnp.where(weight > 0, ll, 0.0)))

    return model


def patient_model(
    predict: Predict, spec: ParameterSpec, observations: Observations, errors: Mapping[str, ErrorModel]
) -> Callable[[], None]:
    """The numpyro model of one patient (a function of no arguments: the data are built in). Needs
    float64 (``mechanistic.Float64Required`` otherwise). To reuse compiled fits across patients,
    see :func:`patient_model_and_data`."""
    check_patient(spec, observations, errors)
    model = likelihood_model(lambda params, times, _: predict(params, times), spec, errors)
    return partial(model, patient_data(observations, padded=False))


def patient_model_and_data(
    predict: Callable, spec: ParameterSpec, observations: Observations, errors: Mapping[str, ErrorModel],
    inputs: Any = None,
) -> tuple[Callable[[PatientData], None], PatientData]:  # fmt: skip
    """``(model, data)``: the numpyro model as a function of the patient's :class:`PatientData`
    (padded to bucketed sizes) and those data. ``predict(params, times, inputs)`` gets the padded
    times and ``inputs`` as traced arrays. Pass ``model_args=(data,)`` to
    :func:`inference.map_estimate`, :func:`inference.laplace` and :func:`inference.nuts`: another
    patient with data of the same sizes then runs the same compiled programs (with the same model
    object: see :func:`likelihood_model`)."""
    check_patient(spec, observations, errors)
    return likelihood_model(predict, spec, errors), patient_data(observations, inputs)
