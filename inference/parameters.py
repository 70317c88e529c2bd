"""Parameter specification: name, unit, prior, constraint, free or fixed, individual or population.

A :class:`Parameter` is either *free* (it has a numpyro ``prior``) or *fixed* (it has a
``value``). In a population (hierarchical) model an ``individual`` parameter varies between
patients (its prior is then the prior of the *typical* value, and ``omega`` the prior of the
between-patient SD on the transformed scale); a ``population`` parameter is shared.

Its ``constraint`` (``"real"``, ``"positive"``, ``"unit_interval"``) is what the model
needs (a rate must be positive); a prior whose support leaves it is an error naming both, so that
e.g. a Normal prior on a growth rate never yields a negative rate inside a sampler.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist

from mechanistic.constraints import CONSTRAINTS


def _support_bounds(prior: dist.Distribution) -> tuple[float, float]:
    support = prior.support
    lower = getattr(support, "lower_bound", -math.inf)
    upper = getattr(support, "upper_bound", math.inf)
    return float(lower), float(upper)


def _distribution_key(d: dist.Distribution | None) -> tuple | None:
    """A hashable value of a distribution: its type, pytree structure and parameter values."""
    if d is None:
        return None
    leaves, structure = jax.tree_util.tree_flatten(d)
    return type(d).__qualname__, structure, tuple((str(np.asarray(x).dtype), np.asarray(x).tobytes()) for x in leaves)


@dataclass(frozen=True)
class Parameter:
    """One model parameter. ``unit`` is a free-text unit (e.g. ``"1/day"``); ``source`` says where
    the prior or value comes from."""

    name: str
    unit: str
    prior: dist.Distribution | None = None
    value: float | None = None
    constraint: str = "positive"
    source: str = ""
    level: str = "population"
    omega: dist.Distribution | None = None

    def __post_init__(self):
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            raise ValueError(f"parameter name {self.name!r} must be a Python identifier")
        if self.constraint not in CONSTRAINTS:
            raise ValueError(
                f"parameter {self.name!r}: constraint {self.constraint!r} is not one of {list(CONSTRAINTS)}"
            )
        if self.level not in ("population", "individual"):
            raise ValueError(f"parameter {self.name!r}: level {self.level!r} must be 'population' or 'individual'")
        if self.level == "individual" and self.prior is None:
            raise ValueError(f"parameter {self.name!r}: an individual parameter needs a prior for its typical value")
        if self.omega is not None and self.level != "individual":
            raise ValueError(f"parameter {self.name!r}: omega (between-patient SD prior) needs level='individual'")
        if (self.prior is None) == (self.value is None):
            raise ValueError(f"parameter {self.name!r}: give exactly one of prior (free) or value (fixed)")
        lo, hi = CONSTRAINTS[self.constraint]
        if self.prior is not None:
            if not isinstance(self.prior, dist.Distribution):
                raise ValueError(f"parameter {self.name!r}: prior must be a numpyro distribution, got {self.prior!r}")
            if self.prior.batch_shape or self.prior.event_shape:
                raise ValueError(
                    f"parameter {self.name!r}: prior must be scalar, got batch shape "
                    f"{self.prior.batch_shape} and event shape {self.prior.event_shape}"
                )
            plo, phi = _support_bounds(self.prior)
            if plo < lo or phi > hi:
                raise ValueError(
                    f"parameter {self.name!r} ({self.unit}) must be {self.constraint} (in ({lo}, {hi})) but its prior "
                    f"{type(self.prior).__name__} has support ({plo}, {phi}); use a prior on that range "
                    f"(e.g. LogNormal or HalfNormal for positive, Beta for unit_interval)"
                )
        else:
            v = float(self.value)
            if not (math.isfinite(v) and (lo < v < hi or (self.constraint == "real"))):
                raise ValueError(
                    f"parameter {self.name!r}: fixed value {self.value!r} must be finite and "
                    f"{self.constraint} (in ({lo}, {hi}))"
                )

    @property
    def free(self) -> bool:
        return self.prior is not None

    @property
    def omega_prior(self) -> dist.Distribution:
        """Prior of the between-patient SD (transformed scale); default HalfNormal(0.5)."""
        return self.omega if self.omega is not None else dist.HalfNormal(0.5)


class ParameterSpec:
    """An ordered set of parameters. ``spec.sample()`` inside a numpyro model draws the free ones
    from their priors and returns ``{name: value}`` for all."""

    def __init__(self, parameters: Iterable[Parameter]):
        self.parameters = tuple(parameters)
        names = [p.name for p in self.parameters]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"parameter names must be unique; repeated: {dup}")
        if not self.parameters:
            raise ValueError("a parameter specification needs at least one parameter")

    def __getitem__(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"unknown parameter {name!r}; the specification has {self.names}")

    def __eq__(self, other) -> bool:
        """Equal when every parameter is: name, unit, constraint, level, source, fixed value, and the
        priors' types and values (so equal specifications share one compiled fit)."""
        return isinstance(other, ParameterSpec) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple:
        return tuple(
            (p.name, p.unit, p.value, p.constraint, p.level, p.source, _distribution_key(p.prior),
             _distribution_key(p.omega))
            for p in self.parameters
        )  # fmt: skip

    def __repr__(self) -> str:
        rows = [f"  {p.name} [{p.unit}]: " + (repr(p.prior) if p.free else f"fixed {p.value}") for p in self.parameters]
        return "ParameterSpec(\n" + "\n".join(rows) + "\n)"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def free(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters if p.free)

    @property
    def individual(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters if p.level == "individual")

    @property
    def units(self) -> dict[str, str]:
        return {p.name: p.unit for p in self.parameters}

    def sample(self) -> dict[str, object]:
        """Inside a numpyro model: ``numpyro.sample`` each free parameter; fixed ones as given."""
        return {p.name: numpyro.sample(p.name, p.prior) if p.free else p.value for p in self.parameters}

    def replace(self, **changes: Parameter | Mapping) -> ParameterSpec:
        """A copy with some parameters replaced (e.g. fixed to a value, or a narrower prior)."""
        unknown = sorted(set(changes) - set(self.names))
        if unknown:
            raise KeyError(f"unknown parameter(s) {unknown}; the specification has {self.names}")
        return ParameterSpec(changes.get(p.name, p) for p in self.parameters)
