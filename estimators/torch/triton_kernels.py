"""Fused group-reward kernels in Triton (claim C8; CUDA, or Triton's interpreter on CPU).

Importing this module needs ``triton``; :mod:`estimators.torch.fused` imports it only when Triton
is importable, and the kernels run only on CUDA tensors (or anywhere under ``TRITON_INTERPRET=1``).

Every kernel reads a *lookup*: ``starts`` (int64 [KM + 1]) and ``values`` (the served tables one
after another, in the output dtype): a sample whose group has ``s`` samples and whose leave-one-out
count is ``c`` gets ``values[starts[s] + c]``, or NaN where ``starts[s] < 0`` (no table serves size
``s``) or ``s > KM``. The values are the torch path's float64 ``g(c) + constant`` rounded once to the
output dtype, so both paths return the same bits.

Dense ``[B, K]`` (:func:`dense_rewards`): one program loads a tile of rows, counts equal ids
pairwise in registers (one column per loop step; in int32 when the tile's id span fits, else in
int64), and gathers from the lookup. Flattened ``[N]`` (:func:`flat_rewards`): when ``group_ids`` is
monotone (every group one contiguous run, the common trainer layout) each sample scans its run;
otherwise samples are first bucketed by a hash of their group id (a counting sort with integer
atomics: exact whatever order the atomics run in) and each sample scans its bucket. The path is
chosen on the device from a flag, so neither layout reads a value back to the host: no host
synchronisation, and the launches can be captured in a CUDA graph. Scans stop once a group has more
members than the largest served size (such a group has no table: NaN), so a huge group costs
O(KM) per sample, not O(N).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["dense_rewards", "flat_rewards", "dense_block", "DENSE_TILE", "DENSE_WARPS", "FLAT_BLOCK"]

# globals read inside kernels must be constexpr (Triton refuses other globals)
_I64_MAX = tl.constexpr(9223372036854775807)
_I64_MIN = tl.constexpr(-9223372036854775808)
#: tiles whose smallest id is at most this can compare ``id - min`` in int32 when the span is < 2^31
_NARROW_MIN_LIMIT = tl.constexpr(9223372034707292159)  # 2^63 - 2^31 - 1: min + 2^31 cannot overflow


# ----------------------------------------------------------------------------- dense

@triton.jit
def _column_counts(x, ids_ptr, mask_ptr, rows, rin, K, mn, HAS_MASK: tl.constexpr, NARROW: tl.constexpr,
                   BLOCK_B: tl.constexpr, BLOCK_K: tl.constexpr):
    """cnt[b, k] = #{j < K valid : ids[b, j] == x[b, k]} (the sample itself included)."""
    cnt = tl.zeros([BLOCK_B, BLOCK_K], dtype=tl.int32)
    if NARROW:
        xs = (x - mn).to(tl.int32)
    else:
        xs = x
    for j in range(0, K):
        xj = tl.load(ids_ptr + rows * K + j, mask=rin, other=0).to(tl.int64)
        if NARROW:
            xj = (xj - mn).to(tl.int32)
        eq = xs == xj[:, None]
        if HAS_MASK:
            vj = tl.load(mask_ptr + rows * K + j, mask=rin, other=0) != 0
            eq = eq & vj[:, None]
        cnt += eq.to(tl.int32)
    return cnt


@triton.jit
def _lookup(starts_ptr, values_ptr, size, count, valid, KM):
    """values[starts[size] + count], NaN where no table serves ``size``."""
    start = tl.load(starts_ptr + size, mask=valid & (size <= KM), other=-1)
    return tl.load(values_ptr + start + count, mask=valid & (start >= 0), other=float("nan"))


