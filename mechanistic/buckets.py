"""Bucketed array sizes: pad data to a few fixed lengths so that records of similar size share one
compiled program (compiling dominates on small CPUs; a new length means a new compile)."""

from __future__ import annotations

import numpy as np


def bucket(n: int, minimum: int = 8) -> int:
    """The smallest size >= ``n`` (and >= ``minimum``) of the form ``m * 2**k`` with ``m`` in
    4..7: at most 25% padding, and about four sizes per doubling."""
    if not (isinstance(n, int) and n >= 0):
        raise ValueError(f"bucket: n={n!r} must be an integer >= 0")
    n = max(n, minimum, 1)
    k = max(n.bit_length() - 3, 0)
    return -(-n // 2**k) * 2**k


def pad_repeating_last(values, size: int | None = None) -> np.ndarray:
    """A 1-D array padded to ``size`` (default ``bucket(len(values))``) by repeating its last value
    (for sorted times: zero-length steps, repeated outputs)."""
    values = np.asarray(values)
    size = bucket(values.size) if size is None else size
    if values.ndim != 1 or values.size == 0 or size < values.size:
        raise ValueError(
            f"pad_repeating_last: need a non-empty 1-D array of at most size={size}, got shape {values.shape}"
        )
    return np.concatenate([values, np.full(size - values.size, values[-1], dtype=values.dtype)])
