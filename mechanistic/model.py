"""A disease model: the PK of each drug plus the tumour they act on (any
:class:`~mechanistic.tumour.AbstractTumour`)."""

from __future__ import annotations

from collections.abc import Mapping

import equinox as eqx

from mechanistic.pk import AbstractPK
from mechanistic.tumour import AbstractTumour


class DiseaseModel(eqx.Module):
    """Drugs' pharmacokinetics coupled to a multi-clone tumour.

    ``pk`` maps drug name to its PK model; the order of the mapping fixes the drug axis of
    concentrations and of the tumour's drug-effect tables. ``tumour``: a
    :class:`~mechanistic.tumour.AbstractTumour` (e.g. a ``TumourModel``), or None for a PK-only
    model. All parameters are array leaves, so models with the same structure can be stacked
    and vmapped, and changing their values never recompiles a jitted solve.
    """

    pk: tuple[AbstractPK, ...]
    tumour: AbstractTumour | None
    drugs: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, pk: Mapping[str, AbstractPK], tumour: AbstractTumour | None = None):
        if not isinstance(pk, Mapping):
            raise ValueError(f"pk must map drug name -> PK model, got {type(pk).__name__}")
        for name, model in pk.items():
            if not isinstance(model, AbstractPK):
                raise ValueError(f"pk[{name!r}] must be a PK model (e.g. OneCompartment), got {model!r}")
        self.drugs = tuple(pk)
        self.pk = tuple(pk.values())
        if tumour is not None and not isinstance(tumour, AbstractTumour):
            raise ValueError(f"tumour must be an AbstractTumour (e.g. a TumourModel), got {type(tumour).__name__}")
        if tumour is not None:
            need = tumour.n_drugs_used()
            if tumour.network is not None and tumour.network.panel.names != self.drugs:
                raise ValueError(
                    f"the network's drug panel {tumour.network.panel.names} must list the model's drugs "
                    f"{self.drugs} in the same order"
                )
            if need is not None and need != len(self.drugs):
                raise ValueError(
                    f"the tumour's drug effects have {need} drug column(s) but the model has "
                    f"{len(self.drugs)} drug(s) {self.drugs}; give one column per drug in this order"
                )
        self.tumour = tumour

    @property
    def n_pk_states(self) -> int:
        return sum(m.n_states for m in self.pk)

    @property
    def n_internal_states(self) -> int:
        """ODE states besides clone volumes: non-linear PK amounts, then network activities."""
        return self.n_pk_states + (0 if self.tumour is None else self.tumour.n_network_states)

    def pk_of(self, drug: str) -> AbstractPK:
        if drug not in self.drugs:
            raise ValueError(f"unknown drug {drug!r}; this model has drugs {self.drugs}")
        return self.pk[self.drugs.index(drug)]
