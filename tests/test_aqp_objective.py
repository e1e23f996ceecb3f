"""C6 with another objective or budget source: the AQP solver's quadratic form and E* bracket are pluggable.

Theory checked (every number certified by the solver in the run, compared exactly or by bracket overlap):

* scaling: min (c H)(g) = c min H(g) over the same feasible set, so the certified brackets of Q = 3 H and of
  3 x (H) intersect, and both optimal tables meet the same bias certificate;
* another form Q = H + alpha L (L the path Laplacian, integer, L·1 = 0): the H-optimal table is feasible for
  Q and vice versa, so Q* <= Q(g_H) and H* <= H(g_Q) (weak duality must not contradict either), and with
  alpha L(g_H) ~ H(g_H) both inequalities are strict beyond the certified brackets (each solve optimised its
  own objective through the extended-precision stage);
* budget source: E* = 2 E*_K at eps = 1 is the budget 4 E*_K of eps = 3, so both solves give the same table;
  the certificate names the source, the default certificate names neither.
"""
from __future__ import annotations

import pytest

from estimators import build_table
from estimators.aqp.core import AQPError, EStarBracket, budget, solve
from estimators.aqp.objective import QuadraticObjective, integrated_variance
from estimators.aqp.table import table_from_result
from estimators.certificates import verify
from estimators.generators import get_generator


def _laplacian(K):
    L = [[0] * K for _ in range(K)]
    for c in range(K - 1):
        L[c][c] += 1
        L[c + 1][c + 1] += 1
        L[c][c + 1] -= 1
        L[c + 1][c] -= 1
    return L


def test_c6_scaled_objective_scales_the_certified_optimum():
    K, eps = 12, 1.0
    H = integrated_variance(K)
    Q = QuadraticObjective(N=tuple(tuple(3 * v for v in row) for row in H.N), D=H.D, ident="3H")
    a = solve("kl", K, eps, use_cache=False)
    b = solve("kl", K, eps, use_cache=False, quadratic=Q)
    for r in (a, b):
        assert r.bias_upper <= r.tau_lower and r.gap <= 1e-3
    # [lb_Q, V_Q] and 3 [lb_H, V_H] both contain 3 H*: they intersect
    assert b.optimum_lower <= 3 * a.variance_upper * (1 + 1e-15)
    assert 3 * a.optimum_lower <= b.variance_upper * (1 + 1e-15)
    assert Q.value_exact(b.values) == 3 * H.value_exact(b.values)
    cert = b.certificate()
    assert cert["quadratic_objective"] == {"ident": "3H", "sha256": Q.sha256, "m": K, "description": ""}
    assert "Q: 3H" in cert["quantity"]
    assert "quadratic_objective" not in a.certificate() and "E_star_source" not in a.certificate()
    t = table_from_result(b, get_generator("kl"), {"eps": eps, "objective": "integrated"})
    assert verify(t) and t.certificate["quadratic_objective"]["ident"] == "3H" and "3H" in t.provenance


@pytest.mark.slow
def test_c6_another_objective_is_optimised_through_every_stage():
    K, eps = 24, 0.3          # the default solve of this budget needs the extended-precision stage
    H = integrated_variance(K)
    a = solve("kl", K, eps)
    assert a.stage == "extended"
    L = _laplacian(K)
    Lg = sum((a.values[c + 1] - a.values[c]) ** 2 for c in range(K - 1))
    alpha = round(a.V / Lg * H.D)             # alpha L(g_H) ~ H(g_H): a different optimum
    Q = QuadraticObjective(N=tuple(tuple(H.N[i][j] + alpha * L[i][j] for j in range(K)) for i in range(K)),
                           D=H.D, ident="H+alpha-L", description="test: H plus a smoothness penalty")
    b = solve("kl", K, eps, use_cache=False, quadratic=Q)
    assert b.stage == "extended" and b.bias_upper <= b.tau_lower and b.gap <= 1e-3
    assert b.tau_lower == a.tau_lower
    QgH, HgQ = Q.value_exact(a.values), H.value_exact(b.values)
    assert b.optimum_lower <= QgH and a.optimum_lower <= HgQ          # weak duality agrees
    assert b.variance_upper < QgH and a.variance_upper < HgQ          # each optimum is its own objective's


