"""Strobl et al. 2021 (Cancer Res 81:1135): the authors' per-patient fits of their two-population
Lotka-Volterra model (:func:`mechanistic.catalogue.strobl2021`) to the PSA series of 67 patients of
the Bruchovsky et al. 2006 intermittent-androgen-suppression trial (``fitSummaryDf_<variant>.csv``
in ``shared/refdata/strobl2021_at_lv/bruchovsky_fits``; README there; the PSA series are not shipped).

Four variants (:data:`VARIANTS`) differ in which of n0, fR, cost, turnover were free. The authors
fitted with lmfit least squares in a box (:data:`FIT_BOUNDS`, from their ``fitPatients.py``), 25
restarts per patient (``NSuccessfulFits``: those that ran), the best kept (``FitId``).

What the files let one check (:func:`check_fit_identities`, :func:`fit_statistics`,
:func:`cross_variant_checks`, :func:`catalogue_rates`):

- the model's definitions row by row: ``S0 = n0 (1 - fR)``, ``R0 = n0 fR``, ``rR = (1 - cost) rS``,
  ``dS = dR = turnover rS``, ``rS = 0.027 /day``, ``dD = 1.5``, ``k = 1`` (and ``D = DMax = theta = 1``);
- the fit statistics: lmfit's ``AIC = n ln(RSS/n) + 2 p``, ``BIC = n ln(RSS/n) + p ln n`` give each
  patient's number of PSA values ``n`` (an integer) and residual sum of squares, and with
  ``RSquared = 1 - RSS/SStot`` the data's total sum of squares; ``n`` and ``SStot`` depend on the data
  alone, so they must agree between the four variants, and a variant nested in another cannot fit
  better (RSS);
- the trial facts (``NCycles``, ``TimeInTrial`` in days, ``Progression``) come from the PSA records
  and the treatment history, not from the parameters: they can only be checked for format and for
  agreement between the variants. Reproducing them (or RSS, R^2) needs each patient's PSA series
  and on/off schedule (the trial's clinically driven intermittent schedule, not the model's AT rule),
  which are not shipped;
- the one thing the parameters alone imply that an ODE solve reproduces: the per-capita net rates at
  low density, ``rS (1 - dD) - dS`` (sensitive, on drug) and ``rR - dR`` (resistant), from the
  catalogue model via :func:`mechanistic.solve` (:func:`catalogue_rates`).

A population prior from the fits (:func:`empirical_population`, :func:`draw_population`): each
parameter is clipped into ``[lo, hi]`` (:data:`CLIP`) and logit-transformed; the prior is the
multivariate normal with the sample mean and covariance (ddof 1) of those logits. Clipping: n0, cost
and turnover to ``[1e-3, 1 - 1e-3]``: fits on the 0/1 edge of the box (cost ~1e-16 or 1, n0 = 1)
have no finite logit, and within 1e-3 of an edge the data cannot tell the values apart (a cost of
1e-3 changes rR by 2.7e-5 /day); fR only to ``[1e-5, 1 - 1e-3]``: the time for resistance to
emerge scales with ln(1/fR), so fR = 1e-5 and 1e-3 are distinguishable, and 1e-5 is the fit's own
floor. What this ignores: each fit is a point estimate, so the spread mixes true between-patient
variation with estimation error (an overestimate of between-patient SD) and carries no fit
uncertainty; values on the fit box's bounds (fR = 1e-5, n0 = 0.1 or 1, cost 0 or 1) are censored
estimates treated as exact (cost's edges inflate its logit SD; fR's floor makes its logit
distribution bimodal, which a normal does not describe); the 4-parameter fits' R^2 runs from 0.25
to 0.96 (median 0.73) and poorly fitted patients count as much as well fitted ones; failed
restarts are not seen (``NSuccessfulFits``; all 25 ran for every patient of the 4-parameter file,
12-25 in the 2-parameter one). The trial population is hormone-sensitive, biochemically recurrent
prostate cancer under intermittent androgen suppression (cyproterone acetate + leuprolide), not
mCRPC under abiraterone: using it as a prior for abiraterone is an assumption. Draws follow the
normal, not the fit box (:meth:`EmpiricalPopulation.outside_fit_box`; for the 4-parameter fits
12% of the prior's n0 lies below 0.1 and 8% of its fR above 0.25, and its fR 95% quantile is 0.42
against the fits' 0.086). Cost and turnover are strongly anti-correlated on the logit scale (-0.71
in the 4-parameter fits), as if the data pinned down mainly the net rate rR - dR = rS (1 - cost -
turnover), so draw them jointly, never from the marginals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy.special import expit, logit

import mechanistic as m
from mechanistic.catalogue import strobl2021, strobl2021_continuous

FOLDER = Path("strobl2021_at_lv") / "bruchovsky_fits"
"""The study's files, relative to the refdata folder."""
VARIANTS = {"4params": 4, "3params_noCost": 3, "3params_noTurnover": 3, "2params_noCost_noTurnover": 2}
"""Variant -> number of free parameters (n0 and fR always; cost, turnover where not fixed at 0)."""
PARAMS = ("n0", "fR", "cost", "turnover")
"""The fitted parameters, all fractions: n0 of the capacity, fR of n0; cost (rR = (1 - cost) rS)
and turnover (dS = dR = turnover rS)."""
FIT_BOUNDS = {"n0": (0.1, 1.0), "fR": (1e-5, 0.25), "cost": (0.0, 1.0), "turnover": (0.0, 1.0)}
"""The authors' fit box (their ``fitPatients.py``)."""
CLIP = {"n0": (1e-3, 1 - 1e-3), "fR": (1e-5, 1 - 1e-3), "cost": (1e-3, 1 - 1e-3), "turnover": (1e-3, 1 - 1e-3)}
"""Default clipping before the logit (module docstring)."""
RS, DD, K = 0.027, 1.5, 1.0  # /day, -, fraction of capacity: fixed in every fit
COLUMNS = ("PatientId", *PARAMS, "rS", "rR", "dS", "dR", "dD", "k", "S0", "R0", "AIC", "BIC", "RSquared",
           "NCycles", "TimeInTrial", "Progression", "NSuccessfulFits", "FitId")  # fmt: skip
