"""Clone growth and death set by each clone's personalised signalling network.

Each clone carries its own :class:`~mechanistic.mutations.Personalisation` (mutations -> node
perturbation and IC50s) of one shared network and drug panel. Given plasma concentrations the
network's phenotype nodes give, per clone, a proliferation activity ``P`` and an apoptosis
activity ``A`` (both in [0, 1]); the tumour model multiplies the clone's growth by ``P`` and adds
``apoptosis_rate * A`` (1/day) to its death rate. So a sensitive and a T790M clone differ by
mechanism (the T790M IC50 shift), not by a hand-set kill rate.

Two evaluation modes, which agree where the network is fast compared with the tumour:

- ``"quasi_steady_state"``: the network is at its fixed point for the current concentrations
  (:func:`~mechanistic.network_steady_state.steady_state`; implicit-function gradients). The
  tumour ODE keeps only clone volumes and stays non-stiff.
- ``"dynamic"``: the activities of every clone's network are ODE states
  (``n_clones * n_nodes`` of them), starting at the quasi-steady state of the initial levels.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from mechanistic.checks import check_range
from mechanistic.mutations import Personalisation, stack
from mechanistic.network import SignallingNetwork
from mechanistic.network_steady_state import SteadyState, SteadyStateOptions, steady_state
from mechanistic.targeted_drugs import DrugPanel

MODES: tuple[str, ...] = ("quasi_steady_state", "dynamic")


class NetworkPhenotype(eqx.Module):
    """Proliferation and apoptosis of each clone from its network.

    Arguments:
        network, panel: the signalling network and the drugs acting on it (the panel's drug
            order must be the disease model's drug order).
        clones: one :class:`Personalisation` per clone (a sequence, or already stacked).
        apoptosis_rate: death rate (1/day) at full apoptosis activity, scalar or per clone.
        proliferation, apoptosis: names of the phenotype nodes.
        mode: one of :data:`MODES`.
    """

    network: SignallingNetwork
    panel: DrugPanel
    clones: Personalisation
    apoptosis_rate: jax.Array
    proliferation: str = eqx.field(static=True)
    apoptosis: str = eqx.field(static=True)
    mode: str = eqx.field(static=True)
    options: SteadyStateOptions = eqx.field(static=True)

    def __init__(
        self,
        network: SignallingNetwork,
        panel: DrugPanel,
        clones: Sequence[Personalisation] | Personalisation,
        *,
        apoptosis_rate,
        proliferation: str = "PROLIFERATION",
        apoptosis: str = "APOPTOSIS",
        mode: str = "quasi_steady_state",
        options: SteadyStateOptions = SteadyStateOptions(),
    ):
        if mode not in MODES:
            raise ValueError(f"NetworkPhenotype: mode {mode!r} is not valid; use one of {MODES}")
        for node in (proliferation, apoptosis):
            network.index(node)
        self.network, self.panel, self.mode, self.options = network, panel, mode, options
        self.proliferation, self.apoptosis = proliferation, apoptosis
        self.clones = clones if isinstance(clones, Personalisation) else stack(list(clones))
        if self.clones.ic50.shape[-2:] != (panel.n_drugs, network.n_nodes):
            raise ValueError(
                f"NetworkPhenotype: clone IC50 tables have shape {self.clones.ic50.shape[-2:]}; expected "
                f"(n_drugs, n_nodes) = {(panel.n_drugs, network.n_nodes)}"
            )
        n = self.n_clones
        rate = jnp.broadcast_to(jnp.asarray(apoptosis_rate, dtype=float), (n,))
        check_range("NetworkPhenotype", "apoptosis_rate", rate, 0.0, strict=False)
        self.apoptosis_rate = rate

    @property
    def n_clones(self) -> int:
        return self.clones.ic50.shape[0]

    @property
    def n_states(self) -> int:
        """ODE states this coupling adds (dynamic mode only)."""
        return self.n_clones * self.network.n_nodes if self.mode == "dynamic" else 0

    def _perturbations(self, conc: jax.Array):
        """Per-clone perturbations at concentrations ``conc (n_drugs,)``."""
        factor = self.panel.factor(conc[None, :], self.clones.ic50)  # (n_clones, n_nodes)
        return self.clones.perturbation.with_factor(factor)

    def steady_state(self, conc: jax.Array) -> SteadyState:
        """Network fixed point of every clone, ``x (n_clones, n_nodes)``."""
        perts = self._perturbations(jnp.asarray(conc, dtype=float))
        return jax.vmap(lambda p: steady_state(self.network, p, options=self.options))(perts)

    def rates_from_activities(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(P, apoptosis_rate * A)`` per clone from activities ``x (n_clones, n_nodes)``."""
        p = x[:, self.network.index(self.proliferation)]
        a = x[:, self.network.index(self.apoptosis)]
        return p, self.apoptosis_rate * a

    def __call__(self, conc: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Quasi-steady-state ``(growth factor, extra death rate 1/day)`` per clone; NaN where
        the network has no stable fixed point (the ODE solve then fails and says so)."""
        ss = self.steady_state(conc)
        p, d = self.rates_from_activities(ss.x)
        bad = ~ss.converged
        return jnp.where(bad, jnp.nan, p), jnp.where(bad, jnp.nan, d)

    def initial_state(self, conc: jax.Array) -> jax.Array:
        """Dynamic-mode start: the quasi-steady state at ``conc``, flattened."""
        return self.steady_state(conc).x.reshape(-1)

    def rhs(self, state: jax.Array, conc: jax.Array) -> jax.Array:
        """Dynamic mode: ``d activities / dt`` (flattened, 1/day)."""
        x = state.reshape(self.n_clones, self.network.n_nodes)
        return jax.vmap(self.network.rhs)(x, self._perturbations(conc)).reshape(-1)
