"""Input checks shared by the mechanistic modules: run on concrete values before tracing,
skipped for tracers (values inside jit/vmap/grad were checked where they were built)."""

from __future__ import annotations

import jax
import numpy as np

from mechanistic.precision import require_float64


def concrete(x) -> np.ndarray | None:
    """A NumPy copy of ``x``, or None when ``x`` is being traced."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


def check_range(owner: str, name: str, value, lower: float, *, strict: bool, upper: float | None = None) -> None:
    """Raise ``ValueError`` naming the first entry of ``value`` that is not finite or outside
    ``(lower, upper)`` (``[lower, upper)`` when ``strict`` is False); :class:`Float64Required`
    when ``value`` is float32 and JAX is in float32 (a float32 input under float64 is compared in
    float64, so a bound only float64 resolves does not fail it)."""
    c = concrete(value)
    if c is None:
        return
    if c.dtype.kind == "f" and c.dtype.itemsize < 8:
        require_float64(owner, name)  # a JAX array in float32: jax_enable_x64 is off
    x = c.astype(np.float64) if c.dtype.kind == "f" else c  # float32 1.0 must not fail "< 1 + 1e-12"
    bad = ~np.isfinite(x) | ((x <= lower) if strict else (x < lower))
    if upper is not None:
        bad |= x >= upper
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"{name}{list(idx)}" if idx else name
        valid = f"{'>' if strict else '>='} {lower}" + (f" and < {upper}" if upper is not None else "")
        raise ValueError(f"{owner}: {where}={c[idx].item()!r} is invalid; it must be finite and {valid}")
