"""``twin.validate``: the reference validations of ``twin validate`` pass on the shared refdata, report what they
compare, and fail (without raising) where a data file is missing or broken."""

import math
from pathlib import Path

import pytest

from twin.validate import VALIDATIONS, ValidationResult, run_validations


@pytest.fixture(scope="module")
def results(refdata) -> list[ValidationResult]:
    seen = []
    out = run_validations(refdata, progress=seen.append)
    assert seen == list(VALIDATIONS)
    for r in out:
        print(f"{r.name}: {r.metric} {r.value:g} ({r.tolerance}) {'PASS' if r.passed else 'FAIL'} {r.seconds:.1f} s")
    return out


def test_every_validation_passes_with_its_fields_filled(results):
    assert [r.name for r in results] == list(VALIDATIONS) and len(results) >= 3
    for r in results:
        assert r.passed, f"{r.name}: {r.metric} = {r.value} (tolerance {r.tolerance}); {r.detail}"
        assert all(isinstance(x, str) and x for x in (r.name, r.source, r.claim, r.metric, r.tolerance)), r
        assert math.isfinite(r.value) and 0 < r.seconds < 30, r
    by_name = {r.name: r for r in results}
    assert by_name["strobl2021_mtd_time_to_failure"].value == 42
    assert by_name["strobl2021_continuous_crossing_times"].value <= 0.05
    assert "strobl2021_at_lv/" in by_name["strobl2021_mtd_time_to_failure"].source


def test_missing_refdata_folder_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=r"nowhere.*should contain.*strobl2021_at_lv"):
        run_validations(missing)


def test_unknown_name_lists_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"'nope'.*valid names: .*strobl2021_mtd_time_to_failure"):
        run_validations(tmp_path, ["nope"])


def _copy_without(refdata: Path, root: Path, left_out: str) -> Path:
    """``root`` with symlinks to every subfolder of ``refdata`` but ``left_out``."""
    root.mkdir()
    for sub in refdata.iterdir():
        if sub.is_dir() and sub.name != left_out:
            (root / sub.name).symlink_to(sub, target_is_directory=True)
    return root


@pytest.mark.parametrize(
    "left_out, names, missing_file",
    [
        ("laleh2022_sld", ["laleh2022_gompertz_fit_quality", "laleh2022_series_counts"], "laleh2022_s1_studies1to4"),
        ("strobl2021_at_lv", ["strobl2021_mtd_time_to_failure", "strobl2021_continuous_crossing_times"], "strobl2021"),
    ],
)
def test_missing_subfolder_fails_naming_the_file(refdata, tmp_path, left_out, names, missing_file):
    root = _copy_without(refdata, tmp_path / "refdata", left_out)
    results = run_validations(root, names)
    assert [r.name for r in results] == names
    for r in results:
        assert not r.passed and math.isnan(r.value), r
        assert "missing file" in r.detail and f"{left_out}/" in r.detail and missing_file in r.detail, r.detail


def test_a_broken_file_fails_with_the_error(tmp_path):
    (tmp_path / "laleh2022_sld").mkdir()
    (tmp_path / "laleh2022_sld" / "laleh2022_s1_studies1to4_long.csv").write_text("a,b\n1,2\n")
    (r,) = run_validations(tmp_path, ["laleh2022_series_counts"])
    assert not r.passed and r.detail.startswith("error: KeyError"), r
