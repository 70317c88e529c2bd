"""Stochastic variational inference for large cohorts (numpyro SVI with an optax optimiser).

A mean-field normal (``"normal"``), low-rank (``"low_rank"``) or full-rank (``"full"``)
multivariate normal guide on numpyro's unconstrained space, fitted by maximising the ELBO with
Adam under a cosine-decaying learning rate; the loss curve is checked so a diverged or unfinished
fit is reported, not returned silently. Mean-field guides ignore posterior correlations and
so overstate the residual error when individual parameters are strongly correlated (e.g. the
Stein model's size and rates fitted to a few scans): prefer ``"full"`` where the dimension
allows, and NUTS to check.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import optax
from numpyro import handlers
from numpyro.infer import SVI, Predictive, Trace_ELBO, init_to_median
from numpyro.infer.autoguide import AutoLowRankMultivariateNormal, AutoMultivariateNormal, AutoNormal
from numpyro.optim import optax_to_numpyro

from inference.fit import CalibrationWarning

GUIDES = {"normal": AutoNormal, "low_rank": AutoLowRankMultivariateNormal, "full": AutoMultivariateNormal}


class SviResult(NamedTuple):
    """``losses``: negative ELBO per step; ``params``: the fitted guide parameters."""

    model: Callable
    guide: object
    params: dict
    losses: np.ndarray

    def sample(self, key, num_samples: int = 1000) -> dict[str, np.ndarray]:
        """Draws ``{site: (num_samples, ...)}`` of every latent and deterministic site."""
        trace = handlers.trace(handlers.seed(self.model, 0)).get_trace()
        sites = [
            k
            for k, v in trace.items()
            if v["type"] == "deterministic" or (v["type"] == "sample" and not v["is_observed"])
        ]
        draws = Predictive(self.model, guide=self.guide, params=self.params, num_samples=num_samples,
                           return_sites=sites)(key)  # fmt: skip
        return {k: np.asarray(v) for k, v in draws.items()}


def svi(
    model: Callable,
    key,
    *,
    steps: int = 3000,
    learning_rate: float = 0.01,
    guide: str | Callable = "normal",
    num_particles: int = 1,
) -> SviResult:
    """Fit ``guide`` to ``model`` by Adam on the ELBO for ``steps`` steps (one compiled scan).
    ``guide``: one of :data:`GUIDES`, or a function ``model -> guide`` building a custom one (e.g.
    a structured guide with one block per patient). Warns (:class:`CalibrationWarning`) when the
    loss is not finite or still falling at the end."""
    if callable(guide):
        auto = guide(model)
    elif guide in GUIDES:
        auto = GUIDES[guide](model, init_loc_fn=init_to_median)  # numpyro's default (uniform in (-2, 2)) ignores units
    else:
        raise ValueError(f"guide {guide!r} is not one of {list(GUIDES)} or a function model -> guide")
    engine = SVI(
        model,
        auto,
        optax_to_numpyro(optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=0.02))),
        Trace_ELBO(num_particles=num_particles),
    )
    result = engine.run(key, steps, progress_bar=False, stable_update=True)  # skip steps with a non-finite loss
    losses = np.asarray(result.losses)
    if not np.isfinite(losses[-1]):
        warnings.warn(
            f"SVI diverged (loss {losses[-1]}): lower learning_rate (now {learning_rate}) or check the priors",
            CalibrationWarning,
            stacklevel=2,
        )
    else:
        window = max(steps // 10, 10)
        last, before = losses[-window:], losses[-2 * window : -window]
        if before.size and np.mean(before) - np.mean(last) > 2 * np.std(last) / np.sqrt(window) + 1e-3 * abs(
            np.mean(last)
        ):
            warnings.warn(
                f"SVI loss still falling after {steps} steps ({np.mean(before):.4g} -> {np.mean(last):.4g} "
                f"over the last {window}): raise steps",
                CalibrationWarning,
                stacklevel=2,
            )
    return SviResult(model, auto, result.params, losses)
