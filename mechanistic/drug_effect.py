"""Drug effect on tumour clones as a function of drug concentrations.

An effect maps concentrations ``C (n_drugs,)`` to a per-clone effect ``E (n_clones,)``.
:class:`EmaxEffect` and :class:`LinearEffect` sum over drugs (effect additivity; parameters of
shape ``(n_clones, n_drugs)``, an entry of zero ``emax`` / ``slope`` means "this drug does not
act on this clone"); :class:`CombinationEffect` takes the effect of every combination from a
table (e.g. a signalling network's) and interpolates between them. Each effect is linear in its
``scale`` and gives its ``unit`` effect (scale 1) from concentrations alone, which the Lawson
solver integrates once for every patient sharing the PK.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.checks import check_range, concrete


def emax_fraction(conc: jax.Array, ec50: jax.Array, hill: jax.Array) -> jax.Array:
    """``C^hill / (ec50^hill + C^hill)`` for ``conc (n_drugs,)`` against ``ec50``, ``hill``
    ``(n_clones, n_drugs)`` (negative concentrations read as 0)."""
    c = jnp.maximum(conc, 0.0)
    unit_hill = concrete(hill)
    if unit_hill is not None and np.all(unit_hill == 1.0):  # skip the power (exp-log) of hill 1
        return c / (ec50 + c)
    ch = c**hill
    return ch / (ec50**hill + ch)


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
        return emax_fraction(conc, self.ec50, self.hill)

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


MAX_COMBINATION_DRUGS = 10  # the corner table has 2^n_drugs columns per clone


class CombinationEffect(eqx.Module):
    """The effect of drugs given together, interpolated between the corners of the drug cube.

    ``efficacy (n_clones, 2^n_drugs)`` gives the effect (relative to ``emax``) when exactly the
    drugs of a subset act fully: column ``S`` is the bitmask of the subset (bit ``d`` = drug ``d``;
    column 0, no drug, must be 0), e.g. from a signalling network's quasi-steady state at
    saturating levels of those drugs. Between corners each drug acts with its own Emax fraction
    ``h = C^hill / (C^hill + ec50^hill)`` (``ec50``, ``hill``: ``(n_clones, n_drugs)``) and the
    corners are weighted multilinearly (as a HillCube interpolates a Boolean function; Wittmann et
    al., BMC Syst Biol 2009)::

        E(C) = emax * sum_S efficacy[S] * prod_{d in S} h_d * prod_{d not in S} (1 - h_d)

    One drug alone gives ``emax * efficacy[{d}] * h_d``, the single-drug Emax model; a pair whose
    members do nothing alone but everything together (a bypass blocked only by both) gives ``emax *
    h_1 * h_2``. ``emax`` (1/day for a kill rate) has shape ``(n_clones,)``.
    """

    emax: jax.Array
    efficacy: jax.Array
    ec50: jax.Array
    hill: jax.Array

    def __init__(self, emax, efficacy, ec50, hill=1.0):
        self.efficacy = jnp.asarray(efficacy, dtype=float)
        self.ec50 = jnp.asarray(ec50, dtype=float)
        n, d = self.ec50.shape
        if not 1 <= d <= MAX_COMBINATION_DRUGS:
            raise ValueError(f"CombinationEffect: {d} drugs; between 1 and {MAX_COMBINATION_DRUGS} are supported")
        if self.efficacy.shape != (n, 2**d):
            raise ValueError(
                f"CombinationEffect: efficacy must have shape (n_clones, 2^n_drugs) = {(n, 2**d)}; "
                f"got {self.efficacy.shape}"
            )
        self.emax = jnp.broadcast_to(jnp.asarray(emax, dtype=float), (n,))
        self.hill = jnp.broadcast_to(jnp.asarray(hill, dtype=float), (n, d))
        check_range("CombinationEffect", "emax", self.emax, 0.0, strict=False)
        check_range("CombinationEffect", "ec50", self.ec50, 0.0, strict=True)
        check_range("CombinationEffect", "hill", self.hill, 0.0, strict=True)
        none = concrete(self.efficacy)
        if none is not None and np.any(none[:, 0] != 0.0):
            raise ValueError(f"CombinationEffect: the no-drug column efficacy[:, 0] must be 0; got {none[:, 0]}")

    @property
    def n_drugs(self) -> int:
        return self.ec50.shape[-1]

    @property
    def scale(self) -> jax.Array:
        """The factor the effect is linear in: ``emax`` as ``(n_clones, 1)``."""
        return self.emax[:, None]

    def fractions(self, conc: jax.Array) -> jax.Array:
        """Each drug's Emax fraction ``h``, shape ``(n_clones, n_drugs)``, for ``conc (n_drugs,)`` (mg/L)."""
        return emax_fraction(conc, self.ec50, self.hill)

    def unit(self, conc: jax.Array) -> jax.Array:
        """The effect with ``emax`` 1, shape ``(n_clones, 1)``, for ``conc (n_drugs,)``."""
        h = self.fractions(conc)
        weights = jnp.ones((h.shape[0], 1))
        for d in range(self.n_drugs):  # column S = sum of 2^d over the drugs d in S
            weights = jnp.concatenate([weights * (1.0 - h[:, d : d + 1]), weights * h[:, d : d + 1]], axis=1)
        return jnp.sum(self.efficacy * weights, axis=1, keepdims=True)

    def __call__(self, conc: jax.Array) -> jax.Array:
        return self.emax * self.unit(conc)[:, 0]
