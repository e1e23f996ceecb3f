"""Benchmarks of the torch group-reward kernels (claim C8), side by side in one run.

Run:  python -m pytest benchmarks/bench_torch_kernels.py --benchmark-only
(the repository's pytest addopts contain --benchmark-skip; naming the file collects it).

Groups
------
* ``kernel vs Counter loop``: the dense kernel against a per-group ``collections.Counter`` loop,
  in its straightforward form (per group: row to list, Counter, write the row of rewards) and in a
  pre-listed form (one ``tolist`` for the batch, one tensor at the end), B = 1024, K = 16.
* ``table lookup vs plug-in log``: applying a stored table (minimax and the other registered tables,
  jackknife, ustat) against computing the plug-in ``log((C+1)/K)`` online. The gather is the same
  whatever the table, so the online cost of a better estimator is zero.
* ``dense vs flattened``: the two layouts on the same batch (flattened groups shuffled).
* ``scaling``: the dense kernel over B and K.
* ``cuda: kernels vs the memory floor`` (only where CUDA is available): CUDA-event medians of the
  fused and torch paths, dense and flattened, against a bare gather of the same size, with host
  synchronisations per call (``_cuda_timing.py``); printed and written to
  ``.benchmarks/cuda_kernel_floor.json``.

At the end of the module the ratios (medians) are printed and written to
``.benchmarks/torch_kernel_ratios.json``. Torch runs single-threaded by default (the Counter loop
is single-threaded, and a 2-core machine shared with other work makes multi-threaded timings of
small ops erratic); set ALFT_BENCH_THREADS to change that.
"""
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from estimators import build_table  # noqa: E402
from estimators.torch import group_rewards, group_rewards_flat, leave_one_out_counts  # noqa: E402

torch.set_num_threads(int(os.environ.get("ALFT_BENCH_THREADS", "1")))

B, K = 1024, 16
_MEDIANS: dict = {}


