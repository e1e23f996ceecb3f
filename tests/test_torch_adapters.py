"""Claim C8: trainer adapters, called exactly as TRL's GRPOTrainer and a verl reward manager do."""
import re
import uuid
from types import SimpleNamespace

import numpy as np
import pytest

from _torch_common import torch
from estimators import build_table
from estimators.torch import normalize_answer
from estimators.torch.adapters import (completion_text, place_at_last_token, trl_reward_function, verl_group_ids,
                                       verl_group_rewards)


def boxed(text):
    m = re.findall(r"\\boxed\{([^}]*)\}", text)
    return m[-1] if m else None


def reference_group_rewards(answers, table, G):
    """Plain Python: per group, g(#others with the same answer) (None answers are distinct)."""
    out = []
    for b in range(0, len(answers), G):
        grp = answers[b:b + G]
        for i, a in enumerate(grp):
            c = 0 if a is None else sum(1 for j, x in enumerate(grp) if j != i and x == a)
            out.append(float(table.values[c]))
    return out


def grpo_call(reward_func, dataset_rows, completions, G):
    """Mimics GRPOTrainer._calculate_rewards: prompts repeated per generation, extra columns as
    keyword lists, completion_ids, trainer_state."""
    inputs = [row for row in dataset_rows for _ in range(G)]
    prompts = [x["prompt"] for x in inputs]
    keys = [k for k in inputs[0] if k not in ("prompt", "completion")]
    reward_kwargs = {k: [x[k] for x in inputs] for k in keys}
    reward_kwargs["trainer_state"] = SimpleNamespace(global_step=3)
    completion_ids = [[1, 2, 3]] * len(completions)
    return reward_func(prompts=prompts, completions=completions, completion_ids=completion_ids, **reward_kwargs)


def test_c8_trl_adapter_standard_format():
    G = 4
    table = build_table("kl", "jackknife", G)
    rows = [{"prompt": "1+1?", "answer": "2"}, {"prompt": "2+2?", "answer": "4"}]
    texts = ["so \\boxed{2}", "\\boxed{ 2 }", "\\boxed{3}", "no idea",
             "\\boxed{4}", "\\boxed{4}", "\\boxed{4}", "\\boxed{4.}"]
    fn = trl_reward_function(table, num_generations=G, extract_answer=boxed, normalize=normalize_answer,
                             advantage="decoupled")
    assert fn.__name__ == "alft_group_reward"
    got = grpo_call(fn, rows, texts, G)
    answers = [None if boxed(t) is None else normalize_answer(boxed(t)) for t in texts]
    assert isinstance(got, list) and all(isinstance(v, float) for v in got)
    assert got == reference_group_rewards(answers, table, G)


def test_c8_trl_adapter_conversational_format_scale_and_constant():
    G = 3
    table = build_table("kl", "plugin", G)
    rows = [{"prompt": [{"role": "user", "content": "capital of France?"}], "solution": "Paris"}]
    completions = [[{"role": "assistant", "content": "Paris"}], [{"role": "assistant", "content": "Paris"}],
                   [{"role": "assistant", "content": "Lyon"}]]
    fn = trl_reward_function(table, num_generations=G, add_constant=True, scale=-0.5, name="kl_diversity",
                             advantage="decoupled")
    assert fn.__name__ == "kl_diversity"
    got = grpo_call(fn, rows, completions, G)
    ref = [-0.5 * (v + 1.0) for v in reference_group_rewards(["Paris", "Paris", "Lyon"], table, G)]
    assert got == pytest.approx(ref, rel=1e-15, abs=0)
    assert completion_text({"role": "assistant", "content": [{"type": "text", "text": "hi"}]}) == "hi"


def test_c8_trl_adapter_rejects_split_or_mixed_groups():
    fn = trl_reward_function(build_table("kl", "plugin", 2), num_generations=2, advantage="decoupled")
    with pytest.raises(ValueError, match="multiple of num_generations"):
        fn(prompts=["a", "a", "b"], completions=["x", "y", "z"])
    with pytest.raises(ValueError, match="prompts"):
        fn(prompts=["a", "b", "b", "a"], completions=["x", "y", "z", "w"])
    with pytest.raises(TypeError, match="completions"):
        fn(prompts=["a", "a"])
    with pytest.raises(ValueError, match="num_generations"):
        trl_reward_function(build_table("kl", "plugin", 2), num_generations=1)
    with pytest.raises(ValueError, match="table"):  # table size must equal the group size
        trl_reward_function(build_table("kl", "plugin", 3), num_generations=2)(completions=["a", "b"])


