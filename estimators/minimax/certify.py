"""Rigorous brackets on best-approximation errors, in Arb ball arithmetic (claim C3).

For a polynomial P in the approximation space and the error e(p) = P(p) - f(p):

* **Lower bound (de la Vallee Poussin).** If e takes alternating signs at N + 2 points of the
  interval and the space is a Haar space there (span{p, ..., p^K} on (0, 1], or all
  polynomials of degree <= N on [0, 1]), then every element of the space has error at least
  min_i |e(x_i)| at one of those points, so E* >= min_i |e(x_i)|. The e(x_i) are Arb balls.

* **Upper bound (Taylor models with a curvature-absorbed remainder).** [0, 1] is cut into
  intervals, one around each computed extremum (refined adaptively). On [m - r1, m + r2]
  (r = max(r1, r2)), e(m + t) = c0 + c1 t + c2 t^2 + R(t) with the Taylor coefficients c_k of
  P (exact composition of Arb polynomials) minus those of f (closed forms), and
  |R(t)| <= S(|t|) := sum_{k>=3} |c_k| |t|^k + (analytic tail of f). As S(s)/s^2 is
  non-decreasing, |R(t)| <= sigma t^2 with sigma = S(r)/r^2, so
  c0 + c1 t + (c2 - sigma) t^2 <= e(m + t) <= c0 + c1 t + (c2 + sigma) t^2,
  and the extremes of the two quadratics on the interval are computed exactly (end points
  and vertex) in ball arithmetic. Near p = 0, where p log p (or p^alpha) has no Taylor
  expansion, [0, b] is bounded by |e(0)| + sum_{k>=1} |P_k(0)| b^k + sup_{[0,b]} |f - f(0)|.
  Every interval's bound is a rigorous upper bound of |e| on it whether or not it met the
  acceptance threshold, so the maximum over the final partition is a rigorous sup bound.

The cover radii m - a and b - m are computed in Arb and rounded up, and the partition's end
points are shared floats, so the intervals cover [0, 1] with no gap. The lower bound's points
are checked (increasing, distinct, in the Haar domain, enough of them) before it is claimed.

The table stored in float64 differs from the high-precision reference table by delta g;
since p * sum_c |delta g_c| b_{n,c}(p) <= max_c |delta g_c|, its sup error is within
max|delta g| (computed exactly, in rationals) of the reference polynomial's.
"""
from __future__ import annotations

from functools import lru_cache
from math import comb

import numpy as np
from flint import arb, arb_mat, arb_poly, ctx, fmpz_poly

from .targets import Target

__all__ = ["CertificateError", "poly_u_from_bernstein", "dvp_lower", "sup_upper",
           "bernstein_from_cheb", "float_down", "float_up", "fraction_up", "cover_radii"]


class CertificateError(RuntimeError, ValueError):
    """A certificate could not be established (the message gives the numbers)."""


# -- directed conversions ------------------------------------------------------------

def float_down(x: arb) -> float:
    """Largest float64 <= the lower end of ``x``."""
    lo = x.lower()
    f = float(lo.mid())
    while arb(f) > lo:
        f = float(np.nextafter(f, -np.inf))
    return f


def float_up(x: arb) -> float:
    """Smallest float64 >= the upper end of ``x``."""
    hi = x.upper()
    f = float(hi.mid())
    while arb(f) < hi:
        f = float(np.nextafter(f, np.inf))
    return f


def fraction_up(x) -> float:
    """Smallest float64 >= the rational ``x`` (``float(Fraction)`` rounds to nearest, possibly down)."""
    from fractions import Fraction
    x = Fraction(x)
    f = float(x)
    while Fraction(f) < x:
        f = float(np.nextafter(f, np.inf))
    return f


# -- basis conversions -----------------------------------------------------------------

@lru_cache(maxsize=8)
def _bern_to_u_matrix(n: int) -> tuple:
    """Integer matrix V (rows: powers of u, cols: c) with C(n,c)(1+u)^c(1-u)^(n-c) = sum_k V[k][c] u^k."""
    one_p = fmpz_poly([1, 1])
    one_m = fmpz_poly([1, -1])
    V = [[0] * (n + 1) for _ in range(n + 1)]
    for c in range(n + 1):
        poly = (one_p ** c) * (one_m ** (n - c)) * comb(n, c)
        for k, v in enumerate(poly.coeffs()):
            V[k][c] = int(v)
    return tuple(tuple(r) for r in V)


