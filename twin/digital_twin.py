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

import functools
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

from inference.fit import WarmStart
from twin.flagship import TwinModel
from twin.record import OBSERVABLES, PatientRecord

FORMAT_VERSION = 1
FIT_OBSERVABLES = ("diameter", "resistant_fraction")
PREDICTIVE_LEVEL = 0.90
PRIMARY = "time_to_2x_baseline"  # the ranking endpoint of compare (scenarios.compare endpoints)
TOO_SMALL_MM = 5.0  # RECIST 1.1 default diameter of a lesion too small to measure (Eisenhauer et al. 2009)
MISFIT_P = 0.01  # an observation with a smaller posterior predictive p-value is not explained
MISFIT_OUTSIDE_SHARE = 0.25  # more of the record outside its 90% predictive intervals is a misfit
CAPACITY_WARNING = 0.8  # a scan above this share of the capacity's diameter is near a modelled limit


METHODS = ("nuts", "laplace")
INITS = ("laplace", "prior")


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
    label doses), and ``above label dose`` (what exceeds the label, ``twin.regimens.above_label``;
    empty when nothing does); ``verdict``:
    ``scenarios.verdict``, the ranking in one sentence (short regimen names)."""

    dataset: xr.Dataset
    table: pd.DataFrame
    verdict: object  # scenarios.Verdict (scenarios is imported lazily)


class RecordResponse(NamedTuple):
    """RECIST 1.1 read from the record's own diameters (one lesion; a value below detection counts
    as 5 mm, RECIST's default for a lesion too small to measure). ``scans``: DataFrame ``time,
    diameter, category`` (CR/PR/SD/PD; NE for the baseline); ``progressed_on``: the day of the first
    PD scan or None; ``progressed_now``: the last scan is PD; ``text``: one sentence."""

    scans: pd.DataFrame
    progressed_on: float | None
    progressed_now: bool
    text: str


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
    model: TwinModel
    settings: Settings = Settings()
    posterior: xr.Dataset | None = None  # dims (chain, draw): free parameters, 'diverging'
    warm: WarmStart | None = field(default=None, repr=False)  # where NUTS ended (None after Laplace)
    diagnostics: tuple[str, ...] = ()  # failed sampler checks (empty: all passed)
    model_check: tuple[str, ...] = ()  # the record's posterior predictive check failed (empty: passed)
    log: tuple[dict, ...] = ()  # earlier updates: day, checks
    versions: Mapping[str, str] = field(default_factory=_versions)

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def from_record(cls, record: PatientRecord, model: TwinModel | None = None) -> DigitalTwin:
        """The twin of ``record`` with the flagship model personalised by its mutations (or ``model``)."""
        if not isinstance(record, PatientRecord):
            raise TypeError(f"record must be a twin.PatientRecord, got {type(record).__name__}")
        if model is None:
            from mechanistic.egfr_network import EGFR_DRUG_PK

            model = TwinModel.from_mutations(record.mutations)
            model = model.with_drugs(d for d in record.drugs if d in EGFR_DRUG_PK)  # drugs the patient was given
        _check_drugs(record, model)
        return cls(record, model)

    @property
    def calibrated(self) -> bool:
        return self.posterior is not None

    @property
    def observables(self) -> tuple[str, ...]:
        return tuple(o for o in FIT_OBSERVABLES if o in self.record.observables)

    @property
    def t0(self) -> float:
        """Day of the first observation: the model starts there (``volume0`` is the burden then)."""
        return min(o.time for o in self.record.observations)

    @property
    def now(self) -> float:
        """The decision day: the last observation (day)."""
        return max(o.time for o in self.record.observations)

    # --- calibration ----------------------------------------------------------------------------
    def _numpyro_model(self):
        """``(model, data)``: the numpyro model of the record and its padded data (model_args)."""
        from inference.patient_model import patient_model_and_data

        if not self.observables:
            raise ValueError(
                f"patient {self.record.patient_id!r} has no {' or '.join(FIT_OBSERVABLES)} observations to fit"
            )
        obs = self.record.to_observations(observables=self.observables)
        inputs = self._solve_inputs(obs.times)
        errors = self.model.errors(self.observables)
        _, data = patient_model_and_data(self.model.observables_at, self.model.spec(), obs, errors, inputs)
        return _likelihood(self.model, tuple(self.observables)), data

    def _solve_inputs(self, times):
        return self.model.solve_inputs(self.record.to_dose_table(), times, t0=self.t0)

    def calibrate(
        self, *, method: str | None = None, seed: int | None = None, chains: int | None = None,
        warmup: int | None = None, samples: int | None = None, target_accept: float | None = None,
        dense_mass: bool | None = None, init: str | None = None,
    ) -> DigitalTwin:  # fmt: skip
        """Bayesian calibration (:class:`Settings`; unset arguments keep the twin's). NUTS problems
        (R-hat > 1.01, bulk or tail ESS < 100 per chain, divergences; :func:`inference.diagnose`)
        and a MAP that did not converge warn and are kept in ``diagnostics``."""
        from inference.fit import nuts, warm_start

        given = {"method": method, "seed": seed, "chains": chains, "warmup": warmup, "samples": samples,
                 "target_accept": target_accept, "dense_mass": dense_mass, "init": init}  # fmt: skip
        settings = self.settings._replace(**{k: v for k, v in given.items() if v is not None})
        _check_settings(settings)
        model, data = self._numpyro_model()
        key = jax.random.key(settings.seed)
        if settings.method == "laplace":
            fit, problems = _map(model, data, key)
            draws = _laplace_draws(model, data, fit, key, settings.chains * settings.samples, unconstrained=False)
            shape = (settings.chains, settings.samples)
            samples = {k: np.asarray(v).reshape(shape) for k, v in draws.items() if k in self.model.priors}
            posterior = _posterior(samples, self.model.units())
            twin = replace(self, settings=settings, posterior=posterior, warm=None, diagnostics=tuple(problems))
            return twin._with_model_check()
        starts = _laplace_starts(model, data, key, settings.chains) if settings.init == "laplace" else None
        mcmc = nuts(
            model,
            key,
            model_args=(data,),
            chains=settings.chains,
            warmup=settings.warmup,
            samples=settings.samples,
            target_accept=settings.target_accept,
            dense_mass=settings.dense_mass,
            init_unconstrained=starts,
        )
        return self._with_run(mcmc, settings, warm_start(mcmc))

    def _with_model_check(self) -> DigitalTwin:
        from inference.fit import CalibrationWarning

        problems = self._model_problems()
        for p in problems:
            warnings.warn(p, CalibrationWarning, stacklevel=4)
        return replace(self, model_check=problems)

    def _with_run(self, mcmc, settings: Settings, ws) -> DigitalTwin:
        from inference.fit import diagnose

        samples = dict(mcmc.get_samples(group_by_chain=True))
        samples["diverging"] = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["diverging"], dtype=bool)
        posterior = _posterior(samples, self.model.units())
        problems = diagnose(_as_inference_data(posterior), min_ess=100.0 * settings.chains, warn=True).problems
        twin = replace(self, settings=settings, posterior=posterior, warm=ws, diagnostics=tuple(problems))
        return twin._with_model_check()

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
        """Clone volumes ``(n, T, n_clones)`` at ``times`` under the doses given, per draw."""
        import jax.numpy as jnp

        import mechanistic as m

        batch = {k: jnp.asarray(v, dtype=float) for k, v in draws.items()}
        padded = jnp.asarray(m.pad_repeating_last(times))
        clones, ok = _solve_history(self.model, batch, padded, self._solve_inputs(times))
        clones = clones[:, : len(times)]
        ok = np.asarray(ok)
        if not ok.all():
            raise m.SolveError(f"{(~ok).sum()} of {len(ok)} posterior draws failed to solve the patient's history")
        return np.asarray(clones)

    def history(self, n_draws: int = 200, points: int = 121) -> xr.Dataset:
        """Posterior predictive fit of the past: ``diameter`` (mm), ``volume`` (mm^3) and
        ``resistant_fraction`` (1), dims ``(draw, time)`` on ``points`` days from the first
        observation to the decision day (no residual noise: the model's trajectory)."""
        times = np.linspace(self.t0, self.now, points)
        clones = self._solve(self.draws(n_draws), times)
        obs = self.model.observe(clones)
        units = {"diameter": "mm", "volume": "mm^3", "resistant_fraction": "1"}
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
        (share > :data:`MISFIT_OUTSIDE_SHARE`, at least 2), a scan near the model's carrying
        capacity (above :data:`CAPACITY_WARNING` of the diameter of its 5th posterior percentile),
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
        diameters = [o.value for o in self.record.observations if o.observable == "diameter" and o.status == "measured"]
        if "capacity" in post:  # free: its lower 5% posterior quantile
            capacity, which = float(np.quantile(post["capacity"].values, 0.05)), "5th posterior percentile of the "
        else:  # fixed in models saved before it had a prior
            capacity, which = self.model.fixed.get("capacity"), ""
        if capacity is not None and diameters:
            cap_mm = (6.0 * capacity / np.pi) ** (1 / 3)
            if max(diameters) > CAPACITY_WARNING * cap_mm:
                problems.append(
                    f"the largest scan ({max(diameters):.3g} mm) is {max(diameters) / cap_mm:.0%} of the diameter of "
                    f"the {which}model's carrying capacity ({capacity:.3g} mm^3, {cap_mm:.3g} mm): its forecasts are "
                    "shaped by that limit"
                )
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
        """RECIST 1.1 of the record itself (:class:`RecordResponse`): has the patient already
        progressed? Baseline: the first diameter; PD: +20% and +5 mm over the nadir."""
        from scenarios.endpoints import RESPONSE_NAMES, recist

        scans = sorted(
            (o.time, TOO_SMALL_MM if o.status == "below_detection" else o.value)
            for o in self.record.observations
            if o.observable == "diameter" and o.status != "not_evaluable"
        )
        frame = pd.DataFrame(scans, columns=["time", "diameter"])
        if len(frame) < 2:
            frame["category"] = "NE"
            return RecordResponse(frame, None, False, "fewer than two diameter scans: no RECIST assessment")
        codes = np.asarray(recist(np.asarray(frame.diameter, dtype=float)))
        frame["category"] = [RESPONSE_NAMES[c] for c in codes]
        pd_days = frame.time[frame.category == "PD"]
        first = float(pd_days.iloc[0]) if len(pd_days) else None
        now = frame.category.iloc[-1] == "PD"
        nadir = frame.diameter.iloc[:-1].min()
        if now:
            last = frame.diameter.iloc[-1]
            text = (
                f"the record meets RECIST progression at day {frame.time.iloc[-1]:g}: {last:.3g} mm is "
                f"{100 * (last / nadir - 1):+.0f}% and {last - nadir:+.3g} mm over the nadir {nadir:.3g} mm"
            )
        elif first is not None:
            text = f"the record met RECIST progression at day {first:g}; the last scan is {frame.category.iloc[-1]}"
        else:
            text = f"no RECIST progression in the record; the last scan is {frame.category.iloc[-1]}"
        return RecordResponse(frame, first, bool(now), text)

    # --- what-if --------------------------------------------------------------------------------
    def compare(
        self, regimens: Sequence | None = None, *, days: int = 728, n_draws: int = 200, seed: int | None = None,
        primary: str = PRIMARY, dose_penalty_per_g: float = 0.0, toxicity_penalty_days: float = 0.0,
    ) -> Comparison:  # fmt: skip
        """Simulate ``regimens`` (default the standard five, :mod:`twin.regimens`) from the decision
        day for ``days`` days on ``n_draws`` posterior draws; rank them by ``primary``
        (``scenarios.summarise``: restricted mean to the horizon; ``scenarios.verdict``). The
        default, the time until the tumour volume doubles from the
        decision day (+26% in diameter), measures a switch strategy's second line too (RECIST
        ``time_to_progression`` on 8-weekly scans stops a switch regimen at its first
        progression, the switch itself). Adaptive regimens against the pre-treatment burden (the
        standard ``at50``) read each draw's fitted tumour volume at the first dose (mm^3; stored as
        ``pretreatment_volume``, its day as ``attrs['pretreatment_day']``);
        ``attrs['adaptive_baseline']`` says in words what each adaptive regimen's baseline is.

        ``toxicity_penalty_days``: days of restricted mean subtracted per unit of relative exposure
        above the label dose (each drug's mean daily dose over the horizon / its label dose per day
        in :data:`twin.dose_limits.DOSE_LIMITS`, the excess over 1; ``scenarios.summarise``); the
        table ranks by restricted mean minus that penalty and shows it as ``toxicity penalty
        (days)``. Default 0: no penalty."""

        import scenarios as sc
        from mechanistic import longest_diameter as m_diameter
        from twin.dose_limits import DOSE_LIMITS
        from twin.formatting import short_regimen
        from twin.regimens import SCAN_EVERY, above_label, standard_regimens

        if not (isinstance(days, (int, np.integer)) and days > 0 and days % SCAN_EVERY == 0):
            raise ValueError(f"days={days!r} must be a positive multiple of {SCAN_EVERY} (the scan interval, days)")
        sc.check_penalties(dose_penalty_per_g=dose_penalty_per_g, toxicity_penalty_days=toxicity_penalty_days)
        regimens = standard_regimens(days) if regimens is None else list(regimens)
        draws = self.draws(n_draws)
        # the pre-treatment burden (adaptive regimens' clinical baseline): each draw's volume at the first dose
        # (at the first observation if dosing began before it; on the decision day if the record has no doses)
        first_dose = min((d.time for d in self.record.doses), default=None)
        start_day = float(self.now) if first_dose is None else max(float(first_dose), self.t0)
        clones = self._solve(draws, np.unique([start_day, self.now]))  # (n, 1 or 2, n_clones)
        now, pretreatment = clones[:, -1, :], clones[:, 0, :].sum(axis=1)
        response = self.record_response()
        if response.progressed_now:  # start from the observed burden: the fit may lag a progression
            observed = np.pi * float(response.scans.diameter.iloc[-1]) ** 3 / 6.0  # mm^3, sphere
            now = now * (observed / now.sum(axis=1, keepdims=True))
        model = self.model.with_drugs(d for r in regimens for d in r.drugs)  # any drug with PK the regimens give
        seed = self.settings.seed if seed is None else seed
        ds = sc.compare(
            model, draws, regimens, days, key=jax.random.key(seed), initial_state=now, scan_every=SCAN_EVERY,
            options=model.solver_options(), pretreatment=pretreatment,
        )  # fmt: skip
        ds.attrs["start_day"] = float(self.now)
        ds.attrs["patient_id"] = self.record.patient_id
        ds.attrs["primary"] = primary
        ds.attrs["record_response"] = response.text
        ds.attrs["start_state"] = (
            "each draw's clone shares scaled to the observed burden of the last scan (the record shows progression)"
            if response.progressed_now
            else "each posterior draw's fitted clone volumes on the decision day"
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
            volume = float(np.median(pretreatment))
            lines = []
            if "pretreatment" in baselines:
                lines.append(
                    f"adaptive regimens 'against the pre-treatment burden' hold and resume relative to each posterior "
                    f"draw's fitted tumour volume on day {start_day:g} ({when}): median {volume:.3g} mm^3 "
                    f"({float(m_diameter(volume)):.3g} mm)"
                )
            if "first_decision" in baselines:
                lines.append(
                    "adaptive regimens 'against the burden at the regimen's start' hold and resume relative to each "
                    f"draw's burden on the decision day (day {self.now:g})"
                )
            ds.attrs["adaptive_baseline"] = "Adaptive baseline: " + "; ".join(lines) + "."
        ds.attrs["toxicity_penalty_days"] = float(toxicity_penalty_days)
        labels = {d: DOSE_LIMITS[d].label_per_day_mg for d in model.drugs if d in DOSE_LIMITS}
        table = sc.summarise(ds, primary=primary, dose_penalty_per_g=dose_penalty_per_g,
                             toxicity_penalty_days=toxicity_penalty_days, label_daily_mg=labels)  # fmt: skip
        flags = {str(r): above_label(r) for r in regimens}
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
        from inference.fit import update, warm_start

        self._require_posterior()
        checks = self.check(new)
        merged = self.record.merge(new)
        _check_drugs(merged, self.model)
        twin = replace(self, record=merged)
        key = jax.random.fold_in(jax.random.key(self.settings.seed), len(self.log) + 1)
        if self.warm is None:  # Laplace: a new MAP and Laplace fit
            twin = twin.calibrate()
        else:
            model, data = twin._numpyro_model()
            mcmc = update(model, self.warm, key, warmup=warmup, samples=self.settings.samples,
                          target_accept=self.settings.target_accept, model_args=(data,))  # fmt: skip
            twin = twin._with_run(mcmc, self.settings, warm_start(mcmc))
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
        posterior_vars = [v for v in ds.data_vars if not str(v).startswith("warm_")]
        posterior = ds[posterior_vars].drop_vars([c for c in ds.coords if c not in ("chain", "draw")])
        posterior.attrs = {}
        if "diverging" in posterior:
            posterior["diverging"] = posterior["diverging"].astype(bool)
        return cls(
            record=record,
            model=TwinModel.from_json(ds.attrs["model"]),
            settings=Settings(**json.loads(ds.attrs["settings"])),
            posterior=posterior if posterior_vars else None,
            warm=WarmStart.from_dataset(ds),
            diagnostics=tuple(json.loads(ds.attrs["diagnostics"])),
            model_check=tuple(json.loads(ds.attrs.get("model_check", "[]"))),
            log=tuple(json.loads(ds.attrs["log"])),
            versions=json.loads(ds.attrs["versions"]),
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
    def load(cls, path: str | Path) -> DigitalTwin:
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
            f"DigitalTwin of patient {r.patient_id!r} ({calls})",
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
        lines.append(f"  RECIST of the record: {self.record_response().text}")
        lines.append(f"  decision day: {self.now:g}" + (f"; {len(self.log)} update(s)" if self.log else ""))
        return "\n".join(lines)


@functools.lru_cache(maxsize=16)
def _likelihood(model: TwinModel, observables: tuple[str, ...]):
    """The numpyro model of ``model`` fitted to ``observables``, built once and shared by every
    patient with an equal personalised model (``inference.likelihood_model``: the fits take it as a
    static argument, so a new function object per patient would trace them again; the record
    enters as data)."""
    from inference.patient_model import likelihood_model

    return likelihood_model(model.observables_at, model.spec(), model.errors(observables))


def _map(model, data, key) -> tuple:
    """``(MapResult, problems)``: the MAP (2 L-BFGS starts) and its warnings as lines (re-warned)."""
    from inference.fit import CalibrationWarning, map_estimate

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CalibrationWarning)
        fit = map_estimate(model, key, model_args=(data,), restarts=2)
    problems = [str(w.message) for w in caught if issubclass(w.category, CalibrationWarning)]
    for p in problems:
        warnings.warn(p, CalibrationWarning, stacklevel=4)
    return fit, problems


def _laplace_starts(model, data, key, chains: int) -> dict | None:
    """One start per NUTS chain ``{site: (chains,)}`` (unconstrained) from the Laplace
    approximation at the MAP; None (numpyro's default starts) where the Hessian there is not
    positive definite. The MAP's own warnings are not shown: NUTS is checked by its diagnostics."""
    from inference.fit import CalibrationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        fit, _ = _map(model, data, key)
    try:
        return _laplace_draws(model, data, fit, key, chains, unconstrained=True)
    except ValueError:
        return None


def _laplace_draws(model, data, fit, key, n: int, *, unconstrained: bool) -> dict:
    """``n`` draws ``{site: (n,)}`` of the Laplace approximation at ``fit``."""
    from inference.fit import laplace

    draw_key = jax.random.fold_in(key, 1)
    return laplace(model, fit, draw_key, model_args=(data,), num_samples=n, unconstrained=unconstrained)


def _check_drugs(record: PatientRecord, model: TwinModel) -> None:
    unknown = [d for d in record.drugs if d not in model.drugs]
    if unknown:
        raise ValueError(f"patient {record.patient_id!r} was given {unknown}; the twin models {model.drugs}")


def _posterior(samples: Mapping[str, np.ndarray], units: Mapping[str, str]) -> xr.Dataset:
    """Draws ``{name: (chain, draw)}`` as a Dataset, each variable with its unit (none for sampler fields)."""
    chains, draws = np.shape(next(iter(samples.values())))
    data = {
        k: (("chain", "draw"), np.asarray(v), {"units": units[k]} if k in units else {}) for k, v in samples.items()
    }
    return xr.Dataset(data, coords={"chain": np.arange(chains), "draw": np.arange(draws)})


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


def _as_inference_data(posterior: xr.Dataset):
    from inference.fit import import_arviz

    az = import_arviz()
    params = posterior.drop_vars("diverging")
    return az.InferenceData(posterior=params, sample_stats=posterior[["diverging"]])


@eqx.filter_jit
def _solve_history(model: TwinModel, batch, times, inputs):
    """Clone volumes ``(n, T, n_clones)`` and success flags ``(n,)`` per draw (compiled once per
    model, number of draws and padded sizes of times and inputs)."""

    def one(p):
        sol = model.solve(p, times, inputs)
        return sol.clones, sol.ok

    return jax.vmap(one)(batch)
