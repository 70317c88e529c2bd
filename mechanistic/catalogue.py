"""Ready-made models: published reference models and the flagship EGFR-TKI two-clone model.

Every number here says where it comes from; "illustrative" marks values chosen to give
plausible behaviour, not fitted to data.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from mechanistic.dosing import DoseTable, dose
from mechanistic.drug_effect import EmaxEffect, LinearEffect
from mechanistic.family import ModelFamily, ParameterInfo
from mechanistic.model import DiseaseModel
from mechanistic.pk import DirectExposure, OneCompartment
from mechanistic.tumour import TumourModel
from mechanistic.units import convert


def strobl2021(
    cost=0.0, turnover=0.0, growth_rate=0.027, drug_kill=1.5, *, capacity=1.0, drug: str = "D", pk=None
) -> DiseaseModel:
    """Two-population Lotka–Volterra adaptive-therapy model of Strobl et al., Cancer Res 2021.

    ``dS/dt = rS (1 - (S + R)/K)(1 - dD D) S - dS S``, ``dR/dt = rR (1 - (S + R)/K) R - dR R`` with
    ``rR = (1 - cost) rS``, ``dS = dR = turnover rS``, ``rS = 0.027 /day`` and ``dD = 1.5``
    (defaults of the authors' code; README in ``shared/refdata/strobl2021_at_lv``). The authors'
    capacity is ``K = 1`` (burdens are fractions of it); another ``capacity`` measures the burden in
    other units (e.g. the PSA the cells make). The drug ``drug`` (default ``"D"``) is an exposure
    signal ``D``: by default (``pk=None``, :class:`~mechanistic.pk.DirectExposure`) given as
    infusions of rate 1 (see :func:`strobl2021_continuous`); ``pk`` replaces that, e.g.
    :class:`~mechanistic.pk.DailyExposure` for daily oral doses.
    """
    tumour = TumourModel(
        ("sensitive", "resistant"),
        "logistic",
        growth_rate=growth_rate,
        capacity=capacity,
        death_rate=turnover * jnp.asarray(growth_rate),
        fitness_cost=jnp.stack([jnp.zeros_like(jnp.asarray(cost, dtype=float)), jnp.asarray(cost, dtype=float)]),
        growth_inhibition=LinearEffect(jnp.stack([jnp.asarray(drug_kill, dtype=float), 0.0])[:, None]),
        resistant=(False, True),
    )
    return DiseaseModel({drug: DirectExposure() if pk is None else pk}, tumour)


def strobl2021_continuous(days: float) -> DoseTable:
    """Continuous therapy (MTD): exposure ``D = 1`` from day 0 to ``days``."""
    return dose(0.0, "D", float(days), "infusion", duration=float(days))


# Erlotinib population PK, Lu et al. Clin Pharmacol Ther 2006;80:136 (typical values):
# CL/F 3.95 L/h, V/F 233 L, ka 0.95 /h (shared/refdata/README.md).
ERLOTINIB_CL_L_PER_H = 3.95
ERLOTINIB_V_L = 233.0
ERLOTINIB_KA_PER_H = 0.95


def erlotinib_pk() -> OneCompartment:
    """Erlotinib one-compartment oral PK (apparent, F folded into CL/F and V/F)."""
    return OneCompartment.from_clearance(
        cl=convert(ERLOTINIB_CL_L_PER_H, "L/h", "L/day"),
        v=ERLOTINIB_V_L,
        ka=convert(ERLOTINIB_KA_PER_H, "1/h", "1/day"),
    )


def egfr_two_clone(
    growth_rate=0.01,
    fitness_cost=0.25,
    max_kill=0.06,
    ec50_sensitive=0.1,
    ec50_resistant=8.0,
    capacity=2.0e5,
) -> DiseaseModel:
    """Flagship EGFR-mutant NSCLC model: a TKI-sensitive and a T790M-resistant clone under erlotinib.

    Gompertz growth with a shared capacity (mm^3); erlotinib kills each clone at up to
    ``max_kill`` (1/day) with an Emax function of plasma concentration (mg/L). T790M raises
    the EC50 ~80-fold (illustrative: the T790M shift of first-generation TKI potency is
    reported as roughly two orders of magnitude in cell lines) and carries a fitness cost
    (resistant PC-9 cells grow more slowly; Chmielecki et al. Sci Transl Med 2011). Growth rate
    (1/day), kill and capacity are illustrative, chosen so that continuous 150 mg daily from
    30,000 mm^3 with 0.01% resistant cells gives a ~65% diameter response and progression after
    about 9 months, close to the ~10-month median PFS of first-line erlotinib.
    """
    tumour = TumourModel(
        ("sensitive", "T790M"),
        "gompertz",
        growth_rate=growth_rate,
        capacity=capacity,
        fitness_cost=jnp.stack([0.0, jnp.asarray(fitness_cost, dtype=float)]),
        kill=EmaxEffect(
            emax=jnp.full((2, 1), jnp.asarray(max_kill, dtype=float)),
            ec50=jnp.stack([jnp.asarray(ec50_sensitive, dtype=float), jnp.asarray(ec50_resistant, dtype=float)])[
                :, None
            ],
            hill=1.0,
        ),
        resistant=(False, True),
    )
    return DiseaseModel({"erlotinib": erlotinib_pk()}, tumour)


# egfr_two_clone's parameters and the two clone volumes at the start, with their units and supports
EGFR_TWO_CLONE_PARAMETERS: dict[str, ParameterInfo] = {
    p.name: p
    for p in (
        ParameterInfo("growth_rate", "1/day"),
        ParameterInfo("fitness_cost", "1", "unit_interval"),
        ParameterInfo("max_kill", "1/day"),
        ParameterInfo("ec50_sensitive", "mg/L"),
        ParameterInfo("ec50_resistant", "mg/L"),
        ParameterInfo("capacity", "mm^3"),
        ParameterInfo("volume0", "mm^3"),
        ParameterInfo("resistant0", "mm^3"),
    )
}


@dataclass(frozen=True)
class EGFRTwoClone(ModelFamily):
    """:func:`egfr_two_clone` as a model family: the parameters named in ``free`` are read from the
    draws, the others keep :func:`egfr_two_clone`'s values; the initial state is the sensitive
    clone's ``volume0`` and the T790M clone's ``resistant0`` (mm^3; fixed at the fields' values
    unless free)."""

    free: tuple[str, ...] = ("growth_rate", "max_kill", "ec50_resistant", "resistant0")
    volume0: float = 3.0e4
    resistant0: float = 3.0

    def __post_init__(self):
        unknown = [n for n in self.free if n not in EGFR_TWO_CLONE_PARAMETERS]
        if unknown:
            raise ValueError(f"EGFRTwoClone: free={unknown} unknown; valid: {list(EGFR_TWO_CLONE_PARAMETERS)}")

    @property
    def parameters(self) -> tuple[ParameterInfo, ...]:
        return tuple(EGFR_TWO_CLONE_PARAMETERS[n] for n in self.free)

    def build(self, params) -> DiseaseModel:
        return egfr_two_clone(**{n: params[n] for n in self.free if n not in ("volume0", "resistant0")})

    def initial_state(self, params):
        values = [params[n] if n in self.free else getattr(self, n) for n in ("volume0", "resistant0")]
        return jnp.stack([jnp.asarray(v, dtype=float) for v in values])
