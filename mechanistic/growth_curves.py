"""The six classical tumour volume growth laws compared by Ghaffari Laleh et al. 2022 (PLOS Comput
Biol 18:e1009822), as pure JAX functions ``V(t; params, v0)``.

Each law is an autonomous ODE ``dV/dt = f(V)`` with ``V(0) = v0``; ``t`` is the time elapsed since
the initial volume, in whatever unit the rates use (the Laleh fits use weeks, with volumes
normalised by the dataset maximum, so rates are per week and volumes dimensionless). As in the
authors' code (``odeint(myode, v0, t)``), ``v0`` is a fitted parameter: the volume at the FIRST
observation time, not at treatment start and not the first measurement itself; callers pass
``t - t_first``.

====================  ==================  ================================  ===========================
law                   dV/dt               parameters, v0 last (bounds)      solution
====================  ==================  ================================  ===========================
exponential           (a - b) V           a, b, v0 >= 0                     closed form
logistic              a V (1 - V/b)       a, b, v0 >= 0                     closed form
classic_bertalanffy   a V^(2/3) - b V     a, b, v0 >= 0                     closed form (Bernoulli)
general_bertalanffy   a V^l - b V         a, b, v0 >= 0; l in [2/3, 1]      closed form (Bernoulli)
gompertz              V (b - a ln V)      a, v0 >= 0; b free                closed form (in ln V)
general_gompertz      V^l (b - a ln V)    a, v0 >= 0; b free; l in [2/3,1]  RK4 after a time change
====================  ==================  ================================  ===========================

The bounds are the authors' ``curve_fit`` bounds (Fit.py): ``[0, inf)`` for every parameter except
the Gompertz ``b`` (free) and the exponent ``l`` in ``[2/3, 1]``. Parameter counts (``v0``
included, as the authors count them for AIC): 3, 3, 3, 4, 3, 4.

Note on the authors' code: their classic Bertalanffy right-hand side is ``alpha * (dim**2/3)``,
which Python parses as ``alpha * V**2 / 3`` (a V^2/3, not a V^(2/3)). Here the textbook exponent
2/3 is used.

Each law here is a :mod:`mechanistic.growth_laws` object in the paper's parameters
(``GrowthCurve.law``): exponential ``Exponential(a - b)``, logistic ``Logistic(a, b)``, the
Bertalanffy laws ``Bertalanffy(a, l - 1, loss=b)``, the Gompertz laws ``Gompertz(a, b)`` and
``GeneralGompertz(a, b, l - 1)``; its rates and solutions are written there, once.

Shapes: ``t`` any shape for the closed forms (``general_gompertz``: 1-D and non-decreasing);
``params (k,)`` without ``v0``; ``v0`` scalar; the result has the shape of ``t``. All functions
are jit-, vmap- and grad-compatible (float64 recommended).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.growth_laws import AbstractGrowthLaw, Bertalanffy, Exponential, GeneralGompertz, Gompertz, Logistic


def _params(name: str, params, k: int) -> jax.Array:
    p = jnp.asarray(params, dtype=float)
    if p.shape != (k,):
        raise ValueError(f"{name}: params must have shape ({k},); got {p.shape}")
    return p


# The laws of the paper's parameters (v0 excluded), as mechanistic.growth_laws objects


def _exponential_law(params) -> Exponential:
    a, b = _params("exponential", params, 2)
    return Exponential(a - b)


def _logistic_law(params) -> Logistic:
    a, b = _params("logistic", params, 2)
    return Logistic(a, b)


def _classic_bertalanffy_law(params) -> Bertalanffy:
    a, b = _params("classic_bertalanffy", params, 2)
    return Bertalanffy(a, -1.0 / 3.0, b)


def _general_bertalanffy_law(params) -> Bertalanffy:
    a, b, lam = _params("general_bertalanffy", params, 3)
    m = 1.0 - lam  # the Bernoulli exponent
    return Bertalanffy(a, -m, b)


def _gompertz_law(params) -> Gompertz:
    a, b = _params("gompertz", params, 2)
    return Gompertz(a, b)


def _general_gompertz_law(params) -> GeneralGompertz:
    a, b, lam = _params("general_gompertz", params, 3)
    m = 1.0 - lam  # the exponent of the time change
    return GeneralGompertz(a, b, -m)


def exponential(t, params, v0):
    """``dV/dt = (a - b) V``: ``V = v0 exp((a - b) t)``. ``params = (a, b)`` (1/time)."""
    return _exponential_law(params).solution(t, v0)


def logistic(t, params, v0):
    """``dV/dt = a V (1 - V/b)``: ``V = b / (1 + (b/v0 - 1) exp(-a t))``. ``params = (a, b)``:
    rate (1/time), carrying capacity (volume units); ``b > 0``, ``v0 > 0``."""
    return _logistic_law(params).solution(t, v0)


def classic_bertalanffy(t, params, v0):
    """``dV/dt = a V^(2/3) - b V`` (textbook exponent, see the module note on the authors' bug):
    ``V^(1/3) = v0^(1/3) e^(-b t/3) + (a/b)(1 - e^(-b t/3))``. ``params = (a, b)``: ``a`` in
    volume^(1/3)/time, ``b`` in 1/time."""
    return _classic_bertalanffy_law(params).solution(t, v0)


def general_bertalanffy(t, params, v0):
    """``dV/dt = a V^l - b V``, ``l`` in [2/3, 1]: Bernoulli substitution ``u = V^(1-l)`` makes it
    linear, ``V^(1-l) = v0^(1-l) e^(-(1-l) b t) + (a/b)(1 - e^(-(1-l) b t))``. ``params = (a, b, l)``;
    ``l = 1`` gives exponential growth at rate ``a - b``."""
    return _general_bertalanffy_law(params).solution(t, v0)


def gompertz(t, params, v0):
    """``dV/dt = V (b - a ln V)``: ``ln V = ln v0 e^(-a t) + (b/a)(1 - e^(-a t))`` (plateau
    ``exp(b/a)``; ``a = 0`` is exponential growth at rate ``b``). ``params = (a, b)`` (1/time)."""
    return _gompertz_law(params).solution(t, v0)


def general_gompertz(t, params, v0, *, substeps: int = 4):
    """``dV/dt = V^l (b - a ln V)``, ``l`` in [2/3, 1]; no closed form. ``params = (a, b, l)``.

    Solved by fixed-step RK4 after a Sundman time change
    (:meth:`mechanistic.growth_laws.GeneralGompertz.solution`): ``t`` must be 1-D and
    non-decreasing, from 0; each gap between consecutive times (and from 0 to ``t[0]``) takes
    ``substeps`` equal RK4 steps. Relative error against LSODA over 200 draws in the range of the
    Laleh fits (gaps 0.5-40 weeks): <= 3.4e-4 with 4 substeps, 3.3e-5 with 8, 2.2e-6 with 16.
    ``l = 1`` reduces to :func:`gompertz` exactly (constant speed).
    """
    return _general_gompertz_law(params).solution(t, v0, substeps=substeps)


class GrowthCurve(NamedTuple):
    """One growth law. ``parameters``: names, ``v0`` last; ``bounds``: ``(lower, upper)`` per
    parameter (the authors' ``curve_fit`` bounds, ``inf`` where unbounded); ``law(params)``: the
    :mod:`~mechanistic.growth_laws` object of ``params`` (without ``v0``); ``rescale(theta, c)``:
    the parameters that give ``c V(t)`` when ``theta`` gives ``V(t)``, and ``retime(theta, s)``:
    those that give ``V(s t)`` (every law here is closed under both; fitters use them to work on
    unit-scale data and to build starting points).
    Call the curve itself, ``curve(t, theta)``, with ``theta = (*params, v0)`` of shape
    ``(n_parameters,)``."""

    name: str
    parameters: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    law: Callable[[jax.Array], AbstractGrowthLaw]
    rescale: Callable
    retime: Callable

    @property
    def n_parameters(self) -> int:
        """Number of fitted parameters, ``v0`` included (the ``k`` of AIC)."""
        return len(self.parameters)

    def curve(self, t, params, v0) -> jax.Array:
        """The solution ``V(t)`` (shape of ``t``) from ``v0`` (scalar) for ``params`` without ``v0``."""
        return self.law(params).solution(t, v0)

    def rhs(self, v, params) -> jax.Array:
        """``dV/dt`` at volumes ``v`` (any shape), for checks."""
        return self.law(params).rhs(v)

    def __call__(self, t, theta):
        theta = jnp.asarray(theta, dtype=float)
        if theta.shape != (self.n_parameters,):
            raise ValueError(
                f"{self.name}: theta must have shape ({self.n_parameters},) for {self.parameters}; got {theta.shape}"
            )
        return self.curve(t, theta[:-1], theta[-1])


def _scaled(theta, *factors):
    """``theta * factors`` (one factor per parameter), as an array."""
    return jnp.asarray(theta, dtype=float) * jnp.stack([jnp.asarray(f, dtype=float) for f in factors])


def _rescale_gompertz(theta, c):
    a, b, v0 = theta
    return jnp.stack([a, b + a * jnp.log(c), c * v0])


def _rescale_general_gompertz(theta, c):
    # V = c W: dW/dt = c^(l-1) W^l ((b - a ln c) - a ln W), so a_W = c^(l-1) a, b_W = c^(l-1) (b - a ln c)
    a, b, lam, v0 = theta
    f = c ** (1.0 - lam)
    return jnp.stack([f * a, f * (b + a * jnp.log(c)), lam, c * v0])


_POS = (0.0, np.inf)
_FREE = (-np.inf, np.inf)
_EXPONENT = (2.0 / 3.0, 1.0)

GROWTH_CURVES: dict[str, GrowthCurve] = {
    c.name: c
    for c in (
        GrowthCurve(
            "exponential",
            ("a", "b", "v0"),
            (_POS, _POS, _POS),
            _exponential_law,
            lambda th, c: _scaled(th, 1.0, 1.0, c),
            lambda th, s: _scaled(th, s, s, 1.0),
        ),
        GrowthCurve(
            "logistic",
            ("a", "b", "v0"),
            (_POS, _POS, _POS),
            _logistic_law,
            lambda th, c: _scaled(th, 1.0, c, c),
            lambda th, s: _scaled(th, s, 1.0, 1.0),
        ),
        GrowthCurve(
            "classic_bertalanffy",
            ("a", "b", "v0"),
            (_POS, _POS, _POS),
            _classic_bertalanffy_law,
            lambda th, c: _scaled(th, c ** (1.0 / 3.0), 1.0, c),
            lambda th, s: _scaled(th, s, s, 1.0),
        ),
        GrowthCurve(
            "general_bertalanffy",
            ("a", "b", "l", "v0"),
            (_POS, _POS, _EXPONENT, _POS),
            _general_bertalanffy_law,
            lambda th, c: _scaled(th, c ** (1.0 - th[2]), 1.0, 1.0, c),
            lambda th, s: _scaled(th, s, s, 1.0, 1.0),
        ),
        GrowthCurve(
            "gompertz",
            ("a", "b", "v0"),
            (_POS, _FREE, _POS),
            _gompertz_law,
            _rescale_gompertz,
            lambda th, s: _scaled(th, s, s, 1.0),
        ),
        GrowthCurve(
            "general_gompertz",
            ("a", "b", "l", "v0"),
            (_POS, _FREE, _EXPONENT, _POS),
            _general_gompertz_law,
            _rescale_general_gompertz,
            lambda th, s: _scaled(th, s, s, 1.0, 1.0),
        ),
    )
}
"""The six laws by name, in the paper's order."""
