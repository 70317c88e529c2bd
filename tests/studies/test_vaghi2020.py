"""Vaghi et al. 2020 (PLOS Comput Biol 16(2): e1007178), breast (MDA-MB-231) volume data in
../shared/refdata/vaghi2020_benzekry2014_mouse: the reduced Gompertz model with a population prior
back-predicts each animal's tumour age from its last 3 measurements far better than per-animal
likelihood maximisation (paper: mean relative error 12.2% vs 78%). The workflow is
``twin.studies.vaghi2020.cross_validated_age_errors`` (set-up in that module's docstring)."""

import numpy as np
import pytest

from twin.studies.vaghi2020 import cross_validated_age_errors, load_animals


def test_loader_reads_the_animals_and_names_a_missing_file(refdata, tmp_path):
    animals = load_animals(refdata)
    assert len(animals) > 10 and all((a.Observation > 0).all() and a.Time.is_monotonic_increasing for a in animals)
    with pytest.raises(FileNotFoundError, match="nowhere.txt not found"):
        load_animals(tmp_path / "nowhere.txt")
    (tmp_path / "bad.txt").write_text("ID\tDay\n1\t2\n")
    with pytest.raises(ValueError, match=r"lacks columns \['Observation', 'Time'\]"):
        load_animals(tmp_path / "bad.txt")


@pytest.mark.slow
def test_population_prior_back_predicts_tumour_age(refdata):
    errors = cross_validated_age_errors(load_animals(refdata))
    assert not errors.problems, errors.problems
    bayes, ml = np.mean(errors.population_prior), np.mean(errors.likelihood_maximisation)
    print(
        f"mean relative error of the back-predicted age: population prior {bayes:.1%}, likelihood maximisation {ml:.1%}"
    )
    # paper: 12.2% (reduced Gompertz + population prior) vs 78% (likelihood maximisation); ours within
    # a factor 2 of the paper's 12.2% and at least 3x better than likelihood maximisation
    assert bayes < 0.25 and ml > 3 * bayes
