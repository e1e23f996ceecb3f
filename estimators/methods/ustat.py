"""C1: the falling-factorial U-statistic table, exact for polynomial rewards of degree <= K-1.

For target(t) = sum_j a_j t^j, g(c) = sum_j a_j c(c-1)...(c-j+1) / (n(n-1)...(n-j+1)):
each c^(j)/n^(j) is an unbiased estimate of p^j from C ~ Binomial(n, p), so
B_g(p) = target(p) identically. Completeness of the binomial family makes it the only
unbiased table, hence the minimum-variance unbiased one.
"""
from __future__ import annotations

from fractions import Fraction

from .._validate import check_exact_work
from ..certified.bernstein import monomial_to_bernstein
from ..table import Table
from ..certified.advantages import correct_for


def ustat_table(generator, K: int, *, advantage: str = "decoupled") -> Table:
    """C1: unbiased falling-factorial U-statistic (polynomial rewards of degree <= K-1; <= K-2 under the rloo advantage, C9)."""
    if advantage == "rloo":
        return _ustat_under_baseline(generator, K)
    return _ustat(generator, K)


def _ustat_under_baseline(generator, K: int) -> Table:
    """C9: the table whose effective table under a leave-one-out / group-mean baseline is the U-statistic of
    K - 1 samples, exactly unbiased after the baseline; it exists iff the target's degree is <= K - 2."""
    d = generator.degree
    if not generator.is_polynomial:
        return _ustat(generator, K - 1)   # its refusal names the methods that apply (C2)
    if d > K - 2:
        raise ValueError(
            f"method 'ustat' under the 'rloo' advantage needs the reward degree <= K - 2 = {K - 2} (the baseline "
            f"leaves K - 1 samples' worth of information); the target {generator.target_text!r} has degree {d}, "
            f"so K must be >= {d + 2}. {_best_reachable(generator, K)}")
    try:
        inner = _ustat(generator, K - 1)
    except ValueError as exc:
        raise ValueError(f"method 'ustat' under the 'rloo' advantage builds the U-statistic of K - 1 = {K - 1} "
                         f"samples: {exc}") from exc
    return correct_for(inner, "rloo")


def _best_reachable(generator, K: int) -> str:
    """The certified least effective weighted bias under the baseline (the minimax error of K - 1 samples)."""
    from ..minimax import best_weighted_bias
    try:
        b = best_weighted_bias(generator, K - 1)
    except ValueError as exc:
        return f"(The least reachable effective weighted bias could not be certified here: {exc})"
    return (f"No table is unbiased after the baseline; the least reachable effective weighted bias is certified in "
            f"[{b['lower']:.6g}, {b['upper']:.6g}] (method 'minimax' with advantage='rloo' attains it).")


def _ustat(generator, K: int) -> Table:
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