def test_c8_verl_grouping_helper_on_an_interleaved_batch():
    rng = np.random.default_rng(0)
    G, n_prompts = 5, 6
    uids = [str(uuid.UUID(int=int(rng.integers(1 << 62)))) for _ in range(n_prompts)]
    per = [(u, str(rng.integers(0, 3))) for u in uids for _ in range(G)]
    order = rng.permutation(len(per))  # verl batches need not be contiguous
    batch = SimpleNamespace(non_tensor_batch={"uid": np.array([per[i][0] for i in order], dtype=object)})
    answers = [per[i][1] for i in order]
    gids = verl_group_ids(batch)
    assert gids.dtype == torch.int64 and int(gids.max()) == n_prompts - 1
    table = build_table("kl", "jackknife", G)
    got = verl_group_rewards(batch, answers, table, dtype=torch.float64)
    for i in range(len(answers)):  # reference: count within the sample's uid group
        same = [j for j in range(len(answers)) if batch.non_tensor_batch["uid"][j] == batch.non_tensor_batch["uid"][i]]
        c = sum(1 for j in same if j != i and answers[j] == answers[i])
        assert float(got[i]) == table.values[c]
    # mapping form, integer answer ids, ragged group sizes
    keep = np.ones(len(answers), dtype=bool)
    keep[np.nonzero(gids.numpy() == 0)[0][:2]] = False  # group 0 loses two samples
    sub = {"uid": batch.non_tensor_batch["uid"][keep]}
    ids = torch.tensor([int(a) for a in np.array(answers)[keep]])
    tables = {k: build_table("kl", "jackknife", k) for k in (G - 2, G)}
    got2 = verl_group_rewards(sub, ids, tables, dtype=torch.float64)
    assert got2.shape == (int(keep.sum()),)
    with pytest.raises(ValueError, match="group size"):
        verl_group_rewards(sub, ids, {G: table})
    with pytest.raises(KeyError, match="uid"):
        verl_group_ids({"index": [1, 2]})


def test_c8_place_at_last_token():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])
    out = place_at_last_token(torch.tensor([0.5, -1.0]), mask)
    assert out.tolist() == [[0, 0, 0.5, 0], [-1.0, 0, 0, 0]]
    with pytest.raises(ValueError, match="no valid token"):
        place_at_last_token(torch.tensor([1.0]), torch.tensor([[0, 0]]))


def test_c8_verl_unparseable_answers_and_local_ids():
    uids = np.array(["a", "a", "b", "b", "a"], dtype=object)
    answers = [None, None, "x", "x", "y"]
    tables = {k: torch.arange(k, dtype=torch.float64) for k in (2, 3)}  # probe tables: reward = count
    assert verl_group_rewards(uids, answers, tables, dtype=torch.float64).tolist() == [0, 0, 1, 1, 0]
    assert verl_group_rewards(uids, answers, tables, none_answers="same",
                              dtype=torch.float64).tolist() == [1, 1, 1, 1, 0]
    with pytest.raises(ValueError, match="uids"):
        verl_group_rewards(uids, answers[:3], tables)


# ----------------------------------------------------------------------------- groups across processes and modes

from estimators.torch.distributed import answer_hash  # noqa: E402
from estimators.torch.trl import prompt_runs, resolve_group_size, trainer_group_size  # noqa: E402
from estimators.torch.verl import add_group_rewards, last_token_index, verl_answer_scorer  # noqa: E402


def fake_trainer_kwargs(training: bool, G: int, G_eval: int, scale_rewards="group",
                        multi_objective_aggregation="sum_then_normalize"):
    """What TRL passes as ``log_metric``: a bound method of the trainer (with the settings GRPOTrainer's
    advantage code reads)."""
    class GRPOTrainer:
        def __init__(self):
            self.model = SimpleNamespace(training=training)
            self.num_generations, self.num_generations_eval = G, G_eval
            self.scale_rewards, self.multi_objective_aggregation = scale_rewards, multi_objective_aggregation

        def _log_metric(self, name, value):
            pass
    return {"log_metric": GRPOTrainer()._log_metric}


