"""The C6 report section (AQP): what it recomputes, what makes it fail, and its small helpers.

The section runs end to end on the quick profile (K <= 16 of the shipped set, the frontier at K = 4, 8);
the default profile runs once, in ``alft baseline`` (``tox -e regression`` / ``.ci/run``).
"""
import json
import math

import numpy as np
import pytest

from estimators import build_table
from estimators.aqp import ShippedTableError
from estimators.aqp.frontier import frontier_path, load_frontier
from estimators.aqp.shipped import manifest
from proofs_numeric.c6_aqp import CLAIM, _ranges, _refusal_text, certifiable_ranges, fit_laws, refusal_counts
from proofs_numeric.result import FAIL, PASS, RunContext


@pytest.fixture(scope="module")
def quick():
    return CLAIM.execute("quick", RunContext(log=lambda m: None))


@pytest.mark.slow
def test_quick_section_passes_and_recomputes_what_it_reports(quick):
    assert quick.status == PASS, quick.summary
    f = quick.figures
    # every shipped table of K <= 16 is loaded (all eps are certified there) and its V recomputed exactly
    assert f["shipped"]["n_loaded"] == 15 * 7
    for r in f["verified"]:
        assert r["recomputed_matches"] and r["budget_matches"], r
        assert 0.0 <= r["optimum_lower"] <= r["V"] * (1 + 1e-12)
        assert r["gap"] <= CLAIM.profiles["quick"]["gap_tol"]
    assert sum(r["bias_recertified"] for r in f["verified"]) == len(CLAIM.profiles["quick"]["verify_bias"])


@pytest.mark.slow
def test_quick_section_figures_obey_the_theorems(quick):
    f = quick.figures
    for r in f["per_K"]:
        for a in r["aqp"]:
            # the minimax table is feasible for every budget, so the optimum's V is at most its V
            assert a["V_not_above_minimax"] and a["reduction_vs_minimax"] >= 1 - 1e-9, (r["K"], a)
        V = [a["V"] for a in sorted(r["aqp"], key=lambda a: a["eps"])]
        assert all(x >= y * (1 - 1e-9) for x, y in zip(V, V[1:])), (r["K"], V)   # larger budget, smaller V
    for d in f["dual_plugin"]:
        # the plug-in table is feasible at its own V, so the least bias there is at most the plug-in's bias
        assert d["bias_lower"] <= d["bias_upper"] <= d["plugin_bias_upper"]
        assert 0 < d["ratio_lower"] <= d["ratio_upper"] <= 1 + 1e-9
    for fr in f["frontier"]:
        assert fr["shape"]["violations"] == [] and fr["n_points"] == 14


def test_missing_frontier_is_a_failure_that_names_the_fix(tmp_path):
    res = CLAIM.execute("quick", RunContext(log=lambda m: None),
                        overrides={"frontier_path": str(tmp_path / "absent.json")})
    assert res.status == FAIL
    assert "alft tables --rebuild aqp-frontier" in res.summary


def _resigned(doc: dict) -> str:
    import hashlib
    body = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return json.dumps(dict(doc, sha256=hashlib.sha256(body.encode()).hexdigest()), sort_keys=True,
                      separators=(",", ":"))


@pytest.mark.slow
def test_a_frontier_point_whose_stored_figures_are_wrong_fails_the_section(tmp_path):
    """The section recomputes each point (exact V, dual bound): a document with a consistent checksum but a
    wrong optimum_lower is caught by the recomputation, not by the checksum."""
    doc = load_frontier()
    pt = doc["K"]["8"]["points"][5]
    pt["optimum_lower"] *= 1.01
    p = tmp_path / "frontier.json"
    p.write_text(_resigned(doc) + "\n")
    res = CLAIM.execute("quick", RunContext(log=lambda m: None), overrides={"frontier_path": str(p)})
    assert res.status == FAIL
    failed = [c for c in res.criteria if not c.met]
    assert [c.name for c in failed] == ["frontier points"]
    assert f"K=8, eps={pt['eps']:g}: recomputed figures do not match" in failed[0].measured
    assert res.summary.startswith("FAILED: frontier points:") and f"K=8, eps={pt['eps']:g}" in res.summary


def test_a_corrupted_frontier_document_is_refused(tmp_path):
    doc = json.loads(frontier_path().read_text())
    doc["K"]["8"]["points"][0]["variance"] *= 2          # edited without re-signing: checksum mismatch
    p = tmp_path / "frontier.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="corrupted"):
        load_frontier(p)


@pytest.mark.parametrize("eps", [0.1, 1.0])
def test_certifiable_ranges_agree_with_what_loads(eps):
    """The K range the section reports per eps is read from the manifest; check it against loading."""
    man = manifest()
    row = next(r for r in certifiable_ranges(man) if r["eps"] == eps)
    ok = []
    for K in range(man["K"][0], man["K"][1] + 1):
        try:
            build_table("kl", "aqp", K, eps=eps)
            ok.append(K)
        except ShippedTableError:
            pass
    assert row["certified_K"] == _ranges(ok)
    assert row["n_certified"] == len(ok)


