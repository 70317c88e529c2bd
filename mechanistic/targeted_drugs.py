"""Targeted drugs acting on network nodes: a drug lowers its targets' activity with its concentration.

For drug ``d`` at plasma concentration ``C_d`` (mg/L), the concentration at the target is
``c_d = C_d * fraction_unbound_d * 1e6 / molecular_weight_d`` (nM) and node ``i``'s activity is
multiplied by (Bliss independence across drugs)::

    factor_i = prod_d (1 - imax_di * c_d^h_di / (c_d^h_di + IC50_di^h_di))

IC50s (nM) are per target node and per variant of the target's gene: a clone carrying several
listed variants of a target uses the largest (most resistant) of their IC50s, and the
``default`` IC50 when it carries none. A drug table row is (drug, target, variant, IC50, Hill,
Imax); see :meth:`DrugPanel.from_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.network import SignallingNetwork

DEFAULT_VARIANT = "default"


@dataclass(frozen=True)
class TargetedDrug:
    """One drug. ``ic50``: target node -> IC50 (nM) or target -> {variant: IC50} (use the key
    ``"default"`` for the target without any listed variant). ``hill`` and ``imax`` apply to
    every target. ``molecular_weight`` in g/mol; ``fraction_unbound`` in (0, 1] (1 when the
    IC50s were measured in serum and are compared with total plasma concentrations)."""

    name: str
    ic50: Mapping[str, float | Mapping[str, float]]
    molecular_weight: float
    fraction_unbound: float = 1.0
    hill: float = 1.0
    imax: float = 1.0
    source: str = field(default="", compare=False)

    def table(self) -> dict[tuple[str, str], float]:
        """``{(target, variant): IC50}`` with ``variant`` ``"default"`` for the plain target."""
        out = {}
        for target, value in self.ic50.items():
            values = value if isinstance(value, Mapping) else {DEFAULT_VARIANT: value}
            for variant, ic50 in values.items():
                out[(target, variant)] = float(ic50)
        return out


def _check_drug(drug: TargetedDrug, network: SignallingNetwork) -> None:
    where = f"drug {drug.name!r}"
    if not (np.isfinite(drug.molecular_weight) and drug.molecular_weight > 0):
        raise ValueError(f"{where}: molecular_weight={drug.molecular_weight!r} must be > 0 (g/mol)")
    if not 0 < drug.fraction_unbound <= 1:
        raise ValueError(f"{where}: fraction_unbound={drug.fraction_unbound!r} must be in (0, 1]")
    if not (np.isfinite(drug.hill) and drug.hill > 0):
        raise ValueError(f"{where}: hill={drug.hill!r} must be > 0")
    if not 0 <= drug.imax <= 1:
        raise ValueError(f"{where}: imax={drug.imax!r} must be in [0, 1]")
    if not drug.ic50:
        raise ValueError(f"{where}: no targets given")
    for (target, variant), ic50 in drug.table().items():
        if target not in network.nodes:
            raise ValueError(f"{where}: target {target!r} is not a node of the network {network.nodes}")
        if not (np.isfinite(ic50) and ic50 > 0):
            raise ValueError(f"{where}: IC50 for {target} ({variant}) = {ic50!r} must be finite and > 0 (nM)")
    for target in {t for t, _ in drug.table()}:
        if (target, DEFAULT_VARIANT) not in drug.table():
            raise ValueError(f"{where}: target {target!r} has variant IC50s but no 'default' IC50")


class DrugPanel(eqx.Module):
    """Drugs acting on one network (order fixes the drug axis).

    Arrays ``(n_drugs, n_nodes)``: ``ic50`` (nM; 1 where not a target), ``targets`` (bool as
    float), ``hill``, ``imax``; ``(n_drugs,)``: ``nM_per_mg_per_L`` (``fraction_unbound * 1e6 /
    molecular_weight``). Static: ``names``, ``variant_ic50`` (``(drug, node, variant, IC50)``
    rows), ``sources``.
    """

    ic50: jax.Array
    targets: jax.Array
    hill: jax.Array
    imax: jax.Array
    nM_per_mg_per_L: jax.Array
    names: tuple[str, ...] = eqx.field(static=True)
    variant_ic50: tuple[tuple[int, int, str, float], ...] = eqx.field(static=True)
    sources: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, network: SignallingNetwork, drugs: Sequence[TargetedDrug]):
        drugs = list(drugs)
        names = [d.name for d in drugs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"drug names must be unique; repeated: {dup}")
        n, m = len(drugs), network.n_nodes
        ic50, targets = np.ones((n, m)), np.zeros((n, m))
        hill, imax = np.ones((n, m)), np.zeros((n, m))
        variants = []
        for d, drug in enumerate(drugs):
            _check_drug(drug, network)
            for (target, variant), value in drug.table().items():
                i = network.index(target)
                if variant == DEFAULT_VARIANT:
                    ic50[d, i], targets[d, i] = value, 1.0
                    hill[d, i], imax[d, i] = drug.hill, drug.imax
                else:
                    variants.append((d, i, variant, value))
        self.ic50 = jnp.asarray(ic50)
        self.targets = jnp.asarray(targets)
        self.hill = jnp.asarray(hill)
        self.imax = jnp.asarray(imax)
        self.nM_per_mg_per_L = jnp.asarray([d.fraction_unbound * 1e6 / d.molecular_weight for d in drugs], dtype=float)
        self.names = tuple(names)
        self.variant_ic50 = tuple(variants)
        self.sources = tuple(d.source for d in drugs)

    @classmethod
    def from_rows(cls, network: SignallingNetwork, rows: Iterable[Mapping], drugs: Mapping[str, Mapping]) -> DrugPanel:
        """Build from table rows with keys ``drug, target, variant, ic50_nM`` (variant may be
        empty for the default), plus per-drug properties ``drugs[name] = {molecular_weight,
        fraction_unbound, hill, imax}``."""
        ic50: dict[str, dict[str, dict[str, float]]] = {}
        for number, row in enumerate(rows, start=1):
            missing = [k for k in ("drug", "target", "ic50_nM") if k not in row]
            if missing:
                raise ValueError(f"drug table row {number}: missing column(s) {missing}")
            variant = str(row.get("variant") or DEFAULT_VARIANT)
            ic50.setdefault(row["drug"], {}).setdefault(row["target"], {})[variant] = float(row["ic50_nM"])
        unknown = sorted(set(ic50) - set(drugs))
        if unknown:
            raise ValueError(f"drug table names drugs without properties (molecular_weight, ...): {unknown}")
        return cls(network, [TargetedDrug(name, ic50[name], **drugs[name]) for name in ic50])

    @property
    def n_drugs(self) -> int:
        return len(self.names)

    def variants(self) -> set[tuple[str, str]]:
        """``(node index, variant)`` pairs with a drug-specific IC50."""
        return {(i, v) for _, i, v, _ in self.variant_ic50}

    def personal_ic50(self, node_variants: Mapping[int, Iterable[str]]) -> jax.Array:
        """IC50 table ``(n_drugs, n_nodes)`` for a clone carrying ``{node index: variants}``:
        the largest IC50 among the clone's listed variants of a target, else the default."""
        ic50 = np.asarray(self.ic50).copy()
        found: dict[tuple[int, int], float] = {}
        for d, i, variant, value in self.variant_ic50:
            if variant in set(node_variants.get(i, ())):
                found[(d, i)] = max(found.get((d, i), 0.0), value)
        for (d, i), value in found.items():
            ic50[d, i] = value
        return jnp.asarray(ic50)

    def factor(self, conc: jax.Array, ic50: jax.Array | None = None) -> jax.Array:
        """Activity factor ``(..., n_nodes)`` for plasma concentrations ``conc (..., n_drugs)`` (mg/L)."""
        ic50 = self.ic50 if ic50 is None else ic50
        c = jnp.maximum(conc, 0.0) * self.nM_per_mg_per_L
        ch = c[..., :, None] ** self.hill
        occupancy = ch / (ch + ic50**self.hill)
        return jnp.prod(1.0 - self.targets * self.imax * occupancy, axis=-2)
