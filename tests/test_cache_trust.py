"""No certificate is taken from a cache on trust (claims C3, C4, C6): every cached result is checked against
the request and re-verified from its own numbers before it is returned; an entry that fails is recomputed.

Each attack edits a cache entry the way anyone with write access could -- values, K, certified figures -- and
recomputes its checksum (and, for minimax, the certificate binding), so only the re-verification can catch it.
"""
from __future__ import annotations

import json
import warnings

import pytest

from estimators import build_table, cache
from estimators.aqp.certify import certify_bias
from estimators.aqp.core import solve
from estimators.certificates import bind
from estimators.minimax.targets import target_for
from estimators.generators import get_generator


@pytest.fixture()
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALFT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ALFT_CACHE_DISABLE", raising=False)
    return tmp_path


def _entries(d, kind):
    return sorted(d.glob(f"{kind}-*.json"))


def _rewrite(path, edit):
    """Apply ``edit`` to the entry's value and recompute its checksum (what an attacker can do)."""
    e = json.loads(path.read_text())
    edit(e)
    e["sha256"] = cache._checksum(e["value"])
    path.write_text(json.dumps(e))


def test_cached_needs_a_validator():
    with pytest.raises(TypeError, match="validate"):
        cache.cached("t", 1, lambda: 1)


def test_c6_edited_aqp_values_are_caught_and_resolved(private_cache):
    """The issue's attack: values[3] += 0.5 with a fresh checksum made a table whose sup was 3x the budget."""
    t0 = build_table("kl", "aqp", 16, eps=10, solve=True)
    (path,) = _entries(private_cache, "aqp")
    _rewrite(path, lambda e: e["value"]["values"].__setitem__(3, e["value"]["values"][3] + 0.5))
    with pytest.warns(cache.CacheWarning, match="does not re-verify"):
        t = build_table("kl", "aqp", 16, eps=10, solve=True)
    assert list(t.values) == list(t0.values)
    b = certify_bias(list(t.values), target_for(get_generator("kl")), t.certificate["dual_points"])
    assert b.upper <= t.certificate["budget_lower"]


def test_c6_aqp_entry_moved_to_another_K_is_caught(private_cache):
    """An entry solved for K = 6 written under K = 8's key (its K and the ident edited) is not returned for K = 8."""
    solve("kl", 6, 10.0)
    (src,) = _entries(private_cache, "aqp")
    e = json.loads(src.read_text())
    e["ident"]["K"] = 8
    e["value"]["K"] = 8
    key = cache.cache_key("aqp", e["ident"])
    e["key"] = key
    e["sha256"] = cache._checksum(e["value"])
    (private_cache / f"{key}.json").write_text(json.dumps(e))
    with pytest.warns(cache.CacheWarning, match="validation"):
        r = solve("kl", 8, 10.0)
    assert r.K == 8 and len(r.values) == 8 and r.bias_upper <= r.tau_lower


@pytest.mark.parametrize("field,factor", [("optimum_lower", 1.01), ("bias_upper", 0.5), ("variance_upper", 0.9),
                                          ("tau_lower", 2.0)])
def test_c6_edited_aqp_figures_are_caught(private_cache, field, factor):
    solve("kl", 12, 3.0)
    (path,) = _entries(private_cache, "aqp")
    _rewrite(path, lambda e: e["value"].__setitem__(field, e["value"][field] * factor))
    with pytest.warns(cache.CacheWarning, match="validation"):
        r = solve("kl", 12, 3.0)
    fresh = solve("kl", 12, 3.0, use_cache=False)
    assert getattr(r, field) == getattr(fresh, field)


def test_c6_untouched_aqp_entry_is_returned_unchanged(private_cache):
    r = solve("kl", 24, 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert solve("kl", 24, 0.3).to_dict() == r.to_dict()


def test_c3_edited_minimax_bracket_is_caught_even_when_rebound(private_cache):
    """The bracket on E*_K shifted down by 1e-6 relatively (its lower end stays valid, its upper end is now below
    E*_K) and the certificate binding recomputed (the binding is no signature)."""
    from estimators.minimax.core import MinimaxResult, solve as msolve
    r0 = msolve("kl", 20)
    path = next(p for p in _entries(private_cache, "minimax") if json.loads(p.read_text())["ident"]["K"] == 20)

    def edit(e):
        r = MinimaxResult.from_dict(e["value"])
        r.lower *= 1 - 1e-6
        r.upper *= 1 - 1e-6
        r.binding = bind(r.table_fields(1e-9), r.certificate(1e-9), certifier=r.version)["binding"]
        e["value"] = r.to_dict()
    _rewrite(path, edit)
    with pytest.warns(cache.CacheWarning, match="upper bound does not re-verify"):
        r = msolve("kl", 20)
    assert r.upper == r0.upper


def test_c3_edited_unconstrained_minimax_is_caught(private_cache):
    from estimators.minimax.core import solve as msolve
    r0 = msolve("kl", 12, constrained=False)
    (path,) = [p for p in _entries(private_cache, "minimax") if not json.loads(p.read_text())["ident"]["constrained"]]

    def edit(e):       # the bracket moved up by 1e-6 relatively: its lower end is now above E*_K
        e["value"]["lower"] *= 1 + 1e-6
        e["value"]["upper"] *= 1 + 1e-6
    _rewrite(path, edit)
    with pytest.warns(cache.CacheWarning, match="lower bound does not re-verify"):
        r = msolve("kl", 12, constrained=False)
    assert r.lower == r0.lower


def test_c4_edited_modulus_is_caught(private_cache):
    from proofs_numeric.c4_ditzian_totik import dt_modulus
    w0 = dt_modulus("kl", 2, 0.25, nx=100, nt=10, n_refine=1)
    (path,) = _entries(private_cache, "dt_modulus")
    _rewrite(path, lambda e: e["value"].__setitem__("value", e["value"]["value"] * 1.1))
    with pytest.warns(cache.CacheWarning, match="does not re-verify"):
        w = dt_modulus("kl", 2, 0.25, nx=100, nt=10, n_refine=1)
    assert w == w0
