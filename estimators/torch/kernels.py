"""Group-reward kernels in vectorised torch, identical code on CPU and CUDA (claim C8).

Every estimator is a table g of K numbers indexed by the leave-one-out count
C_i = #{j != i in the same group : z_j = z_i} (docs/theory.md, section 2). The kernels compute the
counts of a whole batch of groups with no Python loop over groups and apply the table with one
gather.

Two layouts
-----------
dense      ``ids`` [B, K], one group per row, optional bool ``mask`` [B, K] for ragged groups.
flattened  ``ids`` [N] with ``group_ids`` [N] (the verl layout: groups need not be contiguous).

Tables
------
``table`` may be

* an :class:`estimators.Table` (the table API; its group size K must match every group),
* a 1-D floating torch tensor or numpy array of K entries (a *raw* table; no metadata),
* a mapping ``{group_size: table}`` or a callable ``group_size -> table`` for ragged groups.

A group whose size has no table is an error, never broadcast.

Rewards and the dropped constant
--------------------------------
A table estimates ``generator.target_text`` (e.g. ``log p`` for KL); the generator's reward
phi'(p) differs from it by ``generator.dropped_constant`` (``+1`` for KL). Additive constants do
not change the game or the group-relative advantage, so by default the kernels return
``g(C)`` exactly as the table stores it (``add_constant=False``); ``add_constant=True`` returns
``g(C) + dropped_constant`` (only for :class:`~estimators.Table` inputs, which know the constant).

Rewards are gathered from the float64 table, the constant added in float64, and the sum is
rounded once to the output dtype: a float32 reward is the correctly rounded float64 reward.
The kernels are deterministic (integer sorting and counting, one gather).

On CUDA, with Triton importable, ``group_rewards`` and ``group_rewards_flat`` take the fused path of
:mod:`estimators.torch.fused` (same bits, no host synchronisation; ``backend=`` forces a path and
``validate=`` opts into the checks that read device values).
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import torch

from ..table import Table
from .tensors import check_device, check_representable, table_cache, table_values

__all__ = [
    "group_rewards", "group_rewards_flat", "leave_one_out_counts", "leave_one_out_counts_flat",
    "answers_to_ids", "normalize_answer", "table_values", "PAIRWISE_MAX_K", "SCATTER_MAX_CELLS", "check_device",
]

#: dense inputs with K <= PAIRWISE_MAX_K use the O(B K^2) pairwise comparison, larger K the
#: O(N log N) sort-based path (both are exact; tests check they agree).
PAIRWISE_MAX_K = 64

_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


# ----------------------------------------------------------------------------- validation

def _check_ids(ids, ndim: int, name: str = "ids") -> torch.Tensor:
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name} must be an integer torch.Tensor, got {type(ids).__name__}")
    if ids.device.type == "meta":
        raise ValueError(f"{name} is on the 'meta' device, which holds no data: counts need real ids (cpu, cuda)")
    if ids.dtype not in _INT_DTYPES:
        raise TypeError(f"{name} must be an integer tensor (int8/16/32/64 or uint8), got dtype {ids.dtype}")
    if ids.dim() != ndim:
        shape = "[B, K]" if ndim == 2 else "[N]"
        raise ValueError(f"{name} must have shape {shape} ({ndim}-D), got shape {tuple(ids.shape)}")
    return ids


def _check_flat(ids, group_ids) -> tuple[torch.Tensor, torch.Tensor]:
    ids = _check_ids(ids, 1)
    group_ids = _check_ids(group_ids, 1, name="group_ids")
    if group_ids.shape != ids.shape:
        raise ValueError(f"group_ids must have the shape of ids {tuple(ids.shape)}, got {tuple(group_ids.shape)}")
    _check_same_device(group_ids, ids, "group_ids")
    return ids, group_ids


_DENSE_METHODS = ("auto", "scatter", "pairwise", "sort")
_FLAT_METHODS = ("auto", "scatter", "sort")


def _check_method(method, allowed: tuple) -> str:
    if not isinstance(method, str) or method not in allowed:
        raise ValueError(f"method must be one of {', '.join(repr(m) for m in allowed)}, got {method!r}")
    return method


def _check_flag(value, name: str) -> bool:
    """A bool argument: True/False (numpy bools too), never a string or a number standing for one."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")


