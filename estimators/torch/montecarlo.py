"""Monte Carlo harness in torch, on any device (claim C8); mirrors :mod:`estimators.montecarlo`.

Same statistics as the reference harness: groups of K i.i.d. answers are drawn from ``probs``
(inverse-CDF sampling with a seeded ``torch.Generator`` on the device), leave-one-out counts are
computed from the answer arrays by the production kernel, the table is applied, and per answer z
the group sums S1 = sum_{i: z_i = z} g(C_i), S2 = sum g(C_i)^2 are accumulated. The CLT over groups
gives Bonferroni-corrected normal intervals for B_g(p) and V_g(p). The result is the reference's
:class:`~estimators.montecarlo.MonteCarloResult`, so ``result.compare(exact_mean, exact_var)`` works.

Two engines give the same statistics:

* ``engine="kernel"`` (default): every sampled answer goes through the production kernel
  (:func:`~estimators.torch.group_rewards`), and per-answer group sums are formed from its rewards;
* ``engine="counts"``: only each group's answer counts n_z are formed. All n_z samples of answer z
  share the leave-one-out count n_z - 1, so S1 = n_z g(n_z - 1) and S2 = n_z g(n_z - 1)^2 exactly: no
  per-sample rewards, a few passes over the sampled answers, which on a GPU reaches 10^10 groups in
  seconds to minutes (the C8 full profile on CUDA). It checks the exact moments independently of the
  kernel; the kernel engine checks the kernel too.

``dtype`` is the dtype the rewards are produced in (float32 = what a production kernel emits);
the accumulation is always float64. The random stream differs from numpy's, so torch and numpy
runs agree statistically (both intervals contain the exact moments), not sample by sample;
:func:`group_sums` on *given* answers agrees with the numpy computation to float64 rounding.
"""
from __future__ import annotations

import numpy as np
import torch

from .._validate import check_K, check_positive_int, check_unit_interval_open
from ..montecarlo import (MAX_BYTES, MAX_SAMPLES, GroupMoments, MonteCarloResult, batch_for_memory,
                          check_answer_distribution, check_min_expected, check_seed, check_work)
from ..table import Table
from .kernels import check_device, group_rewards

__all__ = ["sample_groups", "group_sums", "answer_counts", "count_sums", "monte_carlo", "ENGINES"]

#: Monte Carlo engines: per-sample rewards through the kernel, or per-group answer counts
ENGINES = ("kernel", "counts")


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


def answer_counts(ids: torch.Tensor, m: int) -> torch.Tensor:
    """n[b, z] = #{i : ids[b, i] = z} (int32 [b, m]): one comparison pass per answer, no atomics."""
    return torch.stack([(ids == z).sum(dim=1, dtype=torch.int32) for z in range(m)], dim=1)


def count_sums(counts: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """S1 = n g(n - 1) and S2 = n g(n - 1)^2 per group and answer from the answer counts ``n`` [b, m]
    and the table ``g`` (float64 [K], rewards already in the requested dtype), float64."""
    present = counts > 0
    r = torch.where(present, g[(counts - 1).clamp_min(0).long()], torch.zeros((), dtype=g.dtype, device=g.device))
    n = counts.to(torch.float64)
    return n * r, n * r * r


def _batch_stats(s1: torch.Tensor, s2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch means [2, m] and centred sums [3, m] (S1S1, S2S2, S1S2) on the device, float64."""
    mu = torch.stack([s1.mean(0), s2.mean(0)])
    d1, d2 = s1 - mu[0], s2 - mu[1]
    return mu, torch.stack([(d1 * d1).sum(0), (d2 * d2).sum(0), (d1 * d2).sum(0)])


def monte_carlo(table: Table, probs, n_groups: int, *, seed: int, alpha: float = 1e-3, batch: int | None = None,
                min_expected: float = 200.0, device=None, dtype: torch.dtype = torch.float64,
                max_bytes: int = MAX_BYTES, engine: str = "kernel", progress=None,
                max_samples: int = MAX_SAMPLES) -> MonteCarloResult:
    """Estimate B_g(p) and V_g(p) for every answer by simulating ``n_groups`` groups in torch.

    Parameters as :func:`estimators.montecarlo.monte_carlo`, plus ``device`` (default CPU),
    ``dtype`` (reward dtype: torch.float64 or torch.float32), ``engine`` ("kernel" or "counts", see
    the module docstring) and ``progress`` (a callable ``progress(done, n_groups)`` called after each
    batch), and the work budget ``max_samples`` (n_groups * K sampled answers, default
    :data:`estimators.montecarlo.MAX_SAMPLES`; raise it for larger runs). ``batch`` (groups per batch)
    defaults to 65536 for the kernel engine and 2^22 for the
    counts engine, within ``max_bytes``. Reproducible for a given seed, device, engine and batch.
    """
    if not isinstance(table, Table):
        raise TypeError(f"table must be an estimators.Table, got {type(table).__name__}")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    if not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable progress(done, n_groups) or None, got {type(progress).__name__}")
    if batch is None:
        batch = 65536 if engine == "kernel" else 1 << 22
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
    check_work(n_groups, K, max_samples)
    batch = batch_for_memory(K, m, batch, max_bytes)
    if engine == "kernel":
        batch = max(1, min(batch, (1 << 23) // (K * m)))  # bounds the [b, K, m] one-hot
    g = torch.as_tensor(np.array(table.values, dtype=np.float64), device=dev).to(dtype).to(torch.float64)
    acc = GroupMoments(m)
    done = 0
    while done < n_groups:
        b = min(batch, n_groups - done)
        ids = sample_groups(q, K, b, gen, device=dev)
        if engine == "kernel":
            s1, s2 = group_sums(ids, group_rewards(ids, table, dtype=dtype), m)
        else:
            s1, s2 = count_sums(answer_counts(ids, m), g)
        mu, C = _batch_stats(s1, s2)
        acc.merge(b, mu.cpu().numpy(), C.cpu().numpy())  # centred batch statistics, merged on the host
        done += b
        if progress is not None:
            progress(done, n_groups)
    how = "rewards through the kernel" if engine == "kernel" else "per-group answer counts"
    return acc.finish(q, K, alpha=alpha, min_expected=min_expected, seed=seed,
                      note=f"torch on {dev} ({how}, rewards in {str(dtype).split('.')[-1]}, float64 accumulation): ")
