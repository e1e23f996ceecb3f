"""The ``alft`` config block of verl runs and what the verl hooks read from verl's config (claims C8, C9).

Both verl hooks (:class:`~estimators.torch.verl_manager.AlftAgentLoopManager` for the legacy ray trainer,
:mod:`estimators.torch.verl_v1` for the v1 trainer) build one :class:`VerlGroupReward` from the whole
trainer config: the ``alft`` block (:class:`AlftSettings`), ``actor_rollout_ref.rollout.n`` (the group size),
``algorithm`` (the advantage, :func:`~estimators.torch.trainer_settings.verl_reading`) and
``reward.reward_model`` (a colocated reward model is refused: it writes ``rm_scores`` after both hooks run,
so the group reward would be lost). This module imports no verl.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..methods import build_table
from .trainer_settings import Reading, TableChooser, verl_reading
from .verl import add_group_rewards

__all__ = ["AlftSettings", "VerlGroupReward", "plain", "check_reward_model"]


@dataclass(frozen=True)
class AlftSettings:
    """The ``alft`` config block: ``generator`` (default ``kl``), ``generator_params``, ``method`` (default
    ``jackknife``), ``params`` (method parameters), ``scale`` (default 1), ``add_constant``, ``answer_key``
    (default ``pred``), ``none_answers`` (default ``distinct``), ``validate`` (default false) and
    ``advantage`` (default: read from ``algorithm``; 'decoupled', 'rloo' or 'grpo' overrides it)."""
    generator: str = "kl"
    generator_params: Mapping = field(default_factory=dict)
    method: str = "jackknife"
    params: Mapping = field(default_factory=dict)
    scale: float = 1.0
    add_constant: bool = False
    answer_key: str = "pred"
    none_answers: str = "distinct"
    validate: bool = False
    advantage: str | None = None

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
        """The method's table for K samples, as built (the trainer's advantage decides the correction)."""
        return build_table(self.generator, self.method, K, generator_params=dict(self.generator_params),
                           **dict(self.params))


def plain(block) -> Mapping | None:
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


def _get(cfg, dotted: str, default=None):
    node = cfg
    for part in dotted.split("."):
        if node is None:
            return default
        node = node.get(part) if hasattr(node, "get") else getattr(node, part, None)
    return default if node is None else node


def check_reward_model(config) -> None:
    """Refuse a colocated reward model (``reward.reward_model.enable`` without ``enable_resource_pool``)."""
    if bool(_get(config, "reward.reward_model.enable", False)) and not bool(
            _get(config, "reward.reward_model.enable_resource_pool", False)):
        raise ValueError("the alft group reward does not support a colocated reward model "
                         "(reward.reward_model.enable=True with enable_resource_pool=False): verl then computes "
                         "rm_scores after the rollout and after the replay buffer, replacing any score added before, "
                         "and its rollout holds no answers. Set reward.reward_model.enable_resource_pool=True (the "
                         "reward model then scores each sample in the reward loop, during the rollout)")


class VerlGroupReward:
    """The group reward of one verl run: settings, group size, advantage reading and tables per size.

    ``config``: verl's whole trainer config; ``block``: the ``alft`` settings (default ``config.alft``).
    The table for ``rollout.n`` is built here, so a wrong setting fails at start-up, and a setting with no
    exact correction (verl's default GRPO with the group std) warns here, once.
    """

    def __init__(self, config, block: Mapping | None = None):
        self.settings = AlftSettings.from_mapping(plain(block if block is not None else _get(config, "alft")))
        n = _get(config, "actor_rollout_ref.rollout.n")
        if n is None or int(n) < 2:
            raise ValueError(f"actor_rollout_ref.rollout.n must be >= 2 for a group reward (groups of n samples per "
                             f"prompt), got {n}")
        self.n = int(n)
        self.n_val = int(_get(config, "actor_rollout_ref.rollout.val_kwargs.n", 1))
        check_reward_model(config)
        est = _get(config, "algorithm.adv_estimator", "gae")
        self.estimator = str(getattr(est, "value", est))
        read = None if self.settings.advantage is not None else verl_reading(_get(config, "algorithm"))
        self.chooser = TableChooser(self.settings.table(self.n), advantage=self.settings.advantage)
        self.reading: Reading = self.chooser.reading(read)
        self.chooser.tables(self.reading, [self.n])

    def table(self, K: int):
        """The table for groups of K samples under this run's advantage (built once per size)."""
        return self.chooser.tables(self.reading, [K])[K]

    def add(self, batch, uids, rows=None, *, validate: bool = False) -> Any:
        """:func:`~estimators.torch.verl.add_group_rewards` with this run's settings and tables (groups of
        ``rollout.n``, or of ``rollout.val_kwargs.n`` for a validation batch)."""
        s = self.settings
        return add_group_rewards(batch, self.table, uids=np.asarray(uids, dtype=object), answer_key=s.answer_key,
                                 rows=rows, scale=s.scale, add_constant=s.add_constant, none_answers=s.none_answers,
                                 group_size=self.n_val if validate else self.n)
