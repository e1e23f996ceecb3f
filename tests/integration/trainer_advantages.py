"""The advantages TRL's and verl's own code compute for groups the test draws (integration, claim C9).

* :class:`TrlAdvantages`: a real ``GRPOTrainer`` (tiny model, character tokenizer) whose generation is
  TRL's ``rollout_func`` hook returning the drawn answers as completions; ``GRPOTrainer``'s own
  ``_generate_and_score_completions`` decodes them, calls the reward functions (a task reward and the alft
  reward function, which reads the trainer's settings) and computes the advantages.
* :func:`verl_advantages`: a verl ``DataProto`` with each answer's task score where verl's reward loop puts
  it, the group reward added by the verl hooks' own code (:class:`~estimators.torch.verl_settings.VerlGroupReward`
  on a trainer config), then verl's ``compute_advantage`` (the dispatcher both verl trainers call).

Both return the advantage and the total reward of each sample, in the order of ``answers.reshape(-1)``.
"""
from __future__ import annotations

import numpy as np

import advantage_mc as mc
from tiny_lm import char_tokenizer, tiny_llama

LETTERS = "abcd"  # answer z is the completion LETTERS[z]


def parse(text: str):
    text = text.strip()
    return text[:1] or None


class TrlAdvantages:
    """GRPOTrainer with ``scale_rewards`` and the alft reward function for ``table`` (``advantage``: the
    adapter's override, None to read the trainer's settings)."""

    def __init__(self, out_dir, table, *, scale_rewards: str, advantage: str | None = None, seed: int = 0):
        import torch
        from datasets import Dataset
        from trl import GRPOConfig, GRPOTrainer

        from estimators.torch import trl_reward_function

        torch.manual_seed(seed)
        self.tok = char_tokenizer()
        self.ids = [self.tok.convert_tokens_to_ids(c) for c in LETTERS]
        self.answers = None
        self.group_rewards: list = []
        alft = trl_reward_function(table, num_generations=mc.K, extract_answer=parse, scale=-mc.BETA,
                                   advantage=advantage, name="alft")

        def recorded(**kwargs):
            out = alft(**kwargs)
            self.group_rewards.extend(out)
            return out
        recorded.__name__ = "alft"

        def task(completions, **kwargs):
            return [float(mc.R[LETTERS.index(parse(c))]) for c in completions]

        args = GRPOConfig(output_dir=str(out_dir), use_cpu=True, report_to="none", seed=seed, num_generations=mc.K,
                          scale_rewards=scale_rewards, per_device_train_batch_size=mc.K, max_completion_length=4,
                          bf16=False, fp16=False, disable_tqdm=True)
        self.trainer = GRPOTrainer(model=tiny_llama(self.tok, seed=seed), processing_class=self.tok,
                                   reward_funcs=[task, recorded], args=args,
                                   train_dataset=Dataset.from_dict({"prompt": ["0?"] * mc.K}),
                                   rollout_func=self._rollout)
        self.trainer.model.train()  # training mode: the trainer scores groups of num_generations

    def _rollout(self, prompts, trainer):
        z = self.answers.reshape(-1)
        assert len(z) == len(prompts)
        return {"prompt_ids": [self.tok(p).input_ids for p in prompts],
                "completion_ids": [[self.ids[a], self.tok.eos_token_id] for a in z], "logprobs": None}

    def __call__(self, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.answers = answers
        self.group_rewards = []
        inputs = [{"prompt": f"{g}?"} for g in range(answers.shape[0]) for _ in range(mc.K)]
        out = self.trainer._generate_and_score_completions(inputs)
        adv = out["advantages"].double().numpy()
        total = mc.R[answers.reshape(-1)] + np.asarray(self.group_rewards)
        return adv, total


def verl_config(estimator: str, norm: bool | None, alft: dict) -> dict:
    """The parts of verl's trainer config the hooks read."""
    algorithm = {"adv_estimator": estimator}
    if norm is not None:
        algorithm["norm_adv_by_std_in_grpo"] = norm
    return {"actor_rollout_ref": {"rollout": {"n": mc.K, "val_kwargs": {"n": 1}}}, "algorithm": algorithm,
            "reward": {"reward_model": {"enable": False, "enable_resource_pool": False}},
            "alft": {"scale": -mc.BETA, **alft}}


def verl_advantages(answers: np.ndarray, group_reward, estimator: str, norm: bool | None):
    """verl's advantages for ``answers`` [G, K] with the group reward of ``group_reward``."""
    import torch
    from verl import DataProto
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage

    z = answers.reshape(-1)
    N, L = z.size, 2
    rm = torch.zeros(N, L)
    rm[:, -1] = torch.tensor(mc.R[z], dtype=torch.float32)  # the task score on the last response token
    uids = np.array([f"uid-{i // mc.K}" for i in range(N)], dtype=object)
    batch = DataProto.from_dict(
        tensors={"responses": torch.ones(N, L, dtype=torch.int64), "attention_mask": torch.ones(N, 1 + L, dtype=torch.int64),
                 "response_mask": torch.ones(N, L, dtype=torch.int64), "rm_scores": rm},
        non_tensors={"uid": uids, "pred": np.array([LETTERS[a] for a in z], dtype=object)})
    group_reward.add(batch, uids)
    batch.batch["token_level_scores"] = batch.batch["rm_scores"]
    batch.batch["token_level_rewards"] = batch.batch["token_level_scores"]
    kwargs = {} if norm is None else {"norm_adv_by_std_in_grpo": norm}
    out = compute_advantage(batch, adv_estimator=estimator, num_repeat=mc.K, config=AlgoConfig(gamma=1.0, lam=1.0),
                            **kwargs)
    adv = out.batch["advantages"][:, 0].double().numpy()
    total = batch.batch["rm_scores"].sum(dim=1).double().numpy()
    return adv, total
