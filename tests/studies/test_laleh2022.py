"""Ghaffari Laleh et al. 2022 (PLOS Comput Biol 18:e1009822), qualitative reproduction on the S1
Dataset, studies 1-4 (shared/refdata/laleh2022_sld; 580 series with >= 6 numeric diameters).

Protocol (the authors' Fit.py, KatherLab/ImmunotherapyModels): V = 0.52 LD^3 / (0.52 max LD^3),
t = ceil(day / 7) weeks (t <= 0 -> 0.1); each law fitted per series with v0 = V(first scan)
fitted; forecasting = fit on all but the last 3 scans (Fit.py's commented ``dimension[0:-3]``),
error of the prediction at the held-out scans (the authors score the last one,
``abs(content[i][-1] - prediction[i][-1])``).

Claims checked (abstract): (a) several laws fit well and "the Gompertz model provides the best
balance between goodness of fit and number of parameters" (AIC); (b) "when fitting to early
treatment data, the general Bertalanffy and Gompertz models yield the lowest mean absolute error
to forecasted data". What we find and test (numbers: the tables printed by the slow tests, and the
final report of the change that added this file):

- (a) holds with the Gaussian AIC ``n ln(SSE/n) + 2k``: Gompertz is within 2 AIC units of the
  best law in the most series (90%), has the lowest median AIC (by 0.15 over the classic
  Bertalanffy) and the lowest mean AIC in the most (arm x trend) rows; it is not the single best law
  most often (classic Bertalanffy 160, logistic 157, Gompertz 134 of 563 series). With the authors'
  ``2k - 2 ln(SSE)`` the claim cannot hold: that formula falls as the fit worsens, so the
  3-parameter law with the largest SSE (the exponential) wins; the slow test asserts that too.
- (b) holds in its family sense: the general Gompertz forecasts best and the general Bertalanffy
  and Gompertz come next (with the classic Bertalanffy), ahead of the logistic and exponential, on
  the geometric mean of the errors. The arithmetic mean in normalised volume is decided by three
  tumours that grow to ~the dataset maximum after the training scans (there the classic
  Bertalanffy, alone, stays lower), so it is printed, not asserted.

The default run uses a fixed subsample of 192 series (compilation of the six fits dominates its
time); ``-m slow`` runs all 580 with the stricter claims.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from inference.least_squares import aic, aic_laleh, metrics
from mechanistic.growth_curves import GROWTH_CURVES, general_gompertz
from twin.studies.laleh2022 import (
    FILE,
    HOLDOUT,
    LAWS,
    GrowthLawComparison,
    LalehSeries,
    by_law,
    fit_growth_laws,
    geometric_mean,
    load_laleh,
    trend,
    weeks,
)

SUBSAMPLE = 192  # series in the default run: 3 chunks of fit_curve's batch_size 64


@pytest.fixture(scope="module")
def laleh(refdata) -> LalehSeries:
    return load_laleh(refdata)


@pytest.fixture(scope="module")
def subsample(laleh) -> GrowthLawComparison:
    pick = np.sort(np.random.default_rng(2022).choice(len(laleh), SUBSAMPLE, replace=False))
    result = GrowthLawComparison.run(laleh.subset(pick))
    print("\n" + result.report())
    return result


@pytest.fixture(scope="module")
def everything(laleh) -> GrowthLawComparison:
    result = GrowthLawComparison.run(laleh)
    print("\n" + result.report())
    return result


BOTH = ["subsample", pytest.param("everything", marks=pytest.mark.slow)]


# --- the laws and the fitter -------------------------------------------------------------------

CHECK_TIMES = np.array([0.0, 0.5, 6.0, 12.0, 18.0, 24.0, 36.0, 60.0, 100.0])  # weeks


def _draw_theta(law: str, rng, max_rate: float = 3.0) -> list[float]:
    """Parameters with plateaus, decays and growths in the range of the normalised Laleh data;
    rates log-uniform in [1e-3, max_rate] per week."""
    v0 = 10 ** rng.uniform(-5, -1)
    plateau = v0 * 10 ** rng.uniform(-1.5, 1.5)
    rate, rate2 = 10 ** rng.uniform(-3, np.log10(max_rate), size=2)
    lam = rng.uniform(2 / 3, 1)
    return {
        "exponential": [rate, rate2, v0],
        "logistic": [rate, plateau, v0],
        "classic_bertalanffy": [rate * plateau ** (1 / 3), rate, v0],
        "general_bertalanffy": [rate * plateau ** (1 - lam), rate, lam, v0],
        "gompertz": [rate, rate * np.log(plateau), v0],
        "general_gompertz": [rate, rate * np.log(plateau), lam, v0],
    }[law]


@pytest.mark.parametrize("law", LAWS)
def test_solutions_solve_their_odes(law):
    """Each law's solution against LSODA (rtol 1e-11) on its right-hand side, 12 draws. Closed
    forms: 1e-7 relative (measured <= 4e-9); general Gompertz RK4 with the default 4 substeps per
    gap: 2e-3 (measured 3.4e-4 worst over 200 draws), and 16 substeps at least 20x closer."""
    rng = np.random.default_rng(7)
    curve = GROWTH_CURVES[law]
    solution = jax.jit(lambda t, th: curve(t, th))
    fine = jax.jit(lambda t, th: general_gompertz(t, th[:-1], th[-1], substeps=16))
    worst, worst_fine = 0.0, 0.0
    for _ in range(12):
        theta = np.asarray(_draw_theta(law, rng, 0.5))
        ref = solve_ivp(
            lambda _, v, p=theta[:-1]: np.asarray(curve.rhs(v, p)),
            (0, CHECK_TIMES[-1]),
            [theta[-1]],
            t_eval=CHECK_TIMES,
            method="LSODA",
            rtol=1e-11,
            atol=1e-40,
        ).y[0]
        worst = max(worst, np.max(np.abs(np.asarray(solution(CHECK_TIMES, theta)) / ref - 1)))
        if law == "general_gompertz":
            worst_fine = max(worst_fine, np.max(np.abs(np.asarray(fine(CHECK_TIMES, theta)) / ref - 1)))
    if law == "general_gompertz":
        assert worst < 2e-3 and worst_fine < worst / 20, (worst, worst_fine)
    else:
        assert worst < 1e-7, worst


@pytest.mark.parametrize("law", LAWS)
def test_scaling_symmetries_and_jax_transforms(law):
    """``rescale`` multiplies the curve by c and ``retime`` speeds it up by s (to 1e-12); the curve
    vmaps under jit, and its forward- and reverse-mode derivatives agree with each other and with
    central differences (step 1e-6 relative; rtol 1e-4)."""
    curve = GROWTH_CURVES[law]
    theta = jnp.asarray(_draw_theta(law, np.random.default_rng(3), 0.5))
    t = jnp.asarray(CHECK_TIMES)
    k = curve.n_parameters
    steps = 1e-6 * jnp.maximum(jnp.abs(theta), 1e-3)
    shifted = jnp.concatenate([theta + jnp.diag(steps), theta - jnp.diag(steps)])

    @jax.jit
    def probe(theta):
        many = jax.vmap(curve, (None, 0))
        scaled = jnp.stack([curve.rescale(theta, 7.0), curve.retime(theta, 2.5)])
        jac = jax.jacfwd(lambda th: curve(t, th))(theta)
        grad = jax.grad(lambda th: jnp.log(curve(t, th)).sum())(theta)
        return curve(t, theta), many(t, scaled), curve(2.5 * t, theta), many(t, shifted), jac, grad

    v, scaled, faster, around, jac, grad = probe(theta)
    np.testing.assert_allclose(scaled[0], 7.0 * v, rtol=1e-12)
    np.testing.assert_allclose(scaled[1], faster, rtol=1e-12)
    np.testing.assert_allclose(grad, (jac / v[:, None]).sum(0), rtol=1e-8)
    fd = (around[:k] - around[k:]) / (2 * steps[:, None])
    np.testing.assert_allclose(jac.T, fd, rtol=1e-4, atol=1e-6 * float(jnp.max(jnp.abs(jac))))


def test_metrics_and_aic_formulas():
    """R^2, MAE, RMSE and both AICs on a hand-checked case; the authors' AIC falls as SSE grows."""
    y = jnp.array([[1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 0.0]])
    mask = jnp.array([[True] * 4, [True, True, True, False]])  # row 2: constant once masked
    pred = jnp.array([[1.0, 2.0, 3.0, 6.0], [5.0, 5.0, 5.0, 9.0]])
    m = metrics(pred, y, mask, n_parameters=3)
    np.testing.assert_allclose(m.r2, [1 - 4 / 5, 1.0])
    np.testing.assert_allclose(m.mae, [0.5, 0.0])
    np.testing.assert_allclose(m.rmse, [1.0, 0.0])
    np.testing.assert_allclose(m.aic[0], 4 * np.log(4 / 4) + 6)
    np.testing.assert_allclose(m.aic_laleh[0], 6 - 2 * np.log(4))
    assert float(aic(2.0, 8, 3)) < float(aic(4.0, 8, 3))  # Gaussian AIC prefers the better fit ...
    assert float(aic_laleh(2.0, 3)) > float(aic_laleh(4.0, 3))  # ... the authors' prefers the worse


