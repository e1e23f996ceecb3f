"""The mean B_g(p) of a table as a polynomial in p: its conversions and its evaluation in each arithmetic.

B_g(p) = sum_c g(c) C(n,c) p^c (1-p)^(n-c) is a Bernstein polynomial of degree n = K-1.
Its monomial coefficients, in exact rationals, are

    [p^k] B_g = C(n,k) * sum_{c<=k} (-1)^(k-c) C(k,c) g(c),

so C1 can be checked coefficient by coefficient as an identity of polynomials
(:func:`bernstein_to_monomial`, :func:`monomial_to_bernstein`). :class:`BernsteinArb` evaluates a Bernstein
polynomial in Arb ball arithmetic at exact points without overflow (the sup-norm brackets, C2).
"""
from __future__ import annotations

from fractions import Fraction
from math import comb
from typing import Sequence

__all__ = ["bernstein_to_monomial", "monomial_to_bernstein", "mean_polynomial", "BernsteinArb"]


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
