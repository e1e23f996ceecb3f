"""Real verl 0.9 objects for the integration tests (claim C8), built without a cluster.

* :func:`verl_config`: verl's own generated trainer config with the test's tokenizer directory and
  custom reward function (a file that builds ``compute_score`` with ``verl_answer_scorer``);
* :class:`VerlRollout`: verl's ``RewardLoopWorker`` (reward manager ``naive`` running the custom
  reward function) and an ``AgentLoopWorker`` whose real post-processing pads each rollout, scores it
  through the reward loop and assembles the batch (``_agent_loop_postprocess`` then
  ``_postprocess``). Only Ray's remote call is replaced, by a direct call on the same event loop.
"""
from __future__ import annotations

import os
import textwrap
import types
from pathlib import Path

import numpy as np

from tiny_lm import char_tokenizer

PROMPT_LENGTH, RESPONSE_LENGTH = 8, 12


def write_reward_file(path: Path) -> Path:
    """The user's reward file: task score = the response starts with the ground truth; answer parsed
    by the tests' parser."""
    here = Path(__file__).resolve().parent
    path.write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(here)!r})
        from tiny_lm import parse_answer
        from estimators.torch import verl_answer_scorer

        def correct(solution_str, ground_truth, **kwargs):
            return float(solution_str.strip().startswith(ground_truth))

        compute_score = verl_answer_scorer(parse_answer, correctness=correct)
        """))
    return path


def verl_config(tmp: Path, *, n: int = 4, alft: dict | None = None):
    import verl
    from omegaconf import OmegaConf, open_dict

    tok = char_tokenizer()
    tok.save_pretrained(tmp / "tokenizer")
    cfg = OmegaConf.load(Path(verl.__file__).parent / "trainer/config/_generated_ppo_trainer.yaml")
    cfg.actor_rollout_ref.model.path = str(tmp / "tokenizer")
    cfg.actor_rollout_ref.rollout.prompt_length = PROMPT_LENGTH
    cfg.actor_rollout_ref.rollout.response_length = RESPONSE_LENGTH
    cfg.actor_rollout_ref.rollout.n = n
    cfg.trainer.use_v1 = False  # the ray trainer, whose rollout manager class the config names
    cfg.reward.custom_reward_function.path = str(write_reward_file(tmp / "my_reward.py"))
    cfg.reward.custom_reward_function.name = "compute_score"
    if alft is not None:
        with open_dict(cfg):
            cfg.alft = alft
    return cfg, tok


class _LocalHandle:
    """Stands in for a Ray actor handle: ``handle.compute_score.remote(data)`` calls the worker."""

    def __init__(self, worker):
        self.compute_score = types.SimpleNamespace(remote=worker.compute_score)


class VerlRollout:
    """verl's reward loop and agent-loop post-processing on rollouts the test writes."""

    def __init__(self, cfg, tok, worker_cls=None):
        from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
        from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
        from verl.utils.dataset.rl_dataset import get_dataset_class

        self.tok = tok
        self.reward_worker = RewardLoopWorker(cfg)
        w = object.__new__(worker_cls or AgentLoopWorker)  # the real class; its __init__ would start LLM servers
        w.config, w.rollout_config, w.tokenizer, w.processor = cfg, cfg.actor_rollout_ref.rollout, tok, None
        w.reward_loop_worker_handles = [_LocalHandle(self.reward_worker)]
        w.distillation_enabled, w.mm_processor_kwargs = False, {}
        w.dataset_cls = get_dataset_class(cfg.data)
        self.worker = w
        self.loop = self.reward_worker.reward_manager.loop  # verl's reward manager runs on this loop

    def output(self, row: dict):
        """verl's ``AgentLoopOutput`` for one rollout row."""
        from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics, AgentLoopOutput

        ids, mask = [], []
        for text, policy in row["segments"]:
            seg = self.tok(text).input_ids
            ids += seg
            mask += [int(policy)] * len(seg)
        return AgentLoopOutput(prompt_ids=self.tok(row["prompt"]).input_ids, response_ids=ids, response_mask=mask,
                               num_turns=len(row["segments"]) + 1, metrics=AgentLoopMetrics())

    @staticmethod
    def sample_kwargs(row: dict) -> dict:
        return {"raw_prompt": [{"role": "user", "content": row["prompt"]}], "data_source": "toy",
                "reward_model": {"ground_truth": row["ground_truth"]}, "uid": row["uid"], "extra_info": {}}

    async def assemble(self, rows: list[dict], validate: bool = False):
        """rows: dicts with ``prompt``, ``segments`` [(text, is_policy)], ``ground_truth``, ``uid``.
        Returns verl's DataProto for them (``_postprocess``)."""
        outs = []
        for row in rows:
            outs.append(await self.worker._agent_loop_postprocess(self.output(row), validate, **self.sample_kwargs(row)))
        return self.worker._postprocess(outs, validate=validate)

    def run(self, coro):
        return self.loop.run_until_complete(coro)


def rollout_rows(seed: int, n_prompts: int, n: int):
    """Rollouts of ``n`` samples for each of ``n_prompts`` prompts, single- and multi-turn (tool segments
    inside the response, masked 0), with repeated and unparseable answers; shuffled like verl's
    balanced batches (groups are not contiguous)."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_prompts):
        for _ in range(n):
            first = "abc0"[rng.integers(0, 4)]  # parse_answer: a, b, c or None ("0")
            if rng.random() < 0.5:
                segments = [(first + "+1", True)]
            else:  # assistant, tool response, assistant (ends on policy tokens)
                segments = [(first + "?", True), ("=2", False), ("1+", True)]
            rows.append({"prompt": f"{p}+1=?", "segments": segments, "ground_truth": "a", "uid": f"uid-{p}"})
    return [rows[i] for i in rng.permutation(len(rows))]