def test_ranges_formats_runs():
    assert _ranges([7, 2, 3, 4, 9, 10]) == "2-4, 7, 9-10"
    assert _ranges([]) == "none"
    assert _ranges([5]) == "5"


def test_fit_laws_recovers_a_power_law_and_an_exponential():
    K = np.arange(8, 65)
    p = fit_laws(K, 3.0 * K ** -1.5, K_min=8, max_log_residual=1e-6)
    assert p["preferred"] == "power" and p["fits"] and p["direction"] == "decreasing"
    assert math.isclose(p["power"]["slope"], -1.5, rel_tol=1e-9)
    e = fit_laws(K, 2.0 * 1.3 ** K, K_min=8, max_log_residual=1e-6)
    assert e["preferred"] == "exponential" and e["fits"] and e["direction"] == "increasing"
    assert math.isclose(e["exponential"]["factor_per_K"], 1.3, rel_tol=1e-9)


def test_fit_laws_uses_only_the_monotone_tail():
    """V first falls with K and then grows: only the growing tail (from the minimum) is fitted."""
    K = np.arange(4, 41)
    V = np.where(K < 20, 100.0 / K, 5.0 * 1.2 ** (K - 20))
    f = fit_laws(K, V, K_min=4, max_log_residual=1e-6)
    assert f["K_range"] == [20, 40] and f["direction"] == "increasing"
    assert math.isclose(f["exponential"]["factor_per_K"], 1.2, rel_tol=1e-9)


def test_fit_laws_needs_three_points():
    assert fit_laws([8, 16], [1.0, 2.0], K_min=8, max_log_residual=0.1) == {"n_points": 2, "preferred": None,
                                                                           "fits": False}


def test_refusals_are_structured_and_read_from_their_fields():
    """Every refusal of the shipped set names a cause and its numbers; the report reads the fields, not prose."""
    from estimators.aqp.version import CAUSES
    refusals = [r for d in manifest()["refused"].values() for r in d.values()]
    assert refusals and all(r["cause"] in CAUSES and r["message"] and isinstance(r["details"], dict)
                            for r in refusals)
    assert all(r["details"]["K"] >= 2 and "not attempted" not in r["message"] for r in refusals)
    for r in refusals:
        assert _refusal_text(r)
    f64 = [r for r in refusals if r["cause"] == "float64_rounding"]
    assert f64, "the shipped set has float64 refusals at small eps and large K"
    assert _refusal_text(f64[0]).startswith("float64 rounding: entries up to ")
    counts = refusal_counts(manifest())
    assert sum(counts.values()) == len(refusals)


@pytest.mark.slow
def test_near_plugin_is_the_least_biased_shipped_table_within_the_variance_factor(quick):
    factor = CLAIM.profiles["quick"]["near_plugin_factor"]
    for r in quick.figures["per_K"]:
        n = r["near_plugin"]
        V_pl = r["plugin"]["V"]
        within = [(e, build_table("kl", "aqp", r["K"], eps=e)) for e in (a["eps"] for a in r["aqp"])]
        within = [(e, t) for e, t in within if next(a["V"] for a in r["aqp"] if a["eps"] == e) <= factor * V_pl]
        within += [(e, build_table("kl", "aqp", r["K"], eps=e)) for e in r["aqp_V_zero_eps"]]
        assert n is not None and within
        assert n["V_over_plugin"] <= factor
        assert n["bias_upper"] == min(t.certificate["bias_upper"] for _, t in within)
        assert n["bias_ratio_upper"] == n["bias_upper"] / r["plugin"]["bias_lower"]


def test_stored_frontier_covers_every_K_and_budget_and_has_the_convex_program_shape():
    from estimators.aqp.frontier import FRONTIER_EPS, FRONTIER_K, check_shape
    doc = load_frontier()
    assert sorted(map(int, doc["K"])) == list(FRONTIER_K) and len(FRONTIER_EPS) >= 12
    for K in FRONTIER_K:
        entry = doc["K"][str(K)]
        assert sorted(p["eps"] for p in entry["points"]) == sorted(FRONTIER_EPS), K
        assert all(p["optimum_lower"] <= p["variance_upper"] and p["gap"] <= 1e-3 for p in entry["points"]), K
        assert check_shape(entry["points"])["violations"] == [], K
        assert "refused" not in entry["dual_plugin"], K


def test_a_K128_frontier_point_reverifies_at_small_eps():
    """The hardest stored point (K = 128, eps = 0.01, entries ~ 1e33): exact V and the Arb dual bound."""
    from estimators.aqp.frontier import reverify
    p = min(load_frontier()["K"]["128"]["points"], key=lambda q: q["eps"])
    rv = reverify(128, p, bias=False)
    assert rv["matches"], rv
    assert p["optimum_lower"] <= rv["variance_upper"] <= p["optimum_lower"] * (1 + 1e-3)