def test_c6_caller_budget_source_gives_the_same_budget_and_names_it():
    K = 12
    bud = budget("kl", K, 1.0)
    src = EStarBracket(2 * bud["E_lower"], 2 * bud["E_upper"], "twice the minimax error (test)")
    c = solve("kl", K, 1.0, use_cache=False, E_star=src)
    d = solve("kl", K, 3.0, use_cache=False)
    assert (c.tau_lower, c.tau_upper) == (d.tau_lower, d.tau_upper)   # (1 + 1) 2 E = (1 + 3) E exactly
    assert c.values == d.values
    assert c.certificate()["E_star_source"] == "twice the minimax error (test)"
    assert "E* from twice the minimax error" in c.certificate()["quantity"]


@pytest.mark.parametrize("N,D,ident,exc,match", [
    (((1, -1), (-1, 2)), 1, "q", ValueError, "row 1 of N sums to 1"),
    (((1, -1, 0), (-1, 1, 0), (0, 0, 0)), 1, "q", ValueError, "not certainly positive definite"),
    (((-1, 1), (1, -1)), 1, "q", ValueError, "not certainly positive definite"),
    (((2, -1, -1), (-2, 2, 0), (-1, 0, 1)), 1, "q", ValueError, "symmetric"),
    (((1.0, -1.0), (-1.0, 1.0)), 1, "q", TypeError, "integers"),
    (((1, -1), (-1, 1)), 0, "q", ValueError, "positive integer"),
    (((1, -1), (-1, 1)), 1, "", ValueError, "ident"),
    (((1,),), 1, "q", ValueError, "m in"),
])
def test_c6_bad_objective_is_a_clear_error(N, D, ident, exc, match):
    with pytest.raises(exc, match=match):
        QuadraticObjective(N=N, D=D, ident=ident)


def test_c6_objective_size_and_budget_source_are_checked():
    Q = QuadraticObjective(N=((1, -1), (-1, 1)), D=1, ident="q")
    with pytest.raises(ValueError, match="m = 2 entries but K = 3"):
        solve("kl", 3, 1.0, quadratic=Q, use_cache=False)
    with pytest.raises(TypeError, match="QuadraticObjective"):
        solve("kl", 3, 1.0, quadratic="3H", use_cache=False)
    with pytest.raises(TypeError, match="EStarBracket"):
        solve("kl", 3, 1.0, E_star=(0.1, 0.2), use_cache=False)
    with pytest.raises(ValueError, match="0 < lower <= upper"):
        EStarBracket(0.2, 0.1, "x")
    with pytest.raises(ValueError, match="0 < lower <= upper"):
        EStarBracket(0.0, 0.1, "x")
    with pytest.raises(ValueError, match="source"):
        EStarBracket(0.1, 0.2, "")
    with pytest.raises(ValueError, match="'sup'"):
        solve("kl", 3, 1.0, objective="sup", quadratic=integrated_variance(3), E_star=EStarBracket(.1, .2, "x"))


@pytest.mark.parametrize("generator,K", [("euclidean", 8), ("euclidean", 3)])
def test_c6_zero_minimax_error_is_a_clear_refusal(generator, K):
    """A polynomial target of degree <= K - 1 has E*_K = 0: the budget is 0 for every eps (no traceback)."""
    with pytest.raises(AQPError, match="E\\*_K = 0 exactly.*'ustat'"):
        solve(generator, K, 10.0, use_cache=False)
    with pytest.raises(AQPError, match="E\\*_K = 0 exactly"):
        build_table(generator, "aqp", K, eps=10, solve=True)
