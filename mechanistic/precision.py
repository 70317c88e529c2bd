"""Float64 is required: the models, solvers and validations are built and checked in double
precision, and JAX computes in float32 unless ``jax_enable_x64`` is switched on by the program
(this library never changes it at import). :func:`require_float64` turns the switch being off
into one clear error instead of a misleading range check or a solver failure further down."""

from __future__ import annotations

import jax

ENABLE_X64 = 'jax.config.update("jax_enable_x64", True)'
"""The line that switches JAX to float64; run it first, before building any model."""


class Float64Required(ValueError):
    """JAX is in float32 (``jax_enable_x64`` off) where the library needs float64."""


def require_float64(owner: str, name: str) -> None:
    """Raise :class:`Float64Required` naming ``owner`` and its field ``name`` when JAX computes in
    float32 (``jax_enable_x64`` off); do nothing when float64 is enabled."""
    if not jax.config.jax_enable_x64:
        raise Float64Required(
            f"{owner}: {name} needs float64, but JAX is computing in float32 (jax_enable_x64 is off). "
            f"Enable float64 at the start of your program, before building any model: {ENABLE_X64} "
            "(or set the environment variable JAX_ENABLE_X64=1); the library never changes it at import."
        )