@pytest.mark.parametrize("n, runs, sizes, hint, expect", [
    (8, [4, 4], (4,), None, 4),
    (8, [4, 4], (3, 4), None, 4),            # 3 does not tile
    (6, [3, 3], (3, 4), None, 3),            # eval size found from the prompts
    (8, [8], (4, 8), 8, 8),                  # ambiguous runs, the trainer says 8
    (8, [8], (4, 8), 4, 4),                  # two adjacent groups with one prompt, the trainer says 4
    (8, None, (4,), None, 4),
])
def test_c8_resolve_group_size(n, runs, sizes, hint, expect):
    assert resolve_group_size(n, runs, sizes, hint) == expect


@pytest.mark.parametrize("n, runs, sizes, hint, match", [
    (8, [8], (4, 8), None, "fit group sizes"),          # ambiguous without the trainer
    (6, [3, 3], (4,), None, "not a multiple"),
    (8, [3, 5], (4,), None, "prompts: completions 0..2"),
    (8, [4, 4], (4,), 2, "configured for"),              # the trainer uses a size the adapter does not know
    (8, [2, 6], (2, 4), 4, "cannot tile"),
])
def test_c8_resolve_group_size_rejects(n, runs, sizes, hint, match):
    with pytest.raises(ValueError, match=match):
        resolve_group_size(n, runs, sizes, hint)


def test_c8_trl_eval_group_size_from_prompts_and_from_the_trainer():
    G, G_eval = 4, 3
    table = build_table("kl", "jackknife", G)
    fn = trl_reward_function(table, num_generations=G, num_generations_eval=G_eval, advantage="decoupled")
    rows = [{"prompt": "p"}, {"prompt": "q"}]
    texts = ["1", "1", "2", "x", "x", "y"]
    ref = reference_group_rewards(texts, build_table("kl", "jackknife", G_eval), G_eval)
    assert grpo_call(fn, rows, texts, G_eval) == ref  # groups inferred from the prompts
    inputs = dict(prompts=["p"] * 3 + ["q"] * 3, completions=texts)
    assert fn(**inputs, **fake_trainer_kwargs(False, G, G_eval)) == ref
    with pytest.raises(ValueError, match="cannot tile|not a multiple"):  # a training call with 6 completions
        fn(**inputs, **fake_trainer_kwargs(True, G, G_eval))
    assert trainer_group_size({}) is None and trainer_group_size(fake_trainer_kwargs(True, 4, 2)) == 4
    with pytest.raises(ValueError, match="num_generations_eval must be an integer >= 2"):
        trl_reward_function(table, num_generations=G, num_generations_eval=1)
    with pytest.raises(ValueError, match="table has K = 4 entries but num_generations=3"):
        trl_reward_function(table, num_generations=3)
    with pytest.raises(ValueError, match="K = 4 entries but groups have 3"):  # a raw table serves one size
        trl_reward_function(torch.tensor(table.values), num_generations=G, num_generations_eval=G_eval)


def _two_rank_worker(rank, world, port, out_dir):
    """One process of the gloo test: split groups, eval size, None answers, and two bad layouts."""
    import json
    import os
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    res = {}
    calls = {"collectives": 0}
    for name in ("all_gather", "all_gather_object", "all_reduce", "broadcast", "gather", "all_to_all"):
        def counted(*args, _f=getattr(dist, name), **kwargs):
            calls["collectives"] += 1
            return _f(*args, **kwargs)
        setattr(dist, name, counted)  # this spawned process only
    try:
        G, G_eval = 4, 2
        fn = trl_reward_function(build_table("kl", "jackknife", G), num_generations=G, num_generations_eval=G_eval,
                                 advantage="decoupled")
        # eval (G = 2), global batch a a b | b c c: group b straddles the processes
        prompts = ["a", "a", "b"] if rank == 0 else ["b", "c", "c"]
        answers = [["1", "2", "1"], [None, None, "1"]][rank]
        texts = ["" if a is None else a for a in answers]
        fn_none = trl_reward_function(build_table("kl", "jackknife", G), num_generations=G,
                                      num_generations_eval=G_eval, extract_answer=lambda t: t or None,
                                      advantage="decoupled")
        res["eval_split"] = fn_none(prompts=prompts, completions=texts, **fake_trainer_kwargs(False, G, G_eval))
        res["collectives_eval"] = calls["collectives"]
        fn4 = trl_reward_function(build_table("kl", "jackknife", G), num_generations=G, advantage="decoupled")
        res["local_whole_groups"] = fn4(prompts=["a"] * 4, completions=["x", "y", "x", "z"])  # whole groups
        res["collectives_local"] = calls["collectives"] - res["collectives_eval"]
        res["train_split"] = fn(prompts=["a", "a"], completions=[["x", "y"], ["x", "x"]][rank],
                                **fake_trainer_kwargs(True, G, G_eval))
        try:  # ranks in different modes: the same clear error on both
            fn(prompts=["a", "a"], completions=["x", "y"], **fake_trainer_kwargs(rank == 0, G, G_eval))
        except ValueError as exc:
            res["modes_error"] = str(exc)
        try:  # global prompts b a | a a: a run that groups of 4 cannot tile
            fn(prompts=["b", "a"] if rank == 0 else ["a", "a"], completions=["x", "z"],
               **fake_trainer_kwargs(True, G, G_eval))
        except ValueError as exc:
            res["layout_error"] = str(exc)
    finally:
        dist.destroy_process_group()
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(res, f)


