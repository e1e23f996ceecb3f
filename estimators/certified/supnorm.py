"""A certified bracket on sup_{p in [0,1]} |p * b_g(p)|, the weighted bias of a table (claim C2).

Every number is computed in Arb ball arithmetic (python-flint), so every rounding is enclosed;
the float64 ends are rounded outward from the balls.

* W(p) = p B_g(p) - f(p) is evaluated at a float p (an exact binary number) as a ball:
  B_g(p) = (1-p)^n sum_c g_c C(n,c) t^c with t = p/(1-p) for p <= 1/2, and
  p^n sum_c g_c C(n,c) s^(n-c) with s = (1-p)/p above (both Horner in Arb, no overflow or
  underflow: Arb exponents are unbounded); f(p) from :mod:`estimators.minimax.targets`.
* **Lower end**: the largest lower end of |W(p_i)| over the evaluated points (a grid, refined by
  a bounded scalar search around the best point). Each is a proven lower bound of |W| at an exact
  point, hence of the sup.
* **Upper end**: [0, 1] is cut into intervals [a, b] (h = b - a). On [a, b] with a > 0,
  W = (linear interpolant of W(a), W(b)) + E with |E| <= h^2/8 sup |W''| and
  W'' = 2 B_g' + p B_g'' - f'',  |B_g'| <= D1(p) := n sum_c |Delta g_c| b_{n-1,c}(p),
  |B_g''| <= D2(p) := n(n-1) sum_c |Delta^2 g_c| b_{n-2,c}(p).
  A Bernstein polynomial with non-increasing (non-decreasing) coefficients is non-increasing
  (non-decreasing), so when |Delta g| (|Delta^2 g|) is monotone -- checked in Arb -- the sup of D1
  (D2) on [a, b] is its value at an end point; otherwise n max|Delta g| (n(n-1) max|Delta^2 g|)
  bounds it. |f''| is monotone for the KL and power targets (end points); for polynomial targets
  sum_j |c_j| j (j-1) b^(j-2) bounds it. On [0, b]: |W| <= b max|g| + sup_[0,b] |f|.
  Intervals whose bound exceeds (1 + rel_tol) * lower are split. Every interval's bound is
  rigorous whether or not it met the threshold, so the maximum over the final partition is a
  rigorous upper bound of the sup.

This suits tables of modest entries (plug-in, jackknife, U-statistics); the minimax tables are
certified by Taylor models in :mod:`estimators.minimax.certify` (C3).
"""
from __future__ import annotations

from dataclasses import dataclass

from flint import arb, ctx
from scipy import optimize

from .._validate import check_positive_int, check_unit_interval_open
from ..minimax.certify import float_down, float_up
from ..minimax.targets import target_for
from ..table import Table
from .bernstein import BernsteinArb

__all__ = ["SupBracket", "weighted_bias_bracket"]


@dataclass(frozen=True)
class SupBracket:
    """lower <= sup_p |p b_g(p)| <= upper (both certified); ``argmax``: where the lower end is attained."""

    lower: float
    upper: float
    argmax: float
    n_points: int
    rounds: int
    prec_bits: int = 0
    converged: bool = True

    @property
    def rel_gap(self) -> float:
        return self.upper / self.lower - 1.0 if self.lower > 0 else float("inf")


def _monotone(xs: list) -> str | None:
    """'dec' / 'inc' when the balls are certainly non-increasing / non-decreasing, else None."""
    if all(xs[i + 1] <= xs[i] for i in range(len(xs) - 1)):
        return "dec"
    if all(xs[i + 1] >= xs[i] for i in range(len(xs) - 1)):
        return "inc"
    return None


def _max_arb(xs: list) -> arb:
    out = arb(0)
    for x in xs:
        u = x.upper()
        if u > out:
            out = u
    return out


class _SupProblem:
    """The Arb pieces of the bound for one table (built at the current precision)."""

    def __init__(self, table: Table):
        g = [arb(float(v)) for v in table.values]
        n = len(g) - 1
        self.n = n
        self.B = BernsteinArb(g)
        self.gmax = _max_arb([abs(x) for x in g])
        self.target = target_for(table.generator)
        d1 = [abs(g[c + 1] - g[c]) * n for c in range(n)]
        d2 = [abs(g[c + 2] - 2 * g[c + 1] + g[c]) * (n * (n - 1)) for c in range(n - 1)]
        self.D1 = self._sup_fn(d1)
        self.D2 = self._sup_fn(d2) if d2 else (lambda a, b: arb(0))

    @staticmethod
    def _sup_fn(d: list):
        """(a, b) -> an upper bound of the Bernstein polynomial with coefficients d on [a, b]."""
        mono = _monotone(d)
        if mono is None:
            top = _max_arb(d)
            return lambda a, b: top
        poly = BernsteinArb(d)
        cache: dict = {}

        def at(p):
            v = cache.get(p)
            if v is None:
                v = cache[p] = poly(p).upper()
            return v
        return (lambda a, b: at(a)) if mono == "dec" else (lambda a, b: at(b))

    def W(self, p: float) -> arb:
        pa = arb(p)
        return pa * self.B(p) - (self.target.f(pa) if p > 0 else arb(0))

    def near_zero(self, b: float) -> arb | None:
        """Upper bound of |W| on [0, b] (None when b is too large for the bound to apply)."""
        fz = self.target.sup_abs_near_zero(b)
        if fz is None:
            return None
        return (arb(b) * self.gmax + fz).upper()

    def interval(self, a: float, b: float, wa: arb, wb: arb) -> arb | None:
        if a == 0.0:
            return self.near_zero(b)
        h = arb(b) - arb(a)
        M = 2 * self.D1(a, b) + arb(b) * self.D2(a, b) + self.target.sup_abs_d2(a, b)
        return (_max_arb([abs(wa), abs(wb)]) + h * h * M / 8).upper()


