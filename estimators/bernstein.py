"""Exact polynomial algebra on tables: the mean B_g(p) as a polynomial in p.

B_g(p) = sum_c g(c) C(n,c) p^c (1-p)^(n-c) is a Bernstein polynomial of degree n = K-1.
Its monomial coefficients, in exact rationals, are

    [p^k] B_g = C(n,k) * sum_{c<=k} (-1)^(k-c) C(k,c) g(c),

so C1 can be checked coefficient by coefficient as an identity of polynomials.
"""
from __future__ import annotations

from fractions import Fraction
from math import comb
from typing import Sequence

__all__ = ["bernstein_to_monomial", "monomial_to_bernstein", "mean_polynomial"]


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
