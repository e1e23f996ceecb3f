"""Integration (claim C8): a real TRL GRPOTrainer run on CPU, in one process and in two (torchrun, gloo),
with groups split across processes and an evaluation group size different from training's.

Every reward the adapter returned is checked against a plain-Python count over TRL's global batch
(blocks of the group size in TRL's order); TRL's own log of the last training batch (what it stored
after gathering the processes' rewards) and its group advantages are checked too.
Needs the ``integration`` extra (trl 1.16.0); skipped otherwise.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("ALFT_REQUIRE_INTEGRATION") == "1":  # tox -e integration and CI: missing is an error
    import trl  # noqa: F401
else:
    pytest.importorskip("trl", reason="integration test: needs trl (pip install -e '.[integration]')")
pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from tiny_lm import parse_answer, reference_rewards  # noqa: E402
from trl_run import SCALE, run_grpo  # noqa: E402

from estimators import build_table  # noqa: E402


def global_calls(records):
    """Per reward call: mode, and prompts/completions/rewards of all processes in rank order (TRL's
    global order), plus the per-process batch size."""
    n_calls = {len(r["calls"]) for r in records}
    assert len(n_calls) == 1, f"processes made different numbers of reward calls: {n_calls}"
    out = []
    for k in range(n_calls.pop()):
        calls = [r["calls"][k] for r in records]
        assert len({c["mode"] for c in calls}) == 1
        out.append({"mode": calls[0]["mode"], "n_local": len(calls[0]["completions"]),
                    **{key: [x for c in calls for x in c[key]] for key in ("prompts", "completions", "rewards")}})
    return out


def tables_for(cfg):
    """The tables the reward function must use: corrected for the 'rloo' advantage when the trainer runs
    with scale_rewards 'none' or 'batch' (claim C9; a group of 2 keeps the plain table, its group reward
    cancels), as built under TRL's default 'group'."""
    G = {"train": cfg["num_generations"], "eval": cfg["num_generations_eval"]}
    adv = "rloo" if cfg["scale_rewards"] in ("none", "batch") else "decoupled"
    return G, {m: build_table("kl", "jackknife", g, advantage=adv if g >= 3 else "decoupled").values
               for m, g in G.items()}


def check_run(records, *, expect_split: bool):
    cfg = records[0]["config"]
    G, values = tables_for(cfg)
    calls = global_calls(records)
    assert {c["mode"] for c in calls} == {"train", "eval"}
    split = False
    for c in calls:
        g = G[c["mode"]]
        for b in range(0, len(c["prompts"]), g):  # TRL's layout: one prompt per block of g
            assert len(set(c["prompts"][b:b + g])) == 1
        answers = [parse_answer(t) for t in c["completions"]]
        assert c["rewards"] == reference_rewards(answers, values[c["mode"]], g, SCALE)
        split |= c["n_local"] % g != 0
    assert split == expect_split
    # TRL's own record of the last training batch (gathered over processes, float32)
    logs = records[0]["train_logs"]
    g = G["train"]
    ref = reference_rewards([parse_answer(t) for t in logs["completion"]], values["train"], g, SCALE)
    assert logs["rewards"] == [float(np.float32(v)) for v in ref]
    r = np.asarray(logs["rewards"], dtype=np.float64).reshape(-1, g)
    adv = r - r.mean(axis=1, keepdims=True)
    if cfg["scale_rewards"] == "group":
        adv = adv / (r.std(axis=1, ddof=1, keepdims=True) + 1e-4)
    np.testing.assert_allclose(logs["advantages"], adv.reshape(-1), rtol=1e-4, atol=1e-4)  # float32 arithmetic
    return calls


def test_trl_grpo_one_process_train_and_eval_group_sizes(tmp_path):
    rec = run_grpo(tmp_path, num_generations=4, num_generations_eval=3, train_batch=4, eval_batch=3, max_steps=2,
                   n_eval_prompts=2)
    calls = check_run([rec], expect_split=False)
    assert [c["mode"] for c in calls].count("eval") == 2


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_trl_grpo_two_processes_groups_split_across_ranks(tmp_path):
    """torchrun, 2 processes, gloo: num_generations=4 with per_device_train_batch_size=2 (every group
    straddles the processes) and num_generations_eval=2 with per_device_eval_batch_size=3; scale_rewards='none'
    (Dr. GRPO), so the reward function reads it from the trainer and scores with the corrected table."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [str(HERE.parents[1])] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), str(HERE / "trl_run.py"), str(tmp_path),
           "--num-generations", "4", "--num-generations-eval", "2", "--train-batch", "2", "--eval-batch", "3",
           "--max-steps", "2", "--eval-prompts", "3", "--scale-rewards", "none"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    records = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1)]
    assert [r["world_size"] for r in records] == [2, 2]
    calls = check_run(records, expect_split=True)
    assert all(c["n_local"] == 2 for c in calls if c["mode"] == "train")
