"""Reference validations behind ``twin validate [PATH]``: quick re-runs of the published-data checks of the test
suite against the shared reference-data folder (``../shared/refdata`` from the project root; its README.md lists
the folders).

Each validation reproduces (a subset of the assertions of) one validation test, with the test's thresholds; the
tests remain the authority and say where the numbers come from:

- ``strobl2021_mtd_time_to_failure`` and ``strobl2021_continuous_crossing_times``: the default-run tests of
  ``tests/studies/test_strobl2021.py`` (Strobl et al. 2021, 2-population Lotka-Volterra model under continuous
  therapy; the simulations are ``twin.studies.strobl2021``'s);
- ``laleh2022_gompertz_fit_quality``: the Gompertz and exponential part of ``test_all_laws_fit_well`` on the
  192-series subsample in ``tests/studies/test_laleh2022.py`` (the six-law fits of that test take ~40 s, mostly
  compilation, so only the two laws that Gompertz needs are fitted here, with the test's options and nested start);
- ``laleh2022_series_counts``: the series counts of the authors' preprocessing
  (``test_loader_reproduces_the_authors_preprocessing`` there).

Usage::

    from twin.validate import run_validations
    for r in run_validations(Path("../shared/refdata")):
        print(r.name, r.passed, r.value, r.tolerance)

:func:`run_validations` switches JAX to float64 (entry-point style; the library never does at import).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from pathlib import Path

import numpy as np

from twin.studies import strobl2021
from twin.studies.laleh2022 import FILE as LALEH_PATH
from twin.studies.laleh2022 import load_laleh, nested_starts

DEFAULT_REFDATA = Path("../shared/refdata")
"""Where ``twin validate`` looks without a PATH: relative to the current directory (the project root)."""


@dataclass(frozen=True)
class ValidationResult:
    """One reference validation: what was compared (``claim``) against which published data or number
    (``source``: paper and file in the refdata folder), the measured ``metric`` and its ``value``, the
    ``tolerance`` (as the corresponding test states it), whether it ``passed``, its wall time in ``seconds``
    (compilation included) and a ``detail`` (mismatching rows, a missing file, an error)."""

    name: str
    source: str
    claim: str
    metric: str
    value: float
    tolerance: str
    passed: bool
    seconds: float
    detail: str = ""


VALIDATIONS: dict[str, Callable[[Path], ValidationResult]] = {}
"""Name -> function of the refdata root, in the order :func:`run_validations` runs them."""


def _enable_x64() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)


def _validation(name: str, *, source: str, claim: str, metric: str, tolerance: str, files: Sequence[str]):
    """Register ``fn(refdata) -> (value, passed, detail)`` as validation ``name``. The wrapper returns a failed
    result naming the first missing file of ``files`` (paths relative to the refdata root) instead of calling
    ``fn``, turns an exception in ``fn`` into a failed result with the error as detail, and times the call."""

    def register(fn: Callable[[Path], tuple[float, bool, str]]) -> Callable[[Path], ValidationResult]:
        @wraps(fn)
        def run(refdata: Path) -> ValidationResult:
            start = time.perf_counter()
            refdata = Path(refdata)
            missing = [f for f in files if not (refdata / f).is_file()]
            if missing:
                value, passed, detail = math.nan, False, f"skipped: missing file {refdata / missing[0]}"
            else:
                _enable_x64()
                try:
                    value, passed, detail = fn(refdata)
                except Exception as e:  # a validation reports its failure, it does not stop the others
                    value, passed, detail = math.nan, False, f"error: {type(e).__name__}: {e}"
            return ValidationResult(
                name, source, claim, metric, float(value), tolerance, bool(passed), time.perf_counter() - start, detail
            )

        VALIDATIONS[name] = run
        return run

    return register


def run_validations(
    refdata: Path, names: Sequence[str] | None = None, *, progress: Callable[[str], None] | None = None
) -> list[ValidationResult]:
    """Run the validations ``names`` (default: all of :data:`VALIDATIONS`, in its order) on the refdata folder
    ``refdata``; ``progress(name)`` is called before each one starts. Switches JAX to float64.

    Raises ``FileNotFoundError`` when ``refdata`` is not a folder and ``ValueError`` for an unknown name. A
    validation whose data file is missing, or that raises, comes back failed (``passed=False``) with the reason
    in ``detail``; the others still run."""
    refdata = Path(refdata)
    if not refdata.is_dir():
        raise FileNotFoundError(
            f"reference-data folder {refdata} not found (resolved: {refdata.resolve()}); it should contain "
            "the shared refdata subfolders (strobl2021_at_lv/, laleh2022_sld/, ...; see its README.md)"
        )
    names = list(VALIDATIONS) if names is None else list(names)
    unknown = [n for n in names if n not in VALIDATIONS]
    if unknown:
        raise ValueError(
            f"unknown validation(s) {', '.join(map(repr, unknown))}; valid names: {', '.join(VALIDATIONS)}"
        )
    _enable_x64()
    results = []
    for name in names:
        if progress is not None:
            progress(name)
        results.append(VALIDATIONS[name](refdata))
    return results


# --- Strobl et al. 2021: 2-population Lotka-Volterra model under continuous therapy (MTD) ---------------------

STROBL = "strobl2021_at_lv"
STROBL_FOLDER = strobl2021.FOLDER.as_posix()


@_validation(
    "strobl2021_mtd_time_to_failure",
    source=f"Strobl et al. Cancer Res 2021;81:1135; {STROBL_FOLDER}/{' and '.join(strobl2021.FILES)}",
    claim="TimeToFailure (first day with burden > 1.2 n0) of every MTD row, continuous therapy",
    metric="rows reproduced",
    tolerance="all 42 rows exactly (18 + 24)",
    files=[f"{STROBL_FOLDER}/{f}" for f in strobl2021.FILES],
)
def strobl2021_mtd_time_to_failure(refdata: Path) -> tuple[float, bool, str]:
    import pandas as pd

    tables = [strobl2021.load_ttp_comparison(refdata / strobl2021.FOLDER / f).assign(file=f) for f in strobl2021.FILES]
    rows = pd.concat([strobl2021.mtd_time_to_failure(t) for t in tables], ignore_index=True)
    bad = rows[(rows.ours_ttf != rows.TimeToFailure) | ~rows.ours_ok]
    counts = [int((rows.file == f).sum()) for f in strobl2021.FILES]
    detail = f"{len(rows) - len(bad)} of {len(rows)} rows ({' + '.join(map(str, counts))})"
    if len(bad):
        shown = bad[["file", "InitialTumourSize", "RFrac", "cost", "TimeToFailure", "ours_ttf"]]
        detail += f"; not reproduced (first 5):\n{shown.head().to_string(index=False)}"
    return len(rows) - len(bad), bad.empty and counts == [18, 24], detail


@_validation(
    "strobl2021_continuous_crossing_times",
    source=f"Strobl et al. Cancer Res 2021;81:1135; {STROBL}/README.md (continuous MTD failure times, DOP853)",
    claim="continuous (not day-rounded) MTD crossing times of 1.2 n0 for 5 (n0, fR) cases",
    metric="max |error| (day)",
    tolerance="<= 0.05 day (README values given to 0.1 day)",
    files=[f"{STROBL}/README.md"],
)
def strobl2021_continuous_crossing_times(refdata: Path) -> tuple[float, bool, str]:
    n0, f_r, expected = (np.array(c, dtype=float) for c in zip(*strobl2021.CROSSINGS, strict=True))
    burden, ok = strobl2021.continuous_burden(n0, f_r)
    crossing = strobl2021.crossing_times(burden, n0)
    error = np.abs(crossing - expected)
    worst = float(error.max())
    detail = ", ".join(
        f"n0={a:g} fR={b:g}: {c:.2f} vs {e:.1f}" for a, b, c, e in zip(n0, f_r, crossing, expected, strict=True)
    )
    return worst, worst <= 0.05 and bool(np.all(ok)), detail


# --- Ghaffari Laleh et al. 2022: growth laws on clinical tumour diameters -----------------------------------------

LALEH_FILE = LALEH_PATH.as_posix()
LALEH_SOURCE = f"Ghaffari Laleh et al. PLOS Comput Biol 2022;18:e1009822 (S1 Dataset); {LALEH_FILE}"
LALEH_SUBSAMPLE = 192  # series, drawn with np.random.default_rng(2022) as in the test
LALEH_FIT_OPTIONS = {"n_starts": 8, "n_candidates": 1024}  # the test's, for both laws fitted here


@_validation(
    "laleh2022_gompertz_fit_quality",
    source=LALEH_SOURCE,
    claim=(
        f"Gompertz and exponential laws fit the {LALEH_SUBSAMPLE}-series subsample of studies 1-4 well "
        "(per-series R^2; the paper's 'several models provide a good fit')"
    ),
    metric="Gompertz median R^2, Up/Down series",
    tolerance=(
        ">= 0.9 (exponential >= 0.8); all series >= 0.65 for both; exponential median R^2 the lower; "
        "Gompertz SSE <= exponential SSE (1 + 1e-6) + 1e-25 per series"
    ),
    files=[LALEH_FILE],
)
def laleh2022_gompertz_fit_quality(refdata: Path) -> tuple[float, bool, str]:
    from inference.least_squares import fit_curve, metrics, predict
    from mechanistic.growth_curves import GROWTH_CURVES

    everything = load_laleh(refdata)
    pick = np.sort(np.random.default_rng(2022).choice(len(everything), LALEH_SUBSAMPLE, replace=False))
    d = everything.subset(pick)
    t, y, mask = d.time_weeks, d.volume, d.mask
    exp_law, gomp_law = GROWTH_CURVES["exponential"], GROWTH_CURVES["gompertz"]
    exp_fit = fit_curve(exp_law, t, y, mask, **LALEH_FIT_OPTIONS)
    nested = nested_starts("gompertz", {"exponential": exp_fit})  # Gompertz with a = 0 is the exponential
    gomp_fit = fit_curve(gomp_law, t, y, mask, init=nested, **LALEH_FIT_OPTIONS)
    r2 = {
        law: np.asarray(metrics(predict(GROWTH_CURVES[law], f, t), y, mask, GROWTH_CURVES[law].n_parameters).r2)
        for law, f in (("exponential", exp_fit), ("gompertz", gomp_fit))
    }
    monotone = d.trend != "Fluctuate"
    mono = {law: float(np.median(v[monotone])) for law, v in r2.items()}
    overall = {law: float(np.median(v)) for law, v in r2.items()}
    excess = np.asarray(gomp_fit.sse) - np.asarray(exp_fit.sse) * (1 + 1e-6) - 1e-25
    checks = {
        "Gompertz Up/Down >= 0.9": mono["gompertz"] >= 0.9,
        "exponential Up/Down >= 0.8": mono["exponential"] >= 0.8,
        "all series >= 0.65": min(overall.values()) >= 0.65,
        "exponential lower": overall["exponential"] < overall["gompertz"],
        "Gompertz never worse than exponential": bool(np.all(excess <= 0)),
    }
    detail = (
        f"median R^2 Up/Down ({int(monotone.sum())} series): Gompertz {mono['gompertz']:.3f}, exponential "
        f"{mono['exponential']:.3f}; all series: Gompertz {overall['gompertz']:.3f}, exponential "
        f"{overall['exponential']:.3f}"
    )
    failed = [k for k, ok in checks.items() if not ok]
    if failed:
        detail += f"; failed: {', '.join(failed)}"
    return mono["gompertz"], not failed, detail


LALEH_COUNTS = {"series (>= 1 numeric)": 1329, "series >= 6, strings as 0 (Fit.py)": 590, "series >= 6": 580,
                "Study1 >= 6": 38, "Study2 >= 6": 70, "Study3 >= 6": 199, "Study4 >= 6": 273}  # fmt: skip


@_validation(
    "laleh2022_series_counts",
    source=LALEH_SOURCE + " and its README.md",
    claim="the authors' preprocessing (Fit.py) gives the README's 1,329 series and 580 (590 with strings as 0) "
    "series with >= 6 diameters, max diameter 228 mm",
    metric="counts reproduced",
    tolerance=f"all {len(LALEH_COUNTS)} counts exactly, max diameter 228 mm",
    files=[LALEH_FILE],
)
def laleh2022_series_counts(refdata: Path) -> tuple[float, bool, str]:
    every = load_laleh(refdata, min_points=1)
    kept = load_laleh(refdata)
    max_ld = float(every.diameter_mm[every.mask].max())
    ours = {"series (>= 1 numeric)": len(every),
            "series >= 6, strings as 0 (Fit.py)": len(load_laleh(refdata, non_numeric="zero")),
            "series >= 6": len(kept)}  # fmt: skip
    studies, counts = np.unique(kept.study, return_counts=True)
    ours |= {f"{s} >= 6": int(n) for s, n in zip(studies, counts, strict=True)}
    matched = sum(ours.get(k) == v for k, v in LALEH_COUNTS.items())
    bad = {k: (ours.get(k), v) for k, v in LALEH_COUNTS.items() if ours.get(k) != v}
    detail = f"max diameter {max_ld:g} mm" + (f"; (ours, expected): {bad}" if bad else "")
    return matched, not bad and max_ld == 228.0, detail
