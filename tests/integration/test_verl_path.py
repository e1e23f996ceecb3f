"""Integration (claim C8): the verl 0.9 path on real verl objects.

verl's reward loop scores each rollout with the custom reward function built by
``verl_answer_scorer`` (reward manager ``naive``), verl's agent-loop post-processing assembles the
batch (``rm_scores`` on the last attended response token, answers under ``pred``),
``add_group_rewards`` adds the group reward, and verl's ``compute_advantage`` (GRPO, REINFORCE++)
turns it into advantages, which are checked against a plain-Python count. ``AlftAgentLoopManager``
runs verl's real ``AgentLoopManager.generate_sequences`` (chunking over several workers, which
splits groups) with the hook. Needs the ``integration`` extra (verl 0.9.1); skipped otherwise.
"""
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("ALFT_REQUIRE_INTEGRATION") == "1":  # tox -e integration and CI: missing is an error
    import verl  # noqa: F401
else:
    pytest.importorskip("verl", reason="integration test: needs verl (pip install -e '.[integration]')")
pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_lm import parse_answer  # noqa: E402
from verl_objects import VerlRollout, rollout_rows, verl_config  # noqa: E402

from estimators import build_table  # noqa: E402
from estimators.torch import add_group_rewards, place_at_last_token  # noqa: E402
from estimators.torch.verl import response_attention_mask  # noqa: E402

N_PER_PROMPT, SCALE = 4, -0.25


@pytest.fixture(scope="module")
def verl_env(tmp_path_factory):
    cfg, tok = verl_config(tmp_path_factory.mktemp("verl"), n=N_PER_PROMPT)
    return cfg, tok, VerlRollout(cfg, tok)


def expected_totals(rows, table, scale):
    """Plain Python: task score + scale * g(#others in the uid group with the same parsed answer)."""
    text = ["".join(t for t, _ in r["segments"]) for r in rows]
    answers = [parse_answer(t) for t in text]
    task = [float(t.strip().startswith(r["ground_truth"])) for t, r in zip(text, rows)]
    counts = Counter((r["uid"], a) for r, a in zip(rows, answers) if a is not None)
    return [task[i] + scale * float(table.values[0 if a is None else counts[(rows[i]["uid"], a)] - 1])
            for i, a in enumerate(answers)], task


def test_verl_placement_matches_verl_assembly(verl_env):
    cfg, tok, ro = verl_env
    rows = rollout_rows(1, 2, N_PER_PROMPT)
    batch = ro.run(ro.assemble(rows))
    _, task = expected_totals(rows, build_table("kl", "jackknife", N_PER_PROMPT), 0.0)
    attn = response_attention_mask(batch)
    scores = torch.tensor(task, dtype=torch.float32) + 0.5  # nonzero everywhere, to see the positions
    ours = place_at_last_token(scores, attn)
    # verl's two assemblies: the agent loop's (rm_scores) and the reward managers' classmethod
    from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase
    verl_rm = RewardManagerBase.assemble_rm_scores(batch, scores.tolist())
    assert torch.equal(ours, verl_rm)
    assert torch.equal(place_at_last_token(torch.tensor(task, dtype=torch.float32), attn), batch.batch["rm_scores"])
    resp_mask = batch.batch["response_mask"]
    multi = (resp_mask.sum(1) != attn.sum(1)).nonzero().reshape(-1)
    assert multi.numel() > 0  # some rows are multi-turn: tool tokens inside the response
    # the response ends on policy tokens here, so the last 1 of response_mask is verl's index too,
    # while sum(response_mask) - 1 falls inside the response
    assert torch.equal(place_at_last_token(scores, resp_mask), ours)
    old = (resp_mask.sum(1) - 1)[multi]
    assert bool((old < ours.nonzero()[:, 1][multi]).all())


def test_verl_group_rewards_through_compute_advantage(verl_env):
    cfg, tok, ro = verl_env
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage

    rows = rollout_rows(2, 3, N_PER_PROMPT)
    table = build_table("kl", "jackknife", N_PER_PROMPT)
    totals, task = expected_totals(rows, table, SCALE)
    for estimator in ("grpo", "reinforce_plus_plus"):
        batch = ro.run(ro.assemble(rows))
        assert list(batch.non_tensor_batch["pred"]) == [parse_answer("".join(t for t, _ in r["segments"]))
                                                        for r in rows]  # the scorer's answers, carried by verl
        added = add_group_rewards(batch, table, uids=[r["uid"] for r in rows], scale=SCALE)
        np.testing.assert_allclose(batch.batch["rm_scores"].sum(1).numpy(), totals, rtol=0, atol=1e-6)
        assert added.tolist() == pytest.approx([t - s for t, s in zip(totals, task)], abs=1e-12)
        # what verl's trainer does next (extract_reward, then compute_advantage)
        batch.non_tensor_batch["uid"] = np.array([r["uid"] for r in rows], dtype=object)
        batch.batch["token_level_scores"] = batch.batch["rm_scores"]
        batch.batch["token_level_rewards"] = batch.batch["token_level_scores"]
        out = compute_advantage(batch, adv_estimator=estimator, num_repeat=N_PER_PROMPT,
                                config=AlgoConfig(gamma=1.0, lam=1.0))
        mask = out.batch["response_mask"].bool()
        if estimator == "grpo":
            t = np.asarray(totals)
            uids = np.array([r["uid"] for r in rows])
            want = np.empty_like(t)
            for u in set(uids):
                sel = uids == u
                want[sel] = (t[sel] - t[sel].mean()) / (t[sel].std(ddof=1) + 1e-6)
            for i in range(len(rows)):
                np.testing.assert_allclose(out.batch["advantages"][i][mask[i]].numpy(), want[i], rtol=1e-5, atol=1e-5)
        else:  # REINFORCE++ with gamma = 1: the return at the first response token is the whole reward
            first = mask.int().argmax(dim=1)
            got = out.batch["returns"][torch.arange(len(rows)), first].numpy()
            np.testing.assert_allclose(got, totals, rtol=0, atol=1e-6)


