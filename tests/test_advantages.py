"""C9: what a trainer's baseline does to a table, checked by exact enumeration over every K-tuple of answers,
and the corrected (baseline-aware) tables of every method.

The enumeration is independent of the closed forms it checks: it sums the advantage a trainer computes over
all m^K groups with their exact probabilities, in rational arithmetic.
"""
from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from estimators import build_table, get_generator
from estimators.advantages import (ADVANTAGES, correct_for, effective_coefficients, effective_table, elevate,
                                   lower_degree)
from estimators.bernstein import bernstein_to_monomial
from estimators.certificates import CertificateMismatchError, verify

F = Fraction


def _binomial_mean(table, p, n):
    """E g(X), X ~ Bin(n, p), exactly (table: list of Fractions with n + 1 entries)."""
    from math import comb
    return sum(table[c] * comb(n, c) * p ** c * (1 - p) ** (n - c) for c in range(n + 1))


def _expected_advantages(g, r, beta, probs, K, kind):
    """E[A_i | z_i = z] for sample i = 0, every answer z, by enumerating all m^K groups exactly."""
    m = len(probs)
    num = [F(0)] * m
    den = [F(0)] * m
    for zs in itertools.product(range(m), repeat=K):
        w = F(1)
        for z in zs:
            w *= probs[z]
        C = [sum(1 for j in range(K) if j != i and zs[j] == zs[i]) for i in range(K)]
        R = [r[zs[i]] - beta * g[C[i]] for i in range(K)]
        if kind == "rloo":
            A0 = R[0] - sum(R[1:]) / (K - 1)
        elif kind == "group_mean":
            A0 = R[0] - sum(R) / K
        elif kind == "decoupled":   # others' rewards recounted without sample 0: independent of z_0
            others = zs[1:]
            Rb = [r[others[j]] - beta * g[sum(1 for k in range(K - 1) if k != j and others[k] == others[j])]
                  for j in range(K - 1)]
            A0 = R[0] - sum(Rb) / (K - 1)
        else:
            raise AssertionError(kind)
        num[zs[0]] += w * A0
        den[zs[0]] += w
    return [num[z] / den[z] for z in range(m)]


ENUMERATION_CASES = [(K, m) for K in (2, 3, 4) for m in (2, 3)] + [(5, 3), (6, 2)]


@pytest.mark.parametrize("K,m", ENUMERATION_CASES)
@pytest.mark.parametrize("kind", ["rloo", "group_mean", "decoupled"])
def test_expected_advantage_by_enumeration(K, m, kind):
    """E[A_i | z] = scale * (r(z) - beta * u(p_z)) + (same for every z), with u = E g(X), X ~ Bin(K - 2, p)
    for the leave-one-out and group-mean baselines (scale (K - 1)/K for the group mean) and u = B_g for the
    decoupled one -- exactly, for a table with no structure."""
    g = [F(3 * c * c - 7 * c + 2, c + 3) for c in range(K)]          # arbitrary rational table
    r = [F(5, 7), F(-1, 3), F(2, 5)][:m]
    probs = [F(1, 2), F(1, 3), F(1, 6)][:m] if m == 3 else [F(2, 7), F(5, 7)]
    beta = F(3, 4)
    A = _expected_advantages(g, r, beta, probs, K, kind)
    if kind == "decoupled":
        u = [_binomial_mean(g, p, K - 1) for p in probs]
        scale = 1
    else:
        if K == 2:   # effective table of one entry: u is the constant g(0)
            u = [g[0] for _ in probs]
        else:
            u = [_binomial_mean(g[:-1], p, K - 2) for p in probs]
        scale = F(K - 1, K) if kind == "group_mean" else 1
    shifted = [A[z] - scale * (r[z] - beta * u[z]) for z in range(m)]
    assert len(set(shifted)) == 1, shifted


@given(st.lists(st.fractions(min_value=-100, max_value=100, max_denominator=50), min_size=3, max_size=12))
@settings(max_examples=60, deadline=None)
def test_effective_table_is_the_first_K_minus_1_entries(g):
    """h(c) = ((n - c) g(c) + c g(c - 1))/n has degree <= K - 2 and its lower-degree form is g(0..K-2)."""
    h = effective_coefficients(g, "rloo")
    assert lower_degree(h) == g[:-1]
    assert elevate(g[:-1]) == h or bernstein_to_monomial(h) == bernstein_to_monomial(elevate(g[:-1]))


@given(st.lists(st.fractions(min_value=-10, max_value=10, max_denominator=20), min_size=2, max_size=10))
@settings(max_examples=40, deadline=None)
def test_effective_polynomial_is_B_minus_p_B_prime_over_n(g):
    n = len(g) - 1
    a = bernstein_to_monomial(g)                                  # B_g
    want = [a[j] - F(j, n) * a[j] for j in range(n + 1)]          # B_g - p B_g' / n, monomial by monomial
    assert bernstein_to_monomial(effective_coefficients(g, "rloo")) == want
    assert want[-1] == 0                                           # degree <= K - 2


def test_lower_degree_refuses_full_degree():
    with pytest.raises(ValueError, match="full degree"):
        lower_degree([F(0), F(0), F(1)])


#: polynomial generators and the K range where an exactly unbiased corrected table exists (degree <= K - 2)
EXACT_CASES = [("euclidean", {}, 1), ("power", {"alpha": 3}, 2), ("power", {"alpha": 5}, 4),
               ("polynomial", {"coeffs": [0, 1, -2, 3]}, 2), ("polynomial", {"coeffs": ["1/3", 0, 0, 0, "1/5"]}, 3)]


