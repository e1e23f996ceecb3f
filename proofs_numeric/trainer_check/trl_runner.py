"""One seed of TRL 1.16's ``GRPOTrainer`` on the tiny LM, with the game's reward r(z) - beta g(C_i) (claim C9).

The reward is the sum of two TRL reward functions: the task reward r(z) of the answer letter, and the project's
group reward ``estimators.torch.trl_reward_function(table, scale=-beta)``. A callback reads the policy's answer
distribution exactly from the logits before the first step and after every optimizer step; the task reward
records how many of each answer TRL sampled at each step (a check that the distribution read is the one sampled).
"""
from __future__ import annotations

import contextlib
import inspect
import logging
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from .tiny_model import build_tiny_lm

__all__ = ["SCALE_REWARDS", "MAX_STEPS", "MAX_COMPLETIONS_PER_STEP", "TrainerSettings", "run_trl_seed",
           "adapter_advantage", "check_run_size", "check_batch"]

#: TRL's scale_rewards and the advantage each makes (estimators.advantages; the group-std one has no table form)
SCALE_REWARDS = {"none": "rloo", "batch": "rloo", "group": "grpo"}
#: work budget of one run: the policy is read (and kept) after every step; completions per step
MAX_STEPS, MAX_COMPLETIONS_PER_STEP = 100_000, 65_536


@dataclass(frozen=True)
class TrainerSettings:
    """TRL settings of a run (the ones the prediction depends on, and the run's size).

    ``steps`` optimizer steps with ``groups`` groups of K completions each; Adam (TRL's default ``adamw_torch``)
    with ``learning_rate`` decayed linearly to 0 (TRL's default schedule); ``kl_beta`` is TRL's own KL-to-reference
    coefficient (``GRPOConfig.beta``; its reference model is the starting model), ``max_grad_norm`` its gradient
    clipping, ``epsilon`` its ratio clipping,
    ``num_iterations`` its updates per generation batch (> 1 makes the updates off-policy, where clipping acts).
    """

    scale_rewards: str = "none"
    steps: int = 150
    groups: int = 32
    learning_rate: float = 0.01
    lr_scheduler_type: str = "linear"
    kl_beta: float = 0.0
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    epsilon: float = 0.2
    num_iterations: int = 1
    optim: str = "adamw_torch"

    def __post_init__(self):
        if self.scale_rewards not in SCALE_REWARDS:
            raise ValueError(f"scale_rewards must be one of {sorted(SCALE_REWARDS)} (TRL 1.16's GRPOConfig values), "
                             f"got {self.scale_rewards!r}")
        check_run_size(self.steps, self.groups)
        if isinstance(self.num_iterations, bool) or not isinstance(self.num_iterations, int) or \
                not 1 <= self.num_iterations <= 64:
            raise ValueError(f"num_iterations must be an integer in [1, 64], got {self.num_iterations!r}")
        for name, positive in (("learning_rate", True), ("kl_beta", False), ("max_grad_norm", False),
                               ("weight_decay", False), ("epsilon", True)):
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and (v > 0 if positive
                                                                                                else v >= 0)
            if not ok:
                raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {v!r}")

    @property
    def advantage(self) -> str:
        """The advantage TRL applies under ``scale_rewards`` (``rloo`` or ``grpo``)."""
        return SCALE_REWARDS[self.scale_rewards]

    def to_dict(self) -> dict:
        return asdict(self)


