"""C6 -- the AQP estimator: exact variance form, certificates on both sides, shipped set, bad input.

Independent checks: the quadratic form H against Gauss-Legendre quadrature of p V_g(p); certified bias
bounds against mpmath on clustered grids (a grid maximum is a lower bound of the sup, so it must not
exceed a certified upper bound); V recomputed in rationals; dual bounds below feasible tables' V.
"""
from __future__ import annotations

import json
import math
import os
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from estimators import build_table, get_generator, moments
from estimators.aqp import SHIPPED_EPS, ShippedTableError
from estimators.aqp.core import AQPError, budget, check_eps, solve, solve_dual
from estimators.aqp.certify import certify_bias
from estimators.aqp.hessian import hessian_integer, variance_exact
from estimators.aqp.objective import integrated_variance
from estimators.certificates import CertificateMismatchError
from estimators.minimax.targets import target_for


# -- the objective ---------------------------------------------------------------------------------

@pytest.mark.parametrize("K", [2, 3, 7, 12])
def test_c6_hessian_matches_quadrature(K):
    """H_cd = int_0^1 p (delta_cd b_c - b_c b_d) dp against Gauss-Legendre (exact for the polynomial degree)."""
    from scipy.stats import binom
    n = K - 1
    x, w = np.polynomial.legendre.leggauss(K + 4)
    p, w = (x + 1) / 2, w / 2
    B = binom.pmf(np.arange(K)[None, :], n, p[:, None])            # [nodes, K]
    Hq = np.einsum("i,ic,cd->cd", w * p, B, np.eye(K)) - np.einsum("i,ic,id->cd", w * p, B, B)
    np.testing.assert_allclose(integrated_variance(K).float64, Hq, rtol=1e-12, atol=1e-15)


def test_c6_hessian_null_space_and_psd():
    N, D = hessian_integer(9)
    assert all(sum(row) == 0 for row in N)                         # H·1 = 0 exactly
    ev = np.linalg.eigvalsh(integrated_variance(9).float64)
    assert ev[0] > -1e-15 and ev[1] > 1e-6                         # PSD, only the constants in the null space


def test_c6_variance_exact_equals_integrated_moments():
    """V(g) = int p V_g(p) dp: exact rationals against mpmath quadrature of the moments engine."""
    t = build_table("kl", "jackknife", 6)
    V = variance_exact(t.values)
    with mpmath.workdps(30):
        q = mpmath.quad(lambda p: p * moments(t, [p], engine="mpmath", dps=30).var[0], [0, 1])
    assert abs(float(V) - float(q)) <= 1e-14 * float(V)
    assert variance_exact([Fraction(1), Fraction(1), Fraction(1)]) == 0
    assert variance_exact(["0.5", "1.25", "-2"]) == variance_exact([0.5, 1.25, -2.0])


# -- solving and certifying -------------------------------------------------------------------------

def _mp_sup_weighted_bias(values, n_grid=1500, dps=40):
    """Lower bound of sup_p |p B_g(p) - p log p| on a grid clustered at 0 and 1 (mpmath, dps digits)."""
    K = len(values)
    th = np.linspace(0, np.pi, n_grid)
    ps = np.unique(np.concatenate([(1 - np.cos(th)) / 2, np.geomspace(1e-9, 1e-2, 300)]))
    best = 0
    with mpmath.workdps(dps):
        g = [mpmath.mpf(float(v)) for v in values]
        for p in ps[1:]:
            x = mpmath.mpf(float(p))
            B = mpmath.fsum(g[c] * mpmath.binomial(K - 1, c) * x ** c * (1 - x) ** (K - 1 - c) for c in range(K))
            best = max(best, abs(x * B - x * mpmath.log(x)))
    return float(best)


@pytest.mark.slow
@pytest.mark.parametrize("K,eps", [(8, 10.0), (16, 1.0), (24, 0.3)])
def test_c6_solve_certifies_both_sides(K, eps):
    r = solve("kl", K, eps, use_cache=False)
    assert r.bias_upper <= r.tau_lower                             # feasible on all of [0, 1]
    assert _mp_sup_weighted_bias(r.values) <= r.bias_upper * (1 + 1e-12)
    V = variance_exact(r.values)
    assert r.variance_lower <= float(V) <= r.variance_upper
    assert 0 < r.optimum_lower <= r.variance_upper
    assert r.gap <= 1e-3
    # the minimax table is feasible for every eps >= 0, so its variance is at least the optimum
    mm = build_table("kl", "minimax", K)
    assert float(variance_exact(list(mm.reference))) >= r.optimum_lower


