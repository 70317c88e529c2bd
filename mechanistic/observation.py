"""Maps from the model state to what is measured.

Volumes in mm^3, diameters in mm, concentrations in mg/L. Functions act on the last axis
(clones) and broadcast over leading time/batch axes.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def total_volume(clones: jax.Array) -> jax.Array:
    """Tumour burden (mm^3): the sum over the clone axis of ``clones (..., n_clones)``."""
    return jnp.sum(clones, axis=-1)


def longest_diameter(volume: jax.Array) -> jax.Array:
    """Diameter (mm) of a sphere of ``volume`` (mm^3): ``(6 V / pi)^(1/3)``."""
    return (6.0 * jnp.maximum(volume, 0.0) / math.pi) ** (1.0 / 3.0)


def sum_of_diameters(volume: jax.Array, n_lesions: int = 1) -> jax.Array:
    """RECIST sum of longest diameters (mm) of ``n_lesions`` equal spheres sharing ``volume``."""
    if n_lesions < 1:
        raise ValueError(f"n_lesions={n_lesions!r} must be >= 1")
    return n_lesions * longest_diameter(volume / n_lesions)


def resistant_fraction(clones: jax.Array, resistant) -> jax.Array:
    """Fraction of the burden in the clones flagged ``resistant (n_clones,)`` (bool)."""
    mask = jnp.asarray(resistant, dtype=bool)
    if mask.shape[-1:] != clones.shape[-1:]:
        raise ValueError(f"resistant has {mask.shape[-1]} flags but there are {clones.shape[-1]} clones")
    total = total_volume(clones)
    return jnp.sum(jnp.where(mask, clones, 0.0), axis=-1) / jnp.where(total > 0, total, 1.0)


def variant_allele_fraction(clones: jax.Array, resistant, tumour_fraction=1.0, allele_fraction=0.5) -> jax.Array:
    """VAF a ctDNA assay would report for the resistance variant.

    ``tumour_fraction``: share of cell-free DNA shed by the tumour (0..1);
    ``allele_fraction``: variant copies per tumour cell's alleles (0.5 = heterozygous).
    """
    return allele_fraction * tumour_fraction * resistant_fraction(clones, resistant)
