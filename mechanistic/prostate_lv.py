"""The Zhang et al. (2017) three-population Lotka-Volterra model of metastatic castration-resistant
prostate cancer (mCRPC) under abiraterone, with PSA, and its adaptive-therapy (AT50) policy.

Sources (read in this order when checking a number):

- [Z17] Zhang J, Cunningham JJ, Brown JS, Gatenby RA. Integrating evolutionary dynamics into treatment
  of metastatic castrate-resistant prostate cancer. Nat Commun 2017;8:1816 (doi:10.1038/s41467-017-01968-5).
  Its abstract: "Lotka-Volterra equations with three competing cancer species: androgen dependent,
  androgen producing, and androgen independent". The Methods, the figures and the Supplementary could
  not be opened from this project's sources (only the abstract and the introduction), so no number
  below is cited to a table or figure of the paper.
- [Z17code] the authors' simulation code for [Z17]: github.com/cunninghamjj/
  Integrating-evolutionary-dynamics-into-treatment-of-mCRPC (README.md names it the "Software for
  simulations in manuscript" of [Z17]): ``MatrixPermutations.m`` (competition orderings, the two
  representative patients), ``ESSAnalysis.m`` (pre-treatment equilibria), ``Abiraterone_Main.m``
  (growth rates, capacities with and without abiraterone, PSA, treatments, features). Every
  parameter value below is taken from these files; the line quoted is given with each.
- [Z22] Zhang J, Cunningham J, Brown J, Gatenby R. eLife 2022;11:e76284: the trial's rule ("abiraterone
  was stopped when PSA was <50% of pretreatment value and resumed when PSA returned to baseline",
  abstract). Its model is a different, two-population one (code: cunninghamjj/Evolution-based-
  mathematical-models-significantly-prolong-response-to-Abiraterone-in-mCRPC, ``solveSRODE*.m``) and
  is not implemented here.

The model (cell types in the order T+, TP, T-; [Z17code] ``Abiraterone_Main.m``, "T+, TP, T-, and
PSA ODE's")::

    dx_i/dt = r_i x_i (1 - sum_j a_ij x_j / K_i),                    i in {T+, TP, T-}, a_ii = 1
    K_T+ = mu(u) * x_TP,   K_TP = K_TP(u),   K_T- = K_T-(u)
    dPSA/dt = x_T+ + x_TP + x_T- - sigma * PSA

with abiraterone off (``u = 0``): ``mu = 1.5, K_TP = 10000, K_T- = 10000`` and on (``u = 1``):
``mu = 0.5, K_TP = 100, K_T- = 10000``. So abiraterone lowers both the TP capacity and the T+ capacity
per TP cell (the brief asked to check the latter: [Z17code] does lower it, 1.5 -> 0.5). A dose
fraction ``0 < u < 1`` interpolates the three capacity parameters linearly: an extension of this
module (the paper's drug is on or off), illustrative only.

Numerics. The authors' code steps the equations as a discrete map ``y <- y + dy/dt`` (Euler, step 1)
and after every step raises each density below ``1e-9`` to ``1e-9`` ("Lower bound check to keep a small
density of any cell type"). Here the ODE is solved with diffrax (Tsit5, error-controlled) on
``(log x_T+, log x_TP, log x_T-, PSA)`` (the same ODE; populations stay positive), and the floor is
kept: a population at the floor does not decline further (its per-capita rate is clipped at 0 there)
and the state is raised to the floor at every interval boundary. The floor is part of the model, not
only numerics: without it, under continuous abiraterone, x_TP -> 0 drives K_T+ = mu x_TP -> 0 and the
T+ equation (rate ~ 1/x_TP) overflows; and the T- population of representative patient #1 is absent
at its pre-treatment equilibrium and only exists at the floor.

Units. Time: the model's time unit, called "Simulated time" in [Z17code]; we call it a day. The growth
rates are ``(0.27726, 0.34657, 0.66542) * 0.01`` ([Z17code]), which equal ``ln 2 / (2.5, 2.0, 1.04)``
times 0.01, i.e. doubling times of 2.5, 2 and 1.04 days slowed a hundredfold; that reading of the
numbers is ours, not a statement found in the paper. Populations: cells in the model's density units
(capacities are 10^4 of them). PSA: model units, one unit secreted per cell per day and cleared at rate
``sigma`` (1/day), so PSA at rest is ``sum x / sigma`` (cell*day); only PSA relative to its baseline
is used by the policy.

Policies. A run is a sequence of intervals of length ``dt``; the dose is constant on each. A fixed
schedule gives the dose per interval. The adaptive policy reads PSA at check times (every
``check_every`` intervals) and keeps a hysteresis state: drug on when ``PSA >= resume_level``, off when
``PSA < stop_level``, otherwise unchanged. AT50 as defined by the trial ([Z22] abstract; [Z17]
abstract "on/off treatment cycles"): baseline = pre-treatment PSA, ``resume_level = baseline``,
``stop_level = 0.5 * baseline``. [Z17code] ``Abiraterone_Main.m`` checks PSA every step (every day) and
uses ``PSA_zenith = 0.8 * PSA_ESS`` with ``PSA_nadir = PSA_zenith * 0.8 / 2`` (40 % of the zenith, not
50 %, although its README says "once the PSA value is cut in half"): both are available through
``stop_fraction``. Daily checks reproduce the authors' simulations; ``check_every=28`` with ``dt=1``
is the 4-weekly PSA of the clinic (the interval of the trial's visits as given in this project's
brief; not verified against [Z17]'s Methods here).

Time to progression. [Z17code] extracts the times at which the T- share of the tumour first exceeds
5 % and 90 % (``timeTo5Percent``, ``timeTo90Percent``; its README: "the features discussed in the
manuscript"). :func:`time_to_progression` uses the 90 % share by default (the androgen-independent
population dominates), measured from the first abiraterone dose, and returns ``inf`` with
``reached = False`` when it does not happen within the horizon. The paper's own definition of a
simulated TTP could not be read here.

Everything here is a pure JAX function of arrays (float64 expected), jit-, vmap- and grad-friendly;
input checks run on concrete values only (before tracing) and raise ``ValueError`` naming the value.
"""

