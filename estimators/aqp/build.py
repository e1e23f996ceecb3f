"""Rebuilding the shipped AQP set (``alft tables --rebuild aqp``): solve, certify, write, swap in (claim C6).

Each K is solved along its budgets from the largest eps down (warm starts), in worker processes; every
table is certified (:func:`.core.solve`) and written with its bound certificate. Every (K, eps) is attempted;
one whose table cannot be certified is recorded as refused with its structured cause
(:meth:`.core.AQPError.to_dict`: ``cause``, ``message`` and the numbers in ``details``). The new data directory
is written beside the old one (``.data.<random>.partial``) and swapped in only when complete, with the manifest
of checksums last. The target must be new, empty or an AQP data folder (:data:`AQP_DATA`): a folder of the
user's is refused, and the frontier data in it are kept.
"""
from __future__ import annotations

import datetime as _dt
import json
import multiprocessing as mp
import shutil
import time
from pathlib import Path
from queue import Empty
from typing import Callable, Iterable

from ..outputs import OutputKind, read_regular
from .frontier import FORMAT as FRONTIER_FORMAT
from .shipped import (FORMAT, FORMAT_VERSION, SHIPPED_EPS, check_manifest_shape, data_dir, eps_key, sha256_hex,
                      table_file)

__all__ = ["rebuild", "build_K", "AQP_DATA"]

#: the AQP data folder (the output rule of :mod:`estimators.outputs`): own when it holds an AQP manifest or
#: frontier data and nothing but the tables (``kl/``), the manifest and the frontier; a rebuild of the tables
#: replaces ``kl/`` and the manifest and keeps the frontier (``alft tables --rebuild aqp-frontier`` writes it)
AQP_DATA = OutputKind(command="alft tables --rebuild",
                      markers=(("manifest.json", "format", FORMAT), ("frontier_kl.json", "format", FRONTIER_FORMAT)),
                      members=frozenset({"kl", "manifest.json", "frontier_kl.json"}), carry=("frontier_kl.json",),
                      write_marker=False)


def build_K(K: int, eps_values=SHIPPED_EPS, use_cache: bool = True, neighbour: dict | None = None,
            log=None, advantage: str = "decoupled") -> tuple[dict, dict]:
    """The data-file document for one K (a table or a refusal per eps), and its solutions by eps
    (the warm starts of the next K). ``advantage="rloo"`` (C9): the effective table for K - 1 samples with
    the least variance of the trainer's advantage (:mod:`.baseline`), stored as certified (K - 1 entries)."""
    from ..generators import get_generator
    from .core import AQPError, solve_path
    from .table import table_from_result
    gen = get_generator("kl")
    t0 = time.perf_counter()
    tables, sols = {}, {}
    if advantage == "decoupled":
        m, quadratic, objective = K, None, "integrated"
    else:
        from .baseline import advantage_variance_objective
        m, quadratic, objective = K - 1, advantage_variance_objective(K), "advantage_variance"
    for eps, res in solve_path(gen, m, eps_values, stored=True, use_cache=use_cache, neighbour=neighbour, log=log,
                               quadratic=quadratic):
        sols[float(eps)] = res
        if isinstance(res, AQPError):
            tables[eps_key(eps)] = {"refused": res.to_dict()}
            continue
        t = table_from_result(res, gen, {"eps": float(eps), "objective": objective}, keep_reference=False)
        d = t.to_dict()
        tables[eps_key(eps)] = {"values": d["values"], "provenance": d["provenance"], "certificate": d["certificate"],
                                 "seconds": res.seconds.get("total")}
    doc = {"K": K, "generator": {"name": "kl", "params": {}}, "tables": tables,
           "seconds": round(time.perf_counter() - t0, 2)}
    if advantage != "decoupled":
        doc.update(advantage=advantage, effective_K=m)
    return doc, sols


def _chain(args):
    """Worker: one chain of K in increasing order, each K warm-started from the previous one."""
    Ks, eps_values, use_cache, queue, advantage = args
    neighbour = None
    for K in Ks:
        doc, neighbour = build_K(K, eps_values, use_cache, neighbour, advantage=advantage)
        queue.put((K, doc))
    return len(Ks)


def _versions() -> dict:
    out = {}
    for mod in ("numpy", "scipy", "cvxpy", "clarabel", "flint", "mpmath"):
        try:
            out[mod] = getattr(__import__(mod), "__version__", "unknown")
        except ImportError:
            out[mod] = None
    from .. import __version__
    out["alft-verify"] = __version__
    return out


