"""One table per group size for the trainer adapters (claim C8).

Trainers score groups of several sizes (TRL's evaluation group size, verl groups that lost a
failed rollout). An :class:`~estimators.Table` knows how it was built, so the adapters rebuild it
for another size with the same generator, method and parameters; a mapping ``{size: table}`` or a
callable ``size -> table`` is asked; a raw array serves its own size only. Every table is checked
against the size it serves (no broadcasting).
"""
from __future__ import annotations

from typing import Mapping

import torch

from ..table import Table
from .tensors import table_values

__all__ = ["table_for_size", "TablePerSize"]


def _rebuild(table: Table, K: int) -> Table:
    from ..methods import build_table  # the method registry; imported on first use only
    return build_table(table.generator, table.method, K, **dict(table.params))


def table_for_size(table, K: int):
    """The table that scores groups of ``K`` samples; raises ValueError when there is none or its
    size is not ``K``."""
    if isinstance(table, Table):
        out = table if len(table) == K else _rebuild(table, K)
    elif isinstance(table, Mapping):
        if K not in table:
            raise ValueError(f"table has no entry for group size {K} (sizes with tables: {sorted(table)})")
        out = table[K]
    elif callable(table) and not isinstance(table, torch.Tensor):
        out = table(K)
        if out is None:
            raise ValueError(f"table callable returned None for group size {K}")
    else:
        out = table
    vals, _ = table_values(out, name=f"table for group size {K}")
    if vals.numel() != K:
        raise ValueError(f"table has K = {vals.numel()} entries but groups have {K} samples; pass an "
                         f"estimators.Table (rebuilt per size) or a mapping {{group size: table}}")
    return out


class TablePerSize:
    """Callable ``size -> table`` over :func:`table_for_size`, caching each size's table."""

    def __init__(self, table):
        self.table = table
        self._cache: dict[int, object] = {}

    def __call__(self, K: int):
        if K not in self._cache:
            self._cache[K] = table_for_size(self.table, K)
        return self._cache[K]
