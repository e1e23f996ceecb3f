"""C9: building a table for the rloo advantage costs no more than building the plain one (side by side in one
run: python -m pytest benchmarks/bench_advantages.py --benchmark-only). The corrected table is the method's
table for K - 1 with one entry appended, so the cost is that of the smaller table plus a copy."""
import pytest

from estimators import build_table

CASES = [("kl", "plugin", 64, {}), ("kl", "jackknife", 64, {}), ("euclidean", "ustat", 64, {}),
         ("kl", "minimax", 64, {}), ("kl", "aqp", 64, {"eps": 1.0, "solve": True})]


@pytest.mark.parametrize("advantage", ["decoupled", "rloo"])
@pytest.mark.parametrize("gen,method,K,params", CASES, ids=[f"{m}-K{K}" for _, m, K, _ in CASES])
def test_bench_build(benchmark, gen, method, K, params, advantage):
    benchmark.group = f"build {method} K={K}"
    build_table(gen, method, K, advantage=advantage, **params)       # solver results cached on disk first
    benchmark(build_table, gen, method, K, advantage=advantage, **params)


#: cold certified AQP solves (no cache): the issue's targets are <= 2 s per table for K <= 64, <= 10 s at K = 128
COLD = [(32, 1.0), (64, 1.0), (64, 10.0), (128, 10.0)]


@pytest.mark.parametrize("advantage", ["decoupled", "rloo"])
@pytest.mark.parametrize("K,eps", COLD, ids=[f"K{K}-eps{e:g}" for K, e in COLD])
def test_bench_cold_certified_aqp(benchmark, K, eps, advantage):
    """One cold solve and certification each (rounds=1: a cached solve would time the cache, not the solver)."""
    benchmark.group = f"cold certified AQP K={K} eps={eps:g}"
    benchmark.pedantic(build_table, args=("kl", "aqp", K),
                       kwargs=dict(eps=eps, solve=True, use_cache=False, advantage=advantage), rounds=1, iterations=1)