from __future__ import annotations

from typing import NamedTuple

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.adaptive_steps import result_code
from mechanistic.checks import check_range, concrete

CELL_TYPES = ("T+", "TP", "T-")
"""Order of the cell types in every array: androgen dependent (T+), testosterone producing (TP,
CYP17A+), androgen independent (T-)."""


class ZhangParams(NamedTuple):
    """Parameters of the three-population model (a pytree: vmap over a stacked batch).

    ``growth_rate`` (3,) 1/day; ``competition`` (3, 3) dimensionless, ``competition[i, j]`` the effect of
    type j on type i (diagonal 1); ``tplus_per_tp_off``/``_on``: T+ carrying capacity per TP cell (mu,
    T+ cells per TP cell) without / with abiraterone; ``tp_capacity_off``/``_on`` and
    ``tminus_capacity_off``/``_on``: carrying capacities (cells); ``psa_decay``: sigma (1/day);
    ``floor``: the lowest density of any type (cells)."""

    growth_rate: jax.Array
    competition: jax.Array
    tplus_per_tp_off: jax.Array
    tplus_per_tp_on: jax.Array
    tp_capacity_off: jax.Array
    tp_capacity_on: jax.Array
    tminus_capacity_off: jax.Array
    tminus_capacity_on: jax.Array
    psa_decay: jax.Array
    floor: jax.Array


# [Z17code] Abiraterone_Main.m: "r = [0.27726, 0.34657, 0.66542]; r = r.*scale;" with "scale = .01"
GROWTH_RATE = (0.27726e-2, 0.34657e-2, 0.66542e-2)
# [Z17code] Abiraterone_Main.m: naive "k = [y(2) * 1.5, 10000, 10000]", abiraterone "k = [y(2) * 0.5, 100, 10000]"
TPLUS_PER_TP = (1.5, 0.5)
TP_CAPACITY = (10000.0, 100.0)
TMINUS_CAPACITY = (10000.0, 10000.0)
# [Z17code] Abiraterone_Main.m: "sigmaPSA = 0.5"
PSA_DECAY = 0.5
# [Z17code] Abiraterone_Main.m: "y(y<1E-9) = 1E-9" after every step
FLOOR = 1e-9
# [Z17code] Abiraterone_Main.m: "y0 = ESS(matrixIndex, :) .* 0.4" (initial densities 40 % of the equilibrium)
INITIAL_FRACTION = 0.4
# [Z17code] Abiraterone_Main.m: "maxPSAPercent = 0.8; PSA_zenith = ESS(matrixIndex,4) * maxPSAPercent;
# PSA_nadir = PSA_zenith * maxPSAPercent/2;" and "maxSimulationTime = 10000"
AUTHORS_ZENITH_FRACTION = 0.8
AUTHORS_NADIR_FRACTION = 0.4
AUTHORS_HORIZON = 10000

