"""The weighted variance of a table as an exact quadratic form (claim C6).

With n = K - 1 and the Bernstein basis b_c(p) = C(n,c) p^c (1-p)^(n-c), the variance of the
reward g(C), C ~ Binomial(n, p), is V_g(p) = g^T (diag(b(p)) - b(p) b(p)^T) g (the covariance of
the indicator vector of C), so the default AQP objective is

    V(g) = int_0^1 p V_g(p) dp = g^T H g,   H = diag(a) - M,
    a_c  = int_0^1 p b_c(p) dp       = (c+1) / ((n+1)(n+2)),
    M_cd = int_0^1 p b_c(p) b_d(p) dp = C(n,c) C(n,d) (c+d+1)! (2n-c-d)! / (2n+2)!.

H is positive semidefinite (an average of covariance matrices) and H·1 = 0 exactly (a constant
table has zero variance); on the complement of the constants it is positive definite (only a
constant g(C) has zero variance for every p in (0, 1)). Everything here is exact: D·H is an
integer matrix for D = (2n+2)!, and V of a float64 table (a vector of dyadic rationals) is an
exact ``Fraction``. The solvers' float64 and Arb copies are the objective's
(:class:`~.objective.QuadraticObjective`).
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import comb, factorial

__all__ = ["hessian_integer", "variance_exact"]


@lru_cache(maxsize=32)
def hessian_integer(K: int) -> tuple[tuple[tuple[int, ...], ...], int]:
    """``(N, D)`` with H = N / D exactly: N an integer matrix (tuple of rows), D = (2n+2)!."""
    n = K - 1
    D = factorial(2 * n + 2)
    # m_s = (s+1)! (2n-s)!, so that D * M_cd = C(n,c) C(n,d) m_{c+d}
    m = [factorial(s + 1) * factorial(2 * n - s) for s in range(2 * n + 1)]
    da = D // ((n + 1) * (n + 2))  # (n+1)(n+2) divides (2n+2)! (both are factors of it)
    rows = []
    for c in range(K):
        bc = comb(n, c)
        row = [-bc * comb(n, d) * m[c + d] for d in range(K)]
        row[c] += (c + 1) * da
        rows.append(tuple(row))
    return tuple(rows), D


def variance_exact(values) -> Fraction:
    """V(g) = int_0^1 p V_g(p) dp of a table, exactly (float64 entries taken at their binary value,
    or Fractions / decimal strings taken exactly): the default objective's
    :meth:`~.objective.QuadraticObjective.value_exact`."""
    from .objective import integrated_variance
    vals = list(values)
    if len(vals) < 2:
        raise ValueError(f"a table needs K >= 2 entries, got {len(vals)}")
    return integrated_variance(len(vals)).value_exact(vals)