def _ids(B, K, seed=0, vocab=None):
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.integers(0, vocab or max(2, K // 2), size=(B, K)))


def _record(benchmark, name):
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        _MEDIANS[name] = stats.stats.median


@pytest.fixture(scope="module", autouse=True)
def _report_ratios(request):
    yield
    if not _MEDIANS:
        return
    m = _MEDIANS
    ratios = {"threads": torch.get_num_threads(), "medians_s": dict(m)}
    if "kernel_dense" in m:
        for base in ("counter_loop_straightforward", "counter_loop_prelisted"):
            if base in m:
                ratios[f"speedup_vs_{base}"] = m[base] / m["kernel_dense"]
        if "flat_shuffled" in m:
            ratios["flat_over_dense"] = m["flat_shuffled"] / m["kernel_dense"]
        if "flat_shuffled_sort" in m:
            ratios["flat_sort_over_dense"] = m["flat_shuffled_sort"] / m["kernel_dense"]
    if "plugin_log_online" in m:
        for k, v in m.items():
            if k.startswith("lookup_"):
                ratios[f"{k}_over_plugin_log_online"] = v / m["plugin_log_online"]
    out = Path(".benchmarks")
    out.mkdir(exist_ok=True)
    (out / "torch_kernel_ratios.json").write_text(json.dumps(ratios, indent=2) + "\n")
    lines = ["", f"C8 kernel benchmark ratios (medians, torch threads = {ratios['threads']}), "
                 f"also in .benchmarks/torch_kernel_ratios.json:"]
    lines += [f"  {k}: {v:.3f}" for k, v in ratios.items() if k not in ("medians_s", "threads")]
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        with capman.global_and_fixture_disabled():
            print("\n".join(lines), flush=True)
    else:  # pragma: no cover
        print("\n".join(lines))


# ----------------------------------------------------------------------------- kernel vs Counter

def counter_loop_straightforward(ids, values):
    """What a trainer without a kernel does: one Counter per group."""
    out = torch.empty(ids.shape, dtype=torch.float32)
    for b in range(ids.shape[0]):
        row = ids[b].tolist()
        c = Counter(row)
        out[b] = torch.tensor([values[c[x] - 1] for x in row])
    return out


def counter_loop_prelisted(ids, values):
    """The same loop with the conversions hoisted out (the fastest pure-Python form)."""
    out = []
    for row in ids.tolist():
        c = Counter(row)
        out.append([values[c[x] - 1] for x in row])
    return torch.tensor(out, dtype=torch.float32)


@pytest.mark.benchmark(group="kernel vs Counter loop B=1024 K=16")
def test_bench_counter_loop_straightforward(benchmark):
    ids = _ids(B, K)
    table = build_table("kl", "jackknife", K)
    vals = [float(v) for v in table.values]
    out = benchmark(counter_loop_straightforward, ids, vals)
    assert torch.equal(out, group_rewards(ids, table, dtype=torch.float32))
    _record(benchmark, "counter_loop_straightforward")


@pytest.mark.benchmark(group="kernel vs Counter loop B=1024 K=16")
def test_bench_counter_loop_prelisted(benchmark):
    ids = _ids(B, K)
    table = build_table("kl", "jackknife", K)
    vals = [float(v) for v in table.values]
    benchmark(counter_loop_prelisted, ids, vals)
    _record(benchmark, "counter_loop_prelisted")


@pytest.mark.benchmark(group="kernel vs Counter loop B=1024 K=16")
def test_bench_kernel_dense(benchmark):
    ids = _ids(B, K)
    table = build_table("kl", "jackknife", K)
    benchmark(group_rewards, ids, table, dtype=torch.float32)
    _record(benchmark, "kernel_dense")


# ----------------------------------------------------------------------------- lookup vs online log

LOOKUP = [("minimax", "kl"), ("jackknife", "kl"), ("ustat", "euclidean")]


@pytest.mark.benchmark(group="table lookup vs plug-in log B=1024 K=16")
@pytest.mark.parametrize("method, gen", LOOKUP, ids=[m for m, _ in LOOKUP])
def test_bench_table_lookup(benchmark, method, gen):
    table = build_table(gen, method, K)   # every listed method builds at K = 16: a refusal is a failure
    ids = _ids(B, K)
    benchmark(group_rewards, ids, table, dtype=torch.float32)
    _record(benchmark, f"lookup_{method}")


def plugin_log_online(ids):
    counts = leave_one_out_counts(ids)
    return torch.log((counts + 1).to(torch.float32) / ids.shape[1])


@pytest.mark.benchmark(group="table lookup vs plug-in log B=1024 K=16")
def test_bench_plugin_log_online(benchmark):
    ids = _ids(B, K)
    out = benchmark(plugin_log_online, ids)
    ref = group_rewards(ids, build_table("kl", "plugin", K), dtype=torch.float32)
    torch.testing.assert_close(out, ref)
    _record(benchmark, "plugin_log_online")


# ----------------------------------------------------------------------------- dense vs flattened

def _flat_inputs():
    ids = _ids(B, K)
    perm = torch.as_tensor(np.random.default_rng(1).permutation(B * K))
    gids = torch.arange(B).repeat_interleave(K)
    return ids.reshape(-1)[perm].contiguous(), gids[perm].contiguous()


@pytest.mark.benchmark(group="dense vs flattened B=1024 K=16")
def test_bench_dense_same_batch(benchmark):
    ids = _ids(B, K)
    table = build_table("kl", "jackknife", K)
    benchmark(group_rewards, ids, table, dtype=torch.float32)
    _record(benchmark, "dense_same_batch")


@pytest.mark.benchmark(group="dense vs flattened B=1024 K=16")
@pytest.mark.parametrize("method", ["auto", "sort"])
def test_bench_flat_shuffled(benchmark, method):
    fi, fg = _flat_inputs()
    table = build_table("kl", "jackknife", K)
    benchmark(group_rewards_flat, fi, fg, table, dtype=torch.float32, method=method)
    _record(benchmark, "flat_shuffled" if method == "auto" else "flat_shuffled_sort")


# ----------------------------------------------------------------------------- scaling

@pytest.mark.benchmark(group="scaling in B (K=16)")
@pytest.mark.parametrize("b", [64, 1024, 16384])
def test_bench_scaling_B(benchmark, b):
    ids = _ids(b, 16)
    table = build_table("kl", "jackknife", 16)
    benchmark(group_rewards, ids, table, dtype=torch.float32)
    _record(benchmark, f"scaling_B{b}_K16")


@pytest.mark.benchmark(group="scaling in K (B=1024)")
@pytest.mark.parametrize("k", [4, 16, 64, 256])
def test_bench_scaling_K(benchmark, k):
    ids = _ids(1024, k)
    table = build_table("kl", "jackknife", k)
    benchmark(group_rewards, ids, table, dtype=torch.float32)
    _record(benchmark, f"scaling_B1024_K{k}")


# ----------------------------------------------------------------------------- cuda: against the memory floor

@pytest.mark.cuda
@pytest.mark.benchmark(group="cuda: kernels vs the memory floor")
def test_bench_cuda_kernels_against_the_floor(benchmark, request):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from _cuda_timing import floor_rows, targets
    from _summary import publish

    lines = ["C8 kernels on CUDA against a bare gather of the same size (CUDA events, median of 30):"]
    rows = floor_rows(log=lines.append)
    goals = targets(rows)
    lines += [f"  {'met ' if g['met'] else 'MISS'} {g['target']}: {g['measured']} (limit {g['limit']})" for g in goals]
    publish(request, "cuda_kernel_floor.json", {"device": torch.cuda.get_device_name(0), "rows": rows,
                                                 "targets": goals}, lines)
    assert all(all(r["bit_identical"].values()) for r in rows)
    ids = torch.as_tensor(np.random.default_rng(0).integers(0, 8, size=(2 ** 20, 16)), device="cuda")
    table = build_table("kl", "jackknife", 16)

    def call():
        group_rewards(ids, table)
        torch.cuda.synchronize()

    benchmark.pedantic(call, rounds=30, warmup_rounds=3)