# Off-diagonal competition coefficients (a12, a13, a21, a23, a31, a32), 1 = T+, 2 = TP, 3 = T-:
# [Z17code] Abiraterone_Main.m "matrixCoefficients" rows 7 and 5 (the 22 orderings of 0.4..0.9 that satisfy
# the inequalities a31 > a21, a32 > a12, a13 > a23, a13 > a12, a23 > a21, a32 > a31 of MatrixPermutations.m);
# README.md / MatrixPermutations.m: "matrixCoefficients row 7 is used for 'Representative patient #1' and
# matrixCoefficients row 5 is used for 'Representative patient #2'".
_COEFFICIENTS = {
    "zhang2017_patient1": (0.7, 0.8, 0.4, 0.5, 0.6, 0.9),
    "zhang2017_patient2": (0.6, 0.8, 0.4, 0.7, 0.5, 0.9),
}
PATIENTS = tuple(_COEFFICIENTS)
"""Names of the paper's example patients: "Representative patient #1" and "#2" of [Z17]."""

# Pre-treatment equilibria (T+, TP, T-, PSA) the authors computed by long simulation ([Z17code]
# Abiraterone_Main.m "ESS" rows 7 and 5; ESSAnalysis.m), for cross-checking :func:`pretreatment_equilibrium`.
AUTHORS_EQUILIBRIUM = {
    "zhang2017_patient1": (6060.60606060606, 7575.75757575758, 1.0e-09, 27272.7272727273),
    "zhang2017_patient2": (6270.62706270627, 7260.72607260726, 330.033003300335, 27722.7722772277),
}


def competition_matrix(a12, a13, a21, a23, a31, a32) -> np.ndarray:
    """The (3, 3) competition matrix with unit diagonal from its six off-diagonal entries."""
    return np.array([[1.0, a12, a13], [a21, 1.0, a23], [a31, a32, 1.0]])


def patient(name: str) -> ZhangParams:
    """The parameters of one of the paper's example patients (:data:`PATIENTS`)."""
    if name not in _COEFFICIENTS:
        raise ValueError(f"unknown patient {name!r}; known patients: {', '.join(PATIENTS)}")
    return ZhangParams(
        growth_rate=jnp.asarray(GROWTH_RATE, dtype=float),
        competition=jnp.asarray(competition_matrix(*_COEFFICIENTS[name]), dtype=float),
        tplus_per_tp_off=jnp.asarray(TPLUS_PER_TP[0], dtype=float),
        tplus_per_tp_on=jnp.asarray(TPLUS_PER_TP[1], dtype=float),
        tp_capacity_off=jnp.asarray(TP_CAPACITY[0], dtype=float),
        tp_capacity_on=jnp.asarray(TP_CAPACITY[1], dtype=float),
        tminus_capacity_off=jnp.asarray(TMINUS_CAPACITY[0], dtype=float),
        tminus_capacity_on=jnp.asarray(TMINUS_CAPACITY[1], dtype=float),
        psa_decay=jnp.asarray(PSA_DECAY, dtype=float),
        floor=jnp.asarray(FLOOR, dtype=float),
    )


def check_params(params: ZhangParams) -> None:
    """Raise ``ValueError`` naming the first invalid field (concrete values only)."""
    owner = "ZhangParams"
    check_range(owner, "growth_rate", params.growth_rate, 0.0, strict=True)
    check_range(owner, "competition", params.competition, 0.0, strict=False)
    for field in ZhangParams._fields[2:]:
        check_range(owner, field, getattr(params, field), 0.0, strict=True)
    for field in ("growth_rate", "competition"):
        c = concrete(getattr(params, field))
        shape = (3,) if field == "growth_rate" else (3, 3)
        if c is not None and c.shape[-len(shape) :] != shape:
            raise ValueError(f"{owner}: {field} has shape {c.shape}; it must end in {shape}")