@lru_cache(maxsize=8)
def _pascal(n: int) -> tuple:
    """Lower-triangular integer matrix C(c, j), 0 <= j <= c <= n."""
    return tuple(tuple(comb(c, j) for j in range(n + 1)) for c in range(n + 1))


def bernstein_from_cheb(coeffs, prec: int) -> list:
    """Bernstein coefficients (degree n = len(coeffs) - 1) of Q(p) = sum_j coeffs[j] T_j(2p - 1).

    Monomial coefficients q_j in p (exact composition u = 2p - 1), then
    g_c = sum_{j <= c} q_j C(c, j) / C(n, j) (the falling-factorial identity of C1).
    """
    from .remez import cheb_to_monomial_u
    n = len(coeffs) - 1
    with ctx.workprec(prec):
        Qu = cheb_to_monomial_u(coeffs, prec)
        qp = list(Qu(arb_poly([arb(-1), arb(2)])).coeffs())
        qp += [arb(0)] * (n + 1 - len(qp))
        qs = [qp[j] / comb(n, j) for j in range(n + 1)]
        g = arb_mat([list(r) for r in _pascal(n)]) * arb_mat(n + 1, 1, qs)
        return [g[c, 0] for c in range(n + 1)]


def poly_u_from_bernstein(g, *, constrained: bool = True) -> arb_poly:
    """P_u(u) = w(p) sum_c g_c b_{n,c}(p) with p = (1+u)/2, w(p) = p if constrained (else 1),
    at the current precision. ``g``: arb (exact or balls), floats, or decimal strings."""
    n = len(g) - 1
    ga = [x if isinstance(x, arb) else arb(x) for x in g]
    V = arb_mat([list(r) for r in _bern_to_u_matrix(n)])
    v = V * arb_mat(n + 1, 1, ga)
    scale = arb(2) ** (-n)
    Qu = arb_poly([v[k, 0] * scale for k in range(n + 1)])
    if constrained:
        return Qu * arb_poly([arb(1) / 2, arb(1) / 2])
    return Qu


# -- the bounds ----------------------------------------------------------------------------

def error_at(Pu: arb_poly, target: Target, x: arb) -> arb:
    return Pu(2 * x - 1) - target.f(x)


def dvp_lower(Pu: arb_poly, target: Target, points, *, degree: int, constrained: bool) -> tuple[arb | None, list]:
    """de la Vallee Poussin: min |e(x_i)| if the signs certainly alternate, else None.

    The theorem needs the points to lie in the domain where the space is a Haar space, in
    increasing order, distinct, and at least dim + 1 of them: ``constrained=True`` is
    span{p, ..., p^degree} on (0, 1] (dim = degree), ``constrained=False`` all polynomials of
    degree <= ``degree`` on [0, 1] (dim = degree + 1); ``Pu`` (in u = 2p - 1) must belong to
    that space. Each condition is checked in Arb (certainly true, not just at midpoints);
    otherwise ``ValueError`` names what is wrong.
    """
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < (1 if constrained else 0):
        raise ValueError(f"degree must be an integer >= {1 if constrained else 0}, got {degree!r}")
    if not isinstance(constrained, bool):
        raise TypeError(f"constrained must be True or False, got {constrained!r}")
    xs = [x if isinstance(x, arb) else arb(x) for x in points]
    need = degree + 1 if constrained else degree + 2
    if len(xs) < need:
        raise ValueError(f"points: the de la Vallee Poussin bound for this space needs at least {need} points, "
                         f"got {len(xs)}")
    lo_ok = (lambda x: x > 0) if constrained else (lambda x: x >= 0)
    for i, x in enumerate(xs):
        if not (lo_ok(x) and x <= 1):
            dom = "(0, 1]" if constrained else "[0, 1]"
            raise ValueError(f"points[{i}] = {x} is not certainly inside {dom}, the domain where the space is Haar")
    for i in range(len(xs) - 1):
        if not xs[i + 1] > xs[i]:
            raise ValueError(f"points must be strictly increasing (sorted, distinct); points[{i}] = {xs[i]} and "
                             f"points[{i + 1}] = {xs[i + 1]} are not")
    if Pu.degree() > degree:
        raise ValueError(f"Pu has degree {Pu.degree()} > degree = {degree}: it is not in the approximation space")
    if constrained and not Pu(arb(-1)).contains(0):
        raise ValueError("Pu does not vanish at p = 0 (u = -1): it is not in the constrained space span{p, ..., p^K}")
    vals = [error_at(Pu, target, x) for x in xs]
    signs = []
    for v in vals:
        if v > 0:
            signs.append(1)
        elif v < 0:
            signs.append(-1)
        else:
            return None, vals
    if any(signs[i] == signs[i + 1] for i in range(len(signs) - 1)):
        return None, vals
    lo = abs(vals[0]).lower()
    for v in vals[1:]:
        if abs(v).lower() < lo:
            lo = abs(v).lower()
    return lo, vals


