"""verl 0.9 v1 trainer: a replay buffer that adds the group reward to every sampled batch (claims C8, C9).

verl's default trainer (``trainer.use_v1=true``) streams each rollout into TransferQueue as it finishes;
no rollout manager sees a whole batch. The replay buffer does: the trainer asks it for a batch of whole
prompt groups (``ReplayBuffer.sample``), then reads ``rm_scores`` from TransferQueue to compute
advantages. verl names a custom replay buffer in its config (``trainer.v1.sampler.custom_sampler``), so
:func:`AlftReplayBuffer` is verl's replay buffer plus one step: after sampling, it reads each sample's
``uid``, parsed answer (the scorer's ``pred``, in ``extra_fields.reward_extra_info``) and ``rm_scores``,
and writes back ``rm_scores`` with ``scale * g(C_i)`` added on the last response token, where verl put the
sample's score. ::

    python -m verl.trainer.main_ppo algorithm.adv_estimator=grpo algorithm.norm_adv_by_std_in_grpo=false \\
        actor_rollout_ref.rollout.n=8 \\
        trainer.v1.sampler.custom_sampler.path=pkg://estimators.torch.verl_v1 \\
        trainer.v1.sampler.custom_sampler.name=AlftReplayBuffer \\
        reward.custom_reward_function.path=my_reward.py reward.custom_reward_function.name=compute_score \\
        +alft.generator=kl +alft.method=jackknife +alft.scale=-0.05 ...

The settings come from the trainer's own config (the replay buffer climbs from the ``sampler_kwargs`` node
verl hands it to the config's root with OmegaConf's relative ``select``): the ``alft`` block
(:class:`~estimators.torch.verl_settings.AlftSettings`), ``actor_rollout_ref.rollout.n`` and the advantage
(:data:`~estimators.torch.trainer_settings.VERL_RULES`), exactly as for the legacy trainer's
:class:`~estimators.torch.verl_manager.AlftAgentLoopManager`. ``trainer.v1.sampler.sampler_kwargs.alft``,
when given, replaces the top-level block. An agent loop with several outputs per session counts once per
session (its final output's answer) and adds the reward to every output of the session, as verl copies the
score; verl's GRPO path then uses each session's final output, its other estimators every output (warned). Refused: a colocated reward model (it writes ``rm_scores`` after sampling), DAPO's group filter
(verl does not run it with a custom replay buffer).

Importing this module imports verl (0.9.x) and TransferQueue (``pip install TransferQueue``, which verl's
v1 trainer needs).
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
import transfer_queue as tq
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer, ReplayBufferAsync

from .verl import check_group_sizes, verl_group_rewards
from .verl_settings import VerlGroupReward, plain

__all__ = ["AlftReplayBuffer", "AlftReplayBufferSync", "AlftReplayBufferAsync", "config_root", "add_group_rewards_tq"]

#: the fields read from TransferQueue for each sampled trajectory
FIELDS = ["uid", "rm_scores", "extra_fields"]


def config_root(node):
    """The root of the OmegaConf config that ``node`` belongs to (OmegaConf's relative ``select``)."""
    from omegaconf import OmegaConf
    if not OmegaConf.is_config(node):
        raise ValueError("the alft replay buffer reads verl's trainer config from trainer.v1.sampler.sampler_kwargs, "
                         f"which verl passes as part of its config; got a {type(node).__name__} detached from it")
    root, dots = node, "."
    while True:
        dots += "."
        try:
            up = OmegaConf.select(node, dots)
        except Exception:  # climbing past the root raises ConfigKeyError
            return root
        if up is None or up is root:
            return root
        root = up


def _session_of(key: str) -> tuple[str, int]:
    """``({uid}_{session}, index)`` from a v1 trajectory key ``{uid}_{session}_{index}``."""
    parts = key.rsplit("_", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        raise ValueError(f"unexpected TransferQueue key {key!r} (verl v1 writes {{uid}}_{{session}}_{{index}})")
    return f"{parts[0]}_{parts[1]}", int(parts[2])


def add_group_rewards_tq(group_reward: VerlGroupReward, keys: list, partition_id: str, *,
                         validate: bool = False) -> torch.Tensor:
    """Add the group reward to the ``rm_scores`` of the trajectories ``keys`` in TransferQueue; returns the
    reward per trajectory [len(keys)] (a session's reward repeated on each of its outputs)."""
    s = group_reward.settings
    data = tq.kv_batch_get(keys=list(keys), partition_id=partition_id, select_fields=FIELDS)
    uids, extras = list(data["uid"]), list(data["extra_fields"])
    sessions = [_session_of(k) for k in keys]
    final: dict = {}  # session -> row of its final output
    for row, (sess, index) in enumerate(sessions):
        if sess not in final or sessions[final[sess]][1] < index:
            final[sess] = row
    rows = list(final.values())
    if len(rows) < len(keys) and group_reward.estimator != "grpo":
        warnings.warn(f"alft group reward: some sessions returned several outputs; verl's {group_reward.estimator!r} "
                      f"advantage counts each output as a group member (only its 'grpo' path uses each session's "
                      f"final output), while the group reward counts each session once", UserWarning, stacklevel=2)
    answers = []
    for r in rows:
        info = (extras[r] or {}).get("reward_extra_info") or {}
        if s.answer_key not in info:
            raise KeyError(f"trajectory {keys[r]!r} has no {s.answer_key!r} in extra_fields.reward_extra_info (keys: "
                           f"{sorted(info)}); the per-sample scorer must return the parsed answer under "
                           f"{s.answer_key!r} (see verl_answer_scorer)")
        answers.append(None if info[s.answer_key] is None else str(info[s.answer_key]))
    group_uids = np.asarray([uids[r] for r in rows], dtype=object)
    check_group_sizes(group_uids, group_reward.n_val if validate else group_reward.n)
    reward = verl_group_rewards(group_uids, answers, group_reward.table, normalize=None, none_answers=s.none_answers,
                                add_constant=s.add_constant, dtype=torch.float64) * s.scale
    per_session = {sess: float(reward[i]) for i, sess in enumerate(final)}
    out = torch.tensor([per_session[sess] for sess, _ in sessions], dtype=torch.float64)
    scores = [t.clone() for t in data["rm_scores"].unbind()]
    for t, add in zip(scores, out.tolist()):
        if t.numel() == 0:
            raise ValueError("a trajectory has an empty rm_scores (no response token to put the reward on)")
        t[-1] += add
    from verl.utils import tensordict_utils as tu
    nested = torch.nested.as_nested_tensor(scores, layout=torch.jagged)
    tq.kv_batch_put(keys=list(keys), partition_id=partition_id, fields=tu.get_tensordict({"rm_scores": nested}))
    return out


class _AlftSampling:
    """The step both replay buffers add: after ``sample``, the group reward on the sampled batch."""

    def _alft_setup(self, sampler_kwargs) -> None:
        root = config_root(sampler_kwargs)
        own = sampler_kwargs.get("alft") if hasattr(sampler_kwargs, "get") else None
        filt = root.get("algorithm", {}).get("filter_groups") or {}
        if bool(filt.get("enable", False)):
            raise ValueError("algorithm.filter_groups (DAPO's group filter) is not run by verl with a custom replay "
                             "buffer, so the alft replay buffer refuses it; disable it")
        self.alft_group_reward = VerlGroupReward(root, plain(own) if own is not None else None)

    def sample(self, global_steps: int, partition_id: str, batch_size: int) -> tuple[Any, dict]:
        batch, metrics = super().sample(global_steps, partition_id, batch_size)
        validate = partition_id == "val"
        if batch.keys and (not validate or self.alft_group_reward.settings.validate):
            add_group_rewards_tq(self.alft_group_reward, batch.keys, batch.partition_id, validate=validate)
        return batch, metrics


class AlftReplayBufferSync(_AlftSampling, ReplayBuffer):
    """verl's synchronous replay buffer (``trainer.v1.trainer_mode=sync``) plus the group reward."""

    def __init__(self, *, sampler_kwargs, **kwargs):
        self._alft_setup(sampler_kwargs)
        sampler = config_root(sampler_kwargs).trainer.v1.sampler
        if bool(sampler.get("sync_refill_failed_groups", False)) and "sync_refill_failed_groups" not in kwargs:
            kwargs.update(sync_refill_failed_groups=True, gen_batch_size=1)  # as verl sets its own buffer up
        super().__init__(sampler_kwargs=sampler_kwargs, **kwargs)


class AlftReplayBufferAsync(_AlftSampling, ReplayBufferAsync):
    """verl's asynchronous replay buffer (``colocate_async``, ``separate_async``) plus the group reward."""

    def __init__(self, *, sampler_kwargs, **kwargs):
        self._alft_setup(sampler_kwargs)
        super().__init__(sampler_kwargs=sampler_kwargs, **kwargs)


def AlftReplayBuffer(*, trainer_mode: str, **kwargs):
    """The alft replay buffer for ``trainer_mode`` (verl's choice: the synchronous one for ``sync``, the
    asynchronous one otherwise); name it in ``trainer.v1.sampler.custom_sampler.name``."""
    cls = AlftReplayBufferSync if trainer_mode == "sync" else AlftReplayBufferAsync
    return cls(trainer_mode=trainer_mode, **kwargs)
