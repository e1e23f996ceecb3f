"""Trainer adapters for the group-reward kernels (claim C8), one module per trainer:

* :mod:`estimators.torch.trl` — TRL's ``GRPOTrainer`` reward function (one or several processes,
  training and evaluation group sizes);
* :mod:`estimators.torch.verl` — verl batches grouped by ``uid``: the per-sample answer scorer, the
  batch hook that adds the group reward, placement on the last attended response token;
* :mod:`estimators.torch.verl_manager` — verl 0.9's legacy rollout manager running that hook (imports verl);
* :mod:`estimators.torch.verl_v1` — verl 0.9's v1 replay buffer running it (imports verl, TransferQueue).

Both read the trainer's advantage settings (:mod:`estimators.torch.trainer_settings`, claim C9) and hand
the trainer the table that undoes its baseline where one exists.

This module re-exports the first two (``from estimators.torch.adapters import ...`` keeps working).
"""
from .trl import completion_text, trl_reward_function
from .verl import (add_group_rewards, last_token_index, place_at_last_token, response_attention_mask,
                   verl_answer_scorer, verl_group_ids, verl_group_rewards)

__all__ = ["trl_reward_function", "completion_text", "verl_group_ids", "verl_group_rewards",
           "place_at_last_token", "last_token_index", "response_attention_mask", "verl_answer_scorer",
           "add_group_rewards"]
