"""Monte Carlo harness in torch, on any device (claim C8); mirrors :mod:`estimators.montecarlo`.

Same statistics as the reference harness: groups of K i.i.d. answers are drawn from ``probs``
(inverse-CDF sampling with a seeded ``torch.Generator`` on the device), leave-one-out counts are
computed from the answer arrays by the production kernel, the table is applied, and per answer z
the group sums S1 = sum_{i: z_i = z} g(C_i), S2 = sum g(C_i)^2 are accumulated. The CLT over groups
gives Bonferroni-corrected normal intervals for B_g(p) and V_g(p). The result is the reference's
:class:`~estimators.montecarlo.MonteCarloResult`, so ``result.compare(exact_mean, exact_var)`` works.

``dtype`` is the dtype the rewards are produced in (float32 = what a production kernel emits);
the accumulation is always float64. The random stream differs from numpy's, so torch and numpy
runs agree statistically (both intervals contain the exact moments), not sample by sample;
:func:`group_sums` on *given* answers agrees with the numpy computation to float64 rounding.
"""
from __future__ import annotations

import numpy as np
import torch

from .._validate import check_K, check_positive_int, check_unit_interval_open
from ..montecarlo import (MAX_BYTES, GroupMoments, MonteCarloResult, batch_for_memory, check_answer_distribution,
                          check_min_expected, check_seed)
from ..table import Table
from .kernels import check_device, group_rewards

__all__ = ["sample_groups", "group_sums", "monte_carlo"]


def sample_groups(probs, K: int, n_groups: int, generator: torch.Generator, *, device=None) -> torch.Tensor:
    """Draw ``n_groups`` groups of K i.i.d. answer ids (int64 [n_groups, K]) from ``probs`` on ``device``."""
    q = check_answer_distribution(probs)
    K = check_K(K)
    n_groups = check_positive_int(n_groups, name="n_groups")
    cdf = torch.as_tensor(np.cumsum(q), dtype=torch.float64, device=device)
    cdf[-1] = 1.0
    u = torch.rand((n_groups, K), generator=generator, dtype=torch.float64, device=device)
    return torch.searchsorted(cdf, u, right=True).clamp_max_(q.size - 1)


def group_sums(ids: torch.Tensor, rewards: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per group and answer: S1[b, z] = sum_{i: ids[b,i] = z} r[b,i] and S2 (sum of squares), float64.

    CPU: ``scatter_add_`` (sequential, deterministic). Other devices: a one-hot contraction
    (deterministic, no floating-point atomics).
    """
    r = rewards.to(torch.float64)
    if ids.device.type == "cpu":
        s1 = torch.zeros((ids.shape[0], m), dtype=torch.float64).scatter_add_(1, ids, r)
        s2 = torch.zeros((ids.shape[0], m), dtype=torch.float64).scatter_add_(1, ids, r * r)
        return s1, s2
    onehot = (ids.unsqueeze(2) == torch.arange(m, device=ids.device)).to(torch.float64)
    s1 = torch.einsum("bkm,bk->bm", onehot, r)
    s2 = torch.einsum("bkm,bk->bm", onehot, r * r)
    return s1, s2


def monte_carlo(table: Table, probs, n_groups: int, *, seed: int, alpha: float = 1e-3, batch: int = 65536,
                min_expected: float = 200.0, device=None, dtype: torch.dtype = torch.float64,
                max_bytes: int = MAX_BYTES) -> MonteCarloResult:
    """Estimate B_g(p) and V_g(p) for every answer by simulating ``n_groups`` groups in torch.

    Parameters as :func:`estimators.montecarlo.monte_carlo`, plus ``device`` (default CPU) and
    ``dtype`` (reward dtype: torch.float64 or torch.float32). Reproducible for a given seed, device
    and batch.
    """
    if not isinstance(table, Table):
        raise TypeError(f"table must be an estimators.Table, got {type(table).__name__}")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    q = check_answer_distribution(probs)
    n_groups = check_positive_int(n_groups, name="n_groups", minimum=2)
    alpha = check_unit_interval_open(alpha, name="alpha")
    batch = check_positive_int(batch, name="batch")
    seed = check_seed(seed)
    min_expected = check_min_expected(min_expected)
    max_bytes = check_positive_int(max_bytes, name="max_bytes")
    dev = check_device(device)
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed))
    K, m = table.K, q.size
    batch = batch_for_memory(K, m, batch, max_bytes)
    batch = max(1, min(batch, (1 << 23) // (K * m)))  # bounds the [b, K, m] one-hot
    acc = GroupMoments(m)
    done = 0
    while done < n_groups:
        b = min(batch, n_groups - done)
        ids = sample_groups(q, K, b, gen, device=dev)
        r = group_rewards(ids, table, dtype=dtype)
        s1, s2 = group_sums(ids, r, m)
        mu = torch.stack([s1.mean(0), s2.mean(0)])
        d1, d2 = s1 - mu[0], s2 - mu[1]
        C = torch.stack([(d1 * d1).sum(0), (d2 * d2).sum(0), (d1 * d2).sum(0)])
        acc.merge(b, mu.cpu().numpy(), C.cpu().numpy())  # centred batch statistics, merged on the host
        done += b
    return acc.finish(q, K, alpha=alpha, min_expected=min_expected, seed=seed,
                      note=f"torch on {dev} (rewards in {str(dtype).split('.')[-1]}, float64 accumulation): ")
