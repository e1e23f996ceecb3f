"""Cross-process answer ids for trainers whose groups straddle processes (claim C8 adapters).

A frequency reward needs the whole group. When a trainer splits a group across processes (TRL
does when the per-process batch is not a multiple of the group size), each process turns its
answers into *global* ids (a stable 63-bit hash of the normalised answer, so equal answers get
equal ids on every process without a shared vocabulary), and one ``all_gather`` of a small int64
tensor gives every process the ids of the whole batch.

Agreeing on the layout first
----------------------------
``all_gather`` needs every process to send a tensor of the same size, and to call it at all: with
different sizes gloo aborts ("Received data size doesn't match") or waits until the other process
exits, and a process that calls alone waits for the process-group timeout (30 minutes by default).
So every call starts with :func:`agree_layout`: one ``all_gather`` of **one int64** per process (its
sample count, group-size hint and whether it passes prompts, packed with a layout mark), waited for
at most ``timeout`` seconds. Every process then holds the same list of headers, so every process
takes the same decision (gather or score locally) and raises the same error when the layout does
not fit; a process whose partners do not call within ``timeout`` raises instead of hanging.

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
from datetime import timedelta
from typing import Sequence

import torch

__all__ = ["answer_hash", "hash_keys", "Layout", "GatheredBatch", "agree_layout", "gather_keys", "world_of",
           "HINT_MAX", "N_MAX"]

_MASK63 = (1 << 63) - 1
#: layout mark in the top bits of the packed header (version 2: one int64 per process)
_MAGIC = 0x0A1F
N_MAX = (1 << 32) - 1  #: largest sample count per process a header carries
HINT_MAX = (1 << 17) - 1  #: largest group-size hint a header carries


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


def _pack(n: int, hint: int, has_prompts: bool) -> int:
    if not 0 <= n <= N_MAX:
        raise ValueError(f"a process can score at most {N_MAX} completions per call, got {n}")
    if not 0 <= hint <= HINT_MAX:
        raise ValueError(f"group-size hint must be in [0, {HINT_MAX}], got {hint}")
    return (_MAGIC << 50) | (int(has_prompts) << 49) | (hint << 32) | n


def _unpack(v: int) -> tuple[int, int, int, bool]:
    return v >> 50, v & N_MAX, (v >> 32) & HINT_MAX, bool((v >> 49) & 1)


@dataclass(frozen=True)
class Layout:
    """What :func:`agree_layout` returns, identical on every process: per rank (in rank order) the sample
    count, the group-size hint (0 = none) and whether it passes prompts; this process's rank."""
    counts: tuple
    hints: tuple
    prompts: tuple
    rank: int
    bytes_sent: int = 8

    @property
    def world(self) -> int:
        return len(self.counts)

    def check(self) -> None:
        """Raise the same ValueError on every process when the processes disagree on the layout."""
        if len(set(self.counts)) != 1:
            raise ValueError(f"processes disagree on the batch layout: completions per rank {list(self.counts)} "
                             f"(every process must score the same number of completions in one call, as TRL's "
                             f"GRPOTrainer does)")
        if len(set(self.prompts)) != 1:
            raise ValueError(f"some processes passed prompts and others did not (ranks with prompts: "
                             f"{[r for r, p in enumerate(self.prompts) if p]}); pass prompts on every process")
        if len(set(self.hints)) != 1:
            raise ValueError(f"processes disagree on the group size (trainer modes differ across ranks: "
                             f"{list(self.hints)})")


def _all_gather(local: torch.Tensor, world: int, group, timeout: float | None, what: str) -> list:
    """``all_gather`` of ``local``, waited for at most ``timeout`` seconds (None: the group's own timeout)."""
    dist = torch.distributed
    parts = [torch.empty_like(local) for _ in range(world)]
    try:
        if timeout is None:
            dist.all_gather(parts, local, group=group)
        else:
            work = dist.all_gather(parts, local, group=group, async_op=True)
            work.wait(timeout=timedelta(seconds=float(timeout)))
    except RuntimeError as exc:
        late = "" if timeout is None else f" within {timeout:g} s of each other (sync_timeout)"
        raise RuntimeError(
            f"{what}: rank {dist.get_rank(group)} of {world} waited for the other processes and the collective "
            f"failed ({exc}). Every process of the group must call the reward function for the same batch{late}; "
            f"a process that calls alone, or while the others are in another collective, ends here") from exc
    return [p.cpu() for p in parts]


