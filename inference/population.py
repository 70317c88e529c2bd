"""Hierarchical population model: log-normal (or logit-normal) random effects over a cohort, with
covariates on the typical values, vmapped over patients; its posterior becomes a new patient's prior.

For each ``individual`` parameter ``p`` of the :class:`~inference.parameters.ParameterSpec`, on
the scale of its constraint's transform ``T`` (log for positive, logit for unit_interval,
identity for real), patient ``i`` has

    T(p_i) = T(p_typical) + sum_c beta_{p,c} (x_{i,c} - mean_c) + omega_p * eta_{p,i},  eta ~ N(0, 1)

(non-centred, which keeps NUTS free of funnels when patients have few scans; ``centred=True``
samples ``T(p_i)`` directly, better when each has many; ``centred=("p", ...)`` does so for the
named parameters only, for those the data pin down in every patient). ``p_typical`` is drawn from ``p``'s prior,
``omega_p`` from its ``omega`` prior, each ``beta`` from Normal(0, 1). ``population``
parameters (e.g. the residual SD) are shared. Sample sites: ``p`` (typical value),
``omega_p``, ``beta_p_c``, ``eta_p`` or ``z_p`` (patient plate) and the deterministic ``p_individual``
(one value per patient, in ``Cohort.patients`` order).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from inference.observations import Observations
from inference.parameters import Parameter, ParameterSpec
from inference.patient_model import Predict, check_error_models, check_family, check_values
from mechanistic.constraints import individual_values, transform
from mechanistic.dosing import DoseTable
from mechanistic.family import ModelFamily
from mechanistic.measurement import ErrorModel
from mechanistic.precision import require_float64


@dataclass(frozen=True)
class Cohort:
    """Many patients' observations padded to common shapes (``n`` patients, ``T`` times, ``R``
    rows per observable). ``times`` (n, T) day, each row sorted and padded with its last time;
    ``groups[observable] = (index (n, R) into times, value, censored, mask)``; ``covariates``
    name -> (n,) values and ``centres`` name -> the cohort mean they are centred on."""

    patients: tuple[str, ...]
    times: np.ndarray
    groups: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    units: Mapping[str, str]
    covariates: Mapping[str, np.ndarray]
    centres: Mapping[str, float]

    def __len__(self) -> int:
        return len(self.patients)

    @classmethod
    def from_observations(
        cls, observations: Sequence[Observations], covariates: Mapping[str, Sequence[float]] | None = None
    ) -> Cohort:
        """Pad a list of :class:`Observations` (one per patient); ``covariates``: name -> one
        finite value per patient, in the same order."""
        if not observations:
            raise ValueError("a cohort needs at least one patient")
        patients = tuple(o.patient for o in observations)
        dup = sorted({p for p in patients if patients.count(p) > 1})
        if dup:
            raise ValueError(f"patient ids must be unique within a cohort; repeated: {dup[:5]}")
        units: dict[str, str] = {}
        for o in observations:
            for name in o.observables:
                if units.setdefault(name, o.units[name]) != o.units[name]:
                    raise ValueError(
                        f"patient {o.patient!r}: {name} is in {o.units[name]!r}, earlier patients in {units[name]!r}"
                    )
        n, n_times = len(observations), max(len(o.times) for o in observations)
        times = np.zeros((n, n_times))
        for i, o in enumerate(observations):
            times[i, : len(o.times)] = o.times
            times[i, len(o.times) :] = o.times[-1]
        groups = {}
        for name in units:
            rows = [np.flatnonzero(np.asarray(o.observable) == name) for o in observations]
            width = max(len(r) for r in rows)
            index, value = np.zeros((n, width), int), np.ones((n, width))
            censored, mask = np.zeros((n, width), bool), np.zeros((n, width), bool)
            for i, (o, r) in enumerate(zip(observations, rows, strict=True)):
                index[i, : len(r)] = np.searchsorted(o.times, o.time[r])
                value[i, : len(r)] = o.value[r]
                censored[i, : len(r)] = o.censored[r]
                mask[i, : len(r)] = True
            groups[name] = (index, value, censored, mask)
        covs, centres = {}, {}
        for name, values in (covariates or {}).items():
            x = np.asarray(values, float)
            if x.shape != (n,):
                raise ValueError(f"covariate {name!r} has shape {x.shape}; expected one value per patient ({n},)")
            bad = np.flatnonzero(~np.isfinite(x))
            if bad.size:
                raise ValueError(f"covariate {name!r} is not finite for patient {patients[bad[0]]!r}: {x[bad[0]]}")
            centres[name] = float(x.mean())
            covs[name] = x - centres[name]
        return cls(patients, times, groups, units, covs, centres)


def population_model(
    model: ModelFamily | Predict,
    spec: ParameterSpec,
    cohort: Cohort,
    errors: Mapping[str, ErrorModel],
    effects: Mapping[str, Sequence[str]] | None = None,
    *,
    doses: Sequence[DoseTable] | None = None,
    t0: float | Sequence[float] = 0.0,
    inputs=None,
    centred: bool | Collection[str] = False,
) -> Callable[[], None]:
    """The numpyro model of a cohort.

    ``model``: a :class:`mechanistic.ModelFamily` (``spec`` covers its parameters; the cohort's
    observables are among its observables, in its units), with ``doses`` each patient's
    :class:`~mechanistic.dosing.DoseTable` in ``Cohort.patients`` order given from ``t0`` (day; one
    for all or one per patient), or no doses (None); a family with doses must give them as data
    (:meth:`~mechanistic.ModelFamily.solve_inputs`), stacked by its
    :meth:`~mechanistic.ModelFamily.stack_inputs`, so one compiled program serves the cohort.
    Or a single-patient function ``predict(params, times) -> {observable: (T,)}`` as for
    :func:`~inference.patient_model` (e.g. a closed-form model), with ``inputs``: per-patient data
    other than parameters (e.g. each one's dose amounts and times), a pytree of arrays with leading
    axis ``n`` in ``Cohort.patients`` order; ``predict`` is then called as
    ``predict(params, times, inputs_i)``. Either is vmapped over patients.
    ``effects``: individual parameter -> covariate names acting on its typical value.
    ``centred``: sample ``T(p_i)`` directly (site ``z_p``) instead of ``eta``; better for NUTS when
    every patient has many informative measurements, worse (funnels) when they have few. ``True``:
    every individual parameter; a collection of names: those only (the others non-centred), e.g.
    a baseline size pinned by each patient's first scan centred, a weakly informed rate not.
    Needs float64 (``mechanistic.Float64Required`` otherwise)."""
    require_float64("inference.population_model", "the cohort")
    check_error_models(spec, cohort.units, errors, "the cohort")
    if isinstance(model, ModelFamily):
        if inputs is not None:
            raise ValueError("population_model: with a ModelFamily give doses= (inputs= is for a predict function)")
        predict, inputs = _family_simulator(model, spec, cohort, doses, t0)
    elif doses is not None:
        raise ValueError("population_model: doses= needs a ModelFamily; a predict function takes them as inputs=")
    else:
        predict = model
    for name, (index, value, censored, mask) in cohort.groups.items():
        for i in range(len(cohort)):
            m = mask[i]
            check_values(
                errors[name],
                name,
                value[i, m],
                censored[i, m],
                cohort.times[i, index[i, m]],
                f"patient {cohort.patients[i]!r}",
            )
    effects = {k: tuple(v) for k, v in (effects or {}).items()}
    for name, covs in effects.items():
        if name not in spec.individual:
            raise ValueError(f"covariate effects on {name!r}: only individual parameters {spec.individual} take them")
        unknown = [c for c in covs if c not in cohort.covariates]
        if unknown:
            raise ValueError(f"covariate(s) {unknown} on {name!r} are not in the cohort's {sorted(cohort.covariates)}")
    centred = centred_parameters(spec, centred)
    if not spec.individual:
        warnings.warn("no parameter has level='individual': every patient shares all parameters", stacklevel=2)
    n = len(cohort)
    for leaf in jax.tree.leaves(inputs):
        if jnp.shape(leaf)[:1] != (n,):
            raise ValueError(
                f"inputs: every array needs a leading axis of one row per patient ({n}); got {jnp.shape(leaf)}"
            )
    times = jnp.asarray(cohort.times)
    groups = {k: tuple(jnp.asarray(a) for a in v) for k, v in cohort.groups.items()}
    # None where no row is censored: the error model then skips its log-CDF
    groups = {k: (i, v, c if np.any(cohort.groups[k][2] & cohort.groups[k][3]) else None, m)
              for k, (i, v, c, m) in groups.items()}  # fmt: skip
    covariates = {k: jnp.asarray(v) for k, v in cohort.covariates.items()}

    def model():
        typical = spec.sample()
        params = {}
        for p in spec.parameters:
            if p.level != "individual":
                params[p.name] = jnp.broadcast_to(jnp.asarray(typical[p.name], float), (n,))
                continue
            forward, inverse = transform(p.constraint)
            shift = 0.0
            for c in effects.get(p.name, ()):
                shift = shift + numpyro.sample(f"beta_{p.name}_{c}", dist.Normal(0.0, 1.0)) * covariates[c]
            omega = numpyro.sample(f"omega_{p.name}", p.omega_prior)
            with numpyro.plate("patient", n):
                if p.name in centred:
                    z = numpyro.sample(f"z_{p.name}", dist.Normal(forward(typical[p.name]) + shift, omega))
                    value = inverse(z)
                else:
                    eta = numpyro.sample(f"eta_{p.name}", dist.Normal(0.0, 1.0))
                    value = individual_values(p.constraint, typical[p.name], omega, eta, shift)
            params[p.name] = numpyro.deterministic(f"{p.name}_individual", value)
        preds = jax.vmap(predict)(params, times) if inputs is None else jax.vmap(predict)(params, times, inputs)
        for name, (index, value, censored, mask) in groups.items():
            pred = jnp.take_along_axis(preds[name], index, axis=1)
            ll = jax.vmap(errors[name].log_likelihood)(params, pred, value, censored)
            numpyro.factor(f"loglik_{name}", jnp.sum(jnp.where(mask, ll, 0.0)))

    return model


def _family_simulator(family: ModelFamily, spec, cohort: Cohort, doses, t0) -> tuple[Predict, object]:
    """``(predict, inputs)`` of :func:`population_model` for a family: its simulator and the
    patients' stacked doses as data (None without doses)."""
    check_family(family, spec, cohort.units, "the cohort")
    n = len(cohort)
    starts = np.broadcast_to(np.asarray(t0, dtype=float), (n,)) if np.ndim(t0) == 0 else np.asarray(t0, dtype=float)
    if starts.shape != (n,) or not np.isfinite(starts).all():
        raise ValueError(f"t0: one finite start (day) for all patients or one per patient ({n}); got {t0!r}")
    if doses is None:
        if np.any(starts != starts[0]):
            raise ValueError("t0 differs between patients but no doses are given: give one t0 for the cohort")
        return family.predict(None, t0=float(starts[0])), None
    doses = list(doses)
    if len(doses) != n:
        raise ValueError(f"doses: {len(doses)} dose tables for {n} patients; give one per patient, in cohort order")
    per_patient = []
    for i, (patient, table) in enumerate(zip(cohort.patients, doses, strict=True)):
        if not isinstance(table, DoseTable):
            raise TypeError(
                f"doses[{i}] (patient {patient!r}) is a {type(table).__name__}, not a mechanistic DoseTable"
            )
        bad = table.time < starts[i]
        if np.any(bad):
            raise ValueError(f"patient {patient!r}: a dose at day {float(table.time[bad][0]):g} is before t0 = "
                             f"{starts[i]:g}")  # fmt: skip
        times = np.unique(cohort.times[i])
        given = family.solve_inputs(table, times, t0=float(starts[i]))
        if given is None:
            raise ValueError(
                f"population_model: {type(family).__name__} builds the doses into its simulator "
                "(solve_inputs returns None); a population fit needs them as data: implement "
                "solve_inputs and observables_at, or pass a predict function with inputs="
            )
        per_patient.append(given)
    return family.observables_at, family.stack_inputs(per_patient)


def centred_parameters(spec: ParameterSpec, centred: bool | Collection[str]) -> set[str]:
    """The individual parameters that :func:`population_model`'s ``centred`` names: all
    (``True``), none (``False``) or those of a collection of names (checked)."""
    if isinstance(centred, bool):
        return set(spec.individual) if centred else set()
    if isinstance(centred, str):
        raise TypeError(f"centred: give True/False or a collection of parameter names, not the string {centred!r}")
    centred = set(centred)
    wrong = sorted(centred - set(spec.individual))
    if wrong:
        raise ValueError(f"centred: {wrong} are not individual parameters; those are {spec.individual}")
    return centred


def population_sites(spec: ParameterSpec) -> list[tuple[str, dist.Distribution]]:
    """The population-level sample sites of :func:`population_model` without covariate effects,
    with their priors: every free parameter (typical values of the individual ones, shared ones),
    then ``omega_<p>`` of every individual parameter, in ``spec`` order."""
    sites = [(p.name, p.prior) for p in spec.parameters if p.free]
    return sites + [(f"omega_{p.name}", p.omega_prior) for p in spec.parameters if p.level == "individual"]


def population_site_constraints(spec: ParameterSpec) -> list[str]:
    """The constraint (:data:`mechanistic.constraints.CONSTRAINTS`) of each site of
    :func:`population_sites`, in its order: a free parameter's own, ``"positive"`` for every
    ``omega_<p>`` (a between-patient SD)."""
    free = [p.constraint for p in spec.parameters if p.free]
    return free + ["positive" for p in spec.parameters if p.level == "individual"]


def population_prior(
    samples: Mapping[str, np.ndarray],
    spec: ParameterSpec,
    cohort: Cohort | None = None,
    covariates: Mapping[str, float] | None = None,
) -> ParameterSpec:
    """The prior for a new patient from population posterior draws (``{site: (draws, ...)}``, e.g.
    ``mcmc.get_samples()`` or :meth:`~inference.svi.SviResult.sample`): each individual parameter
    gets the moment-matched predictive distribution of ``T(p_new)`` (mean and variance of
    ``T(p_typical) + beta . x_new`` plus the mean of ``omega^2``) as a log-normal (positive),
    logit-normal (unit interval) or normal; population parameters get the same fit to their draws.
    Correlations between parameters are not carried over (a diagonal prior)."""
    covariates = dict(covariates or {})
    out = []
    for p in spec.parameters:
        if not p.free:
            out.append(p)
            continue
        if p.name not in samples:
            raise KeyError(f"no posterior draws of {p.name!r}; the draws hold {sorted(samples)}")
        forward, _ = transform(p.constraint)
        z = np.asarray(forward(jnp.asarray(samples[p.name], float)))
        var_between = 0.0
        if p.level == "individual":
            var_between = float(np.mean(np.asarray(samples[f"omega_{p.name}"]) ** 2))
            for site in [s for s in samples if s.startswith(f"beta_{p.name}_")]:
                c = site[len(f"beta_{p.name}_") :]
                if c not in covariates:
                    raise ValueError(
                        f"the population model has a covariate effect of {c!r} on {p.name!r}: "
                        f"give the new patient's {c!r} in covariates="
                    )
                if cohort is None:
                    raise ValueError("covariate effects need the cohort (its covariate centres)")
                z = z + np.asarray(samples[site]) * (covariates[c] - cohort.centres[c])
        mean, sd = float(np.mean(z)), float(np.sqrt(np.var(z) + var_between))
        prior = _transformed_normal(p.constraint, mean, sd)
        out.append(
            Parameter(
                p.name,
                p.unit,
                prior,
                constraint=p.constraint,
                level=p.level,
                source=f"population posterior ({np.size(z)} draws)",
            )
        )
    return ParameterSpec(out)


def population_description(spec: ParameterSpec, cohort: Cohort | None = None) -> dict:
    """Keyword arguments describing a fitted :func:`population_model` for
    ``scenarios.VirtualPopulation.from_posterior(samples, **population_description(spec, cohort))``:
    the free parameters' ``constraints``, the ``fixed`` values, and (with the cohort) the covariate
    ``centres`` and ``covariate_pool`` (each patient's covariate values) to resample from."""
    out = {
        "constraints": {p.name: p.constraint for p in spec.parameters if p.free},
        "fixed": {p.name: float(p.value) for p in spec.parameters if not p.free},
    }
    if cohort is not None:
        out["centres"] = dict(cohort.centres)
        out["covariate_pool"] = {c: np.asarray(x) + cohort.centres[c] for c, x in cohort.covariates.items()}
    return out


def _transformed_normal(constraint: str, mean: float, sd: float) -> dist.Distribution:
    if constraint == "positive":
        return dist.LogNormal(mean, sd)
    if constraint == "unit_interval":
        return dist.TransformedDistribution(dist.Normal(mean, sd), dist.transforms.SigmoidTransform())
    return dist.Normal(mean, sd)