@triton.jit(do_not_specialize=["B", "K", "KM"])  # one compiled kernel per dtype and tile, whatever B, K
def _dense_kernel(ids_ptr, mask_ptr, starts_ptr, values_ptr, out_ptr, B, K, KM, HAS_MASK: tl.constexpr,
                  BLOCK_B: tl.constexpr, BLOCK_K: tl.constexpr):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_B + tl.arange(0, BLOCK_B)
    cols = tl.arange(0, BLOCK_K)
    rin = rows < B
    inb = rin[:, None] & (cols < K)[None, :]
    offs = rows[:, None] * K + cols[None, :]
    x = tl.load(ids_ptr + offs, mask=inb, other=0).to(tl.int64)
    if HAS_MASK:
        valid = inb & (tl.load(mask_ptr + offs, mask=inb, other=0) != 0)
    else:
        valid = inb
    # the tile's id span: equality of ids is equality of (id - min), in int32 when the span fits
    mn = tl.min(tl.min(tl.where(valid, x, _I64_MAX), axis=1), axis=0)
    mx = tl.max(tl.max(tl.where(valid, x, _I64_MIN), axis=1), axis=0)
    lim = tl.minimum(mn, _NARROW_MIN_LIMIT) + 2147483647
    if (mn > _NARROW_MIN_LIMIT) | (mx <= lim):
        cnt = _column_counts(x, ids_ptr, mask_ptr, rows, rin, K, mn, HAS_MASK, True, BLOCK_B, BLOCK_K)
    else:
        cnt = _column_counts(x, ids_ptr, mask_ptr, rows, rin, K, mn, HAS_MASK, False, BLOCK_B, BLOCK_K)
    size = tl.sum(valid.to(tl.int32), axis=1)[:, None]
    val = _lookup(starts_ptr, values_ptr, size, cnt - 1, valid, KM)
    val = tl.where(valid, val, 0.0)
    tl.store(out_ptr + offs, val.to(out_ptr.dtype.element_ty), mask=inb)


#: ids per program of the dense kernel and its warps: 1024 ids on 8 warps compile to 40 registers a
#: thread for K = 16..256 without spills (sm_90), so six programs fit on a multiprocessor
DENSE_TILE = 1024
DENSE_WARPS = 8


