"""Benchmarks of the reference engines (run: python -m pytest benchmarks --benchmark-only).

Side by side in one run: our log-space pmf vs scipy.stats.binom.pmf, the float64 moments engine over a
large p grid, the mpmath engine per point, and Monte Carlo throughput.
"""
import numpy as np
import pytest
from scipy import stats

from estimators import build_table, moments
from estimators.moments import binomial_pmf
from estimators.montecarlo import monte_carlo

P = np.linspace(0, 1, 2001)


@pytest.mark.benchmark(group="pmf K=1024 x 2001 p")
def test_bench_pmf_logspace(benchmark):
    benchmark(binomial_pmf, 1023, P)


@pytest.mark.benchmark(group="pmf K=1024 x 2001 p")
def test_bench_pmf_scipy(benchmark):
    c = np.arange(1024)[None, :]
    benchmark(lambda: stats.binom.pmf(c, 1023, P[:, None]))


@pytest.mark.benchmark(group="moments")
@pytest.mark.parametrize("K", [16, 128, 1024])
def test_bench_moments_float64(benchmark, K):
    t = build_table("kl", "plugin", K)
    benchmark(moments, t, P)


@pytest.mark.benchmark(group="moments")
def test_bench_moments_mpmath_K128_one_point(benchmark):
    t = build_table("kl", "plugin", 128)
    benchmark(moments, t, ["0.01"], engine="mpmath", dps=30)


@pytest.mark.benchmark(group="monte carlo")
@pytest.mark.parametrize("K", [8, 64])
def test_bench_monte_carlo_100k_groups(benchmark, K):
    t = build_table("kl", "plugin", K)
    benchmark.pedantic(monte_carlo, args=(t, [0.4, 0.3, 0.2, 0.1], 100_000), kwargs={"seed": 0}, rounds=3)


@pytest.mark.benchmark(group="moments K=65536 x 1001 p")
def test_bench_moments_float64_K65536(benchmark):
    """issue 11: the float64 engine at its largest K (target <= 2 s; the 40-digit coefficient loop took > 600 s)."""
    t = build_table("kl", "plugin", 65536)
    p = np.linspace(0, 1, 1001)
    m = benchmark(moments, t, p)
    assert np.all(np.isfinite(m.mean)) and np.all(np.isfinite(m.mean_err))


@pytest.mark.benchmark(group="moments K=65536 x 1001 p")
def test_bench_log_binomial_coefficients_K65536_uncached(benchmark):
    from estimators.moments import log_binomial_coefficients

    def fresh():
        log_binomial_coefficients.cache_clear()
        return log_binomial_coefficients(65535)
    benchmark.pedantic(fresh, rounds=3)
