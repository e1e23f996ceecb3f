"""C9: AQP under the rloo advantage -- the advantage-variance objective and the certified tables."""
from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import pytest

from estimators import build_table
from estimators.advantages import effective_table
from estimators.aqp.baseline import (advantage_values, advantage_variance_exact, advantage_variance_integer,
                                     advantage_variance_objective)
from estimators.aqp.hessian import variance_exact
from estimators.certificates import verify

F = Fraction


@pytest.mark.parametrize("K", [3, 4, 7, 12, 30])
def test_Q_is_the_advantage_variance_exactly(K):
    N, D = advantage_variance_integer(K)
    rng = random.Random(K)
    for _ in range(3):
        e = [F(rng.randint(-40, 40), rng.randint(1, 9)) for _ in range(K - 1)]
        q = sum(e[i] * N[i][j] * e[j] for i in range(K - 1) for j in range(K - 1)) / D
        assert q == variance_exact(advantage_values(e + [F(rng.randint(-9, 9))]))   # the last entry is ignored
    assert all(sum(row) == 0 for row in N)                                           # constants: null space


def test_objective_validates_definiteness():
    Q = advantage_variance_objective(6)          # QuadraticObjective checks PD on the complement of constants
    assert Q.m == 5 and Q.ident.endswith("K6")


def _simulated_advantage_variance(g, p, n_groups, seed):
    """Var of a_0 = g(C_0) - mean_{j>0} g(C_j) for sample 0 with the answer of probability p among answers that
    are each unique (count 0): sampled groups, counts computed from the group itself."""
    rng = np.random.default_rng(seed)
    K = len(g)
    same = rng.random((n_groups, K - 1)) < p           # other samples sharing sample 0's answer
    C0 = same.sum(1)
    gv = np.asarray(g, dtype=np.float64)
    others = np.where(same, gv[C0][:, None], gv[0]).sum(1)   # a sharer sees the same count; a unique answer 0
    a = gv[C0] - others / (K - 1)
    return a.var(ddof=1), a.size


@pytest.mark.parametrize("K,p", [(5, 0.3), (8, 0.6), (12, 0.15)])
def test_advantage_model_matches_sampled_groups(K, p):
    """Var a(C) with a(c) = ((n - c)/n)(g(c) - g(0)) is what sampled groups give in the rare-answers world:
    2e5 groups, the sample variance within 5 standard errors (false-alarm rate ~6e-7 per case, seeded)."""
    g = [math.log((c + 1) / K) + 0.3 * (-1) ** c for c in range(K)]
    a = np.array([float(x) for x in advantage_values(g)])
    n = K - 1
    w = np.array([math.comb(n, c) * p ** c * (1 - p) ** (n - c) for c in range(K)])
    mean = w @ a
    var = w @ (a - mean) ** 2
    m4 = w @ (a - mean) ** 4
    v_hat, N = _simulated_advantage_variance(g, p, 200_000, seed=K)
    se = math.sqrt((m4 - var ** 2) / N)
    assert abs(v_hat - var) <= 5 * se


@pytest.mark.parametrize("K", [4, 9])
def test_aqp_rloo_is_certified_on_its_effective_table(K):
    t = build_table("kl", "aqp", K, eps=1, solve=True, advantage="rloo")
    assert verify(t) and t.advantage == "rloo" and t.K == K
    c = t.certificate
    assert c["effective_K"] == K - 1 and c["quadratic_objective"]["ident"] == f"rloo-advantage-variance-K{K}"
    assert c["bias_upper"] <= c["budget_lower"]
    assert F(c["variance"]) - advantage_variance_exact(list(t.values)) < F(1, 10 ** 25)
    assert c["optimum_lower_bound"] <= c["variance_upper"]
    # it has no more advantage variance than the C6 table of K - 1 samples, which meets the same budget
    c6 = build_table("kl", "aqp", K - 1, eps=1)
    assert advantage_variance_exact(list(t.values)) <= advantage_variance_exact(list(c6.values) + [0.0]) * (1 + 1e-3)
    assert list(effective_table(t).values) == list(t.values[:-1])


def test_aqp_rloo_bad_requests():
    with pytest.raises(ValueError, match="dual"):
        build_table("kl", "aqp", 8, variance_max="plugin", advantage="rloo")
    with pytest.raises(ValueError, match="solve=True"):
        build_table("kl", "aqp", 8, eps=1, advantage="rloo")
    with pytest.raises(ValueError, match=r"K \(AQP under advantage=.rloo.*\[3, 129\]"):
        build_table("kl", "aqp", 130, eps=1, solve=True, advantage="rloo")
