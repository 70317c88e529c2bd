"""A numpyro model generated from (simulator, parameter specification, one patient's observations).

``predict(params, times) -> {observable: predictions (T,)}`` is any JAX function of the parameter
dict and the sorted unique observation times (day), e.g. a wrapper around
:func:`mechanistic.solve`. The generated model draws the free parameters from their priors and
adds each observable's log-likelihood (with censoring) as a ``numpyro.factor`` named
``loglik_<observable>``. Users who need more can write their own numpyro model around ``predict``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax.numpy as jnp
import numpy as np
import numpyro

from inference.error_models import ErrorModel
from inference.observations import Observations
from inference.parameters import ParameterSpec

Predict = Callable[[dict, "jnp.ndarray"], Mapping[str, "jnp.ndarray"]]


def patient_model(
    predict: Predict, spec: ParameterSpec, observations: Observations, errors: Mapping[str, ErrorModel]
) -> Callable[[], None]:
    """The numpyro model of one patient (a function of no arguments)."""
    unmatched = [o for o in observations.observables if o not in errors]
    if unmatched:
        raise ValueError(
            f"patient {observations.patient!r}: observations of {unmatched} have no error model; "
            f"error models are given for {sorted(errors)}"
        )
    for name, err in errors.items():
        missing = [p for p in err.parameters if p not in spec.names]
        if missing:
            raise ValueError(
                f"error model of {name!r} uses parameter(s) {missing} not in the specification {spec.names}"
            )
    times = jnp.asarray(observations.times)
    index = np.searchsorted(observations.times, observations.time)
    groups = {}
    for name in observations.observables:
        rows = np.flatnonzero(np.asarray(observations.observable) == name)
        groups[name] = (index[rows], jnp.asarray(observations.value[rows]), jnp.asarray(observations.censored[rows]))

    def model():
        params = spec.sample()
        preds = predict(params, times)
        for name, (idx, value, censored) in groups.items():
            if name not in preds:
                raise ValueError(f"predict returned {sorted(preds)} but the observations need {name!r}")
            ll = errors[name].log_likelihood(params, preds[name][idx], value, censored)
            numpyro.factor(f"loglik_{name}", jnp.sum(ll))

    return model
