"""verl 0.9 rollout manager that adds the group reward to every training batch (claim C8).

verl's ray trainer (``verl.trainer.main_ppo`` with ``trainer.use_v1=false``) takes its rollout
manager class from the config key ``actor_rollout_ref.rollout.agent.agent_loop_manager_class``.
:class:`AlftAgentLoopManager` is verl's ``AgentLoopManager`` plus one step: after the rollout
(which already ran verl's per-sample reward loop, with :func:`~estimators.torch.verl_answer_scorer`
as the custom reward function) it calls :func:`~estimators.torch.add_group_rewards` on the whole
batch, before the trainer computes advantages. ::

    python -m verl.trainer.main_ppo trainer.use_v1=false \\
        actor_rollout_ref.rollout.agent.agent_loop_manager_class=estimators.torch.verl_manager.AlftAgentLoopManager \\
        reward.custom_reward_function.path=my_reward.py reward.custom_reward_function.name=compute_score \\
        +alft.generator=kl +alft.method=jackknife +alft.scale=-0.05 ...

The ``alft`` config block (or the class attribute ``alft`` of a subclass) sets ``generator``
(default ``kl``), ``generator_params``, ``method`` (default ``jackknife``), ``params`` (method
parameters), ``scale`` (default 1), ``add_constant``, ``answer_key`` (default ``pred``),
``none_answers`` (default ``distinct``) and ``validate`` (default false: validation batches, which
verl pads with copies and often samples once per prompt, keep the task score only). The table is
built for ``actor_rollout_ref.rollout.n`` and rebuilt for any other group size. REMAX's greedy
baseline rows (``__do_sample__`` false) take no part.

Importing this module imports verl (0.9.x).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from verl.experimental.agent_loop.agent_loop import AgentLoopManager
from verl.utils.ray_utils import auto_await

from ..methods import build_table
from .verl import add_group_rewards

__all__ = ["AlftAgentLoopManager", "AlftSettings"]


@dataclass(frozen=True)
class AlftSettings:
    """The ``alft`` config block (see the module docstring)."""
    generator: str = "kl"
    generator_params: Mapping = field(default_factory=dict)
    method: str = "jackknife"
    params: Mapping = field(default_factory=dict)
    scale: float = 1.0
    add_constant: bool = False
    answer_key: str = "pred"
    none_answers: str = "distinct"
    validate: bool = False

    @classmethod
    def from_mapping(cls, block: Mapping | None) -> "AlftSettings":
        block = dict(block or {})
        unknown = sorted(set(block) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"alft config: unknown key(s) {unknown}; allowed: {sorted(cls.__dataclass_fields__)}")
        for key in ("generator_params", "params"):
            if key in block:
                block[key] = dict(block[key] or {})
        settings = cls(**block)
        if settings.none_answers not in ("distinct", "same"):
            raise ValueError(f"alft.none_answers must be 'distinct' or 'same', got {settings.none_answers!r}")
        return settings

    def table(self, K: int):
        return build_table(self.generator, self.method, K, generator_params=dict(self.generator_params),
                           **dict(self.params))


def _plain(block) -> Mapping | None:
    """An OmegaConf node or mapping as a plain dict (None stays None)."""
    if block is None:
        return None
    try:
        from omegaconf import OmegaConf
        if OmegaConf.is_config(block):
            return OmegaConf.to_container(block, resolve=True)
    except ImportError:  # pragma: no cover  (verl depends on omegaconf)
        pass
    return dict(block)


class AlftAgentLoopManager(AgentLoopManager):
    """verl's ``AgentLoopManager`` that adds ``scale * g(C_i)`` to each training sample's score.

    ``alft``: class attribute (a mapping) taking precedence over the ``alft`` config block.
    """

    alft: Mapping | None = None

    def __init__(self, config, *args, **kwargs):
        trainer = config.get("trainer") or {}
        if trainer.get("use_v1", False):
            raise ValueError("AlftAgentLoopManager plugs into verl's ray trainer: set trainer.use_v1=false (the v1 "
                             "trainer streams rollouts into TransferQueue, with no whole-batch rollout output)")
        super().__init__(config, *args, **kwargs)
        block = self.alft if self.alft is not None else _plain(config.get("alft"))
        self.alft_settings = AlftSettings.from_mapping(block)
        n = int(config.actor_rollout_ref.rollout.n)
        if n < 2:
            raise ValueError(f"actor_rollout_ref.rollout.n must be >= 2 for a group reward (groups of n samples "
                             f"per prompt), got {n}")
        self.alft_table = self.alft_settings.table(n)

    @auto_await
    async def generate_sequences(self, prompts):
        output = await super().generate_sequences(prompts)
        self.add_group_rewards(prompts, output)
        return output

    def add_group_rewards(self, prompts, output) -> Any:
        """Add the group rewards to ``output`` (the rollout of ``prompts``), in place; returns them,
        or None for a validation batch when ``alft.validate`` is false."""
        s = self.alft_settings
        if bool(prompts.meta_info.get("validate", False)) and not s.validate:
            return None
        if len(output) != len(prompts):
            raise ValueError(f"the rollout returned {len(output)} samples for {len(prompts)} prompts")
        rows = None
        if "__do_sample__" in prompts.non_tensor_batch:  # REMAX: greedy baseline rows are not group members
            rows = np.asarray(prompts.non_tensor_batch["__do_sample__"], dtype=bool)
        return add_group_rewards(output, self.alft_table, uids=prompts.non_tensor_batch["uid"], answer_key=s.answer_key,
                                 rows=rows, scale=s.scale, add_constant=s.add_constant, none_answers=s.none_answers)