def rebuild(Ks: Iterable[int] | None = None, eps_values=SHIPPED_EPS, *, out_dir=None, processes: int = 2,
            use_cache: bool = True, log: Callable[[str], None] = print, advantage: str = "decoupled") -> dict:
    """Solve and certify the shipped set for ``Ks`` (default: the set's K range, :data:`.shipped.SHIPPED_SETS`)
    x ``eps_values`` and swap it into ``out_dir`` (default: the package's data directory for ``advantage``).
    Returns the manifest."""
    from ..minimax.core import sweep
    from ..outputs import check_output_dir, make_partial, swap_in
    from .core import AQP_VERSION
    from .shipped import shipped_K
    lo, hi = shipped_K(advantage)
    Ks = sorted(set(int(k) for k in (range(lo, hi + 1) if Ks is None else Ks)))
    if not Ks or Ks[0] < lo or Ks[-1] > hi:
        raise ValueError(f"K of the shipped set for advantage {advantage!r} must lie in {lo}..{hi}, got "
                         f"{Ks[0] if Ks else 'none'}..{Ks[-1] if Ks else 'none'}")
    out = check_output_dir(out_dir if out_dir is not None else data_dir(advantage), AQP_DATA, name="--data-dir")
    tmp = make_partial(out, AQP_DATA, log)
    t0 = time.perf_counter()
    chains = [Ks[i::processes] for i in range(max(1, processes))]   # interleaved: balanced, each warm-started
    try:
        (tmp / "kl").mkdir()
        # K outside the requested range keep their files (an incremental rebuild), when the old set is ours
        kept = _keep_other_K(out, tmp, set(Ks), eps_values, advantage)
        files, refused, seconds = kept["files"], kept["refused"], kept["seconds"]
        shift = 0 if advantage == "decoupled" else 1     # rloo: the effective tables have K - 1 entries
        log(f"[aqp rebuild] certified minimax E*_K for K = {Ks[0] - shift}..{Ks[-1] - shift} (cached after the first "
            f"run)")
        sweep("kl", [K - shift for K in Ks])
        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager, ctx.Pool(len(chains)) as pool:
            queue = manager.Queue()
            pending = pool.map_async(_chain, [(c, tuple(eps_values), use_cache, queue, advantage) for c in chains if c])
            done = 0
            while done < len(Ks):
                try:
                    K, doc = queue.get(timeout=5)
                except Empty:
                    if pending.ready():
                        pending.get()  # re-raises a worker's exception
                        raise RuntimeError("the rebuild workers stopped before every K was written")
                    continue
                _write(tmp, K, doc, files, refused, seconds, log, t0)
                done += 1
            pending.get()
        man = {"format": FORMAT, "format_version": FORMAT_VERSION, "generator": {"name": "kl", "params": {}},
               "eps": [float(e) for e in eps_values], "K": [min(Ks + kept["K"]), max(Ks + kept["K"])],
               "certifier": AQP_VERSION,
               "versions": _versions(), "built_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "build_seconds": round(time.perf_counter() - t0, 1), "files": dict(sorted(files.items())),
               "refused": {k: refused[k] for k in sorted(refused)}, "seconds_per_K": dict(sorted(seconds.items()))}
        if advantage != "decoupled":
            man["advantage"] = advantage
        (tmp / "manifest.json").write_text(json.dumps(man, indent=1, sort_keys=True) + "\n")
        swap_in(tmp, out, AQP_DATA, name="--data-dir")   # keeps the frontier data beside the tables
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    from .shipped import clear_caches
    clear_caches()
    log(f"[aqp rebuild] wrote {out} ({len(files)} files, {sum(len(v) for v in refused.values())} refusals) in "
        f"{time.perf_counter() - t0:.0f}s")
    return man


def _keep_other_K(out: Path, tmp: Path, Ks: set, eps_values, advantage: str = "decoupled") -> dict:
    """Copy the files of K not being rebuilt from a previous set with the same format, certifier and eps."""
    from .core import AQP_VERSION
    kept = {"files": {}, "refused": {}, "seconds": {}, "K": []}
    try:
        old = json.loads(read_regular(out / "manifest.json"))
    except (OSError, ValueError):
        return kept
    if not isinstance(old, dict):
        return kept
    if old.get("format") == FORMAT:
        check_manifest_shape(old, out / "manifest.json")   # a damaged manifest: a clear error, not a traceback
    if (old.get("format"), old.get("format_version"), old.get("certifier"), old.get("eps"),
            old.get("advantage", "decoupled")) != \
            (FORMAT, FORMAT_VERSION, AQP_VERSION, [float(e) for e in eps_values], advantage):
        return kept
    lo, hi = old.get("K", [0, -1])
    for K in range(lo, hi + 1):
        if K in Ks:
            continue
        for eps in eps_values:
            rel = table_file(K, eps)
            if rel not in old.get("files", {}):
                continue
            try:
                raw = read_regular(out / rel)
            except OSError:
                raw = b""
            if sha256_hex(raw) != old["files"][rel]:
                raise ValueError(f"{out / rel} (kept from the previous set) is missing or corrupted: include "
                                 f"K={K} in --rebuild-K (or rebuild every K)")
            (tmp / rel).write_bytes(raw)
            kept["files"][rel] = old["files"][rel]
        kept["K"].append(K)
        if str(K) in old.get("refused", {}):
            kept["refused"][str(K)] = old["refused"][str(K)]
        if str(K) in old.get("seconds_per_K", {}):
            kept["seconds"][str(K)] = old["seconds_per_K"][str(K)]
    return kept


def _write(tmp: Path, K: int, doc: dict, files: dict, refused: dict, seconds: dict, log, t0: float) -> None:
    """Write one K's certified tables, one file each (:func:`.shipped.table_file`), and note its refusals."""
    ref = {}
    for key, entry in doc["tables"].items():
        if "refused" in entry:
            ref[key] = entry["refused"]
            continue
        rel = table_file(K, float(key))
        body = dict(entry, K=K, eps=float(key), generator=doc["generator"],
                    **{k: doc[k] for k in ("advantage", "effective_K") if k in doc})
        raw = (json.dumps(body, indent=None, separators=(",", ":"), sort_keys=True) + "\n").encode()
        (tmp / rel).write_bytes(raw)
        files[rel] = sha256_hex(raw)
    if ref:
        refused[str(K)] = ref
    seconds[str(K)] = doc["seconds"]
    log(f"[aqp rebuild] K={K}: {len(doc['tables']) - len(ref)} certified, {len(ref)} refused "
        f"({doc['seconds']:.1f}s; elapsed {time.perf_counter() - t0:.0f}s)")
