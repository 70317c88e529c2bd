"""Dose tables: what was (or will be) given, when, and how.

A :class:`DoseTable` stores one row per dose as arrays, so amounts, times, bioavailability
and lag are differentiable and a batch of schedules (padded to one length with
:meth:`DoseTable.pad`) can be stacked and vmapped.

Units: time and duration in days, amount in mg, bioavailability as a fraction in (0, 1],
lag in days. Routes: ``"iv_bolus"``, ``"infusion"`` (zero-order over ``duration``), ``"oral"``
(first-order absorption after ``lag``, fraction ``bioavailability`` absorbed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.checks import concrete

ROUTES: tuple[str, ...] = ("iv_bolus", "infusion", "oral")
IV_BOLUS, INFUSION, ORAL = 0, 1, 2


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


class DoseTable(eqx.Module):
    """Doses as parallel arrays of shape ``(n,)``, sorted by time.

    Build tables with :func:`dose`, :func:`every` and :func:`daily`, and join them with
    ``+`` (which merges drug names and sorts by time). ``drugs`` names the drug of each
    integer code in ``drug``.
    """

    time: jax.Array  # (n,) day
    amount: jax.Array  # (n,) mg
    drug: jax.Array  # (n,) int, index into ``drugs``
    route: jax.Array  # (n,) int, index into ROUTES
    duration: jax.Array  # (n,) day, infusion length (0 for other routes)
    bioavailability: jax.Array  # (n,) fraction absorbed (oral; 1 otherwise)
    lag: jax.Array  # (n,) day, absorption lag (oral; 0 otherwise)
    drugs: tuple[str, ...] = eqx.field(static=True)

    def __check_init__(self):
        _validate(self)

    def __len__(self) -> int:
        return int(np.shape(self.time)[-1])

    def __add__(self, other: DoseTable) -> DoseTable:
        return concat([self, other])

    def for_drug(self, name: str) -> jax.Array:
        """Mask ``(n,)`` of the rows that give drug ``name``."""
        if name not in self.drugs:
            raise ValueError(f"drug {name!r} is not in this dose table; it has {self.drugs}")
        return self.drug == self.drugs.index(name)

    def with_drugs(self, drugs: Sequence[str]) -> DoseTable:
        """The same rows with ``drug`` coded into ``drugs`` (e.g. a model's drug order), which must
        name every drug of this table."""
        drugs = tuple(drugs)
        missing = [d for d in self.drugs if d not in drugs]
        if missing:
            raise ValueError(f"drug(s) {missing} of this dose table are not in drugs={drugs}")
        lookup = jnp.asarray([drugs.index(d) for d in self.drugs], dtype=int)
        return dataclasses.replace(self, drug=lookup[self.drug], drugs=drugs)

    def pad(self, n: int) -> DoseTable:
        """Append zero-amount oral rows at the last dose time so the table has ``n`` rows.

        Padding does not change any concentration; it lets schedules of different lengths
        be stacked into one batch.
        """
        m = len(self)
        if n < m:
            raise ValueError(f"cannot pad a table of {m} doses to n={n}; n must be >= {m}")
        extra = n - m
        last = self.time[-1]

        def ext(a, value):
            return jnp.concatenate([jnp.asarray(a), jnp.full((extra,), value, dtype=jnp.asarray(a).dtype)])

        return DoseTable(
            time=ext(self.time, last),
            amount=ext(self.amount, 0.0),
            drug=ext(self.drug, 0),
            route=ext(self.route, ORAL),
            duration=ext(self.duration, 0.0),
            bioavailability=ext(self.bioavailability, 1.0),
            lag=ext(self.lag, 0.0),
            drugs=self.drugs,
        )

    def rows(self) -> list[dict]:
        """Rows as dicts (for printing and files)."""
        cols = {f: np.asarray(getattr(self, f)) for f in _ARRAY_FIELDS}
        return [
            {
                "time_day": float(cols["time"][i]),
                "drug": self.drugs[int(cols["drug"][i])],
                "amount_mg": float(cols["amount"][i]),
                "route": ROUTES[int(cols["route"][i])],
                "duration_day": float(cols["duration"][i]),
                "bioavailability": float(cols["bioavailability"][i]),
                "lag_day": float(cols["lag"][i]),
            }
            for i in range(len(self))
        ]


_ARRAY_FIELDS = ("time", "amount", "drug", "route", "duration", "bioavailability", "lag")


def _validate(t: DoseTable) -> None:
    arrays = {f: concrete(getattr(t, f)) for f in _ARRAY_FIELDS}
    shapes = {f: np.shape(getattr(t, f)) for f in _ARRAY_FIELDS}
    if len({s[-1:] for s in shapes.values()}) != 1:
        raise ValueError(f"DoseTable columns must all have the same length; got shapes {shapes}")
    if any(a is None for a in arrays.values()) or any(len(s) != 1 for s in shapes.values()):
        return  # traced or batched: validated when each table was built
    time, amount = arrays["time"], arrays["amount"]
    drug, route = arrays["drug"], arrays["route"]
    duration, f, lag = arrays["duration"], arrays["bioavailability"], arrays["lag"]
    checks = [
        (~np.isfinite(time) | (time < 0), "time", "a finite time >= 0 (day)"),
        (~np.isfinite(amount) | (amount < 0), "amount", "a finite amount >= 0 (mg)"),
        ((route < 0) | (route >= len(ROUTES)), "route", f"a route code 0..{len(ROUTES) - 1} {ROUTES}"),
        ((drug < 0) | (drug >= max(len(t.drugs), 1)), "drug", f"a drug code into {t.drugs}"),
        (
            (route == INFUSION) & ~(np.isfinite(duration) & (duration > 0)),
            "duration",
            "a finite infusion duration > 0 (day)",
        ),
        (~np.isfinite(duration) | (duration < 0), "duration", "a finite duration >= 0 (day)"),
        (~np.isfinite(f) | (f <= 0) | (f > 1), "bioavailability", "a fraction in (0, 1]"),
        (~np.isfinite(lag) | (lag < 0), "lag", "a finite lag >= 0 (day)"),
    ]
    for bad, field, valid in checks:
        if bad.any():
            i = _first_bad(bad)
            value = arrays[field][i].item()
            raise ValueError(f"dose row {i}: {field}={value!r} is invalid; expected {valid}")
    if time.size > 1 and (np.diff(time) < 0).any():
        i = _first_bad(np.diff(time) < 0) + 1
        raise ValueError(
            f"dose row {i}: time={time[i].item()!r} comes before row {i - 1} (time={time[i - 1].item()!r}); "
            "dose times must be sorted (join tables with `+`, which sorts)"
        )


def _differs(value, default: float) -> bool:
    """True unless ``value`` is concretely equal to ``default`` everywhere."""
    c = concrete(value)
    return c is None or bool(np.any(c != default))


def _route_code(route: str) -> int:
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; valid routes are {ROUTES}")
    return ROUTES.index(route)


def _table(times, drug: str, amount, route: str, duration, bioavailability, lag) -> DoseTable:
    if not isinstance(drug, str) or not drug:
        raise ValueError(f"drug must be a non-empty name, got {drug!r}")
    code = _route_code(route)
    if code != INFUSION and _differs(duration, 0.0):
        raise ValueError(f"duration={duration!r} given for route {route!r}; only 'infusion' has a duration")
    if code != ORAL and (_differs(bioavailability, 1.0) or _differs(lag, 0.0)):
        raise ValueError(f"bioavailability and lag apply to route 'oral' only, not {route!r}")
    times = jnp.asarray(times, dtype=float)
    n = times.shape[0]

    def col(v, dtype=float):
        return jnp.broadcast_to(jnp.asarray(v, dtype=dtype), (n,))

    return DoseTable(
        time=times,
        amount=col(amount),
        drug=jnp.zeros((n,), dtype=int),
        route=jnp.full((n,), code, dtype=int),
        duration=col(duration),
        bioavailability=col(bioavailability),
        lag=col(lag),
        drugs=(drug,),
    )


def dose(
    time: float,
    drug: str,
    amount: float,
    route: str = "oral",
    *,
    duration: float = 0.0,
    bioavailability: float = 1.0,
    lag: float = 0.0,
) -> DoseTable:
    """One dose of ``amount`` mg of ``drug`` at ``time`` (day)."""
    return _table(
        jnp.reshape(jnp.asarray(time, dtype=float), (1,)), drug, amount, route, duration, bioavailability, lag
    )


def every(
    interval: float,
    n: int,
    drug: str,
    amount,
    route: str = "oral",
    *,
    start: float = 0.0,
    duration: float = 0.0,
    bioavailability: float = 1.0,
    lag: float = 0.0,
) -> DoseTable:
    """``n`` doses every ``interval`` days from ``start`` (NONMEM's ADDL/II).

    ``amount`` is a scalar or an ``(n,)`` sequence (one amount per dose).
    """
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"n={n!r} must be an integer >= 1 (number of doses)")
    ci = concrete(interval)
    if ci is not None and not (np.isfinite(ci) and ci > 0):
        raise ValueError(f"interval={interval!r} must be a finite number of days > 0")
    times = start + interval * jnp.arange(n, dtype=float)
    if np.ndim(amount) == 1 and np.shape(amount)[0] != n:
        raise ValueError(f"amount has {np.shape(amount)[0]} entries but n={n} doses were asked for")
    return _table(times, drug, amount, route, duration, bioavailability, lag)


def daily(first_day: int, last_day: int, drug: str, amount, route: str = "oral", **kwargs) -> DoseTable:
    """One dose a day on days ``first_day`` .. ``last_day`` inclusive (day 0 = start of treatment)."""
    if last_day < first_day:
        raise ValueError(f"last_day={last_day!r} is before first_day={first_day!r}")
    return every(1.0, int(last_day - first_day) + 1, drug, amount, route, start=float(first_day), **kwargs)


def concat(tables: Sequence[DoseTable]) -> DoseTable:
    """Join tables into one, merging drug names (first-seen order) and sorting rows by time."""
    tables = [t for t in tables if len(t)]
    if not tables:
        raise ValueError("concat needs at least one non-empty DoseTable")
    drugs: list[str] = []
    for t in tables:
        drugs += [d for d in t.drugs if d not in drugs]
    cols = {f: jnp.concatenate([jnp.asarray(getattr(t, f)) for t in tables]) for f in _ARRAY_FIELDS}
    cols["drug"] = jnp.concatenate([t.with_drugs(drugs).drug for t in tables])
    times = concrete(cols["time"])
    order = jnp.argsort(cols["time"], stable=True) if times is None else np.argsort(times, kind="stable")
    return DoseTable(**{f: c[order] for f, c in cols.items()}, drugs=tuple(drugs))
