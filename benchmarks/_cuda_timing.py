"""GPU timing of the group-reward kernels against the memory floor (claim C8), shared by
``bench_torch_kernels.py`` and ``scripts/cuda_crosscheck.py``.

* Times are CUDA-event times of one call (launches included), the median of ``REPS`` calls after
  ``WARMUP`` calls: what a trainer pays per step.
* The *floor* is a bare gather of the same size, ``values.index_select(0, ids.view(-1))`` from a
  K-entry float32 table: it reads the int64 ids and writes the float32 rewards, the least traffic any
  kernel of this contract can do. ``ratio`` = kernel time / floor time.
* Host synchronisations per call are counted with torch's sync debug mode (every synchronising
  CUDA call warns once).
"""
from __future__ import annotations

import statistics
import time
import warnings

import numpy as np
import torch

#: the sizes of the issue's table: (B, K); B * K = 512 is the latency case
SIZES = [(32, 16), (512, 16), (2 ** 16, 16), (2 ** 20, 16), (2 ** 18, 64), (2 ** 16, 256)]
REPS = 30
WARMUP = 3


def cuda_time(fn, reps: int = REPS, warmup: int = WARMUP, device: str = "cuda") -> float:
    """Median seconds of one call of ``fn`` (CUDA events around each call; wall clock on the CPU,
    where the dry run of ``scripts/cuda_crosscheck.py`` exercises this code)."""
    for _ in range(warmup):
        fn()
    if device == "cpu":
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def host_syncs(fn, device: str = "cuda") -> int:
    """Synchronising CUDA calls made by one call of ``fn`` (after a warm-up call); 0 on the CPU."""
    fn()
    if device == "cpu":
        return 0
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    return sum("synchroniz" in str(w.message) for w in seen)