"""The columns :func:`load_fits` needs (``D``, ``DMax``, ``theta`` are checked where present)."""
INTEGERS = ("PatientId", "NCycles", "Progression", "NSuccessfulFits", "FitId")
_RANGES = {
    "n0": (lambda v: (v > 0) & (v <= 1), "in (0, 1]"),
    "fR": (lambda v: (v > 0) & (v < 1), "in (0, 1)"),
    "cost": (lambda v: (v >= 0) & (v <= 1), "in [0, 1]"),
    "turnover": (lambda v: (v >= 0) & (v <= 1), "in [0, 1]"),
    "rS": (lambda v: v > 0, "> 0 (/day)"),
    "rR": (lambda v: v >= 0, ">= 0 (/day)"),
    "dS": (lambda v: v >= 0, ">= 0 (/day)"),
    "dR": (lambda v: v >= 0, ">= 0 (/day)"),
    "dD": (lambda v: v >= 0, ">= 0"),
    "k": (lambda v: v > 0, "> 0"),
    "S0": (lambda v: v >= 0, ">= 0"),
    "R0": (lambda v: v >= 0, ">= 0"),
    "RSquared": (lambda v: v <= 1, "<= 1"),
    "NCycles": (lambda v: v >= 0, "a count >= 0"),
    "TimeInTrial": (lambda v: v > 0, "> 0 (days)"),
    "Progression": (lambda v: (v == 0) | (v == 1), "0 or 1"),
    "NSuccessfulFits": (lambda v: v >= 1, "a count >= 1"),
    "FitId": (lambda v: v >= 0, "an index >= 0"),
}