@pytest.mark.slow
def test_c8_trl_groups_split_across_two_gloo_processes(tmp_path):
    """Two processes (torch.multiprocessing, gloo): each holds part of a group; the reward function
    gathers the answer ids once and returns its own slice of the whole-group rewards."""
    import json
    import socket
    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_two_rank_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    r = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1)]
    t2, t4 = build_table("kl", "jackknife", 2), build_table("kl", "jackknife", 4)
    # eval, G = 2: global answers 1 2 | 1 None | None 1 in blocks of two (a, b, c)
    global_answers = ["1", "2", "1", None, None, "1"]
    assert r[0]["eval_split"] + r[1]["eval_split"] == reference_group_rewards(global_answers, t2, 2)
    # train, G = 4: one group a = x y | x x, split over the two processes
    assert r[0]["train_split"] + r[1]["train_split"] == reference_group_rewards(["x", "y", "x", "x"], t4, 4)
    # a gathering call: the 8-byte layout agreement and the gather; a local call: the agreement only
    assert r[0]["collectives_eval"] == r[1]["collectives_eval"] == 2
    assert r[0]["collectives_local"] == 1 and r[0]["local_whole_groups"] == reference_group_rewards(
        ["x", "y", "x", "z"], t4, 4)
    assert "disagree on the group size" in r[0]["modes_error"] and r[0]["modes_error"] == r[1]["modes_error"]
    assert "prompts" in r[0]["layout_error"] and r[0]["layout_error"] == r[1]["layout_error"]


def test_c8_answer_hash_is_stable():
    assert answer_hash("42") == answer_hash("42") != answer_hash("43")
    assert 0 <= answer_hash("x") < 2 ** 63
    import hashlib
    digest = hashlib.blake2b("é".encode("utf-8"), digest_size=8).digest()  # the documented definition
    assert answer_hash("é") == int.from_bytes(digest, "little") & ((1 << 63) - 1)


def test_c8_placement_uses_the_last_valid_token_of_multi_turn_masks():
    mask = torch.tensor([[1, 1, 1, 0, 0, 1, 1], [1, 1, 0, 0, 0, 0, 0], [0, 1, 0, 1, 0, 0, 0]])
    assert last_token_index(mask).tolist() == [6, 1, 3]  # sum(mask) - 1 would give 4, 1, 1
    out = place_at_last_token(torch.tensor([2.0, 3.0, 4.0]), mask)
    assert out[0, 6] == 2.0 and out[1, 1] == 3.0 and out[2, 3] == 4.0 and float(out.sum()) == 9.0
    with pytest.raises(ValueError, match="scores must be"):
        place_at_last_token(torch.tensor([1.0]), mask)


def fake_dataproto(uids, answers, resp_lens, L=5, prompt_len=2, task=None):
    """A DataProto look-alike: right-padded responses, rm_scores with the task score where verl puts it."""
    N = len(uids)
    attn = torch.zeros(N, prompt_len + L, dtype=torch.int64)
    attn[:, :prompt_len] = 1
    for i, n in enumerate(resp_lens):
        attn[i, prompt_len:prompt_len + n] = 1
    rm = torch.zeros(N, L)
    task = [0.0] * N if task is None else task
    for i, n in enumerate(resp_lens):
        rm[i, n - 1] = task[i]
    batch = {"responses": torch.ones(N, L, dtype=torch.int64), "attention_mask": attn, "rm_scores": rm}
    batch["token_level_scores"] = rm  # one tensor under two keys, as verl's trainer holds it
    nt = {"uid": np.array(uids, dtype=object), "pred": np.array(answers, dtype=object)}
    return SimpleNamespace(batch=batch, non_tensor_batch=nt)


