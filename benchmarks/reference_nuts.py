"""Benchmark: Bayesian calibration (NUTS) on the shared reference problem (../shared/bench/README.md), ours vs Stan.

Seven unknowns (rS, rR, kmax, S0, R0, ke, sigma), log-normal priors, log-normal likelihood of the 20
observed volumes; NUTS, 4 chains x (1,000 warm-up + 1,000 draws), target acceptance 0.8, all chains
initialised at the MAP (``inference.map_estimate``). Measures, in one run:

- ours, the library as it is (``inference.patient_model`` / ``map_estimate`` / ``nuts`` with
  vectorised chains / ``to_inference_data`` / ``diagnose``, reverse-mode gradients) on the model of
  ``reference_problem.py``, solved on ``mechanistic.LawsonGrid`` (the same equations; the fixed
  dose-aligned grid integrates log volumes with the drug kill by quadrature, 3 steps a day; its max
  relative error against ``true_volume_mm3`` and its log densities against a tight adaptive solve
  are reported). Compile time is separated from sampling time by JAX's own compile events
  (``jax.monitoring``: tracing, lowering and XLA compilation); warm-up and draws run as numpyro's two
  phases so that the leapfrog steps of both are counted;
- the same with adaptive steps (``--variants lawson,adaptive``; Tsit5, rtol 1e-6: slow, 2x-4x
  longer runs) and the isolated per-gradient cost of each solver configuration;
- the baseline: Stan (PyStan, ``benchmarks/stan_reference.py``, run as a subprocess in the optional
  ``.venv-bench-stan`` environment) on the same model, priors and likelihood (log densities compared
  point by point), 4 chains x (1,000 + 1,000), adapt_delta 0.8, same MAP initialisation, one worker
  process (ours samples in one process too), compile time separate. ESS and R-hat of both sides come
  from the same ArviZ code (``diagnose``). ``--stan-json FILE`` reuses the output of an earlier
  ``stan_reference.py`` run instead of sampling again (about 40 minutes on one core).

Writes JSON to ``benchmarks/results/reference_nuts.json`` (``--out DIR``: elsewhere; after each stage) and prints it.
Run: ``.venv/bin/python benchmarks/reference_nuts.py [--warmup 1000] [--samples 1000]
[--variants lawson,adaptive] [--no-stan | --stan-json FILE]``.
(Stan environment: ``python3 -m venv .venv-bench-stan && .venv-bench-stan/bin/pip install -r
benchmarks/requirements-stan.txt``).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
import pandas as pd  # noqa: E402
from common import CompileClock, add_out_option, result_path, write_json  # noqa: E402
from numpyro.infer import MCMC  # noqa: E402
from numpyro.infer.util import initialize_model  # noqa: E402
from reference_problem import DATA, DOSE, EC50, KA, NAMES, TRUE, VD, K, forward  # noqa: E402

import inference  # noqa: E402
import mechanistic as m  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIT = importlib.import_module("inference.fit")

PARAMS = (*NAMES, "sigma")
HEADLINE = ("compile_s", "sampling_wall_s", "min_bulk_ess", "min_tail_ess", "max_rhat", "divergences", "ess_per_s")
UNITS = {"rS": "1/day", "rR": "1/day", "kmax": "1/day", "S0": "mm^3", "R0": "mm^3", "ke": "1/day", "sigma": "1"}
MU = np.log([0.08, 0.04, 0.30, 150.0, 3.0, 3.0, 0.10])
SD = np.array([0.5, 0.5, 0.5, 0.5, 1.0, 0.1, 0.5])
TRUTH = {**TRUE, "sigma": 0.10}
LAWSON = m.LawsonGrid(substeps=1, absorption_offsets=(1.2, 3.6), nodes=5)  # steps at 0, 0.1, 0.3 day after each dose


COMPILES = CompileClock()  # compile spans from here on


# --- our model ---------------------------------------------------------------------------------


def observations() -> tuple[pd.DataFrame, inference.Observations]:
    df = pd.read_csv(DATA)
    rows = [(t, "volume", v) for t, v in zip(df.time_day, df.observed_volume_mm3, strict=True)]
    return df, inference.Observations.from_rows("reference", rows, units={"volume": "mm^3"})


def spec() -> inference.ParameterSpec:
    """The README's priors: log theta ~ Normal(MU, SD)."""
    return inference.ParameterSpec(
        inference.Parameter(n, UNITS[n], prior=dist.LogNormal(mu, sd), source="shared/bench/README.md")
        for n, mu, sd in zip(PARAMS, MU, SD, strict=True)
    )