def test_loader_reproduces_the_authors_preprocessing(laleh, refdata):
    """Counts from the file (and the README): 1,329 series, 580 with >= 6 numeric diameters, 590
    when strings count as 0 as in Fit.py; max diameter 228 mm normalises V to at most 1."""
    assert len(laleh) == 580
    assert load_laleh(refdata / FILE).keys == laleh.keys  # a file in the format, or the refdata folder
    assert dict(zip(*np.unique(laleh.study, return_counts=True), strict=True)) == {
        "Study1": 38,
        "Study2": 70,
        "Study3": 199,
        "Study4": 273,
    }
    assert len(load_laleh(refdata, non_numeric="zero")) == 590
    assert len(load_laleh(refdata, min_points=1)) == 1329
    assert all(isinstance(p, str) and len(p) > 10 for _, p in laleh.keys) and len(set(laleh.keys)) == 580
    assert laleh.volume_scale == pytest.approx(0.52 * 228.0**3)
    assert 0.5 < laleh.volume.max() <= 1.0  # the 228 mm lesion is in a series with < 6 scans
    np.testing.assert_array_equal(weeks([-48, 0, 1, 7, 8, 758]), [0.1, 0.1, 1, 1, 2, 109])
    np.testing.assert_array_equal(laleh.mask.sum(1), laleh.n_points)
    assert np.all(np.diff(laleh.day, axis=1) >= 0) and np.all(np.diff(laleh.time_weeks, axis=1) >= 0)
    np.testing.assert_allclose(laleh.volume, np.where(laleh.mask, laleh.diameter_mm**3 / 228.0**3, 0), rtol=1e-12)
    assert [trend(x) for x in ([1, 2, 2], [3, 1, 1.4], [1, 3, 2.5], [2, 3, 1])] == ["Up", "Down", "Up", "Fluctuate"]
    train, test = laleh.holdout_last(HOLDOUT)
    np.testing.assert_array_equal(test.sum(1), HOLDOUT)
    np.testing.assert_array_equal(train | test, laleh.mask)
    assert not np.any(train & test)