def variant_file(variant: str) -> str:
    """The file name of ``variant`` (a key of :data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is not one of {list(VARIANTS)}")
    return f"fitSummaryDf_{variant}.csv"


def load_fits(path) -> pd.DataFrame:
    """One row per patient of a file in the fitSummaryDf format (``path``), its columns as numbers
    (:data:`INTEGERS` as int), ``attrs["path"]`` the file. Units: rates /day, TimeInTrial days,
    n0, fR, S0, R0 fractions of the capacity k (of n0 for fR).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file and missing
    columns, or the file, line (header = line 1), PatientId and column of a value that is empty,
    not a number, not an integer where one is needed, or out of range (e.g. fR outside (0, 1))."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_fits: {path} not found")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    if raw.columns[0] == "" or str(raw.columns[0]).startswith("Unnamed"):  # the authors' pandas index
        raw = raw.drop(columns=raw.columns[0])
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"load_fits: {path} lacks columns {missing}; a fitSummaryDf file has {list(COLUMNS)}")
    if raw.empty:
        raise ValueError(f"load_fits: {path} has no rows")
    columns = [*COLUMNS, *(c for c in ("D", "DMax", "theta") if c in raw.columns)]
    patient = raw.PatientId.to_list()

    def where(i: int, column: str) -> str:
        return f"{path}, line {i + 2} (PatientId {patient[i]}), column {column}"

    table = {}
    for column in columns:
        text = raw[column].str.strip()
        values = pd.to_numeric(text, errors="coerce").to_numpy(float)
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.argmax(bad))
            what = "empty" if text.iloc[i] == "" else f"{text.iloc[i]!r} is not a finite number"
            raise ValueError(f"{where(i, column)}: {what}")
        if column in INTEGERS:
            bad = values != np.round(values)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"{where(i, column)}: {text.iloc[i]!r} is not an integer")
            values = values.astype(int)
        if column in _RANGES:
            ok, valid = _RANGES[column]
            bad = ~ok(values)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"{where(i, column)}: {text.iloc[i]} is not {valid}")
        table[column] = values
    fits = pd.DataFrame(table)
    repeated = fits.PatientId.duplicated()
    if repeated.any():
        i = int(np.argmax(repeated))
        raise ValueError(f"{where(i, 'PatientId')}: patient {fits.PatientId[i]} appears twice")
    fits.attrs["path"] = str(path)
    return fits


def free_params(fits: pd.DataFrame) -> tuple[str, ...]:
    """The parameters fitted in ``fits``: n0 and fR, plus cost and turnover where not all 0."""
    return tuple(p for p in PARAMS if p in ("n0", "fR") or (fits[p] != 0).any())


def n_free(fits: pd.DataFrame) -> int:
    """The number of :func:`free_params`."""
    return len(free_params(fits))


def check_fit_identities(fits: pd.DataFrame) -> pd.DataFrame:
    """Per identity the model (or the fit's set-up) defines, the largest error over the rows of
    ``fits`` (:func:`load_fits`) relative to the named scale, and the patient where it occurs.

    Rows: ``S0 = n0 (1 - fR)``, ``R0 = n0 fR`` (scale n0); ``rR = (1 - cost) rS``, ``dS = turnover
    rS``, ``dR = dS`` (scale rS); ``rS = 0.027``, ``dD = 1.5``, ``k = 1`` (and ``D``, ``DMax``,
    ``theta = 1`` where present); ``n = exp((BIC - AIC)/p + 2)`` an integer (p: :func:`n_free`;
    the error is its distance to the nearest integer over that integer)."""
    f = {c: fits[c].to_numpy(float) for c in fits.columns}
    stats = fit_statistics(fits)
    n = stats.n_obs.to_numpy()
    checks = [
        ("S0 = n0 (1 - fR)", f["S0"], f["n0"] * (1 - f["fR"]), f["n0"]),
        ("R0 = n0 fR", f["R0"], f["n0"] * f["fR"], f["n0"]),
        ("rR = (1 - cost) rS", f["rR"], (1 - f["cost"]) * f["rS"], f["rS"]),
        ("dS = turnover rS", f["dS"], f["turnover"] * f["rS"], f["rS"]),
        ("dR = dS", f["dR"], f["dS"], f["rS"]),
        ("rS = 0.027 /day", f["rS"], np.full_like(n, RS), RS),
        ("dD = 1.5", f["dD"], np.full_like(n, DD), DD),
        ("k = 1", f["k"], np.full_like(n, K), K),
        *((f"{c} = 1", f[c], np.ones_like(n), 1.0) for c in ("D", "DMax", "theta") if c in f),
        (f"n = exp((BIC - AIC)/{n_free(fits)} + 2) an integer", n, np.round(n), np.round(n)),
    ]
    rows = []
    for name, got, expected, scale in checks:
        error = np.abs(got - expected) / np.broadcast_to(scale, np.shape(got))
        i = int(np.argmax(error))
        rows.append({"identity": name, "max_rel_error": float(error[i]), "patient": int(fits.PatientId.iloc[i])})
    return pd.DataFrame(rows).set_index("identity")


