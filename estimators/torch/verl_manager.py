"""verl 0.9 rollout manager that adds the group reward to every training batch (claims C8, C9).

verl's legacy ray trainer (``verl.trainer.main_ppo`` with ``trainer.use_v1=false``) takes its rollout
manager class from the config key ``actor_rollout_ref.rollout.agent.agent_loop_manager_class``, which
verl 0.9.1's YAML does not declare: the launch line adds it with Hydra's ``+``.
:class:`AlftAgentLoopManager` is verl's ``AgentLoopManager`` plus one step: after the rollout (which
already ran verl's per-sample reward loop, with :func:`~estimators.torch.verl_answer_scorer` as the
custom reward function) it calls :func:`~estimators.torch.add_group_rewards` on the whole batch, before
the trainer computes advantages. ::

    python -m verl.trainer.main_ppo trainer.use_v1=false algorithm.adv_estimator=grpo \\
        algorithm.norm_adv_by_std_in_grpo=false actor_rollout_ref.rollout.n=8 \\
        +actor_rollout_ref.rollout.agent.agent_loop_manager_class=estimators.torch.verl_manager.AlftAgentLoopManager \\
        reward.custom_reward_function.path=my_reward.py reward.custom_reward_function.name=compute_score \\
        +alft.generator=kl +alft.method=jackknife +alft.scale=-0.05 ...

The ``alft`` config block (or the class attribute ``alft`` of a subclass) is
:class:`~estimators.torch.verl_settings.AlftSettings`. The table is built for
``actor_rollout_ref.rollout.n`` and corrected for the advantage that ``algorithm.adv_estimator`` and
``algorithm.norm_adv_by_std_in_grpo`` make (:data:`~estimators.torch.trainer_settings.VERL_RULES`;
``alft.advantage`` overrides); groups larger than n raise, smaller ones warn and get the table for their
size. REMAX's greedy baseline rows (``__do_sample__`` false) take no part. A colocated reward model is
refused. verl's default v1 trainer: :mod:`estimators.torch.verl_v1`.

Importing this module imports verl (0.9.x).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from verl.experimental.agent_loop.agent_loop import AgentLoopManager
from verl.utils.ray_utils import auto_await

from .verl_settings import AlftSettings, VerlGroupReward

__all__ = ["AlftAgentLoopManager", "AlftSettings"]


class AlftAgentLoopManager(AgentLoopManager):
    """verl's ``AgentLoopManager`` that adds ``scale * g(C_i)`` to each training sample's score.

    ``alft``: class attribute (a mapping) taking precedence over the ``alft`` config block.
    """

    alft: Mapping | None = None

    def __init__(self, config, *args, **kwargs):
        trainer = config.get("trainer") or {}
        if trainer.get("use_v1", False):
            raise ValueError("AlftAgentLoopManager plugs into verl's legacy ray trainer (trainer.use_v1=false). For "
                             "the v1 trainer (verl's default) use the replay buffer instead: "
                             "trainer.v1.sampler.custom_sampler.path=pkg://estimators.torch.verl_v1 "
                             "trainer.v1.sampler.custom_sampler.name=AlftReplayBuffer (estimators.torch.verl_v1)")
        self.alft_group_reward = VerlGroupReward(config, self.alft)  # before verl starts anything
        super().__init__(config, *args, **kwargs)
        self.alft_settings = self.alft_group_reward.settings
        self.alft_table = self.alft_group_reward.table(self.alft_group_reward.n)

    @auto_await
    async def generate_sequences(self, prompts):
        output = await super().generate_sequences(prompts)
        self.add_group_rewards(prompts, output)
        return output

    def add_group_rewards(self, prompts, output) -> Any:
        """Add the group rewards to ``output`` (the rollout of ``prompts``), in place; returns them,
        or None for a validation batch when ``alft.validate`` is false."""
        validate = bool(prompts.meta_info.get("validate", False))
        if validate and not self.alft_settings.validate:
            return None
        if len(output) != len(prompts):
            raise ValueError(f"the rollout returned {len(output)} samples for {len(prompts)} prompts")
        rows = None
        if "__do_sample__" in prompts.non_tensor_batch:  # REMAX: greedy baseline rows are not group members
            rows = np.asarray(prompts.non_tensor_batch["__do_sample__"], dtype=bool)
        return self.alft_group_reward.add(output, prompts.non_tensor_batch["uid"], rows=rows, validate=validate)
