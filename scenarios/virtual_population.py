"""Virtual patients drawn from a population posterior, with the population uncertainty kept.

A population posterior (``inference.population_model`` fitted by NUTS or SVI) gives, per draw
``d``, typical values, between-patient SDs ``omega`` and covariate effects ``beta``. Virtual
patient ``i`` of draw ``d`` has, for each individual parameter ``p`` on the scale of its
transform ``T`` (log, logit or identity, as in :mod:`inference.population`),

    T(p_di) = T(p_typical_d) + sum_c beta_{p,c,d} (x_ic - centre_c) + omega_{p,d} eta_{p,di},  eta ~ N(0, 1)

and population-level parameters (e.g. a residual SD) are shared by the patients of a draw.
Results therefore have an outer ``draw`` axis: the spread across draws is the uncertainty about
the population, the spread within a draw the variability between patients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from inference.parameters import ParameterSpec
from inference.population import TRANSFORMS, Cohort


def _draw_array(samples: Mapping[str, np.ndarray], site: str, n: int | None) -> np.ndarray:
    if site not in samples:
        raise ValueError(f"the population posterior has no draws of {site!r}; it holds {sorted(samples)}")
    a = np.asarray(samples[site], dtype=float)
    if a.ndim != 1 or (n is not None and a.shape[0] != n):
        raise ValueError(f"draws of {site!r} must have shape (n_draws,) = ({n},); got {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"draws of {site!r}: draw {i} is {a[i]!r}, not finite")
    return a


@dataclass(frozen=True)
class VirtualPopulation:
    """A population posterior as arrays over ``n_draws`` draws (natural units of the spec).

    ``typical``: parameter -> (n_draws,) typical value (every free parameter; population-level
    ones apply to every patient); ``omega``: individual parameter -> (n_draws,) SD of its random
    effect on the transformed scale; ``beta``: (parameter, covariate) -> (n_draws,) effect per
    unit of the covariate, centred on ``centres[covariate]``; ``fixed``: parameter -> value of the
    spec's fixed parameters; ``covariate_pool``: covariate -> observed values to resample virtual
    patients' covariates from (the cohort's), or empty."""

    spec: ParameterSpec
    typical: Mapping[str, np.ndarray]
    omega: Mapping[str, np.ndarray]
    beta: Mapping[tuple[str, str], np.ndarray]
    centres: Mapping[str, float]
    fixed: Mapping[str, float]
    covariate_pool: Mapping[str, np.ndarray]

    def __post_init__(self):
        n = {np.shape(v)[0] for v in (*self.typical.values(), *self.omega.values(), *self.beta.values())}
        if len(n) != 1:
            raise ValueError(f"every population array needs the same number of draws; got sizes {sorted(n)}")
        missing = [p for p in self.spec.individual if p not in self.omega]
        if missing:
            raise ValueError(f"individual parameters {missing} have no omega (between-patient SD) draws")
        for p, c in self.beta:
            if c not in self.centres:
                raise ValueError(f"covariate effect of {c!r} on {p!r} has no centre")

    @classmethod
    def from_posterior(
        cls,
        samples: Mapping[str, np.ndarray],
        spec: ParameterSpec,
        cohort: Cohort | None = None,
        *,
        n_draws: int | None = None,
    ) -> VirtualPopulation:
        """From population posterior draws ``{site: (draws,)}`` as :func:`inference.population_model`
        names them (``p`` typical values, ``omega_p``, ``beta_p_c``); ``n_draws`` keeps that many,
        evenly thinned. ``cohort`` gives the covariate centres and the pool to resample from."""
        sites = {k: np.asarray(v) for k, v in samples.items()}
        first = next((sites[p.name] for p in spec.parameters if p.free and p.name in sites), None)
        if first is None:
            raise ValueError(f"the posterior holds none of the spec's free parameters {spec.free}")
        total = first.shape[0]
        if n_draws is not None:
            if not 1 <= n_draws <= total:
                raise ValueError(f"n_draws={n_draws!r} must be between 1 and the {total} posterior draws")
            keep = np.linspace(0, total - 1, n_draws).round().astype(int)
            sites = {k: v[keep] for k, v in sites.items() if np.ndim(v) >= 1 and np.shape(v)[0] == total}
            total = n_draws
        typical = {p: _draw_array(sites, p, total) for p in spec.free}
        omega = {p: _draw_array(sites, f"omega_{p}", total) for p in spec.individual}
        beta = {}
        for p in spec.individual:
            for site in sorted(s for s in sites if s.startswith(f"beta_{p}_")):
                beta[(p, site[len(f"beta_{p}_") :])] = _draw_array(sites, site, total)
        centres, pool = {}, {}
        if cohort is not None:
            centres = dict(cohort.centres)
            pool = {c: np.asarray(cohort.covariates[c]) + cohort.centres[c] for c in cohort.covariates}
        elif beta:
            raise ValueError(f"covariate effects {sorted({c for _, c in beta})} need the cohort (their centres)")
        fixed = {p.name: float(p.value) for p in spec.parameters if not p.free}
        return cls(spec, typical, omega, beta, centres, fixed, pool)

    @property
    def n_draws(self) -> int:
        return int(np.shape(next(iter(self.typical.values())))[0])

    @property
    def parameters(self) -> tuple[str, ...]:
        """Every parameter a virtual patient has (free and fixed)."""
        return self.spec.names

    @property
    def covariates(self) -> tuple[str, ...]:
        return tuple(sorted({c for _, c in self.beta}))

    def covariates_for(self, key: jax.Array, n_patients: int) -> dict[str, np.ndarray]:
        """Covariates ``{name: (n_patients,)}`` resampled (with replacement) from the cohort's."""
        if not self.covariates:
            return {}
        missing = [c for c in self.covariates if c not in self.covariate_pool]
        if missing:
            raise ValueError(f"no cohort values of covariates {missing} to resample: pass covariates= explicitly")
        rows = np.asarray(jax.random.randint(key, (n_patients,), 0, len(next(iter(self.covariate_pool.values())))))
        return {c: self.covariate_pool[c][rows] for c in self.covariates}

    def sample(
        self, key: jax.Array, n_patients: int, covariates: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, jax.Array]:
        """Parameters ``{name: (n_draws, n_patients)}`` of ``n_patients`` virtual patients per
        population draw. ``covariates``: ``{name: (n_patients,)}`` (default: resampled from the
        cohort). The same key gives the same patients."""
        if not (isinstance(n_patients, int | np.integer) and n_patients >= 1):
            raise ValueError(f"n_patients={n_patients!r} must be an integer >= 1")
        k_cov, k_eta = jax.random.split(key)
        if covariates is None:
            covariates = self.covariates_for(k_cov, int(n_patients))
        missing = [c for c in self.covariates if c not in covariates]
        if missing:
            raise ValueError(f"the population has covariate effects of {missing}: give them in covariates=")
        for c in self.covariates:
            x = np.asarray(covariates[c], dtype=float)
            if x.shape != (n_patients,) or not np.isfinite(x).all():
                raise ValueError(f"covariates[{c!r}] must be {n_patients} finite values; got shape {x.shape}")
        shape = (self.n_draws, int(n_patients))
        out = {}
        for i, p in enumerate(self.spec.parameters):
            if not p.free:
                out[p.name] = jnp.full(shape, self.fixed[p.name])
            elif p.level != "individual":
                out[p.name] = jnp.broadcast_to(jnp.asarray(self.typical[p.name])[:, None], shape)
            else:
                forward, inverse = TRANSFORMS[p.constraint]
                z = forward(jnp.asarray(self.typical[p.name]))[:, None]
                for (q, c), b in self.beta.items():
                    if q == p.name:
                        z = z + jnp.asarray(b)[:, None] * (jnp.asarray(covariates[c], float) - self.centres[c])[None]
                eta = jax.random.normal(jax.random.fold_in(k_eta, i), shape)
                out[p.name] = inverse(z + jnp.asarray(self.omega[p.name])[:, None] * eta)
        return out
