"""Extended-precision stage of the AQP solver (claim C6): exchange around an Arb interior-point method,
finished by Newton on the active set.

Problem (weighted bias e_g(p) = p B_g(p) - f(p), f(p) = p·target(p), budget tau):

    minimise  g^T H g   subject to   |e_g(x)| <= tau  for every x in [0, 1],

H the objective's exact form (:class:`.objective.QuadraticObjective`; by default the integrated weighted
variance H_K), read here as Arb balls.

Double precision stops resolving it once the optimal entries grow: the constraint is evaluated with
cancellation of order max|g| · 2^-53, which exceeds tau at small budgets (Clarabel then reports
"inaccurate" or fails). Here every quantity lives in Arb ball arithmetic (python-flint) at ``prec``
bits; mid-points are the working values (the result is *certified afterwards*, see :mod:`.certify`).

1. **Exchange.** The constraint is imposed on a finite set P (a grid uniform in theta plus warm-start
   points); the finite QP is solved by the interior-point method of :mod:`.ipm`; the error of the
   solution is scanned on a dense grid (float64 from the Chebyshev coefficients of B_g, which are well
   conditioned), every near-active local maximum is located by golden section and its value
   re-evaluated in Arb, and the violating maxima join P. An interior-point method makes no
   combinatorial decisions, so degenerate structures (shallow bumps hugging the budget, multipliers
   near zero) do not trouble it; the exchange converges linearly.
2. **Polish.** Once the violation is small, the active set (one point per bump, read off the
   interior-point multipliers) is refined by Newton's method on the continuous KKT system
   2 H g + sum_i lambda_i s_i a(x_i) = 0, s_i e(x_i) = tau, e'(x_i) = 0 (a(x) = x b(x)), with the
   point updates eliminated by a Schur complement; a constraint whose multiplier turns negative
   leaves, the extremum of a violating bump joins. Quadratic convergence where the active set is
   non-degenerate; where the polish fails the exchange simply continues to its tolerance.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from math import comb
from typing import Callable

import numpy as np
from flint import arb, arb_mat, ctx
from scipy import fft

from ..minimax.certify import poly_u_from_bernstein
from ..minimax.targets import Target
from .objective import QuadraticObjective, check_objective_for

__all__ = ["ExtendedError", "error_extrema", "shift_along_budget", "ActiveSet", "solve_extended", "bernstein_row", "working_precision", "dense_grid",
           "scan_extrema", "locate_maxima"]


class ExtendedError(RuntimeError, ValueError):
    """The extended-precision stage did not converge (the message says where)."""


@dataclass
class ActiveSet:
    """Result of :func:`solve_extended` (and a warm start for the next budget).

    points, signs, lam   the active points (float64), s_i = sign of e there, multipliers lambda_i >= 0
                         (objective units per unit of bias): 2 H g + sum_i lambda_i s_i a(x_i) = 0
    g                    the table (Arb mid-points at ``prec`` bits)
    dual_points, dual_nu the points and signed multipliers nu_i for the dual certificate (the active
                         set after a polish, else every point of the exchange set)
    polished             whether Newton on the continuous KKT system converged
    objective            the quadratic form solved for (None: the default H_K)
    """

    points: list
    signs: list
    lam: list = field(default_factory=list)
    g: list | None = None
    prec: int = 0
    tau: float | None = None
    dual_points: list = field(default_factory=list)
    dual_nu: list = field(default_factory=list)
    polished: bool = False
    iterations: int = 0
    rounds: int = 0
    max_violation: float = float("nan")
    seconds: float = 0.0
    objective: QuadraticObjective | None = field(default=None, repr=False)

    def variance_estimate(self) -> float:
        """g^T H g in float64 from the Arb table (an objective scale for warm starts)."""
        if self.g is None:
            return 1.0
        gf = np.array([float(x.mid()) if isinstance(x, arb) else float(x) for x in self.g])
        return check_objective_for(self.objective, gf.size).value_float64(gf)


def working_precision(K: int, max_abs_g: float, tau: float) -> int:
    """Bits for the Arb stage: guard bits + cancellation in the monomial form + dynamic range."""
    bits = 96 + 1.3 * K + math.log2(1.0 + max(max_abs_g, 1.0)) + math.log2(1.0 / tau)
    return int(64 * math.ceil(bits / 64))


def bernstein_row(x: arb, n: int) -> list:
    """[b_{n,0}(x), ..., b_{n,n}(x)] in Arb (product form: every term is >= 0, no cancellation)."""
    q = 1 - x
    xp = [arb(1)]
    qp = [arb(1)]
    for _ in range(n):
        xp.append(xp[-1] * x)
        qp.append(qp[-1] * q)
    return [comb(n, c) * xp[c] * qp[n - c] for c in range(n + 1)]


def dense_grid(K: int, tau: float) -> np.ndarray:
    """Scan grid: uniform in theta (p = (1 - cos theta)/2 clusters like the extrema at 0 and 1) plus a
    geometric grid towards 0 down to where |e| <= p·(|g_0| + |log p|) cannot reach tau."""
    th = np.linspace(0.0, np.pi, 48 * K + 400)
    p = 0.5 * (1.0 - np.cos(th))
    geo = np.geomspace(max(tau * 1e-4, 1e-300), 4.0 / K**2, 400)
    return np.unique(np.concatenate([p, geo, [0.0, 1.0]]))


class _Workspace:
    """Arb data for one (objective, prec): H# (approximate inverse of H[1:,1:]) and Bernstein rows at
    Chebyshev nodes (for the float64 scan)."""

    def __init__(self, objective: QuadraticObjective, prec: int):
        K = objective.m
        self.K, self.prec = K, prec
        with ctx.workprec(prec):
            H11 = objective.arb_h11(prec)
            eye = arb_mat([[arb(1) if i == j else arb(0) for j in range(K - 1)] for i in range(K - 1)])
            Hs = H11.solve(eye, algorithm="approx")
            self.Hs = arb_mat([[arb(Hs[i, j].mid()) for j in range(K - 1)] for i in range(K - 1)])
            self.nn = 2 * K + 16
            self.Bn = _cheb_nodes_matrix(K, prec)
            self.H2 = objective.arb_matrix(prec) * 2
        self._rows: dict = {}
        self._rows3: dict = {}

    def rows3(self, x: float) -> tuple:
        """(a(x), a'(x), a''(x)) with a(x) = x b(x): the gradients in g of e, e', e'' at x."""
        r = self._rows3.get(x)
        if r is None:
            n = self.K - 1
            with ctx.workprec(self.prec):
                xa = arb(x)
                b = bernstein_row(xa, n)
                b1 = bernstein_row(xa, n - 1) if n >= 1 else []
                b2 = bernstein_row(xa, n - 2) if n >= 2 else []

                def at(v, c):
                    return v[c] if 0 <= c < len(v) else arb(0)
                d1 = [n * (at(b1, c - 1) - at(b1, c)) for c in range(n + 1)]
                d2 = [n * (n - 1) * (at(b2, c - 2) - 2 * at(b2, c - 1) + at(b2, c)) for c in range(n + 1)]
                a0 = [xa * v for v in b]
                a1 = [v + xa * w for v, w in zip(b, d1)]
                a2 = [2 * w + xa * z for w, z in zip(d1, d2)]
            if len(self._rows3) > 20000:
                self._rows3.clear()
            r = self._rows3[x] = (a0, a1, a2)
        return r

    def row(self, x: float) -> list:
        """a(x) = x b(x) at this precision (cached per point)."""
        r = self._rows.get(x)
        if r is None:
            with ctx.workprec(self.prec):
                xa = arb(x)
                r = [xa * b for b in bernstein_row(xa, self.K - 1)]
            if len(self._rows) > 20000:
                self._rows.clear()
            self._rows[x] = r
        return r


@lru_cache(maxsize=8)
def _workspace(objective: QuadraticObjective, prec: int) -> _Workspace:
    return _Workspace(objective, prec)


@lru_cache(maxsize=16)
def _cheb_nodes_matrix(K: int, prec: int) -> arb_mat:
    """Bernstein rows b(p) (degree K - 1) at the 2K + 16 Chebyshev points of the first kind, p = (1 + u) / 2."""
    nn = 2 * K + 16
    u = np.cos(np.pi * (np.arange(nn) + 0.5) / nn)
    with ctx.workprec(prec):
        return arb_mat([bernstein_row(arb((1.0 + float(x)) / 2.0), K - 1) for x in u])


def error_extrema(entries, target: Target, tau: float, *, prec: int | None = None):
    """Local maxima of |e| for the table with these ``entries`` (floats, decimal strings, Fractions or Arb balls),
    e(p) = p B_g(p) - f(p): ``(xs, e)`` with the located positions and the signed error there (float64).

    B_g is evaluated at Chebyshev points in Arb (no cancellation however large the entries), so its float64
    Chebyshev coefficients are accurate; the scan and the golden-section location then run in float64
    (:func:`scan_extrema`). Used for the certificate's interval centres and the directed rounding."""
    from fractions import Fraction
    K = len(entries)
    big = max(abs(float(Fraction(v) if isinstance(v, str) else (v.mid() if isinstance(v, arb) else v)))
              for v in entries)
    prec = prec or working_precision(K, big, tau)
    Bn = _cheb_nodes_matrix(K, prec)
    with ctx.workprec(prec):
        g = [v if isinstance(v, arb) else arb(v) if not isinstance(v, (str, Fraction)) else
             arb(Fraction(v).numerator) / Fraction(v).denominator for v in entries]
        v = Bn * arb_mat(K, 1, g)
        vals = np.array([float(v[i, 0].mid()) for i in range(Bn.nrows())])
    grid = dense_grid(K, tau)
    idx, e, xs, peak = scan_extrema(_cheb_from_values(vals), target, grid, tau)
    return xs, np.sign(e[idx]) * peak


def _cheb_from_values(vals: np.ndarray) -> np.ndarray:
    """Chebyshev coefficients from values at the Chebyshev points of the first kind (DCT-II)."""
    n = vals.size
    c = fft.dct(vals, type=2) / n  # vals[k] at u_k = cos(pi (k + 1/2) / n)
    c[0] /= 2.0
    return c


def locate_maxima(abs_err: Callable, grid: np.ndarray, idx: np.ndarray, iters: int = 30):
    """Local maxima of ``abs_err`` bracketed by grid[idx -/+ 1], located by vectorised golden section.
    Returns (locations, values); a grid point is kept where it is at least as large."""
    if idx.size == 0:
        return np.zeros(0), np.zeros(0)
    lo = grid[np.maximum(idx - 1, 0)].copy()
    hi = grid[np.minimum(idx + 1, grid.size - 1)].copy()
    r = 0.5 * (3.0 - np.sqrt(5.0))
    for _ in range(iters):
        c, d = lo + r * (hi - lo), hi - r * (hi - lo)
        left = abs_err(c) >= abs_err(d)
        hi = np.where(left, d, hi)
        lo = np.where(left, lo, c)
    x = 0.5 * (lo + hi)
    vx, vg = abs_err(x), abs_err(grid[idx])
    keep = vx >= vg
    return np.where(keep, x, grid[idx]), np.where(keep, vx, vg)


def scan_extrema(cheb: np.ndarray, target: Target, grid: np.ndarray, tau: float):
    """Local maxima of |e| on ``grid`` (float64 from the Chebyshev coefficients of B_g), e = p Q(p) - f(p).

    Returns (idx, e, xs, peak): grid indices of the local maxima, e on the grid, and for each maximum
    its located position and |e| there (near-active maxima, |e| > (1 - 1e-3) tau, are located by golden
    section: a grid cannot resolve 1e-9 relative violations inside shallow bumps)."""
    from numpy.polynomial import chebyshev as C

    def err(p):
        return p * C.chebval(2.0 * p - 1.0, cheb) - target.f_np(p)
    e = err(grid)
    ae = np.abs(e)
    inner = np.flatnonzero((ae[1:-1] >= ae[:-2]) & (ae[1:-1] >= ae[2:])) + 1
    idx = list(inner)
    if ae[-1] >= ae[-2]:
        idx.append(ae.size - 1)
    idx = np.array(idx, dtype=int)
    xs, peak = grid[idx].astype(np.float64), ae[idx].copy()
    near = np.flatnonzero((peak > (1 - 1e-3) * tau) & (idx < grid.size - 1))
    if near.size:
        lx, lv = locate_maxima(lambda p: np.abs(err(p)), grid, idx[near])
        xs[near], peak[near] = lx, lv
    return idx, e, xs, peak


class _Solver:
    def __init__(self, target: Target, K: int, tau: float, prec: int, log, objective: QuadraticObjective):
        self.target, self.K, self.n = target, K, K - 1
        self.objective = objective
        self.tau = tau
        self.prec = prec
        self.ws = _workspace(objective, prec)
        self.grid = dense_grid(K, tau)
        self.log = log
        with ctx.workprec(prec):
            self.tau_a = arb(tau)
        self._f: dict = {}

    def ws_at(self, prec: int) -> "_Workspace":
        return _workspace(self.objective, prec)

    def set_tau(self, tau: float) -> None:
        self.tau = tau
        with ctx.workprec(self.prec):
            self.tau_a = arb(tau)

    # -- pieces ---------------------------------------------------------------------------------
    def f_at(self, x: float) -> arb:
        v = self._f.get(x)
        if v is None:
            with ctx.workprec(self.prec):
                v = self.target.f(arb(x))
            self._f[x] = v
        return v

    def equalities(self, pts, sg, unit_tau: bool = False):
        """The table minimising g^T H g subject to s_i e(x_i) = tau on the active points, and the multipliers
        (``unit_tau``: instead their derivatives in tau, the points held fixed -- first order exact at extrema).

        Stationarity 2 H g + sum_i lambda_i s_i a(x_i) = 0 gives g = -(1/2) H# A^T lambda + c·1 with
        H# the inverse of H[1:,1:] padded with zeros (H·1 = 0), and a bordered system of size m + 1 in
        (lambda, c) with G = A1 H[1:,1:]^-1 A1^T (A1: the rows without their first entry)."""
        m = len(pts)
        with ctx.workprec(self.prec):
            rows = [[s * v for v in self.ws.row(x)] for x, s in zip(pts, sg)]
            A1 = arb_mat([r[1:] for r in rows])
            Y1 = self.ws.Hs * A1.transpose()
            G = A1 * Y1
            M = arb_mat(m + 1, m + 1)
            rhs = arb_mat(m + 1, 1)
            for i in range(m):
                for j in range(m):
                    M[i, j] = -G[i, j] / 2
                u = arb(pts[i]) * sg[i]
                M[i, m] = u
                M[m, i] = u
                rhs[i, 0] = arb(1) if unit_tau else self.tau_a + sg[i] * self.f_at(pts[i])
            try:
                sol = M.solve(rhs, algorithm="approx")
            except ZeroDivisionError as exc:
                raise ExtendedError("the equality-constrained system of the active set is singular") from exc
            c = sol[m, 0]
            g = [arb(c.mid())]
            for j in range(self.K - 1):
                acc = sum((Y1[j, i] * sol[i, 0] for i in range(m)), arb(0))
                g.append(arb((c - acc / 2).mid()))
            if not unit_tau:
                self.last_lambda = [arb(sol[i, 0].mid()) for i in range(m)]
        return g, [float(sol[i, 0].mid()) for i in range(m)]

    def multipliers(self, pts, sg, digits: int) -> list:
        """The signed multipliers nu_i = s_i lambda_i of the active set at the working precision, as decimal
        strings: the dual bound is a quadratic in nu whose curvature grows with the entries, so at small
        budgets float64 multipliers would cost it (the certificate keeps ``digits`` digits)."""
        self.equalities(pts, sg)
        with ctx.workprec(self.prec):
            return [(s * lam).mid().str(digits, radius=False) for s, lam in zip(sg, self.last_lambda)]

    def cheb(self, g) -> np.ndarray:
        with ctx.workprec(self.prec):
            v = self.ws.Bn * arb_mat(self.K, 1, g)
            vals = np.array([float(v[i, 0].mid()) for i in range(self.ws.nn)])
        return _cheb_from_values(vals)

    def exact_violation(self, g, xs) -> np.ndarray:
        """|e(x)| / tau - 1 at the points ``xs``, evaluated in Arb (mid-points)."""
        out = np.empty(len(xs))
        with ctx.workprec(self.prec):
            Pu = poly_u_from_bernstein(g, constrained=True)
            for i, x in enumerate(xs):
                xa = arb(float(x))
                out[i] = float((abs(Pu(2 * xa - 1) - self.target.f(xa)) / self.tau_a - 1).mid())
        return out

    def newton(self, g, xs, bounds):
        """Newton on e' = 0 from each x in ``xs`` inside its (lo, hi) bound (keeps x where Newton leaves it)."""
        T = self.target
        out = []
        with ctx.workprec(self.prec):
            Pu = poly_u_from_bernstein(g, constrained=True)
            d1 = Pu.derivative()
            d2 = d1.derivative()
            for x, (lo, hi) in zip(xs, bounds):
                if x in (0.0, 1.0):
                    out.append(x)
                    continue
                xa = arb(x)
                best = x
                for _ in range(30):
                    u = 2 * xa - 1
                    e1 = 2 * d1(u) - T.d1(xa)
                    e2 = 4 * d2(u) - T.d2(xa)
                    if e2 == 0:
                        break
                    step = float((e1 / e2).mid())
                    xn = float(xa.mid()) - step
                    if not lo < xn < hi:
                        break
                    best = xn
                    xa = arb(xn)
                    if abs(step) <= 4e-16 * abs(xn):
                        break
                out.append(best)
        return out

    def extrema_targets(self, g, pts, sg, idx, e):
        """For each active point, the extremum of its own bump: the nearest grid local maximum of s·e
        reachable without s·e changing sign, polished by Newton. Returns (targets, grid indices)."""
        grid = self.grid
        tgt, where, bounds = [], [], []
        for x, s in zip(pts, sg):
            k = int(np.searchsorted(grid, x))
            best_j = None
            for j in sorted((jj for jj in idx if np.sign(e[jj]) == s), key=lambda jj: abs(grid[jj] - x)):
                lo, hi = sorted((min(k, grid.size - 1), int(j)))
                if np.all(s * e[lo:hi + 1] > 0):
                    best_j = int(j)
                    break
            if best_j is None:
                tgt.append(x)
                where.append(-1)
                bounds.append((0.0, 1.0))
                continue
            where.append(best_j)
            tgt.append(float(grid[best_j]))
            bounds.append((float(grid[max(best_j - 1, 0)]), float(grid[min(best_j + 1, grid.size - 1)])))
        return self.newton(g, tgt, bounds), where


def _sorted(pts, sg, lam=None):
    order = np.argsort(pts, kind="stable")
    out = [[pts[i] for i in order], [sg[i] for i in order]]
    if lam is not None:
        out.append([lam[i] for i in order])
    return out


class _State:
    """Active points, signs, multipliers and the table (Arb mid-points)."""

    def __init__(self, K, pts=(), sg=()):
        self.pts, self.sg = list(pts), list(sg)
        self.lam: list = []
        self.g = None
        self.K = K
        self.adds = self.drops = self.newton = 0


def _equalities(S: _Solver, st: _State, log) -> None:
    """Solve the equality-constrained problem on the active set, dropping negative multipliers."""
    while st.pts:
        st.g, st.lam = S.equalities(st.pts, st.sg)
        neg = [i for i, v in enumerate(st.lam) if v < 0]
        if not neg:
            return
        i = min(neg, key=lambda j: st.lam[j])
        del st.pts[i], st.sg[i]
        st.drops += 1
    if st.g is None:
        st.g = [arb(0)] * st.K  # V = 0: the constant is fixed by the first constraint added


def _scan(S: _Solver, g):
    idx, e, xs, peak = scan_extrema(S.cheb(g), S.target, S.grid, S.tau)
    if idx.size == 0:
        raise ExtendedError("the scan found no extremum of the error")
    return idx, e, xs, peak


def _newton_phase(S: _Solver, st: _State, log, max_iter: int = 40) -> None:
    """Newton on the KKT system of the active set with the points as unknowns:
    2Hg + sum lam_i s_i a(x_i) = 0, s_i e(x_i) = tau, e'(x_i) = 0 (interior points); the point
    updates are eliminated (Schur complement on the diagonal e'' block). Quadratic convergence
    near a non-degenerate solution."""
    K = S.K
    for it in range(max_iter):
        with ctx.workprec(S.prec):
            dg, dx, dlam = _newton_direction(S, st)
        st.newton += 1
        step, newx = _damped_step(st.pts, dx)
        with ctx.workprec(S.prec):
            st.g = [arb((x + step * dv).mid()) for x, dv in zip(st.g, dg)]
        st.lam = [l + step * dl for l, dl in zip(st.lam, dlam)]
        st.pts = [min(v, 1.0) for v in newx]
        _merge_coincident(st)
        rel = max((abs(h) / x for h, x in zip(dx, st.pts)), default=0.0)
        if step == 1.0 and rel <= 1e-14:
            return
    raise ExtendedError(f"Newton on the active set did not converge in {max_iter} iterations (K = {K})")


def _newton_direction(S: _Solver, st: _State) -> tuple:
    """One Newton direction ``(dg, dx, dlam)`` of :func:`_newton_phase` (Arb, at the caller's working precision):
    the residuals of the KKT system at the current iterate, the reduced system solved, the point updates
    recovered from the e'' block."""
    K, T, H2 = S.K, S.target, S.ws.H2
    m = len(st.pts)
    g = arb_mat(K, 1, st.g)
    rows = [S.ws.rows3(x) for x in st.pts]
    A = arb_mat([r[0] for r in rows])
    A1 = arb_mat([r[1] for r in rows])
    A2 = arb_mat([r[2] for r in rows])
    Ag, A1g, A2g = A * g, A1 * g, A2 * g
    lam = [arb(v) for v in st.lam]
    ls = arb_mat(m, 1, [lam[i] * st.sg[i] for i in range(m)])
    R1 = H2 * g + A.transpose() * ls                       # stationarity residual (K)
    e = [Ag[i, 0] - S.f_at(st.pts[i]) for i in range(m)]
    R2 = [st.sg[i] * e[i] - S.tau_a for i in range(m)]
    interior = [x != 1.0 for x in st.pts]
    e1 = [A1g[i, 0] - T.d1(arb(x)) for i, x in enumerate(st.pts)]
    e2 = [A2g[i, 0] - T.d2(arb(x)) for i, x in enumerate(st.pts)]
    J, rhs = _reduced_kkt(H2, A, A1, st.sg, lam, e1, e2, interior, R1, R2)
    try:
        d = J.solve(rhs, algorithm="approx")
    except ZeroDivisionError as exc:
        raise ExtendedError(f"K={K}: the Newton system of the active set is singular") from exc
    dgm = arb_mat(K, 1, [d[c, 0] for c in range(K)])
    dg = [dgm[c, 0] for c in range(K)]
    A1dg = A1 * dgm
    dx = [float((-(e1[i] + A1dg[i, 0]) / e2[i]).mid()) if interior[i] else 0.0 for i in range(m)]
    dlam = [float(d[K + i, 0].mid()) for i in range(m)]
    return dg, dx, dlam


def _reduced_kkt(H2, A, A1, sg, lam, e1, e2, interior, R1, R2) -> tuple:
    """The Newton system of :func:`_newton_phase` with the point updates eliminated, ``(J, rhs)`` of size K + m:
    reduced Jacobian Ht = 2H + A1^T W A1, W_i = -lam_i s_i / e''_i (0 at the end point), bordered by the
    constraint rows."""
    K, m = A.ncols(), A.nrows()
    w = [(-lam[i] * sg[i] / e2[i]) if interior[i] else arb(0) for i in range(m)]
    q = [(lam[i] * sg[i] * e1[i] / e2[i]) if interior[i] else arb(0) for i in range(m)]
    WA1 = arb_mat([[w[i] * A1[i, c] for c in range(K)] for i in range(m)])
    A1t = A1.transpose()
    Ht = H2 + A1t * WA1
    r1 = A1t * arb_mat(m, 1, q) - R1
    J = arb_mat(K + m, K + m)
    rhs = arb_mat(K + m, 1)
    for r in range(K):
        for c in range(K):
            J[r, c] = Ht[r, c]
        rhs[r, 0] = r1[r, 0]
    for i in range(m):
        s_ = sg[i]
        ratio = e1[i] / e2[i] if interior[i] else arb(0)
        for c in range(K):
            J[c, K + i] = s_ * A[i, c]
            J[K + i, c] = s_ * (A[i, c] - ratio * A1[i, c]) if interior[i] else s_ * A[i, c]
        rhs[K + i, 0] = -R2[i] + (s_ * e1[i] * ratio if interior[i] else arb(0))
    return J, rhs


def _damped_step(pts: list, dx: list) -> tuple:
    """The largest step 2^-j (j < 30) keeping the points ordered inside (0, 1], and the moved points
    ``(step, new points)``; a last point moved past 1 becomes the end-point constraint."""
    step = 1.0
    for _ in range(30):
        newx = [x + step * h for x, h in zip(pts, dx)]
        if newx and newx[-1] > 1.0:
            newx[-1] = 1.0  # the last extremum reaches the end point: it becomes the end-point constraint
        if all(0.0 < v <= 1.0 for v in newx) and all(a < b for a, b in zip(newx, newx[1:])):
            return step, newx
        step /= 2
    raise ExtendedError("Newton step for the active points left [0, 1]")


def _merge_coincident(st: _State) -> None:
    """Two extrema of one sign that meet are one constraint (their multipliers would diverge as +-): merged into
    one point (the end point where it is one of them), the multipliers summed."""
    i = 0
    while i + 1 < len(st.pts):
        if st.sg[i] == st.sg[i + 1] and st.pts[i + 1] - st.pts[i] <= 1e-7 * st.pts[i + 1]:
            keep = i if st.pts[i + 1] != 1.0 else i + 1
            other = i + 1 if keep == i else i
            st.lam[keep] += st.lam[other]
            del st.pts[other], st.sg[other], st.lam[other]
            continue
        i += 1


class _Cycle(ExtendedError):
    """The active-set updates revisit a state (a point added again after being dropped)."""


#: rounds of the polish without the violation halving before it gives up (the exchange then goes on without
#: it); a healthy polish from the interior-point active set needs no add or drop at all
POLISH_STALL_ROUNDS = 12


def _converge(S: _Solver, st: _State, tol: float, max_rounds: int, log) -> float:
    """At the solver's current budget: Newton on the active set, dropping a constraint whose multiplier
    turns negative and adding the extremum of a violating bump that holds no active point, until no
    violation above ``tol`` is left. Returns the final relative violation; ExtendedError when it does not
    converge in ``max_rounds`` or stalls for :data:`POLISH_STALL_ROUNDS` (K = 99, eps = 3 once spent 250 s
    in 218 rounds at a violation stuck near 0.7)."""
    dropped: list = []
    viol = math.inf
    best, stalled = math.inf, 0
    for _ in range(max_rounds):
        if st.g is None or len(st.lam) != len(st.pts):
            _equalities(S, st, log)
        if st.pts:
            snap = _snapshot(st)
            try:
                _newton_phase(S, st, log)
            except ExtendedError:
                # typically an extremum that ceases to exist (it merges with a neighbouring minimum as its
                # multiplier reaches 0): drop the active point with the smallest multiplier and retry
                _restore(st, snap)
                if len(st.pts) < 2:
                    raise
                i = min(range(len(st.pts)), key=lambda j: st.lam[j])
                dropped.append(st.pts[i])
                del st.pts[i], st.sg[i], st.lam[i]
                st.drops += 1
                continue
        idx, e, xs, peak = _scan(S, st.g)
        rel = peak / S.tau - 1.0
        viol = float(rel.max())
        if viol < 0.5 * best:
            best, stalled = viol, 0
        else:
            stalled += 1
            if stalled >= POLISH_STALL_ROUNDS:
                raise ExtendedError(f"K={S.K}, tau={S.tau:.6g}: the polish stalls (max relative violation {viol:.3g} "
                                    f"after {POLISH_STALL_ROUNDS} rounds without halving; |S| = {len(st.pts)})")
        _, where = S.extrema_targets(st.g, st.pts, st.sg, idx, e) if st.pts else ([], [])
        cand = [(r, k) for k, (j, r) in enumerate(zip(idx, rel)) if r > tol and int(j) not in set(where)]
        if not cand:
            neg = [i for i, v in enumerate(st.lam) if v < 0]
            if neg:
                i = min(neg, key=lambda j: st.lam[j])
                if st.pts[i] == 1.0 and _endpoint_to_interior(S, st, i):
                    continue
                dropped.append(st.pts[i])
                log(f"      drop {st.pts[i]:.9g} s={st.sg[i]} lam={st.lam[i]:.3g} (|S|={len(st.pts)}) tau={S.tau:.6g}")
                del st.pts[i], st.sg[i], st.lam[i]
                st.drops += 1
                continue
            if viol <= tol:
                return viol
            # the violation sits in an active point's bump: a second extremum next to it (Newton has put
            # the active point on its own extremum already), unless it is the active point itself
            k = int(np.argmax(rel))
            xk = _polish_candidate(S, st.g, float(xs[k]), [])
            if min((abs(xk - x) for x in st.pts), default=1.0) <= 1e-10 * max(xk, 1e-300):
                if viol <= 1e3 * tol:
                    return viol  # the located maximum is an active point: rounding in the scan
                raise ExtendedError(f"K={S.K}: violation {viol:.3g} at the active point {xk!r} persists")
            cand = [(rel[k], k)]
        k = max(cand)[1]
        xk, sk = _polish_candidate(S, st.g, float(xs[k]), st.pts), int(np.sign(e[idx[k]]))
        if any(abs(xk - d) <= 1e-9 * xk for d in dropped):
            raise _Cycle(f"K={S.K}: the point {xk:.9g} re-enters the active set after being dropped")
        log(f"      add {xk:.9g} s={sk} viol={viol:.3g} (|S|={len(st.pts)}) tau={S.tau:.6g}")
        st.pts, st.sg, st.lam = _sorted(st.pts + [xk], st.sg + [sk], st.lam + [0.0])
        st.adds += 1
    raise ExtendedError(f"K={S.K}, tau={S.tau:.6g}: no convergence in {max_rounds} rounds (|S| = {len(st.pts)}, "
                      f"max relative violation {viol:.3g})")


def _endpoint_to_interior(S: _Solver, st: _State, i: int) -> bool:
    """The end-point constraint's multiplier turned negative: when the error has an extremum of the same
    sign just inside (the end point's bump), the constraint moves there instead of leaving the set."""
    lo = st.pts[i - 1] if i > 0 else 0.0
    s = st.sg[i]
    idx, e, xs, peak = _scan(S, st.g)
    inside = [k for k in range(idx.size) if lo < xs[k] < 1.0 and np.sign(e[idx[k]]) == s
              and np.all(s * e[idx[k]:] > 0)]
    if not inside:
        return False
    k = max(inside, key=lambda kk: peak[kk])
    x = _polish_candidate(S, st.g, float(xs[k]), st.pts)
    if not lo < x < 1.0:
        return False
    st.pts[i] = x
    st.lam[i] = abs(st.lam[i])
    return True


def _snapshot(st: _State) -> tuple:
    return (list(st.pts), list(st.sg), list(st.lam), None if st.g is None else list(st.g))


def _restore(st: _State, snap: tuple) -> None:
    st.pts, st.sg, st.lam, st.g = list(snap[0]), list(snap[1]), list(snap[2]), \
        (None if snap[3] is None else list(snap[3]))


def _polish_candidate(S: _Solver, g, x: float, pts) -> float:
    """Newton-refine a candidate to its local extremum (keeps the grid point if Newton leaves the bump)."""
    if x in (0.0, 1.0):
        return x
    j = int(np.searchsorted(S.grid, x))
    lo, hi = float(S.grid[max(j - 1, 0)]), float(S.grid[min(j + 1, S.grid.size - 1)])
    xn = S.newton(g, [x], [(lo, hi)])[0]
    if xn in pts or not 0.0 < xn <= 1.0:
        return x
    return xn


#: exchange rounds whose violating points stay in the finite set (older ones stay only while they carry a
#: multiplier): a smaller set makes each interior-point iteration cheaper (its normal matrix costs K^2 per point)
KEEP_ROUNDS = 2


def solve_extended(target: Target, K: int, tau: float, *, points=None, g0=None, v_scale: float | None = None,
                   prec: int | None = None, tol: float = 1e-11, stop: float = 1e-9, polish_at: float = 1e-2,
                   max_rounds: int = 40, log: Callable[[str], None] | None = None,
                   objective: QuadraticObjective | None = None) -> ActiveSet:
    """Solve the AQP at budget ``tau`` in Arb (see the module docstring).

    Parameters
    ----------
    target : Target       f(p) = p·target(p) (``estimators.minimax.targets.target_for``)
    K : int               group size
    tau : float           bias budget (> 0)
    points : array-like   extra points for the initial finite set (e.g. a neighbouring budget's active
                          points); the set always holds a grid uniform in theta (2K + 23 points)
    g0 : list             a starting table; ``v_scale``: the expected objective value (its scale matters
                          to the interior-point centring; raised automatically when far off)
    prec : int            working bits (default :func:`working_precision`)
    tol, stop             accepted relative violation after a polish / of the exchange alone
    polish_at             violation below which the Newton polish is tried
    objective             the quadratic form (:class:`.objective.QuadraticObjective`; default H_K)

    Raises
    ------
    ExtendedError   no convergence (the message gives the round, violation and solver state)
    """
    from .ipm import IPMError, ipm_solve
    t0 = time.perf_counter()
    log = log or (lambda msg: None)
    prec = prec or working_precision(K, 1.0, tau)
    objective = check_objective_for(objective, K)
    S = _Solver(target, K, tau, prec, log, objective)
    P = _initial_points(K, points)
    vs = float(v_scale) if v_scale else None
    viol, it_total, try_polish, rescales = math.inf, 0, True, 0
    gmax = max([1e4] + ([abs(float(x)) for x in g0] if g0 is not None else []))
    base, recent = P.copy(), []
    q = None
    for rnd in range(max_rounds):
        if vs is None:
            vs = 1.0
        iprec, C, Q, A, fs = _ipm_problem(S, P, gmax, vs)
        try:
            q, zu, zl, its, mu = ipm_solve(Q, A, [f - 1 for f in fs], [f + 1 for f in fs], g0=q, prec=iprec)
        except IPMError as exc:
            # a far-off objective scale: the optimum's variance may be many orders above the guess; the last
            # iterate's value (scaled units) says by how much
            if rescales >= 6:
                raise ExtendedError(f"K={K}, tau={tau:.6g}: the interior-point solver failed ({exc})") from exc
            rescales += 1
            vs = _rescaled(exc, Q, K, iprec, vs)
            q = None
            log(f"    [aqp ipm] K={K}: {exc}; objective scale raised to {vs:.3g}")
            continue
        g, nu, V, gmax = _ipm_table(S, C, q, zu, zl, iprec, vs)
        it_total += its
        xs, rel, viol = _exchange_violation(S, g)
        log(f"    [aqp ipm] K={K} round {rnd}: |P| = {P.size}, {its} iterations, violation {viol:.2e}, V = {V:.6g}")
        if V > 0 and not 1e-2 < V / vs < 1e2:
            vs = V   # the objective scale matters to the centring heuristics: keep it O(1)
        if viol <= polish_at and try_polish:
            done, viol = _polished(S, g, P, nu, viol, tol, it_total, rnd + 1, t0)
            if done is not None:
                return done
            try_polish = False
        if viol <= stop:
            break
        big = max(abs(v) for v in nu)
        carrying = P[np.abs(np.asarray(nu)) > 1e-9 * big]
        recent.append(xs[rel > 0.1 * stop])
        P = np.unique(np.concatenate([base, carrying] + recent[-KEEP_ROUNDS:]))
    else:
        raise ExtendedError(f"K={K}, tau={tau:.6g}: interior-point exchange did not converge in {max_rounds} rounds "
                          f"(violation {viol:.3g})")
    big = max(abs(v) for v in nu)
    keep = [i for i, v in enumerate(nu) if abs(v) > 1e-9 * big]
    return ActiveSet(points=[float(P[i]) for i in keep], signs=[1 if nu[i] > 0 else -1 for i in keep],
                     lam=[abs(nu[i]) for i in keep], g=g, prec=prec, tau=tau, dual_points=[float(x) for x in P],
                     dual_nu=nu, polished=False, iterations=it_total, rounds=rnd + 1, max_violation=viol,
                     seconds=round(time.perf_counter() - t0, 4), objective=objective)


def _polished(S: _Solver, g, P, nu, viol: float, tol: float, iterations: int, rounds: int, t0: float) -> tuple:
    """The Newton polish of an interior-point solution (:func:`_converge` from its active set):
    ``(ActiveSet, violation)``, or ``(None, violation)`` when it fails and the exchange goes on (the violation
    the polish reached where it converged before failing, else ``viol``)."""
    st = _active_state(S, g, P, nu)
    try:
        viol = _converge(S, st, tol, 2 * S.K + 20, S.log)
        nu = S.multipliers(st.pts, st.sg, max(20, int(0.28 * S.prec)))
        return ActiveSet(points=st.pts, signs=st.sg, lam=st.lam, g=st.g, prec=S.prec, tau=S.tau,
                         dual_points=list(st.pts), dual_nu=nu,
                         polished=True, iterations=iterations, rounds=rounds, max_violation=viol,
                         seconds=round(time.perf_counter() - t0, 4), objective=S.objective), viol
    except ExtendedError as exc:
        S.log(f"    [aqp ipm] K={S.K}: polish failed ({exc}); continuing the exchange")
        return None, viol


def _initial_points(K: int, points) -> np.ndarray:
    """The first finite set of :func:`solve_extended`: a grid uniform in theta (2K + 23 points, or K + 15 beside
    a warm start's ``points``), merged with those points; 0 left out."""
    warm = points is not None and len(points) > 0
    th = np.linspace(0.0, np.pi, (K + 16 if warm else 2 * K + 24))[1:]
    P = np.unique(np.concatenate([0.5 * (1.0 - np.cos(th)), np.asarray(points if warm else [], float)]))
    return P[P > 0]


def _ipm_problem(S: _Solver, P: np.ndarray, gmax: float, vs: float) -> tuple:
    """The finite QP of one exchange round in the Chebyshev basis, ``(iprec, C, Q, A, fs)``.

    The interior-point stage works in the Chebyshev basis of B_g: its rows x T_j(2x - 1) are O(1), which keeps
    Arb's matrix products fast (Bernstein rows span hundreds of orders of magnitude); the objective becomes
    q^T (C^T H C) q with g = C q, scaled by 1 / ``vs``. It only has to find the structure (the polish works at
    full precision), at the bits ``iprec`` the basis change and the dynamic range need."""
    K, tau = S.K, S.tau
    iprec = min(S.prec, 128 + 64 * math.ceil((1.05 * K + math.log2(1.0 + gmax / tau)) / 64))
    C = _cheb_to_bernstein(K, iprec)
    with ctx.workprec(iprec):
        Q = C.transpose() * S.ws_at(iprec).H2 * C
        Q = arb_mat([[arb((Q[i, j] / vs).mid()) for j in range(K)] for i in range(K)])
        inv_tau = 1 / arb(tau)
        A = arb_mat([_cheb_row(float(x), K, inv_tau) for x in P])
        fs = [S.f_at(float(x)) * inv_tau for x in P]
    return iprec, C, Q, A, fs


def _rescaled(exc, Q, K: int, iprec: int, vs: float) -> float:
    """The objective scale after an interior-point failure (:class:`.ipm.IPMError`): raised by the last
    iterate's value in scaled units, at least 1e5-fold."""
    v_it = 0.0
    if exc.g is not None:
        with ctx.workprec(iprec):
            v_it = abs(float((arb_mat(1, K, exc.g) * Q * arb_mat(K, 1, exc.g))[0, 0].mid())) / 2
    vs *= max(1e5, v_it) if v_it < 1e300 else 1e5
    return vs


def _ipm_table(S: _Solver, C, q, zu, zl, iprec: int, vs: float) -> tuple:
    """The interior-point solution in the Bernstein basis at the working precision, ``(g, nu, V, max |g|)``:
    the table, the signed multipliers in objective units, the objective g^T H g."""
    K, tau, prec = S.K, S.tau, S.prec
    with ctx.workprec(iprec):
        gq = C * arb_mat(K, 1, q)
    with ctx.workprec(prec):
        g = [arb(gq[c, 0].mid()) for c in range(K)]
    with ctx.workprec(prec):
        nu = [float(((a - b) * (vs / tau)).mid()) for a, b in zip(zu, zl)]
        V = float((arb_mat(1, K, g) * S.ws.H2 * arb_mat(K, 1, g))[0, 0].mid()) / 2
        gmax = max(abs(float(x.mid())) for x in g)
    return g, nu, V, gmax


def _exchange_violation(S: _Solver, g) -> tuple:
    """The error's extrema on the dense grid and their relative violations |e| / tau - 1 (those near the
    budget evaluated in Arb), ``(xs, rel, max rel)``."""
    idx, e, xs, peak = _scan(S, g)
    rel = peak / S.tau - 1.0
    near = rel > -1e-6
    rel[near] = S.exact_violation(g, xs[near])
    return xs, rel, float(rel.max())


def shift_along_budget(target: Target, K: int, tau: float, points, signs, g, delta: float, *, prec: int,
                       objective: QuadraticObjective | None = None) -> list:
    """The active-set optimum ``g`` at budget ``tau`` moved to the budget tau - delta to first order,
    g - delta dg/dtau (the points fixed: the error's extrema move only to second order). Far cheaper than
    solving again at the tighter budget, with the same first-order cost in the objective (delta times the
    sum of the multipliers); the result is certified like any other table."""
    S = _Solver(target, K, tau, prec, lambda m: None, check_objective_for(objective, K))
    dg, _ = S.equalities(list(points), list(signs), unit_tau=True)
    with ctx.workprec(prec):
        d = arb(delta)
        return [arb((x - d * y).mid()) for x, y in zip(g, dg)]


@lru_cache(maxsize=8)
def _cheb_to_bernstein_exact(K: int):
    """The exact rational matrix C with g = C q: column j holds the Bernstein coefficients (degree n = K - 1) of
    T_j(2p - 1). T_j(2p - 1) = sum_i t_ji p^i (integers, fmpz_poly composition) and p^i = sum_{c >= i}
    C(c, i) / C(n, i) b_{n,c}(p), so C = Pascal . diag(1 / C(n, i)) . T (one fmpq_mat product, in C)."""
    from math import comb as _comb

    from flint import fmpq, fmpq_mat, fmpz_poly
    n = K - 1
    shift = fmpz_poly([-1, 2])
    T = [[0] * K for _ in range(K)]
    for j in range(K):
        for i, c in enumerate(fmpz_poly.chebyshev_t(j)(shift).coeffs()):
            T[i][j] = int(c)
    P = fmpq_mat([[fmpq(_comb(c, i), _comb(n, i)) if i <= c else fmpq(0) for i in range(K)] for c in range(K)])
    return P * fmpq_mat(T)


@lru_cache(maxsize=8)
def _cheb_to_bernstein(K: int, prec: int) -> arb_mat:
    """C with g = C q (see :func:`_cheb_to_bernstein_exact`), its entries rounded to ``prec`` bits (mid-points)."""
    Cq = _cheb_to_bernstein_exact(K)
    with ctx.workprec(prec):
        return arb_mat([[arb((arb(Cq[c, j].p) / arb(Cq[c, j].q)).mid()) for j in range(K)] for c in range(K)])


def _cheb_row(x: float, K: int, scale: arb) -> list:
    """scale · x · T_j(2x - 1), j = 0..K-1 (mid-points; all of modulus <= scale)."""
    xa = arb(x)
    u = 2 * xa - 1
    t0, t1 = arb(1), u
    out = [t0, t1][:K]
    for _ in range(2, K):
        t0, t1 = t1, 2 * u * t1 - t0
        out.append(t1)
    w = xa * scale
    return [arb((w * t).mid()) for t in out]


def _active_state(S: _Solver, g, P, nu) -> _State:
    """Active set from interior-point multipliers: runs of significant same-sign multipliers, one point per
    run at its largest multiplier (the multipliers of the run summed), moved to the bump's extremum."""
    big = max(abs(v) for v in nu)
    pts, sg, lam = [], [], []
    run: list = []
    for i in range(len(P) + 1):
        s = (1 if nu[i] > 0 else -1) if i < len(P) and abs(nu[i]) > 1e-11 * big else 0
        if run and (s == 0 or s != run[0][1]):
            j = max(run, key=lambda t: abs(nu[t[0]]))[0]
            pts.append(float(P[j]))
            sg.append(run[0][1])
            lam.append(sum(abs(nu[t[0]]) for t in run))
            run = []
        if s != 0:
            run.append((i, s))
    st = _State(S.K, pts, sg)
    st.lam, st.g = lam, list(g)
    idx, e, xs, peak = _scan(S, st.g)
    tg, where = S.extrema_targets(st.g, st.pts, st.sg, idx, e)
    st.pts, st.sg, st.lam = _sorted(tg, st.sg, st.lam)
    return st
