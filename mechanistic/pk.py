"""Pharmacokinetic models of one drug.

Units: time in days, rates in 1/day, volumes in L, clearances in L/day, amounts in mg,
concentrations in mg/L (= ug/mL). Convert literature values with :mod:`mechanistic.units`.

Linear models (:class:`OneCompartment`, :class:`TwoCompartment`, :class:`DirectExposure`,
:class:`DailyExposure`)
are evaluated in closed form by superposition over the dose table (exact; no time stepping
across dose kinks). :class:`MichaelisMentenOneCompartment` has saturable elimination and is
integrated as an ODE state by the solver; its first-order absorption depot and infusion
inputs are still closed form, so oral doses need no solver restarts.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.checks import check_range, concrete
from mechanistic.dosing import INFUSION, IV_BOLUS, ORAL, ROUTES, DoseTable
from mechanistic.exponential_events import ExponentialEvents, accumulate, evaluate


def _check_positive(owner: str, **values) -> None:
    for name, value in values.items():
        check_range(owner, name, value, 0.0, strict=True)


def _check_distinct_rates(owner: str, ka, *rates) -> None:
    """The closed form divides by ``ka - rate``; the equal-rate (flip-flop) limit is not supported."""
    cka = concrete(ka)
    for rate in rates:
        c = concrete(rate)
        if cka is not None and c is not None and np.any(np.abs(cka - c) <= 1e-9 * np.abs(c)):
            raise ValueError(
                f"{owner}: ka={cka.tolist()!r} equals a disposition rate {c.tolist()!r} (1/day); the closed form "
                "is singular there: perturb ka by a relative 1e-6 (the concentration changes by about as much)"
            )


class DoseRows(eqx.Module):
    """The dose-table columns for one drug: rows of other drugs have amount 0."""

    time: jax.Array
    amount: jax.Array
    route: jax.Array
    duration: jax.Array
    bioavailability: jax.Array
    lag: jax.Array

    @classmethod
    def of(cls, doses: DoseTable, mine: jax.Array) -> DoseRows:
        """Rows of ``doses`` where ``mine (n,)`` is true; other rows get amount 0."""
        return cls(
            doses.time,
            jnp.where(mine, doses.amount, 0.0),
            doses.route,
            doses.duration,
            doses.bioavailability,
            doses.lag,
        )

    def start_times(self) -> jax.Array:
        """When each dose starts acting (day): after the lag for oral rows, at the dose time otherwise."""
        return jnp.where(self.route == ORAL, self.time + self.lag, self.time)

    def oral_absorbed(self) -> jax.Array:
        """Amount reaching the circulation from each oral row (mg, ``amount x F``; 0 for other routes)."""
        return jnp.where(self.route == ORAL, self.amount * self.bioavailability, 0.0)

    def infusion_steps(self):
        """Infusion rate (mg/day) switched on at start and off at end: (start, end, rate)."""
        is_inf = self.route == INFUSION
        dur = jnp.where(is_inf, self.duration, 1.0)
        rate = jnp.where(is_inf, self.amount / dur, 0.0)
        return self.time, self.time + jnp.where(is_inf, self.duration, 0.0), rate


class AbstractPK(eqx.Module):
    """A drug's PK model. ``routes`` lists the routes it accepts; ``n_states`` is the number of
    ODE states it needs (0 for closed-form models)."""

    routes: ClassVar[tuple[str, ...]] = ROUTES
    n_states: ClassVar[int] = 0

    def absorption_rate(self) -> jax.Array | None:
        return None

    def resolution_times(self, rows: DoseRows) -> jax.Array:
        """Times ``(n,)`` the solver must step to so that no step jumps over the absorption
        peak: one absorption time ``1/ka`` after each oral dose (its dose time otherwise).

        Without them an adaptive step can span a whole dosing interval while every Runge–Kutta
        stage misses the short absorption transient; the embedded error estimate misses it too,
        and the drug effect is under-integrated (seen: 3% error in two-year tumour volumes of
        the flagship model at rtol 1e-5, 8e-5 with these steps).
        """
        ka = self.absorption_rate()
        if ka is None:
            return rows.time
        oral = (rows.route == ORAL) & (rows.amount > 0)
        return jnp.where(oral, rows.start_times() + 1.0 / ka, rows.time)

    def check_routes(self, route_codes: np.ndarray, drug: str) -> None:
        """Raise if a concrete dose uses a route this model does not accept."""
        for code in np.unique(route_codes):
            if ROUTES[int(code)] not in self.routes:
                raise ValueError(
                    f"drug {drug!r}: route {ROUTES[int(code)]!r} is not supported by "
                    f"{type(self).__name__}; it accepts {self.routes}"
                )


class LinearPK(AbstractPK):
    """Linear PK with a poly-exponential bolus response ``sum_i A_i exp(-lambda_i t)`` (per mg)
    and optional first-order absorption ``ka`` for oral doses."""

    def disposition(self) -> tuple[jax.Array, jax.Array]:
        """``(A, lambda)``: amplitudes (1/L) and rates (1/day) of the unit IV bolus response."""
        raise NotImplementedError

    def events(self, rows: DoseRows) -> ExponentialEvents:
        amp, lam = self.disposition()
        ka = self.absorption_rate()
        amount = rows.amount
        bolus = jnp.where(rows.route == IV_BOLUS, amount, 0.0)[:, None] * amp
        if ka is None:  # IV-only model: no oral terms (oral rows are rejected before solving)
            ka_ = jnp.asarray(0.0)
            oral_lam = jnp.zeros_like(bolus)
        else:
            ka_ = jnp.asarray(ka)
            oral_amt = rows.oral_absorbed()
            oral_lam = oral_amt[:, None] * ka_ * amp / (ka_ - lam)
        oral_ka = -jnp.sum(oral_lam, axis=1, keepdims=True)
        start, end, rate = rows.infusion_steps()
        step = rate[:, None] * amp / lam  # response to a rate step: step * (1 - exp(-lam t))
        first = jnp.concatenate([bolus + oral_lam - step, oral_ka], axis=1)
        second = jnp.concatenate([step, jnp.zeros_like(oral_ka)], axis=1)
        total_step = jnp.sum(step, axis=1)
        return ExponentialEvents(
            times=jnp.concatenate([rows.start_times(), end]),
            coeffs=jnp.concatenate([first, second]),
            const=jnp.concatenate([total_step, -total_step]),
            rates=jnp.concatenate([lam, ka_[None]]),
        )

    def concentration(self, rows: DoseRows, t: jax.Array) -> jax.Array:
        """Plasma concentration (mg/L) at times ``t`` (day), any shape."""
        return evaluate(accumulate(self.events(rows)), t)


class OneCompartment(LinearPK):
    """One-compartment linear PK: elimination rate ``k`` (1/day), volume ``v`` (L) and, for oral
    doses, absorption rate ``ka`` (1/day). ``v`` is V/F when F is folded into the volume."""

    k: jax.Array
    v: jax.Array
    ka: jax.Array | None = None

    def __check_init__(self):
        _check_positive("OneCompartment", k=self.k, v=self.v)
        if self.ka is not None:
            _check_positive("OneCompartment", ka=self.ka)
            _check_distinct_rates("OneCompartment", self.ka, self.k)

    @property
    def routes(self):  # type: ignore[override]
        return ROUTES if self.ka is not None else ("iv_bolus", "infusion")

    @classmethod
    def from_clearance(cls, cl, v, ka=None) -> OneCompartment:
        """From clearance ``cl`` (L/day), volume ``v`` (L), absorption ``ka`` (1/day)."""
        _check_positive("OneCompartment", cl=cl)
        return cls(k=jnp.asarray(cl) / jnp.asarray(v), v=v, ka=ka)

    def disposition(self):
        return jnp.reshape(1.0 / jnp.asarray(self.v), (1,)), jnp.reshape(jnp.asarray(self.k), (1,))

    def absorption_rate(self):
        return self.ka


class TwoCompartment(LinearPK):
    """Two-compartment linear PK: clearance ``cl`` and inter-compartmental clearance ``q``
    (L/day), central ``v1`` and peripheral ``v2`` volumes (L), optional ``ka`` (1/day)."""

    cl: jax.Array
    v1: jax.Array
    q: jax.Array
    v2: jax.Array
    ka: jax.Array | None = None

    def __check_init__(self):
        _check_positive("TwoCompartment", cl=self.cl, v1=self.v1, q=self.q, v2=self.v2)
        if self.ka is not None:
            _check_positive("TwoCompartment", ka=self.ka)
            _check_distinct_rates("TwoCompartment", self.ka, *self.macro_constants())

    @property
    def routes(self):  # type: ignore[override]
        return ROUTES if self.ka is not None else ("iv_bolus", "infusion")

    def macro_constants(self) -> tuple[jax.Array, jax.Array]:
        """``(alpha, beta)``: the fast and slow disposition rates (1/day)."""
        k10, k12, k21 = self.cl / self.v1, self.q / self.v1, self.q / self.v2
        s = k10 + k12 + k21
        disc = jnp.sqrt(s * s - 4.0 * k10 * k21)
        return (s + disc) / 2.0, 2.0 * k10 * k21 / (s + disc)  # beta without cancellation

    def disposition(self):
        alpha, beta = self.macro_constants()
        k21 = self.q / self.v2
        a = (alpha - k21) / (self.v1 * (alpha - beta))
        b = (k21 - beta) / (self.v1 * (alpha - beta))
        return jnp.stack([a, b]), jnp.stack([alpha, beta])

    def absorption_rate(self):
        return self.ka


class DirectExposure(LinearPK):
    """No pharmacokinetics: the drug's "concentration" is the current infusion rate (amount/day).

    For models whose drug input is a dimensionless exposure ``D(t)`` (on/off therapy as in
    Strobl et al. 2021): an infusion of amount ``a`` over ``d`` days sets ``D = a/d``.
    """

    routes: ClassVar[tuple[str, ...]] = ("infusion",)

    def events(self, rows: DoseRows) -> ExponentialEvents:
        start, end, rate = rows.infusion_steps()
        n = rows.time.shape[0]
        return ExponentialEvents(
            times=jnp.concatenate([start, end]),
            coeffs=jnp.zeros((2 * n, 0)),
            const=jnp.concatenate([rate, -rate]),
            rates=jnp.zeros((0,)),
        )


class DailyExposure(LinearPK):
    """No pharmacokinetics: an oral drug's "concentration" is its dose relative to a reference dose,
    held for ``lasts`` days from each dose (dimensionless exposure, e.g. 1 while 1,000 mg of
    abiraterone a day is taken, 0.5 at 500 mg, 0 on a holiday).

    For models whose drug input is an on/off or dose-fraction signal (Zhang et al. 2017, Strobl et
    al. 2021) and whose drug clears within the dosing interval. ``reference_mg``: the dose that
    gives exposure 1 (mg); ``lasts``: how long one dose acts (day, default 1: daily dosing).
    Overlapping doses add."""

    reference_mg: jax.Array = eqx.field(converter=jnp.asarray)
    lasts: jax.Array = eqx.field(converter=jnp.asarray, default=1.0)
    routes: ClassVar[tuple[str, ...]] = ("oral",)

    def __check_init__(self):
        _check_positive("DailyExposure", reference_mg=self.reference_mg, lasts=self.lasts)

    def events(self, rows: DoseRows) -> ExponentialEvents:
        level = rows.amount / self.reference_mg
        n = rows.time.shape[0]
        return ExponentialEvents(
            times=jnp.concatenate([rows.time, rows.time + self.lasts]),
            coeffs=jnp.zeros((2 * n, 0)),
            const=jnp.concatenate([level, -level]),
            rates=jnp.zeros((0,)),
        )


class MichaelisMentenOneCompartment(AbstractPK):
    """One compartment with saturable elimination ``vmax * C / (km + C)`` (mg/day).

    ``vmax`` (mg/day), ``km`` (mg/L), ``v`` (L), ``ka`` (1/day, oral). The central amount is an
    ODE state; oral absorption and infusions enter as closed-form input rates. IV boluses would
    need solver restarts and are not supported: give a short infusion instead.
    """

    vmax: jax.Array
    km: jax.Array
    v: jax.Array
    ka: jax.Array

    routes: ClassVar[tuple[str, ...]] = ("infusion", "oral")
    n_states: ClassVar[int] = 1

    def __check_init__(self):
        _check_positive("MichaelisMentenOneCompartment", vmax=self.vmax, km=self.km, v=self.v, ka=self.ka)

    def absorption_rate(self):
        return self.ka

    def input_events(self, rows: DoseRows) -> ExponentialEvents:
        """Events whose sum is the input rate into the central compartment (mg/day)."""
        oral_amt = rows.oral_absorbed()
        start, end, rate = rows.infusion_steps()
        n = rows.time.shape[0]
        return ExponentialEvents(
            times=jnp.concatenate([rows.start_times(), end]),
            coeffs=jnp.concatenate([(oral_amt * self.ka)[:, None], jnp.zeros((n, 1))]),
            const=jnp.concatenate([rate, -rate]),
            rates=jnp.reshape(jnp.asarray(self.ka), (1,)),
        )

    def rhs(self, amount: jax.Array, input_rate: jax.Array) -> jax.Array:
        """d(central amount)/dt (mg/day) for state ``amount (1,)``."""
        c = amount / self.v
        return input_rate - self.vmax * c / (self.km + c)

    def concentration_from_state(self, amount: jax.Array) -> jax.Array:
        return amount[..., 0] / self.v
