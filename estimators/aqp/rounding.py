"""Directed float64 rounding of an extended-precision AQP table (claim C6).

The extended-precision optimum g touches the budget at its active points; rounding each entry to the
nearest float64 moves the weighted bias by e_r(p) = p sum_c d_c b_c(p) (d_c the rounding errors), which
can push an active bump over the budget by up to max_c |d_c| -- at K ~ 90, eps = 1 about 1e-4 of the
budget, and tightening the budget to make room costs ~60 times that in variance (V grows steeply as the
budget shrinks). Each entry has two float64 neighbours, so the rounding has one binary choice per entry;
to first order, at a local maximum x_i of |e| with sign s_i and slack t_i = tau - |e(x_i)|, the rounded
table's |e| is |e(x_i)| + s_i e_r(x_i) (the extremum's shift is second order). :func:`directed_rounding`
picks the neighbours that minimise max_i (s_i e_r(x_i) - t_i) by steepest single flips from the nearest
rounding. Nothing here is trusted: the stored table is certified afterwards (:mod:`.certify`); this only
chooses which float64 table to certify.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..moments import binomial_pmf

__all__ = ["directed_rounding", "neighbours"]


def neighbours(fr: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each exact entry: (lower float, upper float, their exact errors as floats)."""
    lo, hi, dlo, dhi = [], [], [], []
    for x in fr:
        f = float(x)
        if Fraction(f) == x:
            a = b = f
        elif Fraction(f) < x:
            a, b = f, float(np.nextafter(f, np.inf))
        else:
            a, b = float(np.nextafter(f, -np.inf)), f
        lo.append(a)
        hi.append(b)
        dlo.append(float(Fraction(a) - x))
        dhi.append(float(Fraction(b) - x))
    return np.array(lo), np.array(hi), np.array(dlo), np.array(dhi)


def directed_rounding(reference, xs, e, tau: float, *, near: float = 0.05, max_moves: int | None = None) -> list:
    """Float64 entries for the exact table ``reference`` (decimal strings or Fractions), each one of its two
    float64 neighbours, chosen to keep the bias furthest inside the budget at the local maxima ``xs`` of |e|
    (signed errors ``e`` there, budget ``tau``; maxima with slack above ``near`` * tau are left out).

    The first-order excess at maximum i is r_i = s_i x_i sum_c d_c b_c(x_i) - t_i (d_c the rounding error of
    entry c, t_i the slack). Two starts -- round-to-nearest, and the rounding of the linear-programming
    relaxation (d_c anywhere between its neighbours' errors, minimise max_i r_i) -- are each improved by
    local search (flips of one entry or of two adjacent entries, lowering max_i r_i, then the sum of the
    positive r_i), and the better end is returned. At K = 61, eps = 0.3 (entries ~1e9, all 54 maxima active)
    this leaves 2.6e-6 of the budget where nearest rounding leaves 2.8e-5."""
    fr = [Fraction(r) for r in reference]
    K = len(fr)
    lo, hi, dlo, dhi = neighbours(fr)
    nearest = np.abs(dlo) <= np.abs(dhi)
    xs, e = np.asarray(xs, dtype=float), np.asarray(e, dtype=float)
    keep = (tau - np.abs(e) <= near * tau) & (xs > 0)
    if not keep.any() or np.all(dlo == dhi):
        return [float(x) for x in np.where(nearest, lo, hi)]
    x, s, slack = xs[keep], np.sign(e[keep]), (tau - np.abs(e[keep])) / tau
    A = s[:, None] * x[:, None] * binomial_pmf(K - 1, x)[0] / tau      # r_i per unit of d_c, in budgets
    best = None
    for start in (nearest, _lp_start(A, slack, dlo, dhi)):
        use_lo, r = _local_search(A, slack, dlo, dhi, start, max_moves or 4 * K)
        if best is None or _key(r) < _key(best[1]):
            best = (use_lo, r)
    return [float(v) for v in np.where(best[0], lo, hi)]


def _key(r: np.ndarray) -> tuple:
    return (float(r.max()), float(np.maximum(r, 0.0).sum()))


#: iteration limit of the linear-programming start, per constraint (an iteration count, not a time: the same on
#: every machine); beyond it round-to-nearest starts the search instead
LP_ITER_PER_ROW = 50


def _lp_start(A, slack, dlo, dhi) -> np.ndarray:
    """Which neighbour the linear-programming relaxation's optimum is nearer to (round-to-nearest if the LP
    solver fails or runs past its iteration limit)."""
    from scipy.optimize import linprog
    m, K = A.shape
    w = np.where(dhi > dlo, dhi - dlo, 1.0)                     # variables in ulps: well scaled
    c = np.zeros(K + 1)
    c[-1] = 1.0
    Aw = A * w[None, :]
    Aw[np.abs(Aw) < 1e-12 * np.abs(Aw).max()] = 0.0       # far-off Bernstein weights: below any effect, and
    # they make HiGHS crawl (K = 105, eps = 0.1 once ran for half an hour); the LP is only a starting point
    res = linprog(c, A_ub=np.hstack([Aw, -np.ones((m, 1))]), b_ub=slack,
                  bounds=[(a / u, b / u) for a, b, u in zip(dlo, dhi, w)] + [(None, None)], method="highs",
                  options={"maxiter": LP_ITER_PER_ROW * m})
    if res.status != 0 or res.x is None:
        return np.abs(dlo) <= np.abs(dhi)
    d = res.x[:-1] * w
    return np.abs(d - dlo) <= np.abs(d - dhi)


def _local_search(A, slack, dlo, dhi, use_lo, max_moves: int):
    """Flips of one entry or of two adjacent entries while they lower (max_i r_i, sum of positive r_i)."""
    use_lo = use_lo.copy()
    d = np.where(use_lo, dlo, dhi)
    r = A @ d - slack
    alt = np.where(use_lo, dhi, dlo) - d
    for _ in range(max_moves):
        R1 = r[:, None] + A * alt[None, :]
        R2 = R1[:, :-1] + A[:, 1:] * alt[None, 1:]
        k1 = list(zip(R1.max(axis=0), np.maximum(R1, 0.0).sum(axis=0)))
        k2 = list(zip(R2.max(axis=0), np.maximum(R2, 0.0).sum(axis=0)))
        c1 = min(range(len(k1)), key=k1.__getitem__)
        c2 = min(range(len(k2)), key=k2.__getitem__) if k2 else None
        move = (c1,) if c2 is None or k1[c1] <= k2[c2] else (c2, c2 + 1)
        if not min(k1[c1], k2[c2] if c2 is not None else k1[c1]) < _key(r):
            break
        for c in move:
            r = r + A[:, c] * alt[c]
            use_lo[c] = not use_lo[c]
            alt[c] = -alt[c]
    return use_lo, r
