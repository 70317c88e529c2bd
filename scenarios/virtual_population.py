"""Virtual patients drawn from a population posterior, with the population uncertainty kept.

A population posterior (``inference.population_model`` fitted by NUTS or SVI) gives, per draw
``d``, typical values, between-patient SDs ``omega`` and covariate effects ``beta``. Virtual
patient ``i`` of draw ``d`` has, for each individual parameter ``p`` on the scale of its
transform ``T`` (log, logit or identity: :mod:`mechanistic.constraints`),

    T(p_di) = T(p_typical_d) + sum_c beta_{p,c,d} (x_ic - centre_c) + omega_{p,d} eta_{p,di},  eta ~ N(0, 1)

and population-level parameters (e.g. a residual SD) are shared by the patients of a draw.
Results therefore have an outer ``draw`` axis: the spread across draws is the uncertainty about
the population, the spread within a draw the variability between patients.

Like the rest of ``scenarios`` this takes plain arrays and names, not how they were obtained:
``inference.population_description(spec, cohort)`` gives the keyword arguments that describe a
fitted ``inference.population_model`` (constraints, fixed values, covariate centres and pool).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.constraints import TRANSFORMS, individual_values


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
    """A population posterior as arrays over ``n_draws`` draws (natural units).

    ``typical``: parameter -> (n_draws,) typical value (population-level parameters apply to
    every patient of a draw); ``omega``: individual parameter -> (n_draws,) SD of its random
    effect on the scale of its ``constraints`` entry (``"positive"``: log, ``"unit_interval"``:
    logit, ``"real"``: identity); ``beta``: (parameter, covariate) -> (n_draws,) effect per unit
    of the covariate, centred on ``centres[covariate]``; ``fixed``: parameter -> value shared by
    everyone; ``covariate_pool``: covariate -> observed values to resample virtual patients'
    covariates from (e.g. the cohort's), or empty."""

    typical: Mapping[str, np.ndarray]
    omega: Mapping[str, np.ndarray]
    constraints: Mapping[str, str]
    beta: Mapping[tuple[str, str], np.ndarray] = field(default_factory=dict)
    centres: Mapping[str, float] = field(default_factory=dict)
    fixed: Mapping[str, float] = field(default_factory=dict)
    covariate_pool: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        if not self.typical:
            raise ValueError("a virtual population needs typical values of at least one parameter")
        n = {np.shape(v)[0] for v in (*self.typical.values(), *self.omega.values(), *self.beta.values())}
        if len(n) != 1:
            raise ValueError(f"every population array needs the same number of draws; got sizes {sorted(n)}")
        for p in self.omega:
            if p not in self.typical:
                raise ValueError(f"omega of {p!r} given without its typical value")
            if self.constraints.get(p) not in TRANSFORMS:
                raise ValueError(
                    f"individual parameter {p!r} has constraint {self.constraints.get(p)!r}; valid: {tuple(TRANSFORMS)}"
                )
        for p, c in self.beta:
            if p not in self.omega:
                raise ValueError(f"covariate effect of {c!r} on {p!r}: {p!r} has no random effect (omega)")
            if c not in self.centres:
                raise ValueError(f"covariate effect of {c!r} on {p!r} has no centre")
        both = sorted(set(self.typical) & set(self.fixed))
        if both:
            raise ValueError(f"parameters {both} are both fixed and drawn")

    @classmethod
    def from_posterior(
        cls,
        samples: Mapping[str, np.ndarray],
        constraints: Mapping[str, str],
        *,
        fixed: Mapping[str, float] | None = None,
        centres: Mapping[str, float] | None = None,
        covariate_pool: Mapping[str, np.ndarray] | None = None,
        n_draws: int | None = None,
    ) -> VirtualPopulation:
        """From population posterior draws ``{site: (draws,)}`` named as
        ``inference.population_model`` names them: ``p`` (typical value) for each parameter in
        ``constraints`` (name -> constraint), ``omega_p`` for those with random effects,
        ``beta_p_c`` covariate effects. ``n_draws`` keeps that many draws, evenly thinned."""
        sites = {k: np.asarray(v) for k, v in samples.items()}
        if not constraints:
            raise ValueError(
                "constraints is empty: name the parameters (name -> 'positive' / 'unit_interval' / 'real')"
            )
        total = np.shape(_draw_array(sites, next(iter(constraints)), None))[0]
        if n_draws is not None:
            if not 1 <= n_draws <= total:
                raise ValueError(f"n_draws={n_draws!r} must be between 1 and the {total} posterior draws")
            keep = np.linspace(0, total - 1, n_draws).round().astype(int)
            sites = {k: v[keep] for k, v in sites.items() if np.ndim(v) >= 1 and np.shape(v)[0] == total}
            total = n_draws
        typical = {p: _draw_array(sites, p, total) for p in constraints}
        omega = {p: _draw_array(sites, f"omega_{p}", total) for p in constraints if f"omega_{p}" in sites}
        beta = {}
        for p in omega:
            for site in sorted(s for s in sites if s.startswith(f"beta_{p}_")):
                beta[(p, site[len(f"beta_{p}_") :])] = _draw_array(sites, site, total)
        if beta and centres is None:
            raise ValueError(f"covariate effects {sorted({c for _, c in beta})} need centres= (the cohort's means)")
        return cls(typical, omega, dict(constraints), beta, dict(centres or {}), dict(fixed or {}),
                   {k: np.asarray(v) for k, v in (covariate_pool or {}).items()})  # fmt: skip

    @property
    def n_draws(self) -> int:
        return int(np.shape(next(iter(self.typical.values())))[0])

    @property
    def parameters(self) -> tuple[str, ...]:
        """Every parameter a virtual patient has (drawn and fixed)."""
        return (*self.typical, *self.fixed)

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
        out = {name: jnp.full(shape, float(value)) for name, value in self.fixed.items()}
        for i, (name, typical) in enumerate(self.typical.items()):
            if name not in self.omega:
                out[name] = jnp.broadcast_to(jnp.asarray(typical)[:, None], shape)
                continue
            shift = 0.0
            for (q, c), b in self.beta.items():
                if q == name:
                    x = jnp.asarray(covariates[c], float) - self.centres[c]
                    shift = shift + jnp.asarray(b)[:, None] * x[None]
            eta = jax.random.normal(jax.random.fold_in(k_eta, i), shape)
            typical_d, omega_d = jnp.asarray(typical)[:, None], jnp.asarray(self.omega[name])[:, None]
            out[name] = individual_values(self.constraints[name], typical_d, omega_d, eta, shift)
        return out