def fit_statistics(fits: pd.DataFrame, free: int | None = None) -> pd.DataFrame:
    """Per patient (index PatientId), from lmfit's ``AIC = n ln(RSS/n) + 2p``,
    ``BIC = n ln(RSS/n) + p ln n`` and ``RSquared = 1 - RSS/SStot`` with ``p = free`` (default
    :func:`n_free`): ``n_obs`` (the number of PSA values, as computed: an integer up to rounding),
    ``rss`` and ``ss_tot`` (sums of squares of the fitted PSA, in its normalised units)."""
    p = n_free(fits) if free is None else int(free)
    n = np.exp((fits.BIC.to_numpy() - fits.AIC.to_numpy()) / p + 2)
    rss = n * np.exp((fits.AIC.to_numpy() - 2 * p) / n)
    ss_tot = rss / (1 - fits.RSquared.to_numpy())
    return pd.DataFrame({"n_obs": n, "rss": rss, "ss_tot": ss_tot}, index=pd.Index(fits.PatientId, name="PatientId"))


NESTED = (
    ("4params", "3params_noCost"),
    ("4params", "3params_noTurnover"),
    ("3params_noCost", "2params_noCost_noTurnover"),
    ("3params_noTurnover", "2params_noCost_noTurnover"),
)
"""(larger, nested) variant pairs: the larger model cannot have a larger RSS at its optimum."""


def cross_variant_checks(tables: Mapping[str, pd.DataFrame], rss_tolerance: float = 1e-6) -> dict[str, object]:
    """What must agree between variant fits of the same patients (``tables``: variant -> fits;
    the first is the reference): ``same_patients``; ``n_obs_differ`` (patients whose rounded PSA
    count differs from the reference's); ``ss_tot_max_rel_diff`` (the data's total sum of squares);
    ``trial_facts_differ`` (NCycles / TimeInTrial / Progression / patients differing); and per
    :data:`NESTED` pair present ``nested_violations[(larger, nested)]`` = (patients where the larger
    model's RSS exceeds the nested one's by more than ``rss_tolerance`` relative, the worst ratio)."""
    names = list(tables)
    if not names:
        raise ValueError("cross_variant_checks: no tables")
    stats = {v: fit_statistics(t) for v, t in tables.items()}
    ref = tables[names[0]].set_index("PatientId").sort_index()
    out: dict[str, object] = {"same_patients": True, "n_obs_differ": 0, "ss_tot_max_rel_diff": 0.0}
    out["trial_facts_differ"] = {c: 0 for c in ("NCycles", "TimeInTrial", "Progression")}
    for v in names[1:]:
        t = tables[v].set_index("PatientId").sort_index()
        if not t.index.equals(ref.index):
            out["same_patients"] = False
            continue
        a, b = stats[names[0]].sort_index(), stats[v].sort_index()
        out["n_obs_differ"] += int((a.n_obs.round() != b.n_obs.round()).sum())
        out["ss_tot_max_rel_diff"] = max(out["ss_tot_max_rel_diff"], float((b.ss_tot / a.ss_tot - 1).abs().max()))
        for c in out["trial_facts_differ"]:
            out["trial_facts_differ"][c] += int((t[c] != ref[c]).sum())
    out["nested_violations"] = {}
    for big, small in NESTED:
        if big in stats and small in stats:
            ratio = stats[big].rss / stats[small].rss.reindex(stats[big].index)
            out["nested_violations"][(big, small)] = (int((ratio > 1 + rss_tolerance).sum()), float(ratio.max()))
    return out


