"""Parameter constraints, their bijections to the real line, and the random-effects law.

The one place these are defined: ``inference`` (priors, population models, MAP on the
unconstrained scale) and ``scenarios`` (virtual populations) both use them.

A constraint names a parameter's support: ``"real"``, ``"positive"`` (transform: log) or
``"unit_interval"`` (transform: logit). Between patients a parameter varies by

    T(p_i) = T(p_typical) + sum_c beta_c (x_{i,c} - centre_c) + omega * eta_i,   eta_i ~ N(0, 1)

with ``T`` its constraint's transform (:func:`individual_values`). A density of ``p`` written on
``u = T(p)`` takes the log-Jacobian of the inverse, ``log |d T^-1(u) / du|`` (:func:`log_jacobian`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

CONSTRAINTS: dict[str, tuple[float, float]] = {
    "real": (-math.inf, math.inf),
    "positive": (0.0, math.inf),
    "unit_interval": (0.0, 1.0),
}


def _identity(x):
    return x


TRANSFORMS: dict[str, tuple[Callable, Callable]] = {
    "positive": (jnp.log, jnp.exp),
    "unit_interval": (jax.scipy.special.logit, jax.scipy.special.expit),
    "real": (_identity, _identity),
}


def _zero(u):
    return jnp.zeros_like(u)


def _log_sigmoid_derivative(u):
    return jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u)  # log sigmoid'(u), no underflow for large |u|


LOG_JACOBIANS: dict[str, Callable] = {
    "positive": _identity,  # log |d exp(u) / du| = u
    "unit_interval": _log_sigmoid_derivative,
    "real": _zero,
}


def transform(constraint: str) -> tuple[Callable, Callable]:
    """``(forward, inverse)`` of ``constraint``: forward maps the support onto the real line."""
    if constraint not in TRANSFORMS:
        raise ValueError(f"constraint {constraint!r} is not one of {list(TRANSFORMS)}")
    return TRANSFORMS[constraint]


def individual_values(constraint: str, typical, omega, eta, shift=0.0):
    """The random-effects law: ``T^-1(T(typical) + shift + omega * eta)`` (broadcast).

    ``typical`` in natural units; ``omega`` the between-patient SD on the transformed scale;
    ``eta`` standard-normal draws; ``shift`` the covariate term ``sum_c beta_c (x_c - centre_c)``
    on the transformed scale."""
    forward, inverse = transform(constraint)
    return inverse(forward(typical) + shift + omega * eta)


def log_jacobian(constraint: str, u):
    """``log |d T^-1(u) / du|`` of ``constraint``'s transform ``T`` at unconstrained ``u`` (any
    shape, elementwise): what a log-density of ``p = T^-1(u)`` gains when written as one of ``u``
    (``u`` for positive, ``log sigmoid'(u)`` for unit_interval, 0 for real)."""
    if constraint not in LOG_JACOBIANS:
        raise ValueError(f"constraint {constraint!r} is not one of {list(LOG_JACOBIANS)}")
    return LOG_JACOBIANS[constraint](u)
