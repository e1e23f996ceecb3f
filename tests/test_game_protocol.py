"""C7: the batch engine (paths, pairing, processes), the tuned protocol, its verdict, the horizon predictor and
``alft recommend``.

Monte Carlo tests are seeded and state their sample sizes and tolerances.
"""
import json

import numpy as np
import pytest

from estimators import build_table
from proofs_numeric.game import engine, get_game, make_game
from proofs_numeric.game.engine import Batch, run_batch
from proofs_numeric.game.equilibria import optimum
from proofs_numeric.game.protocol import (Entry, ProtocolConfig, Schedule, entries_for, make_batch, record_grid,
                                          run_cell)
from proofs_numeric.game.verdict import summarise_cell, verdict_paragraph

DEFAULT = get_game("default")
P_STAR = optimum(DEFAULT)[0]


def _batch(game, tables, etas, *, K, advantage="decoupled", seeds=6, groups=2, steps=40, seed=3):
    return Batch(r=game.r, beta=game.beta, answer_of=game.answer_of, K=K, tables=np.stack([t.values for t in tables]),
                 etas=np.tile(np.asarray(etas, dtype=float)[:, None], (1, steps)), seeds=seeds, groups=groups,
                 advantage=advantage, update="pg", record=np.arange(steps + 1), seed=seed, theta0=game.theta0)


@pytest.mark.parametrize("kind", ["decoupled", "rloo", "grpo"])
@pytest.mark.parametrize("game_name,K", [("default", 3), ("default", 8), ("traces", 4), ("traces", 16)])
def test_count_level_and_sample_level_paths_agree(kind, game_name, K):
    """The update direction computed per (answer, group) equals the one computed per sample (rounding only)."""
    game = get_game(game_name)
    bt = _batch(game, [build_table("kl", "jackknife", K)], [1.0], K=K, advantage=kind, groups=3)
    bt, _ = engine._prepare(bt)
    rng = np.random.default_rng(7)
    rows = 5
    theta = rng.normal(size=(game.T, rows))
    pi = engine._softmax0(theta)
    u = rng.random((rows, bt.groups * K))
    cdf = np.cumsum(pi, axis=0)
    cdf[-1] = 1.0
    y = engine._sample_traces(cdf, u)
    cols = engine._group_columns(rows, bt.groups, K)
    Ntr = np.bincount((y * (rows * bt.groups) + cols).ravel(), minlength=game.T * bt.groups * rows)
    Ntr = Ntr.reshape(game.T, bt.groups, rows)
    flat = np.tile(bt.tables[0], rows)
    starts = engine._starts(bt.answer_of)
    a = engine._count_level_direction(bt, Ntr, pi, flat, starts)
    b = engine._sample_level_direction(bt, y, cols, Ntr, pi, flat, starts)
    assert np.allclose(a, b, rtol=1e-12, atol=1e-12)


def test_common_random_numbers_pair_the_tables():
    """Two copies of a table in one batch follow identical paths; a different table sees the same uniforms."""
    t = build_table("kl", "plugin", 8)
    res = run_batch(_batch(DEFAULT, [t, t, build_table("kl", "jackknife", 8)], [1.0, 1.0, 1.0], K=8))
    assert np.array_equal(res.values[0], res.values[1])
    assert not np.array_equal(res.values[0], res.values[2])
    # paired: the per-seed final distributions of plug-in and jackknife are far more alike than across seeds
    d_same_seed = np.abs(res.values[0, :, -1] - res.values[2, :, -1]).sum(axis=-1).mean()
    d_other_seed = np.abs(res.values[0, :, -1] - np.roll(res.values[2, :, -1], 1, axis=0)).sum(axis=-1).mean()
    assert d_same_seed < d_other_seed


@pytest.mark.slow
def test_results_do_not_depend_on_the_number_of_processes(monkeypatch):
    """Split by tables and by seeds across 2 worker processes: bit-for-bit the single-process result."""
    monkeypatch.setattr(engine, "INLINE_SAMPLES", 0)
    tabs = [build_table("kl", m, 8) for m in ("plugin", "jackknife", "minimax")]
    bt = _batch(DEFAULT, tabs, [0.5, 1.0, 2.0], K=8, seeds=4, steps=15)
    one = run_batch(bt, processes=1)
    two = run_batch(bt, processes=2)
    assert np.array_equal(one.values, two.values) and np.array_equal(one.pi_final, two.pi_final)
    bt1 = _batch(DEFAULT, tabs[:1], [1.0], K=8, seeds=5, steps=15)          # one table: split by seeds
    assert np.array_equal(run_batch(bt1, processes=1).values, run_batch(bt1, processes=2).values)


