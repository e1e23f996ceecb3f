"""C7: exact expected advantages -- composition enumeration against a brute force over all groups, and the
closed forms r - beta u(p) (decoupled baseline: u = B_g; usual leave-one-out baseline: the effective table)."""
import itertools
from fractions import Fraction

import numpy as np
import pytest

from estimators import build_table
from estimators.certified import bernstein as br
from proofs_numeric.game.advantages import GRPO_EPS, effective_table
from proofs_numeric.game.equilibria import table_marginal, total_variation
from proofs_numeric.game.exact import table_equilibria
from proofs_numeric.game.expected import (EnumeratedAdvantage, closed_form_advantage, compositions,
                                          expected_iteration, grpo_fixed_point)
from proofs_numeric.game.spec import get_game, make_game


def _brute_force_F(game, table, kind, p):
    """E[A_1 | z_1 = z] from the definitions, summing over all m^K ordered groups (plain Python)."""
    K, m, g, r, beta = table.K, game.m, table.values, game.r, game.beta
    num = np.zeros(m)
    for seq in itertools.product(range(m), repeat=K):
        prob = np.prod([p[z] for z in seq])
        if prob == 0:
            continue
        C = [sum(seq[j] == seq[i] for j in range(K) if j != i) for i in range(K)]
        R = [r[seq[i]] - beta * g[C[i]] for i in range(K)]
        i = 0
        if kind == "rloo":
            A = R[i] - sum(R[j] for j in range(K) if j != i) / (K - 1)
        elif kind == "decoupled":
            others = [j for j in range(K) if j != i]
            b = 0.0
            for j in others:
                Cj = sum(seq[k] == seq[j] for k in others if k != j)   # recounted without sample i
                b += r[seq[j]] - beta * g[Cj]
            A = R[i] - b / (K - 1)
        else:
            mean = sum(R) / K
            std = np.sqrt(sum((x - mean) ** 2 for x in R) / (K - 1))
            A = (R[i] - mean) / (std + GRPO_EPS)
        num[seq[0]] += prob * A
    return num / p


@pytest.mark.parametrize("kind", ["rloo", "decoupled", "grpo"])
@pytest.mark.parametrize("method,K", [("plugin", 2), ("plugin", 4), ("jackknife", 3), ("minimax", 4)])
def test_enumeration_matches_brute_force_over_all_groups(kind, method, K):
    game = make_game([1.0, 0.4, 0.0], 0.5, "kl")
    p = np.array([0.5, 0.3, 0.2])
    t = build_table("kl", method, K)
    F = EnumeratedAdvantage(game, t, kind)(p)
    ref = _brute_force_F(game, t, kind, p)
    assert np.allclose(F, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["rloo", "decoupled"])
@pytest.mark.parametrize("method", ["plugin", "jackknife", "minimax"])
@pytest.mark.parametrize("K", [2, 3, 5, 8, 12])
def test_closed_form_matches_enumeration(kind, method, K):
    game = get_game("default")
    t = build_table("kl", method, K)
    rng = np.random.default_rng(K)
    for p in rng.dirichlet(np.ones(5), size=3):
        Fe = EnumeratedAdvantage(game, t, kind)(p)
        Fc = closed_form_advantage(game, table_marginal(t, kind), p)
        scale = max(1.0, float(np.max(np.abs(t.values))))
        assert np.allclose(Fe - p @ Fe, Fc - p @ Fc, atol=1e-12 * scale)
        if kind == "rloo":   # advantages sum to 0 within a group
            assert abs(p @ Fe) < 1e-12 * scale


@pytest.mark.parametrize("K", [2, 3, 6, 9])
def test_rloo_effective_table_is_B_minus_p_B_prime_over_n(K):
    t = build_table("kl", "plugin", K)
    g = [Fraction(float(v)) for v in t.values]
    h = effective_table(t, "rloo")
    dg = br.derivative(g)
    n = K - 1
    for x in (Fraction(1, 7), Fraction(1, 2), Fraction(5, 6)):
        deriv = br.evaluate(dg, x) if n >= 1 else 0
        assert br.evaluate(h, x) == br.evaluate(g, x) - x * deriv / n     # exact rational identity
    assert effective_table(t, "decoupled") == g
    assert effective_table(t, "grpo") is None


def test_compositions_are_complete():
    comp = compositions(5, 3)
    assert comp.shape == (21, 3) and np.all(comp.sum(axis=1) == 5)
    assert len({tuple(c) for c in comp}) == 21


def test_expected_iteration_settles_on_the_fixed_point():
    game = get_game("default")
    t = build_table("kl", "jackknife", 16)
    m = table_marginal(t)
    fp = table_equilibria(game, t)["fixed_points"][0]
    traj = expected_iteration(game, lambda q: closed_form_advantage(game, m, q), 5.0, 3000)
    assert total_variation(traj[-1], fp) < 1e-6
    assert np.allclose(traj[0], 0.2)


def test_grpo_fixed_point_is_stationary_for_the_enumerated_field():
    game = get_game("default")
    t = build_table("kl", "plugin", 8)
    res = grpo_fixed_point(game, t)
    assert res["converged"] and res["residual"] < 1e-12
    assert res["support_lost"] == [3, 4] and res["boundary_gap"] < 0
    assert res["pg_endpoint_tv"] < 1e-2
    dec = table_equilibria(game, t)["fixed_points"][0]
    assert total_variation(res["p"], dec) > 1e-3      # the normalisation moves the fixed point
