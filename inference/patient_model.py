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

import jax
import jax.numpy as jnp
import numpy as np
import numpyro

from inference.error_models import ErrorModel, Proportional
from inference.fit import CalibrationWarning
from inference.observations import Observations
from inference.parameters import ParameterSpec
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


def patient_model(
    predict: Predict, spec: ParameterSpec, observations: Observations, errors: Mapping[str, ErrorModel]
) -> Callable[[], None]:
    """The numpyro model of one patient (a function of no arguments). Needs float64
    (``mechanistic.Float64Required`` otherwise)."""
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
            f"{who} has a single scan (day {observations.times[0]:g}): {advice}", CalibrationWarning, stacklevel=2
        )
    times = jnp.asarray(observations.times)
    index = np.searchsorted(observations.times, observations.time)
    groups = {}
    for name in observations.observables:
        rows = np.flatnonzero(np.asarray(observations.observable) == name)
        groups[name] = (index[rows], jnp.asarray(observations.value[rows]), jnp.asarray(observations.censored[rows]))

    # jitted so that numpyro's eager passes (initialisation, predictive draws, ArviZ's pointwise
    # log-likelihood) run one compiled solve instead of dispatching the solver op by op
    predict_compiled = jax.jit(predict)

    def model():
        params = spec.sample()
        preds = predict_compiled(params, times)
        for name, (idx, value, censored) in groups.items():
            if name not in preds:
                raise ValueError(f"predict returned {sorted(preds)} but the observations need {name!r}")
            ll = errors[name].log_likelihood(params, preds[name][idx], value, censored)
            numpyro.factor(f"loglik_{name}", jnp.sum(ll))

    return model
