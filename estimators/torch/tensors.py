"""A table's entries as a float64 tensor on a device, and the device checks (claim C8).

Shared by the torch path (:mod:`.kernels`) and the fused GPU path (:mod:`.fused`), so neither imports the
other's module to read a table.
"""
from __future__ import annotations

import numbers
import weakref

import numpy as np
import torch

from ..table import Table

__all__ = ["table_values", "table_cache", "check_representable", "check_device", "same_device"]


def check_device(device, *, name: str = "device") -> torch.device:
    """A usable torch device (default CPU), or a ValueError naming ``name`` (unknown names, CUDA when
    it is not available, the data-less 'meta' device)."""
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got {device!r}") from exc
    if dev.type == "meta":
        raise ValueError(f"{name} 'meta' holds no data; use a real device (cpu, cuda)")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name} {device!r} requested but torch.cuda.is_available() is False")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name} {device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    return dev


def same_device(actual: torch.device, requested) -> bool:
    """True when a tensor on ``actual`` lives on the ``requested`` device ("cuda" matches the current
    CUDA device, "cuda:1" only device 1)."""
    req = torch.device(requested)
    if actual.type != req.type:
        return False
    if req.index is None:
        return actual.index is None or actual.type != "cuda" or actual.index == torch.cuda.current_device()
    return actual.index == req.index or (actual.index is None and req.index == 0)


def check_representable(vals: torch.Tensor, out_dtype: torch.dtype, name: str = "table") -> None:
    """A table whose finite float64 entries overflow ``out_dtype`` is an error, never +-inf rewards
    (reads the entries: a synchronisation when they are on a GPU)."""
    if out_dtype == torch.float64 or vals.numel() == 0:
        return
    big = float(vals.abs().max())
    limit = float(torch.finfo(out_dtype).max)
    if big > limit:
        raise ValueError(f"{name} has entries up to {big:.4g} in magnitude, beyond the range of the output dtype "
                         f"{str(out_dtype).split('.')[-1]} (max {limit:.4g}): request dtype=torch.float64")



# Tables are immutable: their tensors (per device, dtype, ...) are cached, keyed weakly by the Table.
_TABLE_CACHE: "weakref.WeakKeyDictionary[Table, dict]" = weakref.WeakKeyDictionary()


def table_cache(table: Table) -> dict:
    """The cache of ``table``'s tensors (a dict kept while the table lives; keys chosen by the caller)."""
    return _TABLE_CACHE.setdefault(table, {})


def _table_tensor(table: Table, device) -> torch.Tensor:
    dev = torch.device(device) if device is not None else torch.device("cpu")
    per = table_cache(table)
    t = per.get(dev)
    if t is None:
        t = torch.tensor(np.array(table.values, dtype=np.float64), device=dev)
        per[dev] = t
    return t


def _is_real_number(v) -> bool:
    """Numbers are numbers: bools (and numpy bools), strings and complex values are not."""
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def table_values(table, *, device=None, name: str = "table", check_finite: bool = True
                 ) -> tuple[torch.Tensor, float | None]:
    """Return ``(values, dropped_constant)`` of one table as a float64 tensor on ``device``.

    ``dropped_constant`` is None for a raw tensor/array (which carries no generator).
    A raw tensor already on another device than ``device`` raises (no implicit transfers).
    ``check_finite=False`` skips the finiteness check of a raw table, which reads its entries (a
    host synchronisation for a tensor on a GPU).
    """
    if isinstance(table, Table):
        return _table_tensor(table, device), float(table.generator.dropped_constant)
    if isinstance(table, torch.Tensor):
        if not table.is_floating_point():
            raise TypeError(f"{name} must be a floating tensor of table entries, got dtype {table.dtype}")
        if table.device.type == "meta":
            raise ValueError(f"{name} is on the 'meta' device, which holds no data")
        if device is not None and not same_device(table.device, device):
            raise ValueError(f"{name} is on device {table.device} but ids are on {torch.device(device)}; "
                             f"move them to the same device (no implicit transfers)")
        vals = table.detach().to(torch.float64)
    elif isinstance(table, np.ndarray) or (isinstance(table, (list, tuple)) and table
                                           and all(_is_real_number(v) for v in table)):
        arr = np.asarray(table)
        if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        vals = torch.as_tensor(arr.astype(np.float64), device=device)
    elif isinstance(table, (list, tuple)) and table:
        i, bad = next((i, v) for i, v in enumerate(table) if not _is_real_number(v))
        raise TypeError(f"{name} must hold real numbers; entry {i} is {bad!r} ({type(bad).__name__}): strings, "
                        f"bools and complex values are not table entries")
    else:
        raise TypeError(f"{name} must be an estimators.Table, a 1-D float tensor/array, a mapping "
                        f"{{group_size: table}} or a callable group_size -> table; got {type(table).__name__}")
    if vals.dim() != 1:
        raise ValueError(f"{name} must be one-dimensional (K entries), got shape {tuple(vals.shape)}")
    if vals.numel() < 2:
        raise ValueError(f"{name} must have K >= 2 entries, got {vals.numel()}")
    if check_finite and not bool(torch.isfinite(vals).all()):
        bad = int((~torch.isfinite(vals)).nonzero()[0, 0])
        raise ValueError(f"{name} must be finite; entry {bad} is {float(vals[bad])!r} (NaN or inf in a table)")
    return vals, None
