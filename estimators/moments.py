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

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import comb
from typing import Any

import mpmath
import numpy as np
from scipy import special

from ._validate import check_positive_int, check_probabilities, check_rational_probability
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


@lru_cache(maxsize=64)
def log_binomial_coefficients(n: int) -> np.ndarray:
    """log C(n, c) for c = 0..n, computed in mpmath at 40 digits and rounded once to float64."""
    with mpmath.workdps(40):
        vals = [float(mpmath.log(comb(n, c))) for c in range(n + 1)]
    arr = np.array(vals, dtype=np.float64)
    arr.setflags(write=False)
    return arr


def binomial_pmf(n: int, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binomial(n, p) pmf for every p (rows) and c = 0..n (columns), and its relative error bound.

    Returns ``(pmf, relerr)``: ``relerr[i, c]`` bounds |computed - true| / true, from the
    rounding of the log-space exponent (its magnitude times a few units of roundoff).
    """
    n = check_positive_int(n, name="n", minimum=1)
    p = np.atleast_1d(np.asarray(p, dtype=np.float64))[:, None]
    c = np.arange(n + 1, dtype=np.float64)[None, :]
    logc = log_binomial_coefficients(n)[None, :]
    t1 = special.xlogy(c, p)
    t2 = special.xlog1py(n - c, -p)
    logpmf = logc + t1 + t2
    with np.errstate(invalid="ignore"):
        mag = np.abs(logc) + np.abs(t1) + np.abs(t2)
    pmf = np.exp(logpmf)
    # each of the three terms and the two sums carry <= 2u relative error; exp adds u
    relerr = 6 * _U * np.where(np.isfinite(mag), mag, 0.0) + 2 * _U
    return pmf, relerr


def _moments_float64(table: Table, p, chunk: int) -> Moments:
    p = check_probabilities(p)
    flat = p.ravel()
    g = table.values
    K = table.K
    mean = np.empty_like(flat)
    var = np.empty_like(flat)
    err = np.empty_like(flat)
    absg = np.abs(g)
    for s in range(0, flat.size, chunk):
        pc = flat[s:s + chunk]
        pmf, rel = binomial_pmf(table.n, pc)
        m = pmf @ g
        mean[s:s + chunk] = m
        var[s:s + chunk] = np.einsum("ij,ij->i", pmf, (g[None, :] - m[:, None]) ** 2)
        # |fl(sum pmf g) - sum pmf g| <= sum pmf |g| (rel + K u) (first-order bound)
        err[s:s + chunk] = (pmf * (rel + K * _U)) @ absg
    mean = mean.reshape(p.shape)
    var = var.reshape(p.shape)
    err = err.reshape(p.shape)
    gen = table.generator
    with np.errstate(invalid="ignore"):
        bias = mean - gen.target(p)
    wbias = p * mean - gen.weighted_target(p)
    return Moments("float64", p, mean, var, bias, wbias, p * var, p * err)


def _moments_exact(table: Table, p, stored: bool) -> Moments:
    ps = [check_rational_probability(x) for x in np.atleast_1d(np.asarray(p, dtype=object)).ravel()]
    g = [Fraction(float(v)) for v in table.values] if stored else table.exact_values()
    n = table.n
    binoms = [comb(n, c) for c in range(n + 1)]
    gen = table.generator
    out = {k: [] for k in ("mean", "var", "bias", "wbias", "wvar")}
    for q in ps:
        pmf = [binoms[c] * q ** c * (1 - q) ** (n - c) for c in range(n + 1)]
        m = sum((w * x for w, x in zip(pmf, g)), Fraction(0))
        v = sum((w * (x - m) ** 2 for w, x in zip(pmf, g)), Fraction(0))
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
    """An mpmath number in [0, 1] from a Fraction, mpf, decimal string or float (exact value)."""
    if isinstance(x, Fraction):
        check_rational_probability(x)
        return mpmath.mpf(x.numerator) / x.denominator
    if isinstance(x, str):
        try:
            q = mpmath.mpf(x)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"p must be a number in [0, 1], got {x!r}") from exc
    elif isinstance(x, mpmath.mpf):
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
        Probabilities in [0, 1]; NaN or values outside raise ``ValueError``.
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
        return _moments_mpmath(table, p, check_positive_int(dps, name="dps", minimum=5), stored)
    raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
