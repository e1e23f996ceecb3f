"""Integration (claims C8, C9): verl 0.9.1's default v1 trainer with the alft replay buffer, on a real
TransferQueue (local Ray).

verl's own code writes the rollouts (``AgentLoopWorkerTQ._agent_loop_postprocess``: reward loop with the
custom reward function built by ``verl_answer_scorer``, score on the last response token, answers in the
reward extra info), registers the prompts (``PPOTrainer._submit_batch_to_rollout``), builds the replay buffer
named in the config (``PPOTrainer._build_replay_buffer``), samples a batch through it (the alft step adds
the group reward to ``rm_scores`` in TransferQueue) and computes advantages (``PPOTrainer._compute_advantage``,
verl's multi-trajectory GRPO). Scores and advantages read back from TransferQueue are checked against a
plain-Python count with the table corrected for the run's ``algorithm`` settings. Under GRPO one session
returns two outputs (an agent loop with several outputs): it counts once and both outputs carry its reward
(verl's GRPO uses each session's final output; its other estimators count every output, so the alft
replay buffer warns when a session has several outputs under them).
Needs the ``integration`` extra (verl 0.9.1, TransferQueue); skipped otherwise. About a minute, most of it
starting Ray.
"""
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("ALFT_REQUIRE_INTEGRATION") == "1":  # tox -e integration and CI: missing is an error
    import transfer_queue  # noqa: F401
    import verl  # noqa: F401
else:
    pytest.importorskip("verl", reason="integration test: needs verl (pip install -e '.[integration]')")
    pytest.importorskip("transfer_queue", reason="integration test: needs TransferQueue (the integration extra)")
pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_lm import parse_answer  # noqa: E402
from verl_objects import VerlRollout, rollout_rows, verl_config  # noqa: E402

from estimators import build_table  # noqa: E402

N, SCALE, PROMPTS = 4, -0.5, 3
ALFT = {"generator": "power", "generator_params": {"alpha": 3}, "method": "ustat", "scale": SCALE}


def v1_config(tmp, **algorithm):
    cfg, tok = verl_config(tmp, n=N, alft=ALFT)
    cfg.trainer.use_v1 = True
    cfg.trainer.v1.sampler.custom_sampler.path = "pkg://estimators.torch.verl_v1"
    cfg.trainer.v1.sampler.custom_sampler.name = "AlftReplayBuffer"
    cfg.trainer.v1.sampler.max_off_policy_threshold = None
    for key, value in algorithm.items():
        cfg.algorithm[key] = value
    return cfg, tok


@pytest.fixture(scope="module")
def transfer_queue_up():
    import ray
    import transfer_queue as tq
    from omegaconf import OmegaConf

    cfg, _ = v1_config(Path(os.environ.get("TMPDIR", "/tmp")) / "alft-v1-tq")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="alft-v1-test")
    conf = OmegaConf.create(OmegaConf.to_container(cfg.transfer_queue))
    conf.enable = True
    conf.backend.SimpleStorage.num_data_storage_units = 1
    tq.init(conf)
    yield
    tq.close()
    ray.shutdown()


def trainer_for(cfg):
    """verl's v1 trainer object with the config and the replay buffer it builds (no workers started)."""
    from verl.trainer.ppo.v1 import PPOTrainerSync
    t = object.__new__(PPOTrainerSync)
    t.config, t.trainer_mode, t.global_steps = cfg, cfg.trainer.v1.trainer_mode, 1
    t.replay_buffer = t._build_replay_buffer()
    return t


def submit(trainer, ro, rows, two_outputs: str):
    """verl registers the prompts and hands them to the rollout; the rollout here is verl's TQ worker
    post-processing the test's rows (session 0 of ``two_outputs`` returns two outputs)."""
    import transfer_queue as tq
    from verl.utils import tensordict_utils as tu

    uids = sorted({r["uid"] for r in rows})

    async def rollout():
        sessions = Counter()
        for row in rows:
            s = sessions[row["uid"]]
            sessions[row["uid"]] += 1
            out = ro.output(row)
            outs = [ro.output(dict(row, segments=[("h", True)])), out] if (row["uid"] == two_outputs and s == 0) else out
            await ro.worker._agent_loop_postprocess(outs, False, session_id=s, global_steps=1, **ro.sample_kwargs(row))
        for uid in uids:
            await tq.async_kv_put(key=uid, partition_id="train", tag={"status": "finished"})

    class Manager:
        def generate_sequences(self, batch):
            ro.run(rollout())

    trainer.agent_loop_manager = Manager()
    trainer._submit_batch_to_rollout(tu.get_tensordict({"uid": uids}))


