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

The generic machinery. :class:`ZhangTumour` is the model as a :class:`~mechanistic.tumour.AbstractTumour`
(state T+, TP, T- cells and serum PSA in ng/mL; integrated on log populations with the floor) and
:class:`ZhangFamily` as a :class:`~mechanistic.family.ModelFamily` (named parameters, the
pre-treatment equilibrium as initial state, observables ``psa``, ``burden``, ``resistant_fraction``),
so ``mechanistic.solve``, ``inference.calibrate`` and ``scenarios`` run it with abiraterone given
as daily oral dose rows (1000 mg = full exposure, :class:`~mechanistic.pk.DailyExposure`). The
floor is applied to the solver's log populations continuously (rates clipped at the floor; states
read out raised to it), not at interval boundaries: against :func:`simulate_schedule` the adaptive
engine agrees to about 2e-7 relative over 400 days of representative patient #2
(``tests/mechanistic/test_zhang_family.py``).

Everything here is a pure JAX function of arrays (float64 expected), jit-, vmap- and grad-friendly;
input checks run on concrete values only (before tracing) and raise ``ValueError`` naming the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.adaptive_steps import result_code
from mechanistic.buckets import bucket, pad_repeating_last
from mechanistic.checks import check_range, concrete
from mechanistic.dosing import DoseTable, dose
from mechanistic.family import ModelFamily, ParameterInfo
from mechanistic.fixed_grid import FixedGrid
from mechanistic.model import DiseaseModel
from mechanistic.pk import DailyExposure
from mechanistic.solver import GridInputs, SolverOptions, solve, step_points
from mechanistic.tumour import AbstractTumour

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


# --- the model as a tumour and a model family of the generic machinery ---------------------------

STATE = (*CELL_TYPES, "PSA")
"""Components of :class:`ZhangTumour`'s state: T+, TP, T- (cells) and serum PSA (ng/mL)."""

# Illustrative, not from [Z17]/[Z17code] (whose PSA has no unit): 1e-3 ng/mL per model PSA unit puts
# representative patient #2's pre-treatment PSA (27,723 units) at 28 ng/mL, a plausible mCRPC baseline.
PSA_SCALE = 1e-3


class ZhangTumour(AbstractTumour):
    """The three-population model as a tumour of :func:`mechanistic.solve`.

    State ``(T+, TP, T-, PSA)``: cells, and serum PSA in ng/mL (``psa_scale`` ng/mL per model PSA
    unit: the model's PSA times ``psa_scale``). Drug column 0 is the abiraterone exposure (e.g.
    :class:`~mechanistic.pk.DailyExposure`), read as the dose fraction ``u`` clipped to [0, 1]. The
    solver integrates :func:`_log_rhs` on ``(log x, model PSA)`` with the floor, as
    :func:`simulate_schedule` does; states outside the solver are raised to the floor."""

    params: ZhangParams
    psa_scale: jax.Array
    clones: tuple[str, ...] = eqx.field(static=True)
    resistant: tuple[bool, ...] = eqx.field(static=True)

    def __init__(self, params: ZhangParams, psa_scale=1.0):
        check_params(params)
        check_range("ZhangTumour", "psa_scale", psa_scale, 0.0, strict=True)
        self.params = params
        self.psa_scale = jnp.asarray(psa_scale, dtype=float)
        self.clones = STATE
        self.resistant = (False, False, True, False)

    def n_drugs_used(self) -> int:
        return 1

    def dose_fraction(self, conc: jax.Array) -> jax.Array:
        """The dose fraction ``u`` () of the exposure column ``conc[0]``, clipped to [0, 1]."""
        return jnp.clip(conc[0], 0.0, 1.0)

    def _scale(self) -> jax.Array:
        return jnp.stack([jnp.ones_like(self.psa_scale)] * 3 + [self.psa_scale])

    def rhs(self, n: jax.Array, conc: jax.Array, network_state: jax.Array | None = None) -> jax.Array:
        """``d(T+, TP, T-, PSA)/dt`` (cells/day, ng/mL/day) of :func:`rhs` (no floor) at state ``n (4,)``."""
        return rhs(None, n / self._scale(), self.params, self.dose_fraction(conc)) * self._scale()

    def to_solver(self, y: jax.Array) -> jax.Array:
        """``(log max(x, floor), PSA / psa_scale)`` of a state ``y (..., 4)``."""
        cells = jnp.log(jnp.maximum(y[..., :3], self.params.floor))
        return jnp.concatenate([cells, y[..., 3:] / self.psa_scale], axis=-1)

    def from_solver(self, z: jax.Array) -> jax.Array:
        """The state ``(..., 4)`` of solver coordinates ``z``: populations raised to the floor."""
        cells = jnp.exp(jnp.maximum(z[..., :3], jnp.log(self.params.floor)))
        return jnp.concatenate([cells, z[..., 3:] * self.psa_scale], axis=-1)

    def solver_rhs(self, z: jax.Array, conc: jax.Array, network_state: jax.Array | None = None) -> jax.Array:
        return _log_rhs(None, z, (self.params, self.dose_fraction(conc)))


