"""C7 game definition and bad input: clear errors naming the parameter and the allowed range."""
import math

import numpy as np
import pytest

from estimators import build_table
from proofs_numeric.cli import main
from proofs_numeric.game import RunConfig, get_game, make_game, simulate
from proofs_numeric.game.exact import table_equilibria
from proofs_numeric.game.spec import check_table_for_game


def test_named_games():
    g = get_game("default")
    assert g.rewards == (1.0, 0.7, 0.4, 0.2, 0.0) and g.beta == 0.5 and g.generator.name == "kl"
    assert g.one_trace_per_answer and g.T == g.m == 5
    t = get_game("traces")
    assert t.traces_per_answer.tolist() == [1, 2, 3, 4, 5] and t.T == 15
    pi = np.full(15, 1 / 15)
    assert np.allclose(t.answer_probabilities(pi), np.array([1, 2, 3, 4, 5]) / 15)
    with pytest.raises(ValueError, match="game must be one of"):
        get_game("nope")


@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(rewards=[1, 0], beta=0), ValueError, "beta must be a finite real number > 0"),
    (dict(rewards=[1, 0], beta=-1), ValueError, "beta must be a finite real number > 0"),
    (dict(rewards=[1, 0], beta=math.nan), ValueError, "beta must be a finite real number > 0"),
    (dict(rewards=[1, 0], beta="1"), TypeError, "beta must be"),
    (dict(rewards=[1, math.nan], beta=1), ValueError, r"rewards\[1\] must be a finite real number"),
    (dict(rewards=[1, math.inf], beta=1), ValueError, r"rewards\[1\] must be a finite"),
    (dict(rewards=[1], beta=1), ValueError, "at least 2 answers"),
    (dict(rewards="10", beta=1), TypeError, "rewards must be a sequence"),
    (dict(rewards=[1, 0, 0], beta=1, traces_per_answer=[1, 2]), ValueError, "one count per answer"),
    (dict(rewards=[1, 0, 0], beta=1, traces_per_answer=[1, 0, 2]), ValueError, "unreachable"),
    (dict(rewards=[1, 0, 0], beta=1, trace_answer=[0, 0, 1]), ValueError, r"answer\(s\) \[2\] unreachable"),
    (dict(rewards=[1, 0], beta=1, trace_answer=[0, 1, 2]), ValueError, r"index in \[0, 1\]"),
    (dict(rewards=[1, 0], beta=1, generator="power"), (TypeError, ValueError), "alpha"),
])
def test_bad_games_are_refused(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        make_game(**kwargs)


@pytest.mark.parametrize("kwargs,msg", [
    (dict(K=1, step_size=1.0, steps=10), r"K must be an integer in \[2,"),
    (dict(K=4, step_size=0.0, steps=10), "step_size must be a finite real number > 0"),
    (dict(K=4, step_size=-1.0, steps=10), "step_size must be a finite real number > 0"),
    (dict(K=4, step_size=math.nan, steps=10), "step_size must be a finite real number > 0"),
    (dict(K=4, step_size=1.0, steps=0), "steps must be an integer >= 1"),
    (dict(K=4, step_size=1.0, steps=10, seeds=0), "seeds must be an integer >= 1"),
    (dict(K=4, step_size=1.0, steps=10, advantage="ppo"), "advantage must be one of"),
    (dict(K=4, step_size=1.0, steps=10, update="adam"), "update must be one of"),
])
def test_bad_run_configs_are_refused(kwargs, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        RunConfig(**kwargs)


def test_table_must_match_the_game():
    g = get_game("default")
    with pytest.raises(ValueError, match="K = 4 entries but the game is played with groups of K = 8"):
        simulate(g, build_table("kl", "plugin", 4), RunConfig(K=8, step_size=1.0, steps=2, seeds=2))
    with pytest.raises(ValueError, match="estimates generator 'euclidean' but the game's generator is 'kl'"):
        check_table_for_game(g, build_table("euclidean", "plugin", 4))
    with pytest.raises(ValueError, match="estimates generator"):
        table_equilibria(g, build_table("euclidean", "ustat", 4))
    with pytest.raises(TypeError, match="table must be an estimators.Table"):
        check_table_for_game(g, [0.0, 1.0])
    with pytest.raises(ValueError, match="theta0 must be 5 finite logits"):
        simulate(g, build_table("kl", "plugin", 4), RunConfig(K=4, step_size=1.0, steps=2, seeds=2),
                 theta0=[0.0, 1.0])


@pytest.mark.parametrize("argv,msg", [
    (["--exact", "--beta", "0"], "beta must be a finite real number > 0"),
    (["--exact", "--beta", "nan"], "beta must be a finite real number > 0"),
    (["--exact", "--rewards", "1,nan,0"], "must be a finite real number"),
    (["--exact", "--rewards", "1,x"], "--rewards must be comma-separated numbers"),
    (["--exact", "--rewards", "1,0.5,0", "--traces-per-answer", "1,2"], "one count per answer"),
    (["--exact", "--rewards", "1,0.5,0", "--trace-answer", "0,0,1"], "unreachable"),
    (["--exact", "--K", "1"], r"K must be an integer in \[2,"),
    (["--exact", "--K", "4,8"], "--exact takes one --K"),
    (["--exact", "--generator", "kl", "--method", "ustat"], "polynomial target"),
    (["--exact", "--generator", "power"], "--alpha is required"),
    (["--step-size", "0", "--K", "4", "--methods", "plugin", "--steps", "2"], "step_size must be"),
    (["--targets", "2", "--K", "4"], "--targets must be TV values in"),
])
def test_cli_bad_input_exits_2_with_a_clear_message(argv, msg, capsys, tmp_path):
    assert main(["game", *argv, "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert "alft game: error:" in err and __import__("re").search(msg, err), err
    assert not (tmp_path / "g" / "game.json").exists()
