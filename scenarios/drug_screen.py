"""In-silico drug screen on a patient's personalised networks.

Every treatment (no drug, each single drug, each pair; or any list of combinations) is applied at
clinical exposure to every clone's network at quasi-steady state, all at once (vmapped), and the
treatments are ranked by the predicted net growth rate of the mixed tumour. Per clone, at small
burden (exponential phase)::

    net growth (1/day) = growth_rate (1 - fitness_cost) P - death_rate - apoptosis_rate A

with ``P``/``A`` the clone's proliferation/apoptosis activities. The mixed tumour's rate is the
clone-fraction-weighted mean (what the next scan shows); the worst clone's rate says whether any
clone still grows (what decides resistance later).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from mechanistic.dosing import every
from mechanistic.model import DiseaseModel
from mechanistic.network_phenotype import NetworkPhenotype
from mechanistic.pk import AbstractPK
from mechanistic.solver import solve
from mechanistic.tumour import TumourModel

NO_DRUG = "no drug"


def steady_state_exposure(pk: AbstractPK, amount: float, interval: float, *, days: float = 90.0) -> float:
    """Average plasma concentration (mg/L) over the last dosing interval of ``amount`` mg given
    orally every ``interval`` days for ``days`` days (close to steady state for half-lives up to
    about ``days / 5``), computed by the PK layer."""
    if not (amount > 0 and interval > 0 and days >= 2 * interval):
        raise ValueError(f"need amount > 0, interval > 0 and days >= 2 intervals; got {amount}, {interval}, {days}")
    n = int(days // interval)
    return float(_mean_last_interval(pk, every(interval, n, "drug", amount, "oral"), jnp.asarray(interval), n))


@eqx.filter_jit
def _mean_last_interval(pk: AbstractPK, doses, interval, n: int):
    ts = (n - 1) * interval + interval * jnp.linspace(0.0, 1.0, 193)
    conc = solve(DiseaseModel({"drug": pk}), jnp.zeros(0), doses, ts).concentrations[:, 0]
    return jnp.trapezoid(conc, ts) / interval


def treatments(drugs: Sequence[str], *, pairs: bool = True) -> list[tuple[str, ...]]:
    """No drug, each drug alone, and (``pairs``) every pair."""
    out = [(), *((d,) for d in drugs)]
    if pairs:
        out += list(itertools.combinations(drugs, 2))
    return out


@eqx.filter_jit
def _screen(phenotype: NetworkPhenotype, conc: jax.Array):
    ss = jax.vmap(phenotype.steady_state)(conc)  # (n_treatments, n_clones, n_nodes)
    p = ss.x[..., phenotype.network.index(phenotype.proliferation)]
    a = ss.x[..., phenotype.network.index(phenotype.apoptosis)]
    return p, a, ss.converged


def screen(
    tumour: TumourModel,
    exposure: Mapping[str, float],
    combinations: Sequence[Sequence[str]] | None = None,
    *,
    fractions=None,
) -> xr.Dataset:
    """Screen ``combinations`` (default: :func:`treatments` of the exposure's drugs) on a tumour
    whose clones are driven by a :class:`~mechanistic.network_phenotype.NetworkPhenotype`.

    ``exposure``: drug -> plasma concentration (mg/L) when given (e.g. from
    :func:`steady_state_exposure`); every panel drug used must have one. ``fractions``: clone
    fractions of the mixed tumour (default equal). Returns a Dataset with dims ``(treatment,
    clone)``: ``proliferation``, ``apoptosis``, ``net_growth_rate`` (1/day), ``converged``; and
    per treatment ``mixed_net_growth_rate``, ``worst_clone_net_growth_rate`` and ``rank`` (1 =
    lowest mixed rate). Treatments whose network has no stable fixed point get NaN and a warning.
    """
    phen = tumour.network
    if phen is None:
        raise ValueError("the tumour's clones are not network-driven (TumourModel(network=...) is None)")
    names = phen.panel.names
    unknown = sorted(set(exposure) - set(names))
    if unknown:
        raise ValueError(f"exposure given for drug(s) {unknown} not in the panel {names}")
    combos = treatments(list(exposure)) if combinations is None else [tuple(c) for c in combinations]
    for c in combos:
        missing = [d for d in c if d not in exposure]
        if missing:
            raise ValueError(f"treatment {c}: no exposure for {missing}; exposures are given for {sorted(exposure)}")
    conc = np.zeros((len(combos), len(names)))
    for k, c in enumerate(combos):
        for d in c:
            value = float(exposure[d])
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"exposure[{d!r}]={value!r} must be a finite concentration >= 0 (mg/L)")
            conc[k, names.index(d)] = value
    n = tumour.n_clones
    frac = np.full(n, 1.0 / n) if fractions is None else np.asarray(fractions, dtype=float)
    if frac.shape != (n,) or np.any(frac < 0) or not np.isclose(frac.sum(), 1.0):
        raise ValueError(
            f"fractions must be {n} non-negative numbers summing to 1 (clones {tumour.clones}); got {fractions}"
        )
    p, a, ok = _screen(phen, jnp.asarray(conc))
    p, a, ok = np.asarray(p), np.asarray(a), np.asarray(ok)
    growth = np.asarray(tumour.growth_rate * (1.0 - tumour.fitness_cost))
    net = growth * p - np.asarray(tumour.death_rate) - np.asarray(phen.apoptosis_rate) * a
    net = np.where(ok, net, np.nan)
    labels = [" + ".join(c) if c else NO_DRUG for c in combos]
    if not ok.all():
        bad = sorted({labels[k] for k in np.argwhere(~ok)[:, 0]})
        warnings.warn(
            f"no stable network state for {len(bad)} treatment(s): {bad[:10]}; their rates are NaN", stacklevel=2
        )
    mixed = net @ frac
    order = np.argsort(np.where(np.isnan(mixed), np.inf, mixed), kind="stable")
    rank = np.empty(len(combos), dtype=int)
    rank[order] = np.arange(1, len(combos) + 1)
    per_day = {"units": "1/day"}
    return xr.Dataset(
        {
            "proliferation": (("treatment", "clone"), p, {"units": "1", "long_name": "proliferation activity"}),
            "apoptosis": (("treatment", "clone"), a, {"units": "1", "long_name": "apoptosis activity"}),
            "net_growth_rate": (("treatment", "clone"), net, per_day),
            "converged": (("treatment", "clone"), ok),
            "mixed_net_growth_rate": ("treatment", mixed, per_day),
            "worst_clone_net_growth_rate": ("treatment", net.max(axis=1), per_day),
            "rank": ("treatment", rank),
            "concentration": (("treatment", "drug"), conc, {"units": "mg/L"}),
        },
        coords={"treatment": labels, "clone": list(tumour.clones), "drug": list(names), "fraction": ("clone", frac)},
    )


def screen_model(model: DiseaseModel, regimens: Mapping[str, tuple[float, float]], **kwargs) -> xr.Dataset:
    """:func:`screen` at the steady-state exposures of ``regimens`` (drug -> (amount mg, interval
    day)) computed from ``model``'s PK."""
    exposure = {d: steady_state_exposure(model.pk_of(d), *regimens[d]) for d in regimens}
    return screen(model.tumour, exposure, **kwargs)
