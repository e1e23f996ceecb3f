"""The project's group-reward kernels under the crosscheck contract ``fn(ids, table)`` (claim C8).

``alft crosscheck proofs_numeric.crosscheck.kernels:flat_kernel`` checks the flattened kernel (groups
interleaved), ``...:dense_kernel`` the dense one; the ``_torch`` and ``_triton`` forms force a path.
"""
from __future__ import annotations

import torch

__all__ = ["dense_kernel", "flat_kernel", "flat_kernel_contiguous", "dense_kernel_torch", "dense_kernel_triton",
           "flat_kernel_torch", "flat_kernel_triton", "flat_kernel_contiguous_triton"]


def dense_kernel(ids, table, mask=None):
    """The project's dense kernel under the crosscheck contract (``estimators.torch.group_rewards``)."""
    from estimators.torch.kernels import group_rewards
    return group_rewards(ids, table, mask)


def flat_kernel(ids, table, *, backend: str = "auto"):
    """The project's flattened kernel under the crosscheck contract: the batch is flattened, its
    groups interleaved by a fixed permutation and given non-contiguous group ids, then restored."""
    from estimators.torch.kernels import group_rewards_flat
    B, K = ids.shape
    n = B * K
    gen = torch.Generator().manual_seed(12345)
    perm = torch.randperm(n, generator=gen).to(ids.device)
    gids = (torch.arange(B, device=ids.device) * 7 - 3).repeat_interleave(K)
    out = group_rewards_flat(ids.reshape(-1)[perm], gids[perm], table, backend=backend)
    res = torch.empty_like(out)
    res[perm] = out
    return res.view(B, K)


def flat_kernel_contiguous(ids, table, *, backend: str = "auto"):
    """The flattened kernel on the batch as trainers lay it out: each group one run, increasing ids."""
    from estimators.torch.kernels import group_rewards_flat
    B, K = ids.shape
    gids = (torch.arange(B, device=ids.device) * 7 - 3).repeat_interleave(K)
    return group_rewards_flat(ids.reshape(-1), gids, table, backend=backend).view(B, K)


# the same kernels with the path forced (``alft crosscheck proofs_numeric.crosscheck.kernels:dense_kernel_triton``):
# the fused path needs CUDA tensors or TRITON_INTERPRET=1, the torch path runs anywhere

def dense_kernel_torch(ids, table, mask=None):
    """:func:`dense_kernel` on the plain-torch path."""
    from estimators.torch.kernels import group_rewards
    return group_rewards(ids, table, mask, backend="torch")


def dense_kernel_triton(ids, table, mask=None):
    """:func:`dense_kernel` on the fused Triton path."""
    from estimators.torch.kernels import group_rewards
    return group_rewards(ids, table, mask, backend="triton")


def flat_kernel_torch(ids, table):
    """:func:`flat_kernel` on the plain-torch path."""
    return flat_kernel(ids, table, backend="torch")


def flat_kernel_triton(ids, table):
    """:func:`flat_kernel` (interleaved groups: the bucketed layout) on the fused Triton path."""
    return flat_kernel(ids, table, backend="triton")


def flat_kernel_contiguous_triton(ids, table):
    """:func:`flat_kernel_contiguous` (the in-place run scan) on the fused Triton path."""
    return flat_kernel_contiguous(ids, table, backend="triton")
