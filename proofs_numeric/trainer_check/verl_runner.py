"""One seed of a simple policy update driven by verl 0.9.1's own advantage and policy-loss code (claim C9), on CPU.

What runs is verl's, on real ``DataProto`` batches: the batch holds one-token responses with the task score r(z)
on the last response token (where verl's reward loop puts it) and the parsed answer under ``pred``; the project's
hook :func:`estimators.torch.add_group_rewards` adds -beta g(C_i) per uid group; verl's
``ray_trainer.compute_advantage`` (GRPO with or without the std, RLOO, REINFORCE++-baseline) makes the advantages
and verl's ``compute_policy_loss_vanilla`` (PPO clip, token-mean) the loss, whose gradient an AdamW step applies
(lr decayed linearly to 0, gradient norm clipped at ``max_grad_norm`` as verl's actor does). The rollout is
sampling from the tiny LM's answer distribution (what vLLM or SGLang do in verl, on a GPU).

Not run here (needs GPUs): verl's ``RayPPOTrainer`` with its FSDP/Megatron actor workers and its vLLM/SGLang
rollout servers; the update above stands in for the actor worker's ``update_policy``.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from .tiny_model import build_tiny_lm
from .trl_runner import check_batch, check_run_size

__all__ = ["VERL_ESTIMATORS", "VerlSettings", "run_verl_seed", "verl_batch", "verl_advantages"]

#: verl 0.9.1 (adv_estimator, norm_adv_by_std_in_grpo) -> the advantage it makes (estimators.advantages)
VERL_ESTIMATORS = {("grpo", True): "grpo", ("grpo", False): "rloo", ("rloo", True): "rloo", ("rloo", False): "rloo",
                   ("reinforce_plus_plus_baseline", True): "rloo",
                   ("reinforce_plus_plus_baseline", False): "rloo"}


@dataclass(frozen=True)
class VerlSettings:
    """verl's ``algorithm.adv_estimator`` and ``norm_adv_by_std_in_grpo`` (read by GRPO only), and the run's
    size and optimizer (as :class:`.trl_runner.TrainerSettings`)."""

    adv_estimator: str = "rloo"
    norm_adv_by_std_in_grpo: bool = True
    steps: int = 150
    groups: int = 32
    learning_rate: float = 0.01
    max_grad_norm: float = 1.0
    clip_ratio: float = 0.2

    def __post_init__(self):
        if (self.adv_estimator, bool(self.norm_adv_by_std_in_grpo)) not in VERL_ESTIMATORS:
            raise ValueError(f"adv_estimator must be one of {sorted({k for k, _ in VERL_ESTIMATORS})} (the verl "
                             f"estimators with a group baseline this check predicts), got {self.adv_estimator!r}")
        check_run_size(self.steps, self.groups)
        for name in ("learning_rate", "clip_ratio", "max_grad_norm"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")

    @property
    def advantage(self) -> str:
        return VERL_ESTIMATORS[(self.adv_estimator, bool(self.norm_adv_by_std_in_grpo))]

    def to_dict(self) -> dict:
        return asdict(self)


def _actor_config(settings: VerlSettings, n: int, K: int):
    from verl.workers.config import FSDPActorConfig
    c = settings.clip_ratio
    return FSDPActorConfig(strategy="fsdp", rollout_n=K, ppo_mini_batch_size=n, ppo_micro_batch_size_per_gpu=n,
                           clip_ratio=c, clip_ratio_low=c, clip_ratio_high=c, loss_agg_mode="token-mean")


def verl_batch(lm, answers: np.ndarray, K: int, r: np.ndarray):
    """verl's DataProto for N one-token responses: prompts, responses, masks, the task score on the last response
    token (rm_scores), uid per group of K consecutive samples and the parsed answer (pred)."""
    import torch
    from verl import DataProto

    N = answers.size
    prompts = torch.tensor([lm.prompt_ids] * N)
    responses = torch.tensor(np.asarray(lm.answer_ids)[answers]).reshape(N, 1)
    attn = torch.ones(N, prompts.shape[1] + 1, dtype=torch.long)
    tensors = {"prompts": prompts, "responses": responses, "input_ids": torch.cat([prompts, responses], 1),
               "attention_mask": attn, "response_mask": torch.ones(N, 1, dtype=torch.long),
               "rm_scores": torch.tensor(r[answers], dtype=torch.float32).reshape(N, 1)}
    nt = {"uid": np.array([f"group-{i // K}" for i in range(N)], dtype=object),
          "pred": np.array([lm.tokenizer.decode([lm.answer_ids[a]]) for a in answers], dtype=object)}
    return DataProto.from_dict(tensors=tensors, non_tensors=nt)


def verl_advantages(batch, table, beta: float, K: int, settings: VerlSettings):
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage

    from estimators.torch import add_group_rewards

    add_group_rewards(batch, table, scale=-beta)  # the hook: + (-beta g(C_i)) on the last response token
    batch.batch["token_level_scores"] = batch.batch["rm_scores"]
    batch.batch["token_level_rewards"] = batch.batch["token_level_scores"]
    algo = AlgoConfig(adv_estimator=settings.adv_estimator, norm_adv_by_std_in_grpo=settings.norm_adv_by_std_in_grpo)
    out = compute_advantage(batch, adv_estimator=settings.adv_estimator, num_repeat=K,
                            norm_adv_by_std_in_grpo=settings.norm_adv_by_std_in_grpo, config=algo)
    return out.batch["advantages"]


def run_verl_seed(game, table, settings: VerlSettings, seed: int, *, answer_tokens: int | None = None, initial=None) -> dict:
    """As :func:`.trl_runner.run_trl_seed`, through verl's advantage and loss code; same return fields."""
    import torch
    from verl.trainer.ppo.core_algos import compute_policy_loss_vanilla

    K = table.K
    check_batch(settings.groups, K)
    lm = build_tiny_lm(game.m, answer_tokens=answer_tokens, seed=seed, initial=initial)
    model, n = lm.model, settings.groups * K
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: max(0.0, 1.0 - t / settings.steps))
    actor = _actor_config(settings, n, K)
    prompt = torch.tensor([lm.prompt_ids])
    history, sampled = [lm.answer_distribution()], []
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(settings.steps):
        p = torch.from_numpy(history[-1])
        answers = torch.multinomial(p, n, replacement=True, generator=gen).numpy()
        sampled.append(np.bincount(answers, minlength=game.m))
        batch = verl_batch(lm, answers, K, game.r)
        adv = verl_advantages(batch, table, game.beta, K, settings)
        logits = model(input_ids=prompt).logits[0, -1].float()
        log_prob = torch.log_softmax(logits, -1)[batch.batch["responses"].reshape(-1)].reshape(n, 1)
        loss, _ = compute_policy_loss_vanilla(old_log_prob=log_prob.detach(), log_prob=log_prob, advantages=adv,
                                              response_mask=batch.batch["response_mask"], loss_agg_mode="token-mean",
                                              config=actor)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
        opt.step()
        sched.step()
        history.append(lm.answer_distribution())
    return {"history": np.array(history), "sampled": np.array(sampled), "sampled_at": np.arange(settings.steps),
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
