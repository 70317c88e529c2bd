"""Priors as plain numbers (JSON-serialisable, saved with a twin): the vocabulary every disease
pack writes its priors in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRIOR_FAMILIES = ("lognormal", "logitnormal", "halfnormal")


class PriorError(ValueError):
    """A prior's family or numbers are invalid."""


@dataclass(frozen=True)
class Prior:
    """A prior as plain numbers: ``lognormal`` / ``logitnormal`` (``location`` = median, ``scale`` =
    SD on the log / logit scale) or ``halfnormal`` (``scale``; ``location`` 0)."""

    family: str
    location: float
    scale: float

    def __post_init__(self):
        if self.family not in PRIOR_FAMILIES:
            raise PriorError(f"Prior family {self.family!r} is not one of {PRIOR_FAMILIES}")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise PriorError(f"Prior scale={self.scale!r} must be > 0")
        lo, hi = {"lognormal": (0, np.inf), "logitnormal": (0, 1), "halfnormal": (-np.inf, np.inf)}[self.family]
        if self.family != "halfnormal" and not lo < self.location < hi:
            raise PriorError(f"{self.family} prior: median {self.location!r} must be in ({lo}, {hi})")

    def distribution(self):
        import numpyro.distributions as dist

        if self.family == "lognormal":
            return dist.LogNormal(float(np.log(self.location)), self.scale)
        if self.family == "halfnormal":
            return dist.HalfNormal(self.scale)
        logit = float(np.log(self.location / (1 - self.location)))
        return dist.TransformedDistribution(dist.Normal(logit, self.scale), dist.transforms.SigmoidTransform())

    def quantile(self, q: float) -> float:
        """The prior's ``q`` quantile (0 < q < 1)."""
        from scipy.stats import norm

        if self.family == "halfnormal":
            return float(self.scale * norm.ppf((1 + q) / 2))
        if self.family == "lognormal":
            return float(self.location * np.exp(self.scale * norm.ppf(q)))
        logit = np.log(self.location / (1 - self.location)) + self.scale * norm.ppf(q)
        return float(1 / (1 + np.exp(-logit)))

    def __str__(self) -> str:
        if self.family == "halfnormal":
            return f"HalfNormal({self.scale:g})"
        return f"{self.family}(median {self.location:g}, sd {self.scale:g})"
