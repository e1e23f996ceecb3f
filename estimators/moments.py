"""Exact moments of a table at probabilities p: three engines that must agree.

For sample i with answer probability p, C_i ~ Binomial(n, p), n = K - 1, and

    mean      B_g(p) = sum_c g(c) b_{n,c}(p)
    variance  V_g(p) = sum_c (g(c) - B_g(p))^2 b_{n,c}(p)
    bias      b_g(p) = B_g(p) - target(p)
    weighted  p*b_g(p) = p*B_g(p) - f(p),  p*V_g(p)

Engines
-------
``float64``  vectorised over large p grids; log-space binomial pmf, log C(n,c) from 40-digit
             mpmath (cached per n); accepts K up to 65536, checked against mpmath up to
             K = 1024 in the tests. Each result carries an
             a-priori rounding bound ``mean_err`` (see :func:`moments`).
``exact``    rational p, exact ``Fraction`` arithmetic (bias only for polynomial targets).
``mpmath``   any p, at ``dps`` decimal digits.
"""
from __future__ import annotations

import decimal
import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np

from ._validate import K_MAX, check_positive_int, check_probabilities, check_rational_probability
from .table import Table

__all__ = ["Moments", "moments", "ENGINES", "binomial_pmf", "log_binomial_coefficients"]

ENGINES = ("float64", "exact", "mpmath")
_U = np.finfo(np.float64).eps / 2  # unit roundoff


@dataclass(frozen=True)
class Moments:
    """Moments of a table at probabilities ``p`` (arrays for float64, lists otherwise).

    ``mean_err`` (float64 engine only) bounds the rounding error of ``mean`` and
    ``weighted_bias``; None for the exact and mpmath engines. Fields that cannot be
    computed in an engine (the bias of a non-polynomial target in exact arithmetic) are None.
    """

    engine: str
    p: Any
    mean: Any
    var: Any
    bias: Any
    weighted_bias: Any
    weighted_var: Any
    mean_err: Any = None

    def as_float(self) -> "Moments":
        """The same moments converted to float64 arrays (None fields stay None)."""
        def f(x):
            return None if x is None else np.array([float(v) for v in np.atleast_1d(x)], dtype=np.float64)
        return Moments(self.engine, f(self.p), f(self.mean), f(self.var), f(self.bias),
                       f(self.weighted_bias), f(self.weighted_var), self.mean_err)


#: the float64 engine drops counts c with |c - n p| > t, t = sqrt(n * HOEFFDING_LOG / 2): their total
#: probability is <= 2 exp(-HOEFFDING_LOG) = 2^-999 (Hoeffding), far below every rounding error
HOEFFDING_LOG = 1000 * math.log(2)
#: cells of the [p, c] pmf block evaluated at once (bounds memory: a few arrays of 8 MiB)
BLOCK_CELLS = 1 << 20


