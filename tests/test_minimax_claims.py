"""The C3, C4, C5 report sections on their quick profiles: status, figures, plots, JSON."""
from __future__ import annotations

import json
import math

import pytest

from proofs_numeric.claims import claim_ids
from proofs_numeric.result import PASS, RunContext


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALFT_CACHE_DIR", str(tmp_path / "cache"))


def _run(module, tmp_path):
    mod = __import__(f"proofs_numeric.{module}", fromlist=["CLAIM"])
    msgs = []
    ctx = RunContext(outdir=tmp_path / "out", log=msgs.append)
    res = mod.CLAIM.execute("quick", ctx)
    json.dumps(res.to_json())  # results.json-ready
    for p in res.plots:
        assert (tmp_path / "out" / p).stat().st_size > 1000
    assert msgs, "per-K progress is logged"
    return res


def test_claims_registered_in_order():
    ids = claim_ids()
    assert [i for i in ids if i in ("C3", "C4", "C5")] == ["C3", "C4", "C5"]
    assert ids == sorted(ids, key=lambda s: int(s[1:]))


@pytest.mark.slow
def test_C3_quick(tmp_path):
    r = _run("c3_minimax_rate", tmp_path)
    assert r.status == PASS, r.summary
    f = r.figures
    for row in f["per_K"]:
        assert 0 < row["lower"] <= row["upper"] and row["rel_gap"] <= 1e-9
        assert math.isclose(row["K2E"], row["K"] ** 2 * row["upper"], rel_tol=1e-9)
    c = f["constant"]
    # independent of the report's own numbers: K^2 E* is increasing in K, the limit lies above the last value
    k2e = [row["K2E"] for row in f["per_K"]]
    assert all(a < b for a, b in zip(k2e, k2e[1:]))
    assert k2e[-1] < c["estimate"] < k2e[-1] * 1.01 and c["error"] < 1e-3
    assert -2.1 < f["slope_fit_minimax"]["slope"] < -1.9
    assert "C3" in r.id and len(r.plots) == 4


@pytest.mark.slow
def test_C4_quick(tmp_path):
    r = _run("c4_ditzian_totik", tmp_path)
    assert r.status == PASS, r.summary
    kl = r.figures["kl"]
    assert 0 < kl["ratio_min"] <= kl["ratio_max"] < 2 * kl["ratio_min"]
    # omega^2 for p log p matches the closed-form value 2 log(2) h^2/(1+h^2) at every K
    for row in kl["per_K"]:
        h = 1 / row["K"]
        assert math.isclose(row["omega2"], 2 * math.log(2) * h * h / (1 + h * h), rel_tol=1e-9)
    for a in (0.5, 1.5, 2.5):
        fa = r.figures[f"power_{a}"]
        assert abs(fa["slope_E"]["slope"] + 2 * a) < 0.1


@pytest.mark.slow
def test_C5_quick(tmp_path):
    r = _run("c5_variance", tmp_path)
    assert r.status == PASS, r.summary
    rows = r.figures["per_K"]
    big = [row for row in rows if row["K"] >= 16]
    assert all(row["sup_pV"] > 1e3 * row["plugin_sup_pV"] for row in big)
    assert r.figures["growth_max_abs_g"]["factor_per_K"] > 1.3
