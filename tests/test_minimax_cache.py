"""The on-disk cache (estimators.cache) and its use by the minimax solver (claim C3 sweeps)."""
from __future__ import annotations

import json
import os

import pytest

from estimators import cache
from estimators.generators import kl
from estimators.minimax import core
from _common import is_type

_is_int, _is_str, _is_dict = is_type(int), is_type(str), is_type(dict)



@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALFT_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.delenv("ALFT_CACHE_DISABLE", raising=False)
    return tmp_path / "c"


def test_roundtrip_and_key_sensitivity():
    k1 = cache.cache_key("minimax", {"K": 4, "gen": "kl"})
    k2 = cache.cache_key("minimax", {"gen": "kl", "K": 4})
    k3 = cache.cache_key("minimax", {"K": 5, "gen": "kl"})
    k4 = cache.cache_key("minimax", {"K": 4, "gen": "kl"}, version="other")
    assert k1 == k2 and len({k1, k3, k4}) == 3
    assert cache.load(k1) is None
    cache.store(k1, {"x": [1.5, "0.1"], "y": None})
    assert cache.load(k1) == {"x": [1.5, "0.1"], "y": None}


def test_default_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("ALFT_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / ".cache" / "alft-verify"


def test_no_partial_or_temporary_files_left(_private_cache):
    key = cache.cache_key("t", 1)
    cache.store(key, list(range(1000)))
    names = os.listdir(_private_cache)
    assert names == [f"{key}.json"]


def test_failed_write_leaves_no_partial_entry(_private_cache, monkeypatch):
    key = cache.cache_key("t", 2)
    cache.store(key, "old")

    def boom(src, dst):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(cache.os, "replace", boom)
        with pytest.raises(OSError):
            cache.store(key, "new")
        # cached() still returns the computed value when the cache cannot be written, and says so
        with pytest.warns(cache.CacheWarning, match="not writable"):
            assert cache.cached("t", 99, lambda: "fresh", validate=_is_str) == ("fresh", False)
    assert cache.load(key) == "old"  # the old entry is intact, not half-overwritten
    assert sorted(os.listdir(_private_cache)) == [f"{key}.json"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "checksum", "wrong_key", "empty"])
def test_corrupt_entries_are_detected_and_recomputed(_private_cache, damage):
    calls = []

    def compute():
        calls.append(1)
        return {"value": 42}

    val, hit = cache.cached("t", "id", compute, validate=_is_dict)
    assert (val, hit, len(calls)) == ({"value": 42}, False, 1)
    path = _private_cache / f"{cache.cache_key('t', 'id')}.json"
    text = path.read_text()
    if damage == "truncate":
        path.write_text(text[: len(text) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif damage == "checksum":
        entry = json.loads(text)
        entry["value"]["value"] = 43
        path.write_text(json.dumps(entry))
    elif damage == "wrong_key":
        entry = json.loads(text)
        entry["key"] = "t-other"
        path.write_text(json.dumps(entry))
    else:
        path.write_text("")
    val, hit = cache.cached("t", "id", compute, validate=_is_dict)
    assert (val, hit, len(calls)) == ({"value": 42}, False, 2)
    val, hit = cache.cached("t", "id", compute, validate=_is_dict)   # repaired
    assert (val, hit, len(calls)) == ({"value": 42}, True, 2)


def test_disable_switch(monkeypatch, _private_cache):
    monkeypatch.setenv("ALFT_CACHE_DISABLE", "1")
    calls = []
    cache.cached("t", 3, lambda: calls.append(1) or 1, validate=_is_int)
    cache.cached("t", 3, lambda: calls.append(1) or 1, validate=_is_int)
    assert len(calls) == 2
    assert not _private_cache.exists()


def test_C3_solve_is_cached_and_identical(monkeypatch):
    calls = []
    real = core._solve_uncached

    def counting(*a, **k):
        calls.append(a[2])
        return real(*a, **k)

    monkeypatch.setattr(core, "_solve_uncached", counting)
    msgs = []
    r1 = core.solve(kl(), 9, log=msgs.append)
    r2 = core.solve(kl(), 9, log=msgs.append)
    assert calls == [9]
    assert "computed" in msgs[0] and "cache hit" in msgs[1]
    assert r1.to_dict() == r2.to_dict()
    core.solve(kl(), 9, constrained=False)
    assert calls == [9, 9]
