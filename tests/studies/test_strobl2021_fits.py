"""Strobl et al. 2021: the Bruchovsky fit summaries (shared/refdata/strobl2021_at_lv/bruchovsky_fits)
with ``twin.studies.strobl2021_fits``: every file loads; the model's definitions hold in every row
(to 1e-12 of their scale; observed <= 4e-15); the fit statistics imply integer PSA counts and data
sums of squares that agree between the variants; the catalogue model's low-density rates are the
file's; the README's medians; the empirical population's moments and its draws; bad files."""

import jax
import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from twin.studies.strobl2021_fits import (
    FOLDER,
    PARAMS,
    VARIANTS,
    catalogue_rates,
    check_fit_identities,
    cross_variant_checks,
    draw_population,
    empirical_population,
    fit_statistics,
    free_params,
    load_fits,
    variant_file,
)

IDENTITY_TOLERANCE = 1e-12  # relative to each identity's scale (n0, rS, the value or the PSA count)


@pytest.fixture(scope="module")
def tables(refdata):
    return {v: load_fits(refdata / FOLDER / variant_file(v)) for v in VARIANTS}


def test_every_file_loads_with_the_variant_free_parameters(tables):
    patients = set(tables["4params"].PatientId)
    for variant, fits in tables.items():
        assert len(fits) == 67 and set(fits.PatientId) == patients
        assert len(free_params(fits)) == VARIANTS[variant], variant
        assert fits.attrs["path"].endswith(variant_file(variant))


@pytest.mark.parametrize("variant", VARIANTS)
def test_model_identities_hold_in_every_row(tables, variant):
    errors = check_fit_identities(tables[variant])
    assert len(errors) == 12  # S0, R0, rR, dS, dR, rS, dD, k, D, DMax, theta, the PSA count
    bad = errors[errors.max_rel_error > IDENTITY_TOLERANCE]
    assert bad.empty, f"{variant}: identities violated:\n{bad}"


def test_fit_statistics_agree_between_variants(tables):
    """n and SStot depend on the PSA data alone; NCycles / TimeInTrial / Progression are trial facts."""
    n = fit_statistics(tables["4params"]).n_obs
    assert n.round().min() == 25 and n.round().max() == 83
    out = cross_variant_checks(tables)
    assert out["same_patients"] and out["n_obs_differ"] == 0
    assert out["ss_tot_max_rel_diff"] < 1e-12
    assert out["trial_facts_differ"] == {"NCycles": 0, "TimeInTrial": 0, "Progression": 0}
    nested = out["nested_violations"]
    assert set(nested) == {
        ("4params", "3params_noCost"),
        ("4params", "3params_noTurnover"),
        ("3params_noCost", "2params_noCost_noTurnover"),
        ("3params_noTurnover", "2params_noCost_noTurnover"),
    }
    for pair, (count, worst) in nested.items():
        if pair == ("3params_noTurnover", "2params_noCost_noTurnover"):
            assert count == 2 and worst < 1.001  # two slightly worse local optima of the larger model
        else:
            assert count == 0 and worst < 1 + 1e-6, pair


def test_catalogue_model_has_the_files_rates(tables):
    rates = catalogue_rates(tables["4params"])
    assert len(rates) == 67 and rates.ok.all()
    rs = 0.027
    assert np.max(np.abs(rates.ours_sensitive - rates.file_sensitive)) / rs < 1e-8
    assert np.max(np.abs(rates.ours_resistant - rates.file_resistant)) / rs < 1e-8


def test_readme_medians_of_the_4params_file(tables):
    fits = tables["4params"]
    for column, shown, unit in (("cost", 0.57, 0.01), ("turnover", 0.30, 0.01), ("n0", 0.62, 0.01),
                                ("fR", 0.014, 0.001), ("RSquared", 0.73, 0.01)):  # fmt: skip
        assert abs(fits[column].median() - shown) <= unit / 2, column


def test_population_is_the_sample_moments_of_the_clipped_logits(tables):
    fits = tables["4params"]
    pop = empirical_population(fits)
    assert pop.names == PARAMS and pop.n_patients == 67
    bounds = {"n0": (1e-3, 1 - 1e-3), "fR": (1e-5, 1 - 1e-3), "cost": (1e-3, 1 - 1e-3), "turnover": (1e-3, 1 - 1e-3)}
    x = np.stack([logit(np.clip(fits[p].to_numpy(), *bounds[p])) for p in PARAMS], axis=1)
    np.testing.assert_allclose(pop.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(pop.cov, np.cov(x.T, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(pop.sd, x.std(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(pop.corr, np.corrcoef(x.T), rtol=1e-12, atol=1e-14)
    assert dict(pop.clipped) == {"n0": (0, 4), "fR": (0, 0), "cost": (4, 4), "turnover": (0, 0)}
    with pytest.raises(ValueError, match=r"\['cost', 'turnover'\] are constant"):
        empirical_population(tables["2params_noCost_noTurnover"])
    assert empirical_population(tables["3params_noCost"], free_params(tables["3params_noCost"])).names == (
        "n0",
        "fR",
        "turnover",
    )


def test_draws_reproduce_the_population_moments_for_several_seeds(tables):
    pop = empirical_population(tables["4params"])
    n = 20_000
    se_mean = pop.sd / np.sqrt(n)
    se_cov = np.sqrt((np.outer(pop.sd**2, pop.sd**2) + pop.cov**2) / n)  # normal-theory SE of a covariance
    means = []
    for seed in range(5):
        draws = draw_population(pop, jax.random.key(seed), n)
        assert set(draws) == set(PARAMS) and all(d.shape == (n,) for d in draws.values())
        x = np.stack([logit(np.asarray(draws[q])) for q in PARAMS], axis=1)
        assert np.all(np.isfinite(x))
        means.append(x.mean(axis=0))
        assert np.all(np.abs(x.mean(axis=0) - pop.mean) < 5 * se_mean), seed
        assert np.all(np.abs(np.cov(x.T) - pop.cov) < 5 * se_cov), seed
    spread = np.ptp(np.array(means), axis=0)
    assert np.all(spread < 10 * se_mean) and np.all(spread > 0)  # seeds differ, within the margins' reach
    again = draw_population(pop, jax.random.key(0), n)
    assert all(np.array_equal(again[q], draw_population(pop, jax.random.key(0), n)[q]) for q in PARAMS)


def test_bad_files_name_file_line_and_column(refdata, tmp_path):
    source = refdata / FOLDER / variant_file("4params")
    table = pd.read_csv(source, dtype=str, keep_default_na=False)
    with pytest.raises(FileNotFoundError, match="nowhere.csv not found"):
        load_fits(tmp_path / "nowhere.csv")
    table.drop(columns=["cost"]).to_csv(tmp_path / "no_cost.csv", index=False)
    with pytest.raises(ValueError, match=r"no_cost.csv lacks columns \['cost'\]"):
        load_fits(tmp_path / "no_cost.csv")
    patient = table.PatientId[3]
    for name, column, value, message in (
        ("text.csv", "fR", "abc", "'abc' is not a finite number"),
        ("empty.csv", "turnover", "", "empty"),
        ("fr.csv", "fR", "1.5", r"1.5 is not in \(0, 1\)"),
        ("cycles.csv", "NCycles", "2.5", "'2.5' is not an integer"),
    ):
        bad = table.copy()
        bad.loc[3, column] = value
        bad.to_csv(tmp_path / name, index=False)
        with pytest.raises(ValueError, match=rf"{name}, line 5 \(PatientId {patient}\), column {column}: {message}"):
            load_fits(tmp_path / name)
