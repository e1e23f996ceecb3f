"""alft trainer-check (C9): the tiny LM, reading its policy, the JSON of the command, and bad input.

Needs the ``integration`` extra (trl 1.16.0, transformers); skipped otherwise. The pairs themselves (does the
trained policy land on its predicted fixed point?) are in test_trainer_check_pairs.py.
"""
import json
import os

import numpy as np
import pytest

if os.environ.get("ALFT_REQUIRE_INTEGRATION") == "1":  # tox -e integration and CI: missing is an error
    import trl  # noqa: F401
else:
    pytest.importorskip("trl", reason="integration test: needs trl (pip install -e '.[integration]')")
pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")

from estimators import build_table  # noqa: E402
from proofs_numeric.cli import main  # noqa: E402
from proofs_numeric.game.spec import get_game  # noqa: E402
from proofs_numeric.trainer_check.check import run_case  # noqa: E402
from proofs_numeric.trainer_check.predict import Case  # noqa: E402
from proofs_numeric.trainer_check.tiny_model import build_tiny_lm  # noqa: E402
from proofs_numeric.trainer_check.trl_runner import TrainerSettings, run_trl_seed  # noqa: E402


def test_tiny_lm_starts_where_asked_and_reads_its_policy():
    lm = build_tiny_lm(5, answer_tokens=8, seed=3)
    n = sum(p.numel() for p in lm.model.parameters())
    assert 1000 < n < 10000  # "a few thousand parameters"
    np.testing.assert_allclose(lm.answer_distribution(), np.full(5, 0.2), atol=1e-5)  # float32 logits
    p0 = np.array([0.5, 0.2, 0.15, 0.1, 0.05])
    np.testing.assert_allclose(build_tiny_lm(5, seed=4, initial=p0).answer_distribution(), p0, rtol=1e-4)
    # the full softmax at the prompt puts ~all mass on the answers (non-answer tokens start at logit -20)
    with torch.no_grad():
        full = torch.softmax(lm.model(input_ids=torch.tensor([lm.prompt_ids])).logits[0, -1].double(), -1)
    assert float(full[lm.answer_ids].sum()) > 1 - 1e-6
    assert set(lm.suppressed) == set(range(len(lm.tokenizer))) - set(lm.answer_ids)
    assert [lm.parse(c) for c in ("a", " e ", "f", "?", "")] == [0, 4, None, None, None]


def test_trl_samples_the_policy_it_reads():
    """Every completion TRL generates is one answer letter (the run raises otherwise), and the answers it draws
    follow the distribution read from the logits (pooled chi-square over 20 steps x 256 completions, seeded:
    deterministic here; as a test its false-alarm rate is at most 1e-3)."""
    out = run_case(Case("default", "jackknife", 4), TrainerSettings(steps=20, groups=64, learning_rate=0.05),
                   seeds=2, log=lambda m: None)
    assert out["sampling_check"]["samples"] == 2 * 20 * 256
    assert out["sampling_check"]["p_value"] > 1e-3
    assert len(out["trajectory_tv"]["tv"]) == 11 and out["trajectory_tv"]["tv"][-1] < out["trajectory_tv"]["tv"][0]


def test_cli_json_fields(capsys):
    rc = main(["trainer-check", "--game", "euclidean", "--K", "4", "--method", "ustat", "--advantage", "rloo",
               "--seeds", "2", "--steps", "4", "--groups", "8", "--format", "json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    for key in ("predicted", "trained", "p_star", "tv_trained_to_predicted", "tv_predicted_to_p_star", "steps",
                "seeds", "seconds", "steps_per_second", "sampling_check", "versions"):
        assert key in doc, key
    assert doc["steps"] == 4 and doc["seeds"] == 2 and doc["advantage"] == "rloo"
    assert doc["versions"]["trl"] == "1.16.0"
    assert set(doc["trained"]) >= {"mean", "lower", "upper", "per_seed", "level"}
    np.testing.assert_allclose(doc["predicted"], doc["p_star"], atol=1e-9)  # corrected U-statistic: p*


@pytest.mark.parametrize("argv, message", [
    (["--answer-tokens", "4"], "the game has 5 answers but the model has answer_tokens=4"),
    (["--num-generations", "8"], "the table has K = 4 entries but num_generations=8"),
    (["--answer-tokens", "27"], r"answer_tokens must be an integer in \[2, 26\]"),
    (["--seeds", "1"], r"seeds must be an integer in \[2, 1000\]"),
    (["--steps", "0"], r"steps must be an integer in \[1, 100000\]"),
    (["--groups", "20000"], "groups x K = 20000 x 4 = 80000 completions per step is over the budget"),
    (["--last", "9", "--steps", "4"], r"last must be an integer in \[1, steps\] = \[1, 4\]"),
    (["--lr", "-1"], "learning_rate must be a finite number > 0"),
    (["--engine", "verl", "--kl-beta", "0.1"], "--kl-beta apply to --engine trl only"),
    (["--advantage", "decoupled", "--method", "nope"], "method"),
])
def test_cli_bad_input(capsys, argv, message):
    rc = main(["trainer-check", "--game", "euclidean", "--K", "4", "--seeds", "2", "--steps", "2", *argv])
    assert rc == 2
    assert __import__("re").search(message, capsys.readouterr().err)


def test_cli_unknown_scale_rewards_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["trainer-check", "--scale-rewards", "std"])
    assert "invalid choice: 'std'" in capsys.readouterr().err


def test_api_bad_input():
    game = get_game("default")
    with pytest.raises(ValueError, match="scale_rewards must be one of"):
        TrainerSettings(scale_rewards="std")
    with pytest.raises(ValueError, match="the game has 5 answers but the model has answer_tokens=3"):
        run_trl_seed(game, build_table("kl", "jackknife", 4), TrainerSettings(steps=1, groups=1), 0, answer_tokens=3)
    with pytest.raises(ValueError, match="the table has K = 4 entries but num_generations=6"):
        run_case(Case("default", "jackknife", 4), TrainerSettings(steps=1, groups=1), seeds=2, num_generations=6)


@pytest.mark.parametrize("table_advantage, scale_rewards", [("decoupled", "none"), ("rloo", "none"),
                                                            ("rloo", "batch"), ("decoupled", "group")])
def test_the_adapter_applies_the_table_as_built(table_advantage, scale_rewards):
    """Whatever the adapter would read from the trainer (it corrects a plain table under scale_rewards='none'),
    the explicit advantage= the check passes makes it apply the table exactly as built: -beta g(C_i)."""
    import inspect
    import warnings

    from estimators.torch import trl_reward_function
    from proofs_numeric.trainer_check.trl_runner import adapter_advantage

    game = get_game("euclidean")
    table = build_table("euclidean", "ustat", 4, advantage=table_advantage)
    kw = adapter_advantage(table, TrainerSettings(scale_rewards=scale_rewards))
    assert ("advantage" in kw) == ("advantage" in inspect.signature(trl_reward_function).parameters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'grpo' warns that no table-only correction exists
        f = trl_reward_function(table, num_generations=4, scale=-game.beta, **kw)
        got = f(prompts=["?"] * 8, completions=list("aaba" "cdec"))
    counts = [2, 2, 0, 2, 1, 0, 0, 1]  # leave-one-out counts in each group of 4
    np.testing.assert_allclose(got, [-game.beta * table.values[c] for c in counts], rtol=0, atol=1e-12)