def expected(rows, table):
    text = ["".join(t for t, _ in r["segments"]) for r in rows]
    answers = [parse_answer(t) for t in text]
    task = [float(t.strip().startswith(r["ground_truth"])) for t, r in zip(text, rows)]
    counts = Counter((r["uid"], a) for r, a in zip(rows, answers) if a is not None)
    return {(r["uid"], a, tk): tk + SCALE * float(table.values[0 if a is None else counts[(r["uid"], a)] - 1])
            for r, a, tk in zip(rows, answers, task)}, answers, task


@pytest.mark.parametrize("algorithm, advantage, two_outputs", [
    ({"adv_estimator": "grpo", "norm_adv_by_std_in_grpo": False}, "rloo", True),
    ({"adv_estimator": "rloo"}, "rloo", False)])
def test_verl_v1_replay_buffer_end_to_end(tmp_path, transfer_queue_up, algorithm, advantage, two_outputs):
    import transfer_queue as tq
    from transfer_queue import KVBatchMeta  # noqa: F401  (the type sample returns)
    from verl.trainer.ppo.v1.agent_loop_tq import AgentLoopWorkerTQ

    from estimators.torch.verl_v1 import AlftReplayBufferSync

    cfg, tok = v1_config(tmp_path, **algorithm)
    trainer = trainer_for(cfg)
    assert isinstance(trainer.replay_buffer, AlftReplayBufferSync)
    assert trainer.replay_buffer.alft_group_reward.reading.advantage == advantage
    ro = VerlRollout(cfg, tok, worker_cls=AgentLoopWorkerTQ.__ray_actor_class__)
    rows = sorted(rollout_rows(7, PROMPTS, N), key=lambda r: r["uid"])
    rows = [dict(r, uid=f"{r['uid']}-{algorithm['adv_estimator']}") for r in rows]  # fresh keys per case
    submit(trainer, ro, rows, two_outputs=rows[0]["uid"] if two_outputs else None)
    batch, _ = trainer.replay_buffer.sample(global_steps=1, partition_id="train", batch_size=PROMPTS)
    assert len(batch.keys) == PROMPTS * N + int(two_outputs)  # one session may have two outputs
    try:
        trainer._compute_advantage(batch, metrics={})
        got = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id,
                              select_fields=["uid", "rm_scores", "advantages", "extra_fields"])
    finally:
        tq.kv_clear(keys=batch.keys, partition_id=batch.partition_id)
    table = build_table("power", "ustat", N, generator_params={"alpha": 3}, advantage=advantage)
    totals_by_sample, answers, task = expected(rows, table)
    # trajectory keys {uid}_{session}_{index}: the final output of each session is the sample
    session_rows = {}
    for row in rows:
        session_rows.setdefault(row["uid"], []).append(row)
    totals, advs = [], []
    for key, scores, adv in zip(batch.keys, got["rm_scores"].unbind(), got["advantages"].unbind()):
        uid, session, _ = key.rsplit("_", 2)
        row = session_rows[uid][int(session)]
        a = parse_answer("".join(t for t, _ in row["segments"]))
        tk = float("".join(t for t, _ in row["segments"]).strip().startswith(row["ground_truth"]))
        want = totals_by_sample[(uid, a, tk)]
        assert float(scores.sum()) == pytest.approx(want, abs=1e-6), key
        assert float(scores[-1]) == pytest.approx(want, abs=1e-6)  # on the last response token
        totals.append((uid, session, want))
        advs.append((uid, session, float(adv[adv != 0][0]) if bool((adv != 0).any()) else 0.0))
    # verl's advantage of each session from the totals: the group mean (Dr. GRPO) or RLOO
    per_uid = {}
    for uid, session, t in totals:
        per_uid.setdefault(uid, {})[session] = t
    for uid, session, a in advs:
        group = np.array(list(per_uid[uid].values()))
        mean = group.mean()
        want = per_uid[uid][session] - mean
        if algorithm["adv_estimator"] == "rloo":
            want *= N / (N - 1)
        assert a == pytest.approx(want, abs=1e-5), (uid, session)


def test_verl_v1_replay_buffer_refusals(tmp_path):
    from verl.trainer.ppo.v1 import PPOTrainerSync  # noqa: F401

    from estimators.torch.verl_v1 import AlftReplayBufferAsync

    cfg, _ = v1_config(tmp_path / "a", adv_estimator="grpo")
    cfg.trainer.v1.trainer_mode = "colocate_async"
    with pytest.warns(UserWarning, match="norm_adv_by_std_in_grpo=True"):
        assert isinstance(trainer_for(cfg).replay_buffer, AlftReplayBufferAsync)
    cfg, _ = v1_config(tmp_path / "b", adv_estimator="rloo")
    cfg.reward.reward_model.enable = True
    with pytest.raises(ValueError, match="colocated reward model"):
        trainer_for(cfg)
    cfg, _ = v1_config(tmp_path / "c", adv_estimator="rloo")
    cfg.algorithm.filter_groups = {"enable": True, "metric": "acc"}
    with pytest.raises(ValueError, match="DAPO"):
        trainer_for(cfg)