def test_c8_add_group_rewards_on_a_verl_like_batch():
    uids = ["u", "v", "u", "v", "u", "v"]
    answers = ["1", "x", "1", None, "2", None]
    b = fake_dataproto(uids, answers, [5, 3, 1, 2, 4, 5], task=[1, 0, 0, 1, 0, 0])
    table = build_table("kl", "jackknife", 3)
    got = add_group_rewards(b, table, scale=-0.5)
    ref_u = reference_group_rewards(["1", "1", "2"], table, 3)
    ref_v = reference_group_rewards(["x", None, None], table, 3)
    want = [ref_u[0], ref_v[0], ref_u[1], ref_v[1], ref_u[2], ref_v[2]]
    assert got.tolist() == [-0.5 * w for w in want]
    totals = b.batch["rm_scores"].sum(dim=1).tolist()
    assert totals == pytest.approx([t - 0.5 * w for t, w in zip([1, 0, 0, 1, 0, 0], want)], abs=1e-6)
    pos = b.batch["rm_scores"].nonzero()[:, 1].tolist()
    assert sorted(set(pos)) <= [0, 1, 2, 3, 4] and b.batch["rm_scores"][2, 0] != 0  # length-1 response: index 0
    # rows: the REMAX greedy baseline row takes no part and gets nothing
    b2 = fake_dataproto(uids + ["u"], answers + ["1"], [5, 3, 1, 2, 4, 5, 2])
    got2 = add_group_rewards(b2, table, rows=[True] * 6 + [False])
    assert got2[-1] == 0 and got2[:6].tolist() == want
    with pytest.raises(KeyError, match="pred"):
        add_group_rewards(fake_dataproto(uids, answers, [1] * 6), table, answer_key="answer")
    with pytest.raises(ValueError, match="group"):  # a group of one
        add_group_rewards(fake_dataproto(["u", "u", "w"], ["1", "1", "1"], [1, 1, 1]), table)
    with pytest.raises(ValueError, match="uids has shape"):
        add_group_rewards(b, table, uids=["u"] * 5)
    with pytest.raises(ValueError, match="rows"):
        add_group_rewards(b, table, rows=[True])
    with pytest.raises(TypeError, match="DataProto"):
        add_group_rewards({"uid": uids}, table)


def test_c8_verl_answer_scorer():
    score = verl_answer_scorer(boxed, correctness=lambda solution_str, ground_truth, **kw: float(boxed(solution_str)
                                                                                              == ground_truth))
    assert score("math", "so \\boxed{4}", "4", {}) == {"score": 1.0, "pred": "4"}
    assert score(data_source="math", solution_str="no", ground_truth="4") == {"score": 0.0, "pred": None}
    with pytest.raises(ValueError, match="answer_key"):
        verl_answer_scorer(boxed, answer_key="score")


# ----------------------------------------------------------------------------- C9: the trainer's advantage

import warnings  # noqa: E402

from estimators.torch.trainer_settings import (TRL_RULES, VERL_RULES, TableChooser, table_for,  # noqa: E402
                                               trl_reading, verl_reading)
from estimators.table import Table  # noqa: E402


class GRPOConfig(SimpleNamespace):
    """Stands in for trl.GRPOConfig (the adapter reads settings by class name and attribute)."""


class RLOOConfig(SimpleNamespace):
    """Stands in for trl.RLOOConfig."""


@pytest.mark.parametrize("config, advantage, exactness", [
    (GRPOConfig(), "grpo", "none"),                                     # TRL's default scale_rewards='group'
    (GRPOConfig(scale_rewards=True), "grpo", "none"),
    (GRPOConfig(scale_rewards="group"), "grpo", "none"),
    (GRPOConfig(scale_rewards="batch"), "rloo", "step size"),
    (GRPOConfig(scale_rewards="none"), "rloo", "step size"),
    (GRPOConfig(scale_rewards=False), "rloo", "step size"),
    (GRPOConfig(scale_rewards="none", multi_objective_aggregation="normalize_then_sum"), "grpo", "none"),
    (RLOOConfig(), "rloo", "exact"),
    (RLOOConfig(normalize_advantages=True), "rloo", "step size"),
])
def test_c9_trl_settings_map_to_an_advantage(config, advantage, exactness):
    r = trl_reading(config, source="args")
    assert (r.advantage, r.exactness, r.source) == (advantage, exactness, "args")
    assert any(r.setting == f"{rule.trainer} {rule.setting}" for rule in TRL_RULES)


