"""Numbers as people read them: intervals with units, percentages, and censored times as "not reached".

Shared by the command line and the HTML report, so both say the same thing the same way.
"""

from __future__ import annotations

import math

import numpy as np


def is_finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def finite_number(x) -> str:
    """``1,234`` for large values, 3 significant digits otherwise; "—" when not a finite number."""
    if not is_finite(x):
        return "—"
    x = float(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def percent(p) -> str:
    """A probability or fraction (0-1) as percent: 35%, 4.2%, 0.31%."""
    if not is_finite(p):
        return "—"
    pct = 100.0 * float(p)
    if pct == 0 or abs(pct) >= 10:
        return f"{pct:.0f}%"
    if abs(pct) >= 1:
        return f"{pct:.1f}%"
    return f"{pct:.2g}%"


def format_interval(median, interval, unit: str) -> str:
    """``"312 d (180–540)"`` for days, ``"45% (20–80%)"`` for fractions (unit ``"1"``),
    ``"1.2 mg (0.8–2.1)"`` otherwise (unit omitted when empty)."""
    has_interval = isinstance(interval, tuple | list | np.ndarray) and len(interval) == 2
    if unit == "1":
        if not has_interval:
            return percent(median)
        return f"{percent(median)} ({percent(interval[0]).rstrip('%')}–{percent(interval[1])})"
    if unit == "day":

        def fmt(x):
            return f"{float(x):.0f}" if is_finite(x) else "—"

        suffix = " d"
    else:
        fmt = finite_number
        suffix = f" {unit}" if unit else ""
    text = f"{fmt(median)}{suffix}" if is_finite(median) else "—"
    return f"{text} ({fmt(interval[0])}–{fmt(interval[1])})" if has_interval else text


def format_event_time(median, interval, not_reached: float, horizon: float, compact: bool = False) -> str:
    """An event time over draws (day), censored at ``horizon``: ``"312 d (180–540)"``;
    ``"412 d (180–>728)"`` when the upper end is censored; ``"not reached by day 728 (63% of
    draws)"`` when at least half the draws are censored (the median is then not a time;
    ``compact``: ``"not reached (63%)"``, for a table whose header names the horizon)."""
    if not_reached >= 0.5:
        if compact:
            return f"not reached ({percent(not_reached)})"
        return f"not reached by day {horizon:g} ({percent(not_reached)} of draws)"
    lo, hi = interval

    def fmt(x):
        return f">{horizon:g}" if x >= horizon else f"{float(x):.0f}"

    return f"{fmt(median)} d ({fmt(lo)}–{fmt(hi)})"


def event_cell(row, name: str, horizon: float) -> str:
    """:func:`format_event_time` (compact) of endpoint ``name`` from a row of ``scenarios.summarise``."""
    median, interval, censored = row[f"{name} median"], row[f"{name} 90% CI"], row[f"{name} not reached"]
    return format_event_time(median, interval, censored, horizon, compact=True)


def short_regimen(description: str) -> str:
    """A regimen's description without its parenthesised details (for narrow tables)."""
    import re

    return re.sub(r" \([^)]*\)", "", description)


def penalty_cells(rmst: float, penalty: float) -> tuple[str, str]:
    """The ranked table's penalty and score cells (day): ``-PENALTY`` (``0`` when it rounds to 0 days)
    and ``RMST - PENALTY``."""
    shown = f"-{penalty:.0f}" if round(penalty) else "0"
    return shown, f"{rmst - penalty:.0f}"


def toxicity_explained(days_per_unit: float) -> str:
    """What a ranking with a toxicity penalty of ``days_per_unit`` (day of restricted mean per unit
    of relative exposure above the label dose; ``scenarios.summarise``) means, in one sentence."""
    return (
        f"Ranked by score = restricted mean minus a toxicity penalty of {days_per_unit:g} days per unit of relative "
        "exposure above the label dose (each drug's mean daily dose over the horizon divided by its label dose per "
        "day, the excess over 1, summed over drugs; mean over draws)."
    )
