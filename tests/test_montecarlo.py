"""Monte Carlo harness: counts from answer arrays, and agreement with the exact engines.

Each agreement test is seeded and uses a family-wise false-alarm rate of 1e-4 per call
(Bonferroni over the answers' mean and variance intervals), so a correct implementation
fails it with probability <= 1e-4 per seed; the seeds are fixed, so the outcome is reproducible.
"""
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from estimators import build_table, method_names, moments
from estimators.montecarlo import leave_one_out_counts, monte_carlo

ALPHA = 1e-4


def _brute_counts(a):
    return np.array([[sum(1 for j in range(len(row)) if j != i and row[j] == row[i]) for i in range(len(row))]
                     for row in a])


@given(st.integers(1, 6), st.integers(2, 12), st.integers(1, 5), st.integers(0, 2 ** 32 - 1))
def test_counts_match_brute_force(B, K, m, seed):
    a = np.random.default_rng(seed).integers(0, m, size=(B, K))
    assert np.array_equal(leave_one_out_counts(a), _brute_counts(a))


def test_counts_from_strings_and_large_ids():
    a = np.array([["4", "2", "4", "x"], ["a", "a", "a", "a"]])
    assert np.array_equal(leave_one_out_counts(a), [[1, 0, 1, 0], [3, 3, 3, 3]])
    big = np.array([[2 ** 62, -2 ** 62, 2 ** 62]], dtype=np.int64)
    assert np.array_equal(leave_one_out_counts(big), [[1, 0, 1]])


@pytest.mark.parametrize("bad,exc,msg", [
    (np.zeros(5, dtype=int), ValueError, "2-D"),
    (np.zeros((0, 3), dtype=int), ValueError, "at least one group"),
    (np.zeros((2, 1), dtype=int), ValueError, "K"),
    (np.zeros((2, 3)), TypeError, "integer or string"),
])
def test_counts_bad_input(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        leave_one_out_counts(bad)


#: parameters of methods that need them (aqp: a shipped budget, KL only)
METHOD_PARAMS = {"aqp": {"eps": 10.0}}


def _applies(gen, gp, method, K):
    try:
        build_table(gen, method, K, generator_params=gp, **METHOD_PARAMS.get(method, {}))
        return True
    except ValueError:  # ustat needs a polynomial of degree <= K-1; aqp ships KL tables only
        return False


GROUPS = [(2, [0.6, 0.4]), (7, [0.5, 0.3, 0.15, 0.05]), (24, [0.2] * 5)]
CASES = [(gen, gp, method, K, probs)
         for gen, gp in [("kl", {}), ("power", {"alpha": 3}), ("power", {"alpha": 0.5}), ("euclidean", {})]
         for method in method_names() for K, probs in GROUPS if _applies(gen, gp, method, K)]


@pytest.mark.parametrize("gen,gp,method,K,probs", CASES)
def test_monte_carlo_agrees_with_exact(gen, gp, method, K, probs):
    t = build_table(gen, method, K, generator_params=gp, **METHOD_PARAMS.get(method, {}))
    seed = zlib.crc32(f"{gen}{gp}{method}{K}".encode())
    res = monte_carlo(t, probs, 20000, seed=seed, alpha=ALPHA)
    ex = moments(t, np.array(probs))
    assert res.compare(ex.mean, ex.var).all_within


@given(st.integers(2, 12), st.lists(st.integers(1, 20), min_size=1, max_size=5), st.integers(0, 2 ** 31 - 1),
       st.sampled_from(["plugin", "jackknife"]))
def test_monte_carlo_agrees_with_exact_random_distributions(K, weights, seed, method):
    """Property: for any answer distribution and K, the exact moments lie in the MC intervals
    (5000 groups, family-wise false-alarm rate 1e-4 per example; derandomized in CI)."""
    probs = np.array(weights, dtype=float) / sum(weights)
    t = build_table("kl", method, K)
    res = monte_carlo(t, probs, 5000, seed=seed, alpha=ALPHA)
    ex = moments(t, probs)
    assert res.compare(ex.mean, ex.var).all_within


def test_monte_carlo_detects_a_wrong_mean():
    """The comparison can fail: shifting the exact mean by a few standard errors is detected."""
    t = build_table("kl", "plugin", 8)
    probs = [0.5, 0.3, 0.2]
    res = monte_carlo(t, probs, 20000, seed=3, alpha=ALPHA)
    ex = moments(t, np.array(probs))
    shifted = ex.mean + 2 * res.z_crit * res.mean_se
    assert not res.compare(shifted, ex.var).all_within


def test_monte_carlo_is_reproducible():
    t = build_table("kl", "plugin", 5)
    a = monte_carlo(t, [0.7, 0.3], 5000, seed=11)
    b = monte_carlo(t, [0.7, 0.3], 5000, seed=11)
    assert np.array_equal(a.mean, b.mean)


@pytest.mark.parametrize("probs,msg", [([0.5, 0.6], "sum to 1"), ([1.5, -0.5], "finite and in"),
                                        ([], "non-empty"), ([[0.5, 0.5]], "1-D")])
def test_monte_carlo_bad_distribution(probs, msg):
    t = build_table("kl", "plugin", 4)
    with pytest.raises(ValueError, match=msg):
        monte_carlo(t, probs, 100, seed=0)


def test_monte_carlo_bad_parameters():
    t = build_table("kl", "plugin", 4)
    with pytest.raises(ValueError, match="alpha"):
        monte_carlo(t, [1.0], 100, seed=0, alpha=1.5)
    with pytest.raises(ValueError, match="n_groups"):
        monte_carlo(t, [1.0], 1, seed=0)