def test_c9_trl_settings_refuse_what_they_do_not_know():
    with pytest.raises(ValueError, match="scale_rewards='sometimes'"):
        trl_reading(GRPOConfig(scale_rewards="sometimes"))
    with pytest.raises(ValueError, match="multi_objective_aggregation"):
        trl_reading(GRPOConfig(multi_objective_aggregation="max"))
    with pytest.raises(TypeError, match="GRPOTrainer"):
        trl_reading(SimpleNamespace())


def test_c9_verl_rules_cover_each_setting_once():
    for rule in VERL_RULES:
        est, _, norm = rule.setting.partition(", norm_adv_by_std_in_grpo=")
        algo = {"adv_estimator": est}
        if norm:
            algo["norm_adv_by_std_in_grpo"] = norm == "True"
        if rule.advantage is None:
            with pytest.raises(ValueError, match=est):
                verl_reading(algo)
            continue
        r = verl_reading(algo)
        assert (r.advantage, r.exactness, r.setting) == (rule.advantage, rule.exactness, f"verl {rule.setting}")
    assert verl_reading({"adv_estimator": "grpo"}).advantage == "grpo"  # verl's default keeps the std
    with pytest.raises(ValueError, match="alft.advantage"):
        verl_reading({"adv_estimator": "my_estimator"})
    assert len({r.setting for r in VERL_RULES}) == len(VERL_RULES)


def test_c9_table_for_corrects_rebuilds_or_refuses():
    t = build_table("power", "ustat", 5, generator_params={"alpha": 3})
    rloo = build_table("power", "ustat", 5, generator_params={"alpha": 3}, advantage="rloo")
    assert table_for(t, 5, "decoupled") is t and table_for(t, 5, "grpo") is t
    got = table_for(t, 5, "rloo")
    assert got.advantage == "rloo" and list(got.values) == list(rloo.values)
    assert list(table_for(t, 4, "rloo").values) == list(build_table("power", "ustat", 4, generator_params={
        "alpha": 3}, advantage="rloo").values)
    assert table_for(rloo, 5, "rloo") is rloo and table_for(rloo, 5, "grpo") is rloo  # already corrected / as built
    with pytest.raises(ValueError, match="corrected for the 'rloo' advantage"):
        table_for(rloo, 5, "decoupled")
    with pytest.raises(ValueError, match="raw table cannot be corrected"):
        table_for(torch.tensor(t.values), 5, "rloo")
    assert table_for(torch.tensor(t.values), 5, "grpo") is not None  # raw tables pass as given without a correction
    mapping = {5: t, 4: build_table("power", "ustat", 4, generator_params={"alpha": 3})}
    assert list(table_for(mapping, 4, "rloo").values) == list(table_for(t, 4, "rloo").values)
    custom = Table(values=t.values, generator=t.generator, method="my_method")
    with pytest.raises(ValueError, match="not in the registry"):
        table_for(custom, 5, "rloo")
    # groups of 2 under 'rloo': the group reward cancels whatever the table, so the plain table, warned once
    kl = build_table("kl", "jackknife", 5, advantage="rloo")
    assert table_for(kl, 2, "rloo").advantage == "decoupled"
    chooser = TableChooser(kl)
    with pytest.warns(UserWarning, match="groups of 2"):
        assert chooser.tables(trl_reading(GRPOConfig(scale_rewards="none")), [2, 5])[5] is kl