def test_c6_dual_bound_is_valid_for_any_multipliers():
    """Weak duality: any multipliers at any points give a bound below every feasible table's V."""
    from estimators.aqp.certify import dual_lower_bound
    r = solve("kl", 12, 3.0)
    rng = np.random.default_rng(7)
    pts = np.sort(rng.uniform(0.01, 1.0, 12))
    nu = rng.normal(size=12) * 0.01
    lb = dual_lower_bound(12, target_for(get_generator("kl")), r.tau_upper, pts, nu)["lower"]
    assert lb <= r.variance_lower


def test_c6_power_generator_solves_through_the_same_code():
    r = solve("power", 10, 3.0, use_cache=False) if False else solve(get_generator("power", alpha=0.5), 10, 3.0,
                                                                      use_cache=False)
    assert r.bias_upper <= r.tau_lower and r.gap <= 1e-3


def test_c6_constant_table_when_the_budget_allows_it():
    """At a budget above the best constant's bias, V = 0 exactly (a constant table)."""
    r = solve("kl", 3, 100.0, use_cache=False)
    assert r.stage == "constant" and r.variance_upper == 0.0 and len(set(r.values)) == 1


@pytest.mark.slow
def test_c6_dual_question_at_the_plugin_variance():
    out = solve_dual("kl", 8, "plugin")
    plug = float(variance_exact(build_table("kl", "plugin", 8).values))
    assert out["variance_of_table"] <= plug
    assert out["bias_lower"] <= out["bias_upper"] and out["rel_width"] <= 1e-3
    # the plug-in's own weighted bias is larger than the least bias at its variance
    from estimators.certified.supnorm import weighted_bias_bracket
    assert weighted_bias_bracket(build_table("kl", "plugin", 8)).lower >= out["bias_upper"]


# -- the shipped set ----------------------------------------------------------------------------------

SAMPLE = [(2, 0.1), (16, 10.0), (40, 1.0), (64, 3.0), (128, 10.0), (128, 3.0)]


@pytest.mark.slow
@pytest.mark.parametrize("K,eps", SAMPLE)
def test_c6_shipped_tables_carry_both_certificates(K, eps):
    t = build_table("kl", "aqp", K, eps=eps)
    c = t.certificate
    assert c["bias_upper"] <= c["budget_lower"] and c["optimality_gap"] <= 1e-3
    V = variance_exact(t.values)
    assert c["variance_lower"] <= float(V) <= c["variance_upper"]
    if K <= 64:
        assert _mp_sup_weighted_bias(t.values, n_grid=800) <= c["bias_upper"] * (1 + 1e-12)
    # the dual bound re-verified from the stored points and multipliers
    from estimators.aqp.certify import dual_lower_bound
    lb = dual_lower_bound(K, target_for(get_generator("kl")), c["budget_upper"], c["dual_points"],
                          c["dual_multipliers"])["lower"]
    assert lb == pytest.approx(c["optimum_lower_bound"], rel=1e-12, abs=0)


def test_c6_shipped_table_is_bound_to_its_values():
    d = build_table("kl", "aqp", 16, eps=10).to_dict()
    d["values"][3] += 1e-6
    from estimators import Table
    with pytest.raises(CertificateMismatchError):
        Table.from_dict(d)


def test_c6_corrupted_or_mismatched_data_file_is_detected(tmp_path, monkeypatch):
    import shutil

    import estimators.aqp.shipped as sh
    src = sh.data_dir()
    dst = tmp_path / "data"
    shutil.copytree(src, dst)
    monkeypatch.setattr(sh, "data_dir", lambda advantage="decoupled": dst)
    sh.clear_caches()
    try:
        f10 = dst / sh.table_file(10, 10.0)
        f10.write_text(f10.read_text().replace('"values":[', '"values":[1.0e-3,', 1))
        with pytest.raises(ShippedTableError, match="corrupted"):
            sh.load(10, 10.0)
        # a file for another (K, eps) under this one's name, with a matching checksum: still refused
        man = json.loads((dst / "manifest.json").read_text())
        for (K, eps), (K2, eps2), what in [((11, 10.0), (12, 10.0), "K=11"), ((11, 30.0), (11, 3.0), "K=11, eps=30.0")]:
            (dst / sh.table_file(K, eps)).write_bytes((dst / sh.table_file(K2, eps2)).read_bytes())
            man["files"][sh.table_file(K, eps)] = man["files"][sh.table_file(K2, eps2)]
            (dst / "manifest.json").write_text(json.dumps(man))
            sh.clear_caches()
            with pytest.raises(ShippedTableError, match=f"does not belong to {what}"):
                sh.load(K, eps)
        # a missing file, and a table the manifest does not list
        (dst / sh.table_file(20, 10.0)).unlink()
        with pytest.raises(ShippedTableError, match="missing or unreadable"):
            sh.load(20, 10.0)
        del man["files"][sh.table_file(21, 10.0)]
        (dst / "manifest.json").write_text(json.dumps(man))
        sh.clear_caches()
        with pytest.raises(ShippedTableError, match="not listed in the shipped manifest"):
            sh.load(21, 10.0)
        # a manifest of another format version, or of another certifier
        (dst / "manifest.json").write_text(json.dumps(dict(man, format_version=1)))
        sh.clear_caches()
        with pytest.raises(ShippedTableError, match="manifest of version"):
            sh.load(16, 10.0)
        (dst / "manifest.json").write_text(json.dumps(dict(man, certifier="aqp-2")))
        sh.clear_caches()
        with pytest.raises(ShippedTableError, match="certified by 'aqp-2'"):
            sh.load(16, 10.0)
        (dst / "manifest.json").write_text(json.dumps(man))
    finally:
        sh.clear_caches()


