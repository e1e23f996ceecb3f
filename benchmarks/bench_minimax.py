"""Benchmarks of the certified minimax solver (claim C3); run with ``pytest benchmarks --benchmark-only``.

Targets (issue #3, on the 2-core reference machine): K = 64 solved and certified in <= 1 s, the whole
sweep K = 2..128 in <= 30 s. The on-disk cache is bypassed (``use_cache=False``) so every round
recomputes; a cached lookup is benchmarked separately.
"""
from __future__ import annotations

import pytest

from estimators.generators import kl, power
from estimators.minimax import solve


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALFT_CACHE_DIR", str(tmp_path / "cache"))


def test_bench_C3_certified_K64(benchmark):
    r = benchmark.pedantic(lambda: solve(kl(), 64, use_cache=False), rounds=5, iterations=1, warmup_rounds=1)
    assert r.rel_gap <= 1e-9
    benchmark.extra_info["target_seconds"] = 1.0
    benchmark.extra_info["E_star"] = r.E


def test_bench_C3_certified_K128(benchmark):
    r = benchmark.pedantic(lambda: solve(kl(), 128, use_cache=False), rounds=3, iterations=1)
    assert r.rel_gap <= 1e-9


def test_bench_C3_certified_sweep_2_to_128(benchmark):
    def sweep():
        return [solve(kl(), K, use_cache=False) for K in range(2, 129)]

    rs = benchmark.pedantic(sweep, rounds=1, iterations=1)
    assert max(r.rel_gap for r in rs) <= 1e-9
    benchmark.extra_info["target_seconds"] = 30.0


def test_bench_C3_unconstrained_K64(benchmark):
    r = benchmark.pedantic(lambda: solve(kl(), 64, constrained=False, use_cache=False), rounds=3, iterations=1)
    assert r.rel_gap <= 1e-9


@pytest.mark.parametrize("alpha", [0.5, 2.5])
def test_bench_C4_power_K64(benchmark, alpha):
    r = benchmark.pedantic(lambda: solve(power(alpha), 64, use_cache=False), rounds=3, iterations=1)
    assert r.rel_gap <= 1e-9


def test_bench_cached_lookup_K64(benchmark):
    solve(kl(), 64)
    r = benchmark(lambda: solve(kl(), 64))
    assert r.rel_gap <= 1e-9
