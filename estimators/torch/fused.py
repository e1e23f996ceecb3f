"""The fused GPU path of the group-reward kernels (claim C8): when it is used, and its lookups.

:func:`estimators.torch.group_rewards` and :func:`~estimators.torch.group_rewards_flat` take the
fused path (:mod:`estimators.torch.triton_kernels`) when ``backend="auto"``, the ids are on a CUDA
device, Triton is importable and ``method="auto"``; everywhere else they run the plain-torch path.
Both return the same bits for valid input (tests and ``alft crosscheck`` check it).

No host synchronisation
-----------------------
The fused path reads no device value back to the host, so a call can be captured in a CUDA graph:

* tables are turned into a *lookup* (``starts`` int64 [KM + 1], ``values`` in the output dtype: the
  float64 ``g(c) + constant`` rounded once) that is cached on the device for :class:`~estimators.Table`
  inputs and mappings of them (the first call per device and dtype copies it there);
* checks that need device values (every group has a table, raw tensor tables are finite and fit the
  output dtype) run only with ``validate=True``, which costs one synchronisation. Without them a
  group that no table serves (fewer than 2 samples, or a size with no table) gets NaN rewards, and a
  non-finite or overflowing raw table gives non-finite rewards. With ``validate=True`` a NaN in the
  result is diagnosed by the torch path, which raises its usual error.

A callable table (``size -> table``) needs the group sizes on the host: with a mask the dense call
reads them (one synchronisation); the flattened call takes the torch path. Pass a mapping
``{size: table}`` to stay on the device.
"""
from __future__ import annotations

import numbers
import os
import weakref
from typing import Mapping

import numpy as np
import torch

from ..table import Table
from .tensors import check_representable, table_values

__all__ = ["BACKENDS", "triton_available", "use_fused", "lookup", "dense_rewards", "flat_rewards"]

#: accepted values of the kernels' ``backend`` argument
BACKENDS = ("auto", "torch", "triton")

_TRITON: dict = {}


def _triton_kernels():
    """The Triton kernel module, or None when Triton cannot be imported (the reason is kept)."""
    if "module" not in _TRITON:
        try:
            from . import triton_kernels
            _TRITON["module"] = triton_kernels
        except Exception as exc:  # noqa: BLE001 - any import failure means: no fused path
            _TRITON["module"] = None
            _TRITON["reason"] = f"{type(exc).__name__}: {exc}"
    return _TRITON["module"]


def triton_available() -> tuple[bool, str]:
    """(whether the fused kernels can run, why not). Imports Triton on first use."""
    mod = _triton_kernels()
    return (mod is not None, "" if mod is not None else _TRITON.get("reason", "triton is not importable"))


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def use_fused(device: torch.device, backend: str, method: str) -> bool:
    """Whether a call with these arguments takes the fused path (raises for an impossible request)."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "torch":
        return False
    if backend == "auto":
        return method == "auto" and device.type == "cuda" and _triton_kernels() is not None
    ok, why = triton_available()
    if not ok:
        raise ValueError(f"backend='triton' needs Triton, which cannot be imported here ({why}); "
                         f"use backend='auto' or 'torch'")
    if device.type != "cuda" and not _interpreting():
        raise ValueError(f"backend='triton' needs CUDA tensors (ids are on {device}) or Triton's interpreter "
                         f"(TRITON_INTERPRET=1)")
    if method != "auto":
        raise ValueError(f"method={method!r} names a torch counting path; backend='triton' takes method='auto'")
    return True


# ----------------------------------------------------------------------------- lookups

_SINGLE: "weakref.WeakKeyDictionary[Table, dict]" = weakref.WeakKeyDictionary()
_MAPPED: dict = {}      # (device, dtype, add_constant, ((size, Table), ...)) -> (starts, values, tables)
_STARTS: dict = {}      # (device, sizes) -> starts
_MAPPED_MAX = 64


def _starts(sizes: tuple[int, ...], device) -> torch.Tensor:
    """int64 [max(sizes) + 1]: where each served size's table begins in the concatenated values."""
    key = (torch.device(device), sizes)
    st = _STARTS.get(key)
    if st is None:
        arr = np.full(max(sizes) + 1, -1, dtype=np.int64)
        arr[list(sizes)] = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        st = torch.as_tensor(arr, device=device)
        if len(_STARTS) > _MAPPED_MAX:
            _STARTS.clear()
        _STARTS[key] = st
    return st


def _served(table, limit: int | None) -> list[tuple[int, object]]:
    """(size, table) pairs of a mapping that a group can use: int sizes in [2, limit]."""
    out = []
    for s, t in table.items():
        if isinstance(s, numbers.Integral) and not isinstance(s, bool) and 2 <= int(s) and \
                (limit is None or int(s) <= limit):
            out.append((int(s), t))
    if not out:
        raise ValueError(f"table has no entry for a group size in [2, {limit}] (sizes with tables: "
                         f"{sorted(table, key=str)[:16]}); every group size in the batch needs a table")
    return sorted(out, key=lambda st: st[0])