def check_run_size(steps, groups) -> None:
    """``steps`` in [1, MAX_STEPS] and ``groups`` in [1, MAX_COMPLETIONS_PER_STEP // 2] (the work budget of a run;
    the group size is checked against it when the run starts)."""
    for name, v, hi in (("steps", steps, MAX_STEPS), ("groups", groups, MAX_COMPLETIONS_PER_STEP // 2)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
            raise ValueError(f"{name} must be an integer in [1, {hi}], got {v!r}")


def check_batch(groups: int, K: int) -> None:
    if groups * K > MAX_COMPLETIONS_PER_STEP:
        raise ValueError(f"groups x K = {groups} x {K} = {groups * K} completions per step is over the budget of "
                         f"{MAX_COMPLETIONS_PER_STEP}; use fewer groups")


def adapter_advantage(table, settings: TrainerSettings) -> dict:
    """Keyword for the TRL adapter that makes it apply ``table`` exactly as given, when the adapter reads the
    trainer's advantage itself (it has an ``advantage=`` parameter): the table's own advantage under a mean
    baseline ('decoupled' applies a plain table as it is, 'rloo' a corrected one), 'grpo' under the group std.
    Empty for an adapter without the parameter (it always applies the table as given)."""
    from estimators.torch import trl_reward_function
    if "advantage" not in inspect.signature(trl_reward_function).parameters:
        return {}
    return {"advantage": "grpo" if settings.advantage == "grpo" else table.advantage}


def _config(settings: TrainerSettings, K: int, seed: int, out_dir: str, suppressed: list):
    from trl import GRPOConfig
    return GRPOConfig(
        output_dir=out_dir, use_cpu=True, report_to="none", seed=seed, bf16=False, fp16=False,
        num_generations=K, per_device_train_batch_size=K * settings.groups, max_completion_length=1,
        max_steps=settings.steps, learning_rate=settings.learning_rate, lr_scheduler_type=settings.lr_scheduler_type,
        beta=settings.kl_beta, max_grad_norm=settings.max_grad_norm, weight_decay=settings.weight_decay,
        epsilon=settings.epsilon, num_iterations=settings.num_iterations, optim=settings.optim,
        scale_rewards=settings.scale_rewards, gradient_checkpointing=False, logging_steps=10 ** 9,
        save_strategy="no", eval_strategy="no", dataloader_num_workers=0, disable_tqdm=True,
        generation_kwargs={"suppress_tokens": suppressed})


@contextlib.contextmanager
def _quiet():
    """TRL/transformers progress and log lines go to standard error (standard output carries the JSON)."""
    import transformers
    old = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.getLogger("trl").setLevel(logging.ERROR)
            yield
    finally:
        transformers.logging.set_verbosity(old)
        transformers.utils.logging.enable_progress_bar()


def run_trl_seed(game, table, settings: TrainerSettings, seed: int, *, answer_tokens: int | None = None,
                 initial=None) -> dict:
    """Train the tiny LM from ``seed`` with GRPOTrainer; the policy's answer distribution at every step.

    Returns ``history`` [steps + 1, m] (float64; row 0 before the first step), ``sampled`` [G, m] (answers TRL
    drew in each of its G generation batches: one per step, one per ``num_iterations`` steps when that is > 1),
    ``sampled_at`` [G] (the reading each batch was drawn from), ``seconds`` (training wall time) and
    ``cpu_seconds`` (process CPU time).
    """
    from datasets import Dataset
    from transformers import PrinterCallback, ProgressCallback, TrainerCallback
    from trl import GRPOTrainer

    from estimators.torch import trl_reward_function

    K = table.K
    check_batch(settings.groups, K)
    lm = build_tiny_lm(game.m, answer_tokens=answer_tokens, seed=seed, initial=initial)
    r = game.r
    history, sampled, sampled_at = [lm.answer_distribution()], [], []

    def task_reward(prompts=None, completions=None, **kwargs):
        idx = [lm.parse(c) for c in completions]
        if any(i is None for i in idx):
            bad = next(c for c, i in zip(completions, idx) if i is None)
            raise RuntimeError(f"TRL produced a completion {bad!r} that is not an answer letter (suppression failed)")
        if lm.model.training:  # a generation batch: drawn from the policy of the latest reading
            sampled.append(np.bincount(idx, minlength=game.m))
            sampled_at.append(len(history) - 1)
        return [float(r[i]) for i in idx]

    diversity = trl_reward_function(table, num_generations=K, extract_answer=lambda t: lm.parse(t),
                                    scale=-game.beta, name="alft_group_reward", **adapter_advantage(table, settings))

    class ReadPolicy(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            history.append(lm.answer_distribution(model))

    t0, c0 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="alft-trainer-check-") as tmp, _quiet():
        if settings.kl_beta > 0:  # TRL loads its reference model from the policy's path: the starting weights
            lm.model.save_pretrained(f"{tmp}/reference")
            lm.model.config._name_or_path = f"{tmp}/reference"
        prompts = Dataset.from_dict({"prompt": [lm.tokenizer.decode(lm.prompt_ids)] * settings.groups})
        trainer = GRPOTrainer(model=lm.model, processing_class=lm.tokenizer, reward_funcs=[task_reward, diversity],
                              args=_config(settings, K, seed, tmp, lm.suppressed), train_dataset=prompts,
                              callbacks=[ReadPolicy()])
        for cb in (PrinterCallback, ProgressCallback):  # their log lines would interleave with the progress lines
            trainer.remove_callback(cb)
        trainer.train()
    hist = np.array(history)
    if hist.shape != (settings.steps + 1, game.m):
        raise RuntimeError(f"expected {settings.steps + 1} policy readings, got {hist.shape[0]}")
    return {"history": hist, "sampled": np.array(sampled).reshape(-1, game.m), "sampled_at": np.array(sampled_at),
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
