"""Benchmark: the shared reference problem (../shared/bench/README.md), ours vs scipy.

One patient, sensitive + resistant clones (logistic, shared K), one-compartment oral PK killing
the sensitive clone, 180 daily doses. Measures, in one run:

- our forward solve: first-call (compile + run) time, warm time for one solve and per solve in a vmapped batch of
  10,000 parameter sets, solver steps, max relative error against ``true_volume_mm3``;
- reverse-mode gradient (of the log-likelihood-like sum of log volumes w.r.t. the 6 ODE
  parameters) relative to one forward solve;
- the same for the opt-in fixed dose-aligned grid (``mechanistic.FixedGrid``, RK4, no error control);
- the baseline: scipy ``solve_ivp`` (PK as ODE states, restarted at every dose), in a loop, at the
  loosest tolerance that reaches 1e-4 relative accuracy.

Writes JSON to ``benchmarks/results/reference_problem.json`` (``--out DIR``: elsewhere) and prints it.
Run: ``.venv/bin/python benchmarks/reference_problem.py [--batch 10000] [--scipy-solves 50]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from common import add_out_option, write_json  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

import mechanistic as m  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "bench" / "reference_observations.csv"
K, KA, VD, EC50, DOSE = 2000.0, 12.0, 50.0, 0.5, 100.0
TRUE = dict(rS=0.10, rR=0.03, kmax=0.40, S0=180.0, R0=2.0, ke=3.0)
NAMES = ("rS", "rR", "kmax", "S0", "R0", "ke")
DOSES = m.daily(0, 179, "drug", DOSE)


def build(theta):
    """DiseaseModel and initial state from theta = (rS, rR, kmax, S0, R0, ke)."""
    rs, rr, kmax, s0, r0, ke = theta
    tumour = m.TumourModel(
        ("S", "R"),
        "logistic",
        growth_rate=jnp.stack([rs, rr]),
        capacity=K,
        kill=m.EmaxEffect(emax=jnp.stack([kmax, 0.0])[:, None], ec50=EC50),
        resistant=(False, True),
    )
    return m.DiseaseModel({"drug": m.OneCompartment(k=ke, v=VD, ka=KA)}, tumour), jnp.stack([s0, r0])


def forward(theta, ts, options):
    model, y0 = build(theta)
    sol = m.solve(model, y0, DOSES, ts, options=options)
    return m.total_volume(sol.clones), sol.num_steps, sol.ok


def scipy_solve(theta, ts, rtol, atol, method):
    """Baseline a scipy user would write: PK amounts as states, restart after every dose."""
    rs, rr, kmax, s0, r0, ke = theta

    def f(t, y):
        a, c, s, r = y
        n = s + r
        return [-KA * a, KA * a / VD - ke * c, rs * s * (1 - n / K) - kmax * c / (EC50 + c) * s, rr * r * (1 - n / K)]

    y = np.array([0.0, 0.0, s0, r0])
    out = np.empty(len(ts))
    nfev = 0
    for day in range(180):
        y[0] += DOSE
        t_end = day + 1.0
        t_eval = ts[(ts >= day) & (ts < t_end)]
        sol = solve_ivp(f, (day, t_end), y, method=method, rtol=rtol, atol=atol, t_eval=np.append(t_eval, t_end))
        nfev += sol.nfev
        out[(ts >= day) & (ts < t_end)] = sol.y[2, :-1] + sol.y[3, :-1]
        y = sol.y[:, -1]
    return out, nfev


def measure(options, solve_ts, pick, theta, batch, truth):
    """First-call and warm times (single, per solve in the batch, reverse-mode gradient), steps and
    accuracy of our solve with ``options``; volumes are read at ``solve_ts[pick]``."""

    def volumes(th):
        vol, steps, ok = forward(th, solve_ts, options)
        return vol[pick], steps, ok

    single = jax.jit(volumes)
    t = time.perf_counter()
    vol, steps, ok = jax.block_until_ready(single(theta))
    first_single = time.perf_counter() - t
    assert bool(ok)
    t_single = timed(lambda: single(theta))
    batched = jax.jit(jax.vmap(volumes))
    t = time.perf_counter()
    _, bsteps, bok = jax.block_until_ready(batched(batch))
    first_batch = time.perf_counter() - t
    assert bool(jnp.all(bok))
    t_batch = timed(lambda: batched(batch), repeat=2)
    grad = jax.jit(jax.grad(lambda th: jnp.sum(jnp.log(volumes(th)[0]))))
    t = time.perf_counter()
    jax.block_until_ready(grad(theta))
    first_grad = time.perf_counter() - t
    t_grad = timed(lambda: grad(theta))
    return {
        "first_single_call_s": first_single,  # compile + one run
        "single_solve_s": t_single,
        "batch_size": int(batch.shape[0]),
        "first_batch_call_s": first_batch,  # compile + one run
        "batch_total_s": t_batch,
        "per_solve_in_batch_s": t_batch / batch.shape[0],
        "steps_at_truth": int(steps),
        "steps_batch_median": float(np.median(np.asarray(bsteps))),
        "max_rel_error_vs_true_volume": float(np.max(np.abs(np.asarray(vol) - truth) / truth)),
        "first_grad_call_s": first_grad,  # compile + one run
        "grad_s": t_grad,
        "grad_over_forward": t_grad / t_single,
    }


def timed(fn, repeat=5):
    fn()  # warm
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--scipy-solves", type=int, default=50)
    parser.add_argument("--rtol", type=float, default=5e-7)
    parser.add_argument("--atol", type=float, default=1e-6)
    parser.add_argument("--checkpoints", type=int, default=1024)
    add_out_option(parser)
    args = parser.parse_args()

    df = pd.read_csv(DATA)
    ts = df.time_day.to_numpy(float)
    truth = df.true_volume_mm3.to_numpy(float)
    theta = jnp.array([TRUE[n] for n in NAMES])
    options = m.SolverOptions(rtol=args.rtol, atol=args.atol, max_steps=4096, checkpoints=args.checkpoints)

    key = jax.random.key(0)
    batch = theta * jnp.exp(0.1 * jax.random.normal(key, (args.batch, theta.size)))
    ours = measure(options, ts, np.arange(len(ts)), theta, batch, truth)
    # The opt-in fixed dose-aligned grid (RK4, no error control) steps through daily outputs.
    daily = np.arange(0.0, ts[-1] + 1.0)
    grid = m.FixedGrid(substeps=8, absorption_offsets=(0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0))
    ours_grid = measure(m.SolverOptions(grid=grid), daily, np.searchsorted(daily, ts), theta, batch, truth)

    # Baseline: the loosest scipy tolerance that still reaches 1e-4 relative accuracy (a fair,
    # fastest-possible baseline at the target accuracy), timed over a sample of the batch.
    theta_np = np.asarray(theta)
    sweep = []
    for rtol in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7):
        vol_s, nfev = scipy_solve(theta_np, ts, rtol, rtol * 1e-2, "RK45")
        sweep.append(
            {
                "rtol": rtol,
                "atol": rtol * 1e-2,
                "nfev": int(nfev),
                "max_rel_error_vs_true_volume": float(np.max(np.abs(vol_s - truth) / truth)),
            }
        )
    chosen = next((p for p in sweep if p["max_rel_error_vs_true_volume"] <= 1e-4), sweep[-1])
    sample = np.asarray(batch[: args.scipy_solves])
    t = time.perf_counter()
    for th in sample:
        scipy_solve(th, ts, chosen["rtol"], chosen["atol"], "RK45")
    t_scipy = (time.perf_counter() - t) / len(sample)

    result = {
        "problem": "shared/bench reference: 2 clones, 1-cpt oral PK, 180 daily doses, 20 observations",
        "machine": {
            "platform": platform.platform(),
            "jax_backend": jax.default_backend(),
            "devices": len(jax.devices()),
        },
        "tolerances": {"rtol": args.rtol, "atol_mm3": args.atol},
        "ours": ours,
        "ours_fixed_grid": {"grid": repr(grid), **ours_grid},
        "scipy_baseline": {
            "method": "solve_ivp RK45, restarted at each dose, PK as ODE states",
            "tolerance_sweep": sweep,
            "chosen": chosen,
            "solves_timed": len(sample),
            "per_solve_s": t_scipy,
        },
    }
    for name in ("ours", "ours_fixed_grid"):
        r = result[name]
        r["speedup_batched_vs_scipy"] = t_scipy / r["per_solve_in_batch_s"]
        r["speedup_single_vs_scipy"] = t_scipy / r["single_solve_s"]
        r["targets_met"] = {
            "batched_speedup_50x_at_1e-4": bool(
                r["speedup_batched_vs_scipy"] >= 50 and r["max_rel_error_vs_true_volume"] <= 1e-4
            ),
            "grad_at_most_5x_forward": bool(r["grad_over_forward"] <= 5),
        }
    write_json(args.out, "reference_problem.json", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