def _initial_grid(K: int, n_grid: int) -> list[float]:
    m = max(n_grid // 3, 8)
    pts = {0.0, 1.0}
    pts.update(float(x) for x in [1e-12 * (1e12 ** (i / (m - 1))) for i in range(m)])
    pts.update(i / m for i in range(m + 1))
    lo, hi = 1e-2 / K, min(20.0 / K, 1.0)
    pts.update(float(lo * (hi / lo) ** (i / (m - 1))) for i in range(m))
    return sorted(p for p in pts if 0.0 <= p <= 1.0)


def weighted_bias_bracket(table: Table, *, n_grid: int = 240, rel_tol: float = 0.02, abs_tol: float = 1e-9,
                          max_rounds: int = 40, max_points: int = 50_000, split: int = 4,
                          prec: int = 128) -> SupBracket:
    """Certified bracket [lower, upper] on sup_[0,1] |p b_g(p)| (see the module docstring).

    Parameters
    ----------
    table : Table
    n_grid : int       initial number of points (the grid is refined adaptively)
    rel_tol : float    target relative width upper/lower - 1 (in (0, 1))
    abs_tol : float    an interval is also accepted when its bound is <= abs_tol (a table whose
                       weighted bias vanishes, e.g. a U-statistic, gets [0, <= abs_tol])
    max_rounds, max_points : refinement limits; when one is hit the bracket is still rigorous but
                       wider (``converged=False``)
    split : int        pieces each rejected interval is cut into (>= 2)
    prec : int         Arb working precision in bits (raised automatically when balls are too wide)
    """
    if not isinstance(table, Table):
        raise TypeError(f"table must be an estimators.Table, got {type(table).__name__}")
    rel_tol = check_unit_interval_open(rel_tol, name="rel_tol")
    n_grid = check_positive_int(n_grid, name="n_grid", minimum=8)
    max_rounds = check_positive_int(max_rounds, name="max_rounds", minimum=0)
    max_points = check_positive_int(max_points, name="max_points", minimum=n_grid)
    try:
        abs_tol = float(abs_tol)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"abs_tol must be a number > 0, got {abs_tol!r}") from exc
    if not (abs_tol > 0 and abs_tol < float("inf")):
        raise ValueError(f"abs_tol must be a finite number > 0, got {abs_tol!r}")
    split = check_positive_int(split, name="split", minimum=2)
    prec = check_positive_int(prec, name="prec", minimum=53)
    for _attempt in range(4):
        with ctx.workprec(prec):
            res = _bracket(table, n_grid, rel_tol, abs_tol, max_rounds, max_points, split, prec)
        if res is not None:
            return res
        prec *= 2
    raise ArithmeticError(f"weighted_bias_bracket: Arb balls too wide even at {prec // 2} bits")  # pragma: no cover


def _bracket(table: Table, n_grid: int, rel_tol: float, abs_tol: float, max_rounds: int, max_points: int,
             split: int, prec: int):
    S = _SupProblem(table)
    pts = _initial_grid(table.K, n_grid)
    vals = {p: S.W(p) for p in pts}
    rad_ok = all(v.rad() <= abs(v).upper() * (rel_tol / 100) + arb(abs_tol) / 100 for v in vals.values())
    if not rad_ok:
        return None
    best_p = max(pts, key=lambda p: abs(vals[p]).lower())
    lower = abs(vals[best_p]).lower()
    # refine the lower end around the best grid point (Arb value at the refined float point)
    i = pts.index(best_p)
    lo_b, hi_b = pts[max(i - 1, 0)], pts[min(i + 1, len(pts) - 1)]
    if hi_b > lo_b:
        r = optimize.minimize_scalar(lambda x: -float(abs(S.W(float(x))).mid()), bounds=(lo_b, hi_b),
                                     method="bounded", options={"xatol": 1e-14 + 1e-10 * hi_b})
        x = float(r.x)
        v = abs(S.W(x)).lower()
        if v > lower:
            lower, best_p = v, x
    acc = 1 + arb(rel_tol)
    floor = arb(abs_tol)
    rounds = 0
    known: dict = {}
    while True:
        thr = lower * acc
        if thr < floor:
            thr = floor
        bounds = []
        bad = []
        for a, b in zip(pts[:-1], pts[1:]):
            u = known.get((a, b), 0)
            if u == 0:
                u = known[(a, b)] = S.interval(a, b, vals[a], vals[b])
            bounds.append(u)
            if u is None or not u <= thr:
                bad.append((a, b))
        n_new = sum(1 if a == 0.0 else split - 1 for a, _ in bad)
        if not bad or rounds >= max_rounds or len(pts) + n_new > max_points:
            if any(u is None for u in bounds):
                raise ArithmeticError("weighted_bias_bracket: an interval near 0 has no bound")  # pragma: no cover
            upper = _max_arb(bounds)
            return SupBracket(float_down(lower), float_up(upper), float(best_p), len(pts), rounds, prec,
                              converged=not bad)
        rounds += 1
        new = []
        for a, b in bad:
            if a == 0.0:
                new.append(b / 16)
            else:
                new.extend(a + (b - a) * j / split for j in range(1, split))
        new = [p for p in new if p not in vals and 0.0 < p < 1.0]
        if not new:  # intervals at float resolution: nothing left to split
            rounds = max_rounds
            continue
        for p in new:
            v = S.W(p)
            vals[p] = v
            if abs(v).lower() > lower:
                lower, best_p = abs(v).lower(), p
        pts = sorted(set(pts).union(new))

