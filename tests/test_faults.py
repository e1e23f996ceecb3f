"""Faults (issues 11, 16): killed runs, concurrent writers, unwritable caches, file modes, stray folders.

* ``kill -9`` of a running ``alft report`` leaves the previous report intact; the next run removes
  the orphaned partial folder (only ours and stale: foreign or live ones stay).
* Two processes writing the same cache key, or the same report directory, at once: the result is
  one complete, valid entry / report, and no temporary folder is left.
* A read-only cache warns (and still returns the result); files and folders get the user's umask.
* ``alft crosscheck`` and ``alft report`` keep hypothesis's storage out of the working directory.
* Monte Carlo stays within its memory budget.
* Issue 16: a rebuild touches only the files it owns (the frontier beside the tables survives; a user's
  folder, a file, DIR.old.<n> / DIR.new.<n> are never touched); cleanup of dead runs matches exact names;
  a FIFO or a device at a cache entry, a shipped file or the frontier never blocks a load; a damaged
  manifest is a clear error; ``alft crosscheck`` exits 0 only when the whole check ran (a hang, an early
  end of the kernel's process, an import failure are a FAIL or a usage error). The counts are printed.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
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
from _common import is_type, print_summary_line

QUIET = dict(profile="quick", claims=["C2"], log=lambda m: None)

_is_int, _is_str, _is_dict = is_type(int), is_type(str), is_type(dict)



@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALFT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ALFT_CACHE_DISABLE", raising=False)
    return tmp_path / "cache"


#: the session's cache (conftest), for subprocesses that only need warm tables, not a private cache
_SESSION_CACHE = os.environ.get("ALFT_CACHE_DIR")


def _alft(*args, cwd=None, session_cache: bool = False) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    if session_cache and _SESSION_CACHE:
        env["ALFT_CACHE_DIR"] = _SESSION_CACHE
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

@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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
        assert cache.cached("t", 1, lambda: 42, validate=_is_int) == (42, False)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_a_read_only_cache_directory_warns(_private_cache, monkeypatch):
    _private_cache.mkdir()
    _private_cache.chmod(0o555)
    monkeypatch.setattr(cache, "_WARNED_UNWRITABLE", set())
    try:
        with pytest.warns(cache.CacheWarning, match="not writable"):
            assert cache.cached("t", 2, lambda: 7, validate=_is_int) == (7, False)
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
    cache.cached("t", 3, lambda: 1, validate=_is_int)
    assert all(_mode(p) == 0o640 for p in _private_cache.iterdir())
    out = tmp_path / "rep"
    run_report(out, **QUIET)
    assert _mode(out) == 0o750
    assert {_mode(p) for p in out.iterdir()} == {0o640}
    assert (out / MARKER).exists()


# -- hypothesis's storage --------------------------------------------------------------------------

@pytest.mark.slow
def test_crosscheck_leaves_no_hypothesis_folder_in_the_working_directory(tmp_path):
    pytest.importorskip("torch")
    work = tmp_path / "work"
    work.mkdir()
    proc = _alft("crosscheck", "estimators.torch:group_rewards", "--max-examples", "2", cwd=work)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert list(work.iterdir()) == []


@pytest.mark.slow
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

@pytest.mark.slow
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


# == issue 16: no command deletes or replaces what it did not create; no hang; no early exit read as a verdict ==

FAULTS = {"scenarios": 0, "held": 0}


class _scenario:
    """Counts one fault scenario (printed at the end of the module): held when its block passes."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        FAULTS["scenarios"] += 1
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            FAULTS["held"] += 1
        return False


@pytest.fixture(scope="module", autouse=True)
def _print_fault_counts(request):
    yield
    line = (f"faults (issue 16): {FAULTS['scenarios']} scenarios, {FAULTS['held']} held, "
            f"{FAULTS['scenarios'] - FAULTS['held']} not")
    print_summary_line(request, line)