def test_tuning_extends_the_grid_beyond_an_end():
    """Minimax at K = 16 (entries up to 139) wants steps far below 0.25: its grid is extended downwards and the
    choice leaves the original grid; a table chosen inside the grid is not extended."""
    cfg = ProtocolConfig(horizons=(50,), etas=(0.25, 1.0, 4.0), tune_seeds=4, measure_seeds=4)
    from proofs_numeric.game.protocol import tune
    tables = {"minimax": build_table("kl", "minimax", 16), "plugin": build_table("kl", "plugin", 16)}
    out = tune(DEFAULT, tables, 16, "decoupled", cfg, seed=5, p_star=P_STAR)
    assert out["extended"]["minimax"][0] == pytest.approx(0.0625)
    assert out["choices"]["minimax"][50]["schedule"].eta < 0.25


def test_schedules_and_record_grid():
    s = Schedule("decay", 2.0, tau=30)
    e = s.etas(100)
    assert e[29] == 2.0 and e[59] == pytest.approx(1.0) and e[99] == pytest.approx(0.6)
    assert np.all(Schedule("constant", 0.5).etas(7) == 0.5)
    with pytest.raises(ValueError, match="schedule kind"):
        Schedule("cosine", 1.0)
    with pytest.raises(ValueError, match="eta must be a finite number > 0"):
        Schedule("constant", 0.0)
    rec = record_grid(3000, (333,))
    assert rec[0] == 0 and rec[-1] == 3000 and 333 in rec and np.all(np.diff(rec) > 0)
    assert set(range(101)) <= set(rec.tolist()) and 110 in rec and 1025 in rec


def test_entries_under_each_advantage():
    m = [("plugin", {}), ("aqp", {"eps": 1.0})]
    assert [e.label for e in entries_for(m, "decoupled")] == ["plugin", "aqp(eps=1)"]
    assert [e.label for e in entries_for(m, "rloo")] == ["plugin", "aqp(eps=1)", "plugin [rloo-corrected]",
                                                        "aqp(eps=1) [rloo-corrected]"]
    t = Entry("plugin", (), True).build(DEFAULT, 8)
    assert np.allclose(t.values[:7], build_table("kl", "plugin", 7).values)


@pytest.fixture(scope="module")
def small_cell():
    cfg = ProtocolConfig(horizons=(20, 60), etas=(0.25, 1.0, 4.0), tune_seeds=4, measure_seeds=10, n_boot=300)
    methods = [("plugin", {}), ("jackknife", {}), ("minimax", {}), ("aqp", {"eps": 1.0}), ("aqp", {"eps": 10.0})]
    return run_cell(DEFAULT, methods, 8, "rloo", cfg), cfg


def test_protocol_tunes_on_one_stream_and_measures_on_another(small_cell):
    cell, cfg = small_cell
    assert cell.tuning["seed"] != cell.measured["seed"]
    # 5 methods, plain and corrected (the corrected AQP tables come from the shipped set for the baseline)
    assert len(cell.entries) == 10 and not cell.skipped
    assert {"aqp(eps=1) [rloo-corrected]", "aqp(eps=10) [rloo-corrected]"} <= set(cell.entries)
    for lab, ch in cell.tuning["choices"].items():
        assert set(ch) == {20, 60, "best"}
        for key, c in ch.items():
            e = cell.measured["errors"][(lab, key)]["errors"]
            assert e.shape == (10,) and np.all((0 <= e) & (e <= 1))
            assert c["schedule"].eta in cfg.etas + tuple(cell.tuning["extended"].get(lab, ())) and \
                0 <= c["tune_error"] <= 1
    # the tuning choice is the best of the grid on the tuning seeds: re-run the tuning batch and check
    lab = "jackknife"
    etas = tuple(cfg.etas) + tuple(cell.tuning["extended"].get(lab, ()))
    grid = [Schedule(k, e) for k in cfg.kinds for e in cfg.etas] + \
        [Schedule(k, e) for k in cfg.kinds for e in etas[len(cfg.etas):]]
    t = build_table("kl", "jackknife", 8)
    bt = make_batch(DEFAULT, 8, "rloo", [t] * len(grid), grid, 60, cfg.tune_seeds, cfg.groups, cell.tuning["seed"],
                    P_STAR)
    err = run_batch(bt).values.mean(axis=1)[:, np.searchsorted(bt.record, 60)]
    assert grid[int(np.argmin(err))] == cell.tuning["choices"][lab][60]["schedule"]


def test_verdict_intervals_contain_their_estimates(small_cell):
    cell, cfg = small_cell
    s = summarise_cell(cell, cfg)
    assert len(s["rows"]) == 10 * 3 and len(s["cells"]) == 3
    for r in s["rows"]:
        assert r["error_lo"] <= r["error_mean"] <= r["error_hi"]
    for c in s["cells"]:
        assert c["margin_lo"] <= c["margin"] <= c["margin_hi"] and c["margin"] >= 1
        assert c["outcome"] in {"wins", "tied"}
    # plain AQP against the plain references, corrected AQP (shipped for the baseline) against the corrected ones
    refs = {"plugin", "jackknife", "minimax"}
    assert {a["reference"] for a in s["aqp"] if not a["corrected"]} == refs
    assert {a["reference"] for a in s["aqp"] if a["corrected"]} == {f"{r} [rloo-corrected]" for r in refs}
    for a in s["aqp"] + s["corrections"]:
        assert a["lo"] <= a["ratio"] <= a["hi"]
    assert len(s["corrections"]) == 5 * 3          # each of the 5 tables corrected vs plain, at 2 horizons and best
    txt = verdict_paragraph(s)
    assert txt.startswith("Over 2 cells") and "AQP (ε tuned) against plugin" in txt


