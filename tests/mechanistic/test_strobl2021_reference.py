"""Strobl et al. 2021 (Cancer Res 81:1135), shared/refdata/strobl2021_at_lv: under continuous
therapy (TreatmentBranch = MTD), TimeToFailure of every MTD row is reproduced exactly on the
integer-day grid (first day with total burden > 1.2 n0)."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import mechanistic as m
from mechanistic.catalogue import strobl2021, strobl2021_continuous

HORIZON = 1500  # days; the largest TimeToFailure in the files is 1235
DAYS = np.arange(HORIZON + 1, dtype=float)
OPTIONS = m.SolverOptions(rtol=1e-10, atol=1e-12)


BATCH = 24  # MTD rows of the larger ttpComparison file: every case below runs in one compiled batch


@jax.jit
def _burdens(n0, f_r, cost, turnover):
    def one(n0, f_r, cost, turnover):
        model = strobl2021(cost=cost, turnover=turnover)
        y0 = jnp.stack([n0 * (1 - f_r), n0 * f_r])
        sol = m.solve(model, y0, strobl2021_continuous(HORIZON), DAYS, options=OPTIONS)
        return m.total_volume(sol.clones), sol.ok

    return jax.vmap(one)(n0, f_r, cost, turnover)


def burdens(n0, f_r, cost, turnover):
    """Total burden on ``DAYS`` (n, T) and the solve's ``ok`` (n,) under continuous therapy; the
    cases are padded (the last repeated) to :data:`BATCH`, so both tests share one program."""
    n = len(n0)
    pad = lambda x: jnp.asarray(np.pad(np.asarray(x, dtype=float), (0, BATCH - n), mode="edge"))  # noqa: E731
    burden, ok = _burdens(pad(n0), pad(f_r), pad(cost), pad(turnover))
    return np.asarray(burden)[:n], np.asarray(ok)[:n]


def mtd_rows(refdata, name):
    table = pd.read_csv(refdata / "strobl2021_at_lv" / "ttpComparison" / name)
    rows = table[table.TreatmentBranch == "MTD"]
    cost = rows.Cost.to_numpy() / 100.0 if "Cost" in rows else np.zeros(len(rows))  # Cost is in percent
    return rows, cost


@pytest.mark.parametrize("name", ["ttpComparison_n0fR.csv", "ttpComparison_cost_noTurnover.csv"])
def test_every_mtd_time_to_failure_reproduced_exactly(refdata, name):
    rows, cost = mtd_rows(refdata, name)
    assert len(rows) in (18, 24)
    n0 = rows.InitialTumourSize.to_numpy()
    burden, ok = burdens(n0, rows.RFrac.to_numpy(), cost, np.zeros(len(rows)))
    failed = burden > 1.2 * n0[:, None]  # the first day with total burden > 1.2 n0
    ttf = np.where(failed.any(axis=1), DAYS[np.argmax(failed, axis=1)], np.inf)
    assert ok.all()
    mismatch = rows.assign(ours=np.asarray(ttf))[np.asarray(ttf) != rows.TimeToFailure.to_numpy()]
    assert mismatch.empty, f"rows not reproduced:\n{mismatch[['InitialTumourSize', 'RFrac', 'TimeToFailure', 'ours']]}"


def test_continuous_crossing_times_match_the_readme(refdata):
    """Continuous (not day-rounded) MTD failure times from the README of strobl2021_at_lv,
    verified there with an independent DOP853 solve; given to 0.1 day, so tolerance 0.05 day."""
    cases = [(0.75, 0.001, 451.6), (0.25, 0.1, 105.5), (0.25, 0.001, 295.6), (0.45, 0.001, 334.2), (0.75, 0.01, 368.7)]
    n0, f_r, expected = map(np.array, zip(*cases, strict=True))
    burden, ok = burdens(n0, f_r, np.zeros(len(cases)), np.zeros(len(cases)))
    assert ok.all()
    for i in range(len(cases)):
        excess = burden[i] - 1.2 * n0[i]
        day = int(np.argmax(excess > 0))
        crossing = day - 1 + (-excess[day - 1]) / (excess[day] - excess[day - 1])  # linear within the day
        assert crossing == pytest.approx(expected[i], abs=0.05), (n0[i], f_r[i])
