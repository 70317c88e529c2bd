"""Drug effect on tumour clones as a function of drug concentrations.

An effect maps concentrations ``C (n_drugs,)`` to a per-clone effect ``E (n_clones,)``,
summing over drugs (effect additivity). Parameters have shape ``(n_clones, n_drugs)``;
an entry of zero ``emax`` / ``slope`` means "this drug does not act on this clone".
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.checks import check_range, concrete


class EmaxEffect(eqx.Module):
    """``E = sum_d emax * C^hill / (ec50^hill + C^hill)``.

    ``emax``: maximal effect (1/day for a kill rate; dimensionless for growth inhibition),
    ``ec50``: concentration of half effect (mg/L), ``hill``: steepness (dimensionless).
    Each of shape ``(n_clones, n_drugs)``.
    """

    emax: jax.Array
    ec50: jax.Array
    hill: jax.Array

    def __init__(self, emax, ec50, hill=1.0):
        self.emax = jnp.asarray(emax, dtype=float)
        self.ec50 = jnp.broadcast_to(jnp.asarray(ec50, dtype=float), self.emax.shape)
        self.hill = jnp.broadcast_to(jnp.asarray(hill, dtype=float), self.emax.shape)
        if self.emax.ndim != 2 and concrete(self.emax) is not None:
            raise ValueError(f"EmaxEffect: emax must have shape (n_clones, n_drugs); got {self.emax.shape}")
        check_range("EmaxEffect", "emax", self.emax, 0.0, strict=False)
        check_range("EmaxEffect", "ec50", self.ec50, 0.0, strict=True)
        check_range("EmaxEffect", "hill", self.hill, 0.0, strict=True)

    @property
    def n_drugs(self) -> int:
        return self.emax.shape[-1]

    @property
    def scale(self) -> jax.Array:
        """The factor the effect is linear in: ``emax`` ``(n_clones, n_drugs)``."""
        return self.emax

    def unit(self, conc: jax.Array) -> jax.Array:
        """Per clone and drug, the effect with ``scale`` 1: ``C^h / (ec50^h + C^h)``, shape
        ``(n_clones, n_drugs)`` for ``conc (n_drugs,)``."""
        c = jnp.maximum(conc, 0.0)
        unit_hill = concrete(self.hill)
        if unit_hill is not None and np.all(unit_hill == 1.0):  # skip the power (exp-log) of hill 1
            return c / (self.ec50 + c)
        ch = c**self.hill
        return ch / (self.ec50**self.hill + ch)

    def __call__(self, conc: jax.Array) -> jax.Array:
        return jnp.sum(self.scale * self.unit(conc), axis=-1)


class LinearEffect(eqx.Module):
    """``E = sum_d slope * C`` with ``slope`` of shape ``(n_clones, n_drugs)`` (effect per mg/L)."""

    slope: jax.Array

    def __init__(self, slope):
        self.slope = jnp.asarray(slope, dtype=float)
        if self.slope.ndim != 2 and concrete(self.slope) is not None:
            raise ValueError(f"LinearEffect: slope must have shape (n_clones, n_drugs); got {self.slope.shape}")
        check_range("LinearEffect", "slope", self.slope, 0.0, strict=False)

    @property
    def n_drugs(self) -> int:
        return self.slope.shape[-1]

    @property
    def scale(self) -> jax.Array:
        """The factor the effect is linear in: ``slope`` ``(n_clones, n_drugs)``."""
        return self.slope

    def unit(self, conc: jax.Array) -> jax.Array:
        """Per clone and drug, the effect with ``scale`` 1: the concentration, ``(n_clones, n_drugs)``."""
        return jnp.broadcast_to(conc, self.slope.shape)

    def __call__(self, conc: jax.Array) -> jax.Array:
        return jnp.sum(self.slope * conc, axis=-1)