def _check_out_dtype(dtype, default: torch.dtype) -> torch.dtype:
    if dtype is None:
        return default
    if dtype not in _FLOAT_DTYPES:
        raise TypeError(f"dtype must be a floating torch dtype (float16/bfloat16/float32/float64), got {dtype!r}")
    return dtype


def _check_same_device(t: torch.Tensor, ref: torch.Tensor, name: str, ref_name: str = "ids"):
    if t.device != ref.device:
        raise ValueError(f"{name} is on device {t.device} but {ref_name} is on {ref.device}; "
                         f"move them to the same device (no implicit transfers)")


# ----------------------------------------------------------------------------- tables

def _shifted_table(table, K: int, device, out_dtype, add_constant: bool) -> torch.Tensor:
    """``[0, g(0) + c, ..., g(K-1) + c]`` rounded once to ``out_dtype`` (indexed by count + 1).

    Rounding each float64 entry once gives the same result as gathering in float64 and rounding.
    Cached per (device, dtype, add_constant) for Table inputs.
    """
    key = ("shifted", torch.device(device), out_dtype, bool(add_constant))
    if isinstance(table, Table):
        per = table_cache(table)
        if key in per:
            if per[key].numel() != K + 1:
                raise ValueError(f"table has K = {per[key].numel() - 1} entries but ids has groups of size "
                                 f"K = {K} (no broadcasting)")
            return per[key]
    vals, const = table_values(table, device=device)
    if vals.numel() != K:
        raise ValueError(f"table has K = {vals.numel()} entries but ids has groups of size K = {K} "
                         f"(no broadcasting)")
    if add_constant and const is None:
        raise ValueError("add_constant=True needs an estimators.Table (a raw tensor table has no generator, "
                         "hence no dropped constant)")
    shifted = torch.cat([vals.new_zeros(1), vals + (const if add_constant else 0.0)])
    check_representable(shifted, out_dtype)
    out = shifted.to(out_dtype)
    if isinstance(table, Table):
        per[key] = out
    return out


def _lookup(table, sizes: list[int], device, add_constant: bool):
    """Build the compact lookup for every group size in ``sizes``.

    Returns ``(lut, row_of_size, consts)``: ``lut`` [S, Kmax] float64, ``row_of_size`` [Kmax + 1]
    int64 (-1 where no table), ``consts`` [S] float64 (added when ``add_constant``).
    """
    if isinstance(table, Table) or isinstance(table, (torch.Tensor, np.ndarray, list, tuple)):
        vals, const = table_values(table, device=device)
        K = vals.numel()
        wrong = sorted(s for s in sizes if s != K)
        if wrong:
            raise ValueError(
                f"table has K = {K} entries but the batch has group size(s) {wrong[:8]}; pass a mapping "
                f"{{group_size: table}} or a callable group_size -> table for ragged groups (no broadcasting)")
        per = {K: (vals, const)}
    elif isinstance(table, Mapping) or callable(table):
        per = {}
        for s in sizes:
            if isinstance(table, Mapping):
                if s not in table:
                    raise ValueError(f"table has no entry for group size {s} (sizes with tables: "
                                     f"{sorted(table)[:16]}); every group size in the batch needs a table")
                t = table[s]
            else:
                t = table(s)
                if t is None:
                    raise ValueError(f"table callable returned None for group size {s}")
            vals, const = table_values(t, device=device, name=f"table[{s}]")
            if vals.numel() != s:
                raise ValueError(f"table[{s}] has {vals.numel()} entries; a table for group size {s} needs {s}")
            per[s] = (vals, const)
    else:
        table_values(table, device=device)  # raises the TypeError naming `table`
        raise AssertionError  # pragma: no cover
    if add_constant:
        missing = [s for s, (_, c) in per.items() if c is None]
        if missing:
            raise ValueError("add_constant=True needs estimators.Table inputs (a raw tensor/array table has no "
                             "generator, hence no dropped constant)")
    order = sorted(per)
    kmax = max(order)
    lut = torch.zeros((len(order), kmax), dtype=torch.float64, device=device)
    consts = torch.zeros(len(order), dtype=torch.float64, device=device)
    row_of_size = torch.full((kmax + 1,), -1, dtype=torch.int64, device=device)
    for r, s in enumerate(order):
        vals, const = per[s]
        lut[r, :s] = vals
        consts[r] = (const or 0.0) if add_constant else 0.0
        row_of_size[s] = r
    return lut, row_of_size, consts


