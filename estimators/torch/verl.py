"""verl adapter for the group-reward kernels (claim C8): flat batches grouped by ``uid``.

verl batches (``DataProto``) are flat: sample i belongs to the group
``batch.non_tensor_batch["uid"][i]``, and groups need not be contiguous. This module needs no
verl import; it works on anything shaped like a ``DataProto`` (``.batch`` mapping of tensors,
``.non_tensor_batch`` mapping of numpy arrays).

How it plugs into verl 0.9
--------------------------
verl 0.9 scores rule-based rewards one sample at a time, in its reward loop, while the rollout
runs (``RewardLoopWorker.compute_score`` -> ``RewardManager.run_single``), and batches are split
across reward workers: no per-sample scorer ever sees a whole group. What does see whole groups is
the rollout manager's output (``AgentLoopManager.generate_sequences``), before the trainer
computes advantages. So the adapter has two halves:

* :func:`verl_answer_scorer` builds the per-sample ``compute_score`` (verl's
  ``custom_reward_function``): it returns the task score and the parsed answer under ``"pred"``,
  which verl carries into the batch as reward extra info (and uses for its maj@N metrics);
* :func:`add_group_rewards` runs on the whole batch: groups by uid, computes ``g(C_i)`` with one
  kernel call, and adds ``scale * g(C_i)`` to the token-level scores where verl put the
  sample's score (:func:`place_at_last_token`). :class:`~estimators.torch.verl_manager.AlftAgentLoopManager`
  calls it on every training batch of verl's ray trainer.

Placement
---------
verl puts a sample's score on its last *attended* response token: index
``attention_mask[:, prompt_length:].sum(-1) - 1`` (``AgentLoopWorker._postprocess``,
``RewardManagerBase.assemble_rm_scores``), i.e. the last token of a right-padded response. In a
multi-turn or tool rollout, ``response_mask`` is 0 on tool-response tokens inside the response
while the attention mask is 1 there, so ``response_mask.sum() - 1`` points into the response
(onto a tool token, where REINFORCE++'s masked returns drop it). :func:`place_at_last_token`
uses the last position where the mask is 1, which is verl's index for the attention mask, and
:func:`response_attention_mask` reads that mask from a batch.

Unparseable answers (None) count as distinct answers (count 0) unless ``none_answers="same"``.
"""
from __future__ import annotations

import warnings
from collections import Counter
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from .._validate import check_finite_real
from .kernels import answers_to_ids, group_rewards_flat
from .table_sizes import TablePerSize

__all__ = ["verl_group_ids", "verl_group_rewards", "place_at_last_token", "last_token_index",
           "response_attention_mask", "verl_answer_scorer", "add_group_rewards", "check_group_sizes", "SCORE_KEYS"]

#: token-level score tensors :func:`add_group_rewards` updates when the batch holds them
SCORE_KEYS = ("rm_scores", "token_level_scores", "token_level_rewards")


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


def check_group_sizes(uids, n: int) -> dict:
    """``{size: number of groups}`` of the uid groups, checked against ``rollout.n`` = ``n``.

    A group larger than n is an error: verl gives each prompt its own uid and n samples, so a larger group
    means one uid on several prompts (or one batch added twice), and counting answers across them would be
    wrong. A smaller group (a failed rollout the trainer kept, verl's v1 default) is scored with the table
    for its own size, which is what the trainer's baseline then sees; one warning names the sizes.
    """
    sizes = Counter(Counter(np.asarray(uids, dtype=object).tolist()).values())
    big = sorted(k for k in sizes if k > n)
    if big:
        raise ValueError(f"uid groups of {big} samples but actor_rollout_ref.rollout.n={n}: a uid shared by several "
                         f"prompts, or a batch holding the same rollout twice; the group reward would count answers "
                         f"across them")
    small = sorted(k for k in sizes if k < n)
    if small:
        warnings.warn(f"alft group reward: uid groups of {small} samples (rollout.n={n}; {sum(sizes[k] for k in small)} "
                      f"group(s)): each is scored with the table for its own size, as the trainer's baseline sees it",
                      UserWarning, stacklevel=3)
    return dict(sizes)


