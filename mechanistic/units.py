"""Unit conversion at the boundaries (files, CLI, literature values).

Inside ``mechanistic`` everything is in days, mg, L, mg/L and mm^3. Use :func:`convert` to
bring outside values in, e.g. ``convert(3.95, "L/h", "L/day")``.
"""

from __future__ import annotations

# unit -> (dimension, factor to the internal unit of that dimension)
_UNITS: dict[str, tuple[str, float]] = {
    "day": ("time", 1.0),
    "d": ("time", 1.0),
    "h": ("time", 1.0 / 24.0),
    "hour": ("time", 1.0 / 24.0),
    "min": ("time", 1.0 / 1440.0),
    "week": ("time", 7.0),
    "month": ("time", 365.25 / 12.0),
    "1/day": ("rate", 1.0),
    "1/h": ("rate", 24.0),
    "1/week": ("rate", 1.0 / 7.0),
    "mg": ("amount", 1.0),
    "g": ("amount", 1000.0),
    "ug": ("amount", 1e-3),
    "L": ("volume", 1.0),
    "mL": ("volume", 1e-3),
    "L/day": ("clearance", 1.0),
    "L/h": ("clearance", 24.0),
    "mL/min": ("clearance", 1e-3 * 1440.0),
    "mg/L": ("concentration", 1.0),
    "ug/mL": ("concentration", 1.0),
    "ng/mL": ("concentration", 1e-3),
    "mm^3": ("tumour_volume", 1.0),
    "cm^3": ("tumour_volume", 1000.0),
    "mL_tumour": ("tumour_volume", 1000.0),
    "mm": ("length", 1.0),
    "cm": ("length", 10.0),
    "mg/day": ("amount_rate", 1.0),
    "mg/h": ("amount_rate", 24.0),
}


def convert(value, from_unit: str, to_unit: str):
    """Convert ``value`` between units of the same dimension (works on arrays too)."""
    for u in (from_unit, to_unit):
        if u not in _UNITS:
            raise ValueError(f"unknown unit {u!r}; known units are {sorted(_UNITS)}")
    (dim_a, fa), (dim_b, fb) = _UNITS[from_unit], _UNITS[to_unit]
    if dim_a != dim_b:
        raise ValueError(f"cannot convert {from_unit!r} ({dim_a}) to {to_unit!r} ({dim_b})")
    return value * (fa / fb)
