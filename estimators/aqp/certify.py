"""Certificates on both sides of the AQP optimum (claim C6).

For a table g and the budget tau = (1 + eps) E*_K (E*_K known by a certified bracket
[E_lo, E_up] from :mod:`estimators.minimax`):

* **feasibility** -- sup_{p in [0,1]} |p B_g(p) - f(p)| <= (1 + eps) E_lo <= tau, for the float64
  table *as stored* (or its extended-precision reference), by the Taylor-model branch and bound of
  :func:`estimators.minimax.certify.sup_upper` in Arb ball arithmetic: a rigorous upper bound;
* **objective** -- V(g) = g^T H g exactly, in rational arithmetic (:meth:`.objective.QuadraticObjective.value_exact`;
  H is the objective's exact form, by default the integrated weighted variance H_K of :mod:`.hessian`);
* **optimality** -- a certified *lower* bound on the optimal value. Restricting the bias constraint
  to finitely many points x_i is a relaxation, and for any multipliers nu (with
  sum_i nu_i x_i = 0, which makes the Lagrangian bounded below in the constant direction H·1 = 0)
  weak duality gives, for every feasible g,

      g^T H g >= g^T H g + sum_i nu_i (a(x_i)·g - f(x_i)) - tau sum_i |nu_i|
              >= -(1/4) w^T H^# w - sum_i nu_i f(x_i) - tau sum_i |nu_i|,   w = sum_i nu_i a(x_i),

  with a(x) = x b(x) and H^# w the solution z (z_0 = 0) of H[1:,1:] z[1:] = w[1:] (consistent because
  sum_c w_c = sum_i nu_i x_i = 0). The nu_i are the solver's multipliers rounded to dyadic rationals,
  one of them adjusted *exactly* (rational arithmetic) so that sum_i nu_i x_i = 0; w, the linear solve
  and the bound are evaluated in Arb with the budget's upper end (1 + eps) E_up, and the lower end of
  the resulting ball is the certified bound. Any nu gives a valid bound; good multipliers make it tight.

The optimality bracket is [lower bound, V(g)]; its relative width V/lower - 1 is reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from flint import arb, arb_mat, ctx, fmpq

from ..minimax.certify import float_down, float_up, poly_u_from_bernstein, sup_upper
from ..minimax.targets import Target
from .extended import bernstein_row
from .objective import QuadraticObjective, check_objective_for

__all__ = ["BiasBound", "certify_bias", "bias_at", "dual_lower_bound", "variance_bracket", "certificate_precision"]


@dataclass(frozen=True)
class BiasBound:
    """lower <= sup_p |p B_g(p) - f(p)| <= upper (upper rigorous; lower from a point evaluation)."""

    lower: float
    upper: float
    intervals: int
    limited: bool
    lower_at: float | None = None      # where |e| reaches ``lower`` (one evaluation re-checks it)


def certificate_precision(K: int, max_abs_g: float) -> int:
    """Bits for Arb conversions of a table: cancellation in the monomial-in-u form plus guard bits."""
    return int(160 + 1.4 * K + 3 * math.log2(max(max_abs_g, 1.0) + 2))


def certify_bias(entries, target: Target, hints, *, rel_acc: float = 1e-9, prec: int | None = None,
                 accept_below: float | None = None) -> BiasBound:
    """Rigorous sup of the weighted bias of the table with these ``entries`` (floats: the table as stored,
    or decimal strings / Fractions: a reference table). ``hints``: the error's local extrema (interval
    centres for the branch and bound). ``accept_below``: a claimed bound to confirm -- intervals are accepted
    as soon as their bound is below it (much less subdivision; ``upper`` is then a valid bound <= the claim
    when the claim holds, not the sup to ``rel_acc``)."""
    vals = [float(v) for v in entries]
    prec = prec or certificate_precision(len(vals), max(abs(v) for v in vals))
    with ctx.workprec(prec):
        g = [_arb_exact(v) for v in entries]
        Pu = poly_u_from_bernstein(g, constrained=True)
        at: list = []
        up, L, nint, _, limited = sup_upper(Pu, target, sorted(set(float(h) for h in hints) | {1.0}),
                                            rel_acc=rel_acc, where=at,
                                            tau=None if accept_below is None else arb(accept_below))
        return BiasBound(lower=float_down(L), upper=float_up(up), intervals=nint, limited=bool(limited),
                         lower_at=at[0] if at and at[0] is not None else None)


def bias_at(entries, target: Target, x: float, *, prec: int | None = None) -> float:
    """A rigorous lower bound (rounded down) of |p B_g(p) - f(p)| at the single point ``x``."""
    vals = [float(v) for v in entries]
    prec = prec or certificate_precision(len(vals), max(abs(v) for v in vals))
    with ctx.workprec(prec):
        Pu = poly_u_from_bernstein([_arb_exact(v) for v in entries], constrained=True)
        xa = arb(float(x))
        return float_down(abs(Pu(2 * xa - 1) - target.f(xa)).lower())


def _arb_exact(v) -> arb:
    """An entry as an Arb ball containing it exactly (floats and Fractions exactly, decimals rounded)."""
    if isinstance(v, str):
        fr = Fraction(v)
        return arb(fmpq(fr.numerator, fr.denominator))
    if isinstance(v, Fraction):
        return arb(fmpq(v.numerator, v.denominator))
    return arb(float(v))


def dual_lower_bound(K: int, target: Target, tau_up: float, points, nu, *, prec: int = 256,
                     hessian11=None, objective: QuadraticObjective | None = None) -> dict:
    """Certified lower bound on the AQP optimum from multipliers ``nu`` at ``points`` (see module docstring).

    ``objective``: the exact quadratic form (:class:`.objective.QuadraticObjective`, default the integrated
    weighted variance H_K); ``hessian11``: instead, a callable returning H[1:,1:] as an Arb matrix at the
    current precision (another form g^T H g with H·1 = 0 whose definiteness the caller guarantees).
    Returns ``{"lower": float (rounded down), "points": m, "adjusted": index of the exactly adjusted
    multiplier}``. Raises ValueError when no multiplier can carry the adjustment (all points at 0).
    """
    pts = [float(x) for x in points]
    if len(pts) != len(nu) or not pts:
        raise ValueError("points and nu must be non-empty and of the same length")
    if any(not 0.0 < x <= 1.0 for x in pts):
        raise ValueError("dual points must lie in (0, 1]")
    nu_q = [Fraction(v) if isinstance(v, (str, Fraction)) else Fraction(float(v)) for v in nu]  # exactly
    xq = [Fraction(x) for x in pts]
    j = max(range(len(pts)), key=lambda i: pts[i])
    rest = sum((nu_q[i] * xq[i] for i in range(len(pts)) if i != j), Fraction(0))
    nu_q[j] = -rest / xq[j]                      # exactly: sum_i nu_i x_i = 0
    if hessian11 is None:
        objective = check_objective_for(objective, K)
    with ctx.workprec(prec):
        nu_a = [arb(fmpq(v.numerator, v.denominator)) for v in nu_q]
        w = [arb(0)] * K
        fsum = arb(0)
        for x, v in zip(pts, nu_a):
            xa = arb(x)
            b = bernstein_row(xa, K - 1)
            for c in range(K):
                w[c] += v * xa * b[c]
            fsum += v * target.f(xa)
        if hessian11 is None:
            z = objective.solve_h11(w[1:], prec)      # rigorous enclosure (cached approximate inverse)
        else:
            zm = hessian11().solve(arb_mat(K - 1, 1, w[1:]))       # rigorous enclosure
            z = [zm[i, 0] for i in range(K - 1)]
        quad = sum((w[c] * z[c - 1] for c in range(1, K)), arb(0))
        l1 = sum((abs(v) for v in nu_a), arb(0))
        lb = -quad / 4 - fsum - arb(tau_up) * l1
        if not lb.is_finite():
            raise ValueError("the dual bound is not finite at this precision")
        return {"lower": float_down(lb), "points": len(pts), "adjusted": j}


def sampled_variance_hessian11(K: int, points, weights):
    """H_w[1:,1:] for H_w = sum_j w_j p_j (diag(b(p_j)) - b(p_j) b(p_j)^T), the quadratic form of
    sum_j w_j p_j V_g(p_j) (exact points and weights as Arb balls; H_w·1 = 0). For the sup objective's
    lower bound: max_p p V_g(p) >= sum_j w_j p_j V_g(p_j) / sum_j w_j for any w >= 0."""
    rows, wp = [], []
    for x, w in zip(points, weights):
        xa = arb(float(x))
        rows.append(bernstein_row(xa, K - 1))
        wfr = Fraction(float(w))
        wp.append(arb(fmpq(wfr.numerator, wfr.denominator)) * xa)
    B = arb_mat(rows)
    diag = [sum((wp[j] * rows[j][c] for j in range(len(rows))), arb(0)) for c in range(K)]
    WB = arb_mat([[wp[j] * rows[j][c] for c in range(K)] for j in range(len(rows))])
    M = B.transpose() * WB
    return arb_mat([[(diag[i] if i == c else arb(0)) - M[i, c] for c in range(1, K)] for i in range(1, K)])


def sup_variance_upper(entries, hints, *, prec: int | None = None) -> float:
    """Rigorous upper bound of sup_{p in [0,1]} p V_g(p) (a polynomial of degree 2K - 1 in p), by the
    Taylor-model branch and bound of the minimax certificate with a zero target."""
    from ..generators.families.polynomial import PolynomialWeighted
    vals = [float(v) for v in entries]
    prec = prec or certificate_precision(2 * len(vals), max(abs(v) for v in vals) ** 2)
    with ctx.workprec(prec):
        g = [_arb_exact(v) for v in entries]
        A = poly_u_from_bernstein([x * x for x in g], constrained=True)     # p sum g_c^2 b_c
        PQ = poly_u_from_bernstein(g, constrained=True)                      # p Q
        Q = poly_u_from_bernstein(g, constrained=False)                      # Q
        pv = A - PQ * Q
        up, _, _, _, _ = sup_upper(pv, PolynomialWeighted((Fraction(0),)),
                                   sorted(set(float(h) for h in hints) | {1.0}), rel_acc=1e-9)
        return float_up(up)


def variance_bracket(entries, objective: QuadraticObjective | None = None) -> tuple[Fraction, float, float]:
    """Exact V(g) = g^T H g (``objective``: the form, default H_K) and its outward float64 rounding
    ``(V, V_down, V_up)``."""
    entries = list(entries)
    V = check_objective_for(objective, len(entries)).value_exact(entries)
    with ctx.workprec(128):
        va = arb(fmpq(V.numerator, V.denominator))
        return V, float_down(va), float_up(va)
