"""The mean B_g(p) of a table as a polynomial in p: its conversions and its evaluation in each arithmetic.

B_g(p) = sum_c g(c) C(n,c) p^c (1-p)^(n-c) is a Bernstein polynomial of degree n = K-1.
Its monomial coefficients, in exact rationals, are

    [p^k] B_g = C(n,k) * sum_{c<=k} (-1)^(k-c) C(k,c) g(c),

so C1 can be checked coefficient by coefficient as an identity of polynomials
(:func:`bernstein_to_monomial`, :func:`monomial_to_bernstein`). A Bernstein polynomial evaluated in each
arithmetic: exactly at a rational point (:func:`evaluate`, with :func:`derivative` and de Casteljau's
:func:`split_half`, the tools of the game's root isolation), in float64 at many points without overflow at any
degree (:class:`BernsteinFloat64`; the float64 moments engine, :mod:`estimators.moments`, adds its a-priori
rounding bound), and in Arb ball arithmetic at exact points (:class:`BernsteinArb`, the sup-norm brackets, C2).
"""
from __future__ import annotations

from fractions import Fraction
from math import comb
from typing import Sequence

import numpy as np

__all__ = ["bernstein_to_monomial", "monomial_to_bernstein", "mean_polynomial", "evaluate", "derivative", "split_half",
           "sign_changes", "BernsteinFloat64", "BernsteinArb"]

HALF = Fraction(1, 2)


def bernstein_to_monomial(g: Sequence[Fraction]) -> list[Fraction]:
    """Monomial coefficients (ascending, length K) of sum_c g[c] C(n,c) p^c (1-p)^(n-c)."""
    g = [Fraction(x) for x in g]
    n = len(g) - 1
    out = []
    for k in range(n + 1):
        s = sum((-1) ** (k - c) * comb(k, c) * g[c] for c in range(k + 1))
        out.append(comb(n, k) * s)
    return out


def monomial_to_bernstein(a: Sequence[Fraction], n: int) -> list[Fraction]:
    """Bernstein coefficients of degree n of sum_j a[j] p^j (requires len(a) - 1 <= n).

    Uses p^j = sum_c [C(c,j)/C(n,j)] C(n,c) p^c (1-p)^(n-c), i.e. the falling-factorial
    identity behind C1: the coefficient of count c is c^(j) / n^(j).
    """
    a = [Fraction(x) for x in a]
    if len(a) - 1 > n:
        raise ValueError(f"degree {len(a) - 1} exceeds Bernstein degree n = {n}")
    return [sum((a[j] * comb(c, j) / comb(n, j) for j in range(len(a))), Fraction(0)) for c in range(n + 1)]


def mean_polynomial(table) -> list[Fraction]:
    """Exact monomial coefficients of B_g(p) for a :class:`~estimators.table.Table`.

    Uses the table's exact reference when it has one, else its stored float64 entries
    (taken as exact binary rationals).
    """
    return bernstein_to_monomial(table.exact_values())


def sign_changes(coeffs: Sequence[Fraction]) -> int:
    """Sign changes of a coefficient sequence, zeros skipped."""
    signs = [c > 0 for c in coeffs if c != 0]
    return sum(a != b for a, b in zip(signs, signs[1:]))


def split_half(coeffs: Sequence[Fraction]) -> tuple[list[Fraction], list[Fraction]]:
    """Bernstein coefficients of the same polynomial on the two halves of its interval (de Casteljau)."""
    row = list(coeffs)
    left, right = [row[0]], [row[-1]]
    while len(row) > 1:
        row = [(a + b) * HALF for a, b in zip(row, row[1:])]
        left.append(row[0])
        right.append(row[-1])
    return left, right[::-1]


def evaluate(coeffs: Sequence[Fraction], x: Fraction) -> Fraction:
    """Exact value of sum_c b_c C(n,c) x^c (1-x)^(n-c) at a rational x in [0, 1]."""
    n = len(coeffs) - 1
    if x == 1:
        return Fraction(coeffs[-1])
    t = Fraction(x) / (1 - Fraction(x))
    acc = Fraction(0)
    for c in range(n, -1, -1):
        acc = acc * t + comb(n, c) * coeffs[c]
    return acc * (1 - Fraction(x)) ** n


def derivative(coeffs: Sequence[Fraction]) -> list[Fraction]:
    """Bernstein coefficients (degree n-1) of the derivative of a degree-n Bernstein polynomial."""
    n = len(coeffs) - 1
    return [n * (b - a) for a, b in zip(coeffs, coeffs[1:])]


class BernsteinFloat64:
    """Fast float64 values of sum_c h_c C(n,c) p^c (1-p)^(n-c) at many p, for any degree n.

    Each term is exp(log C(n,c) + c log t + n log(1-p)) with t = p/(1-p) for p <= 1/2 (and the mirror
    image above), so nothing overflows, whatever n (the binomial coefficients themselves overflow float64
    from n = 1030); the rounding error is of the order of n u sum_c |h_c| b_{n,c}(p), as for the pmf sum of
    :mod:`estimators.moments` (the game re-checks its KKT residuals exactly).
    """

    def __init__(self, h):
        from scipy import special
        h = np.asarray(h, dtype=np.float64)
        self.n = h.size - 1
        k = np.arange(self.n + 1, dtype=np.float64)
        self.log_binom = special.gammaln(self.n + 1) - special.gammaln(k + 1) - special.gammaln(self.n - k + 1)
        self.lo = h
        self.hi = h[::-1].copy()
        self.k = k

    def __call__(self, p) -> np.ndarray:
        from scipy import special
        p = np.asarray(p, dtype=np.float64)
        shape = p.shape
        p = p.ravel()
        if self.n == 0:
            return np.full(shape, self.lo[0])
        q = 1.0 - p
        low = p <= 0.5
        small, big = np.where(low, p, q), np.where(low, q, p)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_t = np.log(small) - np.log(big)
        expo = self.log_binom[None, :] + special.xlogy(self.k[None, :], np.exp(log_t)[:, None]) \
            + self.n * np.log(big)[:, None]
        w = np.exp(expo)
        out = np.where(low, w @ self.lo, w @ self.hi)
        return out.reshape(shape)


class BernsteinArb:
    """sum_c d_c C(m, c) p^c (1-p)^(m-c) evaluated in Arb at exact points p in [0, 1]."""

    def __init__(self, d: list):
        from flint import arb_poly
        self.m = len(d) - 1
        a = [x * comb(self.m, c) for c, x in enumerate(d)]
        self._fwd = arb_poly(a)
        self._rev = arb_poly(a[::-1])

    def __call__(self, p: float):
        from flint import arb
        pa = arb(p)
        if p <= 0.5:
            q = 1 - pa
            return q ** self.m * self._fwd(pa / q)
        return pa ** self.m * self._rev((1 - pa) / pa)
