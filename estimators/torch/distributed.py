"""Cross-process answer ids for trainers whose groups straddle processes (claim C8 adapters).

A frequency reward needs the whole group. When a trainer splits a group across processes (TRL
does when the per-process batch is not a multiple of the group size), each process turns its
answers into *global* ids (a stable 63-bit hash of the normalised answer, so equal answers get
equal ids on every process without a shared vocabulary), and one ``all_gather`` of a small int64
tensor gives every process the ids of the whole batch.

Hash ids and collisions
-----------------------
Two different answers collide with probability 2**-63 per pair; a group of K answers has at most
K(K-1)/2 pairs, so a group of 64 answers is mis-counted with probability below 2.2e-16. Unparseable
answers (None) never take a hash: they get negative ids, distinct per sample (``none="distinct"``)
or one shared id (``none="same"``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import torch

__all__ = ["answer_hash", "hash_keys", "GatheredBatch", "gather_keys", "world_of"]

_MASK63 = (1 << 63) - 1
#: first entry of the header row: marks the layout of the gathered tensor (version 1)
_MAGIC = 0x414C4654_0001  # "ALFT", layout 1


def answer_hash(key: str) -> int:
    """Stable non-negative 63-bit id of a string (BLAKE2b, identical on every process and run)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & _MASK63


def hash_keys(keys: Sequence[str | None]) -> list[int]:
    """Hash ids of ``keys``; None (an unparseable answer) becomes -1, resolved by :func:`gather_keys`."""
    return [-1 if k is None else answer_hash(k) for k in keys]


def world_of(group=None) -> tuple[int, int] | None:
    """``(rank, world_size)`` when torch.distributed is initialised with more than one process, else None."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return None
    world = dist.get_world_size(group)
    if world <= 1:
        return None
    return dist.get_rank(group), world


def _collective_device(group) -> torch.device:
    backend = str(torch.distributed.get_backend(group)).lower()
    if "nccl" in backend:  # NCCL moves CUDA tensors only
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


@dataclass(frozen=True)
class GatheredBatch:
    """What one ``all_gather`` returns: every process's rows, in rank order.

    ``answer_ids`` and ``prompt_ids`` are int64 tensors [N] over the whole batch (N = world x n);
    ``prompt_ids`` is None when no process sent prompts. ``offset`` is where this process's rows
    start, ``hints`` the per-process group-size hint (0 = none), ``bytes_sent`` / ``bytes_received``
    the payload this process sent to / received from the collective.
    """
    answer_ids: torch.Tensor
    prompt_ids: torch.Tensor | None
    offset: int
    n_local: int
    hints: list[int]
    bytes_sent: int = 0
    bytes_received: int = 0


def gather_keys(answer_ids: Sequence[int], prompt_ids: Sequence[int] | None, *, hint: int = 0,
                none: str = "distinct", group=None) -> GatheredBatch:
    """One ``all_gather`` of ``4 + 2n`` int64 per process: a header (layout mark, n, group-size hint,
    has-prompts), then the n answer ids and the n prompt ids (zeros when there are no prompts).

    Every process must pass the same number of samples (TRL's layout: one slice of the same size
    per process); the header lets every process check that all processes agree on the layout, and
    raise the same clear error otherwise. With ``none="distinct"`` every None answer (id -1) gets
    its own negative id -(1 + its global position).
    """
    if none not in ("distinct", "same"):
        raise ValueError(f"none must be 'distinct' or 'same', got {none!r}")
    where = world_of(group)
    if where is None:
        raise RuntimeError("gather_keys needs torch.distributed initialised with more than one process")
    rank, world = where
    n = len(answer_ids)
    if prompt_ids is not None and len(prompt_ids) != n:
        raise ValueError(f"prompt_ids has {len(prompt_ids)} entries but answer_ids has {n}")
    local = torch.zeros(4 + 2 * n, dtype=torch.int64)
    local[:4] = torch.tensor([_MAGIC, n, int(hint), int(prompt_ids is not None)])
    if n:
        local[4:4 + n] = torch.tensor(list(answer_ids), dtype=torch.int64)
        if prompt_ids is not None:
            local[4 + n:] = torch.tensor(list(prompt_ids), dtype=torch.int64)
    local = local.to(_collective_device(group))
    parts = [torch.empty_like(local) for _ in range(world)]
    torch.distributed.all_gather(parts, local, group=group)
    parts = [p.cpu() for p in parts]
    headers = [p[:4].tolist() for p in parts]
    if any(h[0] != _MAGIC for h in headers) or any(h[1] != n for h in headers):
        raise ValueError(f"processes disagree on the batch layout: sample counts per rank "
                         f"{[h[1] for h in headers]} (every process must score the same number of completions)")
    if len({h[3] for h in headers}) != 1:
        raise ValueError("some processes passed prompts and others did not; pass prompts on every process")
    ans = torch.cat([p[4:4 + n] for p in parts])
    if none == "distinct":
        unparsed = (ans == -1).nonzero().reshape(-1)
        ans[unparsed] = -(1 + unparsed)
    prompts = torch.cat([p[4 + n:] for p in parts]) if headers[0][3] else None
    return GatheredBatch(answer_ids=ans, prompt_ids=prompts, offset=rank * n, n_local=n,
                         hints=[h[2] for h in headers], bytes_sent=local.numel() * local.element_size(),
                         bytes_received=sum(p.numel() * p.element_size() for p in parts))
