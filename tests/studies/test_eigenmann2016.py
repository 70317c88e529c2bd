"""Eigenmann et al. 2016 (Mol Cancer Ther 15(12): 3110-3119), erlotinib in the LXF A677 NSCLC
patient-derived xenograft (../shared/refdata/eigenmann2016_erlotinib_lxf_mouse): a hierarchical
PK -> tumour-growth-inhibition model calibrated across all dose groups predicts held-out mice. The
loader, model and workflow are ``twin.studies.eigenmann2016`` (set-up in that module's docstring)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m
from twin.studies.eigenmann2016 import FOLDER, GROUPS, concentration_and_auc, held_out_check, load_mice


def test_closed_form_pk_matches_the_library():
    p = {"ka": 20.0, "ke": 5.0, "v": 0.05}
    t = jnp.linspace(0.0, 6.0, 6001)
    doses = (jnp.array([0.0, 1.0, 2.0, 4.0]), jnp.array([0.7, 0.7, 0.7, 0.0]))
    c, auc = concentration_and_auc(p, t, *doses)
    table = m.concat([m.dose(float(d), "erlotinib", 0.7) for d in (0.0, 1.0, 2.0)])
    ref = m.OneCompartment(k=5.0, v=0.05, ka=20.0).concentration(m.pk.DoseRows.of(table, table.drug == 0), t)
    assert np.allclose(c, ref, rtol=1e-10, atol=1e-12)
    trapezoid = np.concatenate([[0.0], np.cumsum(np.diff(t) * (c[1:] + c[:-1]) / 2)])
    assert np.allclose(auc, trapezoid, rtol=1e-4, atol=1e-5)
    assert float(auc[-1]) == pytest.approx(3 * 0.7 / (0.05 * 5.0), rel=1e-6)  # total dose / clearance


def test_loader_reads_every_group_and_names_bad_input(refdata, tmp_path):
    mice = load_mice(refdata / FOLDER)
    assert [g for g in GROUPS if any(x.group == g for x in mice)] == list(GROUPS)
    assert len(mice) == 58  # 60 mice, two single-dose mice whose only sample was at the dose time dropped
    control = [x for x in mice if x.group == "control_growth"]
    assert len(control) == 8 and all(len(x.dose_time) == 0 for x in control)
    assert all(set(x.observations.observable) <= {"volume", "concentration"} for x in mice)
    high = load_mice(refdata / FOLDER / "lxf_high_erlotinib_dose.csv")
    assert [x.observations.patient for x in high] == [x.observations.patient for x in mice if x.group == high[0].group]
    with pytest.raises(FileNotFoundError, match="lxf_nowhere.csv not found"):
        load_mice(tmp_path / "lxf_nowhere.csv")
    (tmp_path / "lxf_short.csv").write_text("ID,Time,Value\n1,0,0.1\n")
    with pytest.raises(ValueError, match=r"lxf_short.csv lacks columns \['Observable'\]"):
        load_mice(tmp_path / "lxf_short.csv")
    (tmp_path / "lxf_text.csv").write_text("ID,Time,Observable,Value\n1,0,Tumour volume,0.1\n1,two,Tumour volume,0.2\n")
    with pytest.raises(ValueError, match=r"lxf_text.csv, line 3, column Time: 'two' is not a number"):
        load_mice(tmp_path / "lxf_text.csv")


@pytest.mark.slow
def test_hierarchical_pk_tgi_predicts_held_out_mice(refdata):
    check = held_out_check(load_mice(refdata / FOLDER), jax.random.key(2016), seed=0)
    assert not check.problems, check.problems
    print(
        f"90% predictive interval coverage of {check.total} held-out volumes: {check.coverage:.1%}; "
        f"median interval width (hi/lo) {np.median(check.interval_widths):.1f}x; "
        f"kappa median {check.kappa_median:.3g} L/(mg day)"
    )
    assert 0.80 <= check.coverage <= 0.98  # nominal 90%; binomial sd at ~100 points is ~3 points
