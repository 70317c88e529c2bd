"""The Stein bi-exponential tumour-size model in closed form (Stein et al. 2008, 2011).

``SLD(t) = baseline * (exp(-shrinkage_rate t) + exp(growth_rate t) - 1)``: a treated,
sensitive part that decays and a resistant part that regrows; ``t`` in days since the start
of treatment, rates in 1/day, ``baseline`` sum of longest diameters (mm).
"""

from __future__ import annotations

from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp

from mechanistic.checks import check_range


class SteinBiexponential(eqx.Module):
    baseline: jax.Array  # mm
    growth_rate: jax.Array  # 1/day (kg)
    shrinkage_rate: jax.Array  # 1/day (ks)

    def __check_init__(self):
        for name in ("baseline", "growth_rate", "shrinkage_rate"):
            check_range("SteinBiexponential", name, getattr(self, name), 0.0, strict=False)

    def __call__(self, t: jax.Array) -> jax.Array:
        """Sum of longest diameters (mm) at ``t`` (day, any shape; clipped at 0)."""
        t = jnp.maximum(jnp.asarray(t, dtype=float), 0.0)
        return self.baseline * (jnp.exp(-self.shrinkage_rate * t) + jnp.exp(self.growth_rate * t) - 1.0)

    def nadir_time(self) -> jax.Array:
        """Time (day) of the minimum: ``log(ks / kg) / (ks + kg)`` when ks > kg, else 0."""
        ks, kg = self.shrinkage_rate, self.growth_rate
        ratio = jnp.where(kg > 0, ks / jnp.where(kg > 0, kg, 1.0), jnp.inf)
        return jnp.where(ratio > 1, jnp.log(ratio) / (ks + kg), 0.0)


def stein_size(params: Mapping[str, jax.Array], times: jax.Array) -> jax.Array:
    """Stein SLD (mm) at ``times`` (day) for parameters named ``baseline`` (mm), ``growth_rate``
    and ``shrinkage_rate`` (1/day): the model as a function of named parameters, as calibration
    and virtual trials call it."""
    return SteinBiexponential(params["baseline"], params["growth_rate"], params["shrinkage_rate"])(times)
