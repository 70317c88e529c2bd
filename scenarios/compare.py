"""Compare regimens over parameter draws: trajectories, endpoints and a ranked summary.

``compare`` takes a :class:`mechanistic.ModelFamily`, a dict of parameter arrays — draws from a
posterior, a prior or a virtual population alike — and optionally each draw's state at the start
(e.g. a calibrated twin's clone volumes on the decision day), runs every regimen on every draw
(vmapped over draws, one compiled program per regimen) and returns an ``xarray.Dataset``.
``scenarios.ranking.summarise`` turns it into the per-regimen table a clinician reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

import mechanistic as m
from scenarios.adaptive import simulate_regimen, with_grid_window
from scenarios.criteria import Course, Criterion, criteria_for
from scenarios.endpoints import ENDPOINTS, cumulative_dose, dosed_days
from scenarios.policy import ThresholdAdaptive
from scenarios.regimen import Regimen


def _check_draws(draws: Mapping[str, np.ndarray], family: m.ModelFamily) -> int:
    if not isinstance(draws, Mapping) or not draws:
        raise ValueError("draws must be a non-empty dict: parameter name -> array of shape (n_draws,)")
    sizes = {k: np.shape(v) for k, v in draws.items()}
    if len({s[:1] for s in sizes.values()}) != 1 or any(len(s) != 1 for s in sizes.values()):
        raise ValueError(f"every draws entry must be 1-D with the same length (n_draws,); got shapes {sizes}")
    for k, v in draws.items():
        bad = ~np.isfinite(np.asarray(v, dtype=float))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"draws[{k!r}][{i}]={np.asarray(v)[i].item()!r} is not finite")
    missing = [p.name for p in family.parameters if p.name not in draws]
    if missing:
        raise ValueError(f"draws lack {missing}: {type(family).__name__} reads {[p.name for p in family.parameters]}")
    return next(iter(sizes.values()))[0]


def _check_initial_state(initial_state, n_draws: int, n_clones: int) -> jax.Array | None:
    """``initial_state`` as a ``(n_draws, n_clones)`` array (None: the family's own), or an error
    naming the shape or the offending value (states are non-negative: volumes, cells, PSA)."""
    if initial_state is None:
        return None
    values = np.asarray(initial_state, dtype=float)
    if values.shape != (n_draws, n_clones):
        raise ValueError(f"initial_state has shape {values.shape}; it must be ({n_draws}, {n_clones}): "
                         "each draw's state (clone volumes in mm^3 for a tumour of clones)")  # fmt: skip
    bad = ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        i, j = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(f"initial_state[{i}, {j}]={float(values[i, j])!r} must be finite and >= 0 (a state)")
    return jnp.asarray(values)


def _check_regimens(regimens: Sequence[Regimen], model: m.DiseaseModel, days: int) -> None:
    if not regimens:
        raise ValueError("regimens is empty: give at least one Regimen to compare")
    names = [r.description for r in regimens]
    if len(set(names)) != len(names):
        raise ValueError(f"regimens must have distinct descriptions; got {names}")
    for r in regimens:
        unknown = [d for d in r.drugs if d not in model.drugs]
        if unknown:
            raise ValueError(f"regimen {r.description!r} gives {unknown}, unknown to the model (drugs {model.drugs})")
        if r.adaptive and r.decision_every > days:
            raise ValueError(f"regimen {r.description!r}: decision_every={r.decision_every!r} exceeds days={days}")


def _check_pretreatment(pretreatment, regimens: Sequence[Regimen], n_draws: int, burden: str, unit: str) -> jax.Array:
    """``pretreatment`` as a ``(n_draws,)`` array (NaN where no regimen needs it); an error naming
    the regimen that needs it when it is missing, or the offending value when it is not a burden."""
    needs = [r.description for r in regimens if r.adaptive and r.baseline == "pretreatment"]
    what = f"{burden} ({unit})"
    if pretreatment is None:
        if needs:
            raise ValueError(
                f"regimen {needs[0]!r} decides against the pre-treatment burden: pass pretreatment= (each draw's "
                f"{what} before treatment, shape ({n_draws},))"
            )
        return jnp.full(n_draws, jnp.nan)
    values = np.asarray(pretreatment, dtype=float)
    if values.shape != (n_draws,):
        raise ValueError(f"pretreatment has shape {values.shape}; it must be ({n_draws},): one {what} per draw")
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"pretreatment[{i}]={values[i]!r} must be a finite {what} > 0")
    return jnp.asarray(values)


def compare(
    family: m.ModelFamily,
    draws: Mapping[str, np.ndarray],
    regimens: Sequence[Regimen],
    days: int,
    *,
    key: jax.Array,
    initial_state: np.ndarray | None = None,
    scan_every: int = 56,
    store_every: int = 7,
    n_lesions: int = 1,
    noise_sd: float = 0.0,
    options: m.SolverOptions = m.SolverOptions(rtol=1e-4, atol=1e-6),
    pretreatment: np.ndarray | None = None,
    criteria: Sequence[Criterion] | None = None,
) -> xr.Dataset:
    """Simulate every regimen on every draw.

    ``family``: a :class:`mechanistic.ModelFamily`; ``draws``: parameter name -> ``(n_draws,)``
    values, every parameter of the family (e.g. ``inference.Posterior.samples()``; others are kept
    as coordinates); ``initial_state`` ``(n_draws, n_clones)``: each draw's clone volumes at day 0
    (mm^3), default ``family.initial_state`` of the draw. Returns dims
    ``(regimen, draw, time)`` for trajectories (``volume`` mm^3, ``sum_of_diameters`` mm,
    ``resistant_fraction``) stored every ``store_every`` days, and ``(regimen, draw)`` for
    endpoints, and ``dose`` (regimen, draw, time, drug; mg given in the ``store_every`` days from
    each stored time: what adaptive policies actually gave). Endpoints: RECIST
    ``time_to_progression`` on scans every ``scan_every`` days (with
    ``progressed``: False = censored), ``best_response`` (code into ``RESPONSE_NAMES``),
    ``time_to_1.2x_baseline`` (with ``exceeded``), ``time_to_2x_baseline`` (volume doubling from
    day 0, with ``doubled``; unlike RECIST progression it also measures a switch strategy's second
    line), ``days_on_drug``, ``days_off_drug``, ``cumulative_dose`` (per
    drug) and ``final_resistant_fraction``. Measurement noise of adaptive decisions uses
    ``key``; the same key gives the same numbers. The default tolerance (rtol 1e-4) keeps
    volumes within about 5e-4 relative of a tight solve on the flagship model: ample for
    endpoints read on a daily grid or at scans. For large batches pass
    ``options=m.SolverOptions(grid=m.FixedGrid())``: a dose-aligned fixed grid, about 4-5x
    faster at similar accuracy on the flagship model, but without error control (validate it
    for other models; ``benchmarks/compare_regimens.py`` does so for the flagship).

    Coordinates along ``regimen``: ``at_hold_below``, ``at_resume_above`` and ``at_baseline`` of
    threshold adaptive regimens (NaN / "" for others).

    ``pretreatment`` ``(n_draws,)``: each draw's burden (``family.burden``: total tumour volume in
    mm^3 by default) before treatment began, the baseline of adaptive regimens with
    ``baseline="pretreatment"`` (required when there is one); stored as ``pretreatment_<burden>``
    (draw), with the endpoint ``time_to_1.2x_pretreatment`` (and ``exceeded_pretreatment``).

    The family decides what is computed: a family with a ``volume`` observable stores the SLD
    trajectory, other families their observables' trajectories; the endpoints are those of the
    ``criteria`` (default: :func:`scenarios.criteria.criteria_for` the family's observables: RECIST
    with ``volume``, PCWG3 PSA progression on the checks every ``scan_every`` days with ``psa``
    (``time_to_psa_progression``, ``psa_progressed``), burden thresholds, exposure and resistance for
    all). Threshold endpoints and adaptive policies read ``family.burden``.
    """
    if not isinstance(family, m.ModelFamily):
        raise TypeError(f"family must be a mechanistic.ModelFamily, got {type(family).__name__}")
    n_draws = _check_draws(draws, family)
    params0 = {k: jnp.asarray(v[0], dtype=float) for k, v in draws.items()}
    model0 = family.build(params0)
    initial_state = _check_initial_state(initial_state, n_draws, len(model0.tumour.clones))
    _check_regimens(regimens, model0, days)
    burden = family.burden
    pre_given = pretreatment is not None
    pretreatment = _check_pretreatment(pretreatment, regimens, n_draws, burden, family.observables[burden])
    criteria = criteria_for(family.observables, pre_given, criteria)
    if days % scan_every or days % store_every:
        raise ValueError(f"days={days} must be a multiple of scan_every={scan_every} and store_every={store_every}")
    grid = np.arange(days + 1.0)
    store_idx = np.arange(0, days + 1, store_every)
    batch = {k: jnp.asarray(v, dtype=float) for k, v in draws.items()}
    keys = jax.random.split(key, n_draws)  # one key per draw, shared across regimens

    results = []
    for regimen in regimens:
        codes = jnp.asarray([model0.drugs.index(d) for d in regimen.drugs])[regimen.doses.drug]
        opts = with_grid_window(options, regimen, days)
        out = _simulate_draws(
            family, regimen, codes, batch, initial_state, keys, pretreatment, criteria, days, scan_every, store_every,
            n_lesions, noise_sd, opts,
        )  # fmt: skip
        out = dict(out)
        failed = ~np.asarray(out.pop("ok"))
        if failed.any():
            raise m.SolveError(
                f"regimen {regimen.description!r}: {failed.sum()} of {n_draws} draws failed to solve "
                f"(first: draw {int(np.flatnonzero(failed)[0])}); loosen tolerances or raise max_steps"
            )
        results.append({k: np.asarray(v) for k, v in out.items()})

    def stack(name):
        return np.stack([r[name] for r in results])

    traj_dims = ("regimen", "draw", "time")
    end_dims = ("regimen", "draw")
    data = {}
    if "volume" in family.observables:  # a tumour measured by imaging: the SLD of equal spheres, RECIST
        data["volume"] = (traj_dims, stack("volume"), {"units": "mm^3"})
        data["sum_of_diameters"] = (traj_dims, stack("sum_of_diameters"), {"units": "mm", "n_lesions": n_lesions})
    else:  # e.g. a marker-followed disease: every observable of the family
        for name, unit in family.observables.items():
            if name != "resistant_fraction":
                data[name] = (traj_dims, stack(name), {"units": unit})
    data["resistant_fraction"] = (traj_dims, stack("resistant_fraction"), {"units": "1"})
    words = f"{burden} ({family.observables[burden]})"
    for criterion in criteria:
        for name, attrs in criterion.describe(words).items():
            data[name] = (end_dims, stack(name), attrs)
    data["cumulative_dose"] = (("regimen", "draw", "drug"), stack("cumulative_dose"), {"units": "mg"})
    data["dose"] = (
        ("regimen", "draw", "time", "drug"),
        stack("dose"),
        {"units": "mg", "long_name": f"dose given in the {store_every} days from each stored time"},
    )
    for name, endpoint in ENDPOINTS.items():
        if name in results[0]:
            data[name] = (end_dims, stack(name), {"units": endpoint.unit, "long_name": endpoint.label})
    for name in results[0]:  # a criterion's own endpoints
        if name not in data:
            data[name] = (end_dims, stack(name), {})
    if pre_given:
        data[f"pretreatment_{burden}"] = (
            ("draw",),
            np.asarray(pretreatment),
            {"units": family.observables[burden],
             "long_name": f"{burden} before treatment: the baseline of pre-treatment regimens"},
        )  # fmt: skip
    coords = {
        "regimen": [r.description for r in regimens],
        "draw": np.arange(n_draws),
        "time": ("time", grid[store_idx], {"units": "day"}),
        "drug": list(model0.drugs),
    }
    for name, values in draws.items():
        coords[name] = ("draw", np.asarray(values))
    coords |= _threshold_coords(regimens)
    attrs = {"horizon_days": days, "scan_every_days": scan_every, "noise_sd": noise_sd, "burden": burden}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _threshold_coords(regimens: Sequence[Regimen]) -> dict:
    """Coordinates along ``regimen`` of threshold adaptive therapy (``ThresholdAdaptive``): the
    fractions of the baseline burden at which a regimen holds and resumes, and which baseline
    (NaN and "" for other regimens), so plots can draw the thresholds."""
    rules = [r.policy if isinstance(r.policy, ThresholdAdaptive) else None for r in regimens]
    words = "fraction of the baseline burden below which threshold adaptive therapy holds the drugs"
    return {
        "at_hold_below": ("regimen", [float(p.hold_below) if p else np.nan for p in rules], {"long_name": words}),
        "at_resume_above": ("regimen", [float(p.resume_above) if p else np.nan for p in rules],
                            {"long_name": "fraction of the baseline burden above which it resumes them"}),
        "at_baseline": ("regimen", [r.baseline if p else "" for r, p in zip(regimens, rules, strict=True)],
                        {"long_name": "the baseline burden of the thresholds (first_decision or pretreatment)"}),
    }  # fmt: skip


@eqx.filter_jit
def _simulate_draws(
    family, regimen, codes, batch, initial_state, keys, pretreatment, criteria, days, scan_every, store_every,
    n_lesions, noise_sd, options,
):  # fmt: skip
    """Trajectory summaries and endpoints of one regimen for every draw (vmapped; compiled once
    per family, regimen structure, criteria and settings)."""
    scan_idx = np.arange(0, days + 1, scan_every)  # the checks: scans, or PSA for a marker-followed disease
    store_idx = np.arange(0, days + 1, store_every)
    observables = family.observables

    def burden_of(state):
        return family.observe(state)[family.burden]

    def one(params, y0, k, before):
        model = family.build(params)
        y0 = family.initial_state(params) if y0 is None else y0
        tr = simulate_regimen(
            model, y0, regimen, days, key=k, noise_sd=noise_sd, options=options, pretreatment=before,
            measured_as=burden_of,
        )  # fmt: skip
        obs = dict(family.observe(tr.clones))
        if "resistant_fraction" not in obs:
            obs["resistant_fraction"] = m.resistant_fraction(tr.clones, model.tumour.resistant)
        if "volume" in observables:  # a tumour measured by imaging: its SLD
            vol = obs["volume"]
            out = {"volume": vol[store_idx], "sum_of_diameters": m.sum_of_diameters(vol, n_lesions)[store_idx]}
        else:
            out = {name: obs[name][store_idx] for name in observables if name != "resistant_fraction"}
        dosed = dosed_days(regimen.doses.time, tr.doses_given, days)
        course = Course(tr.times, obs, obs[family.burden], scan_idx, dosed, before, days, n_lesions)
        for criterion in criteria:
            out |= criterion.compute(course)
        bin_of_dose = jnp.clip(jnp.floor(regimen.doses.time).astype(int) // store_every, 0, len(store_idx) - 1)
        dose = jnp.zeros((len(store_idx), len(model.drugs))).at[bin_of_dose, codes].add(tr.doses_given)
        return out | {
            "dose": dose,
            "resistant_fraction": obs["resistant_fraction"][store_idx],
            "cumulative_dose": cumulative_dose(tr.doses_given, codes, len(model.drugs)),
            "ok": tr.ok,
        }

    return jax.vmap(one)(batch, initial_state, keys, pretreatment)
