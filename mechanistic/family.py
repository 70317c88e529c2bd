"""A model family: disease models indexed by named parameters, the one seam every layer uses.

Subclass :class:`ModelFamily` and give it three things (a frozen dataclass or an
``equinox.Module`` both work):

- :attr:`~ModelFamily.parameters`: each parameter's name, unit and constraint (``"positive"``,
  ``"unit_interval"``, ``"real"``: :mod:`mechanistic.constraints`);
- :meth:`~ModelFamily.build`: parameters -> a :class:`~mechanistic.model.DiseaseModel`;
- :meth:`~ModelFamily.initial_state`: parameters -> the state at the start (clone volumes in
  mm^3 for a tumour of clones; any non-negative state, e.g. cells and PSA, for other dynamics).

:meth:`~ModelFamily.observe` (state -> observables) defaults to the total volume (mm^3)
and the diameter of a sphere of that volume (mm); override it, and :attr:`observables`, for other
measurements, and :attr:`~ModelFamily.burden` (default ``"volume"``) for the observable that
adaptive policies read. Calibration (``inference.calibrate``) fits a family to a patient's observations
through :meth:`predict`; ``scenarios.compare`` simulates regimens on parameter draws of a family.
Everything takes ``params`` as ``{name: value}`` with traced values, so one compiled program
serves every parameter set.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.constraints import CONSTRAINTS
from mechanistic.dosing import DoseTable
from mechanistic.fixed_grid import FixedGrid
from mechanistic.model import DiseaseModel
from mechanistic.observation import longest_diameter, total_volume
from mechanistic.solver import SolverOptions, solve


class ParameterInfo(NamedTuple):
    """A family's parameter: ``name`` (a Python identifier), ``unit`` (text, e.g. "1/day") and
    ``constraint`` (its support)."""

    name: str
    unit: str
    constraint: str = "positive"


class ModelFamily(abc.ABC):
    """Disease models indexed by named parameters (see the module docstring)."""

    @property
    @abc.abstractmethod
    def parameters(self) -> tuple[ParameterInfo, ...]:
        """Every parameter :meth:`build` and :meth:`initial_state` read."""

    @abc.abstractmethod
    def build(self, params: Mapping[str, jax.Array]) -> DiseaseModel:
        """The disease model (drugs' PK and tumour clones) of one parameter set."""

    @abc.abstractmethod
    def initial_state(self, params: Mapping[str, jax.Array]) -> jax.Array:
        """Clone volumes (mm^3) at the start of a simulation, shape ``(n_clones,)``."""

    @property
    def observables(self) -> dict[str, str]:
        """Observable name -> unit, as :meth:`observe` returns them."""
        return {"volume": "mm^3", "diameter": "mm"}

    @property
    def burden(self) -> str:
        """The observable that measures the disease burden (a key of :attr:`observables`): what
        adaptive policies read, what burden thresholds (e.g. doubling) and a pre-treatment baseline
        refer to. Default ``"volume"``; e.g. ``"psa"`` for a prostate model followed by PSA."""
        return "volume"

    def observe(self, clones: jax.Array) -> dict[str, jax.Array]:
        """Observables of clone volumes ``(..., n_clones)`` (mm^3)."""
        volume = total_volume(clones)
        return {"volume": volume, "diameter": longest_diameter(volume)}

    def solver_options(self) -> SolverOptions:
        """How :meth:`predict` solves: by default the dose-aligned fixed grid
        (:class:`~mechanistic.fixed_grid.FixedGrid`), which differentiates in forward and reverse
        mode (a Laplace approximation needs second derivatives; the adaptive solver's checkpointed
        adjoint gives reverse mode only). It has no error control: check it against an adaptive
        solve for your model, or override this."""
        return SolverOptions(grid=FixedGrid())

    def check(self) -> None:
        """Raise ``ValueError`` naming a parameter whose name or constraint is invalid."""
        seen = set()
        for p in self.parameters:
            if not (isinstance(p, ParameterInfo) and p.name.isidentifier()):
                raise ValueError(f"{type(self).__name__}: parameter {p!r} needs a ParameterInfo with an identifier")
            if p.constraint not in CONSTRAINTS:
                raise ValueError(f"{type(self).__name__}: {p.name!r} has constraint {p.constraint!r}; valid: "
                                 f"{list(CONSTRAINTS)}")  # fmt: skip
            if p.name in seen:
                raise ValueError(f"{type(self).__name__}: parameter {p.name!r} is listed twice")
            seen.add(p.name)
        if self.burden not in self.observables:
            raise ValueError(f"{type(self).__name__}: burden={self.burden!r} is not one of its observables "
                             f"{list(self.observables)}")  # fmt: skip

    def solve_inputs(self, doses: DoseTable | None, times, *, t0: float) -> object | None:
        """What :meth:`observables_at` needs besides the parameters and the sorted output ``times``
        (day), e.g. the doses and the solver's step points as padded arrays; None (the default):
        the doses are built into the simulator (:meth:`predict`), so each patient's fit compiles
        its own program. A family returning inputs here (with :meth:`observables_at`) lets one
        compiled fit serve every patient whose padded sizes agree."""
        return None

    def stack_inputs(self, inputs: Sequence[object]) -> object:
        """Several patients' :meth:`solve_inputs` as one batch (a leading patient axis on every array),
        e.g. for ``inference.population_model``: each :class:`~mechanistic.dosing.DoseTable` is padded
        to the longest with zero-amount rows (:meth:`~mechanistic.dosing.DoseTable.pad`), every other
        array to the longest along its first axis by repeating its last entry (for sorted step
        points: zero-length steps, which change nothing). Override it where neither is a no-op."""
        if not inputs:
            raise ValueError("stack_inputs: no inputs to stack")

        def is_table(x) -> bool:
            return isinstance(x, DoseTable)

        flat = [jax.tree.flatten(i, is_leaf=is_table) for i in inputs]
        treedef = flat[0][1]
        if any(t != treedef for _, t in flat):
            raise ValueError(f"stack_inputs: the patients' inputs differ in structure ({treedef} vs others)")
        stacked = []
        for leaves in zip(*(f for f, _ in flat), strict=True):
            longest = max(len(x) if is_table(x) else np.shape(x)[0] for x in leaves)
            if is_table(leaves[0]):
                padded = [x.pad(longest) for x in leaves]
                stacked.append(jax.tree.map(lambda *a: jnp.stack(a), *padded))
            else:
                padded = [jnp.concatenate([x, jnp.repeat(x[-1:], longest - np.shape(x)[0], axis=0)]) for x in leaves]
                stacked.append(jnp.stack(padded))
        return jax.tree.unflatten(treedef, stacked)

    def observables_at(self, params: Mapping[str, jax.Array], times: jax.Array, inputs) -> dict[str, jax.Array]:
        """``{observable: (T,)}`` at ``times`` under :meth:`solve_inputs`' ``inputs`` (traced; NaN
        where a solve fails). Implement it where :meth:`solve_inputs` returns inputs."""
        raise NotImplementedError(f"{type(self).__name__}.solve_inputs returned inputs but observables_at is missing")

    def predict(self, doses: DoseTable | None, *, t0: float = 0.0) -> Callable:
        """``predict(params, times) -> {observable: (T,)}`` under ``doses`` from ``t0`` (day): the
        simulator that calibration fits (NaN where a solve fails, which the likelihood rejects)."""
        options = self.solver_options()

        def predict(params, times):
            sol = solve(self.build(params), self.initial_state(params), doses, times, t0=t0, options=options)
            return {k: jnp.where(sol.ok, v, jnp.nan) for k, v in self.observe(sol.clones).items()}

        return predict
