"""The fixed dose-aligned grids (RK4 and Lawson RK4 on log volumes) against tight adaptive solves
and closed forms."""

import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from mechanistic.catalogue import egfr_two_clone

GRID = m.SolverOptions(grid=m.FixedGrid())
LAWSON = m.SolverOptions(grid=m.LawsonGrid(substeps=1, absorption_offsets=(1.0, 3.0), nodes=5))
TIGHT = m.SolverOptions(rtol=1e-10, atol=1e-8)
Y0 = jnp.array([3e4, 3.0])


@pytest.mark.parametrize("options, tol", [(GRID, 5e-4), (LAWSON, 2e-5)], ids=["rk4", "lawson"])
def test_flagship_two_years_daily_oral_matches_tight_adaptive(options, tol):
    days = 728
    doses = m.daily(0, days - 1, "erlotinib", 150.0)
    ts = np.arange(days + 1.0)
    model = egfr_two_clone()
    grid = m.total_volume(m.solve(model, Y0, doses, ts, options=options).clones)
    tight = m.total_volume(m.solve(model, Y0, doses, ts, options=TIGHT).clones)
    assert np.max(np.abs(np.asarray(grid) / np.asarray(tight) - 1)) < tol


def test_lawson_grid_with_mutation_inhibition_and_death_matches_tight_adaptive():
    """Every per-capita term of the tumour model on the Lawson grid: logistic competition,
    growth inhibition and kill (two drugs, Hill 2), death, mutation flow into a small clone, weekly
    IV infusions plus twice-daily oral doses; outputs sparse (every 14 days)."""
    tum = m.TumourModel(
        ("s", "r"),
        "logistic",
        growth_rate=[0.05, 0.03],
        capacity=5e4,
        death_rate=0.005,
        mutation_rate=[[0.0, 1e-4], [0.0, 0.0]],
        kill=m.EmaxEffect(emax=[[0.1, 0.05], [0.0, 0.05]], ec50=[[0.5, 1.0], [1.0, 1.0]], hill=2.0),
        growth_inhibition=m.EmaxEffect(emax=[[0.3, 0.0], [0.1, 0.0]], ec50=0.8),
    )
    pk = {"oral": m.OneCompartment(k=2.0, v=40.0, ka=6.0), "iv": m.TwoCompartment(cl=2.5, v1=5.0, q=5.0, v2=10.0)}
    model = m.DiseaseModel(pk, tum)
    doses = m.concat([m.every(0.5, 224, "oral", 60.0), m.every(7.0, 16, "iv", 50.0, "infusion", duration=0.1)])
    ts = np.arange(0.0, 113.0, 14.0)
    y0 = jnp.array([1e3, 1e-2])
    lawson = m.solve(model, y0, doses, ts, options=LAWSON)
    tight = m.solve(model, y0, doses, ts, options=TIGHT)
    assert bool(lawson.ok)
    # growth inhibition is sampled at the RK4 stages, not integrated exactly like the kill: 4e-4 here
    assert np.max(np.abs(np.asarray(lawson.clones) / np.asarray(tight.clones) - 1)) < 1e-3


def test_exposure_switching_on_and_off_is_stepped_exactly():
    """Piecewise-constant exposure (days 10-20): the grid steps to both switches and RK4 sees the
    left limit at the end of each step, so exponential kill matches its closed form."""
    tum = m.TumourModel(["a"], "exponential", growth_rate=0.03, kill=m.LinearEffect([[0.05]]))
    model = m.DiseaseModel({"D": m.DirectExposure()}, tum)
    ts = np.arange(0.0, 31.0)
    sol = m.solve(model, jnp.array([100.0]), m.dose(10.0, "D", 10.0, "infusion", duration=10.0), ts, options=GRID)
    on = np.clip(ts - 10, 0, 10)
    np.testing.assert_allclose(np.asarray(sol.clones[:, 0]), 100 * np.exp(0.03 * ts - 0.05 * on), rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(substeps=0), "substeps=0 must be an integer >= 1"),
        (dict(absorption_offsets=(1.0, -2.0)), "must all be > 0"),
        (dict(window=0), "window=0 must be >= 1"),
    ],
)
def test_bad_grid_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        m.FixedGrid(**kwargs)
    with pytest.raises(ValueError, match=match):
        m.LawsonGrid(**kwargs)


def test_lawson_grid_rejects_bad_nodes_and_models_with_ode_states():
    with pytest.raises(ValueError, match="nodes=0 must be an integer in"):
        m.LawsonGrid(nodes=0)
    tum = m.TumourModel(["a"], "exponential", growth_rate=0.03, kill=m.LinearEffect([[0.05]]))
    model = m.DiseaseModel({"D": m.MichaelisMentenOneCompartment(vmax=10.0, km=1.0, v=20.0, ka=2.0)}, tum)
    with pytest.raises(ValueError, match="LawsonGrid needs .* closed-form PK .* 1 PK and 0 network ODE states"):
        m.solve(model, jnp.array([100.0]), m.daily(0, 5, "D", 10.0), np.arange(7.0), options=LAWSON)


def test_buckets():
    from mechanistic import bucket, pad_repeating_last

    for n in range(0, 3000, 7):
        size = bucket(n)
        k = max(size.bit_length() - 3, 0)
        assert size >= max(n, 8) and size % 2**k == 0 and 4 <= size // 2**k <= 7
        assert n < 8 or size <= 1.25 * n + 1
    np.testing.assert_array_equal(pad_repeating_last(np.array([1.0, 2.0, 3.0])), [1, 2, 3, 3, 3, 3, 3, 3])
    with pytest.raises(ValueError, match="size=2"):
        pad_repeating_last(np.arange(3.0), 2)


def test_precomputed_padded_step_points_let_doses_and_times_be_traced_data():
    """solve(points=step_points(...)) with padded doses, times and points, all traced: the same
    volumes as the static grid, and schedules of the same padded sizes share one compiled program."""
    import jax

    model = egfr_two_clone()

    @jax.jit
    def traced(doses, ts, points):
        return m.solve(model, Y0, doses, ts, t0=points[0], options=LAWSON, points=points).clones

    def padded(doses, ts):
        doses = doses.pad(m.bucket(len(doses)))
        points = m.pad_repeating_last(m.step_points(model, doses, ts, 0.0, LAWSON))
        return doses, jnp.asarray(m.pad_repeating_last(ts)), jnp.asarray(points)

    for last_day in (48, 51):  # 49 and 52 doses: both pad to 56 rows, their 148 and 157 step points to 160
        doses, ts = m.daily(0, last_day, "erlotinib", 150.0), np.array([0.0, 14.0, 28.0, 42.0, 60.0])
        static = m.solve(model, Y0, doses, ts, options=LAWSON).clones
        np.testing.assert_allclose(traced(*padded(doses, ts))[: ts.size], static, rtol=1e-12)
    assert traced._cache_size() == 1
    with pytest.raises(ValueError, match="SolverOptions.grid"):
        m.solve(model, Y0, doses, ts, options=TIGHT, points=jnp.asarray(ts))
