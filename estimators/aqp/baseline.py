"""AQP under a leave-one-out or group-mean baseline: the variance of the trainer's advantage (claim C9).

Under the ``rloo`` advantage the trainer applies the effective table e = g(0..K-2), a table for K - 1
samples (:mod:`estimators.advantages`), so the bias constraint is C6's at K - 1 on e. What it multiplies
into the gradient is the advantage, whose table part for sample i is a_i = g(C_i) - mean_{j != i} g(C_j).
For an answer of probability p among answers that are each rare (every other answer's count is 0), given
C_i = c the c samples sharing the answer have count c and the other n - c have count 0, so

    a(c) = ((n - c) / n) (e(c) - e(0)),   c = 0 .. n - 1,     a(n) = 0        (n = K - 1),

and the objective is C6's weighted variance of a, int_0^1 p Var a(C) dp with C ~ Bin(n, p):

    V_adv(e) = a^T H_K a = e^T Q e,    Q = L^T H_K L,    L e = a,

an exact rational form on R^(K-1) (H_K = N / D from :mod:`.hessian`; L = L_int / n with integer L_int), so
Q = (L_int^T N L_int) / (D n^2). Q is positive semidefinite and Q e = 0 exactly when a = 0, i.e. when e is
constant: the null space the solver requires. docs/advantages.md, section 4, explains the choice.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import gcd

from .hessian import hessian_integer

__all__ = ["advantage_matrix", "advantage_variance_integer", "advantage_variance_objective",
           "advantage_variance_exact", "advantage_values", "IDENT_PREFIX"]

IDENT_PREFIX = "rloo-advantage-variance"


def advantage_matrix(K: int) -> list[list[int]]:
    """L_int (K rows, K - 1 columns): n * a = L_int e (row c: n - c at column c, -(n - c) at column 0)."""
    n = K - 1
    rows = []
    for c in range(K):
        row = [0] * (K - 1)
        if 0 < c < n:
            row[c] += n - c
            row[0] -= n - c
        rows.append(row)
    return rows


@lru_cache(maxsize=256)
def advantage_variance_integer(K: int) -> tuple[tuple[tuple[int, ...], ...], int]:
    """``(N_Q, D_Q)`` with Q = N_Q / D_Q exactly, reduced by the gcd of N_Q's entries."""
    from flint import fmpz_mat
    if K < 3:
        raise ValueError(f"the advantage variance under a baseline needs K >= 3, got {K}")
    N, D = hessian_integer(K)
    L = fmpz_mat(advantage_matrix(K))
    Q = L.transpose() * fmpz_mat([list(r) for r in N]) * L
    rows = [[int(Q[i, j]) for j in range(K - 1)] for i in range(K - 1)]
    den = D * (K - 1) ** 2
    g = den
    for row in rows:
        for x in row:
            g = gcd(g, x)
    return tuple(tuple(x // g for x in row) for row in rows), den // g


@lru_cache(maxsize=256)
def advantage_variance_objective(K: int):
    """The :class:`~estimators.aqp.objective.QuadraticObjective` e^T Q e on the effective table (K - 1 entries)."""
    from .objective import QuadraticObjective
    N, D = advantage_variance_integer(K)
    return QuadraticObjective(
        N=N, D=D, ident=f"{IDENT_PREFIX}-K{K}",
        description=(f"int_0^1 p Var a(C) dp, C ~ Bin({K - 1}, p): the variance of the rloo advantage's table "
                     f"part a(c) = ((n - c)/n)(e(c) - e(0)) for an answer among rare ones (K = {K}, on the "
                     f"effective table e of {K - 1} entries)"))


def advantage_values(g) -> list[Fraction]:
    """a(c) of a K-table g, exactly (float entries taken as binary rationals)."""
    vals = [Fraction(v) for v in g]
    n = len(vals) - 1
    return [Fraction(n - c, n) * (vals[c] - vals[0]) for c in range(n)] + [Fraction(0)]


def advantage_variance_exact(g) -> Fraction:
    """V_adv of a K-table g (its last entry is ignored), exactly: a^T H_K a with a = :func:`advantage_values`."""
    from .hessian import variance_exact
    return variance_exact(advantage_values(g))


def aqp_table_rloo(generator, K: int, *, eps=None, variance_max=None, solve: bool = False,
                   objective: str = "integrated", gap_tol: float = 1e-3, use_cache: bool = True,
                   certified: str = "stored"):
    """``build_table(gen, "aqp", K, eps=..., advantage="rloo")``: the table whose effective table under the
    baseline is the least-V_adv table within (1 + eps) E* of K - 1 samples, certified on both sides (bias of
    the stored effective table by Taylor models in Arb, V_adv exactly, optimum from below by weak duality).

    Solved (``solve=True``, cached) or loaded from the shipped set for the baseline (KL, K = 3..128, the shipped
    eps: :func:`.shipped.load` with ``advantage="rloo"``)."""
    from ..advantages import correct_for
    from .core import check_eps
    from .table import table_from_result
    if variance_max is not None:
        raise ValueError("the dual (variance_max) is offered for advantage='decoupled' only; under 'rloo' give eps "
                         "(the budget (1 + eps) E* of K - 1 samples)")
    if objective != "integrated" or certified != "stored":
        raise ValueError("under advantage='rloo' the objective is the advantage's variance and the float64 table is "
                         "certified: objective and certified take their defaults")
    if eps is None:
        raise TypeError("method 'aqp' with advantage='rloo' needs eps (the budget excess over E* of K - 1 samples)")
    from .core import K_MAX
    from .._validate import check_K
    check_K(K, name="K (AQP under advantage='rloo': the effective table has K - 1 entries)", minimum=3,
            maximum=K_MAX + 1)
    eps = check_eps(eps)
    if not solve:
        from .shipped import SHIPPED_EPS, load, shipped_K
        lo, hi = shipped_K("rloo")
        if generator.name == "kl" and generator.params == {} and float(eps) in SHIPPED_EPS and lo <= K <= hi:
            return load(K, eps, advantage="rloo")
        from ..remedy import with_remedy
        reason = (f"no shipped AQP table for advantage='rloo' at {generator.name}, K = {K}, eps = {eps!r} (shipped: "
                  f"kl, K = {lo}..{hi}, eps in {list(SHIPPED_EPS)})")
        raise with_remedy(ValueError(f"{reason}: solve it with solve=True (cached)"), reason, solve=True)
    from .core import solve as solve_aqp
    res = solve_aqp(generator, K - 1, eps, gap_tol=gap_tol, use_cache=use_cache,
                    quadratic=advantage_variance_objective(K))
    effective = table_from_result(res, generator, {"eps": eps, "objective": "advantage_variance"})
    return correct_for(effective, "rloo")
