"""``population_model`` on a model family: each patient's doses as data, stacked by the family
(different dose counts and observation counts pad to one batch), give the same likelihood as
solving every patient on its own."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from numpyro.handlers import substitute, trace

import mechanistic as m
from inference import Cohort, Observations, Parameter, ParameterSpec, Proportional, population_model
from mechanistic.catalogue import EGFRTwoClone, erlotinib_pk

SPEC = ParameterSpec(
    [
        Parameter("growth_rate", "1/day", dist.LogNormal(np.log(0.01), 0.5), level="individual"),
        Parameter("max_kill", "1/day", dist.LogNormal(np.log(0.03), 0.5), level="individual"),
        Parameter("sd", "1", dist.HalfNormal(0.2)),
    ]
)
ERRORS = {"volume": Proportional("sd")}
T0 = -7.0


class DosedTwoClone(EGFRTwoClone):
    """The catalogue's two-clone model with its doses as data (what a user adds for cohort fits)."""

    def solve_inputs(self, doses, times, *, t0):
        pk = m.DiseaseModel({"erlotinib": erlotinib_pk()})
        return m.grid_inputs(pk, doses, times, t0, self.solver_options())

    def observables_at(self, params, times, inputs):
        sol = m.solve(self.build(params), self.initial_state(params), inputs.doses, times, t0=inputs.points[0],
                      options=self.solver_options(), points=inputs.points)  # fmt: skip
        return {k: jnp.where(sol.ok, v, jnp.nan) for k, v in self.observe(sol.clones).items()}


FAMILY = DosedTwoClone(free=("growth_rate", "max_kill"))
DOSES = [m.daily(0, n - 1, "erlotinib", 150.0) for n in (10, 40, 90)]  # 3 patients, 3 dose buckets
ROWS = [
    [(-7.0, 3.1e4), (30.0, 2.2e4)],
    [(-7.0, 2.9e4), (20.0, 2.4e4), (60.0, 2.0e4), (100.0, 2.3e4)],
    [(-7.0, 3.0e4), (40.0, 1.9e4), (120.0, 2.6e4)],
]
COHORT = Cohort.from_observations(
    [
        Observations.from_rows(f"P{i}", [(t, "volume", v) for t, v in r], units={"volume": "mm^3"})
        for i, r in enumerate(ROWS)
    ]  # fmt: skip
)
VALUES = {"growth_rate": 0.012, "max_kill": 0.025, "omega_growth_rate": 0.3, "omega_max_kill": 0.4, "sd": 0.1,
          "eta_growth_rate": jnp.array([0.5, -1.0, 0.2]), "eta_max_kill": jnp.array([-0.3, 0.8, 1.5])}  # fmt: skip


def test_a_family_with_doses_as_data_gives_each_patients_own_likelihood():
    model = population_model(FAMILY, SPEC, COHORT, ERRORS, doses=DOSES, t0=T0)

    @jax.jit
    def population_sites(values):
        sites = trace(substitute(model, data=values)).get_trace()
        return sites["loglik_volume"]["fn"].log_factor, sites["growth_rate_individual"]["value"]

    loglik, growth_rates = population_sites(VALUES)
    expected = 0.0
    for i, (rows, doses) in enumerate(zip(ROWS, DOSES, strict=True)):
        params = {p: VALUES[p] * jnp.exp(VALUES[f"omega_{p}"] * VALUES[f"eta_{p}"][i])
                  for p in ("growth_rate", "max_kill")}  # fmt: skip
        np.testing.assert_allclose(growth_rates[i], params["growth_rate"], rtol=1e-12)
        times = np.array([t for t, _ in rows])
        predicted = jax.jit(FAMILY.predict(doses, t0=T0))(params, times)["volume"]  # this patient alone, unpadded
        observed = jnp.array([v for _, v in rows])
        expected += jnp.sum(ERRORS["volume"].log_likelihood({"sd": 0.1}, predicted, observed, None))
    assert np.isfinite(float(expected))
    np.testing.assert_allclose(float(loglik), float(expected), rtol=1e-10)


def test_family_cohort_inputs_are_checked():
    with pytest.raises(ValueError, match="2 dose tables for 3 patients"):
        population_model(FAMILY, SPEC, COHORT, ERRORS, doses=DOSES[:2], t0=T0)
    with pytest.raises(ValueError, match="builds the doses into its simulator"):
        population_model(EGFRTwoClone(free=("growth_rate", "max_kill")), SPEC, COHORT, ERRORS, doses=DOSES, t0=T0)
    with pytest.raises(ValueError, match=r"patient 'P0': a dose at day 0 is before t0 = 5"):
        population_model(FAMILY, SPEC, COHORT, ERRORS, doses=DOSES, t0=5.0)
    with pytest.raises(ValueError, match=r"observables \['diameter'\] are not the family's|in 'mm\^3'"):
        wrong = Cohort.from_observations([Observations.from_rows("X", [(0.0, "volume", 1.0)], units={"volume": "mL"})])
        population_model(FAMILY, SPEC, wrong, ERRORS)


def test_stack_inputs_pads_dose_tables_with_zero_doses_and_points_with_their_last():
    a = FAMILY.solve_inputs(DOSES[0], np.array([0.0, 30.0]), t0=T0)
    b = FAMILY.solve_inputs(DOSES[2], np.array([0.0, 120.0]), t0=T0)
    doses, points = FAMILY.stack_inputs([a, b])
    assert doses.time.shape[0] == 2 and doses.time.shape[1] == len(b[0]) > len(a[0])
    assert float(jnp.sum(doses.amount[0])) == pytest.approx(150.0 * 10)
    assert points.shape == (2, max(len(a[1]), len(b[1])))
    assert float(points[0, -1]) == float(a[1][-1])
    with pytest.raises(ValueError, match="no inputs"):
        FAMILY.stack_inputs([])
