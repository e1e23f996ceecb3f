"""Benchmarks of the AQP estimator (claim C6), side by side in one run.

Run:  python -m pytest benchmarks/bench_aqp.py --benchmark-only
(the repository's pytest addopts contain --benchmark-skip; naming the file collects it).

Groups
------
* ``load a shipped table``: ``build_table("kl", "aqp", K, eps=10)`` from ``estimators/aqp/data/``
  at K = 16, 64, 128, cold (every memo of :mod:`estimators.aqp.shipped` cleared: the manifest and
  the file are read, the file's SHA-256 checked, the JSON parsed, the table built and its
  certificate binding checked) and warm (a repeated load, served from those memos). Target: <= 1 ms.
* ``solve and certify``: :func:`estimators.aqp.core.solve` with ``use_cache=False`` (the AQP result
  is recomputed every round; E*_K comes from the minimax cache, warmed before timing), in the
  double-precision stage (Clarabel: eps = 10 at K = 16, 64, 128) and in the extended-precision stage
  (Arb interior point + Newton polish: K = 32, eps = 0.3 and K = 64, eps = 1). Each case asserts the
  stage it is named for and both certificates (bias within the budget, optimality gap <= 1e-3).
* ``torch lookup``: ``group_rewards`` with the shipped AQP table against the plug-in table on the
  same batch (B = 1024, K = 64): the gather is the same whatever the entries, so the online cost of
  the AQP table is the plug-in's.

At the end of the module the medians and ratios are printed and written to
``.benchmarks/aqp_ratios.json``.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from estimators import build_table
from estimators.aqp import ShippedTableError, shipped
from estimators.aqp.core import DEFAULT_GAP_TOL, budget, solve

from _summary import publish, record_median  # benchmarks/_summary.py (pytest puts benchmarks/ on sys.path)

LOAD_K = (16, 64, 128)
LOAD_EPS = 10.0
LOAD_TARGET_S = 1e-3
SOLVE_CASES = [  # (K, eps, stage it must be solved by)
    (16, 10.0, "clarabel"),
    (64, 10.0, "clarabel"),
    (128, 10.0, "clarabel"),
    (32, 0.3, "extended"),
    (64, 1.0, "extended"),
]
LOOKUP_B, LOOKUP_K = 1024, 64
_MEDIANS: dict = {}


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory):
    """A private cache: solves are never served from the user's cache; E*_K is computed once here."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALFT_CACHE_DIR", str(tmp_path_factory.mktemp("aqp-cache")))
        yield


def _clear_memo():
    """Forget every memoised manifest, file and table of the shipped set (a cold load reads the file)."""
    for obj in vars(shipped).values():
        if callable(getattr(obj, "cache_clear", None)):
            obj.cache_clear()


def _shipped(K, eps):
    """The shipped table; a skip only when the set, or this K, has not been built here (any other
    ShippedTableError, e.g. a table that fails its certificate binding, is a failure)."""
    try:
        lo, hi = shipped.manifest()["K"]
    except ShippedTableError as exc:
        pytest.skip(f"the shipped AQP set is not built here ({exc})")
    if not lo <= K <= hi:
        pytest.skip(f"the shipped AQP set here covers K = {lo}..{hi}, not K = {K} (`alft tables --rebuild aqp`)")
    return build_table("kl", "aqp", K, eps=eps)


@pytest.fixture(scope="module", autouse=True)
def _side_by_side(request):
    """After the module: medians, load time against its target, AQP lookup over plug-in lookup."""
    yield
    med = _MEDIANS
    if not med:
        return
    ratios = {f"{k}_over_target": v / LOAD_TARGET_S for k, v in med.items() if k.startswith("load_")}
    if {"lookup_aqp", "lookup_plugin"} <= med.keys():
        ratios["lookup_aqp_over_plugin"] = med["lookup_aqp"] / med["lookup_plugin"]
    lines = ["C6 AQP benchmark, medians:"]
    lines += [f"  {k}: {v * 1e3:.3f} ms" for k, v in med.items()]
    lines += ["ratios:"] + [f"  {k}: {v:.3f}" for k, v in ratios.items()]
    publish(request, "aqp_ratios.json", {"medians_s": dict(med), "load_target_s": LOAD_TARGET_S, **ratios}, lines)


