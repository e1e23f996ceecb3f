"""Trainer adapters for the group-reward kernels (claim C8): TRL's GRPOTrainer and verl batches.

TRL
---
:func:`trl_reward_function` returns a callable with the signature TRL's ``GRPOTrainer`` uses for
custom reward functions: it is called as
``reward_func(prompts=prompts, completions=completions, completion_ids=completion_ids, **reward_kwargs)``
(extra dataset columns and ``trainer_state`` arrive in ``reward_kwargs``) and returns one float
per completion. Completions of one prompt are contiguous, ``num_generations`` per group. ::

    from trl import GRPOTrainer
    from estimators import build_table
    from estimators.torch.adapters import trl_reward_function

    diversity = trl_reward_function(build_table("kl", "jackknife", 8), num_generations=8,
                                    extract_answer=my_answer_parser, scale=-beta)
    trainer = GRPOTrainer(model=..., reward_funcs=[correctness, diversity],
                          args=GRPOConfig(num_generations=8, ...), train_dataset=...)

The group must be complete inside one call: this holds when each process's generation batch
holds whole groups (TRL's sampler repeats each prompt ``num_generations`` times consecutively;
keep the per-process batch a multiple of ``num_generations``). The adapter checks, when prompts
are given, that every block of ``num_generations`` shares one prompt, and raises otherwise.

verl
----
verl batches are flat: sample i belongs to the group ``batch.non_tensor_batch["uid"][i]`` and groups
are not contiguous. :func:`verl_group_ids` maps uids to integer group ids,
:func:`verl_group_rewards` computes the rewards of a whole batch with
:func:`~estimators.torch.group_rewards_flat`, and :func:`place_at_last_token` puts a per-sample
score at the last valid response token, the layout of verl's token-level reward tensor.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from .kernels import answers_to_ids, group_rewards, group_rewards_flat

__all__ = ["trl_reward_function", "completion_text", "verl_group_ids", "verl_group_rewards",
           "place_at_last_token"]


def completion_text(completion) -> str:
    """Text of a TRL completion: a string, or a conversational list of ``{"role", "content"}``
    messages (the last message's content), or one such message."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        content = completion.get("content")
        if isinstance(content, list):  # multimodal content parts
            return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
        return "" if content is None else str(content)
    if isinstance(completion, (list, tuple)):
        if not completion:
            return ""
        return completion_text(completion[-1])
    raise TypeError(f"completions must be strings or lists of {{'role', 'content'}} messages, got "
                    f"{type(completion).__name__}")


def _prompt_key(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    try:
        return json.dumps(prompt, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(prompt)


def trl_reward_function(table, *, num_generations: int, extract_answer: Callable[[str], Any] | None = None,
                        normalize: Callable[[str], str] | None = None, add_constant: bool = False,
                        scale: float = 1.0, none_answers: str = "distinct", check_prompts: bool = True,
                        device=None, name: str | None = None) -> Callable[..., list]:
    """A TRL ``GRPOTrainer`` reward function applying ``table`` to each group of completions.

    Parameters
    ----------
    table : Table, raw 1-D table, mapping or callable (see :func:`~estimators.torch.group_rewards`)
        Its group size must be ``num_generations``.
    num_generations : int
        Completions per prompt (``GRPOConfig.num_generations``).
    extract_answer : callable text -> answer string (or None when no answer can be parsed)
        Default: the completion text itself (stripped).
    normalize : callable, optional
        Applied to each answer before comparison (e.g. :func:`~estimators.torch.normalize_answer`).
    add_constant : bool
        Add the generator's dropped constant (see :func:`~estimators.torch.group_rewards`).
    scale : float
        Multiplies the rewards (e.g. ``-beta`` for the diversity term ``-beta * phi'(p)``).
    none_answers : "distinct" | "same"
        Unparseable answers (``extract_answer`` returned None) count as distinct answers, or as one.
    check_prompts : bool
        Raise when a block of ``num_generations`` completions has different prompts.

    Returns
    -------
    ``reward_func(prompts=None, completions=None, completion_ids=None, **kwargs) -> list[float]``
    """
    if isinstance(num_generations, bool) or not isinstance(num_generations, int) or num_generations < 2:
        raise ValueError(f"num_generations must be an integer >= 2, got {num_generations!r}")
    G = num_generations
    extract = extract_answer if extract_answer is not None else (lambda text: text.strip())
    scale = float(scale)

    def reward_func(prompts=None, completions=None, completion_ids=None, **kwargs) -> list:
        if completions is None:
            raise TypeError("reward_func needs completions=... (TRL passes prompts=, completions=, "
                            "completion_ids= and dataset columns as keywords)")
        n = len(completions)
        if n % G != 0:
            raise ValueError(f"completions: {n} completions is not a multiple of num_generations={G}; a group "
                             f"must be complete in one call (keep the per-process batch a multiple of "
                             f"num_generations)")
        if prompts is not None:
            if len(prompts) != n:
                raise ValueError(f"prompts has {len(prompts)} entries but completions has {n}")
            if check_prompts:
                keys = [_prompt_key(p) for p in prompts]
                for b in range(n // G):
                    if len(set(keys[b * G:(b + 1) * G])) != 1:
                        raise ValueError(f"prompts: completions {b * G}..{(b + 1) * G - 1} do not share one prompt; "
                                         f"the adapter expects the completions of a prompt to be contiguous, "
                                         f"num_generations={G} per group (TRL's layout)")
        answers = []
        for c in completions:
            a = extract(completion_text(c))
            answers.append(None if a is None else str(a))
        if n == 0:
            return []
        ids = answers_to_ids([answers[b * G:(b + 1) * G] for b in range(n // G)], normalize, device=device,
                             none=none_answers)
        r = group_rewards(ids, table, dtype=torch.float64, add_constant=add_constant)
        return [float(v) * scale for v in r.reshape(-1).tolist()]

    reward_func.__name__ = name or "alft_group_reward"
    reward_func.__qualname__ = reward_func.__name__
    return reward_func


# ----------------------------------------------------------------------------- verl

def _uids_of(batch_or_uids, uid_key: str):
    nt = getattr(batch_or_uids, "non_tensor_batch", None)
    if nt is not None:
        if uid_key not in nt:
            raise KeyError(f"batch.non_tensor_batch has no {uid_key!r} entry (keys: {sorted(nt)})")
        return nt[uid_key]
    if isinstance(batch_or_uids, Mapping):
        if uid_key not in batch_or_uids:
            raise KeyError(f"batch has no {uid_key!r} entry (keys: {sorted(batch_or_uids)})")
        return batch_or_uids[uid_key]
    return batch_or_uids


def verl_group_ids(batch_or_uids, *, uid_key: str = "uid", device=None) -> torch.Tensor:
    """Integer group ids [N] (0, 1, ... in order of first appearance) from a verl batch.

    ``batch_or_uids``: a ``DataProto`` (uses ``batch.non_tensor_batch[uid_key]``), a mapping with
    ``uid_key``, or the uids themselves (numpy object array, list of strings/ints, or an integer
    tensor). Samples with equal uids form one group; order and contiguity do not matter.
    """
    uids = _uids_of(batch_or_uids, uid_key)
    if isinstance(uids, torch.Tensor):
        if uids.dim() != 1 or uids.is_floating_point():
            raise ValueError(f"uids must be a 1-D integer tensor, got shape {tuple(uids.shape)}, dtype {uids.dtype}")
        _, inv = torch.unique(uids, return_inverse=True)
        return inv.to(device) if device is not None else inv
    arr = np.asarray(uids, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"uids must be one-dimensional, got shape {arr.shape}")
    seen: dict = {}
    out = [seen.setdefault(u, len(seen)) for u in arr.tolist()]
    return torch.tensor(out, dtype=torch.int64, device=device)


def verl_group_rewards(batch_or_uids, answers, table, *, uid_key: str = "uid", normalize=None,
                       none_answers: str = "distinct", add_constant: bool = False, dtype=torch.float32,
                       device=None) -> torch.Tensor:
    """Rewards [N] for a verl-style flat batch grouped by ``uid``.

    ``answers``: a list of N answer strings (None = unparseable) or an integer tensor [N] of answer
    ids. ``table``: one table when all groups have the same size, else a mapping/callable per size.
    """
    gids = verl_group_ids(batch_or_uids, uid_key=uid_key, device=device)
    if isinstance(answers, torch.Tensor):
        ids = answers.to(device) if device is not None else answers
        gids = gids.to(ids.device)
    else:
        answers = list(answers)
        if len(answers) != gids.numel():
            raise ValueError(f"answers has {len(answers)} entries but the batch has {gids.numel()} uids")
        ids = answers_to_ids(answers, normalize, group_ids=gids, device=gids.device, none=none_answers)
    if ids.shape != gids.shape:
        raise ValueError(f"answers has {tuple(ids.shape)} entries but the batch has {tuple(gids.shape)} uids")
    return group_rewards_flat(ids, gids, table, dtype=dtype, add_constant=add_constant)


def place_at_last_token(scores: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """Token-level reward tensor [N, L] with ``scores[i]`` at the last valid response token of row i
    (verl's reward-manager layout); rows with no valid token raise."""
    if scores.dim() != 1 or response_mask.dim() != 2 or response_mask.shape[0] != scores.shape[0]:
        raise ValueError(f"scores must be [N] and response_mask [N, L]; got {tuple(scores.shape)} and "
                         f"{tuple(response_mask.shape)}")
    lengths = response_mask.to(torch.int64).sum(dim=1)
    if bool((lengths == 0).any()):
        raise ValueError(f"response_mask row {int((lengths == 0).nonzero()[0, 0])} has no valid token")
    out = torch.zeros(response_mask.shape, dtype=scores.dtype, device=scores.device)
    out[torch.arange(scores.shape[0], device=scores.device), lengths - 1] = scores
    return out