def check_state(state) -> None:
    """Raise ``ValueError`` naming a negative or non-finite entry of a state ``(T+, TP, T-, PSA)``."""
    c = concrete(state)
    if c is None:
        return
    if c.ndim < 1 or c.shape[-1] != 4:
        raise ValueError(f"state has shape {c.shape}; it must end in 4 (T+, TP, T- cells and PSA)")
    check_range("state", "populations", c[..., :3], 0.0, strict=False)
    check_range("state", "psa", c[..., 3], 0.0, strict=False)


def capacity_parameters(params: ZhangParams, dose) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(mu, K_TP, K_T-)`` at dose fraction ``dose``: the off values at 0, the abiraterone values at 1,
    linear in between (the interpolation is this module's extension, illustrative)."""
    u = jnp.asarray(dose, dtype=params.competition.dtype)
    mu = params.tplus_per_tp_off + u * (params.tplus_per_tp_on - params.tplus_per_tp_off)
    k_tp = params.tp_capacity_off + u * (params.tp_capacity_on - params.tp_capacity_off)
    k_tm = params.tminus_capacity_off + u * (params.tminus_capacity_on - params.tminus_capacity_off)
    return mu, k_tp, k_tm


def capacities(params: ZhangParams, cells: jax.Array, dose) -> jax.Array:
    """Carrying capacities ``(K_T+, K_TP, K_T-)`` (cells) at populations ``cells`` (..., 3) and dose
    fraction ``dose``: ``K_T+ = mu x_TP`` depends on the state and the drug, the others on the drug."""
    mu, k_tp, k_tm = capacity_parameters(params, dose)
    return jnp.stack([mu * cells[..., 1], k_tp * jnp.ones_like(cells[..., 1]), k_tm * jnp.ones_like(cells[..., 1])], -1)


def per_capita_growth(params: ZhangParams, cells: jax.Array, dose) -> jax.Array:
    """``r_i (1 - sum_j a_ij x_j / K_i)`` (1/day) for the three types."""
    pressure = cells @ params.competition.T
    return params.growth_rate * (1.0 - pressure / capacities(params, cells, dose))


def rhs(t, state: jax.Array, params: ZhangParams, dose) -> jax.Array:
    """``d(T+, TP, T-, PSA)/dt`` (cells/day, PSA units/day) of the model at ``state`` under dose fraction
    ``dose`` (the ODE without the floor; ``t`` is unused: the drug enters only through ``dose``)."""
    del t
    cells, psa = state[:3], state[3]
    dcells = cells * per_capita_growth(params, cells, dose)
    return jnp.concatenate([dcells, jnp.reshape(jnp.sum(cells) - params.psa_decay * psa, (1,))])


def _log_rhs(t, z, args):
    """The ODE on ``(log x, PSA)`` with the floor: a type at the floor does not decline further."""
    params, dose = args
    log_floor = jnp.log(params.floor)
    cells = jnp.exp(jnp.maximum(z[:3], log_floor))
    g = per_capita_growth(params, cells, dose)
    g = jnp.where((z[:3] <= log_floor) & (g < 0.0), 0.0, g)
    return jnp.concatenate([g, jnp.reshape(jnp.sum(cells) - params.psa_decay * z[3], (1,))])


# --- equilibria ---------------------------------------------------------------------------------

# supports of the untreated fixed points, largest first (T+ needs TP: K_T+ = mu x_TP)
_SUPPORTS = np.array([[1, 1, 1], [1, 1, 0], [0, 1, 1], [0, 1, 0], [0, 0, 1]], dtype=bool)


def _fixed_points(params: ZhangParams, dose):
    """Fixed points of the cell equations on each support of :data:`_SUPPORTS` ((5, 3)): for i in the
    support ``sum_j a_ij x_j = K_i`` (the T+ row with ``K_T+ = mu x_TP`` moved left), else ``x_i = 0``."""
    mu, k_tp, k_tm = capacity_parameters(params, dose)
    a = params.competition.at[0, 1].add(-mu)
    b = jnp.stack([jnp.zeros_like(k_tp), k_tp, k_tm])
    eye = jnp.eye(3, dtype=a.dtype)

    def solve(support):
        m = jnp.where(support[:, None], a, eye)
        return jnp.linalg.solve(m, jnp.where(support, b, 0.0))

    return jax.vmap(solve)(jnp.asarray(_SUPPORTS))


def interior_equilibrium(params: ZhangParams, dose=0.0) -> jax.Array:
    """The Lotka-Volterra fixed point with all three types present, ``(T+, TP, T-, PSA)``, in closed
    form: ``A' x = (0, K_TP, K_T-)`` with ``A'`` the competition matrix less ``mu`` in entry (T+, TP)
    (the T+ row ``x_T+ + a_12 x_TP + a_13 x_T- = mu x_TP`` rearranged), and PSA = sum x / sigma.
    An entry can be negative: then no such equilibrium exists (representative patient #1: T- < 0)."""
    x = _fixed_points(params, dose)[0]
    return jnp.concatenate([x, jnp.reshape(jnp.sum(x) / params.psa_decay, (1,))])


def pretreatment_equilibrium(params: ZhangParams) -> jax.Array:
    """The pre-treatment (untreated) equilibrium ``(T+, TP, T-, PSA)`` in closed form: the fixed point,
    among those on each support, that is feasible (every present type > 0) and saturated (no absent type
    can invade: its per-capita growth there is <= 0), the largest support first; absent types are 0.
    This is the evolutionarily stable state the authors reach by long simulation ([Z17code]
    ESSAnalysis.m): interior for representative patient #2, T- absent for #1. NaN if none qualifies."""
    points = _fixed_points(params, 0.0)
    support = jnp.asarray(_SUPPORTS)
    feasible = jnp.all(jnp.where(support, points > 0.0, True), axis=1)
    safe = jnp.where(support, points, 0.0)
    pressure = safe @ params.competition.T
    k = capacities(params, safe, 0.0)
    tp_present = safe[:, 1] > 0.0
    invasion = 1.0 - pressure / jnp.where(k > 0.0, k, 1.0)
    invasion = invasion.at[:, 0].set(jnp.where(tp_present, invasion[:, 0], -1.0))  # no TP: no T+ capacity
    saturated = jnp.all(jnp.where(support, True, invasion <= 1e-12), axis=1)
    ok = feasible & saturated
    x = jnp.where(jnp.any(ok), safe[jnp.argmax(ok)], jnp.nan)
    return jnp.concatenate([x, jnp.reshape(jnp.sum(x) / params.psa_decay, (1,))])


def initial_state(params: ZhangParams, fraction=INITIAL_FRACTION) -> jax.Array:
    """The authors' starting state: ``fraction`` (default 0.4, [Z17code]) of the pre-treatment
    equilibrium's populations and PSA, populations raised to the floor."""
    eq = pretreatment_equilibrium(params)
    y = fraction * eq
    return y.at[:3].set(jnp.maximum(y[:3], params.floor))


# --- simulation -----------------------------------------------------------------------------------


class Run(NamedTuple):
    """A simulated course: ``times`` (n+1,) days; ``cells`` (n+1, 3) T+, TP, T- (cells); ``psa`` (n+1,)
    (model PSA units); ``dose`` (n,) the dose fraction on ``[times[k], times[k+1])``; ``result``: 0 if
    every interval's solve succeeded, else a code of :data:`mechanistic.adaptive_steps.FAILURES`."""

    times: jax.Array
    cells: jax.Array
    psa: jax.Array
    dose: jax.Array
    result: jax.Array


class SolverSettings(NamedTuple):
    """Tolerances of the per-interval solves (on log populations and PSA) and their step limit."""

    rtol: float = 1e-8
    atol: float = 1e-8
    max_steps: int = 2048


def _solve_interval(params, z0, t0, dt, dose, settings: SolverSettings):
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(_log_rhs),
        diffrax.Tsit5(),
        t0=t0,
        t1=t0 + dt,
        dt0=None,
        y0=z0,
        args=(params, dose),
        saveat=diffrax.SaveAt(t1=True),
        stepsize_controller=diffrax.PIDController(rtol=settings.rtol, atol=settings.atol),
        max_steps=settings.max_steps,
        throw=False,
    )
    return sol.ys[-1], result_code(sol.result)


