"""TwinModel: clones and drug responses from a sequencing report through the EGFR network; its priors and
spec; its solver."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from twin import example_patient
from twin.diseases.egfr_nsclc.examples.generate_example import TRUTH
from twin.diseases.egfr_nsclc.model import DEFAULT_PRIORS, FIXED, TwinModel, TwinModelError
from twin.diseases.egfr_nsclc.synthetic import CALLS, CTDNA, CTDNA_LIMIT, SCANS, synthetic_patient
from twin.diseases.priors import Prior, PriorError
from twin.record import VariantCall as V


@pytest.fixture(scope="module")
def met_model():
    calls = [
        V("EGFR", "L858R", 0.4),
        V("EGFR", "T790M", 0.02),
        V("MET", "amplification", 0.04),
        V("TP53", "R273H", 0.4),
    ]
    return TwinModel.from_mutations(calls)


def test_clones_from_the_report(met_model):
    assert met_model.clones == ("sensitive", "T790M", "MET amplification", "bypass")  # bypass: in every twin
    assert met_model.efficacy[-1] == (0.0, 0.0)  # no drug acts on the EGFR-independent bypass clone
    assert met_model.clone_variants[1] == ("EGFR L858R", "EGFR T790M")
    assert met_model.fixed_fractions == pytest.approx((0.1,))  # 0.04 / 0.4
    assert met_model.ignored == ("TP53 R273H: no effect in the EGFR network (not modelled)",)
    # a detected T790M centres the prior of its share on its allele fraction relative to the truncal one
    prior = met_model.priors["resistant_fraction0"]
    assert (prior.family, prior.location, prior.scale) == ("logitnormal", pytest.approx(0.05), 1.0)
    assert TwinModel.from_json(met_model.to_json()) == met_model


def test_drug_responses_follow_the_mechanism(met_model):
    ec50, eff = np.asarray(met_model.ec50), np.asarray(met_model.efficacy)  # (clone, drug): erlotinib, osimertinib
    assert ec50[0, 0] == pytest.approx(0.1)  # the catalogue's erlotinib EC50 on L858R anchors the scale
    assert ec50[1, 0] / ec50[0, 0] == pytest.approx(250.0)  # T790M: 5000 vs 20 nM in the drug table
    assert ec50[1, 1] <= ec50[0, 1]  # osimertinib keeps its potency on T790M
    np.testing.assert_allclose(eff[:2], 1.0, atol=1e-6)  # both TKIs kill EGFR-driven cells fully at saturation
    np.testing.assert_allclose(eff[2], 0.0, atol=1e-3)  # MET amplification bypasses both EGFR TKIs


def test_c797s_resists_osimertinib_not_erlotinib():
    model = TwinModel.from_mutations([V("EGFR", "ex19del", 0.3), V("EGFR", "C797S", 0.03)])
    ec50 = np.asarray(model.ec50)
    assert model.clones[2] == "C797S"
    assert ec50[2, 1] > 100 * ec50[0, 1] and ec50[2, 0] == pytest.approx(ec50[0, 0])


@pytest.mark.parametrize(
    "calls, match",
    [
        (
            [V("KRAS", "G12C", 0.3)],
            r"needs a detected sensitising EGFR mutation \(L858R or ex19del\); the record has KRAS",
        ),
        ([V("EGFR", "L858R", 0.0)], "the record has EGFR L858R"),
        ([V("EGFR", "L858R", 0.4), V("MET", "amplification", 0.19), V("ERBB2", "amplification", 0.19)], "make up 95%"),
        ([V("EGFR", "L858R", 0.4), V("MET", "amplification", 0.4)], r"not kill the truncal clone \(EGFR L858R; MET"),
    ],
)
def test_reports_the_twin_cannot_model(calls, match):
    with pytest.raises(TwinModelError, match=match):
        TwinModel.from_mutations(calls)


def test_spec_frees_what_scans_inform_and_fixes_the_rest(met_model):
    """The spec a calibration starts from: the free parameters are the priors (the report's T790M
    recentres one), the fixed ones :data:`FIXED`'s values, each with its unit and source."""
    spec = met_model.spec()
    assert set(spec.free) == {"volume0", "resistant_fraction0", "growth_rate", "max_kill", "sd_add", "capacity"}
    assert {p.name: p.value for p in spec.parameters if not p.free} == {k: v[0] for k, v in FIXED.items()}
    assert {k: met_model.priors[k] for k in DEFAULT_PRIORS if k != "resistant_fraction0"} == {
        k: v[1] for k, v in DEFAULT_PRIORS.items() if k != "resistant_fraction0"
    }
    assert spec.units["max_kill"] == "1/day" and spec.units["volume0"] == "mm^3" and spec.units["sd_add"] == "mm"
    assert all(p.source for p in spec.parameters)