def _tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_rebuild_touches_only_the_files_it_owns(tmp_path, monkeypatch):
    """`alft tables --rebuild aqp` keeps the frontier data beside the tables (issue: deleted on a checkout), never
    replaces a folder of the user's or a file, and leaves siblings named DIR.old.<n> / DIR.new.<n> alone."""
    import shutil as _shutil

    import estimators.aqp.build as build
    import estimators.aqp.shipped as sh
    data = tmp_path / "data"
    _shutil.copytree(sh.data_dir(), data)
    frontier = (data / "frontier_kl.json").read_bytes()
    siblings = {}
    for name in ("data.old.99999", "data.new.99998", "mydocs.old.99997"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text(name)
        siblings[name] = _tree(tmp_path / name)
    mydocs = tmp_path / "mydocs"
    mydocs.mkdir()
    (mydocs / "thesis.tex").write_text("years of work")
    afile = tmp_path / "afile"
    afile.write_text("x")
    monkeypatch.setattr(build, "data_dir", lambda advantage="decoupled": data)   # "the package's data directory" of a checkout
    try:
        with _scenario("rebuild of the package data keeps frontier_kl.json"):
            man = build.rebuild(range(2, 3), processes=1, log=lambda m: None)
            assert (data / "frontier_kl.json").read_bytes() == frontier
            assert sorted(os.listdir(data)) == ["frontier_kl.json", "kl", "manifest.json"]
            assert man["K"] == [2, 128] and len(man["files"]) == len(list((data / "kl").iterdir()))
        with _scenario("rebuild refuses a folder of the user's"):
            with pytest.raises(ValueError, match="not written by alft tables --rebuild"):
                build.rebuild(range(2, 3), out_dir=mydocs, processes=1, log=lambda m: None)
            assert _tree(mydocs) == {"thesis.tex": b"years of work"}
        with _scenario("rebuild refuses a file"):
            with pytest.raises(ValueError, match="not a directory"):
                build.rebuild(range(2, 3), out_dir=afile, processes=1, log=lambda m: None)
            assert afile.read_text() == "x"
        with _scenario("rebuild leaves DIR.old.<n> / DIR.new.<n> it did not create"):
            assert all(_tree(tmp_path / n) == t for n, t in siblings.items())
            assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == sorted(
                ["afile", "data", "mydocs", *siblings])
    finally:
        sh.clear_caches()


@pytest.mark.slow
def test_cleanup_of_dead_runs_matches_exact_names(tmp_path):
    """`--out 'r[1]'`: the stale partial folder of r[1] is removed; another run's `.r1.*.partial` is not (issue:
    the name was used as a glob pattern). Old-format markers without a target still match by exact name."""
    host = socket.gethostname()
    dead = 2 ** 22 + 11

    def partial(name, target=None):
        d = tmp_path / name
        d.mkdir()
        marker = {"schema": "alft-verify/partial", "pid": dead, "host": host}
        if target is not None:
            marker["target"] = target
        (d / PARTIAL_MARKER).write_text(json.dumps(marker))
        return d

    for out_name in ("r[1]", "r*", "r?"):
        with _scenario(f"exact-name cleanup for --out {out_name!r}"):
            mine = partial(f".{out_name}.abc123_x.partial", out_name)
            old_style = partial(f".{out_name}.zz9.partial")
            other = partial(".r1.abc123_x.partial", "r1")
            other_glob = partial(".rX.abc123_x.partial", "rX")
            dotted = partial(f".{out_name}.x.y.partial", out_name + ".x")
            run_report(tmp_path / out_name, **QUIET)
            assert not mine.exists() and not old_style.exists()
            assert other.exists() and other_glob.exists() and dotted.exists()
            assert is_report_dir(tmp_path / out_name)
            for d in (other, other_glob, dotted):
                shutil.rmtree(d)


@pytest.mark.slow
def test_the_swap_never_removes_an_old_folder_it_did_not_write(tmp_path):
    with _scenario("a user's .OUT.old in the way of the swap"):
        out = tmp_path / "rep"
        run_report(out, **QUIET)
        before = _tree(out)
        old = tmp_path / ".rep.old"
        old.mkdir()
        (old / "keep.txt").write_text("mine")
        with pytest.raises(ValueError, match="in the way"):
            run_report(out, **QUIET)
        assert _tree(old) == {"keep.txt": b"mine"} and _tree(out) == before
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


@pytest.mark.slow
def test_game_replaces_only_its_own_folder(tmp_path):
    from proofs_numeric.cli import main
    argv = ["game", "--K", "4", "--methods", "plugin", "--steps", "3", "--seeds", "2", "--groups", "1", "--out"]
    out = tmp_path / "g"
    with _scenario("game --out: new, then its own folder again"):
        assert main(argv + [str(out)]) == 0
        assert sorted(os.listdir(out)) == [".alft-game.json", "game.json", "game_convergence.png"]
        assert main(argv + [str(out)]) == 0
        assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["g"]   # no partial, no .g.old
    with _scenario("game --out a folder of the user's is refused"):
        user = tmp_path / "u"
        user.mkdir()
        (user / "game.json").write_text("mine")
        assert main(argv + [str(user)]) == 2
        assert _tree(user) == {"game.json": b"mine"}


def test_a_fifo_or_a_device_at_a_cache_entry_never_blocks_a_load(_private_cache):
    for kind in ("fifo", "device"):
        with _scenario(f"a {kind} at a cache entry's path"):
            key = cache.cache_key("t", {"kind": kind})
            _private_cache.mkdir(exist_ok=True)
            path = _private_cache / f"{key}.json"
            if kind == "fifo":
                os.mkfifo(path)
            else:
                path.symlink_to("/dev/zero")
            t0 = time.monotonic()
            assert cache.load(key, {"kind": kind}) is None
            assert cache.cached("t", {"kind": kind}, lambda: 7, validate=lambda v: None) == (7, False)
            assert time.monotonic() - t0 < 10


def test_a_fifo_in_the_shipped_data_or_the_frontier_is_a_clear_error(tmp_path, monkeypatch):
    import shutil as _shutil

    import estimators.aqp.shipped as sh
    from estimators.aqp.frontier import load_frontier
    data = tmp_path / "data"
    _shutil.copytree(sh.data_dir(), data)
    monkeypatch.setattr(sh, "data_dir", lambda advantage="decoupled": data)
    try:
        with _scenario("a FIFO in place of a shipped table file"):
            (data / sh.table_file(16, 10.0)).unlink()
            os.mkfifo(data / sh.table_file(16, 10.0))
            sh.clear_caches()
            with pytest.raises(sh.ShippedTableError, match="not a regular file"):
                build_table("kl", "aqp", 16, eps=10.0)
        with _scenario("a FIFO in place of the manifest"):
            (data / "manifest.json").unlink()
            os.mkfifo(data / "manifest.json")
            sh.clear_caches()
            with pytest.raises(sh.ShippedTableError, match="not a regular file"):
                build_table("kl", "aqp", 8, eps=10.0)
        with _scenario("a FIFO in place of the frontier data"):
            (data / "frontier_kl.json").unlink()
            os.mkfifo(data / "frontier_kl.json")
            with pytest.raises(ValueError, match="not a regular file"):
                load_frontier(data / "frontier_kl.json")
    finally:
        sh.clear_caches()


@pytest.mark.parametrize("what, manifest_edit, match", [
    ("files: []", lambda m: m.update(files=[]), "'files' must be a non-empty mapping"),
    ("refused as a string", lambda m: m.update(refused="float64 rounding"), "'refused' must be a mapping"),
    ("a refusal of one K as a string", lambda m: m["refused"].update({"48": "x"}), "entry for K=48"),
    ("K as a string", lambda m: m.update(K="2-128"), "'K' must be the range"),
])
def test_a_damaged_shipped_manifest_is_a_clear_error(tmp_path, monkeypatch, what, manifest_edit, match):
    """Issue 16: these raised AttributeError from the loader."""
    import shutil as _shutil

    import estimators.aqp.shipped as sh
    data = tmp_path / "data"
    _shutil.copytree(sh.data_dir(), data)
    man = json.loads((data / "manifest.json").read_text())
    manifest_edit(man)
    (data / "manifest.json").write_text(json.dumps(man))
    monkeypatch.setattr(sh, "data_dir", lambda advantage="decoupled": data)
    sh.clear_caches()
    try:
        with _scenario(f"shipped manifest with {what}"):
            with pytest.raises(sh.ShippedTableError, match=match):
                build_table("kl", "aqp", 16, eps=10.0)
    finally:
        sh.clear_caches()


def test_a_shipped_table_whose_generator_is_a_string_is_a_clear_error(tmp_path, monkeypatch):
    import hashlib
    import shutil as _shutil

    import estimators.aqp.shipped as sh
    data = tmp_path / "data"
    _shutil.copytree(sh.data_dir(), data)
    rel = sh.table_file(16, 10.0)
    doc = json.loads((data / rel).read_text())
    doc["generator"] = "kl"
    raw = (json.dumps(doc) + "\n").encode()
    (data / rel).write_bytes(raw)
    man = json.loads((data / "manifest.json").read_text())
    man["files"][rel] = hashlib.sha256(raw).hexdigest()
    (data / "manifest.json").write_text(json.dumps(man))
    monkeypatch.setattr(sh, "data_dir", lambda advantage="decoupled": data)
    sh.clear_caches()
    try:
        with _scenario("shipped table with generator as a string"):
            with pytest.raises(sh.ShippedTableError, match="'generator' mapping"):
                build_table("kl", "aqp", 16, eps=10.0)
    finally:
        sh.clear_caches()


# -- alft crosscheck: the kernel runs in a process of its own -------------------------------------------------

_KERNELS = '''
import os, signal, sys, time
import torch

def good(ids, table):
    return table[(ids.unsqueeze(2) == ids.unsqueeze(1)).sum(2) - 1]

def sleeps(ids, table):
    time.sleep(3600)

def os_exit_0(ids, table):
    os._exit(0)

def sys_exit_0(ids, table):
    sys.exit(0)

def kills_itself(ids, table):
    os.kill(os.getpid(), signal.SIGKILL)

def exits_on_wide_groups(ids, table):
    if ids.shape[1] >= 64:
        os._exit(0)
    return good(ids, table)
'''


@pytest.mark.slow
@pytest.mark.parametrize("module_text, kernel, rc, match", [
    (_KERNELS, "good", 0, "PASS - the kernel conforms"),
    (_KERNELS, "sleeps", 1, r"did not return within 2 s \(per-case timeout\)"),
    (_KERNELS, "os_exit_0", 1, r"process ended early while the kernel ran on this input \(it exited with status 0\)"),
    (_KERNELS, "sys_exit_0", 1, "the kernel raised SystemExit: 0"),
    (_KERNELS, "kills_itself", 1, "killed by SIGKILL"),
    (_KERNELS, "exits_on_wide_groups", 1, "process ended early"),
    ("raise RuntimeError('boom')\n", "f", 2, "importing it raised RuntimeError: boom"),
    ("def f(:\n", "f", 2, "importing it raised SyntaxError"),
    ("import os\nos._exit(0)\n", "f", 2, r"its process ended while importing it \(it exited with status 0\)"),
])
def test_crosscheck_verdicts_only_when_the_whole_check_ran(tmp_path, monkeypatch, capsys, module_text, kernel, rc,
                                                          match):
    """Exit 0 means a verdict of conformance; a hang, an early end or an import failure never reads as one.
    (``alft crosscheck`` in this process: the kernel's process is spawned by it, as from the shell.)"""
    pytest.importorskip("torch")
    from proofs_numeric.cli import main
    if _SESSION_CACHE:   # the reference tables (minimax up to K = 100) are warm after the first case
        monkeypatch.setenv("ALFT_CACHE_DIR", _SESSION_CACHE)
    monkeypatch.delenv("ALFT_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    with _scenario(f"crosscheck of a kernel that {kernel} ({'import' if rc == 2 else 'call'})"):
        (tmp_path / "kmod.py").write_text(module_text)
        got = main(["crosscheck", f"kmod:{kernel}", "--max-examples", "3", "--case-timeout", "2"])
        out, err = capsys.readouterr()
        assert got == rc, out + err
        assert re.search(match, out + err), out + err
        assert "Traceback" not in out + err
