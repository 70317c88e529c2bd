"""Drugs given together act through the clones' networks in the twin's forecast (not only in the
screen): a MET-amplified clone escapes erlotinib and is controlled by erlotinib + capmatinib, as
Engelman et al. (Science 2007;316:1039) reported for HCC827 GR cells (gefitinib + PHA-665752), and
osimertinib + capmatinib controls a T790M + MET-amplified clone; single drugs are unchanged."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from twin.diseases.egfr_nsclc.model import TwinModel, solver_options
from twin.diseases.egfr_nsclc.regimens import parse_regimen
from twin.diseases.regimen_syntax import RegimenSyntaxError
from twin.record import VariantCall

DRUGS = ("erlotinib", "osimertinib", "capmatinib")
DAYS = 182


@pytest.fixture(scope="module")
def model():
    calls = [
        VariantCall("EGFR", "L858R", 0.4),
        VariantCall("EGFR", "T790M", 0.02),
        VariantCall("MET", "amplification", 0.04),
    ]
    base = TwinModel.from_mutations(calls, DRUGS)
    both = ("EGFR L858R", "EGFR T790M", "MET amplification")
    return dataclasses.replace(
        base, clones=(*base.clones[:3], "T790M + MET", base.clones[3]),
        clone_variants=(*base.clone_variants[:3], both, base.clone_variants[3]),
        fixed_fractions=(*base.fixed_fractions, 0.01),
    ).with_responses(DRUGS)  # fmt: skip


def _clones(model, text):
    params = {**{k: p.location for k, p in model.priors.items()}, **model.fixed}
    doses = parse_regimen(text, DAYS).doses.with_drugs(model.drugs)
    sol = m.solve(model.build(params), model.initial_state(params), doses, jnp.asarray([0.0, DAYS]),
                  options=solver_options())  # fmt: skip
    assert bool(np.all(sol.ok))
    return dict(zip(model.clones, np.asarray(sol.clones)[1] / np.asarray(sol.clones)[0], strict=True))


def test_met_amplified_clone_escapes_erlotinib_and_is_controlled_with_capmatinib(model):
    alone = _clones(model, "erlotinib:150")
    together = _clones(model, "erlotinib:150+capmatinib:400")
    assert alone["MET amplification"] > 1.0  # grows on erlotinib
    assert together["MET amplification"] < 0.5  # shrinks with the MET inhibitor added
    assert alone["sensitive"] < 0.5 and together["sensitive"] < 0.5
    assert _clones(model, "capmatinib:400")["MET amplification"] > 1.0  # the MET inhibitor alone does nothing
    assert together["T790M"] > 1.0  # T790M still escapes erlotinib


def test_osimertinib_with_capmatinib_controls_t790m_with_met_amplification(model):
    assert _clones(model, "osimertinib:80")["T790M + MET"] > 1.0
    assert _clones(model, "osimertinib:80+capmatinib:400")["T790M + MET"] < 0.5


def test_single_drugs_are_the_additive_model_and_combinations_are_not(model):
    additive = dataclasses.replace(model, combination_efficacy=())  # a twin saved before combinations
    for text in ("erlotinib:150", "osimertinib:80"):
        np.testing.assert_allclose(list(_clones(model, text).values()), list(_clones(additive, text).values()),
                                   rtol=1e-12)  # fmt: skip
    # together, erlotinib and osimertinib no longer add up to more than either's maximal kill
    both, summed = _clones(model, "erlotinib:150+osimertinib:80"), _clones(additive, "erlotinib:150+osimertinib:80")
    assert summed["sensitive"] < 0.1 * both["sensitive"]


def test_saved_models_keep_their_combination_table(model):
    assert TwinModel.from_json(model.to_json()) == model
    assert len(model.combination_efficacy[0]) == 2 ** len(DRUGS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("erlotinib:150+erlotinib:100", r"names each drug once; \['erlotinib'\] twice"),
        ("erlotinib:150:at50+capmatinib:400", "joins fixed regimens"),
        ("erlotinib:150+", "the drug name is missing"),
    ],
)
def test_combination_syntax_errors(text, expected):
    with pytest.raises(RegimenSyntaxError, match=expected):
        parse_regimen(text, DAYS)


def test_combination_syntax_gives_both_drugs_and_a_switch_to_one_says_it_is_not_supported():
    assert parse_regimen("erlotinib:150+capmatinib:400", DAYS).drugs == ("erlotinib", "capmatinib")
    with pytest.raises(RegimenSyntaxError, match="switches between two single-drug regimens"):
        parse_regimen("erlotinib:150+capmatinib:400>osimertinib:80", DAYS)
