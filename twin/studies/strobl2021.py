"""Strobl et al. 2021 (Cancer Res 81(4): 1135-1147, "Turnover modulates the need for a cost of
resistance in adaptive therapy"): the authors' time-to-failure tables (``ttpComparison_*.csv`` of
MathOnco/AT_costOfResistance_LVModel, in ``shared/refdata/strobl2021_at_lv/ttpComparison``; README
there) reproduced with the two-population Lotka-Volterra model :func:`mechanistic.catalogue.strobl2021`.

Set-up (the authors' code, ``utils/odeAnalysisUtils.py``, as that README states): burdens are
fractions of the capacity K = 1; initial state ``S0 = n0 (1 - fR)``, ``R0 = n0 fR``; the drug is an
exposure ``D`` in {0, 1}; failure (TimeToFailure, day) is the first day on the integer-day grid with
total burden ``N > 1.2 n0``. Two ways to run it:

- continuous therapy (MTD, ``D = 1`` throughout) solved once on days 0..:data:`BURDEN_DAYS`
  (:func:`continuous_burden`), with the day of failure (:func:`days_to_failure`, the MTD rows of a
  file: :func:`mtd_time_to_failure`) and the continuous crossing time (:func:`crossing_times`; the
  README's :data:`CROSSINGS`, from an independent DOP853 solve);
- any branch of the files, MTD or AT-x (:func:`regimen`), as a decision loop with daily decisions
  (drug state constant over each day; at its end: on if ``N > n0``, off if ``N < (1 - x) n0``, else
  unchanged; treatment starts on) to :data:`ADAPTIVE_DAYS` (:func:`simulate_branch`; every row of a
  file with its NCycles: :func:`reproduce_rows`).

Cases run in batches of :data:`BATCH` (the last padded by repeating its last case), so any number
of cases shares one compiled program per simulation (and branch).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

import mechanistic as m
import scenarios as s
from mechanistic.catalogue import strobl2021, strobl2021_continuous

FOLDER = Path("strobl2021_at_lv") / "ttpComparison"
"""The study's files, relative to the refdata folder."""
FILES = ("ttpComparison_n0fR.csv", "ttpComparison_cost_noTurnover.csv")
COLUMNS = ("InitialTumourSize", "RFrac", "TreatmentBranch", "TimeToFailure", "NCycles")
"""The columns :func:`load_ttp_comparison` needs (``Cost``, in percent, is optional: 0 without it)."""
FAILURE_FACTOR = 1.2  # failure: total burden > 1.2 n0
BURDEN_DAYS = 1500  # day; the largest TimeToFailure in the files is 1235
ADAPTIVE_DAYS = 1300  # day; horizon of the decision loops
DAYS = np.arange(BURDEN_DAYS + 1, dtype=float)
"""The output grid of :func:`continuous_burden` (day)."""
OPTIONS = m.SolverOptions(rtol=1e-10, atol=1e-12)
BATCH = 24  # cases per compiled batch: the MTD (and AT50) rows of the larger file
CROSSINGS = ((0.75, 0.001, 451.6), (0.25, 0.1, 105.5), (0.25, 0.001, 295.6), (0.45, 0.001, 334.2),
             (0.75, 0.01, 368.7))  # fmt: skip
"""(n0, fR, continuous MTD crossing time of 1.2 n0 in days) from the README of
``strobl2021_at_lv``, given there to 0.1 day (cost 0, turnover 0)."""


def _branch(path: Path, line: int, value) -> str:
    """``"MTD"`` or ``"AT<100 x>"`` for a TreatmentBranch ``value`` (``"MTD"`` or a threshold x in (0, 1))."""
    text = str(value).strip()
    if text == "MTD":
        return "MTD"
    try:
        x = float(text)
    except ValueError:
        x = np.nan
    if not 0 < x < 1:
        raise ValueError(
            f"{path}, line {line}, column TreatmentBranch: {value!r} is neither 'MTD' nor an adaptive threshold "
            "in (0, 1) (0.5 = AT50)"
        )
    return f"AT{100 * x:g}"


