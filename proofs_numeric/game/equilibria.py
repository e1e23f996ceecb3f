"""Exact optimum p* and every table's exact fixed points (docs/claims.md, C7(a)), without sampling.

Both are KKT points of the same problem. The expected policy-gradient (or mirror-descent)
dynamics ascend the *potential*

    Psi(p) = <r, p> - beta * sum_z U(p(z)),      U' = u,

over the simplex, where u is the per-answer *marginal*: u = phi' for the exact game (so Psi = J
and its maximiser is p*), u = B_h + dropped constant for a table (h = g, or the effective table
of the advantage, :func:`.advantages.effective_table`). Their limit points satisfy

    r(z) - beta * u(p(z)) = lambda      where p(z) > 0,
    r(z) - beta * u(0)   <= lambda      where p(z) = 0     (only possible when u(0) is finite),

and the stable ones are local maxima of Psi on the simplex. For a table, u is a polynomial: its
monotone pieces come from a certified isolation of the roots of u' (:mod:`.bernstein_roots`), so
every KKT point is found: for each assignment of answers to pieces (or to 0) the normalisation
sum_z p_z(lambda) = 1 is solved for lambda (bracketing when the pieces share a direction, a
monotone branch-and-bound otherwise). Every point is then re-checked: the KKT residual is
evaluated *exactly* (rational arithmetic, tables) or at 50 digits (phi' = log etc.) at the float64
point reported.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

import mpmath
import numpy as np
from scipy import optimize

from estimators import Generator, Table
from estimators.certified.bernstein import BernsteinFloat64, monomial_to_bernstein
from estimators.certified.bernstein import derivative as bernstein_derivative
from estimators.certified.bernstein import evaluate as bernstein_value

from . import bernstein_roots as br
from .advantages import check_advantage, effective_table
from .spec import GameSpec

__all__ = ["Marginal", "KKTPoint", "PrecisionError", "table_marginal", "generator_marginal", "solve_kkt", "optimum",
           "total_variation", "kl_divergence", "KKT_TOL", "kkt_tolerance"]

class PrecisionError(ValueError):
    """The float64 solver could not produce a point that passes the exact KKT check."""


#: A KKT point is accepted when its exactly evaluated residual is below KKT_TOL times the scale of the
#: equation's terms, max(1, max |r|, beta) (:func:`kkt_tolerance`): relative, so that beta = 1e8 is judged
#: as finely as beta = 1 (float64 evaluates beta * u(p) to about 1e-16 of beta).
KKT_TOL = 1e-9


def kkt_tolerance(r, beta: float) -> float:
    """The residual tolerance of a game's KKT points: KKT_TOL * max(1, max |r|, beta)."""
    return KKT_TOL * max(1.0, float(np.max(np.abs(np.asarray(r, dtype=np.float64)))), float(beta))
_EPS = np.finfo(np.float64).eps


def total_variation(p, q) -> np.ndarray:
    """TV(p, q) = 1/2 sum |p - q| along the last axis."""
    return 0.5 * np.abs(np.asarray(p, dtype=np.float64) - np.asarray(q, dtype=np.float64)).sum(axis=-1)


