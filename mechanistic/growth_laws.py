"""Tumour growth laws, each written once: its per-capita rate and, where one exists, its solution.

A law is an autonomous ODE ``dV/dt = g(V) V``; ``g`` is its per-capita rate (1/time). In a
multi-clone model (:class:`~mechanistic.tumour.TumourModel`) ``g`` is evaluated at the burden a
clone sees, ``W = competition @ N``, instead of its own volume. The classical closed forms
(:mod:`mechanistic.growth_curves`) are ``V(t)`` from ``V(0) = v0``, ``t`` the time elapsed.

- :class:`Exponential`: ``g = rate``; closed form.
- :class:`Logistic`: ``g = rate (1 - W / capacity)``; closed form.
- :class:`Bertalanffy`: ``g = rate W^per_capita_exponent - loss``; closed form (Bernoulli).
- :class:`Gompertz`: ``g = unit_rate - rate ln W`` (``rate ln(capacity / W)`` with a capacity);
  closed form in ``ln V``.
- :class:`GeneralGompertz`: ``g = W^per_capita_exponent (unit_rate - rate ln W)``; RK4 after a
  time change.

Units: rates in 1/time (1/day in the tumour model, per week in the Laleh fits), ``W``, ``v0`` and
``capacity`` in volume units; Bertalanffy's ``rate`` in volume^(-per_capita_exponent)/time.
Parameters are arrays that broadcast against the burden (one per clone in the tumour model) or
scalars. The laws do not check values (they are built inside traced code): the models that build
them do. ``V = 0`` is a fixed point of every law; the log-space rates and solutions floor volumes
at ``1e-300``.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp

from mechanistic.rk4 import rk4_step

_TINY = 1e-300  # volume floor where a law takes a logarithm or a negative power
_LOG_FLOOR = -700.0  # ln V floor in the general Gompertz speed factor (exp(-m ln V) stays finite)


def _relax(x):
    """``(1 - exp(-x)) / x``, 1 at ``x = 0`` (smooth, with the right derivative there)."""
    small = jnp.abs(x) < 1e-8
    safe = jnp.where(small, 1.0, x)
    return jnp.where(small, 1.0 - x / 2, -jnp.expm1(-safe) / safe)


def _log_volume(v0):
    """``ln v0`` with ``v0`` floored at 1e-300."""
    return jnp.log(jnp.maximum(v0, _TINY))


class AbstractGrowthLaw(eqx.Module):
    """A growth law ``dV/dt = g(V) V`` (abstract; the concrete laws are final)."""

    @abc.abstractmethod
    def per_capita(self, burden: jax.Array) -> jax.Array:
        """Per-capita rate ``g(W)`` (1/time) at the burden ``W`` (volume; any shape that
        broadcasts against the parameters)."""

    @abc.abstractmethod
    def solution(self, t, v0) -> jax.Array:
        """``V(t)`` from ``V(0) = v0`` (scalar), shape of ``t`` (time since ``v0``)."""

    def rhs(self, volume: jax.Array) -> jax.Array:
        """``dV/dt = g(V) V`` for a tumour alone (its burden is its volume)."""
        return self.per_capita(volume) * volume


class Exponential(AbstractGrowthLaw):
    """``g = rate``: ``V = v0 exp(rate t)``."""

    rate: jax.Array

    def per_capita(self, burden):
        return self.rate

    def solution(self, t, v0):
        return v0 * jnp.exp(self.rate * jnp.asarray(t, dtype=float))


class Logistic(AbstractGrowthLaw):
    """``g = rate (1 - W / capacity)``: ``V = capacity / (1 + (capacity/v0 - 1) exp(-rate t))``;
    ``capacity > 0``, ``v0 > 0``."""

    rate: jax.Array
    capacity: jax.Array

    def per_capita(self, burden):
        return self.rate * (1.0 - burden / self.capacity)

    def solution(self, t, v0):
        t = jnp.asarray(t, dtype=float)
        # as v0 / (e^(-r t) + (v0/K)(1 - e^(-r t))): no overflow as K -> inf (the exponential limit)
        return v0 / (jnp.exp(-self.rate * t) - (v0 / self.capacity) * jnp.expm1(-self.rate * t))


class Bertalanffy(AbstractGrowthLaw):
    """General von Bertalanffy, ``dV/dt = rate V^gamma - loss V``: ``g = rate W^p - loss`` with
    ``per_capita_exponent p = gamma - 1`` in ``[-1, 0]`` (``p = 0``: exponential growth at
    ``rate - loss``). ``loss`` (1/time) defaults to 0 (the tumour model counts death apart).

    Solution: with ``m = -p``, ``u = V^m`` obeys the linear ``du/dt = m (rate - loss u)``, so
    ``u = u0 e^(-m loss t) + rate m t (1 - e^(-m loss t)) / (m loss t)``."""

    rate: jax.Array
    per_capita_exponent: jax.Array
    loss: jax.Array = 0.0

    def per_capita(self, burden):
        return self.rate * jnp.maximum(burden, _TINY) ** self.per_capita_exponent - self.loss

    def log_solution(self, t, log_v0):
        """``ln V(t)`` from ``ln V(0) = log_v0``, in log space so that ``m -> 0`` (exponential
        growth), ``loss -> 0`` and ``rate -> 0`` stay accurate."""
        a, b = self.rate, self.loss
        t = jnp.asarray(t, dtype=float)
        m = jnp.maximum(-self.per_capita_exponent, 1e-12)  # m = 0: the 1e-12 error in ln V is below float noise
        decay = m * log_v0 - m * b * t  # ln(u0 e^(-m b t))
        t_pos = t > 0
        log_rise = jnp.log(m * jnp.where(t_pos, t, 1.0)) + jnp.log(_relax(m * b * t))  # ln(growth term / a)
        z = log_rise - decay
        # u = e^decay (1 + a e^z): log1p form (exact derivative at a = 0) unless e^z would overflow
        small = z < 600.0
        log_u_small = decay + jnp.log1p(jnp.where(t_pos, a * jnp.exp(jnp.where(small, z, 0.0)), 0.0))
        a_pos = a > 0
        log_u_large = jnp.where(a_pos, jnp.logaddexp(decay, jnp.log(jnp.where(a_pos, a, 1.0)) + log_rise), decay)
        return jnp.where(small, log_u_small, log_u_large) / m

    def solution(self, t, v0):
        return jnp.exp(self.log_solution(t, _log_volume(v0)))


class Gompertz(AbstractGrowthLaw):
    """``dV/dt = V (unit_rate - rate ln V)``: ``g = unit_rate - rate ln W``. ``unit_rate``
    (1/time) is the per-capita rate at unit volume, ``rate`` (1/time) how fast ``ln V`` relaxes to
    the plateau ``exp(unit_rate / rate)``; ``rate = 0`` is exponential growth at ``unit_rate``.
    With a carrying capacity ``K``, ``unit_rate = rate ln K`` (:meth:`with_capacity`).

    Solution: ``ln V = ln v0 e^(-rate t) + (unit_rate / rate)(1 - e^(-rate t))``."""

    rate: jax.Array
    unit_rate: jax.Array

    @classmethod
    def with_capacity(cls, rate, capacity) -> Gompertz:
        """``g = rate ln(capacity / W)``: the law with plateau ``capacity`` (volume)."""
        return cls(rate, rate * jnp.log(capacity))

    def per_capita(self, burden):
        return self.unit_rate - self.rate * _log_volume(burden)

    def log_solution(self, t, log_v0):
        """``ln V(t)`` from ``ln V(0) = log_v0``: ``w = ln V`` obeys ``dw/dt = unit_rate - rate w``."""
        return log_v0 * jnp.exp(-self.rate * t) + self.unit_rate * t * _relax(self.rate * t)

    def solution(self, t, v0):
        return jnp.exp(self.log_solution(jnp.asarray(t, dtype=float), _log_volume(v0)))


class GeneralGompertz(AbstractGrowthLaw):
    """``dV/dt = V^gamma (unit_rate - rate ln V)``: ``g = W^p`` times the :class:`Gompertz` rate,
    ``per_capita_exponent p = gamma - 1`` in ``[-1, 0]`` (``p = 0`` is :class:`Gompertz`). No
    closed form: :meth:`solution` integrates numerically."""

    rate: jax.Array
    unit_rate: jax.Array
    per_capita_exponent: jax.Array

    @property
    def gompertz(self) -> Gompertz:
        """The law without the factor ``W^p``."""
        return Gompertz(self.rate, self.unit_rate)

    def per_capita(self, burden):
        return jnp.maximum(burden, _TINY) ** self.per_capita_exponent * self.gompertz.per_capita(burden)

    def solution(self, t, v0, *, substeps: int = 4):
        """``V`` at the 1-D, non-decreasing times ``t >= 0``, by fixed-step RK4 after a Sundman
        time change: with ``w = ln V`` and ``ds/dt = exp(p w)``, ``dw/ds = unit_rate - rate w`` is
        linear (``w(s)`` is the Gompertz closed form), so only the scalar ``ds/dt = exp(p w(s))`` is
        integrated. Its Jacobian is ``p dw/dt``, bounded by the log-growth rate: the fast approach
        to the plateau that makes the ODE in ``V`` stiff is exact here. Each gap between
        consecutive times (and from 0 to ``t[0]``) takes ``substeps`` equal RK4 steps (a fixed
        count: zero-length gaps of padded series cost the same). ``p = 0`` gives the Gompertz
        closed form exactly (constant speed)."""
        t = jnp.asarray(t, dtype=float)
        if t.ndim != 1:
            raise ValueError(f"GeneralGompertz.solution: t must be 1-D and non-decreasing; got shape {t.shape}")
        if substeps < 1:
            raise ValueError(f"GeneralGompertz.solution: substeps must be >= 1; got {substeps}")
        gompertz, log_v0 = self.gompertz, _log_volume(v0)

        def speed(s):
            return jnp.exp(self.per_capita_exponent * jnp.maximum(gompertz.log_solution(s, log_v0), _LOG_FLOOR))

        def rk4(s, h):
            s = rk4_step(speed, speed, speed, s, h)  # autonomous: the same derivative at every stage
            return s, s

        steps = jnp.repeat(jnp.diff(t, prepend=0.0) / substeps, substeps)  # one flat loop: quicker to compile
        _, s = jax.lax.scan(rk4, jnp.zeros((), dtype=t.dtype), steps)
        return jnp.exp(gompertz.log_solution(s[substeps - 1 :: substeps], log_v0))
