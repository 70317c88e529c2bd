"""Stan baseline for ``reference_nuts.py``: NUTS on the shared reference problem with PyStan.

Runs in the optional Stan environment (``benchmarks/requirements-stan.txt``), not in ``.venv``:
``reference_nuts.py`` starts it as a subprocess, passes the problem as JSON on stdin and reads a
JSON result (draws included) from stdout. The Stan program is the same model as ours: the
one-compartment oral PK in closed form, restarted at each daily dose from the gut amount and the
concentration at the dose, and an ODE for the two clones S, R (``ode_rk45_tol``) from dose to
dose; the same log-normal priors and log-normal likelihood (all constants kept, so that log
densities can be compared with ours point by point).

Input JSON: ``data`` (the Stan data below), ``chains``, ``warmup``, ``samples``, ``seed``,
``adapt_delta``, ``init`` (constrained values for every chain), ``check_points`` (constrained
parameter dicts at which to return log densities), ``fresh_compile`` (delete httpstan's cached
build first, so that the compile time is real), ``check_tolerances`` (``[rtol, atol]`` pairs at which
to return the same log densities), ``parallel_chains`` (worker processes running the
chains; httpstan's default is one per CPU).

Run by hand: ``.venv-bench-stan/bin/python benchmarks/stan_reference.py < problem.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import sys
import time
from pathlib import Path

PROGRAM = """
functions {
  // S, R between two doses; s = time since the last dose (day). Linear one-compartment oral PK in closed
  // form, restarted at each dose from the gut amount a0 (just after the dose) and the concentration c0.
  vector tumour(real s, vector y, real rs, real rr, real kmax, real ke, real a0, real c0,
                real ka, real vd, real cap, real ec50) {
    real eke = exp(-ke * s);
    real c = c0 * eke + a0 * ka / (vd * (ka - ke)) * (eke - exp(-ka * s));
    real n = y[1] + y[2];
    vector[2] dydt;
    dydt[1] = rs * y[1] * (1 - n / cap) - kmax * c / (ec50 + c) * y[1];
    dydt[2] = rr * y[2] * (1 - n / cap);
    return dydt;
  }
}
data {
  int<lower=1> N;
  array[N] int<lower=0> obs_day;  // sorted integer days; doses are given at each day 0, 1, ...
  vector<lower=0>[N] y_obs;
  vector[7] mu;
  vector<lower=0>[7] sd_;
  real ka;
  real vd;
  real cap;
  real ec50;
  real dose;
  real rtol;
  real atol;
  int max_steps;
}
transformed data {
  int last_day = obs_day[N];
  array[last_day] real gut;  // gut amount (mg) just after the dose of day d - 1 (data: no sensitivities)
  {
    real a = 0;
    for (d in 1:last_day) {
      a = a * exp(-ka) + dose;
      gut[d] = a;
    }
  }
}
parameters {
  real<lower=0> rS;
  real<lower=0> rR;
  real<lower=0> kmax;
  real<lower=0> S0;
  real<lower=0> R0;
  real<lower=0> ke;
  real<lower=0> sigma;
}
model {
  vector[N] log_v;
  {
    vector[2] y = [S0, R0]';
    real c = 0;  // plasma concentration (mg/L) at the dose time
    real q = ka / (vd * (ka - ke));
    int k = 1;
    for (day in 0:last_day) {
      while (k <= N && obs_day[k] == day) {
        log_v[k] = log(y[1] + y[2]);
        k += 1;
      }
      if (day < last_day) {
        y = ode_rk45_tol(tumour, y, 0.0, {1.0}, rtol, atol, max_steps,
                         rS, rR, kmax, ke, gut[day + 1], c, ka, vd, cap, ec50)[1];
        c = c * exp(-ke) + gut[day + 1] * q * (exp(-ke) - exp(-ka));
      }
    }
  }
  target += lognormal_lpdf(rS | mu[1], sd_[1]);
  target += lognormal_lpdf(rR | mu[2], sd_[2]);
  target += lognormal_lpdf(kmax | mu[3], sd_[3]);
  target += lognormal_lpdf(S0 | mu[4], sd_[4]);
  target += lognormal_lpdf(R0 | mu[5], sd_[5]);
  target += lognormal_lpdf(ke | mu[6], sd_[6]);
  target += lognormal_lpdf(sigma | mu[7], sd_[7]);
  target += lognormal_lpdf(y_obs | log_v, sigma);
}
"""
NAMES = ("rS", "rR", "kmax", "S0", "R0", "ke", "sigma")


def children_cpu_s() -> float:
    """CPU seconds of this process's children: exited ones (rusage) and live ones (httpstan's
    worker pool stays alive, so /proc is read for those)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = r.ru_utime + r.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def main():
    job = json.load(sys.stdin)
    log = io.StringIO()  # PyStan writes progress and compiler messages; keep stdout for the JSON
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        import httpstan
        import httpstan.cache
        import httpstan.models
        import stan

        model_name = httpstan.models.calculate_model_name(PROGRAM)
        if job.get("fresh_compile", True):
            httpstan.cache.delete_model_directory(model_name)
        else:  # keep the build, drop cached fits (PyStan returns a cached fit for a repeated seed)
            for fit in httpstan.cache.model_directory(model_name).glob("*.jsonlines.gz"):
                fit.unlink()
        t = time.perf_counter()
        posterior = stan.build(PROGRAM, data=job["data"], random_seed=job["seed"])
        compile_s = time.perf_counter() - t
        check = []
        for point in job.get("check_points", []):
            u = posterior.unconstrain_pars(point)
            check.append({"point": point, "log_density": posterior.log_prob(u, adjust_transform=True)})
        by_tolerance = {}  # the same points at other ODE tolerances (data only: no recompilation)
        for rtol, atol in job.get("check_tolerances", []):
            other = stan.build(PROGRAM, data={**job["data"], "rtol": rtol, "atol": atol}, random_seed=job["seed"])
            by_tolerance[f"{rtol:g}_{atol:g}"] = [
                other.log_prob(other.unconstrain_pars(p), adjust_transform=True) for p in job.get("check_points", [])
            ]
        if job.get("parallel_chains"):  # httpstan runs chains in a process pool of os.cpu_count() workers
            import concurrent.futures
            import multiprocessing

            import httpstan.services_stub as stub

            stub.executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=job["parallel_chains"],
                mp_context=multiprocessing.get_context("fork"),
                initializer=stub.init_worker,
            )
        load = os.getloadavg()[0]
        cpu0 = children_cpu_s()
        t = time.perf_counter()
        fit = posterior.sample(
            num_chains=job["chains"],
            num_warmup=job["warmup"],
            num_samples=job["samples"],
            delta=job["adapt_delta"],
            init=[dict(job["init"]) for _ in range(job["chains"])],
        )
        wall_s = time.perf_counter() - t
        cpu_s = children_cpu_s() - cpu0  # the chains run in httpstan's worker processes

    columns = list(fit.sample_and_sampler_param_names) + list(fit.constrained_param_names)

    def by_chain(column):  # PyStan's draws: (column, draw, chain) -> [chain][draw]
        return fit._draws[columns.index(column)].T.tolist()

    stats = {
        "diverging": "divergent__",
        "tree_depth": "treedepth__",
        "n_steps": "n_leapfrog__",
        "step_size": "stepsize__",
        "acceptance_rate": "accept_stat__",
    }
    out = {
        "stan_version": ".".join(str(v) for v in _stan_version()),
        "pystan_version": stan.__version__ if hasattr(stan, "__version__") else _dist_version("pystan"),
        "httpstan_version": httpstan.__version__,
        "compile_s": compile_s,
        "sample_wall_s": wall_s,
        "sample_cpu_s": cpu_s,
        "load_average_1min_before": load,
        "parallel_chains": job.get("parallel_chains") or os.cpu_count(),
        "posterior": {n: by_chain(n) for n in NAMES},
        "sample_stats": {k: by_chain(v) for k, v in stats.items()},
        "log_density_checks": check,
        "log_density_by_tolerance": by_tolerance,
    }
    json.dump(out, sys.stdout)


def _stan_version():
    import re

    import httpstan

    text = (Path(httpstan.__file__).parent / "include" / "stan" / "version.hpp").read_text()
    return [int(re.search(rf"#define STAN_{p} (\d+)", text).group(1)) for p in ("MAJOR", "MINOR", "PATCH")]


def _dist_version(name):
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
