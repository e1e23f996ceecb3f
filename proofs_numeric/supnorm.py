"""Bracketing sup_{p in [0,1]} |p * b_g(p)|, the weighted bias of a table.

A grid maximum is only a *lower* bound. The upper bound here comes from an explicit
derivative bound on each grid interval [a, b] (h = b - a):

    |W(p)| <= max(|W(a)|, |W(b)|) + (h/2) * L,   L >= sup_[a,b] |W'|,
    W'(p) = B_g(p) + p B_g'(p) - f'(p),  |B_g| <= max|g|,  |B_g'| <= n max_c |g(c+1) - g(c)|,

(the Bernstein mean and its derivative are convex combinations of g and n*Delta g), and on
[0, p_1] by |W| <= p_1 max|g| + max_[0,p_1] |f|. Intervals whose bound exceeds the lower bound
by more than ``rel_tol`` are subdivided. Float64 rounding of each W(p_i) is bounded a priori
by the moments engine's ``mean_err`` and added to the upper bound. This suits tables with
modest entries (plug-in, jackknife, ustat); minimax tables are certified in Arb (C3).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from estimators.moments import moments
from estimators.table import Table

__all__ = ["SupBracket", "weighted_bias_bracket"]


@dataclass(frozen=True)
class SupBracket:
    """lower <= sup_p |p b_g(p)| <= upper; ``argmax`` is where the lower bound is attained."""

    lower: float
    upper: float
    argmax: float
    n_points: int
    rounds: int

    @property
    def rel_gap(self) -> float:
        return self.upper / self.lower - 1.0 if self.lower > 0 else float("inf")


def _initial_grid(K: int, n_grid: int) -> np.ndarray:
    geo = np.geomspace(1e-14, 0.5, n_grid // 2)
    lin = np.linspace(0.0, 1.0, n_grid // 2)
    fine = np.geomspace(1e-3 / K, 50.0 / K, n_grid // 2)  # the bias of count-based tables lives at p ~ 1/K
    return np.unique(np.concatenate([[0.0, 1.0], geo, lin, fine[fine < 1.0]]))


def weighted_bias_bracket(table: Table, *, n_grid: int = 4000, rel_tol: float = 0.02,
                          max_rounds: int = 30, split: int = 8) -> SupBracket:
    """Certified bracket [lower, upper] on sup_[0,1] |p b_g(p)| (see module docstring)."""
    gen = table.generator
    g = table.values
    n = table.n
    gmax = float(np.max(np.abs(g)))
    dmax = float(n * np.max(np.abs(np.diff(g))))

    def W(p):
        m = moments(table, p)
        return np.abs(m.weighted_bias), m.mean_err

    p = _initial_grid(table.K, n_grid)
    w, err = W(p)
    # local refinement of the best grid point gives a sharper lower bound
    i = int(np.argmax(w))
    lo_b, hi_b = p[max(i - 1, 0)], p[min(i + 1, p.size - 1)]
    best_p, best = p[i], w[i]
    if hi_b > lo_b:
        r = optimize.minimize_scalar(lambda x: -float(W(np.array([x]))[0][0]), bounds=(lo_b, hi_b),
                                     method="bounded", options={"xatol": 1e-15 + 1e-12 * hi_b})
        if -r.fun > best:
            best_p, best = float(r.x), float(-r.fun)
    lower = float(best)
    rounds = 0
    total = p.size
    while True:
        a, b = p[:-1], p[1:]
        h = b - a
        with np.errstate(divide="ignore", invalid="ignore"):
            L = gmax + b * dmax + gen.weighted_derivative_bound(np.maximum(a, 1e-300), b)
            bound = np.maximum(w[:-1], w[1:]) + 0.5 * h * L + np.maximum(err[:-1], err[1:])
        # the first interval touching 0 uses the direct bound
        if a[0] == 0.0:
            bound[0] = b[0] * gmax + gen.weighted_abs_bound_near_zero(b[0]) if b[0] <= 0.3 else np.inf
        bad = ~(bound <= (1 + rel_tol) * lower)
        if not bad.any() or rounds >= max_rounds:
            upper = float(np.max(bound))
            return SupBracket(lower, upper, float(best_p), total, rounds)
        rounds += 1
        new = (a[bad][:, None] + h[bad][:, None] * (np.arange(1, split) / split)[None, :]).ravel()
        wn, en = W(new)
        total += new.size
        if wn.max() > lower:
            j = int(np.argmax(wn))
            lower, best_p = float(wn[j]), float(new[j])
        p = np.concatenate([p, new])
        order = np.argsort(p, kind="stable")
        p, w, err = p[order], np.concatenate([w, wn])[order], np.concatenate([err, en])[order]
