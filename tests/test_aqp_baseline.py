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
        build_table("kl", "aqp", 8, eps=2, advantage="rloo")            # not a shipped budget
    with pytest.raises(ValueError, match=r"K \(AQP under advantage=.rloo.*\[3, 129\]"):
        build_table("kl", "aqp", 130, eps=1, solve=True, advantage="rloo")


# -- the shipped set for the baseline (C9: KL, K = 3..128, C6's budgets) ---------------------------------------

def test_shipped_rloo_set_covers_the_grid():
    """Every (K, eps) of the set is a certified table or a recorded refusal with its cause."""
    from estimators.aqp.shipped import SHIPPED_EPS, manifest, shipped_K, table_file
    from estimators.aqp.version import CAUSES
    man = manifest("rloo")
    assert man["advantage"] == "rloo" and tuple(man["K"]) == shipped_K("rloo") == (3, 128)
    assert man["eps"] == list(SHIPPED_EPS)
    for K in range(3, 129):
        for eps in SHIPPED_EPS:
            refusal = man["refused"].get(str(K), {}).get(repr(float(eps)))
            assert (table_file(K, eps) in man["files"]) != (refusal is not None), (K, eps)
            assert refusal is None or refusal["cause"] in CAUSES


@pytest.mark.parametrize("K,eps", [(3, 1.0), (5, 0.1), (16, 10.0), (64, 3.0), (128, 100.0)])
def test_shipped_rloo_table_is_the_certified_effective_table(K, eps):
    """A shipped table under the baseline: corrected, its certificate restated for the effective table of K - 1
    entries (the advantage-variance objective of this K), V_adv exact inside the bracket, bias within budget."""
    t = build_table("kl", "aqp", K, eps=eps, advantage="rloo")
    assert verify(t) and t.advantage == "rloo" and t.K == K and t.values[-1] == t.values[-2]
    c = t.certificate
    assert c["effective_K"] == K - 1 and c["advantage"] == "rloo"
    assert c["quadratic_objective"]["sha256"] == advantage_variance_objective(K).sha256
    assert c["bias_upper"] <= c["budget_lower"] and c["optimality_gap"] <= 1e-3
    V = advantage_variance_exact(list(t.values))
    assert c["variance_lower"] <= V <= c["variance_upper"]


@pytest.mark.slow
def test_shipped_rloo_table_matches_a_fresh_solve():
    """The shipped table and a solve in this run are both certified optimal to 1e-3: their V_adv agree to that."""
    shipped = build_table("kl", "aqp", 9, eps=1, advantage="rloo")
    fresh = build_table("kl", "aqp", 9, eps=1, advantage="rloo", solve=True, use_cache=False)
    a, b = (advantage_variance_exact(list(t.values)) for t in (shipped, fresh))
    assert abs(a - b) <= F(2, 1000) * max(a, b)


def _rloo_copy(tmp_path, monkeypatch):
    import shutil

    import estimators.aqp.shipped as sh
    orig = sh.data_dir
    dst = tmp_path / "data_rloo"
    shutil.copytree(orig("rloo"), dst)
    monkeypatch.setattr(sh, "data_dir", lambda advantage="decoupled": dst if advantage == "rloo" else orig())
    sh.clear_caches()
    return sh, dst


def test_shipped_rloo_loader_refuses_damage_and_a_decoupled_file(tmp_path, monkeypatch):
    import hashlib
    import json

    from estimators.aqp.shipped import ShippedTableError
    sh, dst = _rloo_copy(tmp_path, monkeypatch)
    try:
        f = dst / sh.table_file(10, 10.0)
        f.write_text(f.read_text().replace('"values":[', '"values":[1.0e-3,', 1))
        with pytest.raises(ShippedTableError, match="corrupted"):
            sh.load(10, 10.0, advantage="rloo")
        # the decoupled set's file for K - 1 under this name, checksum matching: wrong K, advantage and objective
        rel = sh.table_file(12, 10.0)
        raw = (sh.data_dir() / sh.table_file(11, 10.0)).read_bytes()
        (dst / rel).write_bytes(raw)
        man = json.loads((dst / "manifest.json").read_text())
        man["files"][rel] = hashlib.sha256(raw).hexdigest()
        (dst / "manifest.json").write_text(json.dumps(man))
        sh.clear_caches()
        with pytest.raises(ShippedTableError, match="does not belong"):
            sh.load(12, 10.0, advantage="rloo")
        # the decoupled manifest is not the set for the baseline
        (dst / "manifest.json").write_text((sh.data_dir() / "manifest.json").read_text())
        sh.clear_caches()
        with pytest.raises(ShippedTableError, match="advantage 'decoupled', not 'rloo'"):
            sh.load(12, 10.0, advantage="rloo")
    finally:
        sh.clear_caches()


def test_shipped_rloo_bad_requests():
    from estimators.aqp.shipped import load
    with pytest.raises(ValueError, match=r"K \(the shipped set for advantage 'rloo'\).*\[3, 128\]"):
        load(2, 1.0, advantage="rloo")
    with pytest.raises(ValueError, match="advantage must be one of"):
        load(8, 1.0, advantage="grpo")
    with pytest.raises(ValueError, match="not in the shipped set"):
        load(8, 2.0, advantage="rloo")


def test_shipped_rloo_refusal_names_the_trainers_K_and_the_effective_one():
    from estimators.aqp.shipped import ShippedTableError
    with pytest.raises(ShippedTableError, match=r"K=120, eps=0.1: .*advantage 'rloo' .*K - 1 = 119") as err:
        build_table("kl", "aqp", 120, eps=0.1, advantage="rloo")
    assert err.value.cause == "float64_rounding" and "larger eps or a smaller K" in str(err.value)