@pytest.mark.parametrize("edit,match", [
    (lambda c: c.__setitem__("budget_lower", c["E_star_lower"] * (1 + c["eps"]) * 1.01),
     "budget_lower > \\(1 \\+ eps\\) E_star_lower"),
    (lambda c: c.__setitem__("bias_upper", c["budget_lower"] * 1.5), "bias_upper > budget_lower"),
    (lambda c: c.__setitem__("optimum_lower_bound", c["variance_upper"] * 2), "optimum_lower_bound"),
    (lambda c: c.__setitem__("optimality_gap", 0.5), "optimality gap"),
])
def test_c6_loader_checks_the_budget_relation_even_when_rebound(tmp_path, monkeypatch, edit, match):
    """A certificate edited and re-bound (the binding is no signature) with a matching checksum: the loader's
    exact-rational check of the relations the certificate relies on refuses it."""
    import hashlib
    import shutil

    import estimators.aqp.shipped as sh
    from estimators.certificates import bind
    dst = tmp_path / "data"
    shutil.copytree(sh.data_dir(), dst)
    monkeypatch.setattr(sh, "data_dir", lambda advantage="decoupled": dst)
    sh.clear_caches()
    try:
        t = sh.load(16, 10.0)
        rel = sh.table_file(16, 10.0)
        doc = json.loads((dst / rel).read_text())
        cert = {k: v for k, v in doc["certificate"].items() if k != "binding"}
        edit(cert)
        doc["certificate"] = bind(t, cert, certifier=doc["certificate"]["binding"]["certifier"])
        raw = (json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n").encode()
        (dst / rel).write_bytes(raw)
        man = json.loads((dst / "manifest.json").read_text())
        man["files"][rel] = hashlib.sha256(raw).hexdigest()
        (dst / "manifest.json").write_text(json.dumps(man))
        sh.clear_caches()
        with pytest.raises(ShippedTableError, match=match):
            sh.load(16, 10.0)
    finally:
        sh.clear_caches()


# -- bad input -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,exc,match", [
    ({"eps": -1}, ValueError, "eps must be a finite number > 0"),
    ({"eps": math.nan}, ValueError, "eps must be a finite number > 0"),
    ({"eps": math.inf}, ValueError, "eps must be a finite number > 0"),
    ({"eps": 0}, ValueError, "minimax"),
    ({"eps": "ten"}, TypeError, "eps must be a finite number"),
    ({"eps": 0.5}, ValueError, r"shipped set .*solve=True"),
    ({"eps": 10, "variance_max": 1.0}, TypeError, "exactly one of eps"),
    ({}, TypeError, "exactly one of eps"),
    ({"variance_max": -1.0}, ValueError, "variance_max must be a finite number >= 0"),
    ({"variance_max": "median"}, ValueError, "variance_max must be a number >= 0 or 'plugin'"),
    ({"eps": 10, "objective": "max"}, ValueError, "objective must be one of"),
    ({"eps": 10, "solve": "yes"}, TypeError, "solve must be True or False"),
    ({"eps": 10, "solve": True, "certified": "both"}, ValueError, "certified must be 'stored'"),
    ({"eps": 10, "certified": "reference"}, ValueError, "certified='reference' needs solve=True"),
    ({"variance_max": "plugin", "certified": "reference"}, ValueError, "certified='reference' needs solve=True"),
])
def test_c6_bad_input_is_a_clear_error(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        build_table("kl", "aqp", 8, **kwargs)


@pytest.mark.parametrize("K", [1, 129, 2.0])
def test_c6_bad_K(K):
    with pytest.raises((ValueError, TypeError), match="K"):
        build_table("kl", "aqp", K, eps=10)


def test_c6_unshipped_generator_says_how_to_solve():
    with pytest.raises(ValueError, match="solve=True"):
        build_table("power", "aqp", 8, eps=10, generator_params={"alpha": 0.5})


def test_c6_check_eps_upper_range():
    with pytest.raises(ValueError, match="1e6"):
        check_eps(1e7)
    assert check_eps(3) == 3.0


@pytest.mark.parametrize("K,eps", [(64, 0.1), (128, 0.3), (128, 1.0)])
def test_c6_refusal_names_its_cause(K, eps):
    """Measured: the optimal entries grow so fast as eps -> 0 (K = 64, eps = 0.1: ~5e12) that their float64
    rounding moves the weighted bias beyond what the 1e-3 optimality tolerance can absorb: refused, with the
    cause and its numbers as fields (the same as the manifest's)."""
    from estimators.aqp.shipped import manifest
    from estimators.aqp.version import CAUSES
    with pytest.raises(ShippedTableError, match="no certified float64 table") as info:
        build_table("kl", "aqp", K, eps=eps)
    entry = manifest()["refused"][str(K)][repr(float(eps))]
    assert info.value.cause == entry["cause"] == "float64_rounding" and info.value.cause in CAUSES
    d = info.value.details
    assert d["K"] == K and d["eps"] == eps and d["rounding_rel"] > 0 and d["bias_excess_rel"] > 0


def test_c6_budget_bracket_is_outward():
    b = budget("kl", 16, 1.0)
    assert b["tau_lower"] <= 2 * b["E_lower"] and b["tau_upper"] >= 2 * b["E_upper"]


def test_c6_cli_exports_a_shipped_table(tmp_path):
    from proofs_numeric.cli import main
    out = tmp_path / "t.json"
    assert main(["tables", "--generator", "kl", "--method", "aqp", "--K", "64", "--eps", "10", "--format", "json",
                 "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["method"] == "aqp" and d["K"] == 64 and d["certificate"]["bias_within_budget"]
    bad = tmp_path / "bad.json"
    assert main(["tables", "--generator", "kl", "--method", "aqp", "--K", "64", "--eps", "0.5", "--out",
                 str(bad)]) == 2
    assert not bad.exists()


@pytest.mark.parametrize("K", [4, 16])
def test_c6_shipped_eps_set_is_complete(K):
    for eps in SHIPPED_EPS:
        try:
            build_table("kl", "aqp", K, eps=eps)
        except ShippedTableError as exc:  # a refusal must say why
            assert "float64" in str(exc) or "not attempted" in str(exc)


def test_c6_aqp_error_is_a_value_error():
    assert issubclass(AQPError, ValueError)


@pytest.mark.slow
def test_c6_sup_objective_is_offered_and_certified():
    """The sup variant min sup_p p V_g(p): objective bracketed by a rigorous sup and a dual bound."""
    r = solve("kl", 8, 10.0, objective="sup", use_cache=False)
    assert r.objective == "sup" and r.bias_upper <= r.tau_lower
    assert 0 < r.optimum_lower <= r.variance_upper and r.gap <= 1e-3
    from estimators import Table
    t = Table(values=r.values, generator=get_generator("kl"), method="aqp")
    grid = np.linspace(0, 1, 20001)
    assert float(np.max(moments(t, grid).weighted_var)) <= r.variance_upper
    # the integrated objective's optimum is no larger than the sup's times 1 (int p V <= sup p V)
    assert solve("kl", 8, 10.0).optimum_lower <= r.variance_upper


# -- rebuilding (small K: the solves are cached after the first run) -------------------------------------

@pytest.mark.slow
def test_c6_rebuild_writes_a_loadable_set_and_keeps_other_K(tmp_path, monkeypatch):
    import estimators.aqp.shipped as sh
    from estimators.aqp.build import rebuild
    out = tmp_path / "data"
    logs = []
    man = rebuild(range(2, 6), out_dir=out, processes=1, log=logs.append)
    assert man["K"] == [2, 5] and man["format_version"] == sh.FORMAT_VERSION
    assert any("K=5:" in m for m in logs)                      # progress per K
    assert sorted(os.listdir(tmp_path)) == ["data"]             # no temporary directory left behind
    monkeypatch.setattr(sh, "data_dir", lambda advantage="decoupled": out)
    sh.clear_caches()
    try:
        for K in range(2, 6):
            for eps in SHIPPED_EPS:
                mine = sh.load(K, eps)
                assert mine.certificate["bias_upper"] <= mine.certificate["budget_lower"]
        first = {rel: (out / rel).read_bytes() for rel in man["files"] if "K002" in rel}
        (out / "frontier_kl.json").write_text("not the rebuild's")       # a file the rebuild does not own
        man2 = rebuild(range(4, 6), out_dir=out, processes=1, log=lambda m: None)   # K = 2, 3 are kept
        assert (out / "frontier_kl.json").read_text() == "not the rebuild's"
        assert man2["K"] == [2, 5] and set(man2["files"]) == set(man["files"])
        assert {rel: (out / rel).read_bytes() for rel in first} == first
        # a damaged kept file stops the incremental rebuild (and names the fix) instead of dropping the K
        (out / sh.table_file(2, 10.0)).write_text("{}")
        with pytest.raises(ValueError, match="include K=2 in --rebuild-K"):
            rebuild(range(4, 6), out_dir=out, processes=1, log=lambda m: None)
        assert (out / "manifest.json").exists() and sorted(os.listdir(tmp_path)) == ["data"]
    finally:
        sh.clear_caches()


@pytest.mark.slow
def test_c6_frontier_build_writes_a_verified_document(tmp_path):
    from estimators.aqp.frontier import build_frontier, check_shape, load_frontier, reverify
    path = tmp_path / "frontier.json"
    build_frontier([4], [0.3, 3.0, 30.0], path=path, processes=1, log=lambda m: None)
    doc = load_frontier(path)
    pts = doc["K"]["4"]["points"]
    assert [p["eps"] for p in pts] == [0.3, 3.0, 30.0] and check_shape(pts)["violations"] == []
    for p in pts:     # every point, as stored (float64 tables as repr strings, reference tables as decimals)
        assert reverify(4, p, bias=True)["matches"], p["eps"]
    # a stored point whose V bracket is edited no longer matches
    bad = dict(pts[0], variance_upper=pts[0]["variance_upper"] * (1 + 1e-9))
    assert not reverify(4, bad, bias=False)["matches"]
    build_frontier([8], [0.3, 3.0, 30.0], path=path, processes=1, log=lambda m: None)   # adds K = 8, keeps K = 4
    assert set(load_frontier(path)["K"]) == {"4", "8"}
    build_frontier([8], [3.0], path=path, processes=1, log=lambda m: None)   # other budgets: K = 4 is not kept
    assert set(load_frontier(path)["K"]) == {"8"}


@pytest.mark.slow
def test_c6_where_float64_is_refused_the_extended_precision_optimum_is_certified():
    """K = 52, eps = 0.1: no float64 table ships (rounding the ~7e9 entries costs more than the 1e-3 gap), but
    the extended-precision optimum is solved and certified, its reference entries bound to the certificate."""
    with pytest.raises(ShippedTableError, match="certified='reference'"):
        build_table("kl", "aqp", 52, eps=0.1)
    t = build_table("kl", "aqp", 52, eps=0.1, solve=True, certified="reference")
    c = t.certificate
    assert c["table_certified"] == "reference" and t.params["certified"] == "reference"
    assert c["bias_upper"] <= c["budget_lower"] and c["optimality_gap"] <= 1e-3
    from fractions import Fraction
    V = variance_exact([Fraction(r) for r in t.reference])
    assert c["variance_lower"] <= float(V) <= c["variance_upper"]
    # the float64 values the kernels read carry their own certified bias, and the certificate says whether they
    # are within the budget (issue 16: the values must be what is certified, or say they are not)
    vb = certify_bias(list(t.values), target_for(get_generator("kl")), c["dual_points"] + [1.0])
    assert vb.lower <= c["values_bias_upper"] and c["values_bias_lower"] <= vb.upper   # both bracket the same sup
    assert c["bias_within_budget"] == (c["values_bias_upper"] <= c["budget_lower"])
    assert c["reference_within_budget"] is True and max(abs(t.values)) > 1e9
    assert ("NOT within it" in t.provenance) == (not c["bias_within_budget"])
    d = t.to_dict()
    d["reference"][5] = str(Fraction(d["reference"][5]) + Fraction(1, 10**30))
    from estimators import Table
    with pytest.raises(CertificateMismatchError):
        Table.from_dict(d)