def test_c9_table_chooser_warns_once_per_setting():
    chooser = TableChooser(build_table("kl", "jackknife", 4))
    grpo = trl_reading(GRPOConfig())
    with pytest.warns(UserWarning, match="scale_rewards='none'") as rec:
        chooser.tables(grpo, [4, 3])
    assert len(rec) == 1 and "scale_rewards='group'" in str(rec[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chooser.tables(grpo, [4])  # once only
        chooser.tables(trl_reading(GRPOConfig(scale_rewards="none")), [4])  # an exact setting never warns
    with pytest.warns(UserWarning, match="no trainer or trainer settings were seen"):
        TableChooser(build_table("kl", "jackknife", 4)).tables(TableChooser(None).reading(None), [4])
    assert TableChooser(None, advantage="rloo").reading(grpo).advantage == "rloo"  # explicit overrides
    with pytest.raises(ValueError, match="advantage must be one of"):
        TableChooser(None, advantage="ppo")


def test_c9_trl_reward_function_reads_the_trainers_settings():
    G, G_eval = 4, 3
    table = build_table("kl", "jackknife", G)
    fn = trl_reward_function(table, num_generations=G, num_generations_eval=G_eval)
    texts = ["1", "1", "2", "1", "x", "y", "x", "x"]
    inputs = dict(prompts=["p"] * 4 + ["q"] * 4, completions=texts)
    corrected = build_table("kl", "jackknife", G, advantage="rloo")
    got = fn(**inputs, **fake_trainer_kwargs(True, G, G_eval, scale_rewards="none"))
    assert got == reference_group_rewards(texts, corrected, G)
    assert got != reference_group_rewards(texts, table, G)
    ev = fn(prompts=["p"] * 3, completions=texts[:3], **fake_trainer_kwargs(False, G, G_eval, scale_rewards="batch"))
    assert ev == reference_group_rewards(texts[:3], build_table("kl", "jackknife", G_eval, advantage="rloo"), G_eval)
    with pytest.warns(UserWarning, match="scale_rewards='group'"):
        assert fn(**inputs, **fake_trainer_kwargs(True, G, G_eval)) == reference_group_rewards(texts, table, G)
    # explicit advantage overrides the trainer; args are read now and checked against the trainer
    fixed = trl_reward_function(table, num_generations=G, advantage="decoupled")
    assert fixed(**inputs, **fake_trainer_kwargs(True, G, G, scale_rewards="none")) == reference_group_rewards(
        texts, table, G)
    early = trl_reward_function(table, num_generations=G, args=GRPOConfig(num_generations=G, scale_rewards="none"))
    assert early(**inputs) == reference_group_rewards(texts, corrected, G)  # no trainer: the args decide
    with pytest.raises(ValueError, match="args= says"):
        early(**inputs, **fake_trainer_kwargs(True, G, G, scale_rewards="batch"))
    with pytest.raises(ValueError, match="args.num_generations=8"):
        trl_reward_function(table, num_generations=G, args=GRPOConfig(num_generations=8))
    with pytest.raises(ValueError, match="raw table cannot be corrected"):  # at construction: args were given
        trl_reward_function(torch.tensor(table.values), num_generations=G, args=GRPOConfig(scale_rewards="none"))
    with pytest.raises(ValueError, match="sync_timeout"):
        trl_reward_function(table, num_generations=G, sync_timeout=0)


# ----------------------------------------------------------------------------- C9: verl settings (no verl import)

from estimators.torch.verl import check_group_sizes  # noqa: E402
from estimators.torch.verl_settings import VerlGroupReward  # noqa: E402


def verl_cfg(n=3, algorithm=None, alft=None, reward_model=None):
    return {"actor_rollout_ref": {"rollout": {"n": n, "val_kwargs": {"n": 1}}},
            "algorithm": algorithm or {"adv_estimator": "grpo", "norm_adv_by_std_in_grpo": True},
            "reward": {"reward_model": reward_model or {"enable": False, "enable_resource_pool": False}},
            "alft": {"generator": "kl", "method": "jackknife", "scale": -0.5, **(alft or {})}}


def test_c9_verl_group_reward_reads_the_algorithm_block():
    with pytest.warns(UserWarning, match="norm_adv_by_std_in_grpo=True"):
        g = VerlGroupReward(verl_cfg())
    assert g.reading.advantage == "grpo" and list(g.table(3).values) == list(build_table("kl", "jackknife", 3).values)
    g = VerlGroupReward(verl_cfg(algorithm={"adv_estimator": "grpo", "norm_adv_by_std_in_grpo": False}))
    assert list(g.table(3).values) == list(build_table("kl", "jackknife", 3, advantage="rloo").values)
    g = VerlGroupReward(verl_cfg(algorithm={"adv_estimator": "reinforce_plus_plus"}))
    assert g.table(3).advantage == "decoupled"
    g = VerlGroupReward(verl_cfg(alft={"advantage": "rloo"}))  # the override: no warning, corrected
    assert g.reading.source == "explicit" and g.table(3).advantage == "rloo"
    with pytest.raises(ValueError, match="gdpo_reward_keys"):
        VerlGroupReward(verl_cfg(algorithm={"adv_estimator": "gdpo"}))
    with pytest.raises(ValueError, match="colocated reward model"):
        VerlGroupReward(verl_cfg(reward_model={"enable": True, "enable_resource_pool": False}), {"advantage": "rloo"})
    VerlGroupReward(verl_cfg(reward_model={"enable": True, "enable_resource_pool": True}), {"advantage": "rloo"})
    with pytest.raises(ValueError, match="rollout.n must be >= 2"):
        VerlGroupReward(verl_cfg(n=1), {"advantage": "rloo"})


def test_c9_verl_group_sizes_against_rollout_n():
    assert check_group_sizes(["a", "a", "b", "b"], 2) == {2: 2}
    with pytest.raises(ValueError, match=r"uid groups of \[5\] samples but actor_rollout_ref.rollout.n=4"):
        check_group_sizes(["u"] * 5 + ["v"] * 4, 4)
    with pytest.warns(UserWarning, match=r"uid groups of \[3\] samples \(rollout.n=4; 1 group"):
        check_group_sizes(["u"] * 3 + ["v"] * 4, 4)
    b = fake_dataproto(["u", "u", "u", "v", "v", "v", "v", "v"], ["1"] * 8, [1] * 8)
    with pytest.raises(ValueError, match="rollout.n=4"):
        add_group_rewards(b, build_table("kl", "jackknife", 4), group_size=4)


# ----------------------------------------------------------------------------- uneven ranks: errors, not hangs

UNEVEN = {"2v6": (2, (2, 6)), "2v4": (4, (2, 4)), "0v4": (4, (0, 4)), "alone": (4, (4, 4))}  # G, (n0, n1)


def _uneven_worker(rank, world, port, out_dir):
    """One process of the uneven-ranks test: each case in turn (the process group stays usable after a
    layout error, which every rank raises after the agreement); 'alone' last, since rank 0's collective is
    abandoned there."""
    import json
    import os
    import time
    import torch.distributed as dist
    from datetime import timedelta
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=120))
    res = {}
    for case, (G, ns) in UNEVEN.items():
        n = ns[rank]
        fn = trl_reward_function(build_table("kl", "jackknife", G), num_generations=G, advantage="decoupled",
                                 sync_timeout=3)
        dist.barrier()
        res[case] = {"error": None}
        t0 = time.monotonic()
        if case == "alone" and rank == 1:
            time.sleep(6)  # rank 1 never calls the reward function
        else:
            try:
                fn(prompts=[f"p{i // G}" for i in range(n)], completions=["x"] * n)
            except (ValueError, RuntimeError) as exc:
                res[case]["error"] = f"{type(exc).__name__}: {exc}"
        res[case]["seconds"] = time.monotonic() - t0
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(res, f)
    dist.destroy_process_group()


