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
    fn = trl_reward_function(table, num_generations=G, extract_answer=boxed, normalize=normalize_answer)
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
    fn = trl_reward_function(table, num_generations=G, add_constant=True, scale=-0.5, name="kl_diversity")
    assert fn.__name__ == "kl_diversity"
    got = grpo_call(fn, rows, completions, G)
    ref = [-0.5 * (v + 1.0) for v in reference_group_rewards(["Paris", "Paris", "Lyon"], table, G)]
    assert got == pytest.approx(ref, rel=1e-15, abs=0)
    assert completion_text({"role": "assistant", "content": [{"type": "text", "text": "hi"}]}) == "hi"


def test_c8_trl_adapter_rejects_split_or_mixed_groups():
    fn = trl_reward_function(build_table("kl", "plugin", 2), num_generations=2)
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