def agree_layout(n: int, *, hint: int = 0, has_prompts: bool = False, group=None,
                 timeout: float | None = None) -> Layout:
    """One ``all_gather`` of one int64 per process: the sample count ``n``, the group-size ``hint`` and
    whether prompts are passed, packed with a layout mark. Every process gets the same :class:`Layout`.

    ``timeout``: seconds to wait for the other processes (None: the process group's timeout); past it, a
    RuntimeError says that the processes did not all call.
    """
    where = world_of(group)
    if where is None:
        raise RuntimeError("agree_layout needs torch.distributed initialised with more than one process")
    rank, world = where
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    local = torch.tensor([_pack(int(n), int(hint), bool(has_prompts))], dtype=torch.int64)
    parts = _all_gather(local.to(_collective_device(group)), world, group, timeout, "agreeing on the batch layout")
    headers = [_unpack(int(p[0])) for p in parts]
    if any(h[0] != _MAGIC for h in headers):
        raise ValueError(f"processes disagree on the collective: rank(s) "
                         f"{[r for r, h in enumerate(headers) if h[0] != _MAGIC]} sent something other than the "
                         f"reward function's layout header (different alft versions, or another collective)")
    return Layout(counts=tuple(h[1] for h in headers), hints=tuple(h[2] for h in headers),
                  prompts=tuple(h[3] for h in headers), rank=rank)


@dataclass(frozen=True)
class GatheredBatch:
    """What :func:`gather_keys` returns: every process's rows, in rank order.

    ``answer_ids`` and ``prompt_ids`` are int64 tensors [N] over the whole batch (N = world x n);
    ``prompt_ids`` is None when no process sent prompts. ``offset`` is where this process's rows
    start, ``hints`` the per-process group-size hint (0 = none), ``bytes_sent`` / ``bytes_received``
    the payload this process sent to / received from the two collectives (layout and gather).
    """
    answer_ids: torch.Tensor
    prompt_ids: torch.Tensor | None
    offset: int
    n_local: int
    hints: list[int]
    bytes_sent: int = 0
    bytes_received: int = 0


def gather_keys(answer_ids: Sequence[int], prompt_ids: Sequence[int] | None, *, layout: Layout | None = None,
                hint: int = 0, none: str = "distinct", group=None, timeout: float | None = None) -> GatheredBatch:
    """The answer (and prompt) ids of every process: one ``all_gather`` of ``n`` or ``2n`` int64 each.

    ``layout``: the agreed :class:`Layout` (from :func:`agree_layout` with the same ``n``, hint and prompts);
    None agrees on it here first. Processes that disagree on the layout raise the same ValueError. With
    ``none="distinct"`` every None answer (id -1) gets its own negative id -(1 + its global position).
    """
    if none not in ("distinct", "same"):
        raise ValueError(f"none must be 'distinct' or 'same', got {none!r}")
    n = len(answer_ids)
    if prompt_ids is not None and len(prompt_ids) != n:
        raise ValueError(f"prompt_ids has {len(prompt_ids)} entries but answer_ids has {n}")
    if layout is None:
        layout = agree_layout(n, hint=hint, has_prompts=prompt_ids is not None, group=group, timeout=timeout)
    layout.check()
    if layout.counts[layout.rank] != n or layout.prompts[layout.rank] != (prompt_ids is not None):
        raise ValueError("gather_keys: the layout was agreed for another batch (internal error)")
    width = 2 * n if prompt_ids is not None else n
    local = torch.zeros(width, dtype=torch.int64)
    if n:
        local[:n] = torch.tensor(list(answer_ids), dtype=torch.int64)
        if prompt_ids is not None:
            local[n:] = torch.tensor(list(prompt_ids), dtype=torch.int64)
    parts = _all_gather(local.to(_collective_device(group)), layout.world, group, timeout, "gathering the answers")
    ans = torch.cat([p[:n] for p in parts])
    if none == "distinct":
        unparsed = (ans == -1).nonzero().reshape(-1)
        ans[unparsed] = -(1 + unparsed)
    prompts = torch.cat([p[n:] for p in parts]) if prompt_ids is not None else None
    size = local.element_size()
    return GatheredBatch(answer_ids=ans, prompt_ids=prompts, offset=layout.rank * n, n_local=n,
                         hints=list(layout.hints), bytes_sent=layout.bytes_sent + width * size,
                         bytes_received=layout.bytes_sent * layout.world + width * size * layout.world)
