"""Batched least-squares fitting of one growth law to many time series at once, and the fit
metrics of Ghaffari Laleh et al. 2022 (PLOS Comput Biol 18:e1009822).

Series are padded to a common length ``N`` with a boolean mask, so one compilation serves every
series (and every mask, e.g. the training part of a forecast). Per series, on data divided by its
maximum (parameters mapped back with the law's ``rescale``):

1. global search, standing in for the authors' ``differential_evolution`` over ``[0, 1]^k``:
   ``n_candidates`` fixed pseudo-random starting points (half of them turned into "fast response,
   then plateau" curves with the law's ``rescale``/``retime``) are scored by their SSE;
2. local search, standing in for their ``curve_fit(method="trf")``: Levenberg–Marquardt from the
   best ``n_starts`` candidates plus any caller-given starts (``init``, e.g. a nested law's fit),
   vmapped; the lowest SSE wins.

Bounds are enforced by transforms, ``lo + (hi - lo) sigmoid(phi)`` on a box and ``lo + exp(phi)``
on a half-line, with ``phi`` clamped (``|phi| <= 30`` resp. ``50``) and an active set, so optima on
a bound are recognised and a bound can be left again. Series are processed in chunks of
``batch_size`` (``lax.map`` over vmapped chunks).

Time origin: as in the authors' ``odeint(myode, v0, t)``, each curve starts at the series' first
masked time ``t0`` with a fitted ``V(t0) = v0``; the law is evaluated at ``t - t0``.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mechanistic.growth_curves import GrowthCurve


class FitResult(NamedTuple):
    """Per series (leading axis ``S``): ``params (S, k)`` best parameters (``v0`` last, the law's
    order); ``sse (S,)`` sum of squared residuals over the masked points; ``n_points (S,)``;
    ``converged (S,)`` whether Levenberg–Marquardt met a stopping test before ``max_steps`` on the
    winning start; ``t0 (S,)`` the time origin; ``steps (S,)`` LM iterations of the winning start."""

    params: jax.Array
    sse: jax.Array
    n_points: jax.Array
    converged: jax.Array
    t0: jax.Array
    steps: jax.Array


class Metrics(NamedTuple):
    """Fit (or forecast) quality per series, over the masked points: ``mae``, ``rmse``, ``r2``
    (``1 - SSE/SST``; for constant data sklearn's convention: 1 if the fit is exact to
    RMSE <= 1e-10 |y|, else 0), ``sse``, ``n``, ``aic = n ln(SSE/n) + 2k`` (Gaussian least squares;
    :func:`aic`) and ``aic_laleh = 2k - 2 ln(SSE)`` (the authors' formula; :func:`aic_laleh`)."""

    mae: jax.Array
    rmse: jax.Array
    r2: jax.Array
    sse: jax.Array
    n: jax.Array
    aic: jax.Array
    aic_laleh: jax.Array


def aic(sse, n, k):
    """Least-squares AIC ``n ln(SSE/n) + 2k`` (Gaussian errors, variance profiled out; the
    constant ``n (1 + ln 2 pi)`` is dropped as it cancels between laws)."""
    n = jnp.asarray(n, dtype=float)
    return n * jnp.log(jnp.asarray(sse) / n) + 2.0 * k


def aic_laleh(sse, k):
    """The authors' AIC, ``2k - 2 ln(SSE)`` (Fit.py: ``(2 * noParameters) - (2 * np.log(temp_sum))``
    with ``temp_sum`` the SSE). It is the textbook ``2k - 2 ln L`` with the SSE put in place of the
    likelihood ``L``, so it *decreases* as the fit gets worse; it does not depend on ``n``."""
    return 2.0 * k - 2.0 * jnp.log(jnp.asarray(sse))


def metrics(prediction, y, mask, n_parameters: int) -> Metrics:
    """Metrics of ``prediction`` against ``y`` over ``mask``; all ``(S, N)`` (or ``(N,)``). A
    zero SSE gives ``aic = -inf`` (and ``aic_laleh = +inf``)."""
    mask = jnp.asarray(mask, dtype=bool)
    y = jnp.asarray(y)
    resid = jnp.where(mask, jnp.asarray(prediction) - jnp.asarray(y), 0.0)
    n = mask.sum(-1)
    nf = jnp.maximum(n, 1).astype(float)
    sse = (resid**2).sum(-1)
    mean = jnp.where(mask, y, 0.0).sum(-1, keepdims=True) / nf[..., None]
    sst = jnp.where(mask, (jnp.asarray(y) - mean) ** 2, 0.0).sum(-1)
    # constant data (tested exactly: the mean of equal floats can be off by an ulp, making SST ~1e-36)
    y_masked = jnp.where(mask, y, jnp.nan)
    constant = jnp.nanmax(y_masked, -1) == jnp.nanmin(y_masked, -1)
    exact = sse <= 1e-20 * jnp.where(mask, jnp.asarray(y) ** 2, 0.0).sum(-1)  # RMSE <= 1e-10 |y|
    r2 = jnp.where(constant, jnp.where(exact, 1.0, 0.0), 1.0 - sse / jnp.where(constant, 1.0, sst))
    return Metrics(
        mae=jnp.abs(resid).sum(-1) / nf,
        rmse=jnp.sqrt(sse / nf),
        r2=r2,
        sse=sse,
        n=n,
        aic=aic(sse, nf, n_parameters),
        aic_laleh=aic_laleh(sse, n_parameters),
    )


def default_start_box(law: GrowthCurve) -> tuple[tuple[float, float], ...]:
    """Where candidate starts are drawn, per parameter except ``v0`` (drawn around the first
    observation), for data scaled to a maximum of 1 (as :func:`fit_curve` does): the bounds where
    finite, else magnitudes log-uniform in ``[1e-3, 3]`` (signed, up to 10, for free parameters) --
    the authors' DE box ``[0, 1]`` widened, for rates per week."""
    box = []
    for lo, hi in law.bounds[:-1]:
        if np.isfinite(lo) and np.isfinite(hi):
            box.append((lo, hi))
        elif np.isfinite(lo) or np.isfinite(hi):
            box.append((1e-3, 3.0))
        else:
            box.append((1e-3, 10.0))
    return tuple(box)


# Unconstrained coordinates are clamped to a finite box (sigmoid: +-30, exp: +-50, i.e. 1e-13 of a
# box edge, 2e-22..5e21 on a half-line): derivatives never vanish exactly, so a bound that LM ran
# into can be left again, and the active-set test in _lm can recognise optima on a bound.
_SIGMOID_CLAMP = 30.0
_EXP_CLAMP = 50.0


def _clamps(bounds) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = [], []
    for blo, bhi in bounds:
        c = (
            _SIGMOID_CLAMP
            if np.isfinite(blo) and np.isfinite(bhi)
            else _EXP_CLAMP
            if np.isfinite(blo) or np.isfinite(bhi)
            else np.inf
        )
        lo.append(-c)
        hi.append(c)
    return np.asarray(lo), np.asarray(hi)


def _constrain(phi, bounds):
    out = []
    for i, (lo, hi) in enumerate(bounds):
        if np.isfinite(lo) and np.isfinite(hi):
            out.append(lo + (hi - lo) * jax.nn.sigmoid(phi[..., i]))
        elif np.isfinite(lo):
            out.append(lo + jnp.exp(phi[..., i]))
        elif np.isfinite(hi):
            out.append(hi - jnp.exp(phi[..., i]))
        else:
            out.append(phi[..., i])
    return jnp.stack(out, axis=-1)


def _unconstrain(theta, bounds):
    out = []
    for i, (lo, hi) in enumerate(bounds):
        x = theta[..., i]
        if np.isfinite(lo) and np.isfinite(hi):
            p = jnp.clip((x - lo) / (hi - lo), 1e-300, 1.0)
            out.append(jnp.log(p) - jnp.log1p(-jnp.minimum(p, 1 - 1e-16)))
        elif np.isfinite(lo):
            out.append(jnp.log(jnp.maximum(x - lo, 1e-300)))
        elif np.isfinite(hi):
            out.append(jnp.log(jnp.maximum(hi - x, 1e-300)))
        else:
            out.append(x)
    lo_c, hi_c = _clamps(bounds)
    return jnp.clip(jnp.stack(out, axis=-1), lo_c, hi_c)


def _unit_draws(n: int, n_box: int, seed: int) -> np.ndarray:
    """``(n, 2 n_box + 3)`` uniforms on [0, 1) for the candidates (NumPy at trace time, so no PRNG
    enters the compiled program): box positions, signs, ``v0`` jitter, plateau level, speed-up."""
    return np.random.default_rng(seed).random((n, 2 * n_box + 3))


def _candidates(law: GrowthCurve, box, v_first, level, u):
    """Constrained candidate starts ``(n, k)`` for one series (unit-scale data) from unit draws
    ``u`` (:func:`_unit_draws`). Half are drawn from ``box`` (candidate 0: its centre), with ``v0``
    within a factor e of ``v_first``; the other half are such draws mapped, with ``law.rescale``
    and ``law.retime``, to curves whose long-time value is within a factor 1.6 of ``level`` and that
    get there 1 to 100 times faster: the "fast response, then plateau" shape that is common in
    these data and that independent draws rarely hit."""
    nb = len(box)
    u = jnp.asarray(u).at[0, :nb].set(0.5)
    cols = []
    for i, ((lo, hi), (blo, bhi)) in enumerate(zip(law.bounds[:-1], box, strict=True)):
        if np.isfinite(lo) and np.isfinite(hi):
            cols.append(blo + (bhi - blo) * u[:, i])
        else:
            mag = jnp.exp(np.log(blo) + (np.log(bhi) - np.log(blo)) * u[:, i])
            if np.isfinite(lo):
                cols.append(lo + mag)
            elif np.isfinite(hi):
                cols.append(hi - mag)
            else:  # free: random sign (candidate 0: negative), magnitude log-uniform
                cols.append(jnp.where(u[:, nb + i] < 0.5, -1.0, 1.0).at[0].set(-1.0) * mag)
    v0 = v_first * jnp.exp((2.0 * u[:, 2 * nb] - 1.0).at[0].set(0.0))
    drawn = jnp.stack([*cols, v0], axis=-1)

    def plateau(theta, target, speed):
        end = law(jnp.array([1e4]), theta)[0]
        c = jnp.where(jnp.isfinite(end) & (end > 0), jnp.clip(target / end, 1e-12, 1e12), 1.0)
        theta = law.rescale(theta, c)
        return law.retime(theta.at[-1].set(theta[-1] / c), speed)  # v0 back to its draw

    half = u.shape[0] // 2
    target = level * jnp.exp(u[half:, 2 * nb + 1] - 0.5)
    speed = jnp.exp(u[half:, 2 * nb + 2] * np.log(100.0))
    return jnp.concatenate([drawn[:half], jax.vmap(plateau)(drawn[half:], target, speed)])


def _spd_solve(a, b):
    """``a^-1 b`` for a small symmetric positive (semi)definite ``a``, by an unrolled Cholesky
    factorisation whose pivots are floored at ``1e-14`` of the diagonal (cheap to compile)."""
    k = a.shape[0]
    low = [[None] * k for _ in range(k)]
    for j in range(k):
        pivot = a[j, j] - sum(low[j][m] ** 2 for m in range(j))
        low[j][j] = jnp.sqrt(jnp.maximum(pivot, 1e-14 * a[j, j] + 1e-300))
        for i in range(j + 1, k):
            low[i][j] = (a[i, j] - sum(low[i][m] * low[j][m] for m in range(j))) / low[j][j]
    z = []
    for i in range(k):
        z.append((b[i] - sum(low[i][m] * z[m] for m in range(i))) / low[i][i])
    x = [None] * k
    for i in reversed(range(k)):
        x[i] = (z[i] - sum(low[m][i] * x[m] for m in range(i + 1, k))) / low[i][i]
    return jnp.stack(x)


def _lm(residual, phi0, lo, hi, *, max_steps: int, ftol: float, xtol: float, gtol: float):
    """Levenberg–Marquardt (Marquardt scaling, Madsen–Nielsen damping update) from ``phi0`` in the
    box ``[lo, hi]``; coordinates on a face of the box whose gradient points outwards are held
    (active set). Returns ``(phi, cost, converged, steps)`` with ``cost = 0.5 |r|^2``. Non-finite
    trial points count as rejected steps."""
    k = phi0.shape[0]
    eye = jnp.eye(k, dtype=phi0.dtype)

    def lin(phi):
        r, jvp = jax.linearize(residual, phi)
        return r, jax.vmap(jvp, in_axes=1, out_axes=1)(eye)

    r0, j0 = lin(phi0)
    cost0 = 0.5 * jnp.sum(r0**2)
    ok0 = jnp.isfinite(cost0) & jnp.all(jnp.isfinite(j0))
    mu0 = 1e-3 * jnp.max(jnp.diag(j0.T @ j0))
    state0 = (phi0, jnp.where(ok0, cost0, jnp.inf), r0, j0, jnp.where(ok0, mu0, 1.0), 2.0, ~ok0, ~ok0, 0)

    def cond(s):
        return (~s[6]) & (s[8] < max_steps)

    def body(s):
        phi, cost, r, jac, mu, nu, _, dead, it = s
        g = jac.T @ r
        free = ~(((phi <= lo) & (g > 0)) | ((phi >= hi) & (g < 0)))  # held: descent would leave the box
        jf = jnp.where(free[None, :], jac, 0.0)
        a = jf.T @ jf
        g = jnp.where(free, g, 0.0)
        d = jnp.where(free, jnp.maximum(jnp.diag(a), 1e-30), 1.0)
        # stationary: the Gauss-Newton step of the linear model promises a relative decrease <= ftol,
        # or every free Jacobian column is orthogonal to r (MINPACK's gtol)
        gn_gain = 0.5 * g @ _spd_solve(a + 1e-12 * jnp.diag(d) + jnp.diag(~free * 1.0), g)
        cosine = jnp.max(jnp.abs(g) / jnp.sqrt(d)) / jnp.maximum(jnp.sqrt(2.0 * cost), 1e-300)
        stationary = (gn_gain <= ftol * cost) | (cosine <= gtol) | (cost == 0)
        h = -_spd_solve(a + mu * jnp.diag(d) + jnp.diag(~free * 1.0), g)
        phi_new = jnp.clip(phi + h, lo, hi)
        h = phi_new - phi
        r_new, j_new = lin(phi_new)
        cost_new = 0.5 * jnp.sum(r_new**2)
        finite = jnp.isfinite(cost_new) & jnp.all(jnp.isfinite(j_new)) & jnp.all(jnp.isfinite(h))
        predicted = -(g @ h) - 0.5 * h @ (a @ h)
        rho = (cost - cost_new) / jnp.where(predicted > 0, predicted, jnp.inf)
        accept = finite & (rho > 0) & ~stationary
        small_step = accept & (jnp.max(jnp.abs(h) / (jnp.abs(phi) + 1.0)) <= xtol)
        done = stationary | small_step | (mu > 1e30)
        mu = jnp.where(accept, mu * jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), mu * nu)
        nu = jnp.where(accept, 2.0, 2.0 * nu)
        pick = lambda new, old: jnp.where(accept, new, old)  # noqa: E731
        return (
            pick(phi_new, phi),
            pick(cost_new, cost),
            pick(r_new, r),
            pick(j_new, jac),
            mu,
            nu,
            done,
            dead | (mu > 1e30),
            it + 1,
        )

    phi, cost, _, _, _, _, done, dead, steps = jax.lax.while_loop(cond, body, state0)
    return phi, cost, done & ~dead, steps


