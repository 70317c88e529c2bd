"""Input checks shared by the mechanistic modules: run on concrete values before tracing,
skipped for tracers (values inside jit/vmap/grad were checked where they were built)."""

from __future__ import annotations

import jax
import numpy as np


def concrete(x) -> np.ndarray | None:
    """A NumPy copy of ``x``, or None when ``x`` is being traced."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


def check_range(owner: str, name: str, value, lower: float, *, strict: bool, upper: float | None = None) -> None:
    """Raise ``ValueError`` naming the first entry of ``value`` that is not finite or outside
    ``(lower, upper)`` (``[lower, upper)`` when ``strict`` is False)."""
    c = concrete(value)
    if c is None:
        return
    bad = ~np.isfinite(c) | ((c <= lower) if strict else (c < lower))
    if upper is not None:
        bad |= c >= upper
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"{name}{list(idx)}" if idx else name
        valid = f"{'>' if strict else '>='} {lower}" + (f" and < {upper}" if upper is not None else "")
        raise ValueError(f"{owner}: {where}={c[idx].item()!r} is invalid; it must be finite and {valid}")
