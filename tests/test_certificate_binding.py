"""Certificates are bound to exactly the table they certify (estimators.certificates; claims C1, C3, C6).

An edited entry, parameter, K, generator or certified figure -- in a JSON file or in the on-disk
cache -- never carries a valid certificate; the cache recomputes a forged entry (even one for
another K with a recomputed checksum) instead of returning it.
"""
from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pytest

from estimators import build_table, cache
from estimators.certificates import COVERS, CertificateMismatchError, bind, certificate_digest, check_binding, verify
from estimators.generators import kl
from estimators.minimax import core
from estimators.table import Table


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALFT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ALFT_CACHE_DISABLE", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def minimax16():
    return build_table("kl", "minimax", 16)


def test_a_built_table_verifies_and_survives_a_json_round_trip(minimax16):
    t = minimax16
    assert verify(t)
    b = t.certificate["binding"]
    assert b["certifier"] == core.SOLVER_VERSION and b["covers"] == list(COVERS) and len(b["sha256"]) == 64
    again = Table.from_dict(json.loads(json.dumps(t.to_dict())))
    assert verify(again) and np.array_equal(again.values, t.values)


def _edit_entry(d):
    d["values"][3] += 1e-6


def _edit_param(d):
    d["params"]["rel_tol"] = 1e-8


def _edit_generator(d):
    d["generator"], d["generator_params"] = "power", {"alpha": 0.5}


def _edit_figure(d):
    d["certificate"]["E_star_upper"] *= 0.5


def _edit_reference(d):
    d["reference"][0] = d["reference"][0][:-3] + "999"


def _edit_method(d):
    d["method"] = "plugin"


def _drop_entry_and_K(d):
    d["values"], d["reference"], d["K"] = d["values"][:-1], d["reference"][:-1], d["K"] - 1


def _edit_certifier(d):
    d["certificate"]["binding"]["certifier"] = "minimax-99"


def _remove_binding(d):
    del d["certificate"]["binding"]


EDITS = [_edit_entry, _edit_param, _edit_generator, _edit_figure, _edit_reference, _edit_method,
         _drop_entry_and_K, _edit_certifier, _remove_binding]


@pytest.mark.parametrize("edit", EDITS, ids=[e.__name__.strip("_") for e in EDITS])
def test_an_edited_table_never_carries_its_certificate(minimax16, edit):
    d = minimax16.to_dict()
    edit(d)
    with pytest.raises(CertificateMismatchError):
        Table.from_dict(d)
    dropped = Table.from_dict(d, on_bad_certificate="drop")
    assert dropped.certificate is None and not verify(dropped)
    assert "certificate dropped" in dropped.provenance


def test_the_issue_counterexample_1e6_added_to_one_entry_is_refused():
    """issue 11, item 4: build_table("kl", "minimax", 16).to_dict() with 1e-6 added to one entry."""
    d = build_table("kl", "minimax", 16).to_dict()
    d["values"][7] += 1e-6
    with pytest.raises(CertificateMismatchError, match="does not match this table"):
        Table.from_dict(d)


def test_an_unbound_certificate_is_refused_and_bind_makes_it_valid():
    t = build_table("kl", "plugin", 5)
    fields = dict(values=t.values, generator=t.generator, method=t.method, reference=t.reference,
                  reference_dps=t.reference_dps)
    cert = {"bias_budget": 0.25, "note": "an AQP-style certificate"}
    with pytest.raises(CertificateMismatchError, match="no binding"):
        Table(**fields, certificate=cert)
    bound = bind(t, cert, certifier="test-1")
    t2 = Table(**fields, certificate=bound)
    assert verify(t2) and t2.certificate["bias_budget"] == 0.25
    with pytest.raises(TypeError):  # the stored certificate is read-only
        t2.certificate["bias_budget"] = 0.0
    bound["bias_budget"] = 0.0  # editing the caller's copy afterwards does not change the table ...
    assert t2.certificate["bias_budget"] == 0.25
    with pytest.raises(CertificateMismatchError):  # ... and the edited copy no longer verifies
        Table(**fields, certificate=bound)


def test_digest_is_exact_in_float64_and_names_its_inputs():
    base = dict(values=[0.1, 0.2], reference=None, reference_dps=None, generator={"name": "kl", "params": {}},
                method="m", K=2, params={"x": 0.5}, certifier="c-1", certificate={"a": 1.0})
    d0 = certificate_digest(**base)
    assert d0 == certificate_digest(**copy.deepcopy(base))
    bumped = dict(base, values=[0.1, float(np.nextafter(0.2, 1))])     # one ulp is a different table
    assert certificate_digest(**bumped) != d0
    assert certificate_digest(**dict(base, params={"x": float(np.nextafter(0.5, 1))})) != d0
    with pytest.raises(CertificateMismatchError, match="K = 3"):
        certificate_digest(**dict(base, K=3))
    with pytest.raises(CertificateMismatchError):
        check_binding({"values": [1.0, 2.0], "generator": {"name": "kl"}, "method": "m"}, {"a": 1})


# -- the cache -------------------------------------------------------------------------------------

def _entry_path(K):
    ident = {"generator": kl().to_dict(), "K": K, "constrained": True, "rel_tol": core.DEFAULT_REL_TOL,
             "version": core.SOLVER_VERSION}
    key = cache.cache_key("minimax", ident)
    return key, ident, cache.cache_dir() / f"{key}.json"


def _forge(path, key, ident, value):
    """Write ``value`` under ``key`` with a recomputed checksum: what a careless edit or a copy does."""
    path.write_text(json.dumps({"key": key, "ident": ident, "sha256": cache._checksum(value), "value": value}))


def test_a_forged_cache_entry_for_another_K_is_never_returned():
    """issue 11, item 7: a cache entry holding K = 9's result under K = 8's key (checksum recomputed)."""
    t8 = build_table("kl", "minimax", 8)
    build_table("kl", "minimax", 9)
    key8, ident8, path8 = _entry_path(8)
    _, _, path9 = _entry_path(9)
    _forge(path8, key8, ident8, json.loads(path9.read_text())["value"])
    with pytest.warns(cache.CacheWarning, match="failed validation"):
        again = build_table("kl", "minimax", 8)
    assert again.K == 8 and np.array_equal(again.values, t8.values) and verify(again)
    # the entry was repaired: the next load is a silent hit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(build_table("kl", "minimax", 8).values, t8.values)


@pytest.mark.parametrize("what", ["value", "figure", "generator", "binding"])
def test_an_edited_cache_entry_is_recomputed(what):
    t = build_table("kl", "minimax", 7)
    key, ident, path = _entry_path(7)
    val = json.loads(path.read_text())["value"]
    if what == "value":
        val["values"][2] += 1e-9
    elif what == "figure":
        val["upper"] = val["lower"]
    elif what == "generator":
        val["generator"]["params"] = {"alpha": 0.5}
    else:
        val["binding"]["sha256"] = "0" * 64
    _forge(path, key, ident, val)
    with pytest.warns(cache.CacheWarning):
        again = build_table("kl", "minimax", 7)
    assert np.array_equal(again.values, t.values) and again.certificate["E_star_upper"] == t.certificate["E_star_upper"]
    assert verify(again)
