"""The in-silico drug screen: every single drug and pair on a patient's clones, ranked."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from mechanistic.egfr_network import EGFR_DRUG_PK, EGFR_DRUGS, egfr_drug_pk, egfr_network_model
from scenarios.drug_screen import NO_DRUG, screen, screen_model, steady_state_exposure, treatments

DRUGS = tuple(d.name for d in EGFR_DRUGS)


def test_erlotinib_steady_state_exposure_matches_its_clearance():
    # Css,avg = dose / (CL/F * interval) = 150 mg / (3.95 L/h * 24 h) (Lu et al. 2006 typical values)
    exposure = steady_state_exposure(egfr_drug_pk("erlotinib"), *EGFR_DRUG_PK["erlotinib"][:2])
    assert exposure == pytest.approx(150 / (3.95 * 24), rel=1e-3)


@pytest.fixture(scope="module")
def result():
    model = egfr_network_model(drugs=DRUGS)
    return screen_model(model, {d: EGFR_DRUG_PK[d][:2] for d in DRUGS}, fractions=[0.8, 0.1, 0.1])


def test_all_singles_and_pairs_are_screened_and_ranked(result):
    n = len(DRUGS)
    assert result.sizes == {"treatment": 1 + n + n * (n - 1) // 2, "clone": 3, "drug": n}
    assert bool(result.converged.all())
    assert sorted(result["rank"].values) == list(range(1, result.sizes["treatment"] + 1))
    mixed = result.mixed_net_growth_rate
    np.testing.assert_allclose(mixed, result.net_growth_rate @ result.fraction)
    # untreated: every clone grows at the full rate (0.01/day at proliferation ~0.99)
    untreated = result.net_growth_rate.sel(treatment=NO_DRUG)
    assert np.all(untreated > 0.009)


def test_ranking_reflects_mechanism(result):
    net = result.net_growth_rate
    # erlotinib: sensitive clone dies, T790M and MET-amplified clones keep growing
    assert net.sel(treatment="erlotinib", clone="sensitive") < -0.05
    assert net.sel(treatment="erlotinib", clone="T790M") > 0.009
    assert net.sel(treatment="erlotinib", clone="MET_amp") > 0.009
    # the best treatments suppress every clone; osimertinib + capmatinib covers T790M and MET
    best = result.worst_clone_net_growth_rate.sortby(result["rank"])
    assert best[0] < 0 and float(result.worst_clone_net_growth_rate.sel(treatment="osimertinib + capmatinib")) < -0.05
    assert result["rank"].sel(treatment="osimertinib + capmatinib") < result["rank"].sel(treatment="osimertinib")
    assert result["rank"].sel(treatment="osimertinib") < result["rank"].sel(treatment="erlotinib")


def test_non_converging_networks_are_flagged_not_returned():
    # an oscillating ring (steep Hill) unless the drug shuts its input off
    net = m.SignallingNetwork.from_rules("S = 1\nA = S & !C\nB = A\nC = B\nPROLIFERATION = A\nAPOPTOSIS = C")
    net = eqx.tree_at(lambda n: n.hill_n, net, jnp.full_like(net.hill_n, 8.0))
    panel = m.DrugPanel(net, [m.TargetedDrug("blocker", {"S": 1.0}, molecular_weight=500.0)])
    clone = m.personalise(net, panel, [], [])
    tumour = m.TumourModel(
        ("c",), "exponential", growth_rate=0.01, network=m.NetworkPhenotype(net, panel, [clone], apoptosis_rate=0.05)
    )
    with pytest.warns(UserWarning, match=r"no stable network state for 1 treatment\(s\): \['no drug'\]"):
        out = screen(tumour, {"blocker": 1.0})
    assert np.isnan(out.net_growth_rate.sel(treatment=NO_DRUG)).all()
    assert np.isfinite(out.net_growth_rate.sel(treatment="blocker")).all()
    assert out["rank"].sel(treatment=NO_DRUG) == 2  # ranked last


def test_bad_screen_input():
    model = egfr_network_model()
    with pytest.raises(ValueError, match=r"exposure given for drug\(s\) \['aspirin'\] not in the panel"):
        screen(model.tumour, {"aspirin": 1.0})
    with pytest.raises(
        ValueError, match=r"treatment \('erlotinib', 'osimertinib'\): no exposure for \['osimertinib'\]"
    ):
        screen(model.tumour, {"erlotinib": 1.0}, [("erlotinib", "osimertinib")])
    with pytest.raises(ValueError, match=r"exposure\['erlotinib'\]=-1.0 must be a finite concentration"):
        screen(model.tumour, {"erlotinib": -1.0})
    with pytest.raises(ValueError, match=r"fractions must be 3 non-negative numbers summing to 1"):
        screen(model.tumour, {"erlotinib": 1.0}, fractions=[0.5, 0.5, 0.5])
    assert treatments(["a", "b", "c"], pairs=False) == [(), ("a",), ("b",), ("c",)]