# ----------------------------------------------------------------------------- loading

@pytest.mark.benchmark(group="AQP: load a shipped table (target <= 1 ms)")
@pytest.mark.parametrize("K", LOAD_K)
def test_bench_load_cold(benchmark, K):
    _shipped(K, LOAD_EPS)

    def load():
        _clear_memo()
        return build_table("kl", "aqp", K, eps=LOAD_EPS)

    t = benchmark.pedantic(load, rounds=50, iterations=1, warmup_rounds=2)
    assert t.K == K and t.certificate["bias_upper"] <= t.certificate["budget_lower"]
    benchmark.extra_info["target_seconds"] = LOAD_TARGET_S
    record_median(_MEDIANS, benchmark, f"load_cold_K{K}")


@pytest.mark.benchmark(group="AQP: load a shipped table (target <= 1 ms)")
@pytest.mark.parametrize("K", LOAD_K)
def test_bench_load_warm(benchmark, K):
    _shipped(K, LOAD_EPS)
    t = benchmark(build_table, "kl", "aqp", K, eps=LOAD_EPS)
    assert t.K == K and t.certificate["optimality_gap"] <= DEFAULT_GAP_TOL
    benchmark.extra_info["target_seconds"] = LOAD_TARGET_S
    record_median(_MEDIANS, benchmark, f"load_warm_K{K}")


# ----------------------------------------------------------------------------- solving

@pytest.mark.benchmark(group="AQP: solve and certify (use_cache=False)")
@pytest.mark.parametrize("K, eps, stage", SOLVE_CASES, ids=[f"K{k}-eps{e:g}-{s}" for k, e, s in SOLVE_CASES])
def test_bench_solve(benchmark, K, eps, stage):
    budget("kl", K, eps)  # E*_K into the private cache before timing (the AQP solve itself is never cached)
    r = benchmark.pedantic(lambda: solve("kl", K, eps, use_cache=False), rounds=3, iterations=1, warmup_rounds=1)
    assert r.stage == stage, f"K={K}, eps={eps:g} was solved by the {r.stage} stage, not {stage}"
    assert r.bias_upper <= r.tau_lower and r.gap <= DEFAULT_GAP_TOL
    benchmark.extra_info.update({"stage": r.stage, "V": r.V, "max_abs_g": r.max_abs_g, "gap": r.gap,
                                 "solver_seconds": r.seconds})
    record_median(_MEDIANS, benchmark, f"solve_K{K}_eps{eps:g}_{stage}")


# ----------------------------------------------------------------------------- online cost

def _lookup_inputs():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(int(os.environ.get("ALFT_BENCH_THREADS", "1")))
    rng = np.random.default_rng(0)
    return torch, torch.as_tensor(rng.integers(0, LOOKUP_K // 4, size=(LOOKUP_B, LOOKUP_K)))


@pytest.mark.benchmark(group=f"AQP: torch lookup vs plug-in B={LOOKUP_B} K={LOOKUP_K}")
@pytest.mark.parametrize("method", ["aqp", "plugin"])
def test_bench_lookup(benchmark, method):
    torch, ids = _lookup_inputs()
    from estimators.torch import group_rewards, leave_one_out_counts
    table = _shipped(LOOKUP_K, LOAD_EPS) if method == "aqp" else build_table("kl", "plugin", LOOKUP_K)
    out = benchmark(group_rewards, ids, table, dtype=torch.float32)
    counts = leave_one_out_counts(ids).numpy()
    expected = np.asarray(table.values, dtype=np.float64)[counts].astype(np.float32)  # the reference gather
    assert np.array_equal(out.numpy(), expected)
    record_median(_MEDIANS, benchmark, f"lookup_{method}")
