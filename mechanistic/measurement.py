"""Measurement (residual error) models: how an observation scatters around the model's prediction.

The one definition used both ways: ``inference``'s likelihoods (:meth:`log_likelihood`) and the
virtual trials' scan noise (:meth:`sample`). Each model names the parameters that hold its
standard deviations (looked up in a ``params`` mapping) and gives per-row log-likelihoods; a
left-censored row (value below detection) contributes ``log P(Y < limit)``. ``censored=None``
says that no row is censored and skips that branch (its log-CDF costs more than the rest of the
likelihood's gradient).

- :class:`Proportional`: ``log y ~ Normal(log f, sigma)`` (log-normal; ``sigma`` ~ the CV).
- :class:`Combined`: ``y ~ Normal(f, sqrt(additive^2 + (proportional f)^2))``.
"""

from __future__ import annotations

from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.stats import norm

_TINY = 1e-300


class Proportional(eqx.Module):
    """Log-normal error with log-scale SD parameter ``sigma`` (a parameter name)."""

    sigma: str = eqx.field(static=True)

    @property
    def parameters(self) -> tuple[str, ...]:
        return (self.sigma,)

    def log_likelihood(
        self, params: Mapping, pred: jax.Array, value: jax.Array, censored: jax.Array | None
    ) -> jax.Array:
        s = params[self.sigma]
        mu = jnp.log(jnp.maximum(pred, _TINY))
        z = (jnp.log(jnp.maximum(value, _TINY)) - mu) / s
        observed = norm.logpdf(z) - jnp.log(s) - jnp.log(jnp.maximum(value, _TINY))
        return observed if censored is None else jnp.where(censored, norm.logcdf(z), observed)

    def sample(self, key, params: Mapping, pred: jax.Array) -> jax.Array:
        return pred * jnp.exp(params[self.sigma] * jax.random.normal(key, jnp.shape(pred)))


class Combined(eqx.Module):
    """Normal error with SD ``sqrt(additive^2 + (proportional * f)^2)`` (parameter names)."""

    additive: str = eqx.field(static=True)
    proportional: str = eqx.field(static=True)

    @property
    def parameters(self) -> tuple[str, ...]:
        return (self.additive, self.proportional)

    def _sd(self, params, pred):
        return jnp.sqrt(params[self.additive] ** 2 + (params[self.proportional] * pred) ** 2)

    def log_likelihood(
        self, params: Mapping, pred: jax.Array, value: jax.Array, censored: jax.Array | None
    ) -> jax.Array:
        sd = self._sd(params, pred)
        z = (value - pred) / sd
        observed = norm.logpdf(z) - jnp.log(sd)
        return observed if censored is None else jnp.where(censored, norm.logcdf(z), observed)

    def sample(self, key, params: Mapping, pred: jax.Array) -> jax.Array:
        return pred + self._sd(params, pred) * jax.random.normal(key, jnp.shape(pred))


ErrorModel = Proportional | Combined
