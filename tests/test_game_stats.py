"""C7 statistics with known answers: first passage, order-statistic intervals, paired bootstrap ratios, ties.

Monte Carlo tests are seeded and state their sample size and false-alarm rate.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from proofs_numeric.game.stats import (clopper_pearson, compare_passage, first_passage, mean_interval,
                                       paired_indices, passage_summary, quantile_interval, ratio_of_means)


def test_first_passage_on_a_plateau_just_under_the_target():
    """The issue's failure: a curve that falls to a plateau 2% under the target and crosses it back and forth.
    The first passage is the first step at or below the target, not the last time above it."""
    steps = np.arange(400)
    target = 0.1
    base = 0.5 * np.exp(-steps / 5.0) + 0.098
    wiggle = 0.004 * np.sin(steps / 3.0)                 # crosses 0.1 every few steps, forever
    curve = base + wiggle
    first = int(np.flatnonzero(curve <= target)[0])
    assert first_passage(curve, steps, target)[0] == first
    assert first < 30 and (curve[first:] > target).sum() > 50   # it goes back above the target many times


def test_first_passage_per_seed_and_never_reached():
    steps = np.array([0, 10, 20, 30])
    err = np.array([[0.5, 0.2, 0.05, 0.01],
                    [0.5, 0.04, 0.2, 0.2],
                    [0.5, 0.3, 0.3, 0.3]])
    assert first_passage(err, steps, 0.05).tolist() == [20.0, 10.0, math.inf]
    with pytest.raises(ValueError, match="recorded steps"):
        first_passage(err, steps[:3], 0.05)


def test_quantile_interval_matches_the_classical_median_table():
    """n = 10: the 95% distribution-free interval for the median is (x_(2), x_(9)) with coverage 0.9785."""
    x = np.arange(1.0, 11.0)[::-1]
    q = quantile_interval(x, 0.5, 0.95)
    assert (q["lo"], q["estimate"], q["hi"]) == (2.0, 5.0, 9.0)
    assert q["coverage"] == pytest.approx(1 - 2 * sps.binom.cdf(1, 10, 0.5), abs=1e-12)


def test_quantile_interval_coverage_by_simulation():
    """2000 samples of n = 31 exponential values; the true median ln 2 is covered in at least ``coverage``
    of them up to a binomial allowance at false-alarm rate 1e-4 (one-sided)."""
    rng = np.random.default_rng(1)
    hits, cov = 0, None
    for _ in range(2000):
        q = quantile_interval(rng.exponential(size=31), 0.5, 0.95)
        hits += q["lo"] <= math.log(2) <= q["hi"]
        cov = q["coverage"]
    assert cov >= 0.95
    assert hits >= sps.binom.ppf(1e-4, 2000, cov)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 50).map(float), st.just(math.inf)), min_size=1, max_size=40),
       st.sampled_from([0.1, 0.5, 0.9]), st.sampled_from([0.5, 0.9, 0.95, 0.99]))
def test_every_quantile_interval_contains_its_estimate(xs, q, level):
    r = quantile_interval(xs, q, level)
    assert r["lo"] <= r["estimate"] <= r["hi"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.001, 10.0), min_size=2, max_size=30), st.integers(0, 2 ** 31))
def test_every_ratio_interval_contains_its_estimate(xs, seed):
    a = np.array(xs)
    b = a[::-1] + 0.5
    idx = paired_indices(a.size, 200, np.random.default_rng(seed))
    r = ratio_of_means(a, b, idx)
    assert r["lo"] <= r["ratio"] <= r["hi"]
    m, lo, hi = mean_interval(a)
    assert lo <= m <= hi


def test_paired_ratio_of_proportional_runs_is_exact_and_degenerate():
    """b = 2 a seed by seed: every paired replicate has ratio exactly 1/2, so the interval is the point."""
    a = np.random.default_rng(2).uniform(0.1, 1.0, size=24)
    r = ratio_of_means(a, 2 * a, paired_indices(24, 500, np.random.default_rng(3)))
    assert r["ratio"] == pytest.approx(0.5, rel=1e-15)
    assert r["lo"] == pytest.approx(0.5, rel=1e-12) and r["hi"] == pytest.approx(0.5, rel=1e-12)
    assert r["degenerate"]


def test_pairing_narrows_the_interval_and_covers_the_true_ratio():
    """Seeds share a large common effect x_s; a = x + e1, b = 1.25 x + e2 (small noise). Pairing removes x:
    the paired interval is far narrower than the one from independent resampling, and over 300 repetitions
    it covers the true ratio E a / E b = 0.8 at least at the binomial allowance (false-alarm rate 1e-4)."""
    rng = np.random.default_rng(4)
    covered, widths_paired, widths_indep = 0, [], []
    for _ in range(300):
        x = rng.exponential(size=32)
        a = 1 + x + 0.05 * rng.normal(size=32)
        b = 1.25 * (1 + x) + 0.05 * rng.normal(size=32)
        idx = paired_indices(32, 400, rng)
        r = ratio_of_means(a, b, idx)
        covered += r["lo"] <= 0.8 <= r["hi"]
        widths_paired.append(math.log(r["hi"] / r["lo"]))
        idx2 = paired_indices(32, 400, rng)
        reps = np.log(a[idx].mean(1)) - np.log(b[idx2].mean(1))     # unpaired: independent resamples
        widths_indep.append(2 * np.quantile(np.abs(reps - math.log(r["ratio"])), 0.95))
    assert covered >= sps.binom.ppf(1e-4, 300, 0.95)
    assert np.median(widths_paired) < 0.2 * np.median(widths_indep)


def test_compare_passage_reports_ties_as_ties():
    tau = np.array([3.0, 5.0, 5.0, math.inf])
    same = compare_passage(tau, tau)
    assert same["outcome"] == "tie" and same["ties"] == 3 and same["neither"] == 1 and same["a_first"] == 0
    assert same["median_difference"] == 0.0
    faster = compare_passage(np.full(30, 4.0), np.full(30, 9.0))
    assert faster["outcome"] == "a first" and faster["a_first"] == 30 and faster["sign_test_p"] < 1e-8
    mixed = compare_passage(np.array([1.0, 5, 2, 8, 3, 3]), np.array([2.0, 4, 3, 7, 3, 3]))
    assert mixed["outcome"] == "no significant difference" and mixed["ties"] == 2
    never = compare_passage(np.array([2.0, math.inf]), np.array([math.inf, math.inf]))
    assert never["a_first"] == 1 and never["neither"] == 1


def test_passage_summary_and_clopper_pearson_known_values():
    s = passage_summary(np.array([1.0, 2, 3, math.inf, math.inf]))
    assert s["reached"] == 3 and s["fraction_reached"] == 0.6 and s["median"] == 3.0
    assert s["median_lo"] <= s["median"] <= s["median_hi"] == math.inf
    lo, hi = clopper_pearson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** 0.1, rel=1e-12)
    lo, hi = clopper_pearson(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** 0.1, rel=1e-12)
    assert passage_summary(np.full(4, math.inf))["median"] == math.inf