def _course(params, y0, dt, fixed_dose, adaptive, check_every, resume_level, stop_level, initial_on, settings):
    """One course of ``len(fixed_dose)`` intervals: the dose is ``fixed_dose[k]`` or, where ``adaptive``,
    the hysteresis policy on PSA read every ``check_every`` intervals."""
    log_floor = jnp.log(params.floor)
    y0 = jnp.asarray(y0, dtype=float)
    z0 = jnp.concatenate([jnp.maximum(jnp.log(y0[:3]), log_floor), y0[3:]])
    n = fixed_dose.shape[0]

    def step(carry, k):
        z, on, code = carry
        t = k * dt
        psa = z[3]
        decided = jnp.where(psa >= resume_level, 1.0, jnp.where(psa < stop_level, 0.0, on))
        policy = jnp.where(k % check_every == 0, decided, on)
        dose = jnp.where(adaptive, policy, fixed_dose[k])
        z1, c = _solve_interval(params, z, t, dt, dose, settings)
        z1 = z1.at[:3].set(jnp.maximum(z1[:3], log_floor))
        return (z1, jnp.where(adaptive, policy, on), jnp.maximum(code, c)), (z1, dose)

    init = (z0, jnp.asarray(initial_on, dtype=float), jnp.asarray(0))
    (_, _, code), (zs, doses) = jax.lax.scan(step, init, jnp.arange(n))
    zs = jnp.concatenate([z0[None], zs])
    times = dt * jnp.arange(n + 1, dtype=zs.dtype)
    return Run(times, jnp.exp(zs[:, :3]), zs[:, 3], doses, code)


