"""The coupled solve: vmap = loop, no recompilation, gradients, failures reported, xarray output."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from mechanistic.catalogue import egfr_two_clone

DAYS = np.arange(0.0, 61.0, 5.0)
DOSES = m.daily(0, 59, "erlotinib", 150.0)
Y0 = jnp.array([3.0e4, 30.0])
PARAM_NAMES = ("growth_rate", "fitness_cost", "max_kill", "ec50_sensitive", "ec50_resistant", "capacity")
PARAMS = jnp.array([0.02, 0.25, 0.06, 0.1, 8.0, 2.0e5])


def final_volumes(params, y0=Y0, doses=DOSES, options=m.SolverOptions()):
    model = egfr_two_clone(**dict(zip(PARAM_NAMES, params, strict=True)))
    return m.solve(model, y0, doses, DAYS, options=options)


@pytest.fixture(scope="module")
def batch_solve():
    return jax.jit(jax.vmap(final_volumes))


def test_vmap_over_1000_parameter_sets_equals_a_python_loop(batch_solve):
    key = jax.random.key(0)
    batch = PARAMS * jnp.exp(0.2 * jax.random.normal(key, (1000, PARAMS.size)))
    batch = batch.at[:, 1].set(jnp.clip(batch[:, 1], 0.0, 0.9))
    vm = batch_solve(batch)
    single = jax.jit(final_volumes)
    loop = np.stack([np.asarray(single(p).clones) for p in batch])
    assert bool(jnp.all(vm.ok))
    # Equal up to the solver tolerance: XLA may fuse batched arithmetic differently, which
    # can change an adaptive step decision in the last bits (seen: 14 of 26,000 values at ~5e-10).
    np.testing.assert_allclose(np.asarray(vm.clones), loop, rtol=1e-8)


def test_changing_parameter_values_does_not_retrace():
    traces = []

    @jax.jit
    def run(params, y0, doses):
        traces.append(1)
        return final_volumes(params, y0, doses)

    run(PARAMS, Y0, DOSES)
    run(PARAMS * 1.1, Y0 * 2, m.daily(0, 59, "erlotinib", 100.0))  # same shapes, new values
    run(PARAMS * 0.9, Y0, DOSES)
    assert len(traces) == 1


def test_vmap_over_dose_schedules():
    pulsed = m.concat(
        [m.daily(d, d + 1, "erlotinib", 1200.0) + m.daily(d + 2, d + 6, "erlotinib", 50.0) for d in range(0, 56, 7)]
    ).pad(len(DOSES))
    batch = jax.tree.map(lambda *x: jnp.stack(x), DOSES, pulsed)
    vm = jax.vmap(lambda d: final_volumes(PARAMS, Y0, d))(batch)
    np.testing.assert_allclose(
        np.asarray(vm.clones[1]), np.asarray(final_volumes(PARAMS, Y0, pulsed).clones), rtol=1e-10
    )
    assert not np.allclose(np.asarray(vm.clones[0]), np.asarray(vm.clones[1]))


def _observation(x):
    """Log burden at day 60 from model parameters, initial volumes and the dose amount."""
    params, y0, amount = x[:6], x[6:8], x[8]
    doses = m.daily(0, 59, "erlotinib", amount)
    sol = final_volumes(params, y0, doses, m.SolverOptions(rtol=1e-12, atol=1e-10))
    return jnp.log(m.total_volume(sol.clones[-1]))


def test_gradient_of_observation_wrt_every_parameter_matches_finite_differences():
    x = jnp.concatenate([PARAMS, Y0, jnp.array([150.0])])
    grad = np.asarray(jax.jit(jax.grad(_observation))(x))
    f = jax.jit(_observation)
    fd = np.zeros_like(grad)
    for i in range(x.size):
        h = 1e-5 * abs(float(x[i]))
        fd[i] = (float(f(x.at[i].add(h))) - float(f(x.at[i].add(-h)))) / (2 * h)
    assert np.all(grad != 0.0)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-12)


def test_step_limit_is_reported_not_silent():
    model = egfr_two_clone()
    with pytest.raises(m.SolveError, match=r"step limit.*max_steps=20"):
        m.simulate(model, Y0, DOSES, DAYS, options=m.SolverOptions(max_steps=20))


def test_non_finite_state_is_flagged_and_raises_in_batch():
    params = jnp.stack([PARAMS, PARAMS.at[0].set(jnp.nan)])
    sol = jax.vmap(final_volumes)(params)
    assert np.asarray(sol.ok).tolist() == [True, False]
    with pytest.raises(m.SolveError, match=r"1 of 2 solve\(s\) failed at batch index \(1,\)"):
        m.check_solution(sol)


def test_simulate_returns_labelled_dataset_with_units():
    ds = m.simulate(egfr_two_clone(), Y0, DOSES, DAYS)
    assert ds.clone_volume.dims == ("time", "clone")
    assert list(ds.clone.values) == ["sensitive", "T790M"]
    assert ds.time.attrs["units"] == "day" and ds.volume.attrs["units"] == "mm^3"
    assert ds.concentration.attrs["units"] == "mg/L"
    np.testing.assert_allclose(ds.volume.values, ds.clone_volume.sum("clone").values)
    assert 0 < float(ds.resistant_fraction[-1]) < 1


def test_simulate_over_a_batch_of_models():
    models = jax.vmap(lambda p: egfr_two_clone(**dict(zip(PARAM_NAMES, p, strict=True))))(
        jnp.stack([PARAMS, PARAMS * 1.05])
    )
    ds = m.simulate(models, jnp.stack([Y0, Y0]), DOSES, DAYS, batch_dim="draw")
    assert ds.volume.dims == ("draw", "time") and ds.sizes["draw"] == 2


@pytest.mark.parametrize(
    "y0, ts, match",
    [
        ([3e4, -1.0], DAYS, r"y0\[1\]=-1.0"),
        ([3e4], DAYS, r"shape \(\.\.\., 2\)"),
        ([3e4, float("nan")], DAYS, r"y0\[1\]=nan"),
        (Y0, [0.0, 10.0, 5.0], r"ts\[2\]=5.0 < ts\[1\]=10.0"),
        (Y0, [0.0, float("inf")], r"ts\[1\]=inf"),
        (Y0, [-1.0, 5.0], r"ts\[0\]=-1.0 is before"),
    ],
)
def test_simulate_rejects_bad_input_before_tracing(y0, ts, match):
    with pytest.raises(ValueError, match=match):
        m.simulate(egfr_two_clone(), y0, DOSES, ts)


def test_absorption_peaks_are_resolved_at_loose_tolerance():
    """Daily oral doses: a step spanning a whole day can miss the absorption transient at every
    Runge-Kutta stage (and in the error estimate). The solver steps to one absorption time after
    each dose; a loose solve then stays close to a tight one (without it: ~1e-2 error here)."""
    model = egfr_two_clone()
    doses = m.daily(0, 364, "erlotinib", 150.0)
    ts = np.arange(0.0, 366.0, 5.0)
    tight = m.solve(model, Y0, doses, ts, options=m.SolverOptions(rtol=1e-11, atol=1e-9))
    loose = m.solve(model, Y0, doses, ts, options=m.SolverOptions(rtol=1e-5, atol=1e-6))
    err = np.abs(np.asarray(m.total_volume(loose.clones)) / np.asarray(m.total_volume(tight.clones)) - 1)
    assert err.max() < 3e-4
