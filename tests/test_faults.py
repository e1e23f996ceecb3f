"""Faults (issue 11): killed runs, concurrent writers, unwritable caches, file modes, stray folders.

* ``kill -9`` of a running ``alft report`` leaves the previous report intact; the next run removes
  the orphaned partial folder (only ours and stale: foreign or live ones stay).
* Two processes writing the same cache key, or the same report directory, at once: the result is
  one complete, valid entry / report, and no temporary folder is left.
* A read-only cache warns (and still returns the result); files and folders get the user's umask.
* ``alft crosscheck`` and ``alft report`` keep hypothesis's storage out of the working directory.
* Monte Carlo stays within its memory budget.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import socket
import stat
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from estimators import build_table, cache
from estimators._io import atomic_write_text
from estimators.montecarlo import monte_carlo
from proofs_numeric.report.builder import run_report
from proofs_numeric.report.outdir import MARKER, PARTIAL_MARKER, is_report_dir

QUIET = dict(profile="quick", claims=["C2"], log=lambda m: None)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALFT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ALFT_CACHE_DISABLE", raising=False)
    return tmp_path / "cache"


def _alft(*args, cwd=None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    return subprocess.Popen([sys.executable, "-m", "proofs_numeric.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _partials(parent: Path, name: str) -> list[Path]:
    return sorted(parent.glob(f".{name}.*.partial"))


def _fake_partial(parent: Path, tag: str, marker: dict | None) -> Path:
    d = parent / f".rep.{tag}.partial"
    d.mkdir()
    if marker is not None:
        (d / PARTIAL_MARKER).write_text(json.dumps(marker))
    return d


# -- kill -9 ----------------------------------------------------------------------------------------

def test_kill_9_keeps_the_old_report_and_the_next_run_cleans_only_stale_orphans(tmp_path):
    out = tmp_path / "rep"
    run_report(out, **QUIET)
    before = (out / "results.json").read_text()
    proc = _alft("report", "--profile", "quick", "--claims", "C2", "--out", str(out))
    deadline = time.monotonic() + 120
    while not any((p / PARTIAL_MARKER).exists() for p in _partials(tmp_path, "rep")):
        assert proc.poll() is None, f"the report ended before it could be killed: {proc.communicate()}"
        assert time.monotonic() < deadline, "no partial folder appeared"
        time.sleep(0.02)
    proc.kill()  # SIGKILL: no cleanup runs
    proc.communicate()
    assert (out / "results.json").read_text() == before          # the previous report is intact
    orphans = _partials(tmp_path, "rep")
    assert len(orphans) == 1
    # folders that are not provably ours and stale must survive the cleanup
    host = socket.gethostname()
    live = _fake_partial(tmp_path, "live", {"schema": "alft-verify/report-partial", "pid": os.getpid(), "host": host})
    foreign = _fake_partial(tmp_path, "foreign", None)
    elsewhere = _fake_partial(tmp_path, "elsewhere", {"schema": "alft-verify/report-partial", "pid": 2 ** 22 + 7,
                                                      "host": host + "-other"})
    msgs = []
    run_report(out, profile="quick", claims=["C2"], log=msgs.append)
    assert not orphans[0].exists()
    assert live.exists() and foreign.exists() and elsewhere.exists()
    assert any("orphaned" in m for m in msgs)
    assert is_report_dir(out) and json.loads((out / "results.json").read_text())["summary"]["status"] == "PASS"


# -- concurrency --------------------------------------------------------------------------------------

def _report(args):
    out, seed = args
    return run_report(out, profile="quick", claims=["C2"], seed=seed, log=lambda m: None)["seed"]


def test_two_reports_into_the_same_directory_at_once(tmp_path):
    out = tmp_path / "rep"
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert sorted(pool.map(_report, [(str(out), 1), (str(out), 2)])) == [1, 2]
    doc = json.loads((out / "results.json").read_text())
    assert doc["seed"] in (1, 2) and is_report_dir(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "rep"]  # no partial or .old folder left


def _hammer(args):
    path, key, tag = args
    os.environ["ALFT_CACHE_DIR"] = path
    for i in range(150):
        cache.store(key, {"writer": tag, "i": i, "payload": list(range(200))}, {"id": 1})
        got = cache.load(key, {"id": 1})
        assert got is None or (got["payload"] == list(range(200)) and got["writer"] in ("a", "b"))
    return True


def test_two_processes_writing_the_same_cache_key(_private_cache):
    key = cache.cache_key("t", {"id": 1})
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        assert pool.map(_hammer, [(str(_private_cache), key, "a"), (str(_private_cache), key, "b")]) == [True, True]
    final = cache.load(key, {"id": 1})
    assert final["writer"] in ("a", "b") and final["i"] == 149
    assert os.listdir(_private_cache) == [f"{key}.json"]  # no temporary file left


def _build(K):
    return build_table("kl", "minimax", K).values.tolist()


def test_two_processes_building_the_same_minimax_table(_private_cache):
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        a, b = pool.map(_build, [11, 11])
    assert a == b == _build(11)


# -- an unwritable cache, file modes ------------------------------------------------------------------

def test_an_unwritable_cache_warns_and_still_returns_the_result(_private_cache, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", str(_private_cache))

    monkeypatch.setattr(cache, "store", refuse)
    monkeypatch.setattr(cache, "_WARNED_UNWRITABLE", set())
    with pytest.warns(cache.CacheWarning, match="not writable"):
        assert cache.cached("t", 1, lambda: 42) == (42, False)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_a_read_only_cache_directory_warns(_private_cache, monkeypatch):
    _private_cache.mkdir()
    _private_cache.chmod(0o555)
    monkeypatch.setattr(cache, "_WARNED_UNWRITABLE", set())
    try:
        with pytest.warns(cache.CacheWarning, match="not writable"):
            assert cache.cached("t", 2, lambda: 7) == (7, False)
    finally:
        _private_cache.chmod(0o755)


@pytest.fixture
def umask027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_files_and_folders_follow_the_umask(tmp_path, umask027, _private_cache):
    f = atomic_write_text(tmp_path / "new.txt", "x")
    assert _mode(f) == 0o640
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o644)
    atomic_write_text(kept, "new")
    assert _mode(kept) == 0o644 and kept.read_text() == "new"   # a replaced file keeps its mode
    cache.cached("t", 3, lambda: 1)
    assert all(_mode(p) == 0o640 for p in _private_cache.iterdir())
    out = tmp_path / "rep"
    run_report(out, **QUIET)
    assert _mode(out) == 0o750
    assert {_mode(p) for p in out.iterdir()} == {0o640}
    assert (out / MARKER).exists()


# -- hypothesis's storage --------------------------------------------------------------------------

def test_crosscheck_leaves_no_hypothesis_folder_in_the_working_directory(tmp_path):
    pytest.importorskip("torch")
    work = tmp_path / "work"
    work.mkdir()
    proc = _alft("crosscheck", "estimators.torch:group_rewards", "--max-examples", "2", cwd=work)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert list(work.iterdir()) == []


def test_report_points_hypothesis_away_from_the_working_directory(tmp_path, monkeypatch, _private_cache):
    from hypothesis.configuration import set_hypothesis_home_dir, storage_directory
    monkeypatch.delenv("HYPOTHESIS_STORAGE_DIRECTORY", raising=False)
    set_hypothesis_home_dir(None)
    try:
        run_report(tmp_path / "rep", **QUIET)
        home = storage_directory("x", intent_to_write=False).home_directory
        assert home == _private_cache / "hypothesis"   # $ALFT_CACHE_DIR/hypothesis, not ./.hypothesis
    finally:
        set_hypothesis_home_dir(None)


# -- memory ----------------------------------------------------------------------------------------------

def test_monte_carlo_stays_within_its_memory_budget():
    t = build_table("kl", "plugin", 4096)
    budget = 32 << 20
    tracemalloc.start()
    try:
        res = monte_carlo(t, [0.5, 0.3, 0.2], 400, seed=3, max_bytes=budget)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.n_groups == 400 and np.all(np.isfinite(res.mean))
    assert peak <= budget