# ----------------------------------------------------------------------------- placement

def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index [N] of the last position where each row of ``mask`` [N, L] is nonzero; rows with no
    nonzero entry raise."""
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2:
        raise ValueError(f"mask must be a 2-D tensor [N, L], got {getattr(mask, 'shape', type(mask).__name__)}")
    on = mask != 0
    empty = ~on.any(dim=1)
    if bool(empty.any()):
        raise ValueError(f"mask row {int(empty.nonzero()[0, 0])} has no valid token")
    L = mask.shape[1]
    # position of the first nonzero entry of the reversed row
    return (L - 1) - torch.flip(on, dims=[1]).to(torch.int8).argmax(dim=1)


def place_at_last_token(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token-level reward tensor [N, L] with ``scores[i]`` at the last position where ``mask[i]`` is 1.

    With the response part of the attention mask (:func:`response_attention_mask`) this is where
    verl places a sample's score, for single- and multi-turn responses alike; with verl's
    ``response_mask`` it is the last policy token (the same unless the response ends on tool
    tokens). Rows with no valid token raise.
    """
    if not isinstance(scores, torch.Tensor) or scores.dim() != 1 or not isinstance(mask, torch.Tensor) \
            or mask.dim() != 2 or mask.shape[0] != scores.shape[0]:
        raise ValueError(f"scores must be [N] and mask [N, L]; got {tuple(getattr(scores, 'shape', ()))} and "
                         f"{tuple(getattr(mask, 'shape', ()))}")
    idx = last_token_index(mask.to(scores.device))
    out = torch.zeros(mask.shape, dtype=scores.dtype, device=scores.device)
    out[torch.arange(scores.shape[0], device=scores.device), idx] = scores
    return out


def response_attention_mask(batch) -> torch.Tensor:
    """The response part [N, L_resp] of a verl batch's attention mask (``attention_mask`` covers
    ``[prompts | responses]``)."""
    tensors = getattr(batch, "batch", batch)
    for key in ("attention_mask", "responses"):
        if key not in tensors.keys():
            raise KeyError(f"batch has no {key!r} tensor (verl's rollout output has 'prompts', 'responses', "
                           f"'attention_mask')")
    attn, resp = tensors["attention_mask"], tensors["responses"]
    if attn.dim() != 2 or resp.dim() != 2 or attn.shape[0] != resp.shape[0] or attn.shape[1] < resp.shape[1]:
        raise ValueError(f"attention_mask {tuple(attn.shape)} does not end with the responses {tuple(resp.shape)}")
    return attn[:, attn.shape[1] - resp.shape[1]:]


# ----------------------------------------------------------------------------- the two halves

def verl_answer_scorer(extract_answer: Callable[[str], Any], correctness: Callable[..., float] | None = None,
                       *, answer_key: str = "pred") -> Callable[..., dict]:
    """verl ``compute_score`` (``reward.custom_reward_function``) returning the task score and the
    parsed answer.

    The returned function has verl's signature
    ``compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)`` and returns
    ``{"score": correctness(...) or 0.0, answer_key: extract_answer(solution_str)}``; verl's reward
    manager puts ``score`` on the sample's last token and every key into the batch's reward extra
    info, where :func:`add_group_rewards` reads the answers.
    """
    if not callable(extract_answer):
        raise TypeError(f"extract_answer must be callable text -> answer or None, got {type(extract_answer).__name__}")
    if correctness is not None and not callable(correctness):
        raise TypeError(f"correctness must be callable or None, got {type(correctness).__name__}")
    if not isinstance(answer_key, str) or answer_key == "score":
        raise ValueError(f"answer_key must be a string other than 'score', got {answer_key!r}")

    def compute_score(data_source=None, solution_str="", ground_truth=None, extra_info=None, **kwargs) -> dict:
        answer = extract_answer(solution_str)
        score = 0.0 if correctness is None else float(correctness(data_source=data_source, solution_str=solution_str,
                                                                  ground_truth=ground_truth, extra_info=extra_info))
        return {"score": score, answer_key: None if answer is None else str(answer)}

    compute_score.__name__ = "alft_compute_score"
    return compute_score