_course_jit = jax.jit(_course, static_argnames=("settings",))


def _f(x) -> jax.Array:
    """A float array (one compiled program whatever Python or NumPy type the caller passes)."""
    return jnp.asarray(x, dtype=float)


def _check_course_inputs(params, y0, dt):
    check_params(params)
    check_state(y0)
    check_range("simulation", "dt", dt, 0.0, strict=True)


def simulate_schedule(params: ZhangParams, y0, doses, dt=1.0, settings: SolverSettings = SolverSettings()) -> Run:
    """A fixed schedule from ``y0 = (T+, TP, T-, PSA)`` at t = 0: ``doses[k]`` (fraction 0..1) on the k-th
    interval of ``dt`` days (see :func:`continuous`, :func:`intermittent`)."""
    _check_course_inputs(params, y0, dt)
    c = concrete(doses)
    if c is not None and (c.ndim != 1 or c.size == 0):
        raise ValueError(f"simulate_schedule: doses has shape {c.shape}; it must be one dose fraction per interval")
    check_range("simulate_schedule", "doses", doses, 0.0, strict=False, upper=1.0 + 1e-12)
    f = jnp.asarray(0.0, dtype=float)
    return _course_jit(params, _f(y0), _f(dt), _f(doses), jnp.asarray(False), jnp.asarray(1), f, f, f, settings)


def simulate_adaptive(
    params: ZhangParams,
    y0,
    n_intervals: int,
    dt=1.0,
    *,
    baseline=None,
    stop_fraction=0.5,
    check_every=1,
    initial_on=True,
    settings: SolverSettings = SolverSettings(),
) -> Run:
    """The adaptive policy from ``y0 = (T+, TP, T-, PSA)`` for ``n_intervals`` intervals of ``dt`` days.

    Every ``check_every`` intervals PSA is read: abiraterone goes on when ``PSA >= baseline`` and off
    when ``PSA < stop_fraction * baseline`` (else it stays as it was). ``baseline`` defaults to the
    PSA of ``y0`` (treatment starts at t = 0: AT50 of the trial with ``stop_fraction=0.5``).
    ``stop_fraction=0`` never stops: continuous abiraterone from the first time PSA reaches
    ``baseline``. ``initial_on``: the state before the first check (matters only between thresholds).
    [Z17code] ``Abiraterone_Main.m``: start at :func:`initial_state`, ``baseline = 0.8 * PSA_eq``,
    ``stop_fraction = 0.4``, daily checks, ``initial_on=False``."""
    _check_course_inputs(params, y0, dt)
    check_range("simulate_adaptive", "stop_fraction", stop_fraction, 0.0, strict=False, upper=1.0)
    if int(check_every) != check_every or check_every < 1:
        raise ValueError(f"simulate_adaptive: check_every={check_every!r} is invalid; it must be an integer >= 1")
    if int(n_intervals) != n_intervals or n_intervals < 1:
        raise ValueError(f"simulate_adaptive: n_intervals={n_intervals!r} is invalid; it must be an integer >= 1")
    y0 = _f(y0)
    baseline = y0[3] if baseline is None else _f(baseline)
    check_range("simulate_adaptive", "baseline", baseline, 0.0, strict=True)
    fixed = jnp.zeros(int(n_intervals))
    stop = _f(stop_fraction) * baseline
    on = _f(1.0 if initial_on else 0.0)
    return _course_jit(
        params, y0, _f(dt), fixed, jnp.asarray(True), jnp.asarray(int(check_every)), baseline, stop, on, settings
    )


