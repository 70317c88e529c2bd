"""Units: the one table of unit spellings and exact conversion factors (imports without JAX).

Inside ``mechanistic`` everything is in days, mg, L, mg/L, mm^3 and mm. Use :func:`convert` to
bring outside values in, e.g. ``convert(3.95, "L/h", "L/day")``; patient files
(``twin.record``) read their units through :func:`factor`, exactly (fractions), so a value written
back reads bit for bit.
"""

from __future__ import annotations

from fractions import Fraction

# dimension -> spelling -> exact factor to the dimension's internal unit (its first spelling).
# A spelling may belong to two dimensions ("mL": a volume of distribution or a tumour volume).
UNITS: dict[str, dict[str, Fraction]] = {
    "time": {
        "day": Fraction(1), "d": Fraction(1), "days": Fraction(1),
        "h": Fraction(1, 24), "hour": Fraction(1, 24), "hours": Fraction(1, 24),
        "min": Fraction(1, 1440),
        "week": Fraction(7), "weeks": Fraction(7),
        "month": Fraction(1461, 48),  # 365.25 / 12 days
    },
    "rate": {"1/day": Fraction(1), "1/h": Fraction(24), "1/week": Fraction(1, 7)},
    "amount": {"mg": Fraction(1), "g": Fraction(1000), "ug": Fraction(1, 1000)},
    "volume": {"L": Fraction(1), "mL": Fraction(1, 1000)},
    "clearance": {"L/day": Fraction(1), "L/h": Fraction(24), "mL/min": Fraction(1440, 1000)},
    "concentration": {"mg/L": Fraction(1), "ug/mL": Fraction(1), "ng/mL": Fraction(1, 1000)},
    "tumour_volume": {
        "mm^3": Fraction(1), "mm3": Fraction(1),
        "cm^3": Fraction(1000), "cm3": Fraction(1000), "mL": Fraction(1000), "mL_tumour": Fraction(1000),
    },
    "length": {"mm": Fraction(1), "cm": Fraction(10)},
    "amount_rate": {"mg/day": Fraction(1), "mg/h": Fraction(24)},
    "fraction": {"1": Fraction(1), "fraction": Fraction(1), "%": Fraction(1, 100)},
    # a serum marker's mass concentration in the clinic's unit (PSA: ng/mL = ug/L); not a drug concentration
    "marker_concentration": {"ng/mL": Fraction(1), "ug/L": Fraction(1), "ng/L": Fraction(1, 1000)},
}  # fmt: skip


def factor(unit: str, dimension: str) -> Fraction:
    """The exact factor from ``unit`` to the internal unit of ``dimension`` (a key of
    :data:`UNITS`). Raises ``KeyError`` naming the valid spellings."""
    if dimension not in UNITS:
        raise KeyError(f"unknown dimension {dimension!r}; known: {sorted(UNITS)}")
    if unit not in UNITS[dimension]:
        raise KeyError(f"{unit!r} is not a unit of {dimension}; valid: {list(UNITS[dimension])}")
    return UNITS[dimension][unit]


def convert(value, from_unit: str, to_unit: str):
    """Convert ``value`` between units of the same dimension (works on arrays too)."""
    known = {u for table in UNITS.values() for u in table}
    for u in (from_unit, to_unit):
        if u not in known:
            raise ValueError(f"unknown unit {u!r}; known units are {sorted(known)}")
    shared = [d for d, table in UNITS.items() if from_unit in table and to_unit in table]
    if not shared:
        dims = {u: [d for d, table in UNITS.items() if u in table] for u in (from_unit, to_unit)}
        raise ValueError(
            f"cannot convert {from_unit!r} ({', '.join(dims[from_unit])}) to {to_unit!r} ({', '.join(dims[to_unit])})"
        )
    table = UNITS[shared[0]]
    return value * float(table[from_unit] / table[to_unit])
