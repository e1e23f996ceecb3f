"""Remez exchange for best uniform approximation of f on [0, 1] (claims C1, C3, C4).

Space: ``w(p) * span{T_0(u), ..., T_N(u)}`` with u = 2p - 1 (Chebyshev basis on [0, 1],
well conditioned) and w(p) = p (constrained: P(0) = 0, the table problem, N = K - 1) or
w(p) = 1 (unconstrained: all polynomials of degree <= N = K). The error
e(p) = w(p) Q(p) - f(p) of the best approximation equioscillates at N + 2 points.

Two stages:

1. float64: multi-point exchange on a grid uniform in theta (p = (1 - cos theta)/2, so the
   grid clusters at 0 and 1 like the alternation points do), extrema refined by zooming;
2. Arb (``flint``) polish at ``prec`` bits: linear solve for (coefficients, levelled error),
   extrema refined by Newton on e'(p) = 0, repeated until the extremal values agree to
   ``polish_tol`` relatively (quadratic convergence).

The result is not trusted by itself: :mod:`estimators.minimax.certify` certifies it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from flint import arb, arb_mat, arb_poly, ctx, fmpz_poly
from numpy.polynomial import chebyshev as C

from .targets import Target

__all__ = ["RemezSolution", "ConvergenceError", "remez", "cheb_to_monomial_u"]


class ConvergenceError(RuntimeError, ValueError):
    """The exchange algorithm did not converge (the message says where and how far)."""


@dataclass
class RemezSolution:
    """Best-approximation data (mid-points of Arb balls; not certified).

    coeffs : list of arb      Chebyshev coefficients a_0..a_N of Q (u = 2p - 1)
    points : list of arb      the N + 2 alternation points (exact binary numbers) in [0, 1]
    values : list of arb      e at the points (alternating in sign)
    levelled : arb            the levelled error |h| of the last linear solve
    """

    target: Target
    N: int
    constrained: bool
    coeffs: list
    points: list
    values: list
    levelled: arb
    prec: int
    iterations_f64: int
    iterations_arb: int
    spread: float  # max|e_i| / min|e_i| - 1 at the points

    @property
    def dim(self) -> int:
        return self.N + 1


# -- helpers ------------------------------------------------------------------------

@lru_cache(maxsize=16)
def _cheb_matrix(N: int) -> arb_mat:
    """(N+1)x(N+1) integer matrix: column j = monomial coefficients of T_j(u)."""
    M = [[0] * (N + 1) for _ in range(N + 1)]
    for j in range(N + 1):
        cs = fmpz_poly.chebyshev_t(j).coeffs()
        for i, c in enumerate(cs):
            M[i][j] = int(c)
    return M


def cheb_to_monomial_u(coeffs, prec: int) -> arb_poly:
    """arb_poly in u of sum_j coeffs[j] T_j(u) at ``prec`` bits."""
    N = len(coeffs) - 1
    with ctx.workprec(prec):
        M = arb_mat(_cheb_matrix(N))
        v = M * arb_mat(N + 1, 1, list(coeffs))
        return arb_poly([v[i, 0] for i in range(N + 1)])


def _weighted_u(Qu: arb_poly, constrained: bool) -> arb_poly:
    """P_u(u) = w(p) Q_u(u) with p = (1 + u)/2."""
    if not constrained:
        return Qu
    return Qu * arb_poly([arb(1) / 2, arb(1) / 2])


def _theta(p):
    return np.arccos(np.clip(1.0 - 2.0 * np.asarray(p, dtype=np.float64), -1.0, 1.0))


def _p_of_theta(th):
    return 0.5 * (1.0 - np.cos(th))


def _err_f64(target: Target, a: np.ndarray, p: np.ndarray, constrained: bool) -> np.ndarray:
    q = C.chebval(2.0 * p - 1.0, a)
    return (p * q if constrained else q) - target.f_np(p)


def _select_alternating(ps, es, npts):
    """From sign-alternating extrema (ps, es) pick ``npts`` keeping alternation and the largest."""
    ps, es = list(ps), list(es)
    while len(ps) > npts:
        excess = len(ps) - npts
        absx = [abs(e) for e in es]
        i = int(np.argmin(absx))
        if i in (0, len(ps) - 1) or excess == 1:
            # drop the smaller end point (keeps alternation)
            j = 0 if absx[0] <= absx[-1] else len(ps) - 1
            del ps[j], es[j]
        else:
            j = i - 1 if absx[i - 1] < absx[i + 1] else i + 1
            lo = min(i, j)
            del ps[lo:lo + 2], es[lo:lo + 2]
    return ps, es


def _extrema_f64(target, a, constrained, ref, grid_th):
    """Local extrema of |e| per sign run on the theta grid (plus the reference), refined by zooming."""
    th = np.union1d(grid_th, _theta(ref))
    p = _p_of_theta(th)
    e = _err_f64(target, a, p, constrained)
    s = np.sign(e)
    keep = s != 0
    th, e, s = th[keep], e[keep], s[keep]
    runs = np.flatnonzero(np.diff(s)) + 1
    starts = np.concatenate([[0], runs])
    ends = np.concatenate([runs, [len(s)]])
    idx = np.array([st + int(np.argmax(np.abs(e[st:en]))) for st, en in zip(starts, ends)])
    # zoom around each run maximum
    lo = th[np.maximum(idx - 1, 0)]
    hi = th[np.minimum(idx + 1, len(th) - 1)]
    best = th[idx].copy()
    sg = s[idx]
    m = 9
    for _ in range(10):
        cand = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, m)[None, :]
        ev = _err_f64(target, a, _p_of_theta(cand.ravel()), constrained).reshape(cand.shape) * sg[:, None]
        j = np.argmax(ev, axis=1)
        best = cand[np.arange(len(j)), j]
        step = (hi - lo) / (m - 1)
        lo = np.maximum(best - step, 0.0)
        hi = np.minimum(best + step, np.pi)
    pb = _p_of_theta(best)
    eb = _err_f64(target, a, pb, constrained)
    # end-point extrema: e is flat in theta there, so the zoom may stop just short of them
    noise = 1e-12 * max(float(np.max(np.abs(eb))), 1e-300)
    for end, near in ((1.0, hi >= np.pi), (0.0, lo <= 0.0)):
        e_end = _err_f64(target, a, np.array([end]), constrained)[0]
        snap = near & (sg * e_end >= sg * eb - noise) & (e_end != 0)
        pb[snap] = end
        eb[snap] = e_end
    pb[pb >= 1.0 - 4e-16] = 1.0
    eb = _err_f64(target, a, pb, constrained)
    return pb, eb


def _solve_f64(target, ref, N, constrained):
    u = 2.0 * ref - 1.0
    A = C.chebvander(u, N)
    if constrained:
        A = A * ref[:, None]
    sgn = (-1.0) ** np.arange(N + 2)
    M = np.hstack([A, sgn[:, None]])
    sol = np.linalg.solve(M, target.f_np(ref))
    return sol[:-1], sol[-1]


def _initial_reference(N, constrained):
    i = np.arange(N + 2, dtype=np.float64)
    if constrained:
        th = np.pi * (i + 0.5) / (N + 1.5)
        th[-1] = np.pi
    else:
        th = np.pi * i / (N + 1)
    p = _p_of_theta(th)
    if not constrained:
        p[0] = 0.0
    p[-1] = 1.0
    return p


def _remez_f64(target, N, constrained, ref0=None, maxiter=60, tol=1e-10):
    npts = N + 2
    ref = _initial_reference(N, constrained) if ref0 is None else np.asarray(ref0, dtype=np.float64)
    grid_th = np.linspace(0.0, np.pi, 24 * npts + 64)
    spread = np.inf
    best = (np.inf, ref, 0)
    for it in range(1, maxiter + 1):
        a, h = _solve_f64(target, ref, N, constrained)
        pe, ee = _extrema_f64(target, a, constrained, ref, grid_th)
        if len(pe) < npts:
            raise ConvergenceError(
                f"Remez (float64) found only {len(pe)} sign changes, need {npts} (N={N}); the "
                f"approximation problem may be degenerate (target already in the space?)")
        pe, ee = _select_alternating(pe, ee, npts)
        absx = np.abs(ee)
        spread = absx.max() / max(absx.min(), 1e-300) - 1.0
        ref = np.array(pe)
        if spread < tol:
            return ref, it, spread
        if spread < best[0]:
            best = (spread, ref, it)
        elif it - best[2] >= 5:
            # float64 noise floor reached (no progress in 5 steps): the Arb polish takes over
            return best[1], it, best[0]
    return best[1], maxiter, best[0]


def _newton_extremum(target, Pu, d1, d2, p: arb, constrained: bool, iters: int = 8,
                     lo: float = 0.0, hi: float = 1.0) -> arb:
    """Refine an interior local extremum of e(p) = P_u(2p-1) - f(p) by Newton on e'(p) = 0,
    staying inside (lo, hi) (half-way to the neighbouring points); else keep the last iterate."""
    x = p
    for _ in range(iters):
        u = 2 * x - 1
        g1 = 2 * d1(u) - target.d1(x)
        g2 = 4 * d2(u) - target.d2(x)
        if g2 == 0:
            break
        step = g1 / g2
        xn = arb((x - step).mid())
        if not (xn > lo and xn < hi):
            break
        if abs(step.mid()) <= abs(x.mid()) * arb(2) ** (-(ctx.prec - 8)):
            x = xn
            break
        x = xn
    return x


def remez(target: Target, N: int, *, constrained: bool, prec: int | None = None,
          ref0=None, polish_tol: float = 1e-24, max_polish: int = 8) -> RemezSolution:
    """Best approximation of ``target`` (see module docstring). Raises ConvergenceError."""
    if prec is None:
        prec = int(128 + 1.4 * N)
    ref, it64, spread64 = _remez_f64(target, N, constrained, ref0=ref0)
    if not np.isfinite(spread64) or spread64 > 0.25:
        raise ConvergenceError(
            f"Remez (float64) did not converge for N={N}: extremal values spread {spread64:.3g} "
            f"(needs < 0.25 before the extended-precision polish)")
    npts = N + 2
    with ctx.workprec(prec):
        pts = [arb(float(x)) for x in ref]
        spread = float("inf")
        itp = 0
        for itp in range(1, max_polish + 1):
            # -- linear solve for coefficients and levelled error
            rows = []
            for i, x in enumerate(pts):
                u = 2 * x - 1
                w = x if constrained else arb(1)
                t0, t1 = arb(1), u
                row = [w * t0]
                if N >= 1:
                    row.append(w * t1)
                for _ in range(2, N + 1):
                    t0, t1 = t1, 2 * u * t1 - t0
                    row.append(w * t1)
                row.append(arb(1) if i % 2 == 0 else arb(-1))
                rows.append(row)
            A = arb_mat(rows)
            b = arb_mat(npts, 1, [target.f(x) for x in pts])
            sol = A.solve(b, algorithm="approx")
            coeffs = [arb(sol[j, 0].mid()) for j in range(N + 1)]
            h = arb(sol[N + 1, 0].mid())
            Pu = _weighted_u(cheb_to_monomial_u(coeffs, prec), constrained)
            d1 = Pu.derivative()
            d2 = d1.derivative()
            # -- exchange: move every point to the nearby extremum
            new = []
            fl = [float(x.mid()) for x in pts]
            for i, x in enumerate(pts):
                if x == 0 or x == 1:
                    new.append(x)
                else:
                    lo = 0.5 * (fl[i - 1] + fl[i]) if i > 0 else 0.0
                    hi = 0.5 * (fl[i] + fl[i + 1]) if i + 1 < len(fl) else 1.0
                    new.append(_newton_extremum(target, Pu, d1, d2, x, constrained, lo=lo, hi=hi))
            # end-point extrema: Newton cannot reach them (e' != 0 there); take the end point
            # when it has the same sign and a larger |e| than the interior iterate next to it
            ends = [(npts - 1, arb(1))] + ([] if constrained else [(0, arb(0))])
            for i, xe in ends:
                if new[i] != xe:
                    vi = Pu(2 * new[i] - 1) - target.f(new[i])
                    ve = Pu(2 * xe - 1) - target.f(xe)
                    if (ve > 0) == (vi > 0) and abs(ve.mid()) >= abs(vi.mid()):
                        new[i] = xe
            vals = [Pu(2 * x - 1) - target.f(x) for x in new]
            ok = all((vals[i] > 0) != (vals[i + 1] > 0) for i in range(npts - 1))
            if not ok:
                raise ConvergenceError(f"Remez polish lost alternation at N={N} (iteration {itp})")
            absv = [abs(v.mid()) for v in vals]
            mx, mn = max(absv), min(absv)
            spread = float(mx / mn - 1)
            pts = new
            if spread < polish_tol:
                break
        else:
            if spread > 1e-12:
                raise ConvergenceError(
                    f"Remez polish did not converge for N={N}: spread {spread:.3g} after {max_polish} iterations")
        return RemezSolution(target=target, N=N, constrained=constrained, coeffs=coeffs, points=pts,
                             values=vals, levelled=abs(h), prec=prec, iterations_f64=it64,
                             iterations_arb=itp, spread=spread)