def test_larger_game_shape():
    g = get_game("longtail")
    ps = optimum(g)[0]
    assert g.m == 24 and np.allclose(ps[0] / ps[1], 2 ** 1.1) and np.allclose(ps[0] / ps[23], 24 ** 1.1)
    assert np.allclose(g.p0[:4], 1e-3) and np.isclose(g.p0.sum(), 1.0)
    custom = make_game([1, 0.5, 0], 1.0, traces_per_answer=[1, 2, 3], initial_probabilities=[0.01, 0.29, 0.7])
    assert np.allclose(custom.p0, [0.01, 0.29, 0.7])


# -- the horizon predictor -------------------------------------------------------------------------------

def test_predictor_tracks_simulation_where_the_linearisation_holds():
    """Default game, K = 8, decoupled, small and moderate step sizes (model regime): predicted E TV(p_T, p*)
    within 25% of the simulated seed mean (64 seeds: Monte Carlo error about 3%) at T = 100 and 300."""
    from proofs_numeric.game.predict import build_model, predict_errors
    tabs = [build_table("kl", "jackknife", 8), build_table("kl", "aqp", 8, eps=1.0)]
    scheds = [Schedule("decay", 0.25), Schedule("constant", 0.25), Schedule("decay", 1.0)]
    model = build_model(DEFAULT, tabs, "decoupled", groups=2, tau_max=300.0, seed=1)
    rows = [(i, s) for i in range(2) for s in scheds]
    pred = predict_errors(model, np.stack([s.etas(300) for _, s in rows]), [i for i, _ in rows], [100, 300], P_STAR)
    bt = make_batch(DEFAULT, 8, "decoupled", [tabs[i] for i, _ in rows], [s for _, s in rows], 300, 64, 2, 11, P_STAR)
    sim = run_batch(bt).values.mean(axis=1)[:, np.searchsorted(bt.record, [100, 300])]
    assert np.all(np.abs(pred - sim) <= 0.25 * sim), np.c_[pred, sim]


def test_predictor_without_noise_is_the_expected_dynamics():
    """With zero noise covariance the prediction is TV of the exact expected update map."""
    from proofs_numeric.game.expected import closed_form_advantage, expected_iteration
    from proofs_numeric.game.equilibria import table_marginal, total_variation
    from proofs_numeric.game.predict import build_model, predict_errors
    t = build_table("kl", "plugin", 8)
    model = build_model(DEFAULT, [t], "decoupled", groups=2, tau_max=50.0, n_groups=200)
    model.sigma[:] = 0.0
    pred = predict_errors(model, np.full((1, 50), 0.7), [0], [10, 50], P_STAR)[0]
    marg = table_marginal(t)
    det = expected_iteration(DEFAULT, lambda q: closed_form_advantage(DEFAULT, marg, q), 0.7, 50, record=[10, 50])
    assert np.allclose(pred, total_variation(det, P_STAR), rtol=1e-8, atol=1e-12)


# -- alft recommend ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_recommend_cli_json(capsys):
    from proofs_numeric.cli import main
    assert main(["recommend", "--K", "8", "--horizon", "200", "--advantage", "rloo", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    r = d["recommendation"]
    assert {"method", "params", "build_table_advantage", "step_size", "predicted_error", "simulated_error"} <= set(r)
    assert r["step_size"]["kind"] in ("constant", "decay") and r["step_size"]["eta"] > 0
    assert d["K"] == 8 and d["horizon"] == 200 and d["advantage"] == "rloo"
    labels = {c["label"] for c in d["candidates"]}
    assert "plugin [rloo-corrected]" in labels and "aqp(eps=10)" in labels and len(labels) == 20
    # K = 8: every shipped budget has a certified table under the baseline too (nothing skipped)
    assert {f"aqp(eps={e:g}) [rloo-corrected]" for e in (0.1, 0.3, 1, 3, 10, 30, 100)} <= labels
    assert not d["skipped"]
    # the recommendation is the least simulated error among the confirmed tables
    assert r["simulated_error"] == min(c["simulated_error"] for c in d["confirmed"])
    assert d["candidates"] == sorted(d["candidates"], key=lambda c: c["predicted_error"])


def test_recommend_model_only_picks_the_least_predicted_error():
    from proofs_numeric.recommend import recommend
    d = recommend(get_game("euclidean"), 4, 100, "decoupled", simulate=False)
    assert d["recommendation"]["label"] == d["candidates"][0]["label"]
    assert {c["method"] for c in d["candidates"]} == {"plugin", "jackknife", "ustat"}