LOW_DENSITY = 1e-9  # fraction of capacity: each population's start in catalogue_rates
RATE_DAYS = 1.0  # day
_RATE_OPTIONS = m.SolverOptions(rtol=1e-12, atol=1e-24)


@jax.jit
@jax.vmap
def _low_density_rates(cost, turnover, r_s, d_d):
    model = strobl2021(cost=cost, turnover=turnover, growth_rate=r_s, drug_kill=d_d)
    y0 = jnp.full(2, LOW_DENSITY)
    sol = m.solve(model, y0, strobl2021_continuous(RATE_DAYS), jnp.array([0.0, RATE_DAYS]), options=_RATE_OPTIONS)
    return jnp.log(sol.clones[-1] / sol.clones[0]) / RATE_DAYS, sol.ok


def catalogue_rates(fits: pd.DataFrame) -> pd.DataFrame:
    """Per patient (index PatientId) the per-capita net rates (/day) at low density of the catalogue
    model :func:`mechanistic.catalogue.strobl2021` with the row's cost, turnover, rS and dD, solved
    by :func:`mechanistic.solve` for :data:`RATE_DAYS` on drug (D = 1) from S = R =
    :data:`LOW_DENSITY` (``ours_sensitive``, ``ours_resistant``), next to those the file's columns
    define: ``file_sensitive = rS (1 - dD) - dS`` and ``file_resistant = rR - dR`` (the logistic
    factor 1 - S - R differs from 1 by ~1e-9), and ``ok`` (the solves)."""
    cols = [jnp.asarray(fits[c].to_numpy(float)) for c in ("cost", "turnover", "rS", "dD")]
    rates, ok = _low_density_rates(*cols)
    rates = np.asarray(rates)
    return pd.DataFrame(
        {
            "ours_sensitive": rates[:, 0],
            "file_sensitive": fits.rS.to_numpy() * (1 - fits.dD.to_numpy()) - fits.dS.to_numpy(),
            "ours_resistant": rates[:, 1],
            "file_resistant": fits.rR.to_numpy() - fits.dR.to_numpy(),
            "ok": np.asarray(ok),
        },
        index=pd.Index(fits.PatientId, name="PatientId"),
    )


@dataclass(frozen=True)
class EmpiricalPopulation:
    """A multivariate normal on the logit scale of ``names`` (p,): ``mean (p,)``, ``cov (p, p)``
    (sample moments, ddof 1, of the clipped fits' logits), from ``n_patients`` fits; ``clip``:
    name -> (lo, hi) applied before the logit; ``clipped``: name -> (rows raised to lo, rows
    lowered to hi); ``on_fit_bounds``: name -> rows on a bound of :data:`FIT_BOUNDS`."""

    names: tuple[str, ...]
    mean: np.ndarray
    cov: np.ndarray
    n_patients: int
    clip: Mapping[str, tuple[float, float]]
    clipped: Mapping[str, tuple[int, int]]
    on_fit_bounds: Mapping[str, int]

    @property
    def sd(self) -> np.ndarray:
        """Marginal SDs on the logit scale (p,)."""
        return np.sqrt(np.diag(self.cov))

    @property
    def corr(self) -> np.ndarray:
        """Correlation matrix (p, p)."""
        return self.cov / np.outer(self.sd, self.sd)

    def quantiles(self, q=(0.05, 0.5, 0.95)) -> pd.DataFrame:
        """The prior's marginal quantiles ``q`` on the natural scale (name x q; the logit is monotone)."""
        from scipy.stats import norm

        z = norm.ppf(np.asarray(q, dtype=float))
        return pd.DataFrame(expit(self.mean[:, None] + self.sd[:, None] * z), index=list(self.names), columns=list(q))

    def outside_fit_box(self) -> pd.DataFrame:
        """The prior's marginal mass below and above the authors' fit box (:data:`FIT_BOUNDS`), per name."""
        from scipy.stats import norm

        rows = {}
        for j, name in enumerate(self.names):
            lo, hi = FIT_BOUNDS[name]
            z_lo = (logit(lo) - self.mean[j]) / self.sd[j] if lo > 0 else -np.inf
            z_hi = (logit(hi) - self.mean[j]) / self.sd[j] if hi < 1 else np.inf
            rows[name] = {"below": float(norm.cdf(z_lo)), "above": float(norm.sf(z_hi))}
        return pd.DataFrame(rows).T


