"""The one-line regimen syntax: every drug with PK, dose plausibility, above-label marking, and
errors that quote the whole input."""

import pytest

from mechanistic.egfr_network import EGFR_DRUG_PK
from twin.diseases.egfr_nsclc.regimens import (
    STANDARD,
    RegimenSyntaxError,
    above_label,
    parse_regimen,
    standard_regimens,
)
from twin.dose_limits import DOSE_LIMITS, DoseLimitError

DAYS = 56


@pytest.mark.parametrize("drug", list(EGFR_DRUG_PK))
def test_every_drug_with_pk_parses_at_its_label_dose_and_is_not_marked(drug):
    label = DOSE_LIMITS[drug].label_mg
    regimen = parse_regimen(f"{drug}:{label:g}", DAYS)
    assert regimen.drugs == (drug,)
    assert above_label(regimen) == []


def test_standard_regimens_only_pulsed_is_above_label():
    marked = {r.description: above_label(r) for r in standard_regimens(DAYS)}
    assert len(marked) == len(STANDARD)
    pulsed = [lines for description, lines in marked.items() if "1200 mg" in description]
    assert len(pulsed) == 1 and len(pulsed[0]) == 1
    assert pulsed[0][0].startswith("erlotinib 1200 mg per dose is above the label dose (150 mg once daily")
    assert sum(bool(lines) for lines in marked.values()) == 1


def test_above_label_doses_are_allowed_and_marked_and_the_hard_limit_refused_unless_allowed():
    assert above_label(parse_regimen("erlotinib:300", DAYS)) != []
    assert above_label(parse_regimen("osimertinib:160>erlotinib:150", DAYS))[0].startswith("osimertinib 160 mg")
    with pytest.raises(DoseLimitError) as info:
        parse_regimen("erlotinib:15000", DAYS)
    message = str(info.value)
    assert message.startswith("regimen 'erlotinib:15000': 15000 mg per dose of erlotinib is above the hard limit of")
    assert "4000 mg" in message and "Milton" in message and "allow_above_limit" in message
    allowed = parse_regimen("erlotinib:15000", DAYS, allow_above_limit=True)
    assert "above the hard limit" in above_label(allowed)[0]
    with pytest.raises(DoseLimitError, match="did you mean 150 mg"):
        parse_regimen("erlotinib:150000", DAYS)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("osimertinib:80>erlotinib", "regimen 'osimertinib:80>erlotinib', part 'erlotinib': erlotinib needs a dose"),
        ("erlotnib:150", "regimen 'erlotnib:150': unknown drug 'erlotnib' (did you mean 'erlotinib'?)"),
        ("cisplatin:100", "regimen 'cisplatin:100': unknown drug 'cisplatin'; known: erlotinib, gefitinib"),
        ("erlotinib:lots", "regimen 'erlotinib:lots': the dose 'lots' is not a number of mg"),
        ("erlotinib:0", "regimen 'erlotinib:0': the dose '0' must be > 0 mg"),
        ("erlotinib:150:x:7", "regimen 'erlotinib:150:x:7': ON days 'x' must be a whole number"),
        ("erlotinib:150:28:7:1", "regimen 'erlotinib:150:28:7:1': 5 ':'-separated fields"),
        ("at50>osimertinib", "regimen 'at50>osimertinib': a switch joins two fixed regimens"),
        ("a>b>c", "regimen 'a>b>c': a switch joins two regimens (one '>')"),
    ],
)
def test_errors_quote_the_whole_input_and_say_what_is_wrong(text, expected):
    with pytest.raises(RegimenSyntaxError) as info:
        parse_regimen(text, DAYS)
    assert str(info.value).startswith(expected), str(info.value)
    assert "valid: a standard name" in str(info.value)


def test_names_are_case_insensitive_and_brand_names_accepted():
    assert parse_regimen("Gefitinib:250", DAYS).drugs == ("gefitinib",)
    assert parse_regimen("TAGRISSO:80", DAYS).drugs == ("osimertinib",)
    assert parse_regimen("Pulsed", DAYS).description == parse_regimen("pulsed", DAYS).description


def test_the_twins_model_takes_every_drug_with_pk_and_simulates_gefitinib():
    import jax.numpy as jnp
    import numpy as np

    import mechanistic as m
    from twin.diseases.egfr_nsclc.model import DRUGS, TwinModel, TwinModelError, solver_options
    from twin.record import VariantCall

    calls = [VariantCall("EGFR", "exon 19 deletion", 0.4), VariantCall("EGFR", "p.Thr790Met", 0.01)]
    model = TwinModel.from_mutations(calls)
    assert model.drugs == DRUGS
    assert model.with_drugs(["osimertinib", "erlotinib"]) is model
    extra = [d for d in EGFR_DRUG_PK if d not in DRUGS]
    full = model.with_drugs(extra)
    assert full.drugs == (*DRUGS, *extra)
    # the same responses as a model built with every drug at once
    direct = TwinModel.from_mutations(calls, drugs=full.drugs)
    np.testing.assert_allclose(full.ec50, direct.ec50, rtol=1e-9)
    np.testing.assert_allclose(full.efficacy, direct.efficacy, rtol=1e-9, atol=1e-12)
    assert TwinModel.from_json(full.to_json()) == full  # saved twins load
    with pytest.raises(TwinModelError, match=r"drugs \['aspirin'\] have no PK"):
        model.with_drugs(["aspirin"])

    gefitinib = model.with_drugs(["gefitinib"])
    params = {**{k: p.location for k, p in gefitinib.priors.items() if p.family != "halfnormal"}, **gefitinib.fixed}
    sol = m.solve(
        gefitinib.build(params),
        gefitinib.initial_state(params),
        parse_regimen("gefitinib:250", 28).doses,
        jnp.asarray([0.0, 28.0]),
        options=solver_options(),
    )
    assert bool(np.all(sol.ok))
    sensitive = np.asarray(sol.clones)[:, 0]
    assert sensitive[1] < 0.9 * sensitive[0]  # gefitinib kills the ex19del clone


def test_at50_states_its_baseline_pretreatment_by_default():
    pre, now = parse_regimen("at50", DAYS), parse_regimen("at50-now", DAYS)
    assert pre.baseline == "pretreatment" and now.baseline == "first_decision"
    assert "adaptive AT50 against the pre-treatment burden (hold below 50% of it, resume at 100%" in str(pre)
    assert "adaptive AT50 against the burden at the regimen's start" in str(now)
    assert parse_regimen("Erlotinib:100:AT50", DAYS).baseline == "pretreatment"
    assert parse_regimen("gefitinib:250:at50-now", DAYS).baseline == "first_decision"
    at30 = parse_regimen("erlotinib:150:at30", DAYS)  # AT-NN: hold below (100 - NN)% of the baseline
    assert "adaptive AT30" in str(at30) and "hold below 70% of it" in str(at30)
    for bad in ("at100", "at0", "atx", "at50-later"):
        with pytest.raises(RegimenSyntaxError, match=f"'{bad}' is not an adaptive rule; valid: atNN or atNN-now"):
            parse_regimen(f"erlotinib:150:{bad}", DAYS)
