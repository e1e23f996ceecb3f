"""Benchmark of the TRL reward function's cross-process collectives (claim C8 adapters), side by side.

Run:  python -m pytest benchmarks/bench_adapters.py --benchmark-only

Two processes (this one is rank 0, a spawned helper is rank 1; gloo over loopback) score a global
batch of B·K = 512 completions (64 groups of K = 8), 256 per process:

* ``gathered``: the reward function with cross-process gathering (``gather="always"``): the layout
  agreement (one ``all_gather`` of one int64 per process), the ``all_gather`` of 2n int64 per process,
  whole-group scoring and the local slice;
* ``local, layout agreed``: the same function scoring its own 256 completions (``gather="auto"``, whole
  groups per process): the layout agreement only;
* ``local, no communication``: ``gather="never"`` (no collective at all: the local call before the
  agreement existed);
* ``layout agreement only``: :func:`agree_layout` alone (8 bytes sent per process);
* ``all_gather only``: the answer gather alone, with the same payload, on an agreed layout.

The bytes each process sends to and receives from the collectives (measured on the tensors of the
call), the median times and the ratios are written to ``.benchmarks/adapter_gather.json`` and stored
in the benchmarks' ``extra_info``; pytest-benchmark's table shows the times side by side. Torch runs
single-threaded (a shared 2-core machine).
"""
import json
import socket
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

from estimators import build_table  # noqa: E402
from estimators.torch import trl_reward_function  # noqa: E402
from estimators.torch.distributed import agree_layout, gather_keys, hash_keys  # noqa: E402

torch.set_num_threads(1)

K, GROUPS, WORLD = 8, 64, 2
N_LOCAL = GROUPS * K // WORLD
ROUNDS, WARMUP = 200, 20
_MEDIANS: dict = {}
_BYTES: dict = {}
GROUP = "TRL reward: collectives, 2 processes, B*K=512"


def batch_for(rank: int):
    """This process's slice of the global batch: prompts repeated K times, answers from 5 classes."""
    idx = range(rank * N_LOCAL, (rank + 1) * N_LOCAL)
    prompts = [f"prompt {i // K}" for i in idx]
    completions = [f"the answer is {(i * 7919) % 5}" for i in idx]
    return prompts, completions


def reward_fn(gather: str):
    return trl_reward_function(build_table("kl", "jackknife", K), num_generations=K, gather=gather,
                               extract_answer=lambda t: t.rsplit(" ", 1)[-1], advantage="decoupled")


def ids_for(rank: int):
    prompts, completions = batch_for(rank)
    return hash_keys([c.rsplit(" ", 1)[-1] for c in completions]), hash_keys(prompts)


def _init(rank: int, port: int):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)


def _helper(port: int, calls: int):
    """Rank 1: the same collective calls as rank 0, in the same order (one benchmark after the other)."""
    torch.set_num_threads(1)
    _init(1, port)
    prompts, completions = batch_for(1)
    ids, pids = ids_for(1)
    for fn in (reward_fn("always"), reward_fn("auto")):
        for _ in range(calls):
            fn(prompts=prompts, completions=completions)
    for _ in range(calls):
        agree_layout(len(ids), has_prompts=True)
    layout = agree_layout(len(ids), has_prompts=True)
    for _ in range(calls):
        gather_keys(ids, pids, layout=layout)
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_processes():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    helper = ctx.Process(target=_helper, args=(port, ROUNDS + WARMUP), daemon=True)
    helper.start()
    _init(0, port)
    yield
    dist.destroy_process_group()
    helper.join(timeout=60)
    assert helper.exitcode == 0, f"rank 1 exited with {helper.exitcode}"


def _record(benchmark, name):
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        _MEDIANS[name] = stats.stats.median


@pytest.mark.benchmark(group=GROUP)
def test_bench_reward_gathered_two_processes(benchmark, two_processes):
    prompts, completions = batch_for(0)
    fn = reward_fn("always")
    out = benchmark.pedantic(fn, kwargs=dict(prompts=prompts, completions=completions), rounds=ROUNDS,
                             warmup_rounds=WARMUP, iterations=1)
    assert out == reward_fn("never")(prompts=prompts, completions=completions)  # groups are whole per process
    _record(benchmark, "gathered")


@pytest.mark.benchmark(group=GROUP)
def test_bench_reward_local_layout_agreed(benchmark, two_processes):
    prompts, completions = batch_for(0)
    fn = reward_fn("auto")
    out = benchmark.pedantic(fn, kwargs=dict(prompts=prompts, completions=completions), rounds=ROUNDS,
                             warmup_rounds=WARMUP, iterations=1)
    assert out == reward_fn("never")(prompts=prompts, completions=completions)
    _record(benchmark, "local_layout_agreed")


@pytest.mark.benchmark(group=GROUP)
def test_bench_layout_agreement_only(benchmark, two_processes):
    ids, _ = ids_for(0)
    got = benchmark.pedantic(agree_layout, args=(len(ids),), kwargs=dict(has_prompts=True), rounds=ROUNDS,
                             warmup_rounds=WARMUP, iterations=1)
    assert got.counts == (N_LOCAL, N_LOCAL)
    _BYTES.update(agreement_sent=got.bytes_sent, agreement_received=got.bytes_sent * got.world)
    benchmark.extra_info.update(bytes_sent_per_process=got.bytes_sent)
    _record(benchmark, "layout_agreement_only")


@pytest.mark.benchmark(group=GROUP)
def test_bench_all_gather_only(benchmark, two_processes):
    ids, pids = ids_for(0)
    layout = agree_layout(len(ids), has_prompts=True)
    got = benchmark.pedantic(gather_keys, args=(ids, pids), kwargs=dict(layout=layout), rounds=ROUNDS,
                             warmup_rounds=WARMUP, iterations=1)
    assert got.answer_ids.numel() == WORLD * N_LOCAL
    _BYTES.update(sent=got.bytes_sent, received=got.bytes_received)
    benchmark.extra_info.update(bytes_sent_per_process=got.bytes_sent, bytes_received_per_process=got.bytes_received)
    _record(benchmark, "all_gather_only")


@pytest.mark.benchmark(group=GROUP)
def test_bench_reward_local_no_communication(benchmark):
    prompts, completions = batch_for(0)
    benchmark(reward_fn("never"), prompts=prompts, completions=completions)
    _record(benchmark, "local_no_communication")


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if not _MEDIANS:
        return
    m = dict(_MEDIANS)
    out = {"K": K, "global_batch": GROUPS * K, "processes": WORLD,
           "collectives_per_call": {"gathered": 2, "local_layout_agreed": 1, "local_no_communication": 0},
           "medians_s": m, "bytes_sent_per_process": _BYTES.get("sent"),
           "bytes_received_per_process": _BYTES.get("received"),
           "agreement_bytes_sent_per_process": _BYTES.get("agreement_sent")}
    base = m.get("local_no_communication")
    if base:
        out["over_local_no_communication"] = {k: v / base for k, v in m.items()}
    Path(".benchmarks").mkdir(exist_ok=True)
    Path(".benchmarks/adapter_gather.json").write_text(json.dumps(out, indent=2) + "\n")