def kl_divergence(p, q) -> float:
    """KL(p || q) = sum_{p > 0} p log(p / q); inf when q = 0 < p. For KL games J(p*) - J(p) = beta KL(p || p*)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    s = p > 0
    if np.any(q[s] <= 0):
        return float("inf")
    return float(np.sum(p[s] * np.log(p[s] / q[s])))


@dataclass(frozen=True)
class Marginal:
    """The per-answer marginal u(p) whose level sets define the fixed points.

    ``pieces``: (a, b, direction) covering [0, 1], u strictly monotone on each (direction +1 / -1),
    or one piece with direction 0 when u is constant. ``bernstein``: exact Bernstein coefficients of
    u - ``dropped`` (tables and polynomial targets), used for the exact residual and for Psi.
    """

    label: str
    evaluate: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    at_zero: float
    pieces: tuple
    dropped: float = 0.0
    bernstein: tuple | None = None
    exact_value: Callable | None = None  # rational p -> exact value (None: use mp_value)
    mp_value: Callable | None = None     # mpmath p -> value at the working precision
    antiderivative: Callable | None = None
    notes: tuple = ()

    @property
    def monotone_increasing(self) -> bool:
        return len(self.pieces) == 1 and self.pieces[0][2] == 1


def _pieces_from_derivative(dcoeffs, value_at) -> tuple[tuple, tuple]:
    """Monotone pieces of u on [0, 1] from the exact Bernstein coefficients of u'."""
    iso = br.isolate_roots(dcoeffs)
    if iso.identically_zero:
        return ((0.0, 1.0, 0),), ("u is constant on [0, 1]",)
    notes = []
    cuts = sorted(set(float(x) for x in iso.exact) | {float((a + b) / 2) for a, b in iso.brackets})
    for a, b in iso.clusters:
        notes.append(f"unresolved cluster of critical points in [{float(a):.3e}, {float(b):.3e}] (width < 2^-60)")
        cuts.append(float(a))
        cuts.append(float(b))
    cuts = sorted(c for c in set(cuts) if 0.0 < c < 1.0)
    edges = [0.0] + cuts + [1.0]
    pieces = []
    for a, b in zip(edges, edges[1:]):
        mid = Fraction((a + b) / 2)
        s = bernstein_value(dcoeffs, mid)
        direction = 1 if s > 0 else (-1 if s < 0 else (1 if value_at(b) > value_at(a) else -1))
        pieces.append((a, b, direction))
    # merge neighbours of the same direction (a root of even multiplicity does not end a piece)
    merged = [pieces[0]]
    for a, b, d in pieces[1:]:
        if d == merged[-1][2]:
            merged[-1] = (merged[-1][0], b, d)
        else:
            merged.append((a, b, d))
    return tuple(merged), tuple(notes)


def bernstein_marginal(coeffs, dropped: Fraction, label: str) -> Marginal:
    """u(p) = sum_c h_c b_{n,c}(p) + dropped, from exact Bernstein coefficients h."""
    h_exact = tuple(Fraction(c) for c in coeffs)
    n = len(h_exact) - 1
    h = np.array([float(c) for c in h_exact])
    dh = np.array([float(n * (b - a)) for a, b in zip(h_exact, h_exact[1:])]) if n else np.zeros(1)
    d = float(dropped)
    # antiderivative: degree n + 1 with a_0 = 0, a_{c+1} = a_c + h_c / (n + 1)
    anti = BernsteinFloat64(np.concatenate([[0.0], np.cumsum(h) / (n + 1)]))
    value, slope = BernsteinFloat64(h), BernsteinFloat64(dh)

    def evaluate(p):
        return value(p) + d

    def derivative(p):
        return slope(p) if n else np.zeros(np.shape(p))

    def exact_value(x: Fraction) -> Fraction:
        return bernstein_value(h_exact, Fraction(x)) + Fraction(dropped)

    def antiderivative(p):
        return anti(p) + d * np.asarray(p)

    if n == 0:
        pieces, notes = ((0.0, 1.0, 0),), ("u is constant on [0, 1]",)
    else:
        pieces, notes = _pieces_from_derivative(bernstein_derivative(h_exact), lambda x: float(evaluate(np.array([x]))[0]))
    return Marginal(label=label, evaluate=evaluate, derivative=derivative, at_zero=float(h[0]) + d, pieces=pieces,
                    dropped=d, bernstein=h_exact, exact_value=exact_value, antiderivative=antiderivative,
                    notes=notes)


