"""Benchmarks of the C7 game simulator in sampled answers per second (run: python -m pytest
benchmarks/bench_game.py --benchmark-only).

Side by side in one run: the vectorised simulator (all seeds and groups of a step in a few array
operations) for K = 8 and 32 and each advantage, against a per-group Python loop doing the same step.
``extra_info["answers_per_second"]`` = seeds * groups * K * steps / mean time; the target is >= 1e7 on
2 CPU cores for the vectorised path.
"""
import numpy as np
import pytest
from scipy import special

from estimators import build_table
from proofs_numeric.game import RunConfig, get_game, simulate

GAME = get_game("default")


def _run(table, cfg):
    return simulate(GAME, table, cfg)


@pytest.mark.benchmark(group="game simulator: sampled answers per second")
@pytest.mark.parametrize("advantage", ["decoupled", "rloo", "grpo"])
@pytest.mark.parametrize("K", [8, 32])
def test_bench_vectorised(benchmark, K, advantage):
    table = build_table("kl", "plugin", K)
    cfg = RunConfig(K=K, step_size=1.0, steps=20, groups=64, seeds=256, advantage=advantage)
    benchmark.pedantic(_run, args=(table, cfg), rounds=3, warmup_rounds=1)
    benchmark.extra_info["answers_per_second"] = cfg.samples_per_step * cfg.steps / benchmark.stats["mean"]


def _loop_step(theta, table, rng, groups, K, eta):
    """The same policy-gradient step with the decoupled baseline, one group at a time (reference speed)."""
    g, r, beta = table.values, GAME.r, GAME.beta
    pi = special.softmax(theta)
    grad = np.zeros_like(theta)
    for _ in range(groups):
        z = rng.choice(GAME.m, size=K, p=pi)
        counts = np.bincount(z, minlength=GAME.m)
        C = counts[z] - 1
        R = r[z] - beta * g[C]
        A = np.empty(K)
        for i in range(K):
            others = np.delete(np.arange(K), i)
            c_wo = np.bincount(z[others], minlength=GAME.m)[z[others]] - 1
            A[i] = R[i] - np.mean(r[z[others]] - beta * g[c_wo])
        np.add.at(grad, z, A)
        grad -= pi * A.sum()
    return theta + eta * grad / (groups * K)


@pytest.mark.benchmark(group="game simulator: sampled answers per second")
@pytest.mark.parametrize("K", [8, 32])
def test_bench_per_group_loop(benchmark, K):
    table = build_table("kl", "plugin", K)
    rng = np.random.default_rng(0)
    seeds, groups, steps = 4, 16, 5

    def run():
        for _s in range(seeds):
            theta = np.zeros(GAME.m)
            for _t in range(steps):
                theta = _loop_step(theta, table, rng, groups, K, 1.0)

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    benchmark.extra_info["answers_per_second"] = seeds * groups * K * steps / benchmark.stats["mean"]
