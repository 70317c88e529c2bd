"""Personalising a network by a tumour's mutations.

A :class:`Mutation` is what a sequencing report lists (gene, variant, variant allele fraction).
A :class:`VariantEffect` says what a variant does to the network:

- ``gain_of_function``: the node is constitutively active (``Perturbation.floor`` = value, default 1);
- ``loss_of_function``: the node's activity is lost (``Perturbation.loss`` = value, default 1);
- ``amplification``: the node's activity gain (``Perturbation.gain`` = value, the fold change);
- ``affinity``: only changes drug IC50s, listed per variant in the drug table (e.g. T790M for
  erlotinib); such variants need no VariantEffect row.

:func:`personalise` turns a mutation list into a :class:`Personalisation` (the node perturbation
plus the clone's IC50 table). Variants that are neither in the effect table nor in the drug table
are an error listing all of them, unless ``allow_unknown=True`` (then they are skipped with a
warning naming them).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.network import Perturbation, SignallingNetwork
from mechanistic.targeted_drugs import DrugPanel

EFFECTS: tuple[str, ...] = ("gain_of_function", "loss_of_function", "amplification")


class UnknownVariantError(ValueError):
    """A mutation list names genes or variants that the network does not know."""


@dataclass(frozen=True)
class Mutation:
    """A tumour mutation: ``gene`` (a network node name), ``variant`` (e.g. ``"L858R"``,
    ``"amplification"``), ``vaf`` variant allele fraction in (0, 1]."""

    gene: str
    variant: str
    vaf: float = 1.0

    def __post_init__(self):
        if not (isinstance(self.gene, str) and self.gene and isinstance(self.variant, str) and self.variant):
            raise ValueError(
                f"Mutation: gene and variant must be non-empty strings; got {self.gene!r}, {self.variant!r}"
            )
        if not (np.isfinite(self.vaf) and 0 < self.vaf <= 1):
            raise ValueError(f"Mutation {self.gene} {self.variant}: vaf={self.vaf!r} must be in (0, 1]")


@dataclass(frozen=True)
class VariantEffect:
    """What ``gene variant`` does to node ``node`` (default: the gene's own node)."""

    gene: str
    variant: str
    effect: str
    value: float | None = None
    node: str | None = None
    source: str = ""

    def __post_init__(self):
        if self.effect not in EFFECTS:
            raise ValueError(
                f"VariantEffect {self.gene} {self.variant}: effect {self.effect!r} is not one of {EFFECTS}"
            )

    @property
    def target(self) -> str:
        return self.node or self.gene


class Personalisation(eqx.Module):
    """A clone's network perturbation and IC50 table ``(n_drugs, n_nodes)`` (nM)."""

    perturbation: Perturbation
    ic50: jax.Array


def personalise(
    network: SignallingNetwork,
    panel: DrugPanel,
    mutations: Iterable[Mutation],
    effects: Sequence[VariantEffect],
    *,
    allow_unknown: bool = False,
) -> Personalisation:
    """The perturbation and IC50s of a cell carrying ``mutations``."""
    mutations = list(mutations)
    known = {(e.gene, e.variant): e for e in effects}
    drug_variants = {(network.nodes[i], v) for i, v in panel.variants()}
    for e in effects:
        network.index(e.target)
    unknown_genes = sorted({m.gene for m in mutations if m.gene not in network.nodes})
    unknown = [
        m
        for m in mutations
        if m.gene in network.nodes and (m.gene, m.variant) not in known and (m.gene, m.variant) not in drug_variants
    ]
    if unknown_genes or unknown:
        parts = []
        if unknown_genes:
            parts.append(f"genes not in the network: {unknown_genes}")
        if unknown:
            parts.append("variants without a known effect: " + ", ".join(f"{m.gene} {m.variant}" for m in unknown))
        msg = "; ".join(parts)
        if not allow_unknown:
            raise UnknownVariantError(
                f"{msg}. Add VariantEffect rows (or drug-table IC50s) for them, or pass "
                "allow_unknown=True to ignore them"
            )
        warnings.warn(f"ignoring {msg}", stacklevel=2)
    n = network.n_nodes
    floor, gain, loss = np.zeros(n), np.ones(n), np.zeros(n)
    node_variants: dict[int, set[str]] = {}
    for m in mutations:
        if m.gene not in network.nodes:
            continue
        node_variants.setdefault(network.index(m.gene), set()).add(m.variant)
        e = known.get((m.gene, m.variant))
        if e is None:
            continue
        i = network.index(e.target)
        if e.effect == "gain_of_function":
            floor[i] = max(floor[i], 1.0 if e.value is None else e.value)
        elif e.effect == "loss_of_function":
            loss[i] = max(loss[i], 1.0 if e.value is None else e.value)
        else:
            gain[i] *= 10.0 if e.value is None else e.value
    pert = Perturbation(jnp.asarray(floor), jnp.asarray(gain), jnp.asarray(loss), jnp.ones(n))
    return Personalisation(pert, panel.personal_ic50(node_variants))


def clones_from_mutations(
    mutations: Iterable[Mutation], *, subclonal_below: float = 0.5
) -> tuple[dict[str, tuple[Mutation, ...]], dict[str, float]]:
    """Split a sequencing report into clones and their fractions from the allele fractions.

    Mutations with ``vaf >= subclonal_below * max vaf`` are truncal (in every cell); each other
    mutation defines a subclone carrying the truncal mutations plus itself, with cancer-cell
    fraction ``vaf / truncal vaf`` (heterozygous variants at equal copy number; subclones assumed
    disjoint). The remainder is the ``"truncal"`` clone. Returns ``(clones, fractions)`` keyed by
    clone name (``"truncal"``, then ``"<gene> <variant>"``)."""
    mutations = list(mutations)
    if not mutations:
        raise ValueError("no mutations given")
    if not 0 < subclonal_below <= 1:
        raise ValueError(f"subclonal_below={subclonal_below!r} must be in (0, 1]")
    top = max(mu.vaf for mu in mutations)
    truncal = tuple(mu for mu in mutations if mu.vaf >= subclonal_below * top)
    reference = float(np.mean([mu.vaf for mu in truncal]))
    clones: dict[str, tuple[Mutation, ...]] = {"truncal": truncal}
    fractions: dict[str, float] = {}
    for mu in mutations:
        if mu not in truncal:
            name = f"{mu.gene} {mu.variant}"
            clones[name] = (*truncal, mu)
            fractions[name] = min(mu.vaf / reference, 1.0)
    rest = 1.0 - sum(fractions.values())
    if rest < 0:
        raise ValueError(
            f"subclone fractions {fractions} add up to more than 1: the subclones are not disjoint "
            "(nested subclones are not supported); raise subclonal_below or list clones explicitly"
        )
    return clones, {"truncal": rest, **fractions}


def stack(items: Sequence[Personalisation]) -> Personalisation:
    """Stack personalisations along a new leading (clone) axis."""
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *items)