def table_marginal(table: Table, advantage: str = "decoupled") -> Marginal:
    """u = B_h + dropped constant for ``table`` under ``advantage`` (h from :func:`effective_table`)."""
    check_advantage(advantage)
    h = effective_table(table, advantage)
    if h is None:
        raise ValueError(f"advantage {advantage!r} has no per-answer marginal (its expected advantage depends on "
                         f"the whole answer distribution): use proofs_numeric.game.expected for its fixed point")
    label = f"{table.method} K={table.K} ({advantage})"
    return bernstein_marginal(h, table.generator.dropped_constant, label)


def generator_marginal(gen: Generator) -> Marginal:
    """u = phi' (target + dropped constant) of the exact game; its KKT point is p*."""
    d = float(gen.dropped_constant)
    if gen.is_polynomial:
        coeffs = list(gen.target_coeffs)
        deg = max(len(coeffs) - 1, 1)
        m = bernstein_marginal(monomial_to_bernstein(coeffs, deg), gen.dropped_constant, f"phi' ({gen.label()})")
        return m
    with np.errstate(divide="ignore"):
        at_zero = float(gen.target(np.array([0.0]))[0]) + d

    def evaluate(p):
        return gen.target(np.asarray(p, dtype=np.float64)) + d

    def derivative(p):
        p = np.asarray(p, dtype=np.float64)
        return (gen.weighted_derivative(p) - gen.target(p)) / p

    def mp_value(x):
        return gen.target_mp(x) + mpmath.mpf(d)

    # phi convex: phi' is nondecreasing, and strictly increasing for the KL and power families
    return Marginal(label=f"phi' ({gen.label()})", evaluate=evaluate, derivative=derivative, at_zero=at_zero,
                    pieces=((0.0, 1.0, 1),), dropped=d, mp_value=mp_value)


@dataclass
class KKTPoint:
    """A fixed point: answer probabilities ``p``, level ``lam``, and how it was checked.

    ``residual``: max over answers of the KKT violation, evaluated exactly (tables) or at 50 digits
    (phi' = log etc.) at the float64 point, together with |sum p - 1|. ``local_max``: True when p is a
    strict local maximum of Psi on the simplex (second-order test on the support's face and strict
    complementarity on the lost answers): the stable fixed points of the expected dynamics.
    """

    p: np.ndarray
    lam: float
    support_lost: list = field(default_factory=list)
    residual: float = float("nan")
    local_max: bool | None = None
    psi: float = float("nan")

    def to_json(self) -> dict:
        return {"p": [float(x) for x in self.p], "lambda": self.lam, "support_lost": list(self.support_lost),
                "kkt_residual": self.residual, "local_max": self.local_max, "psi": self.psi}


# -- the solver ----------------------------------------------------------------------------------