@partial(jax.jit, static_argnames=("law", "n_starts", "n_candidates", "max_steps", "start_box", "seed", "batch_size"))
def fit_curve(
    law: GrowthCurve,
    t,
    y,
    mask,
    *,
    init=None,
    seed: int = 0,
    n_starts: int = 8,
    n_candidates: int = 1024,
    max_steps: int = 100,
    start_box: tuple[tuple[float, float], ...] | None = None,
    ftol: float = 1e-8,
    xtol: float = 1e-8,
    gtol: float = 1e-10,
    batch_size: int = 64,
) -> FitResult:
    """Fit ``law`` to every series by least squares (see the module docstring for the method).

    Arguments: ``t, y, mask``: ``(S, N)``; times non-decreasing along each row (e.g. weeks),
    padded entries any finite value with ``mask`` False; a row without masked points gets SSE 0
    and ``n_points`` 0. ``init``: optional ``(S, m, k)`` extra LM starts (e.g. a nested law's fit).
    ``seed``: NumPy seed of the candidates' unit draws (shared by all series). ``n_candidates``
    scored per series, LM from the best ``n_starts``. ``max_steps``: LM iterations per start.
    ``start_box``: per-parameter ranges (``v0`` excluded) for the candidates, on data scaled to a
    maximum of 1 (default :func:`default_start_box`). LM stops when the Gauss–Newton step promises
    a relative cost decrease below ``ftol``, a step is relatively smaller than ``xtol``, or every
    free Jacobian column makes a cosine below ``gtol`` with the residuals. ``batch_size``: series
    per vmapped chunk.

    Static (compile-time) arguments: ``law``, ``n_starts``, ``n_candidates``, ``max_steps``,
    ``start_box``, ``seed``, ``batch_size``; the shapes of ``t`` and ``init``.
    """
    t, y, mask = (jnp.asarray(x) for x in (t, y, mask))
    if t.ndim != 2 or t.shape != y.shape or t.shape != mask.shape:
        raise ValueError(f"fit_curve: t, y and mask must share a shape (S, N); got {t.shape}, {y.shape}, {mask.shape}")
    if not 1 <= n_starts <= n_candidates:
        raise ValueError(f"fit_curve: need 1 <= n_starts <= n_candidates; got {n_starts}, {n_candidates}")
    box = default_start_box(law) if start_box is None else start_box
    if len(box) != law.n_parameters - 1:
        raise ValueError(
            f"fit_curve: start_box needs {law.n_parameters - 1} ranges for {law.parameters[:-1]}; got {box}"
        )
    k = law.n_parameters
    init = jnp.zeros((t.shape[0], 0, k)) if init is None else jnp.asarray(init, dtype=float)
    if init.ndim != 3 or init.shape[0] != t.shape[0] or init.shape[2] != k:
        raise ValueError(f"fit_curve: init must have shape ({t.shape[0]}, m, {k}); got {init.shape}")
    if batch_size < 1 or max_steps < 1:
        raise ValueError(f"fit_curve: batch_size and max_steps must be >= 1; got {batch_size}, {max_steps}")
    draws = _unit_draws(n_candidates, len(box), seed)
    mask = mask.astype(bool)

    def one(t, y, mask, init):
        first = jnp.argmax(mask)
        t0 = t[first]
        tr = jax.lax.cummax(jnp.maximum(t - t0, 0.0))
        scale = jnp.max(jnp.where(mask, jnp.abs(y), 0.0))
        scale = jnp.where(scale > 0, scale, 1.0)
        ys = jnp.where(mask, y / scale, 0.0)

        def resid(theta):
            return jnp.where(mask, law(tr, theta) - ys, 0.0)

        later = mask & (jnp.arange(mask.shape[0]) > first)
        level = jnp.where(later.any(), jnp.sum(jnp.where(later, ys, 0.0)) / jnp.maximum(later.sum(), 1), ys[first])
        cand = _candidates(law, box, jnp.maximum(ys[first], 1e-3), jnp.maximum(level, 1e-3), draws)
        cand_cost = jax.vmap(lambda th: jnp.sum(resid(th) ** 2))(cand)
        cand_cost = jnp.where(jnp.isfinite(cand_cost), cand_cost, jnp.inf)
        starts = jnp.concatenate(
            [cand[jnp.argsort(cand_cost)[:n_starts]], jax.vmap(law.rescale, (0, None))(init, 1 / scale)]
        )
        phi0 = _unconstrain(starts, law.bounds)
        lo, hi = _clamps(law.bounds)
        lm = partial(
            _lm,
            lambda phi: resid(_constrain(phi, law.bounds)),
            lo=lo,
            hi=hi,
            max_steps=max_steps,
            ftol=ftol,
            xtol=xtol,
            gtol=gtol,
        )
        phi, cost, converged, steps = jax.vmap(lm)(phi0)
        cost = jnp.where(jnp.isfinite(cost), cost, jnp.inf)
        win = jnp.argmin(cost)
        theta = law.rescale(_constrain(phi[win], law.bounds), scale)
        return theta, 2.0 * cost[win] * scale**2, mask.sum(), converged[win], t0, steps[win]

    # lax.map over chunks of batch_size series, vmapped inside: the LM loop of a chunk stops when its
    # own series are done. (Also: with jaxlib 0.10.2 on CPU, one vmap over all ~600 series x 9 starts
    # of the general Gompertz fit hung in block_until_ready, every time; chunks of 64 do not.)
    # Padding to whole chunks avoids compiling lax.map's remainder separately.
    s = t.shape[0]
    pad = -s % batch_size
    padded = [jnp.concatenate([x, jnp.repeat(x[:1], pad, axis=0)]) for x in (t, y, mask, init)]
    out = jax.lax.map(lambda a: one(*a), tuple(padded), batch_size=batch_size)
    return FitResult(*(x[:s] for x in out))


@partial(jax.jit, static_argnames=("law",))
def predict(law: GrowthCurve, result: FitResult, t) -> jax.Array:
    """``(S, N)`` values of ``law`` with each series' fitted parameters at times ``t (S, N)``
    (non-decreasing rows), measured on the same clock as the fit (origin ``result.t0``)."""
    t = jnp.asarray(t)
    tr = jax.lax.cummax(jnp.maximum(t - result.t0[:, None], 0.0), axis=1)
    return jax.vmap(law)(tr, result.params)