@pytest.mark.parametrize("name,params,degree", EXACT_CASES)
def test_corrected_ustat_is_exactly_unbiased_after_the_baseline(name, params, degree):
    gen = get_generator(name, **params)
    for K in range(degree + 2, degree + 9):
        t = build_table(gen, "ustat", K, advantage="rloo")
        assert t.K == K and t.advantage == "rloo"
        eff = effective_table(t)
        B = bernstein_to_monomial(list(eff.reference))               # exact: the trainer's mean, a polynomial
        target = list(gen.target_coeffs) + [F(0)] * (len(B) - len(gen.target_coeffs))
        assert B == target[: len(B)] and all(c == 0 for c in target[len(B):])
        # the uncorrected table is not unbiased after the baseline (degree >= 1 targets)
        plain = build_table(gen, "ustat", K)
        Bp = bernstein_to_monomial(lower_degree(effective_coefficients(list(plain.reference), "rloo")))
        assert Bp != target[: len(Bp)]


@pytest.mark.parametrize("K", [4, 8, 16])
def test_euclidean_corrected_ustat_closed_form(K):
    """g(c) = c / (K - 2) for c <= K - 2 (the U-statistic of K - 1 samples), against the plain c / (K - 1)."""
    t = build_table("euclidean", "ustat", K, advantage="rloo")
    assert list(t.reference[:-1]) == [F(c, K - 2) for c in range(K - 1)]


@pytest.mark.parametrize("method", ["plugin", "jackknife", "minimax"])
@pytest.mark.parametrize("K", [3, 9, 24])
def test_corrected_tables_apply_the_method_for_K_minus_1(method, K):
    """The trainer applies the method's own table for K - 1 samples, bit for bit."""
    t = build_table("kl", method, K, advantage="rloo")
    inner = build_table("kl", method, K - 1)
    assert list(effective_table(t).values) == list(inner.values)
    assert t.values[-1] == t.values[-2]


def test_corrected_minimax_certificate_speaks_of_the_effective_table():
    t = build_table("kl", "minimax", 12, advantage="rloo")
    inner = build_table("kl", "minimax", 11)
    assert verify(t)
    c = t.certificate
    assert c["advantage"] == "rloo" and c["effective_K"] == 11
    assert c["E_star_upper"] == inner.certificate["E_star_upper"]
    assert c["stored_table_weighted_bias_upper"] == inner.certificate["stored_table_weighted_bias_upper"]
    d = t.to_dict()
    d["values"][3] += 1e-9                       # an edited entry no longer carries the certificate
    with pytest.raises(CertificateMismatchError):
        type(t).from_dict(d)


def test_table_records_its_advantage_and_round_trips():
    t = build_table("kl", "plugin", 6, advantage="rloo")
    d = t.to_dict()
    assert d["advantage"] == "rloo" and d["params"]["advantage"] == "rloo"
    t2 = type(t).from_dict(d)
    assert t2.advantage == "rloo" and list(t2.values) == list(t.values)
    assert build_table("kl", "plugin", 6).advantage == "decoupled"


BAD = [
    (dict(generator="kl", method="plugin", K=8, advantage="ppo"), ValueError, "advantage must be one of"),
    (dict(generator="kl", method="plugin", K=8, advantage="grpo"), ValueError, "no table-only correction"),
    (dict(generator="kl", method="minimax", K=8, advantage="grpo"), ValueError, "scale_rewards='none'"),
    (dict(generator="kl", method="plugin", K=2, advantage="rloo"), ValueError, "Use K >= 3"),
    (dict(generator="euclidean", method="ustat", K=2, advantage="rloo"), ValueError, "Use K >= 3"),
    (dict(generator="power", method="ustat", K=3, advantage="rloo", generator_params={"alpha": 3}), ValueError,
     r"K must be >= 4.*least reachable effective weighted bias is certified in \[0\.0192"),
    (dict(generator="kl", method="ustat", K=5, advantage="rloo"), ValueError, "needs a polynomial target"),
    (dict(generator="kl", method="plugin", K=8, advantage=None), ValueError, "advantage must be one of"),
]


@pytest.mark.parametrize("kw,exc,match", BAD)
def test_bad_advantage_requests_are_clear_errors(kw, exc, match):
    with pytest.raises(exc, match=match):
        build_table(**kw)


def test_correcting_a_corrected_table_is_refused():
    with pytest.raises(ValueError, match="already corrected"):
        correct_for(build_table("kl", "plugin", 6, advantage="rloo"))
    with pytest.raises(ValueError, match="no table-only correction"):
        correct_for(build_table("kl", "plugin", 6), "grpo")
    with pytest.raises(ValueError, match="K = 2 has a constant effective table"):
        effective_table(build_table("kl", "plugin", 2), "rloo")


def test_vocabulary_is_shared_with_the_game():
    from proofs_numeric.game.advantages import ADVANTAGES as GAME
    assert list(GAME) == list(ADVANTAGES)


def test_cli_prints_the_corrected_table(capsys):
    import json

    from proofs_numeric.cli import main
    assert main(["tables", "--generator", "euclidean", "--method", "ustat", "--K", "8", "--advantage", "rloo",
                 "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["advantage"] == "rloo" and d["reference"][:7] == [str(F(c, 6)) for c in range(7)]
    assert main(["tables", "--generator", "kl", "--method", "plugin", "--K", "8", "--advantage", "grpo"]) == 2
    assert "--advantage rloo" in capsys.readouterr().err
