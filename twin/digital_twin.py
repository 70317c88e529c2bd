"""The DigitalTwin: one patient's record, their personalised model and its posterior.

>>> twin = DigitalTwin.from_record(record).calibrate(seed=0)
>>> result = twin.compare()            # the standard regimens from the decision day, ranked
>>> twin.save("patient.twin.nc"); DigitalTwin.load("patient.twin.nc")
>>> step = twin.update(next_scan)      # was the scan a surprise? refit; then step.twin.compare()

Time is in patient days (day 0 = start of treatment). The *decision day* (``twin.now``) is the
last observation: what-if regimens start there (regimen day 0), from each posterior draw's clone
volumes that day. Drug given before the decision day is not carried into the what-if (erlotinib
and osimertinib wash out within days of the last dose).

A twin is immutable: ``calibrate`` and ``update`` return new twins. Everything it holds saves to
one NetCDF file and loads back bit for bit: the record, the model specification, the posterior
and sampler statistics, the sampler's warm-start state, the seed and settings, the versions of
the packages that produced it, and the log of earlier updates.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import equinox as eqx
import jax
import numpy as np
import pandas as pd
import xarray as xr

from inference.calibrate import INITS, METHODS, calibrate
from inference.fit import CalibrationWarning, WarmStart
from twin.diseases import DEFAULT_PACK, DiseasePack, RecordResponse, get_pack
from twin.record import OBSERVABLES, PatientRecord

FORMAT_VERSION = 1
PREDICTIVE_LEVEL = 0.90
MISFIT_P = 0.01  # an observation with a smaller posterior predictive p-value is not explained
MISFIT_OUTSIDE_SHARE = 0.25  # more of the record outside its 90% predictive intervals is a misfit


class Settings(NamedTuple):
    """Calibration settings. ``method``: ``"nuts"`` (``chains`` x (``warmup`` + ``samples``) draws
    of the exact posterior) or ``"laplace"`` (a Gaussian on the unconstrained scale at the MAP,
    ``chains`` x ``samples`` independent draws: seconds instead of minutes, approximate);
    ``seed`` of every PRNG key the twin makes; ``target_accept`` of NUTS; ``dense_mass``: NUTS adapts
    a full mass matrix (growth rate and maximal kill correlate strongly in a patient's posterior);
    ``init``: where the NUTS chains start, ``"laplace"`` (one draw each from the Laplace
    approximation at the MAP: dispersed, in the posterior's bulk) or ``"prior"`` (the prior medians,
    jittered by numpyro).
    The defaults are checked on synthetic patients from the prior by ``benchmarks/nuts_replicates.py``
    (its runs, and the settings that failed more often, are in ``benchmarks/README.md``)."""

    method: str = "nuts"
    seed: int = 0
    chains: int = 4
    warmup: int = 1000
    samples: int = 1000
    target_accept: float = 0.95
    dense_mass: bool = True
    init: str = "laplace"


class Comparison(NamedTuple):
    """``dataset``: ``scenarios.compare`` output (dims regimen, draw, time; ``time`` in days from the
    decision day, ``attrs['start_day']`` the decision day, ``attrs['primary']`` the ranking
    endpoint, ``attrs['toxicity_penalty_days']``); ``table``: ``scenarios.summarise``, best first
    (with ``toxicity penalty (days)``, and ``exposure above label`` where the regimens' drugs have
    label doses), and ``above label dose`` (what exceeds the label, the pack's
    :meth:`~twin.diseases.DiseasePack.above_label`; empty when nothing does); ``verdict``:
    ``scenarios.verdict``, the ranking in one sentence (short regimen names)."""

    dataset: xr.Dataset
    table: pd.DataFrame
    verdict: object  # scenarios.Verdict (scenarios is imported lazily)


class Update(NamedTuple):
    """``twin``: refitted with the new rows; ``checks``: one row per new observation with the
    previous twin's 90% predictive interval and whether the value fell outside it;
    ``surprised``: any did (the twin and the patient diverged: reconsider the treatment)."""

    twin: DigitalTwin
    checks: pd.DataFrame
    surprised: bool


def _versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("patient-twin", "jax", "numpyro", "diffrax", "equinox", "xarray", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass(frozen=True)
class DigitalTwin:
    """A patient's twin (see the module docstring). Build with :meth:`from_record`."""

    record: PatientRecord
    model: object  # the pack's model family for this patient (twin.diseases.egfr_nsclc.model.TwinModel for EGFR NSCLC)
    settings: Settings = Settings()
    posterior: xr.Dataset | None = None  # dims (chain, draw): free parameters, 'diverging'
    warm: WarmStart | None = field(default=None, repr=False)  # where NUTS ended (None after Laplace)
    diagnostics: tuple[str, ...] = ()  # failed sampler checks (empty: all passed)
    model_check: tuple[str, ...] = ()  # the record's posterior predictive check failed (empty: passed)
    log: tuple[dict, ...] = ()  # earlier updates: day, checks
    versions: Mapping[str, str] = field(default_factory=_versions)
    pack: DiseasePack = field(default_factory=get_pack)  # the disease: model, regimens, response criteria

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def from_record(cls, record: PatientRecord, model=None, pack: str | DiseasePack | None = None) -> DigitalTwin:
        """The twin of ``record`` under the disease ``pack`` (a name in ``twin.diseases.PACKS``,
        default ``"egfr_nsclc"``) with the pack's model personalised to the record (or ``model``)."""
        if not isinstance(record, PatientRecord):
            raise TypeError(f"record must be a twin.PatientRecord, got {type(record).__name__}")
        pack = get_pack(pack)
        model = pack.model_for(record) if model is None else model
        _check_drugs(record, model)
        return cls(record, model, pack=pack, settings=Settings(target_accept=pack.target_accept))

    @property
    def calibrated(self) -> bool:
        return self.posterior is not None

    @property
    def observables(self) -> tuple[str, ...]:
        return tuple(o for o in self.pack.fit_observables if o in self.record.observables)

    @property
    def t0(self) -> float:
        """Day of the first observation: the model starts there (``volume0`` is the burden then)."""
        return min(o.time for o in self.record.observations)

    @property
    def now(self) -> float:
        """The decision day: the last observation (day)."""
        return max(o.time for o in self.record.observations)

    # --- calibration ----------------------------------------------------------------------------
    def calibrate(
        self, *, method: str | None = None, seed: int | None = None, chains: int | None = None,
        warmup: int | None = None, samples: int | None = None, target_accept: float | None = None,
        dense_mass: bool | None = None, init: str | None = None,
    ) -> DigitalTwin:  # fmt: skip
        """Bayesian calibration by ``inference.calibrate`` (:class:`Settings`; unset arguments keep
        the twin's). NUTS problems (R-hat > 1.01, bulk or tail ESS < 100 per chain, divergences)
        and a Laplace fit whose MAP did not converge warn and are kept in ``diagnostics``."""
        given = {"method": method, "seed": seed, "chains": chains, "warmup": warmup, "samples": samples,
                 "target_accept": target_accept, "dense_mass": dense_mass, "init": init}  # fmt: skip
        settings = self.settings._replace(**{k: v for k, v in given.items() if v is not None})
        _check_settings(settings)
        return self._fit(settings, jax.random.key(settings.seed))

    def _fit(self, settings: Settings, key, *, warm: WarmStart | None = None, warmup: int | None = None):
        """This twin with the posterior of ``inference.calibrate`` under ``settings`` (``warm``: a
        NUTS run continued from there with ``warmup`` steps), its problems warned and kept, and the
        model check of the record."""
        if not self.observables:
            fitted = " or ".join(self.pack.fit_observables)
            raise ValueError(f"patient {self.record.patient_id!r} has no {fitted} observations to fit")
        post = calibrate(
            self.model, self.record.to_observations(observables=self.observables), self.model.spec(),
            self.model.errors(self.observables), self.record.to_dose_table(), key=key, method=settings.method,
            t0=self.t0, chains=settings.chains, warmup=settings.warmup if warmup is None else warmup,
            samples=settings.samples, target_accept=settings.target_accept, dense_mass=settings.dense_mass,
            init=settings.init, warm=warm,
        )  # fmt: skip
        if settings.method == "nuts" and post.problems:
            message = "sampler diagnostics failed:\n  " + "\n  ".join(post.problems)
            warnings.warn(message, CalibrationWarning, stacklevel=3)
        else:  # the MAP's problems
            for problem in post.problems:
                warnings.warn(problem, CalibrationWarning, stacklevel=3)
        posterior = post.draws[list(post.free)]
        posterior.attrs = {}
        if post.diverging is not None:
            posterior["diverging"] = (("chain", "draw"), post.diverging)
        twin = replace(self, settings=settings, posterior=posterior, warm=post.warm, diagnostics=post.problems)
        problems = twin._model_problems()
        for problem in problems:
            warnings.warn(problem, CalibrationWarning, stacklevel=3)
        return replace(twin, model_check=problems)

    def with_draws(self, draws: Mapping[str, np.ndarray]) -> DigitalTwin:
        """This twin with a posterior given as draws ``{free parameter: (chain, draw)}`` made
        elsewhere (e.g. fixed values for a what-if without calibration): no sampler diagnostics,
        no model check."""
        missing = sorted(set(self.model.priors) - set(draws))
        unknown = sorted(set(draws) - set(self.model.priors))
        if missing or unknown:
            raise ValueError(f"draws must hold exactly the free parameters {sorted(self.model.priors)}; "
                             f"missing {missing}, unknown {unknown}")  # fmt: skip
        shapes = {k: np.shape(v) for k, v in draws.items()}
        if len(set(shapes.values())) != 1 or len(next(iter(shapes.values()))) != 2:
            raise ValueError(f"draws must all have one shape (chain, draw); got {shapes}")
        units = self.model.units()
        chains, n = next(iter(shapes.values()))
        data = {
            k: (("chain", "draw"), np.asarray(draws[k], dtype=float), {"units": units[k]}) for k in self.model.priors
        }
        posterior = xr.Dataset(data, coords={"chain": np.arange(chains), "draw": np.arange(n)})
        return replace(self, posterior=posterior, warm=None, diagnostics=(), model_check=())

    def _require_posterior(self) -> xr.Dataset:
        if self.posterior is None:
            raise ValueError(
                f"the twin of patient {self.record.patient_id!r} is not calibrated: call .calibrate() first"
            )
        return self.posterior

    # --- draws and predictions ------------------------------------------------------------------
    @property
    def free_parameters(self) -> tuple[str, ...]:
        return tuple(str(v) for v in self._require_posterior().data_vars if v != "diverging")

    @property
    def n_draws(self) -> int:
        """Draws in the posterior (chains x draws per chain)."""
        post = self._require_posterior()
        return post.sizes["chain"] * post.sizes["draw"]

    def draws(self, n: int = 200) -> dict[str, np.ndarray]:
        """``n`` posterior draws (evenly spaced over chains and draws: deterministic), with the fixed
        parameters broadcast: ``{name: (n,)}``."""
        post = self._require_posterior()
        total = self.n_draws
        if not (isinstance(n, (int, np.integer)) and 1 <= n <= total):
            raise ValueError(f"n={n!r} draws: must be a whole number in [1, {total}] (the posterior's draws)")
        idx = np.linspace(0, total - 1, n).round().astype(int)
        out = {k: post[k].values.reshape(-1)[idx] for k in self.free_parameters}
        out.update({k: np.full(n, float(v)) for k, v in self.model.fixed.items()})
        return out

    def _solve(self, draws: Mapping[str, np.ndarray], times: np.ndarray):
        """The model's state ``(n, T, n_states)`` at ``times`` under the doses given, per draw (clone
        volumes for EGFR NSCLC)."""
        import jax.numpy as jnp

        import mechanistic as m

        batch = {k: jnp.asarray(v, dtype=float) for k, v in draws.items()}
        padded = jnp.asarray(m.pad_repeating_last(times))
        inputs = self.model.solve_inputs(self.record.to_dose_table(), times, t0=self.t0)
        clones, ok = _solve_history(self.model, batch, padded, inputs)
        clones = clones[:, : len(times)]
        ok = np.asarray(ok)
        if not ok.all():
            raise m.SolveError(f"{(~ok).sum()} of {len(ok)} posterior draws failed to solve the patient's history")
        return np.asarray(clones)

    def history(self, n_draws: int = 200, points: int = 121) -> xr.Dataset:
        """Posterior predictive fit of the past: each of the model's observables with its units
        (``model.observables``: e.g. ``diameter`` mm, ``volume`` mm^3 and ``resistant_fraction``
        for EGFR NSCLC), dims ``(draw, time)`` on ``points`` days from the first
        observation to the decision day (no residual noise: the model's trajectory)."""
        times = np.linspace(self.t0, self.now, points)
        clones = self._solve(self.draws(n_draws), times)
        obs = self.model.observe(clones)
        units = self.model.observables
        data = {k: (("draw", "time"), np.asarray(v), {"units": units[k]}) for k, v in obs.items()}
        return xr.Dataset(data, coords={"time": ("time", times, {"units": "day"})})

    def predictive_interval(self, times: Sequence[float], level: float = PREDICTIVE_LEVEL, n_draws: int = 400):
        """Posterior predictive interval (with residual error) of each fitted observable at
        ``times`` (days after the first observation; doses beyond the record are not assumed:
        for days after the last dose, the drug is off): DataFrame with ``time, observable, lo,
        median, hi``."""
        times, noisy = self._predictive_draws(times, n_draws)
        rows = []
        q = [(1 - level) / 2, 0.5, (1 + level) / 2]
        for name, values in noisy.items():
            lo, mid, hi = np.quantile(values, q, axis=0)
            rows += [(t, name, a, b, c) for t, a, b, c in zip(times, lo, mid, hi, strict=True)]
        return pd.DataFrame(rows, columns=["time", "observable", "lo", "median", "hi"])

    def _predictive_draws(self, times: Sequence[float], n_draws: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Sorted unique ``times`` and posterior predictive draws (residual error included) of each
        fitted observable there: ``{observable: (n, T)}``."""
        n = min(n_draws, self.n_draws)
        times = np.unique(np.asarray(times, dtype=float))
        if times.size == 0 or times[0] < self.t0:
            raise ValueError(f"times={times.tolist()} must be non-empty and >= the first observation day {self.t0:g}")
        draws = self.draws(n)
        preds = self.model.observe(self._solve(draws, times))
        errors = self.model.errors(self.observables)
        key = jax.random.key(self.settings.seed + 7)
        noisy = {}
        for k, name in enumerate(self.observables):
            noisy[name] = np.asarray(
                jax.vmap(lambda p, f, kk: errors[name].sample(kk, p, f), in_axes=(0, 0, 0))(  # noqa: B023
                    draws, np.asarray(preds[name]), jax.random.split(jax.random.fold_in(key, k), n)
                )
            )
        return times, noisy

    def record_check(self, level: float = PREDICTIVE_LEVEL, n_draws: int = 400) -> pd.DataFrame:
        """Posterior predictive check of the twin's own record (a *model* check, not a sampler
        check): each fitted observation against this posterior's predictive distribution with
        residual error. Columns ``time, observable, value, censored, lo, median, hi, outside`` (the
        ``level`` interval), ``p_value`` (two-sided predictive p-value; one-sided P(y <= limit)
        for a value below detection) and ``z`` (standardised residual; NaN when censored)."""
        rows = [o for o in self.record.observations if o.observable in self.observables]
        rows = [o for o in rows if o.status != "not_evaluable"]
        times, noisy = self._predictive_draws([o.time for o in rows], n_draws)
        out = []
        for o in rows:
            y = noisy[o.observable][:, int(np.searchsorted(times, o.time))]
            lo, mid, hi = np.quantile(y, [(1 - level) / 2, 0.5, (1 + level) / 2])
            below, above = float((y <= o.value).mean()), float((y >= o.value).mean())
            if o.status == "below_detection":
                out.append((o.time, o.observable, o.value, True, lo, mid, hi, bool(lo > o.value), below, np.nan))
            else:
                z = (o.value - y.mean()) / y.std() if y.std() > 0 else np.nan
                outside = bool(o.value < lo or o.value > hi)
                p = min(1.0, 2 * min(below, above))
                out.append((o.time, o.observable, o.value, False, lo, mid, hi, outside, p, z))
        columns = ["time", "observable", "value", "censored", "lo", "median", "hi", "outside", "p_value", "z"]
        return pd.DataFrame(out, columns=columns)

    def _model_problems(self) -> tuple[str, ...]:
        """Why the model does not explain this patient (empty: it does): observations the posterior
        predictive cannot reproduce (p < :data:`MISFIT_P`), too many outside their 90% intervals
        (share > :data:`MISFIT_OUTSIDE_SHARE`, at least 2), the disease pack's own checks
        (:meth:`DiseasePack.model_problems`, e.g. a scan near the model's carrying capacity),
        or a residual error SD whose posterior median exceeds its prior's 95th percentile (the fit
        absorbing misfit as noise)."""
        check = self.record_check()
        problems = []
        for r in check[check.p_value < MISFIT_P].itertuples():
            unit = OBSERVABLES[r.observable]
            problems.append(
                f"day {r.time:g} {r.observable} {r.value:.3g} {unit}: predictive p-value {r.p_value:.3f} (90% interval "
                f"{r.lo:.3g} to {r.hi:.3g}); the model does not explain this observation"
            )
        n_out, n = int(check.outside.sum()), len(check)
        if n_out >= 2 and n_out > MISFIT_OUTSIDE_SHARE * n:
            problems.append(f"{n_out} of {n} observations fall outside their 90% predictive intervals")
        post = self._require_posterior()
        problems += self.pack.model_problems(self.record, post, self.model)
        residual = {p for e in self.model.errors(self.observables).values() for p in e.parameters}
        for name, prior in self.model.priors.items():
            if name in residual and name in post:
                limit = prior.quantile(0.95)
                median = float(np.median(post[name].values))
                if median > limit:
                    problems.append(
                        f"residual error {name} = {median:.3g} {post[name].attrs.get('units', '')} (posterior median) "
                        f"exceeds its prior's 95th percentile {limit:.3g}: the fit explains the data as noise"
                    )
        if problems:
            problems.append("the model does not explain this patient: treat its forecasts with caution")
        return tuple(problems)

    def record_response(self) -> RecordResponse:
        """The disease's response criteria applied to the record itself (the pack's
        :meth:`~twin.diseases.DiseasePack.record_response`; RECIST 1.1 for EGFR NSCLC): has the
        patient already progressed?"""
        return self.pack.record_response(self.record)

    # --- what-if --------------------------------------------------------------------------------
    def compare(
        self, regimens: Sequence | None = None, *, days: int = 728, n_draws: int = 200, seed: int | None = None,
        primary: str | None = None, dose_penalty_per_g: float = 0.0, toxicity_penalty_days: float = 0.0,
    ) -> Comparison:  # fmt: skip
        """Simulate ``regimens`` (default the pack's standard regimens; EGFR NSCLC: the five of
        :mod:`twin.diseases.egfr_nsclc.regimens`) from the decision day for ``days`` days (a multiple of the pack's scan
        interval) on ``n_draws`` posterior draws; rank them by ``primary`` (default the pack's;
        ``scenarios.summarise``: restricted mean to the horizon; ``scenarios.verdict``). EGFR NSCLC's
        default, the time until the tumour volume doubles from the
        decision day (+26% in diameter), measures a switch strategy's second line too (RECIST
        ``time_to_progression`` on 8-weekly scans stops a switch regimen at its first
        progression, the switch itself). Adaptive regimens against the pre-treatment burden (the
        standard ``at50``) read each draw's fitted burden at the first dose (the model's burden observable;
        stored as
        ``pretreatment_<burden>``, e.g. ``pretreatment_volume``, its day as ``attrs['pretreatment_day']``);
        ``attrs['adaptive_baseline']`` says in words what each adaptive regimen's baseline is.

        ``toxicity_penalty_days``: days of restricted mean subtracted per unit of relative exposure
        above the label dose (each drug's mean daily dose over the horizon / its label dose per day
        from the pack, :meth:`DiseasePack.label_daily_mg`, the excess over 1; ``scenarios.summarise``); the
        table ranks by restricted mean minus that penalty and shows it as ``toxicity penalty
        (days)``. Default 0: no penalty."""

        import scenarios as sc
        from mechanistic import longest_diameter as m_diameter
        from twin.formatting import short_regimen

        pack = self.pack
        primary = pack.primary if primary is None else primary
        if not (isinstance(days, (int, np.integer)) and days > 0 and days % pack.scan_every == 0):
            raise ValueError(
                f"days={days!r} must be a positive multiple of {pack.scan_every} (the scan interval, days)"
            )
        sc.check_penalties(dose_penalty_per_g=dose_penalty_per_g, toxicity_penalty_days=toxicity_penalty_days)
        regimens = pack.standard_regimens(days) if regimens is None else list(regimens)
        draws = self.draws(n_draws)
        # the pre-treatment burden (adaptive regimens' clinical baseline): each draw's volume at the first dose
        # (at the first observation if dosing began before it; on the decision day if the record has no doses)
        first_dose = min((d.time for d in self.record.doses), default=None)
        start_day = float(self.now) if first_dose is None else max(float(first_dose), self.t0)
        states = self._solve(draws, np.unique([start_day, self.now]))  # (n, 1 or 2, n_states)
        burden, unit = self.model.burden, self.model.observables[self.model.burden]
        now = states[:, -1, :]
        pretreatment = np.asarray(self.model.observe(states[:, 0, :])[burden])
        response = self.record_response()
        rescale = response.progressed_now and response.observed_burden is not None
        if rescale:  # start from the observed burden: the fit may lag a progression
            fitted = np.asarray(self.model.observe(now)[burden])[:, None]
            now = now * (response.observed_burden / fitted)
        model = self.model.with_drugs(d for r in regimens for d in r.drugs)  # any drug with PK the regimens give
        seed = self.settings.seed if seed is None else seed
        ds = sc.compare(
            model, draws, regimens, days, key=jax.random.key(seed), initial_state=now, scan_every=pack.scan_every,
            options=model.solver_options(), pretreatment=pretreatment,
        )  # fmt: skip
        ds.attrs["start_day"] = float(self.now)
        ds.attrs["patient_id"] = self.record.patient_id
        ds.attrs["primary"] = primary
        ds.attrs["record_response"] = response.text
        ds.attrs["start_state"] = (
            "each draw's state scaled to the observed burden of the last assessment (the record shows progression)"
            if rescale
            else "each posterior draw's fitted state on the decision day"
        )
        # the rules that hold and resume against a baseline (a switch at progression reads its own nadir)
        baselines = {r.baseline for r in regimens if isinstance(r.policy, sc.ThresholdAdaptive)}
        if baselines:
            ds.attrs["pretreatment_day"] = start_day
            when = (
                "the decision day: the record has no doses" if first_dose is None
                else "the first dose" if start_day == first_dose
                else f"the first observation; dosing began on day {first_dose:g}, before it"
            )  # fmt: skip
            value = float(np.median(pretreatment))
            what = "tumour volume" if burden == "volume" else burden
            shown = f"{value:.3g} {unit}" + (f" ({float(m_diameter(value)):.3g} mm)" if burden == "volume" else "")
            lines = []
            if "pretreatment" in baselines:
                lines.append(
                    f"adaptive regimens 'against the pre-treatment burden' hold and resume relative to each posterior "
                    f"draw's fitted {what} on day {start_day:g} ({when}): median {shown}"
                )
            if "first_decision" in baselines:
                lines.append(
                    "adaptive regimens 'against the burden at the regimen's start' hold and resume relative to each "
                    f"draw's burden on the decision day (day {self.now:g})"
                )
            ds.attrs["adaptive_baseline"] = "Adaptive baseline: " + "; ".join(lines) + "."
        ds.attrs["toxicity_penalty_days"] = float(toxicity_penalty_days)
        labels = pack.label_daily_mg(model.drugs)
        table = sc.summarise(ds, primary=primary, dose_penalty_per_g=dose_penalty_per_g,
                             toxicity_penalty_days=toxicity_penalty_days, label_daily_mg=labels)  # fmt: skip
        flags = {str(r): pack.above_label(r) for r in regimens}
        table["above label dose"] = ["; ".join(flags[r]) for r in table.regimen]
        names = {str(r): short_regimen(str(r)) + (" (above label dose)" if flags[str(r)] else "") for r in regimens}
        return Comparison(ds, table, sc.verdict(ds, table, primary, names=names))

    def simulate(self, regimen, *, days: int = 728, n_draws: int = 200, seed: int | None = None) -> xr.Dataset:
        """One regimen from the decision day: :meth:`compare` of one (dims regimen, draw, time)."""
        return self.compare([regimen], days=days, n_draws=n_draws, seed=seed).dataset

    # --- the living twin ------------------------------------------------------------------------
    def check(self, new: PatientRecord, level: float = PREDICTIVE_LEVEL) -> pd.DataFrame:
        """Each of ``new``'s observations after the decision day against this twin's predictive
        interval (this posterior, under the doses given up to then, ``new``'s included): columns
        ``time, observable, value, censored, lo, median, hi, outside``. A value
        below detection is outside when even the interval's lower end is above its limit."""
        rows = [o for o in new.observations if o.time > self.now and o.observable in self.observables]
        rows = [o for o in rows if o.status != "not_evaluable"]
        columns = ["time", "observable", "value", "censored", "lo", "median", "hi", "outside"]
        if not rows:
            return pd.DataFrame(columns=columns)
        given = replace(self, record=self.record.merge(new))  # this posterior, the doses actually given since
        pi = given.predictive_interval(sorted({o.time for o in rows}), level).set_index(["time", "observable"])
        out = []
        for o in rows:
            lo, mid, hi = pi.loc[(o.time, o.observable), ["lo", "median", "hi"]]
            censored = o.status == "below_detection"
            outside = bool(lo > o.value) if censored else bool(o.value < lo or o.value > hi)
            out.append((o.time, o.observable, o.value, censored, lo, mid, hi, outside))
        return pd.DataFrame(out, columns=columns)

    def update(self, new: PatientRecord, *, warmup: int = 200) -> Update:
        """Add ``new``'s rows (e.g. the next scan; :meth:`PatientRecord.merge`), check them against
        this twin's 90% predictive interval, and refit, warm-started from this posterior."""
        self._require_posterior()
        checks = self.check(new)
        merged = self.record.merge(new)
        _check_drugs(merged, self.model)
        twin = replace(self, record=merged)
        key = jax.random.fold_in(jax.random.key(self.settings.seed), len(self.log) + 1)
        if self.warm is None:  # Laplace: a new MAP and Laplace fit
            twin = twin.calibrate()
        else:
            twin = twin._fit(self.settings, key, warm=self.warm, warmup=warmup)
        entry = {"day": float(self.now), "new_day": float(twin.now), "checks": checks.to_dict(orient="list")}
        twin = replace(twin, log=(*self.log, entry))
        return Update(twin, checks, bool(checks["outside"].any()) if len(checks) else False)

    # --- persistence ----------------------------------------------------------------------------
    def to_dataset(self) -> xr.Dataset:
        """Everything the twin holds as one ``xarray.Dataset`` (what :meth:`save` writes)."""
        ds = self.posterior.copy() if self.posterior is not None else xr.Dataset()
        attrs = {
            "twin_format_version": FORMAT_VERSION,
            "patient_id": self.record.patient_id,
            "record": json.dumps(self.record.to_dict()),
            "model": self.model.to_json(),
            "settings": json.dumps(self.settings._asdict()),
            "diagnostics": json.dumps(list(self.diagnostics)),
            "model_check": json.dumps(list(self.model_check)),
            "log": json.dumps(list(self.log)),
            "versions": json.dumps(dict(self.versions)),
            "pack": self.pack.name,
            "pack_version": self.pack.version,
        }
        if self.warm is not None:
            warm = self.warm.to_dataset()
            ds = ds.merge(warm)
            attrs |= warm.attrs
        ds.attrs = attrs
        return ds

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> DigitalTwin:
        version = ds.attrs.get("twin_format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"twin_format_version={version!r}: this version of twin reads version {FORMAT_VERSION}")
        record = PatientRecord.from_dict(json.loads(ds.attrs["record"]))
        pack = get_pack(ds.attrs.get("pack", DEFAULT_PACK))  # twins saved before packs are EGFR NSCLC
        saved = ds.attrs.get("pack_version", pack.version)
        if saved != pack.version:
            warnings.warn(
                f"this twin was saved with version {saved!r} of the {pack.name!r} pack; this is version "
                f"{pack.version!r}: its posterior was fitted under the older pack's model and priors",
                UserWarning,
                stacklevel=3,
            )
        posterior_vars = [v for v in ds.data_vars if not str(v).startswith("warm_")]
        posterior = ds[posterior_vars].drop_vars([c for c in ds.coords if c not in ("chain", "draw")])
        posterior.attrs = {}
        if "diverging" in posterior:
            posterior["diverging"] = posterior["diverging"].astype(bool)
        return cls(
            record=record,
            model=pack.model_from_json(ds.attrs["model"]),
            settings=Settings(**json.loads(ds.attrs["settings"])),
            posterior=posterior if posterior_vars else None,
            warm=WarmStart.from_dataset(ds),
            diagnostics=tuple(json.loads(ds.attrs["diagnostics"])),
            model_check=tuple(json.loads(ds.attrs.get("model_check", "[]"))),
            log=tuple(json.loads(ds.attrs["log"])),
            versions=json.loads(ds.attrs["versions"]),
            pack=pack,
        )

    def save(self, path: str | Path) -> Path:
        """Write the twin to a NetCDF-4 file (h5netcdf); :meth:`load` reads it back exactly. The
        file is written beside ``path`` first and then moved over it, so an interrupted save never
        leaves a half-written twin."""
        import os
        import tempfile

        path = Path(path)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
        try:
            self.to_dataset().to_netcdf(tmp, engine="h5netcdf")
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return path

    def previous_version_path(self, path: str | Path) -> Path:
        """Where the CLI keeps this twin's file before an update replaces it: ``ID.twin.nc`` ->
        ``ID.dayN.twin.nc`` (N: this twin's decision day)."""
        path = Path(path)
        tag = f".day{self.now:g}"
        if path.name.endswith(".twin.nc"):
            return path.with_name(path.name[: -len(".twin.nc")] + tag + ".twin.nc")
        return path.with_name(path.stem + tag + path.suffix)

    @classmethod
    def load(cls, path: str | Path, *, pack: str | None = None) -> DigitalTwin:
        """The twin saved at ``path``; with ``pack``, refuse a twin of another disease pack (naming both)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no twin file at {path}")
        try:
            with xr.open_dataset(path, engine="h5netcdf") as ds:
                ds = ds.load()
        except OSError as e:
            raise ValueError(f"{path} is not a twin file (NetCDF-4 written by DigitalTwin.save): {e}") from None
        if "twin_format_version" not in ds.attrs:
            raise ValueError(f"{path} is a NetCDF file but not a saved twin (no twin_format_version attribute)")
        saved = ds.attrs.get("pack", DEFAULT_PACK)
        if pack is not None and saved != get_pack(pack).name:
            raise ValueError(f"{path} holds a twin of the {saved!r} disease pack; expected the {pack!r} pack")
        return cls.from_dataset(ds)

    # --- reading --------------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """Posterior median and 90% interval of each free parameter, with units."""
        post = self._require_posterior()
        rows = []
        for k in self.free_parameters:
            lo, mid, hi = np.quantile(post[k].values, [0.05, 0.5, 0.95])
            rows.append({"parameter": k, "units": post[k].attrs.get("units", ""), "median": mid, "lo": lo, "hi": hi})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        r = self.record
        kinds = {}
        for o in r.observations:
            kinds[o.observable] = kinds.get(o.observable, 0) + 1
        obs = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "no observations"
        drugs = ", ".join(f"{sum(d.drug == name for d in r.doses)} {name} doses" for name in r.drugs) or "no doses"
        calls = ", ".join(f"{m.gene} {m.variant} {m.vaf:.1%}" for m in r.mutations) or "no mutations"
        lines = [
            f"DigitalTwin of patient {r.patient_id!r} ({calls}); {self.pack.title}",
            f"  record: {obs} (days {self.t0:g} to {self.now:g}); {drugs}",
            f"  model: clones {', '.join(self.model.clones)}; drugs {', '.join(self.model.drugs)}",
        ]
        if self.model.ignored:
            lines.append(f"  not modelled: {'; '.join(self.model.ignored)}")
        if self.posterior is None:
            lines.append("  not calibrated: call .calibrate()")
        else:
            s = self.settings
            how = f"NUTS, {s.chains} chains x {s.samples} draws" if s.method == "nuts" else (
                f"Laplace approximation at the MAP, {s.chains * s.samples} draws")  # fmt: skip
            lines.append(
                f"  posterior: {how} (seed {s.seed}); "
                + (
                    "sampler diagnostics passed"
                    if not self.diagnostics
                    else f"SAMPLER DIAGNOSTICS FAILED: {self.diagnostics[0]}"
                )
            )
            lines.append(
                "  model check (the record against the posterior predictive): "
                + ("passed" if not self.model_check else f"FAILED: {self.model_check[-1]}; {self.model_check[0]}")
            )
            for row in self.summary().itertuples():
                lines.append(
                    f"    {row.parameter} = {row.median:.3g}{'' if row.units == '1' else ' ' + row.units} "
                    f"(90% CI {row.lo:.3g} to {row.hi:.3g})"
                )
        lines.append(f"  {self.pack.response_criteria} of the record: {self.record_response().text}")
        lines.append(f"  decision day: {self.now:g}" + (f"; {len(self.log)} update(s)" if self.log else ""))
        return "\n".join(lines)


def _check_drugs(record: PatientRecord, model) -> None:
    unknown = [d for d in record.drugs if d not in model.drugs]
    if unknown:
        raise ValueError(f"patient {record.patient_id!r} was given {unknown}; the twin models {model.drugs}")


def _check_settings(s: Settings) -> None:
    if s.method not in METHODS:
        raise ValueError(f"method={s.method!r} is not one of {METHODS}")
    for name in ("chains", "warmup", "samples"):
        v = getattr(s, name)
        if not (isinstance(v, (int, np.integer)) and v >= 1):
            raise ValueError(f"{name}={v!r} must be a whole number >= 1")
    if not (isinstance(s.seed, (int, np.integer)) and s.seed >= 0):
        raise ValueError(f"seed={s.seed!r} must be a whole number >= 0")
    if s.init not in INITS:
        raise ValueError(f"init={s.init!r} is not one of {INITS}")
    if not 0 < s.target_accept < 1:
        raise ValueError(f"target_accept={s.target_accept!r} must be in (0, 1)")


@eqx.filter_jit
def _solve_history(model, batch, times, inputs):
    """Clone volumes ``(n, T, n_clones)`` and success flags ``(n,)`` per draw (compiled once per
    model, number of draws and padded sizes of times and inputs)."""

    def one(p):
        sol = model.solve(p, times, inputs)
        return sol.clones, sol.ok

    return jax.vmap(one)(batch)
