"""A structured variational guide for :func:`~inference.population_model`: one full-rank Gaussian
block over the population-level sites and one per patient over its random effects, linearly
coupled to the population block.

Between a guide factorised into population x patients (which loses the coupling between typical
values / between-patient SDs and the random effects) and a full-rank guide over every dimension
(quadratic in the number of patients): the cost is linear in the patients. A structured
("hierarchical") guide of this kind is the one of Hoffman & Blei 2015 (structured stochastic
variational inference, AISTATS) and Agrawal & Domke 2021 (amortized / branched variational
inference for hierarchical models, NeurIPS), here without amortisation. Still Gaussian: biased
where patients' random effects are truncated by their data (see :mod:`inference.importance`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from inference.parameters import ParameterSpec
from inference.population import Cohort, centred_parameters, population_sites
from mechanistic.constraints import CONSTRAINTS, transform


def population_guide(
    spec: ParameterSpec,
    cohort: Cohort,
    centred: bool | Collection[str] = (),
    *,
    start: Mapping[str, float] | None = None,
    individual_start: Mapping[str, np.ndarray] | None = None,
) -> Callable[[], None]:
    """A guide (a function of no arguments) for ``population_model(predict, spec, cohort, errors,
    centred=centred)`` without covariate effects; pass it to :func:`~inference.svi` as
    ``guide=lambda model: population_guide(spec, cohort, centred)``.

    Population-level sites (:func:`~inference.population_sites`): a full-rank Gaussian
    ``u ~ N(m, L L^T)`` (``g`` dimensions) on their unconstrained scale. Patient ``i``'s random
    effects (``z_<p>`` of the centred individual parameters, ``eta_<p>`` of the others; ``k``
    of them), given ``u``: a full-rank Gaussian ``N(a_i + B_i (u - m), L_i L_i^T)``, independent
    between patients. Parameters: ``global_loc`` (g,), ``global_scale_tril`` (g, g),
    ``patient_loc`` (n, k), ``patient_coupling`` (n, k, g), ``patient_scale_tril`` (n, k, k).

    Starts: ``m`` at ``start[site]`` (natural units) where given, else the prior median (of 1001
    prior draws, key 0); ``a_i`` at ``eta = 0``, or for a centred parameter at its typical
    value's start, or ``individual_start[p][i]`` (natural units, NaN: the typical value) where
    given; ``B_i = 0``; scales 0.1."""
    centred = centred_parameters(spec, centred)
    start, individual_start = dict(start or {}), dict(individual_start or {})
    globals_ = population_sites(spec)
    names = [name for name, _ in globals_]
    unknown = sorted(set(start) - set(names))
    if unknown:
        raise ValueError(f"start: {unknown} are not population sites; those are {names}")
    n, k, g = len(cohort), len(spec.individual), len(globals_)
    wrong = sorted(set(individual_start) - centred)
    if wrong:
        raise ValueError(
            f"individual_start: {wrong} are not centred individual parameters; those are {sorted(centred)}"
        )
    for p, v in individual_start.items():
        if np.shape(v) != (n,):
            raise ValueError(f"individual_start[{p!r}] needs one value per patient ({n},); got shape {np.shape(v)}")
    sites = [f"z_{p}" if p in centred else f"eta_{p}" for p in spec.individual]
    transforms = [dist.biject_to(prior.support) for _, prior in globals_]
    m0 = []
    for (name, prior), t in zip(globals_, transforms, strict=True):
        if name in start:
            median = start[name]
            if not np.isfinite(median) or not bool(prior.support(jnp.asarray(median, float))):
                raise ValueError(f"start[{name!r}] = {median!r} is outside the support of its prior {prior}")
        else:
            median = np.median(np.asarray(prior.sample(jax.random.key(0), (1001,))))
        m0.append(float(t.inv(jnp.asarray(median))))
    a0 = np.zeros((n, k))
    for j, p in enumerate(spec.individual):
        if p not in centred:
            continue
        forward, _ = transform(spec[p].constraint)
        a0[:, j] = m0[names.index(p)] if p not in start else float(forward(jnp.asarray(start[p])))
        if p in individual_start:
            v = np.asarray(individual_start[p], float)
            given = np.isfinite(v)
            lo, hi = CONSTRAINTS[spec[p].constraint]
            outside = given & ~((v > lo) & (v < hi))
            if outside.any():
                i = int(np.flatnonzero(outside)[0])
                raise ValueError(
                    f"individual_start[{p!r}] of patient {cohort.patients[i]!r} = {v[i]!r} is not {spec[p].constraint}"
                )
            a0[:, j] = np.where(given, np.asarray(forward(np.where(given, v, 1.0 if hi > 1 else 0.5))), a0[:, j])

    def guide():
        m = numpyro.param("global_loc", jnp.asarray(m0))
        tril = numpyro.param("global_scale_tril", 0.1 * jnp.eye(g), constraint=constraints.scaled_unit_lower_cholesky)
        u = numpyro.sample("_global", dist.MultivariateNormal(m, scale_tril=tril), infer={"is_auxiliary": True})
        for j, ((name, _), t) in enumerate(zip(globals_, transforms, strict=True)):
            value = t(u[j])
            numpyro.sample(name, dist.Delta(value, log_density=-t.log_abs_det_jacobian(u[j], value)))
        a = numpyro.param("patient_loc", jnp.asarray(a0))
        b = numpyro.param("patient_coupling", jnp.zeros((n, k, g)))
        ltril = numpyro.param(
            "patient_scale_tril",
            jnp.broadcast_to(0.1 * jnp.eye(k), (n, k, k)),
            constraint=constraints.scaled_unit_lower_cholesky,
        )
        with numpyro.plate("patient", n):
            x = numpyro.sample(
                "_patient", dist.MultivariateNormal(a + b @ (u - m), scale_tril=ltril), infer={"is_auxiliary": True}
            )
            for j, site in enumerate(sites):
                numpyro.sample(site, dist.Delta(x[:, j]))

    return guide