def make_predict(options: m.SolverOptions, times: np.ndarray):
    """``predict(params, times)`` for ``patient_model``; the fixed grid solves at daily outputs
    (it needs dense output times) and picks the observation times. A failed solve gives NaN
    volumes, which NUTS rejects."""
    if options.grid is None:
        solve_ts, pick = jnp.asarray(times), np.arange(len(times))
    else:
        daily = np.arange(0.0, times[-1] + 1.0)
        solve_ts, pick = jnp.asarray(daily), np.searchsorted(daily, times)

    def predict(params, _times):
        theta = jnp.stack([jnp.asarray(params[n], dtype=float) for n in NAMES])
        vol, _, ok = forward(theta, solve_ts, options)
        return {"volume": jnp.where(ok, vol[pick], jnp.nan)}

    return predict


def make_model(options: m.SolverOptions, obs: inference.Observations):
    predict = make_predict(options, obs.times)
    return inference.patient_model(predict, spec(), obs, {"volume": inference.Proportional("sigma")})


class _PhasedMCMC(MCMC):
    """numpyro's MCMC, with ``run`` as its two documented phases (``warmup``, then ``run`` from the
    post-warm-up state), each timed, and the leapfrog steps and step sizes of both collected."""

    FIELDS = ("num_steps", "adapt_state.step_size")

    def run(self, rng_key, *args, extra_fields=(), **kwargs):
        if getattr(self, "_in_phase", False):
            return super().run(rng_key, *args, extra_fields=extra_fields, **kwargs)
        fields = tuple(dict.fromkeys((*extra_fields, *self.FIELDS)))
        self._in_phase, self.phases = True, {}
        try:
            t = time.perf_counter()
            self.warmup(rng_key, *args, extra_fields=fields, collect_warmup=True, **kwargs)
            jax.block_until_ready(self._states)
            self.phases["warmup"] = (t, time.perf_counter())
            self.warmup_fields = {k: np.asarray(v) for k, v in self.get_extra_fields(group_by_chain=True).items()}
            t = time.perf_counter()
            super().run(self.post_warmup_state.rng_key, *args, extra_fields=fields, **kwargs)
            jax.block_until_ready(self._states)
            self.phases["sample"] = (t, time.perf_counter())
        finally:
            self._in_phase = False


# --- diagnostics shared by both sides ----------------------------------------------------------


