"""Benchmarks of the C7 game simulator and of the C7 report section (run: python -m pytest
benchmarks/bench_game.py --benchmark-only).

Side by side in one run:

* the vectorised simulator on the default game (K = 8 and 32, each advantage) in 1 and 2 worker processes,
  and a protocol-shaped batch (10 tables x 20 schedules x 8 seeds, as the tuning step runs it) on the default
  and the 24-answer long-tailed games, against a per-group Python loop doing the same step;
  ``extra_info["answers_per_second"]`` = sampled answers / wall-clock seconds (target: >= 1e7 on 2 cores);
* the default profile of the C7 report section, once (target: under 180 s on 2 cores).

The summary (answers per second, the ratio of 2 processes to 1, the section's seconds against its budget)
is written to ``.benchmarks/game.json`` and printed.
"""
import numpy as np
import pytest
from scipy import special

from estimators import build_table
from proofs_numeric.game import RunConfig, get_game, simulate
from proofs_numeric.game.engine import run_batch
from proofs_numeric.game.equilibria import optimum
from proofs_numeric.game.protocol import ProtocolConfig, make_batch, schedule_grid

from _summary import publish, record_median  # benchmarks/_summary.py (pytest puts benchmarks/ on sys.path)

GAME = get_game("default")
SECTION_BUDGET_S = 180.0
ANSWERS_TARGET = 1e7
_MEDIANS: dict = {}
_RATES: dict = {}


@pytest.fixture(scope="module", autouse=True)
def _side_by_side(request):
    yield
    if not _RATES:
        return
    ratios = {}
    for key in list(_RATES):
        if key.endswith("_p1") and key[:-3] + "_p2" in _RATES:  # wall-clock rates only
            ratios[key[:-3] + "_2_over_1_processes"] = _RATES[key[:-3] + "_p2"] / _RATES[key]
    lines = ["C7 game simulator, sampled answers per second (wall clock):"]
    lines += [f"  {k}: {v:.3g}" + ("  (target 1e7)" if ("vectorised" in k or "protocol" in k)
                                    and not k.endswith(("_cpu_over_wall", "_per_cpu_second")) else "")
              for k, v in _RATES.items()]
    lines += ["ratios:"] + [f"  {k}: {v:.2f}" for k, v in ratios.items()]
    if "c7_default_section" in _MEDIANS:
        lines.append(f"C7 default section: {_MEDIANS['c7_default_section']:.1f} s (budget {SECTION_BUDGET_S:g} s)")
    publish(request, "game.json", {"answers_per_second": _RATES, "ratios": ratios, "medians_s": _MEDIANS,
                                   "answers_target": ANSWERS_TARGET, "section_budget_s": SECTION_BUDGET_S}, lines)


def _rate(benchmark, name, samples):
    record_median(_MEDIANS, benchmark, name)
    if name in _MEDIANS:
        _RATES[name] = samples / _MEDIANS[name]
        benchmark.extra_info["answers_per_second"] = _RATES[name]


@pytest.mark.benchmark(group="game simulator: sampled answers per second")
@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("advantage", ["decoupled", "rloo", "grpo"])
@pytest.mark.parametrize("K", [8, 32])
def test_bench_vectorised(benchmark, K, advantage, processes):
    table = build_table("kl", "plugin", K)
    cfg = RunConfig(K=K, step_size=1.0, steps=40, groups=64, seeds=256, advantage=advantage)
    benchmark.pedantic(simulate, args=(GAME, table, cfg), kwargs={"processes": processes}, rounds=3,
                       warmup_rounds=1)
    _rate(benchmark, f"vectorised_K{K}_{advantage}_p{processes}", cfg.samples_per_step * cfg.steps)


@pytest.mark.benchmark(group="game simulator: sampled answers per second")
@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("game_name,K", [("default", 8), ("default", 32), ("longtail", 16)])
def test_bench_protocol_batch(benchmark, game_name, K, processes):
    """The tuning step's shape: 10 tables x 20 schedules x 8 seeds x 2 groups, 100 steps. Also the answers per
    CPU-second and the workers' CPU seconds over wall seconds (near ``processes`` when they run in parallel; a
    machine shared with other work shows less)."""
    game = get_game(game_name)
    grid = schedule_grid(ProtocolConfig())
    tables = [build_table("kl", "jackknife", K)] * 10
    bt = make_batch(game, K, "rloo", [t for t in tables for _ in grid], [s for _ in tables for s in grid], 100, 8, 2,
                    0, optimum(game)[0])
    res = benchmark.pedantic(run_batch, args=(bt,), kwargs={"processes": processes}, rounds=2, warmup_rounds=1)
    _rate(benchmark, f"protocol_{game_name}_K{K}_p{processes}", bt.samples)
    _RATES[f"protocol_{game_name}_K{K}_p{processes}_per_cpu_second"] = bt.samples / res.cpu_seconds
    _RATES[f"protocol_{game_name}_K{K}_p{processes}_cpu_over_wall"] = res.cpu_seconds / res.seconds


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
    _rate(benchmark, f"per_group_loop_K{K}", seeds * groups * K * steps)


@pytest.mark.benchmark(group="C7 report section (default profile)")
def test_bench_c7_default_section(benchmark, tmp_path):
    """The whole default C7 section once (exact fixed points, agreement checks, the tuned protocol on the default
    and long-tailed games, the recommendation checks): its seconds against the 180 s budget."""
    from proofs_numeric import c7_game
    from proofs_numeric.result import RunContext

    res = benchmark.pedantic(c7_game.CLAIM.execute, args=("default", RunContext(outdir=tmp_path, log=lambda m: None)),
                             rounds=1, warmup_rounds=0)
    assert res.status == "PASS", res.summary
    record_median(_MEDIANS, benchmark, "c7_default_section")
    benchmark.extra_info["budget_s"] = SECTION_BUDGET_S