MAX_STEP = 1.0
"""The longest step (day) of :class:`ZhangFamily`'s fixed grid in calibration."""


_COMPETITION_NAMES = ("a12", "a13", "a21", "a23", "a31", "a32")

ZHANG_PARAMETERS: dict[str, ParameterInfo] = {
    p.name: p
    for p in (
        ParameterInfo("growth_rate_tplus", "1/day"),
        ParameterInfo("growth_rate_tp", "1/day"),
        ParameterInfo("growth_rate_tminus", "1/day"),
        *(ParameterInfo(n, "1") for n in _COMPETITION_NAMES),
        ParameterInfo("tplus_per_tp_off", "1"),
        ParameterInfo("tplus_per_tp_on", "1"),
        ParameterInfo("tp_capacity_off", "cells"),
        ParameterInfo("tp_capacity_on", "cells"),
        ParameterInfo("tminus_capacity_off", "cells"),
        ParameterInfo("tminus_capacity_on", "cells"),
        ParameterInfo("psa_decay", "1/day"),
        ParameterInfo("psa_scale", "ng/mL"),
    )
}
"""Every parameter of :class:`ZhangFamily`: growth rates; competition ``a_ij`` (effect of type j on
type i, 1 = T+, 2 = TP, 3 = T-); T+ cells per TP cell and the TP, T- capacities without / with
abiraterone; PSA decay; ``psa_scale`` (ng/mL of serum PSA per model PSA unit). The floor (1e-9
cells) and the reference dose are fixed model constants, not parameters."""