def _inputs(B: int, K: int, seed: int = 0, device: str = "cuda"):
    rng = np.random.default_rng(seed)
    ids = torch.as_tensor(rng.integers(0, max(2, K // 2), size=(B, K)), device=device)
    perm = torch.as_tensor(rng.permutation(B * K), device=device)
    return ids, perm


def floor_rows(sizes=SIZES, *, reps: int = REPS, log=print, device: str = "cuda") -> list[dict]:
    """Per size: median times (s) of the floor and of each kernel form, ratios to the floor, host
    syncs per call, and whether the fused results equal the torch path's bit for bit."""
    from estimators import build_table
    from estimators.torch import group_rewards, group_rewards_flat
    rows = []
    for B, K in sizes:
        table = build_table("kl", "jackknife", K)
        ids, perm = _inputs(B, K, device=device)
        flat_ids = ids.reshape(-1)
        gid = torch.arange(B, device=device).repeat_interleave(K)
        shuf_ids, shuf_gid = flat_ids[perm].contiguous(), gid[perm].contiguous()
        values = torch.as_tensor(np.array(table.values), device=device).to(torch.float32)
        g64 = torch.as_tensor(np.array(table.values), device=device)
        kernels = {
            "floor": lambda: values.index_select(0, flat_ids),
            "fused_dense": lambda: group_rewards(ids, table),
            "fused_flat_contiguous": lambda: group_rewards_flat(flat_ids, gid, table),
            "fused_flat_interleaved": lambda: group_rewards_flat(shuf_ids, shuf_gid, table),
            "torch_dense": lambda: group_rewards(ids, table, backend="torch"),
            "torch_flat_interleaved": lambda: group_rewards_flat(shuf_ids, shuf_gid, table, backend="torch"),
            "naive_one_liner": lambda: g64[(ids[:, :, None] == ids[:, None, :]).sum(-1) - 1].to(torch.float32),
        }
        row = {"B": B, "K": K, "BK": B * K, "seconds": {}, "ratio_to_floor": {}, "host_syncs": {}}
        for name, fn in kernels.items():
            row["seconds"][name] = cuda_time(fn, reps, device=device)
            row["host_syncs"][name] = host_syncs(fn, device)
        fl = row["seconds"]["floor"]
        row["ratio_to_floor"] = {k: v / fl for k, v in row["seconds"].items() if k != "floor"}
        row["floor_GBps"] = B * K * (8 + 4) / fl / 1e9
        ref_d = group_rewards(ids, table, backend="torch")
        ref_f = group_rewards_flat(shuf_ids, shuf_gid, table, backend="torch")
        row["bit_identical"] = {
            "dense": bool(torch.equal(group_rewards(ids, table), ref_d)),
            "flat_contiguous": bool(torch.equal(group_rewards_flat(flat_ids, gid, table), ref_d.reshape(-1))),
            "flat_interleaved": bool(torch.equal(group_rewards_flat(shuf_ids, shuf_gid, table), ref_f)),
        }
        rows.append(row)
        r = row["ratio_to_floor"]
        log(f"  B={B:>8} K={K:>3}: floor {fl * 1e6:8.1f} us ({row['floor_GBps']:.0f} GB/s); fused dense "
            f"{r['fused_dense']:.2f}x, flat contiguous {r['fused_flat_contiguous']:.2f}x, flat interleaved "
            f"{r['fused_flat_interleaved']:.2f}x, torch dense {r['torch_dense']:.2f}x, one-liner "
            f"{r['naive_one_liner']:.2f}x; host syncs fused {row['host_syncs']['fused_dense']}/"
            f"{row['host_syncs']['fused_flat_interleaved']}, torch {row['host_syncs']['torch_dense']}")
        del ids, perm, flat_ids, gid, shuf_ids, shuf_gid
        if device != "cpu":
            torch.cuda.empty_cache()
    return rows


def targets(rows: list[dict]) -> list[dict]:
    """The issue's performance targets, each with the measured figure and a verdict."""
    out = []

    def add(what, value, limit):
        out.append({"target": what, "measured": round(value, 3), "limit": limit, "met": bool(value <= limit)})

    for r in rows:
        dense = r["ratio_to_floor"]["fused_dense"]
        size = f"B={r['B']}, K={r['K']}"
        if r["K"] <= 64 and r["BK"] >= 2 ** 22:
            add(f"dense / floor, {size}", dense, 2.0)
        if r["K"] == 256:
            add(f"dense / floor, {size}", dense, 4.0)
        if r["BK"] == 512:
            add(f"dense / floor latency, {size}", dense, 2.0)
        for lay in ("contiguous", "interleaved"):
            add(f"flat ({lay}) / dense, {size}", r["seconds"][f"fused_flat_{lay}"] / r["seconds"]["fused_dense"], 2.0)
        syncs = max(r["host_syncs"][k] for k in ("fused_dense", "fused_flat_contiguous", "fused_flat_interleaved"))
        add(f"host syncs per fused call, {size}", syncs, 0)
    return out


def tile_sweep(sizes=((2 ** 20, 16), (2 ** 18, 64), (2 ** 16, 256)), tiles=(512, 1024, 2048),
               warps=(4, 8), reps: int = REPS) -> list[dict]:
    """The dense kernel's time per (ids per program, warps): what DENSE_TILE / DENSE_WARPS should be."""
    from estimators import build_table
    from estimators.torch import fused
    from estimators.torch import triton_kernels as tk
    out = []
    for B, K in sizes:
        table = build_table("kl", "jackknife", K)
        ids, _ = _inputs(B, K)
        starts, values = fused.lookup(table, K=K, limit=K, device=ids.device, out_dtype=torch.float32,
                                      add_constant=False, validate=False)
        ref = tk.dense_rewards(ids, None, starts, values)
        for tile in tiles:
            for w in warps:
                fn = (lambda t=tile, w=w: tk.dense_rewards(ids, None, starts, values, tile=t, num_warps=w))
                same = bool(torch.equal(fn(), ref))
                out.append({"B": B, "K": K, "tile": tile, "num_warps": w, "seconds": cuda_time(fn, reps),
                            "same_bits": same})
    return out