@pytest.mark.slow
def test_c8_uneven_ranks_raise_the_same_clear_error_within_seconds(tmp_path):
    """Two gloo processes outside TRL's layout: 2 vs 6 completions (gloo used to abort on rank 0), 2 vs 4
    (rank 0 used to wait in all_gather until rank 1 exited), 0 vs 4, and rank 0 calling alone (it used to
    wait for the process-group timeout, 30 minutes by default): the same error on every calling rank, within
    seconds (sync_timeout=3 s for the last)."""
    import json
    import socket
    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_uneven_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    r = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1)]
    for case, (_, counts) in UNEVEN.items():
        if case == "alone":
            continue
        assert r[0][case]["error"] == r[1][case]["error"] == (
            f"ValueError: processes disagree on the batch layout: completions per rank {list(counts)} (every process "
            f"must score the same number of completions in one call, as TRL's GRPOTrainer does)"), case
        assert max(x[case]["seconds"] for x in r) < 10, case
    alone = r[0]["alone"]
    assert alone["error"].startswith("RuntimeError: agreeing on the batch layout: rank 0 of 2"), alone
    assert "within 3 s of each other (sync_timeout)" in alone["error"]
    assert 2.5 < alone["seconds"] < 10


def test_c9_docs_show_the_mapping_as_the_code_has_it():
    from pathlib import Path
    from estimators.torch.trainer_settings import rules_markdown
    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "trainers.md").read_text()
    assert rules_markdown(TRL_RULES) in doc and rules_markdown(VERL_RULES) in doc
    readme = root / "README.md"
    section = readme.read_text().split("*Which table the trainer gets (claim C9).*")[1].split("*TRL.*")[0]
    for rule in VERL_RULES:  # every verl estimator appears in the README's summary table
        assert f"`{rule.setting.split(',')[0]}`" in section, rule.setting