def dense_block(K: int, tile: int | None = None) -> tuple[int, int]:
    """(rows per program, K padded to a power of 2) of the dense kernel's tile."""
    bk = triton.next_power_of_2(max(int(K), 1))
    return max(1, int(tile or DENSE_TILE) // bk), bk


def dense_rewards(ids: torch.Tensor, mask: torch.Tensor | None, starts: torch.Tensor, values: torch.Tensor, *,
                  tile: int | None = None, num_warps: int | None = None) -> torch.Tensor:
    """Rewards [B, K] in ``values.dtype`` for contiguous ``ids`` [B, K] (any int dtype) and optional
    ``mask`` (bool [B, K]; masked samples get 0). No host synchronisation. ``tile`` and
    ``num_warps`` override :data:`DENSE_TILE` and :data:`DENSE_WARPS` (benchmarks)."""
    B, K = ids.shape
    out = torch.empty((B, K), dtype=values.dtype, device=ids.device)
    if B == 0:
        return out
    bb, bk = dense_block(K, tile)
    m = mask.view(torch.uint8) if mask is not None else ids  # a dummy pointer when HAS_MASK is False
    _dense_kernel[(triton.cdiv(B, bb),)](ids, m, starts, values, out, B, K, starts.numel() - 1,
                                        HAS_MASK=mask is not None, BLOCK_B=bb, BLOCK_K=bk,
                                        num_warps=int(num_warps or DENSE_WARPS))
    return out


# ----------------------------------------------------------------------------- flattened

@triton.jit
def _hash_bucket(g, NB):
    """A 64-bit mix (splitmix64-style finaliser, signed arithmetic) of the group id, modulo NB (2^k)."""
    z = g.to(tl.int64)
    z = (z ^ (z >> 30)) * 4564239237516830137
    z = (z ^ (z >> 27)) * 1503003599134659051
    z = z ^ (z >> 31)
    return (z & (NB - 1)).to(tl.int32)


@triton.jit(do_not_specialize=["N"])
def _flat_order_flags(g_ptr, N, flags_ptr, BLOCK: tl.constexpr):
    """flags[0] = 1 if some g[i+1] < g[i] (a descent), flags[1] = 1 if some g[i+1] > g[i] (an ascent)."""
    p = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    nxt = p + 1 < N
    g = tl.load(g_ptr + p, mask=nxt, other=0).to(tl.int64)
    gn = tl.load(g_ptr + p + 1, mask=nxt, other=0).to(tl.int64)
    tl.atomic_max(flags_ptr, tl.max((nxt & (gn < g)).to(tl.int32), axis=0))
    tl.atomic_max(flags_ptr + 1, tl.max((nxt & (gn > g)).to(tl.int32), axis=0))


@triton.jit
def _is_monotone(flags_ptr):
    return (tl.load(flags_ptr) == 0) | (tl.load(flags_ptr + 1) == 0)


@triton.jit(do_not_specialize=["N", "NB"])
def _flat_bucket_sizes(g_ptr, N, flags_ptr, ends_ptr, NB, BLOCK: tl.constexpr):
    """Bucket occupancy (integer atomics); nothing to do when group_ids is monotone."""
    if _is_monotone(flags_ptr) == 0:
        p = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        inb = p < N
        g = tl.load(g_ptr + p, mask=inb, other=0)
        tl.atomic_add(ends_ptr + _hash_bucket(g, NB), 1, mask=inb)


@triton.jit(do_not_specialize=["N", "NB"])
def _flat_bucket_scatter(g_ptr, x_ptr, N, flags_ptr, ends_ptr, NB, perm_ptr, sg_ptr, sx_ptr, sb_ptr,
                         BLOCK: tl.constexpr):
    """Counting sort by bucket: ``ends`` holds each bucket's end; claiming slots downwards from it
    leaves every bucket's samples contiguous (their order inside a bucket does not matter)."""
    if _is_monotone(flags_ptr) == 0:
        p = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        inb = p < N
        g = tl.load(g_ptr + p, mask=inb, other=0).to(tl.int64)
        x = tl.load(x_ptr + p, mask=inb, other=0).to(tl.int64)
        b = _hash_bucket(g, NB)
        pos = (tl.atomic_add(ends_ptr + b, -1, mask=inb) - 1).to(tl.int64)
        tl.store(perm_ptr + pos, p, mask=inb)
        tl.store(sg_ptr + pos, g, mask=inb)
        tl.store(sx_ptr + pos, x, mask=inb)
        tl.store(sb_ptr + pos, b, mask=inb)


@triton.jit
def _run_counts(key_ptr, g_ptr, x_ptr, p, inb, N, KM, STEP: tl.constexpr, HAS_KEY: tl.constexpr):
    """Members of each sample's group (size) and equal ids among them (count), found by scanning
    from ``p`` in direction STEP while the key (bucket, or the group id itself) stays the same;
    a scan stops once its group has more than KM members. Both exclude the sample itself."""
    g = tl.load(g_ptr + p, mask=inb, other=0).to(tl.int64)
    x = tl.load(x_ptr + p, mask=inb, other=0).to(tl.int64)
    if HAS_KEY:
        k = tl.load(key_ptr + p, mask=inb, other=0)
    size = tl.zeros_like(p).to(tl.int32)
    cnt = tl.zeros_like(p).to(tl.int32)
    q = p
    go = inb
    while tl.max(go.to(tl.int32), axis=0) > 0:
        q = q + STEP
        go = go & (q >= 0) & (q < N)
        if HAS_KEY:
            go = go & (tl.load(key_ptr + q, mask=go, other=0) == k)
        gq = tl.load(g_ptr + q, mask=go, other=0).to(tl.int64)
        if not HAS_KEY:
            go = go & (gq == g)
        same = go & (gq == g)
        xq = tl.load(x_ptr + q, mask=same, other=0).to(tl.int64)
        size += same.to(tl.int32)
        cnt += (same & (xq == x)).to(tl.int32)
        go = go & (size < KM)  # size + 1 > KM: no table serves this group
    return size, cnt


@triton.jit
def _flat_lookup(key_ptr, g_ptr, x_ptr, p, inb, N, starts_ptr, values_ptr, KM, HAS_KEY: tl.constexpr):
    s1, c1 = _run_counts(key_ptr, g_ptr, x_ptr, p, inb, N, KM, 1, HAS_KEY)
    s2, c2 = _run_counts(key_ptr, g_ptr, x_ptr, p, inb, N, KM, -1, HAS_KEY)
    return _lookup(starts_ptr, values_ptr, s1 + s2 + 1, c1 + c2, inb, KM)


@triton.jit(do_not_specialize=["N", "KM"])
def _flat_rewards_kernel(g_ptr, x_ptr, N, flags_ptr, perm_ptr, sg_ptr, sx_ptr, sb_ptr, starts_ptr, values_ptr, KM,
                         out_ptr,
                         BLOCK: tl.constexpr):
    p = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inb = p < N
    if _is_monotone(flags_ptr) != 0:  # each group is one run of the input: scan it in place
        val = _flat_lookup(g_ptr, g_ptr, x_ptr, p, inb, N, starts_ptr, values_ptr, KM, False)
        tl.store(out_ptr + p, val.to(out_ptr.dtype.element_ty), mask=inb)
    else:  # scan the bucket, write back to the sample's own position
        val = _flat_lookup(sb_ptr, sg_ptr, sx_ptr, p, inb, N, starts_ptr, values_ptr, KM, True)
        dst = tl.load(perm_ptr + p, mask=inb, other=0)
        tl.store(out_ptr + dst, val.to(out_ptr.dtype.element_ty), mask=inb)


#: samples per program of the flattened kernels
FLAT_BLOCK = 256


def flat_rewards(ids: torch.Tensor, group_ids: torch.Tensor, starts: torch.Tensor, values: torch.Tensor
                 ) -> torch.Tensor:
    """Rewards [N] in ``values.dtype`` for contiguous ``ids`` and ``group_ids`` [N] (any int dtypes).
    No host synchronisation: the layout (monotone group ids or not) is decided on the device."""
    n = ids.numel()
    dev = ids.device
    out = torch.empty(n, dtype=values.dtype, device=dev)
    if n == 0:
        return out
    grid = (triton.cdiv(n, FLAT_BLOCK),)
    flags = torch.zeros(2, dtype=torch.int32, device=dev)
    _flat_order_flags[grid](group_ids, n, flags, BLOCK=FLAT_BLOCK)
    nb = triton.next_power_of_2(max(n // 4, 1))
    edt = torch.int32 if n < 2 ** 31 else torch.int64
    ends = torch.zeros(nb, dtype=edt, device=dev)
    _flat_bucket_sizes[grid](group_ids, n, flags, ends, nb, BLOCK=FLAT_BLOCK)
    ends = torch.cumsum(ends, 0, dtype=edt)
    perm = torch.empty(n, dtype=torch.int64, device=dev)
    sg = torch.empty(n, dtype=torch.int64, device=dev)
    sx = torch.empty(n, dtype=torch.int64, device=dev)
    sb = torch.empty(n, dtype=torch.int32, device=dev)
    _flat_bucket_scatter[grid](group_ids, ids, n, flags, ends, nb, perm, sg, sx, sb, BLOCK=FLAT_BLOCK)
    _flat_rewards_kernel[grid](group_ids, ids, n, flags, perm, sg, sx, sb, starts, values, starts.numel() - 1, out,
                               BLOCK=FLAT_BLOCK)
    return out
