"""Drug effect on tumour clones as a function of drug concentrations.

An effect maps concentrations ``C (n_drugs,)`` to a per-clone effect ``E (n_clones,)``,
summing over drugs (effect additivity). Parameters have shape ``(n_clones, n_drugs)``;
an entry of zero ``emax`` / ``slope`` means "this drug does not act on this clone".
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from mechanistic._checks import check_range, concrete


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

    def __call__(self, conc: jax.Array) -> jax.Array:
        c = jnp.maximum(conc, 0.0)
        ch = c**self.hill
        return jnp.sum(self.emax * ch / (self.ec50**self.hill + ch), axis=-1)


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

    def __call__(self, conc: jax.Array) -> jax.Array:
        return jnp.sum(self.slope * conc, axis=-1)
