"""Double-precision stage of the AQP solver: a convex QP (cvxpy + Clarabel) with exchange (claim C6).

The semi-infinite constraint |p B_g(p) - f(p)| <= tau is imposed on a finite point set P, the QP

    minimise g^T Q g / V_scale   subject to   -1 <= (p b(p)^T g - f(p)) / tau <= 1   (p in P)

(Q the objective's float64 copy, :mod:`.objective`; H_K by default) is solved by Clarabel through cvxpy, and the error of its solution is scanned on a dense grid; local
maxima of |e| above tau are added to P and the QP is solved again, until the scan finds no violation
above ``viol_tol`` (a cutting-plane / exchange scheme, not a fixed dense grid). The rows p b(p) are
non-negative with sum p (well scaled), the objective and the constraints are scaled to O(1), and the
objective scale is re-estimated from each solution.

Double precision resolves the problem while sqrt(V)·||H^+||^(1/2) is small against tau / 2^-53, i.e.
for moderate budgets (V up to ~1e3 at K = 64); beyond that Clarabel reports "inaccurate" or fails and
the extended-precision stage (:mod:`.extended`) takes over. Nothing here is trusted: the table is
certified afterwards (:mod:`.certify`).
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

from ..minimax.targets import Target
from ..moments import binomial_pmf
from .objective import QuadraticObjective, check_objective_for

__all__ = ["ConvexSolution", "solve_exchange"]

#: Clarabel statuses accepted as a solution (anything else hands over to the extended-precision stage)
GOOD = ("optimal",)


@dataclass
class ConvexSolution:
    """Solution of the discretised QP: table ``g``, point set, signed multipliers ``nu`` (objective units)."""

    g: np.ndarray
    points: np.ndarray
    nu: np.ndarray
    status: str
    exchanges: int
    max_violation: float
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status in GOOD

    def active(self, rel: float = 1e-7):
        """Clusters of significant multipliers: one (point, sign) per run of same-sign multipliers,
        at the point carrying the largest multiplier of the run (a warm start for :mod:`.extended`)."""
        if not self.nu.size:
            return [], []
        big = np.abs(self.nu) > rel * np.abs(self.nu).max()
        pts, sg = [], []
        run = []
        for i in range(self.points.size + 1):
            s = int(np.sign(self.nu[i])) if i < self.points.size and big[i] else 0
            if run and (s == 0 or s != run[0][1]):
                j = max(run, key=lambda t: abs(self.nu[t[0]]))[0]
                pts.append(float(self.points[j]))
                sg.append(int(np.sign(self.nu[j])))
                run = []
            if s != 0:
                run.append((i, s))
        return pts, sg


def _pmf(K: int, p: np.ndarray) -> np.ndarray:
    return binomial_pmf(K - 1, p)[0]


def _polish_maxima(K: int, target: Target, g: np.ndarray, grid: np.ndarray, idx: np.ndarray,
                   rounds: int = 4) -> np.ndarray:
    """Locate the local maxima of |e| bracketed by grid[idx -/+ 1] (vectorised golden-section steps
    after a parabolic guess), so that the exchange adds the extrema themselves, not grid points near
    them (the continuous violation of the discrete optimum is then second order in this error)."""
    if idx.size == 0:
        return np.zeros(0)
    a, b = grid[idx - 1].copy(), grid[idx + 1].copy()

    def ae(p):
        return np.abs(p * (_pmf(K, p) @ g) - target.f_np(p))
    r = 0.5 * (3.0 - np.sqrt(5.0))
    for _ in range(rounds * 6):
        c, d = a + r * (b - a), b - r * (b - a)
        left = ae(c) >= ae(d)
        b = np.where(left, d, b)
        a = np.where(left, a, c)
    x = 0.5 * (a + b)
    keep = ae(x) >= ae(grid[idx])
    return np.where(keep, x, grid[idx])


def _bias_rows(K: int, target: Target, pts: np.ndarray, tau: float):
    """Scaled constraint rows x b(x) / tau (entries far below double precision set to 0) and f(x) / tau."""
    A = pts[:, None] * _pmf(K, pts) / tau
    A[np.abs(A) < 1e-17 * np.abs(A).max(axis=1, keepdims=True)] = 0.0
    return A, target.f_np(pts) / tau


def _clarabel(prob) -> str:
    """Solve with Clarabel; the status (an inaccurate solve is reported by it, not by a warning)."""
    import cvxpy as cp
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            prob.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as exc:
        return f"solver error: {exc}"
    return str(prob.status)


def _bias_exchange(K: int, target: Target, g: np.ndarray, grid, Bd, fd, tau: float, viol_tol: float):
    """The relative violation of the bias constraint (every near-active local maximum located precisely:
    a grid cannot see a violation of 1e-9 relative inside a shallow bump whose depth varies by 1e-4
    between grid points) and the points to add."""
    e = grid * (Bd @ g) - fd
    ae = np.abs(e)
    near = np.flatnonzero((ae[1:-1] >= ae[:-2]) & (ae[1:-1] >= ae[2:]) & (ae[1:-1] > (1 - 1e-3) * tau)) + 1
    xs = _polish_maxima(K, target, g, grid, near)
    vals = np.abs(xs * (_pmf(K, xs) @ g) - target.f_np(xs)) if xs.size else np.zeros(0)
    viol = float(max(ae.max(), vals.max() if vals.size else 0.0) / tau - 1.0)
    new = list(xs[vals > tau * (1 + viol_tol)])
    if ae[-1] > tau * (1 + viol_tol):
        new.append(grid[-1])
    return viol, new


def _initial_points(K: int) -> np.ndarray:
    th = np.linspace(0.0, np.pi, 2 * K + 24)[1:]
    return 0.5 * (1.0 - np.cos(th))


def solve_exchange(target: Target, K: int, tau: float, *, grid: np.ndarray, max_exchanges: int = 30,
                   viol_tol: float = 1e-9, v_scale: float | None = None,
                   objective: QuadraticObjective | None = None) -> ConvexSolution:
    """Exchange loop around Clarabel (see module docstring). ``grid``: the dense scan grid; ``objective``:
    the quadratic form (default: the integrated weighted variance H_K)."""
    import cvxpy as cp

    t0 = time.perf_counter()
    H = check_objective_for(objective, K).float64
    Bd = _pmf(K, grid)
    fd = target.f_np(grid)
    pts = _initial_points(K)
    vs = 1.0 if v_scale is None else max(float(v_scale), 1e-12)
    g = cp.Variable(K)
    status, gv, nu, viol = "not solved", np.zeros(K), np.zeros(0), np.inf
    for it in range(1, max_exchanges + 1):
        A, fp = _bias_rows(K, target, pts, tau)
        upper = A @ g - fp <= 1.0
        lower = A @ g - fp >= -1.0
        prob = cp.Problem(cp.Minimize(cp.quad_form(g, cp.psd_wrap(H)) / vs), [upper, lower])
        status = _clarabel(prob)
        if g.value is None or status.startswith("solver error"):
            break
        gv = np.array(g.value, dtype=np.float64)
        nu = (np.asarray(upper.dual_value) - np.asarray(lower.dual_value)) * vs / tau
        V = float(gv @ H @ gv)
        if V > 0 and (V / vs > 1e3 or V / vs < 1e-3):
            vs = V  # rescale the objective to O(1) and solve again on the same points
            continue
        viol, new = _bias_exchange(K, target, gv, grid, Bd, fd, tau, viol_tol)
        if viol <= viol_tol or status not in GOOD:
            break
        pts = np.unique(np.concatenate([pts, new]))
    return ConvexSolution(g=gv, points=pts, nu=nu, status=status, exchanges=it, max_violation=viol,
                          seconds=round(time.perf_counter() - t0, 4))


@dataclass
class SupSolution(ConvexSolution):
    """Solution of the discretised sup-variance problem: besides the table and the bias points/multipliers,
    the sup ``s`` and the variance points with their weights."""

    s: float
    vpoints: np.ndarray
    weights: np.ndarray


def solve_exchange_sup(target: Target, K: int, tau: float, *, grid: np.ndarray, max_exchanges: int = 40,
                       viol_tol: float = 1e-9) -> SupSolution:
    """The sup variant: minimise s subject to p_j V_g(p_j) <= s (a PSD quadratic in g per point, an SOCP)
    and the bias constraint, both on finite point sets grown by exchange from the dense ``grid``."""
    import cvxpy as cp

    t0 = time.perf_counter()
    Bd = _pmf(K, grid)
    fd = target.f_np(grid)
    pts = _initial_points(K)
    vpts = _initial_points(K)
    g, s = cp.Variable(K), cp.Variable()
    vs, status, gv, viol = 1.0, "not solved", np.zeros(K), np.inf
    nu, wts = np.zeros(0), np.zeros(0)
    for it in range(1, max_exchanges + 1):
        A, fp = _bias_rows(K, target, pts, tau)
        upper, lower = A @ g - fp <= 1.0, A @ g - fp >= -1.0
        Bv = _pmf(K, vpts)
        vcons = []
        for j, p in enumerate(vpts):
            b = Bv[j]
            Sig = p * (np.diag(b) - np.outer(b, b)) / vs
            vcons.append(cp.quad_form(g, cp.psd_wrap(0.5 * (Sig + Sig.T))) <= s)
        prob = cp.Problem(cp.Minimize(s), [upper, lower] + vcons)
        status = _clarabel(prob)
        if g.value is None or status.startswith("solver error"):
            break
        gv = np.array(g.value, dtype=np.float64)
        sv = float(s.value) * vs
        if sv > 0 and not 1e-3 < sv / vs < 1e3:
            vs = sv
            continue
        nu = (np.asarray(upper.dual_value) - np.asarray(lower.dual_value)) * vs / tau
        wts = np.array([float(np.sum(c.dual_value)) for c in vcons])
        bviol, new = _bias_exchange(K, target, gv, grid, Bd, fd, tau, viol_tol)
        pv = grid * ((Bd * gv[None, :] ** 2).sum(axis=1) - (Bd @ gv) ** 2)
        vviol = float(pv.max() / sv - 1.0) if sv > 0 else 0.0
        viol = max(bviol, vviol)
        if viol <= viol_tol or status not in GOOD:
            break
        pts = np.unique(np.concatenate([pts, new]))
        if vviol > viol_tol:
            loc = np.flatnonzero((pv[1:-1] >= pv[:-2]) & (pv[1:-1] >= pv[2:]) & (pv[1:-1] > sv * (1 + viol_tol))) + 1
            vpts = np.unique(np.concatenate([vpts, grid[loc], [grid[int(np.argmax(pv))]]]))
    return SupSolution(g=gv, s=float(s.value) * vs if s.value is not None else math.nan, points=pts, nu=nu,
                       vpoints=vpts, weights=wts, status=status, exchanges=it, max_violation=viol,
                       seconds=round(time.perf_counter() - t0, 4))