def test_verl_reinforce_pp_drops_a_score_on_a_tool_token(verl_env):
    """Why placement matters: verl's REINFORCE++ carries returns through tool tokens but drops a reward
    that sits on one, which is where sum(response_mask) - 1 puts it in a multi-turn response."""
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.core_algos import compute_reinforce_plus_plus_outcome_advantage

    mask = torch.tensor([[1, 1, 1, 0, 0, 1, 1]])
    scores = torch.tensor([1.0])
    for placed, kept in ((place_at_last_token(scores, mask), 1.0),
                         (torch.zeros(1, 7).index_put_((torch.tensor([0]), mask.sum(1) - 1), scores), 0.0)):
        _, returns = compute_reinforce_plus_plus_outcome_advantage(placed, mask, config=AlgoConfig(gamma=1.0))
        assert float(returns[0, 0]) == kept


def _stub_workers(ro, current, n_workers):
    """Agent-loop workers for verl's AgentLoopManager: ``generate_sequences.remote(chunk)`` returns the
    real post-processed batch of the rollouts the test wrote (``current["rows"]``, indexed by the
    per-sample ``priority`` the manager assigns) for those prompts."""
    import types

    def generate(chunk):
        rows = [current["rows"][int(p)] for p in chunk.non_tensor_batch["priority"]]
        return ro.assemble(rows, validate=bool(chunk.meta_info.get("validate", False)))

    return [types.SimpleNamespace(generate_sequences=types.SimpleNamespace(remote=generate))
            for _ in range(n_workers)]


def _prompts_proto(rows, *, validate=False, do_sample=None):
    from verl import DataProto
    nt = {"uid": np.array([r["uid"] for r in rows], dtype=object),
          "raw_prompt": np.array([[{"role": "user", "content": r["prompt"]}] for r in rows], dtype=object)}
    if do_sample is not None:
        nt["__do_sample__"] = np.asarray(do_sample, dtype=bool)
    p = DataProto.from_dict(tensors={"dummy": torch.zeros(len(rows), 1)}, non_tensors=nt)
    p.meta_info["validate"] = validate
    return p


def test_verl_alft_agent_loop_manager(tmp_path, verl_env):
    _, tok, ro = verl_env
    from estimators.torch.verl_manager import AlftAgentLoopManager

    cfg, _ = verl_config(tmp_path, n=N_PER_PROMPT, alft={"generator": "kl", "method": "jackknife", "scale": SCALE})
    manager = AlftAgentLoopManager(cfg, llm_client=None)
    rows = rollout_rows(3, 2, N_PER_PROMPT)
    rows.sort(key=lambda r: r["uid"])  # verl repeats each prompt n times (interleave=True) before the rollout
    current = {"rows": rows}
    manager.agent_loop_workers = _stub_workers(ro, current, 4)  # chunks of 2: every group over 2 workers
    table = build_table("kl", "jackknife", N_PER_PROMPT)
    totals, task = expected_totals(rows, table, SCALE)
    assert not np.allclose(totals, task)  # the group reward is visible in the totals
    run = AlftAgentLoopManager.generate_sequences.__wrapped__  # the coroutine, on verl's reward-loop event loop
    out = ro.run(run(manager, _prompts_proto(rows)))
    np.testing.assert_allclose(out.batch["rm_scores"].sum(1).numpy(), totals, rtol=0, atol=1e-6)
    # validation batches keep the task score
    val = ro.run(run(manager, _prompts_proto(rows, validate=True)))
    np.testing.assert_allclose(val.batch["rm_scores"].sum(1).numpy(), task, rtol=0, atol=0)
    # REMAX: one greedy baseline row per prompt, with the prompt's uid, takes no part
    base = [dict(rows[0]), dict(rows[N_PER_PROMPT])]
    current["rows"] = rows + base
    manager.agent_loop_workers = _stub_workers(ro, current, 2)  # chunks of 5: the second group is split
    remax = ro.run(run(manager, _prompts_proto(rows + base, do_sample=[True] * len(rows) + [False, False])))
    _, base_task = expected_totals(base, table, 0.0)
    np.testing.assert_allclose(remax.batch["rm_scores"].sum(1).numpy(), totals + base_task, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="rollout.n must be >= 2"):
        AlftAgentLoopManager(verl_config(tmp_path / "n1", n=1, alft={})[0], llm_client=None)
    v1, _ = verl_config(tmp_path / "v1", alft={})
    v1.trainer.use_v1 = True
    with pytest.raises(ValueError, match="use_v1=false"):
        AlftAgentLoopManager(v1, llm_client=None)
    with pytest.raises(ValueError, match="unknown key"):
        AlftAgentLoopManager(verl_config(tmp_path / "bad", alft={"sclae": 1})[0], llm_client=None)