def cover_radii(a: float, m: float, b: float) -> tuple[arb, arb]:
    """Exact-or-larger radii (m - a, b - m) of [a, b] around m, as Arb numbers (float64 subtraction
    rounds to nearest and may shrink them, leaving a sliver of [a, b] uncovered)."""
    ma = arb(m)
    return (ma - arb(a)).upper(), (arb(b) - ma).upper()


def _quad_max(c0: arb, c1: arb, q: arb, r1: arb, r2: arb) -> arb:
    """Upper bound of max_{t in [-r1, r2]} c0 + c1 t + q t^2 (balls allowed)."""
    if not q < 0:
        qq = q.upper() if q.upper() > 0 else arb(0)
        cands = [c0 - c1 * r1 + qq * r1 * r1, c0 + c1 * r2 + qq * r2 * r2]
    else:
        cands = [c0 - c1 * r1 + q * r1 * r1, c0 + c1 * r2 + q * r2 * r2]
        ts = -c1 / (2 * q)
        if not (ts < -r1) and not (ts > r2):
            cands.append(c0 - c1 * c1 / (4 * q))
    out = cands[0].upper()
    for c in cands[1:]:
        u = c.upper()
        if u > out:
            out = u
    return out


def _max_arb(xs):
    out = xs[0]
    for x in xs[1:]:
        if x > out:
            out = x
    return out


class _SupBounder:
    def __init__(self, Pu: arb_poly, target: Target):
        self.Pu = Pu
        self.target = target
        self.deg = max(Pu.degree(), 0)
        self._zero = None

    def zero_coeffs(self):
        if self._zero is None:
            c = list(self.Pu(arb_poly([arb(-1), arb(2)])).coeffs())
            c += [arb(0)] * (self.deg + 1 - len(c))
            if self.target.entire:
                f = self.target.taylor(arb(0), max(self.deg, self.target.degree))
                c += [arb(0)] * (len(f) - len(c))
                c = [a - b for a, b in zip(c, f)]
            self._zero = c
        return self._zero

    def zero_interval(self, b: float) -> arb | None:
        """Bound of |e| on [0, b], or None when no bound is available there."""
        bb = arb(b)
        c = self.zero_coeffs()
        if self.target.entire:
            return sum((abs(ck) * bb ** k for k, ck in enumerate(c)), arb(0)).upper()
        if b > 0.3:
            return None
        e0 = abs(c[0] - self.target.f(arb(0)))
        s = sum((abs(ck) * bb ** k for k, ck in enumerate(c) if k >= 1), arb(0))
        return (e0 + s + self.target.zero_variation(bb)).upper()

    def taylor_interval(self, a: float, b: float, m: float) -> arb | None:
        """Bound of |e| on [a, b] by the Taylor model at m (a <= m <= b, all floats).

        The radii m - a and b - m are taken in Arb and rounded *up* (float64 subtraction could
        round them down and leave a sliver of [a, b] uncovered)."""
        if a == b:
            return abs(error_at(self.Pu, self.target, arb(m))).upper()
        ma = arb(m)
        r1a, r2a = cover_radii(a, m, b)
        ra = r1a if r1a > r2a else r2a
        if not self.target.radius_ok(m, float_up(ra)):
            return None
        P = list(self.Pu(arb_poly([2 * ma - 1, arb(2)])).coeffs())
        D = self.deg
        P += [arb(0)] * (D + 1 - len(P))
        D = max(D, 2)
        P += [arb(0)] * (D + 1 - len(P))
        f = self.target.taylor(ma, D)
        c = [P[k] - f[k] for k in range(D + 1)]
        S = self.target.tail(ma, ra, D)
        rk = ra * ra
        for k in range(3, D + 1):
            rk = rk * ra
            S = S + abs(c[k]) * rk
        sigma = S / (ra * ra)
        up = _quad_max(c[0], c[1], c[2] + sigma, r1a, r2a)
        lo = _quad_max(-c[0], -c[1], -(c[2] - sigma), r1a, r2a)
        return up if up > lo else lo