def test_fitter_recovers_curves_of_each_law(subsample):
    """Noise-free series simulated from each law (32 per law on the subsample's own times, so
    the compiled fits are reused) are fitted exactly by their own law: relative RMSE < 1e-5 of the
    series maximum in >= 90% of them (a global search can still miss a few), and never worse than
    1% (the nested starts and the multistart)."""
    d = subsample.data
    rng = np.random.default_rng(11)
    source = np.repeat(np.arange(len(LAWS)), len(d) // len(LAWS))
    t_rel = d.time_weeks - d.time_weeks[:, :1]
    y = np.stack(
        [
            np.asarray(GROWTH_CURVES[LAWS[s]](t_rel[i], np.asarray(_draw_theta(LAWS[s], rng, 0.3))))
            for i, s in enumerate(source)
        ]
    )
    y = np.where(d.mask, y, 0.0)
    fits = fit_growth_laws(d.time_weeks, y, d.mask)
    sse_own = np.array([float(fits[LAWS[s]].sse[i]) for i, s in enumerate(source)])
    rel = np.sqrt(sse_own / d.n_points) / np.abs(y).max(1)
    for k, law in enumerate(LAWS):
        mine = rel[source == k]
        assert np.mean(mine < 1e-5) >= 0.9 and mine.max() < 1e-2, (law, np.sort(mine)[-4:])


# --- the paper's claims -----------------------------------------------------------------------


@pytest.mark.parametrize("run", BOTH)
def test_all_laws_fit_well(run, request):
    """(a) "Several models provide a good fit". Per series R^2 (Fit.py's r2_score). On series with
    a monotone trend (Up/Down: 316 of 580) the medians over all series are 0.88 (exponential) and
    0.94-0.96 (the others); required: >= 0.85 and >= 0.9 (the "~0.9+" of the paper's R^2 heatmap
    rows with a clear trend), >= 0.8 for the exponential on the subsample (its median there falls
    below 0.85 in 6% of random 192-series subsamples). 'Fluctuate' series are mostly measurement
    noise (median R^2 ~0.5), so over all series the requirement is a median >= 0.65. The
    exponential, nested in the logistic, Gompertz and general Bertalanffy laws, must have the lowest
    median R^2, and each general law must fit every series at least as well as its special cases
    (SSE within 1e-6 relative; the nested starts make this hold unless LM fails)."""
    r = request.getfixturevalue(run)
    monotone = np.median(r.r2[r.data.trend != "Fluctuate"], axis=0)
    assert monotone[0] >= (0.85 if run == "everything" else 0.8), by_law(monotone)
    assert np.all(monotone[1:] >= 0.9), by_law(monotone)
    assert np.all(np.median(r.r2, axis=0) >= 0.65), by_law(np.median(r.r2, axis=0))
    assert np.argmin(np.median(r.r2, axis=0)) == 0
    sse = dict(zip(LAWS, r.sse.T, strict=True))
    nested = [("general_bertalanffy", "exponential"), ("general_bertalanffy", "classic_bertalanffy")]
    for general, special in [*nested, ("general_gompertz", "gompertz"), ("gompertz", "exponential")]:
        excess = sse[general] - sse[special] * (1 + 1e-6) - 1e-25
        assert np.all(excess <= 0), (general, special, np.sort(excess)[-3:])


@pytest.mark.parametrize("run", BOTH)
def test_gompertz_best_balance_of_fit_and_parameters(run, request):
    """(a) Gompertz best by AIC (n ln(SSE/n) + 2k). Per series, the laws with dAIC <= 2 from the
    best have substantial support (Burnham & Anderson); Gompertz has it most often: 0.90 of all
    series against <= 0.83 for every other law (margin required: 0.03). On all series also: the
    lowest median AIC, and the lowest mean AIC in more (arm x trend) rows than any other law (the
    layout of the paper's Fig 3C: 15 of 35 rows, logistic 11)."""
    r = request.getfixturevalue(run)
    share = (r.delta_aic <= 2).mean(axis=0)
    others = np.delete(share, LAWS.index("gompertz"))
    assert share[LAWS.index("gompertz")] >= others.max() + 0.03, by_law(share)
    if run == "everything":
        median = np.median(r.aic[r.comparable], axis=0)
        assert np.argmin(median) == LAWS.index("gompertz"), by_law(median)
        winners = r.arm_trend_aic_winners()
        assert winners.index[0] == "gompertz" and winners.iloc[0] > winners.iloc[1], winners.to_dict()


@pytest.mark.slow
def test_the_authors_aic_prefers_worse_fits(everything):
    """With Fit.py's ``2k - 2 ln(SSE)`` the lowest value goes to the worst-fitting 3-parameter law:
    the exponential wins most series and Gompertz (whose fit is never worse than the exponential,
    which it nests) essentially none (< 2%), so the paper's Gompertz claim needs the Gaussian AIC."""
    best = np.bincount(np.argmin(everything.aic_laleh[everything.comparable], axis=1), minlength=6)
    assert np.argmax(best) == 0 and best[LAWS.index("gompertz")] < 0.02 * best.sum(), by_law(best)


@pytest.mark.parametrize("run", BOTH)
def test_general_laws_forecast_best(run, request):
    """(b) Forecast from all but the last 3 scans. Errors span six decades (volume ~ diameter^3),
    so laws are compared on the geometric mean of each series' error at the last scan (the
    authors' score) and of the mean error over the 3 held-out scans. On all series (x 1e-3, last
    scan): general Gompertz 0.230, general Bertalanffy 0.260, Gompertz 0.261, classic Bertalanffy
    0.261, logistic 0.315, exponential 0.356. Asserted: the general Gompertz is lowest, and the
    general Bertalanffy and Gompertz are below the logistic and the exponential (each holds in
    >= 96% of random 192-series subsamples); on all series with margins (>= 5% and >= 10%), and
    the exponential is the worst forecaster."""
    r = request.getfixturevalue(run)
    margin = 1.0 if run == "subsample" else 1.05, 1.0 if run == "subsample" else 1.1
    for errors in (r.forecast_last, r.forecast_mae):
        g = by_law(geometric_mean(errors))
        assert g["general_gompertz"] * margin[0] <= min(v for k, v in g.items() if k != "general_gompertz"), g
        assert max(g["general_bertalanffy"], g["gompertz"]) * margin[1] <= min(g["logistic"], g["exponential"]), g
        if run == "everything":
            assert max(g, key=g.get) == "exponential", g
