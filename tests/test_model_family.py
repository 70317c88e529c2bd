"""A user's own model on the framework: a ``mechanistic.ModelFamily`` calibrated with
``inference.calibrate`` and simulated with ``scenarios.compare`` (the seam
``notebooks/04_your_own_model.ipynb`` walks through)."""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
import xarray as xr

import inference as inf
import mechanistic as m
import scenarios as sc

TRUTH = {"v0": 30000.0, "growth_rate": 0.02, "capacity": 2e5, "kill_slope": 0.03}
SCAN_DAYS = np.array([0.0, 28.0, 56.0, 84.0, 112.0, 168.0])


@dataclass(frozen=True)
class LogisticTumour(m.ModelFamily):
    """Logistic growth to ``capacity``, kill ``kill_slope * C`` by one-compartment oral ``drug_x``."""

    @property
    def parameters(self):
        return (m.ParameterInfo("v0", "mm^3"), m.ParameterInfo("growth_rate", "1/day"),
                m.ParameterInfo("capacity", "mm^3"), m.ParameterInfo("kill_slope", "L/(mg day)"))  # fmt: skip

    def build(self, p):
        pk = m.OneCompartment.from_clearance(cl=100.0, v=200.0, ka=10.0)
        kill = m.LinearEffect(jnp.reshape(p["kill_slope"], (1, 1)))
        tumour = m.TumourModel(("all",), "logistic", growth_rate=p["growth_rate"], capacity=p["capacity"], kill=kill)
        return m.DiseaseModel({"drug_x": pk}, tumour)

    def initial_state(self, p):
        return jnp.reshape(p["v0"], (1,))


def priors(**changes):
    spec = inf.ParameterSpec([
        inf.Parameter("v0", "mm^3", dist.LogNormal(np.log(2e4), 1.0)),
        inf.Parameter("growth_rate", "1/day", dist.LogNormal(np.log(0.01), 1.0)),
        inf.Parameter("capacity", "mm^3", value=2e5),
        inf.Parameter("kill_slope", "L/(mg day)", dist.LogNormal(np.log(0.01), 1.0)),
        inf.Parameter("sd_add", "mm", value=1.0),
        inf.Parameter("cv", "1", value=0.03),
    ])  # fmt: skip
    return spec.replace(**changes) if changes else spec


ERRORS = {"diameter": m.Combined("sd_add", "cv")}
DOSES = m.daily(0, 167, "drug_x", 150.0)


@pytest.fixture(scope="module")
def observations():
    diameter = np.asarray(LogisticTumour().predict(DOSES)(TRUTH, jnp.asarray(SCAN_DAYS))["diameter"])
    scans = diameter * (1 + 0.03 * np.random.default_rng(0).normal(size=diameter.size))
    return inf.Observations.from_rows("P-1", [(t, "diameter", d) for t, d in zip(SCAN_DAYS, scans, strict=True)],
                                      units={"diameter": "mm"})  # fmt: skip


@pytest.fixture(scope="module")
def posterior(observations):
    return inf.calibrate(
        LogisticTumour(), observations, priors(), ERRORS, DOSES, key=jax.random.key(1), chains=1, samples=400
    )


def test_calibrate_returns_draws_with_units_and_covers_the_truth(posterior):
    assert posterior.ok and posterior.method == "laplace"
    ds = posterior.draws
    assert set(ds.data_vars) == {"v0", "growth_rate", "capacity", "kill_slope", "sd_add", "cv"}
    assert dict(ds.sizes) == {"chain": 1, "draw": 400}
    assert ds.growth_rate.attrs["units"] == "1/day" and ds.v0.attrs["units"] == "mm^3"
    assert np.all(ds.capacity.values == 2e5)  # fixed values are carried as draws
    for name in ("v0", "growth_rate", "kill_slope"):  # 3.5 posterior SDs on the log scale
        z = np.log(posterior.samples()[name])
        assert abs(np.log(TRUTH[name]) - z.mean()) < 3.5 * z.std(), name


def test_same_key_same_draws(observations, posterior):
    again = inf.calibrate(
        LogisticTumour(), observations, priors(), ERRORS, DOSES, key=jax.random.key(1), chains=1, samples=400
    )
    np.testing.assert_array_equal(again.draws.kill_slope.values, posterior.draws.kill_slope.values)


def test_nuts_posterior_and_its_warm_start_survive_netcdf(observations, tmp_path):
    """A short NUTS run: draws (chain, draw), its warm start, and the round trip through a file."""
    nuts = inf.calibrate(LogisticTumour(), observations, priors(), ERRORS, DOSES, key=jax.random.key(2),
                         method="nuts", chains=2, warmup=60, samples=40)  # fmt: skip
    assert nuts.method == "nuts" and dict(nuts.draws.sizes) == {"chain": 2, "draw": 40}
    assert nuts.warm is not None and set(nuts.warm.z) == {"v0", "growth_rate", "kill_slope"}
    nuts.to_dataset().to_netcdf(tmp_path / "posterior.nc")
    with xr.open_dataset(tmp_path / "posterior.nc") as ds:
        back = inf.Posterior.from_dataset(ds.load())
    xr.testing.assert_identical(back.draws, nuts.draws)
    assert (back.method, back.problems) == (nuts.method, nuts.problems)
    for a, b in zip(back.warm, nuts.warm, strict=True):  # z, step size, mass matrix, samples
        jax.tree.map(np.testing.assert_array_equal, a, b)


def test_compare_takes_the_family_and_the_posterior_draws(posterior):
    draws = {k: v[:50] for k, v in posterior.samples().items()}
    regimens = [sc.continuous("drug_x", 150.0, 112), sc.continuous("drug_x", 0.0, 112)]
    ds = sc.compare(LogisticTumour(), draws, regimens, 112, key=jax.random.key(0), scan_every=56)
    assert dict(ds.sizes)["draw"] == 50
    final = ds.volume.isel(time=-1).values  # regimen x draw
    assert np.all(final[0] < final[1])  # the drug shrinks every draw's tumour relative to no drug


def test_bad_inputs_name_the_problem(observations):
    family = LogisticTumour()
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=r"no prior or value for the family's parameters \['kill_slope'\]"):
        spec = inf.ParameterSpec([p for p in priors().parameters if p.name != "kill_slope"])
        inf.calibrate(family, observations, spec, ERRORS, DOSES, key=key)
    with pytest.raises(ValueError, match="method='mcmc' is not one of"):
        inf.calibrate(family, observations, priors(), ERRORS, DOSES, key=key, method="mcmc")
    in_cm = inf.Observations.from_rows("P-1", [(0.0, "diameter", 3.9)], units={"diameter": "cm"})
    with pytest.raises(ValueError, match="in 'cm' but the family observes it in 'mm'"):
        inf.calibrate(family, in_cm, priors(), ERRORS, DOSES, key=key)
    psa = inf.Observations.from_rows("P-1", [(0.0, "psa", 3.9)], units={"psa": "ng/mL"})
    with pytest.raises(ValueError, match=r"observables \['psa'\] are not the family's"):
        inf.calibrate(family, psa, priors(), ERRORS, DOSES, key=key)

    @dataclass(frozen=True)
    class Misspelt(LogisticTumour):
        @property
        def parameters(self):
            return (m.ParameterInfo("v0", "mm^3", "positve"),)

    with pytest.raises(ValueError, match="'v0' has constraint 'positve'"):
        inf.calibrate(Misspelt(), observations, priors(), ERRORS, DOSES, key=key)
    with pytest.raises(TypeError, match="Can't instantiate abstract class"):
        type("Incomplete", (m.ModelFamily,), {})()
