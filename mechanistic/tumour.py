"""Multi-clone tumour dynamics: :class:`AbstractTumour`, the interface the solver needs from a
tumour, and :class:`TumourModel`, the generic multi-clone model.

State of :class:`TumourModel`: clone volumes ``N (n_clones,)`` in mm^3. For clone ``i``, with the competition-weighted
burden it sees ``W_i = sum_j competition[i, j] N_j`` and drug concentrations ``C``::

    dN_i/dt = g_i(W_i) (1 - I_i(C)) N_i - (death_i + K_i(C)) N_i
              - sum_j mutation[i, j] N_i + sum_j mutation[j, i] N_j

where ``g_i`` is the per-capita growth law with rate ``growth_rate_i (1 - fitness_cost_i)``,
``I`` the growth-inhibition effect (Norton–Simon: the drug acts on dividing cells; an
effect above 1 turns growth into net kill, as in Strobl et al. 2021) and ``K`` the additive
kill effect (1/day). With a ``network`` (:class:`~mechanistic.network_phenotype.NetworkPhenotype`)
each clone's growth is further multiplied by its network's proliferation activity ``P_i`` and
its death raised by ``apoptosis_rate_i A_i``; ``growth_rate`` is then the rate at full
proliferation activity. Growth laws (per-capita ``g``, the :mod:`mechanistic.growth_laws` object
named in :data:`GROWTH_LAWS`):

- ``exponential``: ``r`` (``Exponential(r)``)
- ``logistic``: ``r (1 - W/capacity)`` (``Logistic(r, capacity)``; Lotka–Volterra competition
  through ``competition``)
- ``gompertz``: ``r log(capacity / W)`` (``Gompertz.with_capacity(r, capacity)``, computed as
  ``r log(capacity) - r log(W)``)
- ``bertalanffy`` (general von Bertalanffy, ``dV/dt = a V^gamma - b V``): ``r W^(gamma - 1)``
  (``Bertalanffy(r, gamma - 1)``), with ``b`` the ``death_rate``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.checks import check_range, concrete
from mechanistic.drug_effect import CombinationEffect, EmaxEffect, LinearEffect
from mechanistic.growth_laws import AbstractGrowthLaw, Bertalanffy, Exponential, Gompertz, Logistic
from mechanistic.network_phenotype import NetworkPhenotype

GROWTH_LAWS: dict[str, Callable[[jax.Array, jax.Array, jax.Array], AbstractGrowthLaw]] = {
    "exponential": lambda rate, capacity, exponent: Exponential(rate),
    "logistic": lambda rate, capacity, exponent: Logistic(rate, capacity),
    "gompertz": lambda rate, capacity, exponent: Gompertz.with_capacity(rate, capacity),
    "bertalanffy": lambda rate, capacity, exponent: Bertalanffy(rate, exponent - 1.0),
}
"""The growth laws of :class:`TumourModel` by name: each builds the law from the per-clone rate
(1/day, fitness cost included), capacity (mm^3) and Bertalanffy exponent ``gamma``."""

_WITH_CAPACITY = ("logistic", "gompertz")  # the laws that read the capacity

DrugEffect = EmaxEffect | LinearEffect | CombinationEffect


def _per_clone(name: str, value, n: int, *, lower: float, strict: bool, upper: float | None = None):
    arr = jnp.asarray(value, dtype=float)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != n):
        raise ValueError(f"TumourModel: {name} must be a scalar or have shape ({n},) (one per clone); got {arr.shape}")
    arr = jnp.broadcast_to(arr, (n,))
    check_range("TumourModel", name, arr, lower, strict=strict, upper=upper)
    return arr


def _matrix(name: str, value, n: int, default: float):
    arr = jnp.full((n, n), default) if value is None else jnp.asarray(value, dtype=float)
    if arr.shape != (n, n):
        raise ValueError(f"TumourModel: {name} must have shape ({n}, {n}); got {arr.shape}")
    check_range("TumourModel", name, arr, 0.0, strict=False)
    return arr


class AbstractTumour(eqx.Module):
    """What :func:`mechanistic.solve` needs from a tumour: the names of its state components
    ``clones`` (static; the solver's ``Solution.clones`` has one column per name), a ``resistant``
    flag per component, ``rhs(n, conc, network_state)`` (``dn/dt`` in the state's units per day
    for state ``n (n_clones,)`` at drug concentrations ``conc (n_drugs,)``), and optionally:
    ``network`` / :attr:`n_network_states` (network ODE states, none by default),
    :meth:`n_drugs_used` (drug columns the effects expect; None: any), and a change of coordinates
    the solver integrates in (:meth:`to_solver`, :meth:`from_solver`, :meth:`solver_rhs`; the
    identity by default) so that states outside the solver stay physical while the dynamics
    integrate in, e.g., log populations. The Lawson engine needs a :class:`TumourModel`."""

    clones: eqx.AbstractVar[tuple[str, ...]]
    resistant: eqx.AbstractVar[tuple[bool, ...]]
    network = None  # a NetworkPhenotype in subclasses with signalling networks

    @property
    def n_clones(self) -> int:
        return len(self.clones)

    @property
    def n_network_states(self) -> int:
        """ODE states of a network coupling, stored before the tumour's state (0: none)."""
        return 0

    def n_drugs_used(self) -> int | None:
        """Number of drug columns the tumour expects (None: no constraint)."""
        return None

    @abc.abstractmethod
    def rhs(self, n: jax.Array, conc: jax.Array, network_state: jax.Array | None = None) -> jax.Array:
        """``dn/dt`` (state units/day) at state ``n (n_clones,)`` and concentrations ``conc (n_drugs,)``."""

    def to_solver(self, y: jax.Array) -> jax.Array:
        """Solver coordinates of a state ``y (..., n_clones)`` (identity by default)."""
        return y

    def from_solver(self, z: jax.Array) -> jax.Array:
        """The state ``(..., n_clones)`` of solver coordinates ``z`` (identity by default)."""
        return z

    def solver_rhs(self, z: jax.Array, conc: jax.Array, network_state: jax.Array | None = None) -> jax.Array:
        """``dz/dt`` in solver coordinates (:meth:`rhs` by default, where they are the state)."""
        return self.rhs(z, conc, network_state)


class TumourModel(AbstractTumour):
    """Clone dynamics; see the module docstring for the equations.

    Arguments (scalars broadcast to one value per clone):
        clones: clone names, e.g. ``("sensitive", "T790M")``.
        growth: a name in :data:`GROWTH_LAWS`.
        growth_rate: ``r`` (1/day).
        capacity: carrying capacity (mm^3), required for logistic and Gompertz growth.
        competition: ``(n, n)`` Lotka–Volterra coefficients (default all ones: a shared capacity).
        bertalanffy_exponent: ``gamma`` in (0, 1) for Bertalanffy growth.
        death_rate: turnover (1/day).
        fitness_cost: fraction in [0, 1) by which the growth rate is reduced (cost of resistance).
        mutation_rate: ``(n, n)`` rates (1/day); ``[i, j]`` moves cells from clone i to clone j.
        kill: additive drug kill effect (1/day), or None.
        growth_inhibition: drug effect multiplying growth by ``(1 - I)``, or None.
        resistant: which clones carry the resistance variant (for resistant fraction / VAF).
        network: phenotypes from each clone's signalling network, or None.
    """

    growth_rate: jax.Array
    capacity: jax.Array
    competition: jax.Array
    bertalanffy_exponent: jax.Array
    death_rate: jax.Array
    fitness_cost: jax.Array
    mutation_rate: jax.Array
    kill: DrugEffect | None
    growth_inhibition: DrugEffect | None
    network: NetworkPhenotype | None
    clones: tuple[str, ...] = eqx.field(static=True)
    growth: str = eqx.field(static=True)
    resistant: tuple[bool, ...] = eqx.field(static=True)

    def __init__(
        self,
        clones,
        growth: str = "logistic",
        *,
        growth_rate,
        capacity=None,
        competition=None,
        bertalanffy_exponent=2.0 / 3.0,
        death_rate=0.0,
        fitness_cost=0.0,
        mutation_rate=None,
        kill: DrugEffect | None = None,
        growth_inhibition: DrugEffect | None = None,
        resistant=None,
        network: NetworkPhenotype | None = None,
    ):
        clones = tuple(clones)
        if not clones or not all(isinstance(c, str) and c for c in clones) or len(set(clones)) != len(clones):
            raise ValueError(f"TumourModel: clones must be distinct non-empty names; got {clones!r}")
        if growth not in GROWTH_LAWS:
            raise ValueError(f"TumourModel: unknown growth law {growth!r}; valid laws are {tuple(GROWTH_LAWS)}")
        n = len(clones)
        self.clones = clones
        self.growth = growth
        self.growth_rate = _per_clone("growth_rate", growth_rate, n, lower=-np.inf, strict=True)
        if growth in _WITH_CAPACITY:
            if capacity is None:
                raise ValueError(f"TumourModel: {growth} growth needs a finite capacity (mm^3)")
            self.capacity = _per_clone("capacity", capacity, n, lower=0.0, strict=True)
        else:
            self.capacity = jnp.ones((n,))  # unused by this growth law
        self.competition = _matrix("competition", competition, n, 1.0)
        self.bertalanffy_exponent = _per_clone(
            "bertalanffy_exponent", bertalanffy_exponent, n, lower=0.0, strict=True, upper=1.0
        )
        self.death_rate = _per_clone("death_rate", death_rate, n, lower=0.0, strict=False)
        self.fitness_cost = _per_clone("fitness_cost", fitness_cost, n, lower=0.0, strict=False, upper=1.0)
        self.mutation_rate = _matrix("mutation_rate", mutation_rate, n, 0.0)
        for name, eff in (("kill", kill), ("growth_inhibition", growth_inhibition)):
            shape = None if eff is None else eff.scale.shape
            if shape is not None and shape[0] != n:
                raise ValueError(f"TumourModel: {name} effect has {shape[0]} rows but there are {n} clones")
        self.kill = kill
        self.growth_inhibition = growth_inhibition
        res = (False,) * n if resistant is None else tuple(bool(r) for r in resistant)
        if len(res) != n:
            raise ValueError(f"TumourModel: resistant must have one flag per clone ({n}); got {resistant!r}")
        self.resistant = res
        if network is not None and network.n_clones != n:
            raise ValueError(f"TumourModel: the network phenotype has {network.n_clones} clone(s) but there are {n}")
        self.network = network

    @property
    def n_network_states(self) -> int:
        """ODE states of the network coupling (dynamic mode), stored before the clone volumes."""
        return 0 if self.network is None else self.network.n_states

    def n_drugs_used(self) -> int | None:
        """Number of drug columns the effects expect (None when no drug acts)."""
        for eff in (self.kill, self.growth_inhibition):
            if eff is not None:
                return eff.n_drugs
        return None if self.network is None else self.network.panel.n_drugs

    def growth_law(self) -> AbstractGrowthLaw:
        """The clones' growth law, parameters of shape ``(n_clones,)``, with the rate
        ``growth_rate (1 - fitness_cost)`` (1/day)."""
        rate = self.growth_rate * (1.0 - self.fitness_cost)
        return GROWTH_LAWS[self.growth](rate, self.capacity, self.bertalanffy_exponent)

    def per_capita_growth(self, n: jax.Array) -> jax.Array:
        """Per-capita growth ``g_i(W_i)`` (1/day) before drug and death terms, for clone volumes
        ``n (n_clones,)``."""
        w = jnp.sum(self.competition * n, axis=-1)  # competition @ n, as one fused loop (tiny n)
        return self.growth_law().per_capita(w)

    def mutation_inflow(self, n: jax.Array) -> jax.Array:
        """Volume flowing into each clone by mutation (mm^3/day): ``mutation_rate.T @ n``."""
        return jnp.sum(self.mutation_rate * n[:, None], axis=0)

    def growth_factor(self, conc: jax.Array) -> jax.Array:
        """Per-clone factor on growth from growth-inhibiting drugs at ``conc (n_drugs,)``,
        ``1 - I(C)`` (without a network's proliferation activity)."""
        if self.growth_inhibition is None:
            return jnp.ones_like(self.growth_rate)
        return 1.0 - self.growth_inhibition(conc)

    def constant_loss_rate(self) -> jax.Array:
        """Per-capita loss independent of drugs and network (1/day, ``(n_clones,)``): death and
        mutation out-flow."""
        return self.death_rate + jnp.sum(self.mutation_rate, axis=1)

    def log_growth_rate(self, x: jax.Array, factor: jax.Array) -> jax.Array:
        """``d(log N)/dt`` before the per-capita loss at log volumes ``x (n_clones,)``: growth times
        ``factor`` plus the mutation in-flow per volume (1/day)."""
        n = jnp.exp(x)
        growth = self.per_capita_growth(n) * factor
        mutation = concrete(self.mutation_rate)
        if mutation is not None and not mutation.any():
            return growth
        return growth + self.mutation_inflow(n) / n

    def drug_response(self, conc: jax.Array, network_state: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """Per-clone ``(growth factor, loss rate)`` at concentrations ``conc (n_drugs,)``: the
        per-capita growth is ``per_capita_growth(n) * factor`` and the per-capita loss (1/day:
        death, drug kill, network apoptosis, mutation out-flow) does not depend on volumes."""
        factor = self.growth_factor(conc)
        loss = self.constant_loss_rate()
        if self.kill is not None:
            loss = loss + self.kill(conc)
        if self.network is not None:
            if self.network.mode == "dynamic":
                prolif, death = self.network.rates_from_activities(network_state.reshape(self.n_clones, -1))
            else:
                prolif, death = self.network(conc)
            factor, loss = factor * prolif, loss + death
        return factor, loss

    def rhs(self, n: jax.Array, conc: jax.Array, network_state: jax.Array | None = None) -> jax.Array:
        """``dN/dt`` (mm^3/day) for clone volumes ``n (n_clones,)`` and concentrations ``conc``
        (``network_state``: the network activities in dynamic mode)."""
        factor, loss = self.drug_response(conc, network_state)
        return (self.per_capita_growth(n) * factor - loss) * n + self.mutation_inflow(n)
