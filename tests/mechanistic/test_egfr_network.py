"""The shipped EGFR-mutant NSCLC network at clinical drug exposures (from the PK layer):
mechanism-driven sensitivity and resistance, and its coupling to tumour clones."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from mechanistic.egfr_network import (
    EGFR_DRUG_PK,
    EGFR_DRUGS,
    EGFR_VARIANTS,
    egfr_drug_exposure,
    egfr_drug_panel,
    egfr_drug_pk,
    egfr_network,
    egfr_network_model,
)

DRUGS = tuple(d.name for d in EGFR_DRUGS)
L858R = m.Mutation("EGFR", "L858R", 0.4)
CLONES = {
    "sensitive": (L858R,),
    "T790M": (L858R, m.Mutation("EGFR", "T790M", 0.1)),
    "T790M+C797S": (L858R, m.Mutation("EGFR", "T790M"), m.Mutation("EGFR", "C797S")),
    "MET_amp": (L858R, m.Mutation("MET", "amplification")),
}


@pytest.fixture(scope="module")
def phenotype():
    net = egfr_network()
    panel = egfr_drug_panel(net)
    clones = [m.personalise(net, panel, muts, EGFR_VARIANTS) for muts in CLONES.values()]
    return m.NetworkPhenotype(net, panel, clones, apoptosis_rate=0.06)


def steady_state_exposure(pk, amount, interval, days=90.0):
    """Average plasma concentration (mg/L) over the last dosing interval of ``amount`` mg given
    orally every ``interval`` days for ``days`` days, from the PK layer alone (as
    scenarios.steady_state_exposure computes it; tests/scenarios/test_drug_screen.py checks that one)."""
    n = int(days // interval)
    ts = (n - 1) * interval + interval * jnp.linspace(0.0, 1.0, 193)
    sol = m.solve(m.DiseaseModel({"drug": pk}), jnp.zeros(0), m.every(interval, n, "drug", amount, "oral"), ts)
    return float(jnp.trapezoid(sol.concentrations[:, 0], ts) / interval)


@pytest.fixture(scope="module")
def exposure():
    """Average steady-state plasma concentrations (mg/L) of the standard doses."""
    return {d: steady_state_exposure(egfr_drug_pk(d), *EGFR_DRUG_PK[d][:2]) for d in DRUGS}


def test_erlotinib_exposure_matches_its_clearance(exposure):
    # Css,avg = dose / (CL/F * interval) = 150 mg / (3.95 L/h * 24 h) (Lu et al. 2006 typical values)
    assert exposure["erlotinib"] == pytest.approx(150 / (3.95 * 24), rel=1e-3)


def test_closed_form_exposure_of_every_panel_drug_matches_the_simulated_one(exposure):
    # egfr_drug_exposure (dose / (CL/F * interval), used by drug catalogues) against the PK solve
    for drug in DRUGS:
        assert egfr_drug_exposure(drug) == pytest.approx(exposure[drug], rel=1e-2), drug


def phenotypes(phenotype, exposure, drugs):
    conc = jnp.asarray([exposure[d] if d in drugs else 0.0 for d in DRUGS])
    ss = m.check_steady_state(phenotype.steady_state(conc))
    net = phenotype.network
    p = ss.x[:, net.index("PROLIFERATION")]
    a = ss.x[:, net.index("APOPTOSIS")]
    return dict(zip(CLONES, zip(np.asarray(p), np.asarray(a), strict=True), strict=True))


def test_untreated_clones_proliferate(phenotype, exposure):
    for clone, (p, a) in phenotypes(phenotype, exposure, ()).items():
        assert p > 0.9 and a < 0.05, clone


def test_erlotinib_kills_the_sensitive_clone_not_t790m(phenotype, exposure):
    out = phenotypes(phenotype, exposure, ("erlotinib",))
    p, a = out["sensitive"]
    assert p < 0.05 and a > 0.9
    p, a = out["T790M"]
    assert p > 0.9 and a < 0.05


def test_osimertinib_acts_on_t790m_but_not_with_c797s(phenotype, exposure):
    out = phenotypes(phenotype, exposure, ("osimertinib",))
    for clone in ("sensitive", "T790M"):
        p, a = out[clone]
        assert p < 0.05 and a > 0.9, clone
    p, a = out["T790M+C797S"]
    assert p > 0.9 and a < 0.05


def test_met_amplification_bypasses_erlotinib_and_a_met_inhibitor_restores_it(phenotype, exposure):
    p, a = phenotypes(phenotype, exposure, ("erlotinib",))["MET_amp"]
    assert p > 0.9 and a < 0.05
    p, a = phenotypes(phenotype, exposure, ("erlotinib", "capmatinib"))["MET_amp"]
    assert p < 0.05 and a > 0.9
    p, _ = phenotypes(phenotype, exposure, ("capmatinib",))["MET_amp"]  # MET inhibitor alone: EGFR still drives
    assert p > 0.9


def test_every_drug_and_variant_names_its_source():
    assert all(d.source for d in EGFR_DRUGS)
    assert all(v.source for v in EGFR_VARIANTS)
    assert set(EGFR_DRUG_PK) == set(DRUGS)


@pytest.fixture(scope="module")
def erlotinib_week():
    doses = m.concat([m.daily(0.0, 8, "erlotinib", 150.0, "oral"), m.dose(0.0, "osimertinib", 0.0, "oral")])
    return doses, jnp.linspace(0.0, 8.0, 9), jnp.array([1e4, 100.0, 100.0])


def test_network_driven_clones_respond_by_mechanism(erlotinib_week):
    doses, ts, y0 = erlotinib_week
    sol = m.check_solution(m.solve(egfr_network_model(), y0, doses, ts))
    sens, t790m, met = np.asarray(sol.clones[-1])
    assert sens < 0.7 * 1e4  # killed at about apoptosis_rate = 0.06/day
    assert t790m > 100 and met > 100  # resistant clones keep growing


@pytest.mark.slow  # ~40 s of implicit-solver compilation on 2 cores
def test_dynamic_and_quasi_steady_state_modes_agree_and_converge_as_the_network_speeds_up(erlotinib_week):
    doses, ts, y0 = erlotinib_week
    qss = m.solve(egfr_network_model(), y0, doses, ts)
    options = m.SolverOptions(solver=diffrax.Kvaerno5(), rtol=1e-7, atol=1e-8)
    err = []
    for scale in (1.0, 0.1):
        dyn = m.check_solution(
            m.solve(egfr_network_model(mode="dynamic", tau_scale=scale), y0, doses, ts, options=options)
        )
        err.append(float(jnp.max(jnp.abs(jnp.log(dyn.clones / qss.clones)))))
    assert err[1] < 0.2 * err[0] and err[0] < 0.1  # first order in tau
    # network time constants / 10 (phosphorylation 30 s, phenotype 36 min): within 1% in volume
    np.testing.assert_allclose(dyn.clones, qss.clones, rtol=0.01)
    assert dyn.state.shape == (3 * egfr_network().n_nodes,)


@pytest.mark.slow
def test_gradient_through_the_coupled_quasi_steady_state(erlotinib_week):
    doses, ts, y0 = erlotinib_week
    model = egfr_network_model()
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def log_sensitive(scale):  # all clone IC50s scaled by `scale`
        p = eqx.tree_at(lambda q: q.tumour.network.clones.ic50, params, params.tumour.network.clones.ic50 * scale)
        sol = m.solve(eqx.combine(p, static), y0, doses, ts, options=m.SolverOptions(rtol=1e-10, atol=1e-10))
        return jnp.log(sol.clones[-1, 0])

    grad = jax.grad(log_sensitive)(1.0)
    h = 0.03  # the effect is small (exposure >> IC50): a wide step keeps solver noise out of the difference
    fd = (log_sensitive(1 + h) - log_sensitive(1 - h)) / (2 * h)
    assert float(grad) > 0 and float(grad) == pytest.approx(float(fd), rel=2e-3)
