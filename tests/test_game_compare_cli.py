"""C7: the convergence comparison, its statistics, ``alft game`` and the report section (quick profile)."""
import json

import numpy as np
import pytest

from proofs_numeric.cli import main
from proofs_numeric.game.compare import ComparisonConfig, acceleration_verdict, run_comparison, verdict_text
from proofs_numeric.game.spec import get_game


def test_comparison_is_paired_skips_unregistered_methods_and_states_verdicts():
    game = get_game("default")
    cfg = ComparisonConfig(Ks=(8,), steps=40, seeds=8, groups=4, targets=(0.3, 0.1))
    res = run_comparison(game, [("plugin", {}), ("jackknife", {}), ("no_such_method", {"eps": 1})], cfg)
    assert [r["method"] for r in res["per_method_K"]] == ["plugin", "jackknife"]
    assert res["skipped"] and res["skipped"][0]["method"] == "no_such_method(eps=1)"
    for r in res["per_method_K"]:
        assert r["final_tv_lo"] <= r["final_tv_mean"] <= r["final_tv_hi"]
        assert r["exact_fixed_point_tv"] > 0 and r["seeds"] == 8
        for t in r["to_target"]:
            assert t["median_lo"] <= t["median"] <= t["median_hi"] and 0 <= t["fraction_reached"] <= 1
    v = acceleration_verdict(res, 0.3, pairs=[("jackknife", "plugin")])
    assert len(v) == 1 and v[0]["outcome"] in {"candidate first", "reference first", "tie", "no significant difference"}
    assert v[0]["a_first"] + v[0]["b_first"] + v[0]["ties"] + v[0]["neither"] == 8
    text = verdict_text(v, res["skipped"])
    assert text[0].startswith("default game, jackknife vs plugin at TV <= 0.3: K=8:")


def test_identical_tables_tie_on_every_seed():
    """Two copies of the same table see the same random numbers (common random numbers): every seed ties."""
    game = get_game("default")
    cfg = ComparisonConfig(Ks=(8,), steps=60, seeds=6, groups=2, targets=(0.2,))
    res = run_comparison(game, [("plugin", {}), ("plugin", {})], cfg)
    curves = res["_curves"][("plugin", 8)]
    assert np.isfinite(curves["passage"][0.2]).any()
    v = acceleration_verdict(res, 0.2, pairs=[("plugin", "plugin")])
    assert all(x["outcome"] == "tie" and x["ties"] + x["neither"] == 6 for x in v)


def test_cli_exact_json_has_the_documented_fields(capsys):
    assert main(["game", "--exact", "--K", "8", "--method", "plugin", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("p_star", "fixed_points", "tv", "kl", "support_lost"):
        assert key in d
    assert len(d["fixed_points"]) == len(d["tv"]) == len(d["kl"]) == len(d["support_lost"]) >= 1
    assert np.allclose(d["p_star"], np.exp(2 * np.array([1, 0.7, 0.4, 0.2, 0])) / np.exp(2 * np.array(
        [1, 0.7, 0.4, 0.2, 0])).sum())
    assert abs(sum(d["fixed_points"][0]) - 1) < 1e-12 and d["support_lost"][0] == [4]
    assert main(["game", "--exact", "--K", "8", "--method", "plugin", "--format", "json",
                 "--rewards", "1,0.7,0.4,0.2,0", "--beta", "0.5", "--generator", "kl"]) == 0
    assert json.loads(capsys.readouterr().out)["fixed_points"] == d["fixed_points"]


def test_cli_run_writes_json_and_plot(tmp_path, capsys):
    out = tmp_path / "g"
    assert main(["game", "--game", "euclidean", "--K", "4", "--methods", "plugin,ustat", "--steps", "30",
                 "--seeds", "6", "--groups", "4", "--out", str(out)]) == 0
    doc = json.loads((out / "game.json").read_text())
    assert [r["method"] for r in doc["per_method_K"]] == ["plugin", "ustat"]
    assert (out / "game_convergence.png").stat().st_size > 1000
    assert "wrote" in capsys.readouterr().out


@pytest.fixture(scope="module")
def c7_quick(tmp_path_factory):
    from proofs_numeric import c7_game
    from proofs_numeric.result import RunContext
    out = tmp_path_factory.mktemp("c7")
    return c7_game.CLAIM.execute("quick", RunContext(outdir=out, log=lambda m: None)), out


@pytest.mark.slow
def test_c7_quick_section(c7_quick):
    res, out = c7_quick
    assert res.status == "PASS", res.summary
    f = res.figures
    assert {"p_star", "exact", "grpo", "agreement", "protocol", "recommend"} <= set(f)
    assert all(c["all_within"] for c in f["agreement"])
    assert all((out / p).stat().st_size > 1000 for p in res.plots) and len(res.plots) == 3
    json.dumps(f, allow_nan=True)
    # every interval of the protocol contains its estimate (the first "done when")
    for r in f["protocol"]["rows"]:
        assert r["error_lo"] <= r["error_mean"] <= r["error_hi"]
    for c in f["protocol"]["cells"]:
        assert c["margin"] is None or c["margin_lo"] <= c["margin"] <= c["margin_hi"]
    for p in f["protocol"]["passage"]:
        if "median" in p:
            assert p["median_lo"] <= p["median"] <= p["median_hi"] and p["fraction_lo"] <= p["fraction_reached"]
    assert f["protocol"]["verdict"].startswith("Over ")
    assert len(res.summary.split()) <= 120


@pytest.mark.slow
def test_c7_regression_figures_are_extractable(c7_quick):
    from proofs_numeric.c7_game import REGRESSION
    from proofs_numeric.regression.baseline import _validate_entry
    from proofs_numeric.regression.compare import MISSING, extract_claim
    from proofs_numeric.report.builder import claim_document
    from proofs_numeric.c7_game import CLAIM
    res, _ = c7_quick
    doc = claim_document(res, CLAIM)
    entries = extract_claim(doc, REGRESSION)
    assert len(entries) > 20 and all(e["value"] != MISSING for e in entries.values())
    for label, e in entries.items():
        _validate_entry("C7", label, e)


def test_readme_game_example_runs():
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = text.index("## The alignment game (claim C7)")
    section = text[start:text.find("\n## ", start + 10)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, "README:game", "exec"), {})
