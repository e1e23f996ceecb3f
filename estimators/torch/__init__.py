"""Torch engines for alft-verify (claim C8): group-reward kernels, on-device exact moments and
Monte Carlo, the kernel cross-check harness and trainer adapters.

Importing :mod:`estimators` never imports torch; importing :mod:`estimators.torch` does.
The same code runs on CPU and CUDA.

Kernels::

    from estimators import build_table
    from estimators.torch import group_rewards, group_rewards_flat, answers_to_ids
    table = build_table("kl", "jackknife", 16)
    rewards = group_rewards(ids, table)                 # ids: int tensor [B, 16] -> [B, 16]
    rewards = group_rewards_flat(ids, group_ids, table) # ids, group_ids: [N] -> [N]

Submodules: ``kernels`` (the above), ``fused`` and ``triton_kernels`` (the fused CUDA path the kernels
take when Triton is importable), ``moments`` (exact moments in torch), ``montecarlo``
(Monte Carlo in torch), ``tensors`` (a table's entries on a device, the device checks), ``trl`` and ``verl`` (trainer adapters,
re-exported by ``adapters``), ``trainer_settings`` (which advantage each TRL / verl setting makes, and
the table that goes with it, C9), ``verl_settings`` (the ``alft`` block of verl runs), ``verl_manager``
(verl's legacy rollout manager; imports verl), ``verl_v1`` (verl's v1 replay buffer; imports verl and
TransferQueue), ``distributed`` (layout agreement and cross-process answer ids), ``table_sizes`` (one
table per group size). The conformance harness of ``alft crosscheck`` is a test tool and lives beside its
command line (``proofs_numeric.crosscheck``).
"""
try:
    import torch as _torch  # noqa: F401  (the real torch: absolute import)
except ImportError as exc:  # pragma: no cover
    raise ImportError("estimators.torch needs PyTorch; install it with `pip install alft-verify[torch]`") from exc

from .adapters import (add_group_rewards, place_at_last_token, trl_reward_function, verl_answer_scorer,
                       verl_group_ids, verl_group_rewards)
from .kernels import (PAIRWISE_MAX_K, answers_to_ids, group_rewards, group_rewards_flat, leave_one_out_counts,
                      leave_one_out_counts_flat, normalize_answer, table_values)

__all__ = [
    "group_rewards", "group_rewards_flat", "answers_to_ids", "normalize_answer", "leave_one_out_counts",
    "leave_one_out_counts_flat", "table_values", "PAIRWISE_MAX_K", "trl_reward_function", "verl_group_ids",
    "verl_group_rewards", "place_at_last_token", "verl_answer_scorer", "add_group_rewards",
]