@lru_cache(maxsize=16)
def log_binomial_coefficients(n: int) -> np.ndarray:
    """log C(n, c) for c = 0..n in O(n): log j! accumulated in Arb ball arithmetic (python-flint,
    128 bits), log C(n, c) = log n! - log c! - log (n-c)! as a ball, its midpoint rounded to float64.

    The balls' radii stay below 1e-25 for n <= 65535, so each entry is within 2 ulp of the true value.
    """
    from flint import arb, ctx  # imported on first use (``import estimators`` stays light)
    n = check_positive_int(n, name="n", minimum=1)
    if n > K_MAX:
        raise ValueError(f"n must be an integer in [1, {K_MAX}], got {n}")
    with ctx.workprec(128):
        lf = [arb(0)] * (n + 1)
        acc = arb(0)
        for j in range(2, n + 1):
            acc = acc + arb(j).log()
            lf[j] = acc
        top = lf[n]
        out = np.empty(n + 1, dtype=np.float64)
        for c in range(n // 2 + 1):
            v = float((top - lf[c] - lf[n - c]).mid())
            out[c] = out[n - c] = v
    out.setflags(write=False)
    return out


def _window_halfwidth(n: int) -> int:
    return int(math.ceil(math.sqrt(n * HOEFFDING_LOG / 2.0)))


def _log_terms(n: int, p: np.ndarray, lo: int, hi: int):
    """(log C(n,c), -log p, -log(1-p)) pieces of the log pmf for counts lo..hi and 0 < p < 1."""
    logc = log_binomial_coefficients(n)[lo:hi + 1]
    return logc, -np.log(p), -np.log1p(-p)


def _pmf_block(n: int, p: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """pmf and relative error bound for counts lo..hi (columns) at probabilities p (rows).

    Exponent: log C(n,c) - c (-log p) - (n-c) (-log(1-p)); its rounding error is at most 5.1u times
    mag = log C(n,c) + c |log p| + (n-c) |log(1-p)| (2u for the Arb-rounded log C, 3.01u for each
    product with a libm logarithm within its documented 1 ulp, u for each of the two sums), and exp
    adds 2u: relerr <= expm1(5.1u mag)(1 + 2u) + 2u <= 6u mag (1 + 6u mag) + 3u (as 6u mag <= 1).
    """
    c = np.arange(lo, hi + 1, dtype=np.float64)
    inner = (p > 0) & (p < 1)
    pi = np.where(inner, p, 0.5)
    logc, a, b = _log_terms(n, pi, lo, hi)
    t1 = a[:, None] * c[None, :]
    t2 = b[:, None] * (n - c)[None, :]
    mag = logc[None, :] + t1 + t2
    pmf = np.exp(logc[None, :] - t1 - t2)
    x = 6 * _U * mag
    relerr = x * (1 + x) + 3 * _U
    if not inner.all():  # p = 0 or 1: the pmf is a point mass, exactly
        for i in np.flatnonzero(~inner):
            pmf[i] = 0.0
            relerr[i] = 0.0
            at = 0 if p[i] == 0 else n
            if lo <= at <= hi:
                pmf[i, at - lo] = 1.0
    return pmf, relerr


def binomial_pmf(n: int, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binomial(n, p) pmf for every p (rows) and c = 0..n (columns), and its relative error bound.

    Returns ``(pmf, relerr)``: ``relerr[i, c]`` bounds |computed - true| / true wherever the computed
    value is a normal float64 (>= 2^-1022), from the rounding of the log-space exponent and of exp
    (libm's log, log1p and exp taken within their documented 1 ulp).
    """
    n = check_positive_int(n, name="n", minimum=1)
    p = check_probabilities(np.atleast_1d(np.asarray(p, dtype=np.float64)))
    return _pmf_block(n, p, 0, n)


_STRINGS_HINT = " (decimal strings are read exactly only by engine='exact' and engine='mpmath')"


def _moments_float64(table: Table, p, chunk: int) -> Moments:
    p = check_probabilities(p, hint=_STRINGS_HINT)
    flat = p.ravel()
    g = table.values
    K, n = table.K, table.n
    mean = np.empty_like(flat)
    var = np.empty_like(flat)
    err = np.empty_like(flat)
    absg = np.abs(g)
    gmax = float(absg.max())
    half = _window_halfwidth(n)
    width = min(n + 1, 2 * half + 2)
    rows = int(min(chunk, max(8, BLOCK_CELLS // width)))
    gamma = K * _U / (1 - K * _U)
    # absolute terms: dropped tail (<= 2^-998 of the mass) and underflowed pmf entries (< 2^-1022 each)
    tiny = gmax * (2.0 ** -998 + (n + 1) * 2.0 ** -1021)
    cs = np.arange(n + 1, dtype=np.float64)
    logc_all = log_binomial_coefficients(n)
    # columns for one matrix product per block: g, then |g| weighted by the pieces of the error bound
    cols = np.stack([g, absg, absg * logc_all, absg * cs, absg * (n - cs)], axis=1)
    order = np.argsort(flat, kind="stable")
    for s in range(0, flat.size, rows):
        idx = order[s:s + rows]
        pc = flat[idx]
        lo = max(0, int(math.floor(n * pc[0])) - half)
        hi = min(n, int(math.ceil(n * pc[-1])) + half)
        c = cs[lo:hi + 1]
        inner = (pc > 0) & (pc < 1)
        pi = np.where(inner, pc, 0.5)
        logc, a, b = _log_terms(n, pi, lo, hi)
        pmf = np.exp(logc[None, :] - a[:, None] * c[None, :] - b[:, None] * (n - c)[None, :])
        for i in np.flatnonzero(~inner):  # p = 0 or 1: point mass at c = 0 or n, exactly
            pmf[i] = 0.0
            at = 0 if pc[i] == 0 else n
            if lo <= at <= hi:
                pmf[i, at - lo] = 1.0
        S = pmf @ cols[lo:hi + 1]
        m = S[:, 0]
        mean[idx] = m
        d = g[lo:hi + 1][None, :] - m[:, None]
        d *= d
        d *= pmf
        var[idx] = d.sum(axis=1)
        # sum_c pmf |g| mag with mag = log C + c a + (n - c) b (the exponent's magnitude, see _pmf_block)
        sum_mag = S[:, 2] + a * S[:, 3] + b * S[:, 4]
        # |fl(sum pmf g) - sum pmf_true g| <= sum pmf |g| (relerr/(1 - relerr) + gamma_K) (Higham's
        # dot-product bound), relerr <= 6u mag (1 + 6u mag) + 3u <= 6u mag (1 + 1e-6) + 3u here
        e = (6 * _U * (1 + 1e-6)) * sum_mag + (3 * _U + gamma) * S[:, 1]
        e *= 1 + 1e-5  # 1/(1 - relerr) with relerr <= 1e-6
        err[idx] = np.where(inner, e, 0.0) + tiny
    # the bound is itself a sum of K + 6 rounded nonnegative terms: inflate by gamma_(K+6)
    err *= 1 + 2 * (K + 6) * _U
    mean = mean.reshape(p.shape)
    var = var.reshape(p.shape)
    err = err.reshape(p.shape)
    gen = table.generator
    with np.errstate(invalid="ignore"):
        bias = mean - gen.target(p)
    wbias = p * mean - gen.weighted_target(p)
    # error of p * mean: p |error of mean| + the rounding of the product
    wmean_err = (p * err + _U * np.abs(p * mean)) * (1 + 4 * _U)
    return Moments("float64", p, mean, var, bias, wbias, p * var, wmean_err)


#: mpmath engine: largest K * points * max(dps, 50)/50 (about 80 microseconds per term at 50 digits)
MPMATH_WORK_MAX = 1 << 17
MPMATH_DPS_MAX = 10_000
#: exact engine: largest sum over the points of K^2 * log2(denominator of p) (the bit work of its integer
#: sums: about ten seconds)
EXACT_BIT_WORK_MAX = 1 << 33


def _integer_weights(n: int, q: Fraction) -> tuple[list[int], int]:
    """N_c = C(n,c) a^c b^(n-c) for q = a/d, 1 - q = b/d, and D = d^n (so pmf_c = N_c / D), in O(n)
    small-integer steps: N_(c+1) = N_c a (n-c) / ((c+1) b), an exact division."""
    a, d = q.numerator, q.denominator
    b = d - a
    D = d ** n
    if a == 0:
        return [D] + [0] * n, D
    if b == 0:
        return [0] * n + [D], D
    N = [b ** n]
    for c in range(n):
        N.append(N[-1] * (a * (n - c)) // ((c + 1) * b))
    return N, D


def _moments_exact(table: Table, p, stored: bool) -> Moments:
    """Exact rationals: the pmf as integers over d^n, the entries over their common denominator, so the
    sums are integer arithmetic (one reduced fraction per moment)."""
    ps = [check_rational_probability(x) for x in np.atleast_1d(np.asarray(p, dtype=object)).ravel()]
    g = [Fraction(float(v)) for v in table.values] if stored else table.exact_values()
    n = table.n
    work = sum(n * n * max(q.denominator.bit_length(), 1) for q in ps)
    if work > EXACT_BIT_WORK_MAX:
        raise ValueError(f"p: the exact engine needs the sum over the points of K^2 * log2(denominator of p) <= "
                         f"{EXACT_BIT_WORK_MAX} (here {work} with K = {n + 1} and {len(ps)} point(s)); use fewer "
                         f"points, p with smaller denominators, a smaller K, or engine='mpmath'")
    L = math.lcm(*(x.denominator for x in g))
    G = [x.numerator * (L // x.denominator) for x in g]
    gen = table.generator
    out = {k: [] for k in ("mean", "var", "bias", "wbias", "wvar")}
    for q in ps:
        N, D = _integer_weights(n, q)
        s1 = sum(Gc * Nc for Gc, Nc in zip(G, N))
        s2 = sum(Gc * Gc * Nc for Gc, Nc in zip(G, N))
        m = Fraction(s1, L * D)
        v = Fraction(s2, L * L * D) - m * m
        out["mean"].append(m)
        out["var"].append(v)
        out["wvar"].append(q * v)
        if gen.is_polynomial:
            t = gen.target_exact(q)
            out["bias"].append(m - t)
            out["wbias"].append(q * (m - t))
    poly = gen.is_polynomial
    return Moments("exact", ps, out["mean"], out["var"], out["bias"] if poly else None,
                   out["wbias"] if poly else None, out["wvar"])


def _to_mpf_probability(x):
    """An mpmath number in [0, 1] from an mpf, a float (exact value), or a Fraction, Decimal or decimal string
    (read exactly by the bounded parser, then rounded once to the working precision)."""
    if isinstance(x, (str, Fraction, decimal.Decimal)):
        q = check_rational_probability(x)
        return mpmath.mpf(q.numerator) / q.denominator
    if isinstance(x, mpmath.mpf):
        q = x
    else:
        q = mpmath.mpf(float(check_probabilities(x)))
    if not 0 <= q <= 1:
        raise ValueError(f"p must lie in [0, 1] and not be NaN; got {x}")
    return q


def _moments_mpmath(table: Table, p, dps: int, stored: bool) -> Moments:
    raw = np.atleast_1d(np.asarray(p, dtype=object)).ravel()
    gen = table.generator
    out = {k: [] for k in ("p", "mean", "var", "bias", "wbias", "wvar")}
    with mpmath.workdps(dps):
        g = table.mp_values(stored=stored)
        n = table.n
        for x in raw:
            q = _to_mpf_probability(x)
            pmf = [mpmath.binomial(n, c) * q ** c * (1 - q) ** (n - c) for c in range(n + 1)]
            m = mpmath.fsum(w * x_ for w, x_ in zip(pmf, g))
            v = mpmath.fsum(w * (x_ - m) ** 2 for w, x_ in zip(pmf, g))
            wt = gen.weighted_target_mp(q)
            out["p"].append(q)
            out["mean"].append(m)
            out["var"].append(v)
            out["bias"].append(m - gen.target_mp(q))
            out["wbias"].append(q * m - wt)
            out["wvar"].append(q * v)
    return Moments("mpmath", out["p"], out["mean"], out["var"], out["bias"], out["wbias"], out["wvar"])


def moments(table: Table, p, *, engine: str = "float64", dps: int = 50, chunk: int = 4096,
            values: str = "stored") -> Moments:
    """Exact moments of ``table`` at probabilities ``p``.

    Parameters
    ----------
    table : Table
    p : float, array-like, Fraction (exact engine), or mpf / decimal string (mpmath engine)
        Probabilities in [0, 1]; NaN or values outside raise ``ValueError``; bools, complex values and
        (for the float64 engine) strings raise ``TypeError``. The exact and mpmath engines read decimal
        strings ("0.3", "3/10") exactly, with at most 1000 digits and a decimal exponent within +-1000.
    engine : {"float64", "exact", "mpmath"}
    dps : int
        Decimal digits for the mpmath engine.
    chunk : int
        Rows of the pmf matrix evaluated at once (float64 engine, bounds memory).
    values : {"stored", "reference"}
        Exact and mpmath engines: use the float64 entries as stored and used (default), or the
        table's higher-precision reference entries (exact rationals or decimal strings).

    Notes
    -----
    The float64 engine's ``mean_err`` is a first-order a-priori bound on the rounding error
    of the weighted mean, ``p * sum_c b_{n,c}(p) |g(c)| (relerr_c + K u)``; it grows with
    ``max|g|``, so tables with huge alternating entries (minimax, large K) need the mpmath
    engine.
    """
    if not isinstance(table, Table):
        raise TypeError(f"table must be an estimators.Table, got {type(table).__name__}")
    if values not in ("stored", "reference"):
        raise ValueError(f"values must be 'stored' or 'reference', got {values!r}")
    stored = values == "stored"
    if engine == "float64":
        return _moments_float64(table, p, check_positive_int(chunk, name="chunk"))
    if engine == "exact":
        return _moments_exact(table, p, stored)
    if engine == "mpmath":
        dps = check_positive_int(dps, name="dps", minimum=5)
        if dps > MPMATH_DPS_MAX:
            raise ValueError(f"dps must be an integer in [5, {MPMATH_DPS_MAX}], got {dps}")
        n_points = np.atleast_1d(np.asarray(p, dtype=object)).size
        work = table.K * n_points * max(dps, 50) // 50
        if work > MPMATH_WORK_MAX:
            raise ValueError(f"p: the mpmath engine needs K * (number of points) * max(dps, 50)/50 <= {MPMATH_WORK_MAX} "
                             f"(about ten seconds; here {work} with K = {table.K}, {n_points} point(s), dps = {dps}); "
                             f"use fewer points or the float64 engine")
        return _moments_mpmath(table, p, dps, stored)
    raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