def load_ttp_comparison(path) -> pd.DataFrame:
    """One row per (case, branch) of a file in the ttpComparison format (``path``: the CSV), with
    the file's columns and ``cost`` (fraction: ``Cost``/100, 0 where the file has no ``Cost``) and
    ``branch`` (``"MTD"`` or ``"AT50"`` for TreatmentBranch 0.5; see :func:`regimen`) added.

    ``InitialTumourSize`` (n0) and ``RFrac`` (fR) are fractions of the capacity and of n0;
    TimeToFailure in days. Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming
    the file and the missing columns, or the file, line and column of a value out of range."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_ttp_comparison: {path} not found")
    table = pd.read_csv(path)
    if str(table.columns[0]).startswith("Unnamed"):  # the authors' files start with pandas' index
        table = table.set_index(table.columns[0]).rename_axis(None)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"load_ttp_comparison: {path} lacks columns {missing} (a ttpComparison file has {list(COLUMNS)} and "
            f"optionally Cost, in percent); it has {list(table.columns)}"
        )
    lines = np.arange(len(table)) + 2  # the header is line 1
    cost = table.Cost.to_numpy(float) / 100.0 if "Cost" in table else np.zeros(len(table))  # Cost is in percent
    checks = (
        ("InitialTumourSize", table.InitialTumourSize.to_numpy(float), lambda v: (v > 0) & (v <= 1), "in (0, 1]"),
        ("RFrac", table.RFrac.to_numpy(float), lambda v: (v >= 0) & (v <= 1), "in [0, 1]"),
        ("Cost", 100 * cost, lambda v: (v >= 0) & (v < 100), "in [0, 100) percent"),
    )
    for column, values, ok, valid in checks:
        bad = ~ok(values)  # NaN fails too
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{path}, line {lines[i]}, column {column}: {values[i]:g} is not {valid}")
    branch = [_branch(path, line, v) for line, v in zip(lines, table.TreatmentBranch, strict=True)]
    return table.assign(cost=cost, branch=branch)


def _cases(**columns) -> list[np.ndarray]:
    """The arguments as float arrays (n,), scalars broadcast; ``ValueError`` naming an empty,
    mismatched or non-finite one."""
    arrays = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in columns.items()}
    n = max(len(a) for a in arrays.values())
    if n == 0 or any(len(a) == 0 for a in arrays.values()):
        raise ValueError(f"no cases: {', '.join(k for k, a in arrays.items() if len(a) == 0)} empty")
    for k, a in arrays.items():
        if a.ndim != 1 or len(a) not in (1, n):
            raise ValueError(f"{k} has shape {np.shape(columns[k])}; give a scalar or one value per case ({n})")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{k}[{int(np.argmax(~np.isfinite(a)))}] is not finite")
    return [np.broadcast_to(a, (n,)) for a in arrays.values()]


def _in_batches(program, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """``program`` on consecutive :data:`BATCH`-sized chunks of ``columns`` (n,), the last padded by
    repeating its last case; its outputs ``(BATCH, ...)`` concatenated and cut to ``(n, ...)``."""
    n = len(columns[0])
    padded = [np.pad(c, (0, -n % BATCH), mode="edge") for c in columns]
    outputs = [program(*(jnp.asarray(c[i : i + BATCH]) for c in padded)) for i in range(0, len(padded[0]), BATCH)]
    return tuple(np.concatenate([np.asarray(o[k]) for o in outputs])[:n] for k in range(len(outputs[0])))


@jax.jit
@jax.vmap
def _continuous_burden(n0, f_r, cost, turnover):
    model = strobl2021(cost=cost, turnover=turnover)
    y0 = jnp.stack([n0 * (1 - f_r), n0 * f_r])
    sol = m.solve(model, y0, strobl2021_continuous(BURDEN_DAYS), DAYS, options=OPTIONS)
    return m.total_volume(sol.clones), sol.ok


def continuous_burden(n0, f_r, cost=0.0, turnover=0.0) -> tuple[np.ndarray, np.ndarray]:
    """Total burden N = S + R (fraction of capacity) on :data:`DAYS` ``(n, BURDEN_DAYS + 1)`` and the
    solves' ``ok (n,)`` under continuous therapy, for ``n`` cases: initial burden ``n0``, resistant
    fraction ``f_r``, ``cost`` and ``turnover`` (fractions; scalars or ``(n,)``)."""
    n0, f_r, cost, turnover = _cases(n0=n0, f_r=f_r, cost=cost, turnover=turnover)
    return _in_batches(_continuous_burden, n0, f_r, cost, turnover)


def days_to_failure(burden: np.ndarray, n0) -> np.ndarray:
    """First day of :data:`DAYS` with ``burden > 1.2 n0`` ``(n,)``; ``inf`` where there is none.
    ``burden (n, len(DAYS))`` from :func:`continuous_burden`, ``n0 (n,)``."""
    failed = np.asarray(burden) > FAILURE_FACTOR * np.asarray(n0, dtype=float)[:, None]
    return np.where(failed.any(axis=1), DAYS[np.argmax(failed, axis=1)], np.inf)


def crossing_times(burden: np.ndarray, n0) -> np.ndarray:
    """Continuous time (day) at which ``burden`` first exceeds 1.2 ``n0``, linear within the day of
    the crossing ``(n,)``; ``inf`` where it never does, ``nan`` where it already does on day 0."""
    excess = np.asarray(burden) - FAILURE_FACTOR * np.asarray(n0, dtype=float)[:, None]
    above = excess > 0
    day = np.argmax(above, axis=1)
    rows = np.arange(len(excess))
    before, after = excess[rows, day - 1], excess[rows, day]
    crossing = day - 1 + (-before) / (after - before)
    return np.where(~above.any(axis=1), np.inf, np.where(day == 0, np.nan, crossing))


def mtd_time_to_failure(table: pd.DataFrame) -> pd.DataFrame:
    """The MTD rows of ``table`` (from :func:`load_ttp_comparison`) with ``ours_ttf``
    (:func:`days_to_failure` of :func:`continuous_burden`, day) and ``ours_ok`` (the solve) added."""
    rows = table[table.branch == "MTD"]
    if rows.empty:
        raise ValueError(f"mtd_time_to_failure: the table has no MTD rows (branches: {sorted(set(table.branch))})")
    n0 = rows.InitialTumourSize.to_numpy(float)
    burden, ok = continuous_burden(n0, rows.RFrac.to_numpy(float), rows.cost.to_numpy(float))
    return rows.assign(ours_ttf=days_to_failure(burden, n0), ours_ok=ok)


@cache
def regimen(branch: str) -> s.Regimen:
    """The regimen of a branch of the files: ``"MTD"`` (exposure D = 1 each day of
    :data:`ADAPTIVE_DAYS`) or ``"AT<p>"`` (threshold x = p/100: hold below ``(1 - x) n0``, resume above
    ``n0``, daily decisions; ``"AT50"`` is TreatmentBranch 0.5)."""
    daily = m.every(1.0, ADAPTIVE_DAYS, "D", 1.0, "infusion", duration=1.0)  # exposure D = 1 each day
    if branch == "MTD":
        return s.Regimen(daily, description="continuous")
    try:
        x = float(branch.removeprefix("AT")) / 100 if branch.startswith("AT") else np.nan
    except ValueError:
        x = np.nan
    if not 0 < x < 1:
        raise ValueError(f"regimen: branch {branch!r} is not 'MTD' or 'AT<p>' with p in (0, 100) (e.g. 'AT50')")
    return s.Regimen(daily, s.ThresholdAdaptive(1.0 - x, 1.0), 1.0, f"{branch}, daily decisions")


class BranchOutcome(NamedTuple):
    """Per case ``(n,)``: ``time_to_failure`` (day; the horizon where not ``observed``), whether
    failure was ``observed`` by :data:`ADAPTIVE_DAYS`, ``cycles`` (treatment resumptions before
    failure) and ``ok`` (the solves)."""

    time_to_failure: np.ndarray
    observed: np.ndarray
    cycles: np.ndarray
    ok: np.ndarray


@cache
def _branch_program(branch: str):
    """Jitted, vmapped ``(n0, fR, cost) (BATCH,) -> BranchOutcome`` fields for ``branch``."""
    plan = regimen(branch)

    @jax.jit
    @jax.vmap
    def run(n0, f_r, cost):
        y0 = jnp.stack([n0 * (1 - f_r), n0 * f_r])
        tr = s.simulate_regimen(strobl2021(cost=cost), y0, plan, ADAPTIVE_DAYS, options=OPTIONS)
        fail = s.time_to_threshold(tr.times, m.total_volume(tr.clones), factor=FAILURE_FACTOR)
        cycles = s.cycles_before(tr.levels, fail.time, tr.decision_times)
        return fail.time, fail.observed, cycles, tr.ok

    return run


def simulate_branch(branch: str, n0, f_r, cost=0.0) -> BranchOutcome:
    """Time to failure and cycles of ``branch`` (:func:`regimen`) for ``n`` cases: initial burden
    ``n0``, resistant fraction ``f_r`` and ``cost`` (fractions; scalars or ``(n,)``; no turnover)."""
    n0, f_r, cost = _cases(n0=n0, f_r=f_r, cost=cost)
    return BranchOutcome(*_in_batches(_branch_program(branch), n0, f_r, cost))


def reproduce_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Every row of ``table`` (from :func:`load_ttp_comparison`) with :func:`simulate_branch`'s
    outcome of its branch added: ``ours_ttf`` (day), ``ours_observed``, ``ours_cycles``, ``ours_ok``.
    Compare with TimeToFailure and (adaptive rows) NCycles."""
    ours = {"ours_ttf": np.zeros(len(table)), "ours_observed": np.zeros(len(table), bool),
            "ours_cycles": np.zeros(len(table)), "ours_ok": np.zeros(len(table), bool)}  # fmt: skip
    for branch in table.branch.unique():
        at = (table.branch == branch).to_numpy()
        rows = table[at]
        out = simulate_branch(branch, rows.InitialTumourSize, rows.RFrac, rows.cost)
        for column, values in zip(ours, out, strict=True):
            ours[column][at] = values
    return table.assign(**ours)