@dataclass(frozen=True)
class ZhangFamily(ModelFamily):
    """The Zhang et al. 2017 model as a :class:`~mechanistic.family.ModelFamily`.

    ``free``: the parameters read from ``params`` (default all of :data:`ZHANG_PARAMETERS`); the
    others keep the values of the representative patient ``base`` (:data:`PATIENTS`, with
    ``psa_scale`` = :data:`PSA_SCALE`). From PSA alone only a few are identifiable: calibrate e.g.
    ``("psa_scale", "growth_rate_tminus", ...)`` and keep the paper's values for the rest. The
    drug ``drug`` is given as oral dose rows, ``reference_mg`` (mg/day) being full exposure
    (``u = 1``). The initial state is ``initial_fraction`` times the pre-treatment equilibrium
    (:func:`pretreatment_equilibrium`; the authors start at 0.4), floor applied."""

    free: tuple[str, ...] = tuple(ZHANG_PARAMETERS)
    base: str = "zhang2017_patient2"
    initial_fraction: float = 1.0
    drug: str = "abiraterone"
    reference_mg: float = 1000.0

    def __post_init__(self):
        unknown = [n for n in self.free if n not in ZHANG_PARAMETERS]
        if unknown:
            raise ValueError(f"ZhangFamily: free={unknown} unknown; valid: {list(ZHANG_PARAMETERS)}")
        if self.base not in _COEFFICIENTS:
            raise ValueError(f"ZhangFamily: base={self.base!r} unknown; known patients: {', '.join(PATIENTS)}")
        check_range("ZhangFamily", "initial_fraction", self.initial_fraction, 0.0, strict=True)
        check_range("ZhangFamily", "reference_mg", self.reference_mg, 0.0, strict=True)

    @classmethod
    def patient_parameters(cls, name: str, psa_scale: float = PSA_SCALE) -> dict[str, float]:
        """Every parameter (:data:`ZHANG_PARAMETERS`) of a representative patient (:data:`PATIENTS`)."""
        if name not in _COEFFICIENTS:
            raise ValueError(f"unknown patient {name!r}; known patients: {', '.join(PATIENTS)}")
        values = [*GROWTH_RATE, *_COEFFICIENTS[name], *TPLUS_PER_TP, *TP_CAPACITY, *TMINUS_CAPACITY, PSA_DECAY]
        return dict(zip(ZHANG_PARAMETERS, [*values, psa_scale], strict=True))

    @property
    def parameters(self) -> tuple[ParameterInfo, ...]:
        return tuple(ZHANG_PARAMETERS[n] for n in self.free)

    @property
    def observables(self) -> dict[str, str]:
        return {"psa": "ng/mL", "burden": "cells", "resistant_fraction": "1"}

    @property
    def burden(self) -> str:
        return "psa"

    def values(self, params: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
        """Every parameter: ``params`` for the free ones, ``base``'s for the others (concrete values
        checked: ``ValueError`` naming a missing, non-finite or non-positive one)."""
        missing = [n for n in self.free if n not in params]
        if missing:
            raise ValueError(f"ZhangFamily: params lack {missing}; give every free parameter {list(self.free)}")
        fixed = self.patient_parameters(self.base)
        out = {}
        for name in ZHANG_PARAMETERS:
            out[name] = jnp.asarray(params[name] if name in self.free else fixed[name], dtype=float)
            check_range("ZhangFamily", name, out[name], 0.0, strict=True)
        return out

    def zhang_params(self, params: Mapping[str, jax.Array]) -> tuple[ZhangParams, jax.Array]:
        """``(ZhangParams, psa_scale)`` of a parameter set (scalars, traced or not)."""
        v = self.values(params)
        a12, a13, a21, a23, a31, a32 = (v[n] for n in _COMPETITION_NAMES)
        one = jnp.ones_like(a12)
        zp = ZhangParams(
            growth_rate=jnp.stack([v["growth_rate_tplus"], v["growth_rate_tp"], v["growth_rate_tminus"]]),
            competition=jnp.stack([jnp.stack([one, a12, a13]), jnp.stack([a21, one, a23]), jnp.stack([a31, a32, one])]),
            **{f: v[f] for f in ZhangParams._fields[2:-1]},
            floor=jnp.asarray(FLOOR, dtype=float),
        )
        return zp, v["psa_scale"]

    def build(self, params: Mapping[str, jax.Array]) -> DiseaseModel:
        zp, psa_scale = self.zhang_params(params)
        return DiseaseModel({self.drug: DailyExposure(reference_mg=self.reference_mg)}, ZhangTumour(zp, psa_scale))

    def initial_state(self, params: Mapping[str, jax.Array]) -> jax.Array:
        """``(T+, TP, T-, PSA)`` (cells, ng/mL): ``initial_fraction`` of the pre-treatment equilibrium."""
        zp, psa_scale = self.zhang_params(params)
        y = initial_state(zp, self.initial_fraction)
        return y.at[3].multiply(psa_scale)

    def solve_inputs(self, doses: DoseTable | None, times, *, t0: float) -> GridInputs:
        """The doses (padded to a bucket size; None: no drug) and the step points of the fixed grid
        for concrete sorted output ``times`` (day) from ``t0``: the dose-aligned grid plus at most
        :data:`MAX_STEP` days between points (PSA decays at 0.5/day: RK4 on longer steps over a
        drug holiday between sparse PSA readings is inaccurate, then unstable), padded."""
        with jax.ensure_compile_time_eval():  # concrete also where called inside a trace (predict under jit)
            doses = dose(float(t0), self.drug, 0.0) if doses is None else doses.with_drugs((self.drug,))
            doses = doses.pad(bucket(len(doses)))
            times = np.asarray(times, dtype=float)
            pk_only = DiseaseModel({self.drug: DailyExposure(reference_mg=self.reference_mg)})
            aligned = step_points(pk_only, doses, times, float(t0), self.solver_options())
        points = np.unique(np.concatenate([aligned, np.arange(float(t0), times[-1], MAX_STEP)]))
        return GridInputs(doses, jnp.asarray(pad_repeating_last(points)))

    def observables_at(self, params: Mapping[str, jax.Array], times: jax.Array, inputs) -> dict[str, jax.Array]:
        """``{observable: (T,)}`` at ``times`` (day, on the step points) under :meth:`solve_inputs`'
        ``inputs``; traceable in every argument; NaN where the solve fails."""
        sol = solve(self.build(params), self.initial_state(params), inputs.doses, times, t0=inputs.points[0],
                    options=self.solver_options(), points=inputs.points)  # fmt: skip
        return {k: jnp.where(sol.ok, v, jnp.nan) for k, v in self.observe(sol.clones).items()}

    def predict(self, doses: DoseTable | None, *, t0: float = 0.0):
        """``predict(params, times)`` as :meth:`ModelFamily.predict`. Concrete ``times`` (also when
        ``predict`` is called inside ``jit`` with them closed over): on the grid of
        :meth:`solve_inputs` (steps <= :data:`MAX_STEP`). Traced ``times``: on the dose-aligned grid
        with 8 steps per gap between output times (measured against a tight adaptive solve, PSA
        every 28 days over 90-day holidays: relative error about 1e-3; unstable for gaps over ~40 days
        without doses): prefer concrete times."""
        options = SolverOptions(grid=FixedGrid(substeps=8))

        def predict(params, times):
            if concrete(times) is not None:
                inputs = self.solve_inputs(doses, times, t0=t0)
                return self.observables_at(params, jnp.asarray(times, dtype=float), inputs)
            sol = solve(self.build(params), self.initial_state(params), doses, times, t0=t0, options=options)
            return {k: jnp.where(sol.ok, v, jnp.nan) for k, v in self.observe(sol.clones).items()}

        return predict

    def observe(self, clones: jax.Array) -> dict[str, jax.Array]:
        """``psa`` (ng/mL), ``burden`` (total cells) and ``resistant_fraction`` (T- share) of states
        ``(..., 4)``."""
        cells = clones[..., :3]
        burden = jnp.sum(cells, axis=-1)
        return {"psa": clones[..., 3], "burden": burden, "resistant_fraction": cells[..., 2] / burden}
