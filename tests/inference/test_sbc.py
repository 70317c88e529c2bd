"""Simulation-based calibration (Talts et al. 2018, arXiv:1804.06788) of the generated likelihood
and NUTS on a small tumour model: for parameters drawn from the prior and data simulated from them,
the rank of each true value among posterior draws must be uniform.

The replicates are independent, so they are fitted as one NUTS run over a plate of replicates (one
compile; the joint posterior factorises). Ranks use L = 99 draws thinned from 4 chains x 1,000
(thinning keeps them near-independent, as Talts et al. advise); uniformity by a chi-square test
over 10 bins at level 0.001 per parameter (Bonferroni over 3 parameters: family-wise ~0.003).
"""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from scipy import stats

from inference import Parameter, ParameterSpec, Proportional, diagnose, nuts, to_inference_data

SPEC = ParameterSpec(
    [
        Parameter("v0", "mm^3", dist.LogNormal(np.log(50.0), 0.5)),
        Parameter("g", "1/day", dist.LogNormal(np.log(0.01), 0.5)),
        Parameter("sigma", "1", dist.LogNormal(np.log(0.15), 0.3)),
    ]
)
TIMES = jnp.array([0.0, 28.0, 56.0, 84.0])  # day
REPLICATES, L, BINS = 300, 99, 10
ERROR = Proportional("sigma")


def volume(p, t):
    return p["v0"] * jnp.exp(p["g"] * t)


@pytest.mark.slow
def test_rank_statistics_are_uniform():
    key = jax.random.key(2018)
    k_prior, k_noise, k_fit = jax.random.split(key, 3)
    with numpyro.handlers.seed(rng_seed=k_prior), numpyro.plate("replicate", REPLICATES):
        truth = SPEC.sample()
    pred = jax.vmap(volume, in_axes=(0, None))(truth, TIMES)
    data = ERROR.sample(k_noise, {"sigma": truth["sigma"][:, None]}, pred)
    censored = jnp.zeros(data.shape, bool)

    def model():
        with numpyro.plate("replicate", REPLICATES):
            p = SPEC.sample()
            ll = ERROR.log_likelihood({"sigma": p["sigma"][:, None]}, jax.vmap(volume, (0, None))(p, TIMES), data,
                                      censored)  # fmt: skip
            numpyro.factor("loglik", ll.sum(axis=1))

    mcmc = nuts(model, k_fit, chains=4, warmup=1000, samples=1000)
    assert diagnose(to_inference_data(mcmc), min_ess=L + 1, warn=False).ok
    draws = mcmc.get_samples()
    keep = np.linspace(0, len(draws["g"]) - 1, L).astype(int)
    for name in SPEC.names:
        ranks = (np.asarray(draws[name])[keep] < np.asarray(truth[name])[None]).sum(axis=0)  # 0..L per replicate
        counts = np.bincount(ranks * BINS // (L + 1), minlength=BINS)
        p_value = stats.chisquare(counts).pvalue
        assert p_value > 0.001, (name, counts, p_value)