def continuous(n_intervals: int, start: int = 0) -> np.ndarray:
    """Doses of continuous abiraterone from interval ``start`` on (0 before)."""
    d = np.ones(n_intervals)
    d[:start] = 0.0
    return d


def intermittent(n_intervals: int, on: int, off: int, start: int = 0) -> np.ndarray:
    """Doses of a fixed on/off schedule: ``on`` intervals on, ``off`` off, repeated from ``start``."""
    if on < 1 or off < 0:
        raise ValueError(f"intermittent: on={on!r}, off={off!r} are invalid; on must be >= 1 and off >= 0")
    k = np.arange(n_intervals) - start
    return np.where((k >= 0) & (k % (on + off) < on), 1.0, 0.0)


# --- summaries of a run ---------------------------------------------------------------------------


def resistant_share(run: Run) -> jax.Array:
    """Share of T- cells in the tumour at each record time (n+1,)."""
    return run.cells[..., 2] / jnp.sum(run.cells, axis=-1)


def treatment_start(run: Run) -> jax.Array:
    """Time (days) of the first interval with abiraterone (``inf`` if never given)."""
    given = run.dose > 0.0
    return jnp.where(jnp.any(given), run.times[..., :-1][jnp.argmax(given)], jnp.inf)


def time_to_progression(run: Run, threshold=0.9) -> tuple[jax.Array, jax.Array]:
    """``(ttp, reached)``: days from the first abiraterone dose until the T- share first reaches
    ``threshold`` ([Z17code] ``timeTo90Percent``; linear interpolation between record times), and
    whether it did within the run; ``(inf, False)`` when it did not (or no dose was given)."""
    share = resistant_share(run)
    start = treatment_start(run)
    idx = jnp.arange(share.shape[0])
    k0 = jnp.where(jnp.isfinite(start), jnp.argmax(run.dose > 0.0), share.shape[0])
    hit = (share >= threshold) & (idx >= k0)
    reached = jnp.any(hit)
    k = jnp.argmax(hit)
    prev = jnp.maximum(k - 1, 0)
    s0, s1 = share[prev], share[k]
    frac = jnp.where((k > k0) & (s1 > s0), (threshold - s0) / jnp.where(s1 > s0, s1 - s0, 1.0), 1.0)
    t_cross = jnp.where(
        k > k0, run.times[prev] + jnp.clip(frac, 0.0, 1.0) * (run.times[k] - run.times[prev]), run.times[k]
    )
    return jnp.where(reached, t_cross - start, jnp.inf), reached


def on_fraction(run: Run) -> jax.Array:
    """Cumulative dose from the first abiraterone dose to the end of the run, relative to continuous
    dosing over the same time (the [Z17] abstract's "cumulative drug use ... of standard dosing")."""
    k = jnp.arange(run.dose.shape[0])
    after = k >= jnp.argmax(run.dose > 0.0)
    return jnp.where(jnp.any(run.dose > 0.0), jnp.sum(run.dose * after) / jnp.sum(after), 0.0)


def cycles(run: Run) -> jax.Array:
    """Number of times abiraterone was stopped after having been given (completed on -> off switches)."""
    on = run.dose > 0.0
    return jnp.sum(on[:-1] & ~on[1:])