def sup_upper(Pu: arb_poly, target: Target, extrema, *, rel_acc: float = 1e-11, tau: arb | None = None,
              max_depth: int = 90, max_intervals: int | None = None, leaves: list | None = None,
              where: list | None = None):
    """Rigorous upper bound of sup_{[0,1]} |P_u(2p-1) - f(p)| (branch and bound).

    ``extrema``: the computed local extrema (hints for interval centres). An interval is
    accepted once its bound is <= max(tau, L * (1 + rel_acc)), L being the largest |e| seen
    at an interval centre so far (a lower bound of the sup); otherwise it is split (up to
    ``max_depth`` / ``max_intervals``). The result, the maximum of the final bounds, is a
    rigorous upper bound in every case; it is within ``rel_acc`` of the sup when no limit
    was hit. Returns (bound, lower, intervals, depth, limited) with ``lower`` = L; ``where`` (a list), when
    given, receives the point at which L was attained (so that L can be re-checked by one evaluation).
    """
    B = _SupBounder(Pu, target)
    xs = sorted(set(float(x) for x in extrema))
    th = np.arccos(np.clip(1.0 - 2.0 * np.asarray(xs), -1.0, 1.0))
    mids = 0.5 * (1.0 - np.cos(0.5 * (th[1:] + th[:-1])))
    edges = [0.0] + [float(x) for x in mids] + [1.0]
    stack = [(edges[i], edges[i + 1], xs[i], 0) for i in range(len(xs))]
    if max_intervals is None:
        max_intervals = 200 * (len(xs) + 4) + 2000
    acc = arb(1) + arb(rel_acc)
    L, at = arb(0), None
    for x in xs:
        v = abs(error_at(Pu, target, arb(x))).lower()
        if v > L:
            L, at = v, x
    worst = arb(0)
    count = 0
    deepest = 0
    limited = False
    while stack:
        a, b, h, depth = stack.pop()
        count += 1
        deepest = max(deepest, depth)
        if h is not None and not (a <= h <= b):
            h = None
        if a == 0.0 and not target.entire:
            bound = B.zero_interval(b)
        else:
            m = h if h is not None else 0.5 * (a + b)
            bound = B.taylor_interval(a, b, m)
            v = abs(error_at(Pu, target, arb(m))).lower()
            if v > L:
                L, at = v, m
        thr = (L * acc).upper()
        if tau is not None and tau > thr:
            thr = tau
        at_limit = depth >= max_depth or count > max_intervals or b - a <= 4e-16 * b
        if bound is not None and (bound <= thr or at_limit):
            limited = limited or not bound <= thr
            if leaves is not None:
                leaves.append((a, b, bound))
            if bound > worst:
                worst = bound
            continue
        if at_limit:
            raise CertificateError(f"no bound available on [{a!r}, {b!r}] at the subdivision limit")
        # split
        if a == 0.0 and not target.entire and h is not None and h > 0:
            parts = [(0.0, 0.5 * h, None), (0.5 * h, b, h)]
        elif h is not None and a < h < b:
            d = 0.5 * min(h - a, b - h)
            parts = [(a, h - d, None), (h - d, h + d, h), (h + d, b, None)]
        else:
            mid = 0.5 * (a + b)
            parts = [(a, mid, h if (h is not None and h <= mid) else None),
                     (mid, b, h if (h is not None and h >= mid) else None)]
        for (x0, x1, hh) in parts:
            if x1 > x0:
                stack.append((x0, x1, hh, depth + 1))
    if where is not None:
        where.append(at)
    return worst, L, count, deepest, limited