def logit_values(fits: pd.DataFrame, params=PARAMS, clip: Mapping[str, tuple[float, float]] | None = None):
    """The fits' ``params`` clipped (``clip``, default :data:`CLIP`) and logit-transformed,
    ``(n_patients, p)``, and per name (rows raised to lo, rows lowered to hi)."""
    clip = {**CLIP, **(clip or {})}
    columns, clipped = [], {}
    for name in params:
        if name not in fits.columns or name not in clip:
            raise ValueError(f"parameter {name!r}: not a unit-interval parameter of the fits; use some of {PARAMS}")
        lo, hi = clip[name]
        if not 0 < lo < hi < 1:
            raise ValueError(f"clip[{name!r}] = {(lo, hi)}: need 0 < lo < hi < 1")
        v = fits[name].to_numpy(float)
        clipped[name] = (int((v < lo).sum()), int((v > hi).sum()))
        columns.append(logit(np.clip(v, lo, hi)))
    return np.stack(columns, axis=1), clipped


def empirical_population(fits: pd.DataFrame, params=PARAMS, clip=None) -> EmpiricalPopulation:
    """The fits (:func:`load_fits`) as a population prior on the logit scale of ``params`` (names
    of :data:`PARAMS`): the sample mean and covariance (ddof 1) of :func:`logit_values` (``clip``
    overrides :data:`CLIP` per name). See the module docstring for what this ignores."""
    params = tuple(params)
    if len(set(params)) != len(params) or not params:
        raise ValueError(f"params {params}: give distinct names of {PARAMS}")
    x, clipped = logit_values(fits, params, clip)
    constant = [p for j, p in enumerate(params) if np.ptp(x[:, j]) == 0]
    if constant:
        raise ValueError(
            f"parameters {constant} are constant in these fits (fixed in the variant?): leave them out "
            f"(the fitted ones: {free_params(fits)})"
        )
    if len(x) < len(params) + 1:
        raise ValueError(f"{len(x)} fits cannot give a {len(params)}-parameter covariance")
    cov = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
    bounds = {
        p: int(
            (
                np.isclose(fits[p], FIT_BOUNDS[p][0], rtol=1e-6, atol=1e-9)
                | np.isclose(fits[p], FIT_BOUNDS[p][1], rtol=1e-6, atol=1e-9)
            ).sum()
        )  # fmt: skip
        for p in params
    }
    return EmpiricalPopulation(params, x.mean(axis=0), cov, len(x), {p: {**CLIP, **(clip or {})}[p] for p in params},
                               clipped, bounds)  # fmt: skip


def draw_population(population: EmpiricalPopulation, key: jax.Array, n: int) -> dict[str, jax.Array]:
    """``n`` virtual patients from ``population``: name -> (n,) on the natural scale (fractions),
    the expit of multivariate-normal draws of the logits (``key``: a JAX PRNG key)."""
    if not (isinstance(n, int | np.integer) and n > 0):
        raise ValueError(f"draw_population: n={n!r} must be a positive integer")
    chol = jnp.asarray(np.linalg.cholesky(population.cov))
    z = jax.random.normal(key, (int(n), len(population.names)))
    x = jnp.asarray(population.mean) + z @ chol.T
    return {name: jax.nn.sigmoid(x[:, j]) for j, name in enumerate(population.names)}


def natural_quantiles(fits: pd.DataFrame, params=PARAMS, q=(0.05, 0.5, 0.95)) -> pd.DataFrame:
    """The fitted values' sample quantiles ``q`` on the natural scale (param x q; no clipping)."""
    return pd.DataFrame({qq: [float(np.quantile(fits[p], qq)) for p in params] for qq in q}, index=list(params))