def _invert(marg: Marginal, y: np.ndarray, lo: np.ndarray, hi: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Solve u(p) = y on [lo, hi] where u is monotone (``direction``), vectorised; clamps at the ends."""
    lo = lo.astype(np.float64).copy()
    hi = hi.astype(np.float64).copy()
    ulo = marg.evaluate(lo)
    uhi = marg.evaluate(hi)
    inc = direction > 0
    below = np.where(inc, y <= ulo, y <= uhi)
    above = np.where(inc, y >= uhi, y >= ulo)
    inside = ~below & ~above
    for _ in range(1100):  # bisection to adjacent floats (about 60 halvings unless p is subnormal)
        mid = 0.5 * (lo + hi)
        active = inside & (mid > lo) & (mid < hi)
        if not active.any():
            break
        f = marg.evaluate(mid) - y
        go_right = np.where(inc, f < 0, f > 0)
        lo = np.where(active & go_right, mid, lo)
        hi = np.where(active & ~go_right, mid, hi)
    p = 0.5 * (lo + hi)
    p = np.where(below, np.where(inc, lo, hi), p)
    p = np.where(above, np.where(inc, hi, lo), p)
    return p


def _monotone_solve(r, beta, marg: Marginal) -> list[tuple[np.ndarray, float]]:
    """The unique KKT point when u is increasing on [0, 1] (p_z(lambda) extended by 0 and 1)."""
    m = r.size
    zeros, ones = np.zeros(m), np.ones(m)
    inc = np.ones(m)

    def probs(lam):
        return _invert(marg, (r - lam) / beta, zeros, ones, inc)

    u1 = float(marg.evaluate(np.array([1.0]))[0])
    lam_lo = float(np.max(r - beta * u1))
    if np.isfinite(marg.at_zero):
        lam_hi = float(np.max(r - beta * marg.at_zero))
    else:
        lam_hi = float(np.max(r - beta * marg.evaluate(np.array([0.5 / m]))[0]))
    f_lo, f_hi = probs(lam_lo).sum() - 1, probs(lam_hi).sum() - 1
    if -1e-9 < f_lo < 0:
        # the solution is the end of the bracket (e.g. a vertex when beta is small against the reward gaps):
        # rounding in u^-1 left the sum a hair under 1; the exact residual check below decides
        return [(probs(lam_lo), lam_lo)]
    if not (f_lo >= 0 >= f_hi):
        raise RuntimeError(f"KKT bracket failed for {marg.label}: S({lam_lo}) = {f_lo}, S({lam_hi}) = {f_hi}")
    if f_lo == 0:
        return [(probs(lam_lo), lam_lo)]
    lam = optimize.brentq(lambda x: probs(x).sum() - 1, lam_lo, lam_hi, xtol=1e-16, rtol=4 * _EPS, maxiter=500)
    return [(probs(lam), lam)]


def _combination_roots(r, beta, marg: Marginal, combo, lam_tol: float) -> list[tuple[np.ndarray, float]]:
    """KKT points with answer z on piece combo[z] (or at 0 when combo[z] < 0)."""
    m = r.size
    nz = [z for z in range(m) if combo[z] >= 0]
    lo_l, hi_l = -np.inf, np.inf
    for z in range(m):
        if combo[z] < 0:
            lo_l = max(lo_l, r[z] - beta * marg.at_zero)
        else:
            a, b, _d = marg.pieces[combo[z]]
            ua, ub = marg.evaluate(np.array([a, b]))
            lo_l = max(lo_l, r[z] - beta * max(ua, ub))
            hi_l = min(hi_l, r[z] - beta * min(ua, ub))
    if not lo_l <= hi_l:
        return []
    idx = np.array(nz)
    a = np.array([marg.pieces[combo[z]][0] for z in nz])
    b = np.array([marg.pieces[combo[z]][1] for z in nz])
    d = np.array([marg.pieces[combo[z]][2] for z in nz], dtype=float)
    dec = d > 0  # u increasing on the piece: p decreasing in lambda

    def parts(lam):
        p = _invert(marg, (r[idx] - lam) / beta, a, b, d)
        return p[dec].sum(), p[~dec].sum(), p

    def full(lam):
        p = np.zeros(m)
        p[idx] = parts(lam)[2]
        return p

    D1, I1, _ = parts(lo_l)
    D2, I2, _ = parts(hi_l)
    if not (D2 + I1 - 1 <= 0 <= D1 + I2 - 1):
        return []
    def S(lam):
        Dv, Iv, _ = parts(lam)
        return Dv + Iv - 1
    if lo_l == hi_l:
        return [(full(lo_l), lo_l)] if abs(S(lo_l)) < 1e-12 else []
    if dec.all() or (~dec).all():
        s1, s2 = S(lo_l), S(hi_l)
        if s1 == 0:
            return [(full(lo_l), lo_l)]
        if s2 == 0:
            return [(full(hi_l), hi_l)]
        if (s1 > 0) == (s2 > 0):
            return []
        lam = optimize.brentq(S, lo_l, hi_l, xtol=1e-16, rtol=4 * _EPS, maxiter=500)
        return [(full(lam), lam)]
    # mixed directions: S = D + I with D decreasing, I increasing; prune intervals whose bounds exclude 0
    out = []
    stack = [(lo_l, hi_l, D1, I1, D2, I2)]
    while stack:
        l1, l2, d1, i1, d2, i2 = stack.pop()
        if d2 + i1 - 1 > 0 or d1 + i2 - 1 < 0:
            continue
        if l2 - l1 <= lam_tol:
            s1, s2 = d1 + i1 - 1, d2 + i2 - 1
            if (s1 > 0) != (s2 > 0) or s1 == 0 or s2 == 0:
                lam = l1 if s1 == 0 else (l2 if s2 == 0 else optimize.brentq(S, l1, l2, xtol=1e-16, rtol=4 * _EPS))
            else:
                lam = 0.5 * (l1 + l2)  # a touching (double) root candidate: kept only if its residual is tiny
            out.append((full(lam), lam))
            continue
        mid = 0.5 * (l1 + l2)
        dm, im, _ = parts(mid)
        stack.append((l1, mid, d1, i1, dm, im))
        stack.append((mid, l2, dm, im, d2, i2))
    return out


def _exact_residual(r, beta, marg: Marginal, p: np.ndarray, lam: float) -> float:
    """Max KKT violation at the float64 point p, evaluated exactly (or at 50 digits)."""
    worst = abs(sum(Fraction(float(x)) for x in p) - 1)
    if marg.exact_value is not None:
        fb, fl = Fraction(float(beta)), Fraction(float(lam))
        for z, pz in enumerate(p):
            rz = Fraction(float(r[z]))
            if pz > 0:
                v = abs(rz - fb * marg.exact_value(Fraction(float(pz))) - fl)
            else:
                v = max(Fraction(0), rz - fb * Fraction(marg.at_zero) - fl)
            worst = max(worst, v)
        return float(worst)
    worst = float(worst)
    with mpmath.workdps(50):
        for z, pz in enumerate(p):
            if pz > 0:
                v = abs(mpmath.mpf(float(r[z])) - mpmath.mpf(beta) * marg.mp_value(mpmath.mpf(float(pz)))
                        - mpmath.mpf(lam))
                worst = max(worst, float(v))
    return worst


def _classify(r, beta, marg: Marginal, p: np.ndarray, lam: float, tol: float) -> bool:
    """Strict local maximum of Psi on the simplex (second order on the support's face)."""
    sup = np.flatnonzero(p > 0)
    lost = np.flatnonzero(p == 0)
    if lost.size and np.any(r[lost] - beta * marg.at_zero >= lam - tol):
        return False
    if sup.size <= 1:
        return True
    D = np.diag(marg.derivative(p[sup]))
    # basis of {delta : sum delta = 0} on the support
    V = np.linalg.qr(np.eye(sup.size)[:, :-1] - 1.0 / sup.size, mode="reduced")[0]
    eig = np.linalg.eigvalsh(V.T @ D @ V)
    return bool(eig.min() > 0)


def potential(r, beta, marg: Marginal, p: np.ndarray) -> float:
    """Psi(p) = <r, p> - beta sum_z U(p_z), U(0) = 0, U' = u (None-safe: nan without an antiderivative)."""
    if marg.antiderivative is None:
        return float("nan")
    return float(r @ p - beta * np.sum(marg.antiderivative(np.asarray(p, dtype=np.float64))))


def solve_kkt(r, beta, marg: Marginal, *, tol: float | None = None) -> list[KKTPoint]:
    """Every KKT point of the game with marginal ``marg`` (see the module docstring), best Psi first.
    ``tol``: residual tolerance (default :func:`kkt_tolerance`)."""
    r = np.asarray(r, dtype=np.float64)
    tol = kkt_tolerance(r, beta) if tol is None else tol
    cands = _candidates(r, beta, marg)
    points: list[KKTPoint] = []
    for p, lam in cands:
        p = np.where(p < 0, 0.0, p)
        p = p / p.sum()  # exact normalisation; the residual below is evaluated at this point
        if any(np.max(np.abs(q.p - p)) <= 1e-9 for q in points):
            continue
        res = _exact_residual(r, beta, marg, p, lam)
        if res > tol:
            continue
        pt = KKTPoint(p=p, lam=float(lam), support_lost=[int(z) for z in np.flatnonzero(p == 0)], residual=res)
        pt.local_max = _classify(r, beta, marg, p, lam, tol)
        pt.psi = potential(r, beta, marg, p)
        points.append(pt)
    if not points:
        bound = ""
        if marg.bernstein is not None:
            n = len(marg.bernstein) - 1
            big = max(abs(float(c)) for c in marg.bernstein)
            bound = (f"; max|h| = {big:.3g}, so float64 values of B_h may be off by up to ~{(n + 2) * _EPS * big:.1e} "
                     f"(a table with huge alternating entries cannot be solved in float64, see C5)")
        raise PrecisionError(f"no KKT point of {marg.label} passes the exact residual check (tolerance {tol:g})"
                             + bound)
    points.sort(key=lambda q: -q.psi if np.isfinite(q.psi) else 0.0)
    return points


#: The exhaustive search over (answer -> monotone piece) assignments is refused beyond this many assignments.
MAX_ASSIGNMENTS = 200_000


def _candidates(r, beta, marg: Marginal) -> list[tuple[np.ndarray, float]]:
    """Candidate KKT points (p, lambda). Solved in the units r' = (r - max r) / beta, beta' = 1 (the same
    points; lambda = beta lambda' + max r), so that tiny or huge beta keeps every digit of the reward gaps."""
    top = float(r.max())
    rs = (r - top) / beta
    m = r.size
    if marg.pieces[0][2] == 0:
        # u constant: r(z) = lambda + const on the support, so only the best answers keep mass
        best = np.flatnonzero(rs == rs.max())
        if best.size > 1:
            raise ValueError(f"{marg.label}: u is constant and answers {best.tolist()} tie for the best reward: "
                             f"every distribution over them is a fixed point (a continuum)")
        p = np.zeros(m)
        p[best[0]] = 1.0
        cands = [(p, float(rs.max() - marg.at_zero))]
    elif marg.monotone_increasing:
        cands = _monotone_solve(rs, 1.0, marg)
    else:
        options = ([-1] if np.isfinite(marg.at_zero) else []) + list(range(len(marg.pieces)))
        if len(options) ** m > MAX_ASSIGNMENTS:
            raise ValueError(f"{marg.label}: u has {len(marg.pieces)} monotone pieces, so listing every KKT point "
                             f"means {len(options)}^{m} assignments of the {m} answers (more than {MAX_ASSIGNMENTS}); "
                             f"exact fixed points of this table are available for games with fewer answers")
        cands = []
        span = float(np.ptp(rs)) + 10.0
        for combo in itertools.product(options, repeat=m):
            if max(combo) < 0:
                continue
            cands.extend(_combination_roots(rs, 1.0, marg, combo, lam_tol=1e-13 * (1 + span)))
    return [(p, beta * lam + top) for p, lam in cands]


# -- the optimum p* ------------------------------------------------------------------------------

def optimum(game: GameSpec) -> tuple[np.ndarray, str, float]:
    """The game's optimum p* = argmax J, how it was obtained, and its KKT residual.

    KL: p* proportional to exp(r / beta) (softmax, exact to rounding); Euclidean: the simplex
    projection of r / beta (sort-based); otherwise the KKT system with u = phi' (bracketing, residual
    checked at 50 digits or exactly).
    """
    gen = game.generator
    r, beta = game.r, game.beta
    marg = generator_marginal(gen)
    closed = gen.game_optimum(r, beta)   # the family's closed form, when it has one
    if closed is not None:
        p, lam, how = closed
    else:
        pt = solve_kkt(r, beta, marg)[0]
        p, lam = pt.p, pt.lam
        how = "KKT system r - beta phi'(p) = lambda solved by bracketing"
    return p, how, _exact_residual(r, beta, marg, p, lam)