def _table_lookup(pairs, device, out_dtype, add_constant: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Lookup from (size, Table) pairs: built on the host in float64, rounded on the device."""
    vals = []
    for s, t in pairs:
        if len(t) != s:
            raise ValueError(f"table[{s}] has {len(t)} entries; a table for group size {s} needs {s}")
        v = np.array(t.values, dtype=np.float64)
        if add_constant:
            v = v + float(t.generator.dropped_constant)
        vals.append(v)
    flat = np.concatenate(vals)
    check_representable(torch.as_tensor(flat), out_dtype)
    values = torch.as_tensor(flat, device=device).to(out_dtype)
    return _starts(tuple(s for s, _ in pairs), device), values


def _tensor_lookup(pairs, device, out_dtype, add_constant: bool, validate: bool):
    """Lookup from raw tables (tensors, arrays, lists): device ops only for tensors on the device."""
    if add_constant:
        raise ValueError("add_constant=True needs estimators.Table inputs (a raw tensor/array table has no "
                         "generator, hence no dropped constant)")
    vals = []
    for s, t in pairs:
        name = "table" if len(pairs) == 1 else f"table[{s}]"
        v, _ = table_values(t, device=device, name=name, check_finite=validate)
        if v.numel() != s:
            raise ValueError(f"{name} has {v.numel()} entries; a table for group size {s} needs {s}")
        vals.append(v)
    flat = vals[0] if len(vals) == 1 else torch.cat(vals)
    if validate:
        check_representable(flat, out_dtype)
    return _starts(tuple(s for s, _ in pairs), device), flat.to(out_dtype)


def lookup(table, *, K: int | None, limit: int | None, device, out_dtype: torch.dtype, add_constant: bool,
           validate: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(starts, values)`` for ``table``: one table (Table, tensor, array, list; it serves its own
    size) or a mapping ``{size: table}`` (sizes in [2, limit] are used). ``K`` is the size a single
    table must have when the batch fixes it (dense without mask), else None."""
    dev = torch.device(device)
    if isinstance(table, Mapping):
        pairs = _served(table, limit)
        if all(isinstance(t, Table) for _, t in pairs):
            key = (dev, out_dtype, bool(add_constant), tuple((s, id(t)) for s, t in pairs))
            hit = _MAPPED.get(key)
            if hit is None:
                if len(_MAPPED) >= _MAPPED_MAX:
                    _MAPPED.pop(next(iter(_MAPPED)))
                hit = (*_table_lookup(pairs, dev, out_dtype, add_constant), [t for _, t in pairs])
                _MAPPED[key] = hit
            return hit[0], hit[1]
        return _tensor_lookup(pairs, dev, out_dtype, add_constant, validate)
    if isinstance(table, Table):
        n = len(table)
        if K is not None and n != K:
            raise ValueError(f"table has K = {n} entries but ids has groups of size K = {K} (no broadcasting)")
        per = _SINGLE.setdefault(table, {})
        key = (dev, out_dtype, bool(add_constant))
        if key not in per:
            per[key] = _table_lookup([(n, table)], dev, out_dtype, add_constant)
        return per[key]
    n = _raw_size(table)
    if K is not None and n != K:
        raise ValueError(f"table has K = {n} entries but ids has groups of size K = {K} (no broadcasting)")
    return _tensor_lookup([(n, table)], dev, out_dtype, add_constant, validate)


def _raw_size(table) -> int:
    """Entries of a raw table (checked in full by table_values); 0 for what is no table at all."""
    if isinstance(table, torch.Tensor):
        return int(table.shape[0]) if table.dim() == 1 else -1
    if isinstance(table, (np.ndarray, list, tuple)):
        return len(table)
    table_values(table)  # raises the TypeError naming `table`
    raise AssertionError  # pragma: no cover


# ----------------------------------------------------------------------------- entry points

def _nan_found(out: torch.Tensor) -> bool:
    return bool(torch.isnan(out).any())  # the one synchronisation of validate=True


def dense_rewards(ids, table, mask, *, out_dtype, add_constant: bool, validate: bool, torch_path):
    """Fused dense rewards; ``torch_path()`` recomputes on the torch path to raise its error when a
    validated result holds NaN."""
    tk = _triton_kernels()
    B, K = ids.shape
    if callable(table) and not isinstance(table, (Table, Mapping, torch.Tensor)):
        sizes = [K] if mask is None else sorted(int(s) for s in torch.unique(mask.sum(dim=1)).tolist())
        table = {s: table(s) for s in sizes if s >= 2}
        if not table:
            return torch_path()  # rows with < 2 samples: the torch path raises
        for s, t in table.items():
            if t is None:
                raise ValueError(f"table callable returned None for group size {s}")
    single = not isinstance(table, Mapping)
    starts, values = lookup(table, K=K if (single and mask is None) else None, limit=K, device=ids.device,
                            out_dtype=out_dtype, add_constant=add_constant, validate=validate)
    out = tk.dense_rewards(ids.contiguous(), None if mask is None else mask.contiguous(), starts, values)
    if validate and _nan_found(out):
        torch_path()
        raise ValueError("group_rewards: some group has no table (NaN rewards) although the torch path accepts "
                         "the batch; please report this")
    return out


def flat_rewards(ids, group_ids, table, *, out_dtype, add_constant: bool, validate: bool, torch_path):
    """Fused flattened rewards (None for a callable table: the caller takes the torch path)."""
    if callable(table) and not isinstance(table, (Table, Mapping, torch.Tensor)):
        return None
    tk = _triton_kernels()
    starts, values = lookup(table, K=None, limit=None, device=ids.device, out_dtype=out_dtype,
                            add_constant=add_constant, validate=validate)
    out = tk.flat_rewards(ids.contiguous(), group_ids.contiguous(), starts, values)
    if validate and _nan_found(out):
        torch_path()
        raise ValueError("group_rewards_flat: some group has no table (NaN rewards) although the torch path "
                         "accepts the batch; please report this")
    return out