def summarise(idata, wall_s: float, cpu_s: float, grads_per_chain: np.ndarray) -> dict:
    """Min bulk / tail ESS, max R-hat, divergences (``inference.diagnose``), ESS/s and posterior
    means, the same code for ours and Stan's draws."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", inference.CalibrationWarning)
        diag = inference.diagnose(idata, warn=False)
    table = diag.table
    bulk = float(table["ess_bulk"].min())
    post = idata.posterior
    return {
        "sampling_wall_s": wall_s,
        "sampling_cpu_s": cpu_s,
        "min_bulk_ess": bulk,
        "min_tail_ess": float(table["ess_tail"].min()),
        "max_rhat": float(table["r_hat"].max()),
        "divergences": int(diag.divergences),
        "ess_per_s": bulk / wall_s,
        "ess_per_cpu_s": bulk / cpu_s if cpu_s > 0 else None,
        "worst_bulk_ess_parameter": str(table["ess_bulk"].idxmin()) if table["ess_bulk"].notna().any() else None,
        "gradients_total": int(grads_per_chain.sum()),
        "gradients_per_chain": [int(g) for g in grads_per_chain],
        "diagnostics_ok": diag.ok,
        "problems": diag.problems,
        "posterior_mean": {n: float(post[n].mean()) for n in PARAMS},
        "posterior_sd": {n: float(post[n].std()) for n in PARAMS},
    }


# --- our runs ----------------------------------------------------------------------------------


def run_ours(model, init, args, *, seed: int) -> dict:
    saved_mcmc = FIT.MCMC
    FIT.MCMC = _PhasedMCMC
    load = os.getloadavg()[0]
    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # numpyro: "There are not enough devices..."
            mcmc = inference.nuts(
                model,
                jax.random.key(seed),
                chains=args.chains,
                warmup=args.warmup,
                samples=args.samples,
                init=init,
                target_accept=args.target_accept,
            )
    finally:
        FIT.MCMC = saved_mcmc
    t1, cpu1 = time.perf_counter(), time.process_time()
    phase = {k: (b - a) - COMPILES.seconds(a, b) for k, (a, b) in mcmc.phases.items()}
    sample_fields = {k: np.asarray(v) for k, v in mcmc.get_extra_fields(group_by_chain=True).items()}
    steps_w, steps_s = mcmc.warmup_fields["num_steps"], sample_fields["num_steps"]
    idata = inference.to_inference_data(mcmc, UNITS)
    wall = phase["warmup"] + phase["sample"]
    # CPU time of compilation is not separable; scale the process CPU time by the sampling share of wall time.
    cpu = (cpu1 - cpu0) * wall / (t1 - t0)
    out = {
        "chain_method": "vectorized",
        "gradients": "reverse mode",
        "load_average_1min_before": load,
        "first_call_s": t1 - t0,  # the whole inference.nuts call: compile + warm-up + draws
        "compile_s": COMPILES.seconds(t0, t1),
        "warmup_s": phase["warmup"],
        "draws_s": phase["sample"],
        **summarise(idata, wall, cpu, steps_w.sum(axis=1) + steps_s.sum(axis=1)),
        "mean_leapfrog_per_draw": float(steps_s.mean()),
        "mean_tree_depth": float(np.mean(np.ceil(np.log2(steps_s + 1)))),
        "step_size_after_warmup": [float(s) for s in sample_fields["adapt_state.step_size"][:, 0]],
    }
    # lock-step cost of the vectorised chains: each iteration costs the longest chain's trajectory
    lock = np.max(steps_w, axis=0).sum() + np.max(steps_s, axis=0).sum()
    out["wall_ms_per_lockstep_gradient"] = 1e3 * wall / lock
    del mcmc, idata
    jax.clear_caches()
    gc.collect()
    return out


def gradient_profile(obs, configs) -> dict:
    """Warm cost of one value-and-gradient of the log density (single; and 4 chains vmapped), per
    solver configuration: an isolated jitted call (reverse mode, as numpyro's NUTS)."""
    truth_z = {k: jnp.log(jnp.asarray(float(v))) for k, v in TRUTH.items()}
    batch_z = {k: v + 0.02 * jnp.arange(4.0) for k, v in truth_z.items()}
    out = {}
    for label, options in configs:
        pot = initialize_model(jax.random.key(0), make_model(options, obs), dynamic_args=False).potential_fn
        grad = jax.value_and_grad(pot)
        single, batched = jax.jit(grad), jax.jit(jax.vmap(grad))
        t = time.perf_counter()
        jax.block_until_ready(single(truth_z))
        first = time.perf_counter() - t
        out[label] = {
            "first_call_s": first,
            "value_and_grad_ms": 1e3 * timed(single, truth_z),
            "vmap4_value_and_grad_ms": 1e3 * timed(batched, batch_z),
        }
    return out


def timed(fn, x, repeat=5):
    jax.block_until_ready(fn(x))
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(fn(x))
        best = min(best, time.perf_counter() - t)
    return best


def accuracy(options, obs, truth_volumes) -> dict:
    predict = jax.jit(make_predict(options, obs.times))
    vol = np.asarray(predict(TRUTH, None)["volume"])
    return {"max_rel_error_vs_true_volume": float(np.max(np.abs(vol - truth_volumes) / truth_volumes))}


def log_density(model, points) -> list[float]:
    """log joint density on the unconstrained (log) space, Jacobian included: -potential."""
    info = initialize_model(jax.random.key(0), model, dynamic_args=False)
    pot = jax.jit(info.potential_fn)
    return [-float(pot({k: jnp.log(jnp.asarray(float(v))) for k, v in p.items()})) for p in points]


# --- Stan ----------------------------------------------------------------------------------------


def run_stan(args, df, init, check_points) -> dict:
    python = Path(args.stan_python)
    if not python.exists():
        msg = (
            f"Stan is unavailable: {python} not found. Create it with `python3 -m venv .venv-bench-stan && "
            ".venv-bench-stan/bin/pip install -r benchmarks/requirements-stan.txt` (PyStan; needs g++)."
        )
        print(msg, file=sys.stderr)
        return {"available": False, "reason": msg}
    job = {
        "data": {
            "N": len(df),
            "obs_day": [int(t) for t in df.time_day],
            "y_obs": [float(v) for v in df.observed_volume_mm3],
            "mu": MU.tolist(),
            "sd_": SD.tolist(),
            "ka": KA,
            "vd": VD,
            "cap": K,
            "ec50": EC50,
            "dose": DOSE,
            "rtol": args.stan_rtol,
            "atol": args.stan_atol,
            "max_steps": 100_000,
        },
        "chains": args.chains,
        "warmup": args.warmup,
        "samples": args.samples,
        "seed": args.seed + 1,
        "adapt_delta": args.target_accept,
        "init": {k: float(v) for k, v in init.items()},
        "check_points": [{k: float(v) for k, v in p.items()} for p in check_points],
        "fresh_compile": not args.stan_cached_build,
        "parallel_chains": args.stan_parallel_chains,
        "check_tolerances": [[1e-5, 1e-5], [1e-6, 1e-6], [1e-7, 1e-7]],
    }
    log = result_path(args.out, "reference_nuts.json").with_name("reference_nuts_stan.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as err:
        proc = subprocess.run(
            [str(python), str(ROOT / "benchmarks" / "stan_reference.py")],
            input=json.dumps(job),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    if proc.returncode != 0:
        msg = f"Stan run failed (exit {proc.returncode}); see {log}"
        print(msg, file=sys.stderr)
        return {"available": False, "reason": msg}
    return stan_summary(json.loads(proc.stdout), job, reused=None)


def stan_summary(res: dict, job: dict, reused: str | None) -> dict:
    az = FIT.import_arviz()
    stats = {k: np.asarray(v) for k, v in res["sample_stats"].items()}
    idata = az.from_dict(
        posterior={n: np.asarray(res["posterior"][n]) for n in PARAMS},
        sample_stats={"diverging": stats["diverging"].astype(bool)},
    )
    summary = summarise(idata, res["sample_wall_s"], res["sample_cpu_s"], np.full(job["chains"], -1))
    for key in ("gradients_total", "gradients_per_chain"):
        summary.pop(key)  # Stan reports leapfrog steps of the draws only, not of the warm-up
    return {
        "available": True,
        "versions": {k: res[k] for k in ("stan_version", "pystan_version", "httpstan_version")},
        "program": "benchmarks/stan_reference.py: closed-form 1-cpt oral PK restarted at each dose, "
        "ode_rk45_tol for S, R from dose to dose",
        "reused_output": reused,
        "settings": {k: job[k] for k in ("chains", "warmup", "samples", "adapt_delta", "init", "seed")},
        "tolerances": {"rtol": job["data"]["rtol"], "atol": job["data"]["atol"]},
        "compile_s": res["compile_s"],
        "compile_cached": not job.get("fresh_compile", True),
        "parallel_chains": res["parallel_chains"],
        "load_average_1min_before": res["load_average_1min_before"],
        **summary,
        "mean_leapfrog_per_draw": float(stats["n_steps"].mean()),
        "leapfrog_draws_total": int(stats["n_steps"].sum()),
        "mean_tree_depth": float(stats["tree_depth"].mean()),
        "step_size_after_warmup": [float(s) for s in stats["step_size"][:, 0]],
        "log_density_checks": [c["log_density"] for c in res["log_density_checks"]],
        "log_density_points": [c["point"] for c in res["log_density_checks"]],
        "log_density_by_tolerance": res["log_density_by_tolerance"],
    }


# --- main --------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rtol", type=float, default=1e-6, help="adaptive solver, ours")
    parser.add_argument("--atol", type=float, default=1e-6, help="adaptive solver, ours (mm^3)")
    parser.add_argument("--max-steps", type=int, default=4096)
    parser.add_argument("--variants", default="lawson", help="comma list of lawson, adaptive (full NUTS runs)")
    parser.add_argument("--map-steps", type=int, default=200)
    parser.add_argument("--map-restarts", type=int, default=1)
    parser.add_argument("--no-stan", action="store_true")
    parser.add_argument("--stan-json", help="output of an earlier stan_reference.py run (skips sampling Stan)")
    parser.add_argument("--stan-job", help="with --stan-json: the input JSON that run was given")
    parser.add_argument("--stan-python", default=str(ROOT / ".venv-bench-stan" / "bin" / "python"))
    parser.add_argument("--stan-rtol", type=float, default=1e-6)
    parser.add_argument("--stan-atol", type=float, default=1e-6)
    parser.add_argument("--stan-cached-build", action="store_true", help="reuse httpstan's cached build")
    parser.add_argument("--stan-parallel-chains", type=int, default=1, help="Stan worker processes")
    parser.add_argument("--no-profile", action="store_true")
    add_out_option(parser)
    args = parser.parse_args()
    if bool(args.stan_json) != bool(args.stan_job):
        parser.error("--stan-json and --stan-job go together")

    df, obs = observations()
    truth_volumes = df.true_volume_mm3.to_numpy(float)
    adaptive = m.SolverOptions(rtol=args.rtol, atol=args.atol, max_steps=args.max_steps, checkpoints=args.max_steps)
    variants = {"lawson": m.SolverOptions(grid=LAWSON), "adaptive": adaptive}
    chosen = [v for v in args.variants.split(",") if v]
    result = {
        "problem": "shared/bench reference: NUTS, 7 unknowns, 2 clones + 1-cpt oral PK, 180 daily doses, 20 obs",
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
            "jax_backend": jax.default_backend(),
        },
        "versions": {p: version(p) for p in ("jax", "jaxlib", "numpyro", "diffrax", "arviz")},
        "settings": {
            "chains": args.chains,
            "warmup": args.warmup,
            "samples": args.samples,
            "target_accept": args.target_accept,
            "lawson": repr(LAWSON),
            "adaptive": {"rtol": args.rtol, "atol_mm3": args.atol, "max_steps": args.max_steps, "solver": "Tsit5"},
        },
    }

    # MAP (Lawson grid: the same model to ~4e-6): the initial point of every chain (ours and Stan's)
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", inference.CalibrationWarning)
        fit = inference.map_estimate(
            make_model(variants["lawson"], obs),
            jax.random.key(args.seed),
            steps=args.map_steps,
            restarts=args.map_restarts,
        )
    result["map"] = {
        "wall_s": time.perf_counter() - t,
        "params": {k: float(v) for k, v in fit.params.items()},
        "grad_norm": fit.grad_norm,
        "converged": fit.converged,
        "warnings": [str(w.message) for w in caught],
    }
    print(json.dumps({"map": result["map"]}), flush=True)

    stan_reused = None
    if args.stan_json and not args.no_stan:
        stan_reused = json.loads(Path(args.stan_json).read_text())
        check_points = [c["point"] for c in stan_reused["log_density_checks"]]
    else:
        check_points = [TRUTH, fit.params]
        check_points += [
            {k: float(v) * np.exp(s * 0.05 * (i % 3 - 1)) for i, (k, v) in enumerate(fit.params.items())}
            for s in (1, -1)
        ]
    tight = m.SolverOptions(rtol=1e-11, atol=1e-11, max_steps=20_000, checkpoints=20_000)
    result["log_density_check"] = {
        "points": [{k: float(v) for k, v in p.items()} for p in check_points],
        "ours_tight_rtol_1e-11": log_density(make_model(tight, obs), check_points),
        **{f"ours_{v}": log_density(make_model(o, obs), check_points) for v, o in variants.items()},
    }
    result["accuracy_at_truth"] = {v: accuracy(o, obs, truth_volumes) for v, o in variants.items()}
    print(json.dumps({"accuracy_at_truth": result["accuracy_at_truth"]}), flush=True)

    if not args.no_profile:
        configs = [("library_default_adaptive", m.SolverOptions()), *variants.items()]
        result["gradient_profile"] = gradient_profile(obs, configs)
        print(json.dumps({"gradient_profile": result["gradient_profile"]}), flush=True)
    save(result, args.out)

    if not args.no_stan:
        if stan_reused is not None:
            job = json.loads(Path(args.stan_job).read_text())
            result["stan"] = stan_summary(stan_reused, job, reused=args.stan_json)
        else:
            result["stan"] = run_stan(args, df, fit.params, check_points)
        if result["stan"]["available"]:
            stan = result["stan"]
            result["log_density_check"]["stan"] = stan.pop("log_density_checks")
            stan.pop("log_density_points")
            for tol, vals in stan.pop("log_density_by_tolerance").items():
                result["log_density_check"][f"stan_rtol_atol_{tol}"] = vals
            ref = np.asarray(result["log_density_check"]["ours_tight_rtol_1e-11"])
            result["log_density_check"]["max_abs_diff_vs_tight"] = {
                k: float(np.max(np.abs(np.asarray(vals) - ref)))
                for k, vals in result["log_density_check"].items()
                if k not in ("points", "ours_tight_rtol_1e-11")
            }
            print(json.dumps({"stan": {k: stan[k] for k in HEADLINE}}), flush=True)
        save(result, args.out)

    result["ours"] = {}
    for v in chosen:
        r = run_ours(make_model(variants[v], obs), fit, args, seed=args.seed)
        r["solver"] = repr(LAWSON) if v == "lawson" else "adaptive Tsit5"
        r.update(result["accuracy_at_truth"][v])
        result["ours"][v] = r
        print(json.dumps({v: {k: r[k] for k in HEADLINE}}), flush=True)
        save(result, args.out)

    stan = result.get("stan", {})
    if stan.get("available"):
        result["comparison"] = {
            v: {
                "ess_per_s_ratio_ours_over_stan": r["ess_per_s"] / stan["ess_per_s"],
                "ess_per_cpu_s_ratio_ours_over_stan": r["ess_per_cpu_s"] / stan["ess_per_cpu_s"],
                "target_3x_met": bool(r["ess_per_s"] >= 3 * stan["ess_per_s"]),
            }
            for v, r in result["ours"].items()
        }
    save(result, args.out)
    print(json.dumps(result, indent=2))


def save(result, out):
    write_json(out, "reference_nuts.json", result)


if __name__ == "__main__":
    main()