def add_group_rewards(batch, table, *, uids: Sequence | None = None, answer_key: str = "pred",
                      uid_key: str = "uid", rows=None, scale: float = 1.0, add_constant: bool = False,
                      none_answers: str = "distinct", normalize=None,
                      score_keys: Sequence[str] = SCORE_KEYS, group_size: int | None = None) -> torch.Tensor:
    """Add ``scale * g(C_i)`` to a verl batch's token-level scores, in place; return the added rewards [N].

    Parameters
    ----------
    batch : DataProto (or alike)
        Whole uid groups; ``non_tensor_batch[answer_key]`` holds the parsed answers (None =
        unparseable), and ``batch`` the tensors ``responses``, ``attention_mask`` and at least one
        of ``score_keys``.
    table : Table, mapping ``{group size: table}``, callable or raw table
        A Table is rebuilt for other group sizes (same generator, method, parameters).
    uids : sequence, optional
        Group of each sample (default ``non_tensor_batch[uid_key]``).
    rows : bool array [N], optional
        Samples that take part (e.g. not REMAX's greedy baseline rows); the others get 0 and do
        not count in any group.
    scale, add_constant, none_answers, normalize
        As in :func:`~estimators.torch.trl_reward_function`.
    group_size : int, optional
        ``actor_rollout_ref.rollout.n``: groups larger than it raise, smaller ones warn (:func:`check_group_sizes`).

    The reward goes where verl put the sample's score: the last attended response token.
    """
    scale = check_finite_real(scale, name="scale")
    nt = getattr(batch, "non_tensor_batch", None)
    if nt is None or not hasattr(batch, "batch"):
        raise TypeError(f"batch must be a verl DataProto (with .batch and .non_tensor_batch), got {type(batch).__name__}")
    if answer_key not in nt:
        raise KeyError(f"batch.non_tensor_batch has no {answer_key!r} entry (keys: {sorted(nt)}); the per-sample "
                       f"scorer must return the parsed answer under {answer_key!r} (see verl_answer_scorer)")
    present = [k for k in score_keys if k in batch.batch.keys()]
    if not present:
        raise KeyError(f"batch has none of the score tensors {list(score_keys)} (keys: {sorted(batch.batch.keys())})")
    uids = np.asarray(_uids_of(batch, uid_key) if uids is None else uids, dtype=object)
    answers = list(nt[answer_key])
    N = len(answers)
    if uids.shape != (N,):
        raise ValueError(f"uids has shape {uids.shape} but the batch has {N} answers")
    keep = np.ones(N, dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    if keep.shape != (N,):
        raise ValueError(f"rows must be a bool array of {N} entries, got shape {keep.shape}")
    mask = response_attention_mask(batch)
    if mask.shape[0] != N:
        raise ValueError(f"batch has {mask.shape[0]} responses but {N} answers")
    idx = np.nonzero(keep)[0]
    out = torch.zeros(N, dtype=torch.float64)
    if group_size is not None and idx.size:
        check_group_sizes(uids[idx], int(group_size))
    if idx.size:
        sub = [None if answers[i] is None else str(answers[i]) for i in idx]
        r = verl_group_rewards(uids[idx], sub, TablePerSize(table), normalize=normalize, none_answers=none_answers,
                               add_constant=add_constant, dtype=torch.float64)
        out[torch.as_tensor(idx)] = r * scale
    pos = last_token_index(mask)
    done: set = set()
    for key in present:  # verl may hold one tensor under several keys: add once per storage
        scores = batch.batch[key]
        if scores.shape != mask.shape:
            raise ValueError(f"batch[{key!r}] has shape {tuple(scores.shape)}, the responses {tuple(mask.shape)}")
        if scores.data_ptr() in done:
            continue
        done.add(scores.data_ptr())
        scores[torch.arange(N, device=scores.device), pos.to(scores.device)] += out.to(scores.device, scores.dtype)
    return out
