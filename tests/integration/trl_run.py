"""A real TRL GRPOTrainer run on CPU with the alft reward function (integration tests, claim C8).

In-process: ``run_grpo(out_dir, ...)``. Several processes (gloo)::

    python -m torch.distributed.run --nproc_per_node 2 tests/integration/trl_run.py OUT_DIR \\
        --num-generations 4 --num-generations-eval 2 --train-batch 2 --eval-batch 3

Each process writes ``OUT_DIR/rank<r>.json``: every reward call (mode, prompts, completions and the
rewards returned, in TRL's order), and after training TRL's own log of the last generation batch
(``trainer._logs``: prompts, completions, rewards, advantages, gathered over processes).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_lm import char_tokenizer, parse_answer, tiny_llama  # noqa: E402

SCALE = -0.5
REWARD_NAME = "alft_diversity"


def prompts_dataset(n: int, offset: int = 0):
    from datasets import Dataset
    return Dataset.from_dict({"prompt": [f"{(i + offset) % 10}+{(i + offset) // 10}=?" for i in range(n)]})


def recording(reward_func, calls: list):
    """Wrap ``reward_func``; append each call's mode, inputs and output to ``calls``."""
    def wrapped(prompts=None, completions=None, completion_ids=None, **kwargs):
        out = reward_func(prompts=prompts, completions=completions, completion_ids=completion_ids, **kwargs)
        trainer = getattr(kwargs.get("log_metric"), "__self__", None)
        mode = "train" if trainer is None or trainer.model.training else "eval"
        calls.append({"mode": mode, "prompts": list(prompts), "completions": list(completions), "rewards": out})
        return out
    wrapped.__name__ = reward_func.__name__
    return wrapped


def run_grpo(out_dir, *, num_generations=4, num_generations_eval=3, train_batch=4, eval_batch=3, max_steps=2,
             n_eval_prompts=2, seed=0, scale_rewards="group"):
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from estimators import build_table
    from estimators.torch import trl_reward_function

    torch.manual_seed(seed)
    tok = char_tokenizer()
    model = tiny_llama(tok, seed=seed)
    reward = trl_reward_function(build_table("kl", "jackknife", num_generations), num_generations=num_generations,
                                 num_generations_eval=num_generations_eval, extract_answer=parse_answer,
                                 scale=SCALE, name=REWARD_NAME)
    calls: list = []
    args = GRPOConfig(output_dir=str(Path(out_dir) / "trainer"), use_cpu=True, report_to="none", seed=seed,
                      num_generations=num_generations, num_generations_eval=num_generations_eval,
                      scale_rewards=scale_rewards, per_device_train_batch_size=train_batch, per_device_eval_batch_size=eval_batch,
                      max_completion_length=6, max_steps=max_steps, learning_rate=1e-3, logging_steps=1,
                      save_strategy="no", eval_strategy="no", bf16=False, fp16=False,
                      dataloader_num_workers=0, disable_tqdm=True)
    trainer = GRPOTrainer(model=model, processing_class=tok, reward_funcs=[recording(reward, calls)], args=args,
                          train_dataset=prompts_dataset(16), eval_dataset=prompts_dataset(n_eval_prompts, 50))
    trainer.train()
    logs = {"prompt": list(trainer._logs["prompt"]), "completion": list(trainer._logs["completion"]),
            "rewards": list(trainer._logs["rewards"][REWARD_NAME]), "advantages": list(trainer._logs["advantages"])}
    metrics = trainer.evaluate()
    rank = int(os.environ.get("RANK", "0"))
    record = {"rank": rank, "world_size": int(os.environ.get("WORLD_SIZE", "1")), "calls": calls,
              "train_logs": logs, "eval_metrics": {k: float(v) for k, v in metrics.items()},
              "config": {"num_generations": num_generations, "num_generations_eval": num_generations_eval,
                         "scale": SCALE, "scale_rewards": scale_rewards}}
    path = Path(out_dir) / f"rank{rank}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)
    return record


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out_dir")
    p.add_argument("--num-generations", type=int, default=4)
    p.add_argument("--num-generations-eval", type=int, default=2)
    p.add_argument("--train-batch", type=int, default=2)
    p.add_argument("--eval-batch", type=int, default=3)
    p.add_argument("--max-steps", type=int, default=2)
    p.add_argument("--eval-prompts", type=int, default=3)
    p.add_argument("--scale-rewards", default="group", choices=["group", "batch", "none"])
    a = p.parse_args(argv)
    run_grpo(a.out_dir, num_generations=a.num_generations, num_generations_eval=a.num_generations_eval,
             train_batch=a.train_batch, eval_batch=a.eval_batch, max_steps=a.max_steps, n_eval_prompts=a.eval_prompts,
             scale_rewards=a.scale_rewards)


if __name__ == "__main__":
    main()