# ----------------------------------------------------------------------------- counts

def _run_lengths(keys_sorted: list[torch.Tensor], n: int, device) -> torch.Tensor:
    """Length of the run each sorted position belongs to (runs of equal key tuples)."""
    new = torch.ones(n, dtype=torch.bool, device=device)
    if n > 1:
        diff = torch.zeros(n - 1, dtype=torch.bool, device=device)
        for k in keys_sorted:
            diff |= k[1:] != k[:-1]
        new[1:] = diff
    run = torch.cumsum(new.to(torch.int64), 0) - 1
    # run lengths from the run starts (no bincount: it has no deterministic CUDA implementation)
    starts = torch.nonzero(new).reshape(-1)
    ends = torch.cat([starts[1:], starts.new_tensor([n])])
    return (ends - starts)[run]


def _flat_counts_unchecked(ids: torch.Tensor, group_ids: torch.Tensor, method: str = "auto"
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Leave-one-out counts and group sizes for [N] ids/group ids.

    ``scatter`` path (auto, when group-id range x id range is small): counters per (group, id).
    ``sort`` path: one sort of the combined key (group - min) * R + (id - min) when it fits in int64
    (ranges computed in Python integers), else the pair (group_id, id) is sorted lexicographically
    with two stable sorts; ids anywhere in the int64 range are safe.
    """
    n = ids.numel()
    dev = ids.device
    if n == 0:
        z = torch.zeros(0, dtype=torch.int64, device=dev)
        return z, z.clone()
    if method in ("auto", "scatter"):
        gplan = _scatter_plan(group_ids, 1)
        if gplan is not None:
            gmn, G = gplan
            plan = _scatter_plan(ids, G)
            if plan is not None:
                gi = group_ids.to(torch.int64)
                if gmn:
                    gi = gi - gmn
                counts = (_scatter_counts_plus_one(ids, gi, G, *plan) - 1).to(torch.int64)
                gsize = torch.zeros(G, dtype=torch.int64, device=dev).scatter_add_(0, gi, torch.ones_like(gi))
                return counts, gsize.index_select(0, gi)
    elif method != "sort":
        raise ValueError(f"method must be 'auto', 'scatter' or 'sort', got {method!r}")
    gmn, gmx = torch.stack(torch.aminmax(group_ids)).tolist()
    mn, mx = torch.stack(torch.aminmax(ids)).tolist()
    G, R = int(gmx) - int(gmn) + 1, int(mx) - int(mn) + 1  # Python integers: no overflow
    if G * R < (1 << 62):  # one sort of the combined key (it fits in int64)
        key = (group_ids.to(torch.int64) - gmn) * R + (ids.to(torch.int64) - mn)
        skey, order = torch.sort(key)
        cnt_sorted = _run_lengths([skey], n, dev) - 1
        size_sorted = _run_lengths([skey // R], n, dev)
        counts = torch.empty(n, dtype=torch.int64, device=dev)
        sizes = torch.empty(n, dtype=torch.int64, device=dev)
        counts[order] = cnt_sorted
        sizes[order] = size_sorted
        return counts, sizes
    o1 = torch.argsort(ids, stable=True)
    o2 = torch.argsort(group_ids[o1], stable=True)
    order = o1[o2]
    g_s = group_ids[order]
    a_s = ids[order]
    cnt_sorted = _run_lengths([g_s, a_s], n, dev) - 1
    size_sorted = _run_lengths([g_s], n, dev)
    counts = torch.empty(n, dtype=torch.int64, device=dev)
    sizes = torch.empty(n, dtype=torch.int64, device=dev)
    counts[order] = cnt_sorted
    sizes[order] = size_sorted
    return counts, sizes


def _check_mask(mask, ids: torch.Tensor) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a bool torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor, got dtype {mask.dtype}")
    if mask.shape != ids.shape:
        raise ValueError(f"mask must have the shape of ids {tuple(ids.shape)}, got {tuple(mask.shape)} "
                         f"(no broadcasting)")
    _check_same_device(mask, ids, "mask")
    return mask


#: the scatter ("bincount") counting path is used when the id range per group times the number
#: of groups stays below this many counters (and below 8 counters per sample)
SCATTER_MAX_CELLS = 1 << 22


def _scatter_plan(ids: torch.Tensor, n_groups: int):
    """(min id, id range R) when a dense counter array of n_groups * R cells is affordable, else None.

    The range is computed in Python integers, so ids anywhere in the int64 range cannot overflow.
    """
    if ids.numel() == 0:
        return None
    mn, mx = torch.stack(torch.aminmax(ids)).tolist()
    R = int(mx) - int(mn) + 1
    if n_groups * R > min(SCATTER_MAX_CELLS, 8 * ids.numel() + 4096):
        return None
    return int(mn), R


def _scatter_counts_plus_one(ids: torch.Tensor, group_index: torch.Tensor | None, n_groups: int, mn: int,
                             R: int, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Number of samples in the same group with the same id, *including* the sample itself.

    ``group_index`` (same shape as ids, values in [0, n_groups)) or None for dense rows.
    Only called when n_groups * R is small, so ``ids - mn`` lies in [0, R) without overflow.
    """
    key = ids.to(torch.int64)
    if mn:
        key = key - mn
    if group_index is None:  # dense [B, K]: row b owns cells [b R, (b + 1) R)
        key = key + torch.arange(0, n_groups * R, R, device=ids.device, dtype=torch.int64).unsqueeze(1)
    else:
        key = key + group_index * R
    flat = key.reshape(-1)
    # int32 counters (counts <= K < 2^31): half the memory traffic of int64, measurably faster on CPU
    cnt = torch.zeros(n_groups * R, dtype=torch.int32, device=ids.device)
    src = torch.ones(flat.shape, dtype=torch.int32, device=ids.device) if mask is None \
        else mask.reshape(-1).to(torch.int32)  # masked samples add 0
    cnt.scatter_add_(0, flat, src)
    return cnt.index_select(0, flat).view(key.shape)  # int32; index_select: the fastest 1-D gather


def _dense_counts(ids: torch.Tensor, mask: torch.Tensor | None, method: str, *, plus_one: bool = False
                  ) -> torch.Tensor:
    B, K = ids.shape
    plan = None
    if method == "auto":
        plan = _scatter_plan(ids, B)
        method = "scatter" if plan is not None else ("pairwise" if K <= PAIRWISE_MAX_K else "sort")
    if method == "scatter":
        plan = plan or _scatter_plan(ids, B)
        if plan is None:  # range too wide for counters: exact fallback
            return _dense_counts(ids, mask, "pairwise" if K <= PAIRWISE_MAX_K else "sort", plus_one=plus_one)
        c1 = _scatter_counts_plus_one(ids, None, B, *plan, mask=mask)
        if mask is not None:
            c1 = c1.masked_fill(~mask, 0)  # -> count -1 for masked entries
        return c1 if plus_one else (c1 - 1).to(torch.int64)
    if method == "pairwise":
        eq = ids.unsqueeze(2) == ids.unsqueeze(1)
        if mask is not None:
            eq &= mask.unsqueeze(1)
        counts = eq.sum(dim=2, dtype=torch.int64) - 1
    elif method == "sort":
        rows = torch.arange(B, device=ids.device, dtype=torch.int64).unsqueeze(1).expand(B, K)
        if mask is None:
            counts, _ = _flat_counts_unchecked(ids.reshape(-1), rows.reshape(-1), "sort")
            counts = counts.view(B, K)
        else:
            c, _ = _flat_counts_unchecked(ids[mask], rows[mask], "sort")
            counts = torch.full((B, K), -1, dtype=torch.int64, device=ids.device)
            counts[mask] = c
    else:
        raise ValueError(f"method must be 'auto', 'scatter', 'pairwise' or 'sort', got {method!r}")
    if mask is not None:
        counts = counts.masked_fill(~mask, -1)
    return counts + 1 if plus_one else counts


def leave_one_out_counts(ids, mask=None, *, method: str = "auto") -> torch.Tensor:
    """Leave-one-out counts C_i for a dense batch ``ids`` [B, K] (int64 tensor [B, K]).

    ``mask`` (bool [B, K], optional): True marks valid samples; counts only count valid samples,
    masked entries get ``-1``. ``method``: ``"pairwise"`` (O(B K^2)), ``"sort"`` (O(BK log BK)) or
    ``"scatter"`` (counters per group and id, when the id range is small),
    ``"auto"`` (scatter when affordable, else pairwise for K <= PAIRWISE_MAX_K, else sort).
    C8: equal to the reference counts exactly.
    """
    ids = _check_ids(ids, 2)
    if mask is not None:
        mask = _check_mask(mask, ids)
    return _dense_counts(ids, mask, method)


def leave_one_out_counts_flat(ids, group_ids, *, method: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Leave-one-out counts and group sizes for the flattened layout.

    ``ids`` [N] answer ids, ``group_ids`` [N] group of each sample (any integers, groups need not
    be contiguous). Returns ``(counts, group_sizes)``, both int64 [N]. ``method``: ``"scatter"``
    (counters, used by ``"auto"`` when the id and group-id ranges are small) or ``"sort"``.
    """
    ids, group_ids = _check_flat(ids, group_ids)
    _check_method(method, _FLAT_METHODS)
    return _flat_counts_unchecked(ids, group_ids, method)


# ----------------------------------------------------------------------------- rewards

def _default_dtype(table) -> torch.dtype:
    if isinstance(table, torch.Tensor) and table.is_floating_point():
        return table.dtype
    return torch.get_default_dtype()


def group_rewards(ids, table, mask=None, *, dtype: torch.dtype | None = None, add_constant: bool = False,
                  method: str = "auto", backend: str = "auto", validate: bool | None = None) -> torch.Tensor:
    """Rewards ``g(C_i)`` for a dense batch of groups (claim C8 kernel).

    Parameters
    ----------
    ids : integer tensor [B, K]
        Answer ids, one group per row (equal ids = equal answers). Any int dtype and range.
    table : Table, 1-D float tensor/array, mapping {group_size: table} or callable
        Without ``mask`` every group has size K and needs a K-entry table. With ``mask`` a row's
        group size is its number of valid samples; give a table per size (mapping/callable) when
        sizes differ.
    mask : bool tensor [B, K], optional
        True for valid samples. Every row needs at least 2 valid samples. Masked entries get
        reward 0 and are not counted.
    dtype : floating torch dtype, optional
        Output dtype; default: the dtype of ``table`` when it is a floating tensor, else
        ``torch.get_default_dtype()`` (float32).
    add_constant : bool
        Add ``generator.dropped_constant`` (e.g. +1 for KL) so the reward estimates phi'(p)
        rather than the table's target. Default False (constants do not change the game).
    method : "auto" | "scatter" | "pairwise" | "sort"
        Counting algorithm of the torch path (all exact); the fused path takes "auto" only.
    backend : "auto" | "torch" | "triton"
        "auto": the fused Triton kernel for CUDA ids when Triton is importable and method is "auto",
        else the torch path (:mod:`estimators.torch.fused`). Both return the same bits.
    validate : bool, optional
        Check what needs the device's values (every row has >= 2 valid samples and a table for its
        size; a raw tensor table is finite and fits ``dtype``). Default: True except on the fused
        path, where it would cost a host synchronisation; there an unchecked group with no table gets
        NaN rewards (see :mod:`estimators.torch.fused`). The torch path always checks.

    Returns
    -------
    Tensor [B, K] of ``dtype`` on ``ids.device``.
    """
    ids = _check_ids(ids, 2)
    add_constant = _check_flag(add_constant, "add_constant")
    out_dtype = _check_out_dtype(dtype, _default_dtype(table))
    _check_method(method, _DENSE_METHODS)
    B, K = ids.shape
    if mask is None and K < 2:
        raise ValueError(f"ids must have K >= 2 samples per group (shape [B, K]), got K = {K}")
    if mask is not None:
        mask = _check_mask(mask, ids)
    if fused.use_fused(ids.device, backend, method):
        check = _check_flag(validate, "validate") if validate is not None else False
        return fused.dense_rewards(ids, table, mask, out_dtype=out_dtype, add_constant=add_constant,
                                   validate=check, torch_path=lambda: group_rewards(
                                       ids, table, mask, dtype=out_dtype, add_constant=add_constant,
                                       backend="torch"))
    if validate is not None:
        _check_flag(validate, "validate")
    if mask is None:
        if isinstance(table, (Table, torch.Tensor)):  # fast path: one table, one gather
            shifted = _shifted_table(table, K, ids.device, out_dtype, add_constant)
            c1 = _dense_counts(ids, None, method, plus_one=True)
            return shifted.index_select(0, c1.reshape(-1)).view(B, K)
        lut, row_of_size, consts = _lookup(table, [K], ids.device, add_constant)
        check_representable(lut + consts[:, None], out_dtype)
        counts = _dense_counts(ids, None, method)
        return (lut[0][counts] + consts[0]).to(out_dtype)
    sizes = mask.sum(dim=1, dtype=torch.int64)
    if B == 0:
        return torch.zeros((0, K), dtype=out_dtype, device=ids.device)
    small = sizes < 2
    if bool(small.any()):
        r = int(small.nonzero()[0, 0])
        raise ValueError(f"mask row {r} has {int(sizes[r])} valid sample(s); every group needs at least 2 "
                         f"(drop the row or unmask more samples)")
    uniq = sorted(int(s) for s in torch.unique(sizes).tolist())
    lut, row_of_size, consts = _lookup(table, uniq, ids.device, add_constant)
    check_representable(lut + consts[:, None], out_dtype)
    counts = _dense_counts(ids, mask, method)
    rows = row_of_size[sizes].unsqueeze(1).expand(B, K)
    vals = lut[rows, counts.clamp_min(0)] + consts[rows]
    vals = vals.masked_fill(~mask, 0.0)
    return vals.to(out_dtype)


def group_rewards_flat(ids, group_ids, table, *, dtype: torch.dtype | None = None, add_constant: bool = False,
                       method: str = "auto", backend: str = "auto", validate: bool | None = None) -> torch.Tensor:
    """Rewards ``g(C_i)`` for the flattened layout (claim C8 kernel; verl-style batches).

    Parameters
    ----------
    ids : integer tensor [N]
        Answer id of each sample.
    group_ids : integer tensor [N]
        Group (prompt) of each sample; groups may be interleaved and of different sizes.
        Every group needs at least 2 samples.
    table : Table, 1-D float tensor/array, mapping {group_size: table} or callable
        A single table when every group has its size; otherwise one per group size.
    dtype, add_constant, backend, validate : as in :func:`group_rewards`.
    method : "auto" | "scatter" | "sort"
        Counting algorithm of the torch path (both exact); the fused path takes "auto" only.

    Returns
    -------
    Tensor [N] of ``dtype`` on ``ids.device``.
    """
    ids, group_ids = _check_flat(ids, group_ids)
    add_constant = _check_flag(add_constant, "add_constant")
    out_dtype = _check_out_dtype(dtype, _default_dtype(table))
    _check_method(method, _FLAT_METHODS)
    if fused.use_fused(ids.device, backend, method):
        check = _check_flag(validate, "validate") if validate is not None else False
        out = fused.flat_rewards(ids, group_ids, table, out_dtype=out_dtype, add_constant=add_constant,
                                 validate=check, torch_path=lambda: group_rewards_flat(
                                     ids, group_ids, table, dtype=out_dtype, add_constant=add_constant,
                                     backend="torch"))
        if out is not None:
            return out
    elif validate is not None:
        _check_flag(validate, "validate")
    counts, sizes = _flat_counts_unchecked(ids, group_ids, method)
    if counts.numel() == 0:
        return torch.zeros(0, dtype=out_dtype, device=ids.device)
    if isinstance(table, (Table, torch.Tensor)):  # fast path: one table, one gather, one check
        K = len(table) if isinstance(table, Table) else table.numel()
        if bool((sizes != K).any()):
            i = int((sizes != K).nonzero()[0, 0])
            if int(sizes[i]) < 2:
                raise ValueError(f"group_ids: group {int(group_ids[i])} has only {int(sizes[i])} sample; every "
                                 f"group needs at least 2")
            raise ValueError(f"table has K = {K} entries but group_ids: group {int(group_ids[i])} has "
                             f"{int(sizes[i])} samples; pass a mapping {{group_size: table}} or a callable for "
                             f"ragged groups (no broadcasting)")
        if table.dim() != 1 if isinstance(table, torch.Tensor) else False:
            raise ValueError(f"table must be one-dimensional (K entries), got shape {tuple(table.shape)}")
        return _shifted_table(table, K, ids.device, out_dtype, add_constant).index_select(0, counts + 1)
    small = sizes < 2
    if bool(small.any()):
        i = int(small.nonzero()[0, 0])
        raise ValueError(f"group_ids: group {int(group_ids[i])} has only {int(sizes[i])} sample; every group "
                         f"needs at least 2")
    uniq = sorted(int(s) for s in torch.unique(sizes).tolist())
    lut, row_of_size, consts = _lookup(table, uniq, ids.device, add_constant)
    check_representable(lut + consts[:, None], out_dtype)
    rows = row_of_size[sizes]
    vals = lut[rows, counts] + consts[rows]
    return vals.to(out_dtype)


# the fused GPU path (imports Triton only when a call can use it); imported last because it uses this
# module's table helpers
from . import fused  # noqa: E402


# ----------------------------------------------------------------------------- text -> ids

def normalize_answer(text: str) -> str:
    """A basic normalisation hook: strip, collapse internal whitespace, lower-case,
    drop a trailing period and surrounding ``$``. Pass your own to :func:`answers_to_ids`."""
    s = " ".join(str(text).split()).lower()
    s = s.strip("$ ").rstrip(".").strip()
    return s


def answers_to_ids(answers, normalize: Callable[[str], str] | None = None, *, group_ids=None, device=None,
                   none: str = "distinct") -> torch.Tensor:
    """Map answer strings to int64 ids (equal normalised strings get equal ids).

    ``answers``: a list of strings (-> [N]) or a list of equal-length lists (-> [B, K]).
    ``normalize``: hook applied to each string first (default: identity; see
    :func:`normalize_answer`). ``None`` answers (unparseable) get a fresh id each
    (``none="distinct"``, count 0) or one shared id (``none="same"``).
    Ids are assigned in order of first appearance, starting at 0: over the whole list for the flat
    form, per row for the nested form, per group when ``group_ids`` (one label per answer, flat form
    only) is given. Per-group ids are small, which lets the kernels use their fastest counting path
    (equality only matters inside a group).
    """
    if none not in ("distinct", "same"):
        raise ValueError(f"none must be 'distinct' or 'same', got {none!r}")
    if isinstance(answers, (str, bytes)):
        raise TypeError("answers must be a list of strings (or a list of lists), not a single string")
    answers = list(answers)
    nested = bool(answers) and all(isinstance(a, (list, tuple)) for a in answers)
    if nested:
        widths = {len(a) for a in answers}
        if len(widths) != 1:
            raise ValueError(f"answers: nested lists must all have the same length (got lengths {sorted(widths)}); "
                             f"pad and pass a mask to group_rewards for ragged groups")
        flat = [x for row in answers for x in row]
    else:
        flat = answers
    def encode(items):
        known: dict[str, int] = {}
        out: list[int | None] = []
        for a in items:
            if a is not None and not isinstance(a, str):
                raise TypeError(f"answers must be strings or None, got {type(a).__name__}")
            key = None if a is None else (normalize(a) if normalize is not None else a)
            out.append(None if key is None else known.setdefault(key, len(known)))
        # None answers: ids after every real answer's id, so they never collide
        nxt = len(known)
        res = []
        for v in out:
            if v is None:
                res.append(nxt)
                if none == "distinct":
                    nxt += 1
            else:
                res.append(v)
        return res

    if nested:  # per-group ids in [0, K): only equality inside a group matters
        if group_ids is not None:
            raise ValueError("group_ids applies to the flat form only (nested rows are already groups)")
        final = [i for row in answers for i in encode(row)]
    elif group_ids is not None:
        labels = group_ids.tolist() if isinstance(group_ids, torch.Tensor) else list(group_ids)
        if len(labels) != len(flat):
            raise ValueError(f"group_ids has {len(labels)} entries but answers has {len(flat)}")
        members: dict = {}
        for i, g in enumerate(labels):
            members.setdefault(g, []).append(i)
        final = [0] * len(flat)
        for idx in members.values():
            for i, v in zip(idx, encode([flat[i] for i in idx])):
                final[i] = v
    else:
        final = encode(flat)
    t = torch.tensor(final, dtype=torch.int64, device=device)
    if nested:
        t = t.view(len(answers), -1)
    return t