def test_bad_prior_and_drug_named():
    with pytest.raises(PriorError, match="median 2 must be in"):
        Prior("logitnormal", 2, 1.0)
    with pytest.raises(TwinModelError, match="drugs=.*'aspirin'"):
        TwinModel.from_mutations([V("EGFR", "L858R", 0.4)], drugs=("erlotinib", "aspirin"))


@pytest.mark.parametrize("prior", [Prior("lognormal", 1.35, 0.65), Prior("halfnormal", 0.0, 2.0),
                                   Prior("logitnormal", 0.005, 2.0)], ids=str)  # fmt: skip
def test_prior_quantiles_match_their_distributions(prior):
    import jax

    draws = np.asarray(prior.distribution().sample(jax.random.key(0), (200_000,)))
    for q in (0.05, 0.5, 0.95):
        assert abs(np.mean(draws <= prior.quantile(q)) - q) < 0.004  # binomial SD at most 0.0011


def test_daily_lawson_grid_matches_a_tight_solve_on_the_example():
    """The twin's solver (:func:`solver_options`) through the predict its calibration uses
    (``observables_at`` on padded ``solve_inputs``) against a tight adaptive solve: clone volumes
    and observables within 2e-4 (measured: 9e-5, diameter 3e-5, resistant fraction 1.3e-4)."""
    record = example_patient()
    model = TwinModel.from_mutations(record.mutations)
    params = {k: jnp.asarray(v) for k, v in {**model.fixed, **TRUTH}.items()}
    times = jnp.asarray([-10.0, 42.0, 98.0, 154.0])
    inputs = model.solve_inputs(record.to_dose_table(), times, t0=-10.0)
    fast = model.solve(params, times, inputs)
    args = (model.build(params), model.initial_state(params), record.to_dose_table(), times)
    tight = m.solve(*args, t0=-10.0, options=m.SolverOptions(rtol=1e-10, atol=1e-10)).clones
    assert bool(fast.ok) and float(jnp.max(jnp.abs(fast.clones / tight - 1))) < 2e-4
    predicted, reference = model.observables_at(params, times, inputs), model.observe(tight)
    for k in ("diameter", "resistant_fraction"):
        np.testing.assert_allclose(np.asarray(predicted[k]), np.asarray(reference[k]), rtol=2e-4)
    assert float(predicted["diameter"][0]) == pytest.approx(float(m.longest_diameter(TRUTH["volume0"])))
    assert np.all(np.diff(np.asarray(predicted["resistant_fraction"])) > 0)  # T790M grows out on erlotinib


def test_a_synthetic_patient_is_drawn_from_the_prior_reproducibly():
    model = TwinModel.from_mutations(CALLS)
    record, truth = synthetic_patient(model, jax.random.key(3), "SYN")
    again, _ = synthetic_patient(model, jax.random.key(3), "SYN")
    assert record == again and set(truth) == set(model.priors)
    scans = [o for o in record.observations if o.observable == "diameter"]
    assert [o.time for o in scans] == list(SCANS) and all(o.value >= 1.0 for o in scans)
    ctdna = [o for o in record.observations if o.observable == "resistant_fraction"]
    assert [o.time for o in ctdna] == list(CTDNA) and all(CTDNA_LIMIT <= o.value <= 1.0 for o in ctdna)
    assert len(record.doses) == int(max(SCANS)) and {d.drug for d in record.doses} == {"erlotinib"}


@pytest.mark.slow  # a second compile of the flagship model (unpadded), ~1 min on 2 cores
def test_the_flagship_is_a_model_family_that_inference_calibrate_fits():
    """The twin's model through the framework's seam (``inference.calibrate``) gives the twin's own
    Laplace posterior: medians within 0.25 posterior SD (log scale; Monte Carlo error of 1,000 draws
    ~0.05 SD, the padding of the twin's record changes nothing)."""
    import inference as inf
    from twin import DigitalTwin

    twin = DigitalTwin.from_record(example_patient()).calibrate(method="laplace", seed=0)
    model = twin.model
    assert isinstance(model, m.ModelFamily) and "capacity" in [p.name for p in model.parameters]
    obs = twin.record.to_observations(observables=twin.observables)
    posterior = inf.calibrate(model, obs, model.spec(), model.errors(twin.observables), twin.record.to_dose_table(),
                              key=jax.random.key(0), t0=twin.t0)  # fmt: skip
    assert posterior.ok, posterior.problems
    for name in model.spec().free:
        ours, twins = np.log(posterior.samples()[name]), np.log(np.asarray(twin.posterior[name]).ravel())
        assert abs(np.median(ours) - np.median(twins)) < 0.25 * np.std(twins), name
