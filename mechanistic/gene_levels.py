"""Personalising a network by gene copy numbers and expression levels (beyond point mutations).

A :class:`GeneLevel` row gives one measurement for one gene (a network node): an absolute copy
number, a copy-number log2 ratio (tumour / normal), or an expression z-score (against a reference
cohort). It changes the node's activity gain (:class:`~mechanistic.network.Perturbation` ``gain``),
which multiplies the node's activation-to-inactivation rate ratio: a node relaxing to ``B = a / (a + d)``
relaxes, with gain ``g``, to ``g a / (g a + d) = g B / (1 + (g - 1) B)``. This is how PROFILE
personalises logical models with continuous data, by scaling each node's activation and inactivation
rates with its normalised expression (Béal et al., Front Physiol 2019;9:1965), carried over to the
continuous logic here. The formulas:

- copy number ``c`` (ploidy ``p``, default 2): ``g = (c / p)^DOSAGE_EXPONENT``; ``c = 0`` (homozygous
  deletion) is a loss of function (``Perturbation.loss = 1``). ``DOSAGE_EXPONENT = 1``: expression follows
  copy number (positive dosage effect for 99 % of abundantly expressed genes, Fehrmann et al., Nat Genet
  2015;47:115; a positive linear influence for most genes across 1,025 cell lines and 9,159 tumours, Shao
  et al., BMC Med Genet 2019;20:175), and activity is taken proportional to protein amount (illustrative);
- log2 ratio ``r``: the same with ``c / p = 2^r``;
- expression z-score ``z``: normalised to ``v = Phi(z)`` in (0, 1) (the normal CDF, PROFILE's "set between
  0 and 1") and ``g = EXPRESSION_FOLD^(2 v - 1)``, so ``g`` runs from ``1 / EXPRESSION_FOLD`` to
  ``EXPRESSION_FOLD`` with ``g = 1`` at the cohort mean; ``EXPRESSION_FOLD = 10`` is illustrative.

One measurement per gene: expression already reflects copy number, so give the one you trust. Do not
list an amplification both here and as a mutation (``VariantEffect`` "amplification"): the gains
multiply.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from mechanistic.mutations import Personalisation
from mechanistic.network import SignallingNetwork

DOSAGE_EXPONENT = 1.0
EXPRESSION_FOLD = 10.0
MEASUREMENTS: tuple[str, ...] = ("copy_number", "log2_ratio", "expression_z")


@dataclass(frozen=True)
class GeneLevel:
    """One gene's measured level: exactly one of ``copy_number`` (copies, >= 0), ``log2_ratio``
    (tumour / normal) or ``expression_z`` (z-score against a reference cohort). ``node``: the network
    node it acts on (default: the gene's own node); ``ploidy``: the normal copy number."""

    gene: str
    copy_number: float | None = None
    log2_ratio: float | None = None
    expression_z: float | None = None
    node: str | None = None
    ploidy: float = 2.0

    def __post_init__(self):
        given = [name for name in MEASUREMENTS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"GeneLevel {self.gene!r}: give exactly one of {MEASUREMENTS}; got {given or 'none'}")
        value = getattr(self, given[0])
        if not math.isfinite(value):
            raise ValueError(f"GeneLevel {self.gene!r}: {given[0]}={value!r} must be finite")
        if self.copy_number is not None and self.copy_number < 0:
            raise ValueError(f"GeneLevel {self.gene!r}: copy_number={self.copy_number!r} must be >= 0")
        if not (math.isfinite(self.ploidy) and self.ploidy > 0):
            raise ValueError(f"GeneLevel {self.gene!r}: ploidy={self.ploidy!r} must be > 0")

    @property
    def target(self) -> str:
        return self.node or self.gene

    @property
    def deleted(self) -> bool:
        """Homozygous deletion (copy number 0)."""
        return self.copy_number == 0

    @property
    def gain(self) -> float:
        """The activity gain (module docstring); 1 for a deleted gene (its loss acts instead)."""
        if self.expression_z is not None:
            v = 0.5 * (1.0 + math.erf(self.expression_z / math.sqrt(2.0)))
            return EXPRESSION_FOLD ** (2.0 * v - 1.0)
        if self.deleted:
            return 1.0
        ratio = 2.0**self.log2_ratio if self.log2_ratio is not None else self.copy_number / self.ploidy
        return ratio**DOSAGE_EXPONENT


def apply_gene_levels(
    network: SignallingNetwork, personalisation: Personalisation, levels: Iterable[GeneLevel]
) -> Personalisation:
    """``personalisation`` with the gains (and deletions) of ``levels`` applied on top (gains multiply)."""
    levels = list(levels)
    unknown = sorted({lv.target for lv in levels if lv.target not in network.nodes})
    if unknown:
        raise ValueError(f"gene levels for nodes not in the network: {unknown}; the network has {network.nodes}")
    targets = [lv.target for lv in levels]
    repeated = sorted({t for t in targets if targets.count(t) > 1})
    if repeated:
        raise ValueError(f"more than one gene level for node(s) {repeated}: give one measurement per gene")
    gain = np.ones(network.n_nodes)
    loss = np.zeros(network.n_nodes)
    for lv in levels:
        i = network.index(lv.target)
        gain[i] = lv.gain
        loss[i] = 1.0 if lv.deleted else 0.0
    pert = personalisation.perturbation
    pert = eqx.tree_at(
        lambda p: (p.gain, p.loss), pert, (pert.gain * jnp.asarray(gain), jnp.maximum(pert.loss, jnp.asarray(loss)))
    )
    return Personalisation(pert, personalisation.ic50)
