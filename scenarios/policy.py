"""Adaptive dosing policies: rules that read the measured burden at a decision time and set
the dose level of each drug until the next decision.

A policy is an equinox Module with two pure methods (blackjax/optax style, explicit state):

- ``init(n_drugs) -> state``
- ``decide(state, measured, baseline, t) -> (state, levels)`` where ``measured`` is the
  measured burden now and ``baseline`` the regimen's reference burden in the same units: the
  burden at the first decision or before treatment (``Regimen.baseline``,
  :data:`scenarios.regimen.BASELINES`),
  ``t`` the decision time (day) and ``levels`` (scalar for all drugs, or ``(n_drugs,)``)
  multiply the regimen's template doses over the coming interval (0 = hold, 1 = as planned).

Threshold rules take a ``temperature``: ``None`` gives the exact (step) rule; a positive value
replaces each step by a logistic of width ``temperature`` x baseline, so that thresholds can
be tuned by gradient (the exact rule is the zero-temperature limit).
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.checks import check_range, concrete


def _step(x: jax.Array, temperature) -> jax.Array:
    """Heaviside(x > 0), or its logistic relaxation with the given temperature."""
    if temperature is None:
        return (jnp.asarray(x) > 0).astype(float)
    return jax.nn.sigmoid(x / temperature)


def _check_fraction(owner: str, name: str, value) -> None:
    c = concrete(value)
    if c is not None and not (np.isfinite(c) & (c > 0) & (c <= 1)).all():
        raise ValueError(f"{owner}: {name}={c.tolist()!r} is invalid; it must be a fraction in (0, 1]")


class ThresholdState(NamedTuple):
    on: jax.Array  # 1 = treating, 0 = holding (in (0, 1) for the smooth rule)
    cycles: jax.Array  # number of times treatment resumed after a hold


class ThresholdAdaptive(eqx.Module):
    """Threshold adaptive therapy "AT-x" (Zhang et al. 2017; Strobl et al. 2021).

    Hold all drugs when the measured burden falls below ``hold_below`` x baseline; resume when
    it exceeds ``resume_above`` x baseline; otherwise keep the current state. AT50 is
    ``hold_below=0.5, resume_above=1.0``. Treatment starts on. Fractions in (0, 1] (resume
    may exceed 1: resume above baseline).
    """

    hold_below: jax.Array = eqx.field(converter=jnp.asarray)
    resume_above: jax.Array = eqx.field(converter=jnp.asarray)
    temperature: float | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        _check_fraction("ThresholdAdaptive", "hold_below", self.hold_below)
        check_range("ThresholdAdaptive", "resume_above", self.resume_above, 0.0, strict=True)
        if self.temperature is not None and not self.temperature > 0:
            raise ValueError(f"ThresholdAdaptive: temperature={self.temperature!r} must be > 0 or None (exact rule)")

    def init(self, n_drugs: int) -> ThresholdState:
        return ThresholdState(on=jnp.asarray(1.0), cycles=jnp.asarray(0.0))

    def decide(self, state: ThresholdState, measured, baseline, t):
        tau = None if self.temperature is None else self.temperature * baseline
        above = _step(measured - self.resume_above * baseline, tau)
        below = _step(self.hold_below * baseline - measured, tau)
        on = above + (1.0 - above) * (1.0 - below) * state.on
        cycles = state.cycles + (1.0 - state.on) * above
        return ThresholdState(on, cycles), on


class ModulationState(NamedTuple):
    level: jax.Array
    previous: jax.Array  # measured burden at the previous decision


class DoseModulation(eqx.Module):
    """Dose-modulation adaptive therapy (Enriquez-Navas et al. 2016 style).

    At each decision after the first, compare the measured burden with the previous one: if it
    fell by at least ``response`` (fraction) multiply the dose level by ``down``; if it rose by
    at least ``growth`` multiply by ``up``; else keep. Levels stay within [``min_level``,
    ``max_level``] (1 = the template dose).
    """

    response: float = 0.1
    growth: float = 0.1
    down: float = 0.5
    up: float = 1.5
    min_level: float = 0.0
    max_level: float = 1.0
    temperature: float | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        _check_fraction("DoseModulation", "response", self.response)
        check_range("DoseModulation", "growth", self.growth, 0.0, strict=True)
        _check_fraction("DoseModulation", "down", self.down)
        check_range("DoseModulation", "up", self.up, 1.0, strict=False)
        if not 0.0 <= self.min_level <= self.max_level:
            raise ValueError(
                f"DoseModulation: need 0 <= min_level <= max_level; got {self.min_level!r}, {self.max_level!r}"
            )

    def init(self, n_drugs: int) -> ModulationState:
        return ModulationState(level=jnp.asarray(1.0), previous=jnp.asarray(jnp.nan))

    def decide(self, state: ModulationState, measured, baseline, t):
        prev = jnp.where(jnp.isnan(state.previous), measured, state.previous)
        tau = None if self.temperature is None else self.temperature * baseline
        fell = _step((1.0 - self.response) * prev - measured, tau)
        rose = _step(measured - (1.0 + self.growth) * prev, tau)
        factor = fell * self.down + rose * self.up + (1.0 - fell - rose)
        level = jnp.clip(state.level * factor, self.min_level, self.max_level)
        return ModulationState(level, measured), level


class SwitchState(NamedTuple):
    switched: jax.Array  # 0 before progression, 1 after
    nadir: jax.Array
    first: jax.Array  # (n_drugs,) levels before the switch
    second: jax.Array  # (n_drugs,) levels after


class SwitchOnProgression(eqx.Module):
    """Give drug ``first`` until progression, then drug ``second`` (indices into the regimen's
    drugs). Progression: measured burden > (1 + ``threshold``) x its nadir so far."""

    first: int = eqx.field(static=True, default=0)
    second: int = eqx.field(static=True, default=1)
    threshold: float = 0.2
    temperature: float | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        _check_fraction("SwitchOnProgression", "threshold", self.threshold)
        if self.first == self.second:
            raise ValueError(f"SwitchOnProgression: first and second drug are both index {self.first}")

    def init(self, n_drugs: int) -> SwitchState:
        if max(self.first, self.second) >= n_drugs:
            raise ValueError(
                f"SwitchOnProgression: drug indices ({self.first}, {self.second}) but the regimen has {n_drugs} drug(s)"
            )
        one_hot = jnp.eye(n_drugs)
        return SwitchState(jnp.asarray(0.0), jnp.asarray(jnp.inf), one_hot[self.first], one_hot[self.second])

    def decide(self, state: SwitchState, measured, baseline, t):
        tau = None if self.temperature is None else self.temperature * baseline
        nadir = jnp.minimum(state.nadir, measured)
        progressed = _step(measured - (1.0 + self.threshold) * nadir, tau)
        switched = state.switched + (1.0 - state.switched) * progressed
        levels = (1.0 - switched) * state.first + switched * state.second
        return state._replace(switched=switched, nadir=nadir), levels
