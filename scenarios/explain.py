"""Why does the twin prefer one regimen? Two readable answers for the top regimens:

- *sensitivity*: the elasticity of a smooth primary endpoint (time to 1.2 x baseline burden)
  to each parameter, ``d log T / d log theta`` by autodiff through the simulation at the
  median draw (adaptive policies are replaced by their smooth versions for this);
- *what the ranking hinges on*: the rank correlation, over draws, between each parameter and
  the endpoint difference of the two best regimens — the parameters whose posterior
  uncertainty most changes which regimen wins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

import mechanistic as m
from scenarios.adaptive import simulate_regimen
from scenarios.optimise import soft_time_to_threshold
from scenarios.ranking import ranking_drivers, summarise
from scenarios.regimen import Regimen


def sensitivities(
    family: m.ModelFamily,
    params: Mapping[str, float],
    regimen: Regimen,
    days: int,
    options: m.SolverOptions = m.SolverOptions(rtol=1e-6, atol=1e-6),
    temperature: float = 0.02,
    *,
    initial_state=None,
) -> dict:
    """Elasticities ``d log T / d log theta`` of the smooth time to 1.2 x baseline burden, for every
    parameter in ``params`` (positive values; the family's parameters and any others it reads).
    ``initial_state`` ``(n_clones,)`` (mm^3): the clone volumes at day 0 (default the family's)."""
    if regimen.adaptive and regimen.policy.temperature is None:
        regimen = dataclasses.replace(regimen, policy=dataclasses.replace(regimen.policy, temperature=temperature))

    def log_time(log_params):
        p = {k: jnp.exp(v) for k, v in log_params.items()}
        model = family.build(p)
        y0 = family.initial_state(p) if initial_state is None else jnp.asarray(initial_state, dtype=float)
        tr = simulate_regimen(model, y0, regimen, days, options=options)
        return jnp.log(soft_time_to_threshold(tr.times, m.total_volume(tr.clones), 1.2))

    log_params = {k: jnp.log(jnp.asarray(v, dtype=float)) for k, v in params.items()}
    grads = jax.jit(jax.grad(log_time))(log_params)
    return dict(sorted(((k, float(v)) for k, v in grads.items()), key=lambda kv: -abs(kv[1])))


def explain(
    family: m.ModelFamily,
    ds: xr.Dataset,
    regimens: Sequence[Regimen],
    *,
    primary: str = "time_to_progression",
    top: int = 2,
    **summary_kwargs,
) -> list[str]:
    """Short sentences on why the best regimens rank where they do (see the module docstring)."""
    table = summarise(ds, primary=primary, **summary_kwargs)
    by_name = {str(r): r for r in regimens}
    names = [c for c in ds.coords if ds.coords[c].dims == ("draw",) and c != "draw"]
    median = {n: float(np.median(ds.coords[n].values)) for n in names}
    days = int(ds.attrs["horizon_days"])
    lines = []
    for i in range(min(top, len(table))):
        reg = table.regimen[i]
        el = sensitivities(family, median, by_name[reg], days)
        parts = ", ".join(f"{k} {v:+.2f}" for k, v in list(el.items())[:3])
        lines.append(
            f"#{i + 1} {reg}: P(best)={table[f'P(best on {primary})'][i]:.2f}; its time to 1.2x baseline "
            f"changes by (% per +1% of parameter, median draw): {parts}"
        )
    if len(table) > 1:
        drivers = ranking_drivers(ds, table.regimen[0], table.regimen[1], primary)
        parts = ", ".join(f"{k} (rho {v:+.2f})" for k, v in list(drivers.items())[:3])
        lines.append(f"#1 vs #2 hinges most on: {parts}")
    return lines
