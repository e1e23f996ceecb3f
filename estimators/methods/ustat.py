"""C1: the falling-factorial U-statistic table, exact for polynomial rewards of degree <= K-1.

For target(t) = sum_j a_j t^j, g(c) = sum_j a_j c(c-1)...(c-j+1) / (n(n-1)...(n-j+1)):
each c^(j)/n^(j) is an unbiased estimate of p^j from C ~ Binomial(n, p), so
B_g(p) = target(p) identically. Completeness of the binomial family makes it the only
unbiased table, hence the minimum-variance unbiased one.
"""
from __future__ import annotations

from fractions import Fraction

from .._validate import check_exact_work
from ..bernstein import monomial_to_bernstein
from ..table import Table
from . import register_method


@register_method("ustat", "C1: unbiased falling-factorial U-statistic (polynomial rewards of degree <= K-1)")
def ustat_table(generator, K: int) -> Table:
    if not generator.is_polynomial:
        raise ValueError(
            f"method 'ustat' needs a polynomial target; generator {generator.label()!r} has target "
            f"{generator.target_text!r}, for which no unbiased table exists (C2). Use 'plugin', "
            f"'jackknife' or 'minimax'.")
    n = K - 1
    d = generator.degree
    if d > n:
        raise ValueError(
            f"method 'ustat' needs the reward degree <= K-1 = {n}; the target {generator.target_text!r} has "
            f"degree {d}, so K must be >= {d + 1}. With degree >= K no unbiased table exists (C1).")
    check_exact_work(generator, K, method="ustat")
    exact = monomial_to_bernstein(list(generator.target_coeffs[: d + 1]), n)
    return Table(
        values=[float(v) for v in exact], generator=generator, method="ustat",
        provenance="exact rational falling-factorial coefficients, each rounded once to float64",
        reference=tuple(Fraction(v) for v in exact),
    )
