"""User-facing simulation: validated inputs in, a labelled ``xarray.Dataset`` out.

:func:`simulate` checks its inputs before any tracing, runs the jitted :func:`solve`
(optionally over a batch of models), raises :class:`SolveError` on failure and labels the
result. Use :func:`mechanistic.solve` directly for the raw array path inside inference.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import numpy as np
import xarray as xr

from mechanistic.dosing import DoseTable
from mechanistic.model import DiseaseModel
from mechanistic.observation import (
    longest_diameter,
    resistant_fraction,
    total_volume,
)
from mechanistic.solver import Solution, SolverOptions, check_solution, solve

_solve_jit = eqx.filter_jit(solve)


def validate_times(ts, t0: float = 0.0) -> np.ndarray:
    """``ts`` as a float array, checked: 1-D, finite, sorted, ``>= t0`` and ending after ``t0``."""
    arr = np.asarray(ts, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"ts must be a non-empty 1-D array of times (day); got shape {arr.shape}")
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"ts[{i}]={arr[i].item()!r} is not finite")
    if (np.diff(arr) < 0).any():
        i = int(np.flatnonzero(np.diff(arr) < 0)[0]) + 1
        raise ValueError(f"ts must be sorted: ts[{i}]={arr[i].item()!r} < ts[{i - 1}]={arr[i - 1].item()!r}")
    if arr[0] < t0:
        raise ValueError(f"ts[0]={arr[0].item()!r} is before the start time t0={t0!r}")
    if arr[-1] <= t0:
        raise ValueError(f"the last time ts[-1]={arr[-1].item()!r} must be after t0={t0!r}")
    return arr


def validate_initial_volumes(model: DiseaseModel, y0) -> np.ndarray:
    """Initial clone volumes (mm^3), one per clone, finite and >= 0 with a positive total."""
    arr = np.asarray(y0, dtype=float)
    n = model.tumour.n_clones if model.tumour is not None else 0
    if arr.shape[-1:] != (n,):
        raise ValueError(f"y0 must have one volume (mm^3) per clone, shape (..., {n}); got {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"y0{list(idx)}={arr[idx].item()!r} is invalid; clone volumes must be finite and >= 0 (mm^3)")
    if n and (arr.sum(axis=-1) <= 0).any():
        raise ValueError("y0: the total initial tumour volume must be > 0 (mm^3)")
    return arr


def simulate(
    model: DiseaseModel,
    y0,
    doses: DoseTable,
    ts,
    *,
    t0: float = 0.0,
    options: SolverOptions = SolverOptions(),
    batch_dim: str | None = None,
) -> xr.Dataset:
    """Simulate and return an ``xarray.Dataset`` with units in ``attrs``.

    If ``batch_dim`` is given, ``model`` is a stack of models (array leaves with a leading
    axis, e.g. from ``jax.vmap`` or ``eqx.filter_vmap``) and ``y0`` has shape
    ``(batch, n_clones)``; the result gains that dimension.
    """
    ts = validate_times(ts, t0)
    y0 = validate_initial_volumes(model, y0)
    if batch_dim is None:
        sol = _solve_jit(model, y0, doses, ts, t0=t0, options=options)
    else:
        sol = eqx.filter_vmap(
            lambda m, y: _solve_jit(m, y, doses, ts, t0=t0, options=options), in_axes=(eqx.if_array(0), 0)
        )(model, y0)
    check_solution(sol, options)
    return to_dataset(sol, model, batch_dims=() if batch_dim is None else (batch_dim,))


def to_dataset(solution: Solution, model: DiseaseModel, batch_dims: Sequence[str] = ()) -> xr.Dataset:
    """Label a :class:`Solution` (with leading ``batch_dims``) as an ``xarray.Dataset``."""
    batch_dims = tuple(batch_dims)
    ts = np.asarray(solution.ts).reshape(-1, np.shape(solution.ts)[-1])[0]
    clones = np.asarray(solution.clones)
    conc = np.asarray(solution.concentrations)
    data = {
        "concentration": (
            (*batch_dims, "time", "drug"),
            conc,
            {"units": "mg/L", "long_name": "plasma concentration"},
        ),
        "solver_steps": (batch_dims, np.asarray(solution.num_steps), {"units": "1"}),
    }
    coords = {"time": ("time", ts, {"units": "day"}), "drug": list(model.drugs)}
    if model.tumour is not None:
        tum = model.tumour
        coords["clone"] = list(tum.clones)
        vol = np.asarray(total_volume(solution.clones))
        data["clone_volume"] = ((*batch_dims, "time", "clone"), clones, {"units": "mm^3"})
        data["volume"] = ((*batch_dims, "time"), vol, {"units": "mm^3", "long_name": "total tumour volume"})
        data["diameter"] = (
            (*batch_dims, "time"),
            np.asarray(longest_diameter(vol)),
            {"units": "mm", "long_name": "longest diameter (sphere)"},
        )
        if any(tum.resistant):
            data["resistant_fraction"] = (
                (*batch_dims, "time"),
                np.asarray(resistant_fraction(solution.clones, tum.resistant)),
                {"units": "1", "long_name": "resistant fraction of burden"},
            )
    return xr.Dataset(data, coords=coords, attrs={"time_units": "day"})
