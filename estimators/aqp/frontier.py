"""The bias-variance frontier of AQP and the dual question, computed offline and re-verified (claim C6).

For each K of :data:`FRONTIER_K` and each eps of :data:`FRONTIER_EPS` (14 log-spaced budgets in
[0.01, 1000]) the optimum V*(eps) is bracketed by :func:`.core.solve` with ``stored=False`` (the
extended-precision table is certified: at tiny eps no float64 table can hold the optimum), and the dual
question at the plug-in's variance is answered by :func:`.core.solve_dual`. The document (written by
``alft tables --rebuild aqp-frontier``) stores for every point the table (reference entries), the dual
points and multipliers, and the certified figures; :func:`reverify` recomputes the figures from the
stored tables in the calling run (exact V, the dual bound, and, when asked, the bias certificate).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["FRONTIER_K", "FRONTIER_EPS", "frontier_path", "build_frontier", "load_frontier", "reverify",
           "certificate_point", "check_shape"]

FRONTIER_K = (4, 8, 16, 32, 64, 128)
FRONTIER_EPS = tuple(float(f"{v:.3g}") for v in np.geomspace(0.01, 1000.0, 14))
FORMAT = "alft-verify/aqp-frontier"
FORMAT_VERSION = 1


def frontier_path() -> Path:
    return Path(__file__).resolve().parent / "data" / "frontier_kl.json"


def _point(res) -> dict:
    return {"eps": res.eps, "stage": res.stage, "certified": res.certified, "tau_lower": res.tau_lower,
            "tau_upper": res.tau_upper, "bias_upper": res.bias_upper, "bias_lower": res.bias_lower,
            "variance": res.variance, "variance_lower": res.variance_lower, "variance_upper": res.variance_upper,
            "optimum_lower": res.optimum_lower, "gap": res.gap, "max_abs_g": res.max_abs_g,
            "entries": res.reference if res.reference is not None else [repr(v) for v in res.values],
            "dual_points": res.dual_points, "dual_nu": res.dual_nu, "seconds": res.seconds.get("total")}


def _frontier_K(args) -> tuple[int, dict]:
    """One K of the frontier (a worker): the path of budgets and the dual at the plug-in's variance."""
    K, eps_values = args
    from ..generators import get_generator
    from .core import AQPError, solve_dual, solve_path
    gen = get_generator("kl")
    tk = time.perf_counter()
    pts, refused = [], {}
    def progress(msg):
        print(msg, file=sys.stderr, flush=True)

    for eps, res in solve_path(gen, K, eps_values, stored=False, log=progress):
        if isinstance(res, AQPError):
            refused[repr(eps)] = str(res)
        else:
            pts.append(_point(res))
    try:
        out = solve_dual(gen, K, "plugin")
        dual = {k: out[k] for k in ("variance_max", "eps_upper", "eps_lower", "bias_upper", "bias_lower",
                                    "rel_width", "bisection_steps")}
        dual["table"] = _point(out["table"])
    except (AQPError, ValueError) as exc:
        dual = {"refused": str(exc)}
    return K, {"points": pts, "refused": refused, "dual_plugin": dual, "seconds": round(time.perf_counter() - tk, 1)}


def _write(doc: dict, path) -> None:
    """Write the document atomically (the file rule of :mod:`estimators.outputs`), holding the lock of its
    folder: a rebuild of the tables swapping that folder carries the frontier over under the same lock."""
    from ..outputs import locked, write_output_file
    body = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    out = dict(doc, sha256=hashlib.sha256(body.encode()).hexdigest())
    path = Path(path)
    with locked(path.parent):
        write_output_file(path, json.dumps(out, sort_keys=True, separators=(",", ":")) + "\n", name="frontier path")


def build_frontier(Ks=FRONTIER_K, eps_values=FRONTIER_EPS, *, path=None, processes: int = 2,
                   log: Callable[[str], None] = print) -> dict:
    """Solve the frontier and the dual at the plug-in's variance for every K of ``Ks`` (largest first, in
    ``processes`` worker processes) and write the document atomically after each K, so that an interrupted
    build keeps what it finished. K already in the document at ``path`` and not in ``Ks`` are kept when the
    document has the same certifier and budgets."""
    import multiprocessing as mp

    from .core import AQP_VERSION
    from ..outputs import check_output_file
    path = Path(path or frontier_path())
    check_output_file(path, name="frontier path")   # before any solve: a directory, a FIFO, a read-only file
    eps_values = [float(e) for e in eps_values]
    Ks = sorted({int(k) for k in Ks}, reverse=True)
    if processes < 1:
        raise ValueError(f"processes must be an integer >= 1, got {processes}")
    t0 = time.perf_counter()
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "certifier": AQP_VERSION,
           "eps": eps_values, "K": {}}
    try:
        old = load_frontier(path)
        if old.get("certifier") == AQP_VERSION and old.get("eps") == eps_values:
            doc["K"] = {k: v for k, v in old["K"].items() if int(k) not in Ks}
    except ValueError:
        pass
    doc["build_seconds"] = 0.0
    jobs = [(K, eps_values) for K in Ks]
    log(f"[aqp frontier] K = {', '.join(map(str, Ks))} x {len(eps_values)} budgets in {processes} process(es); "
        f"each K is written when done")
    if processes == 1:
        results = map(_frontier_K, jobs)
        pool = None
    else:
        pool = mp.get_context("spawn").Pool(min(processes, len(jobs)))
        results = pool.imap_unordered(_frontier_K, jobs)
    try:
        for K, entry in results:
            doc["K"][str(K)] = entry
            doc["built_utc"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            doc["build_seconds"] = round(time.perf_counter() - t0, 1)
            _write(doc, path)
            d = entry["dual_plugin"]
            log(f"[aqp frontier] K={K}: {len(entry['points'])} points, {len(entry['refused'])} refused, dual "
                f"{'refused' if 'refused' in d else 'ok'} ({entry['seconds']:.0f}s; {time.perf_counter() - t0:.0f}s "
                f"elapsed)")
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return doc


def load_frontier(path=None) -> dict:
    """The stored frontier document, its checksum verified (ValueError naming the fix otherwise)."""
    from ..outputs import read_regular
    p = Path(path or frontier_path())
    try:
        doc = json.loads(read_regular(p).decode("utf-8"))
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise ValueError(f"the AQP frontier data {p} is missing or unreadable ({exc}); regenerate it with "
                         f"`alft tables --rebuild aqp-frontier`") from exc
    sha = doc.pop("sha256", None)
    body = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    if doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION or \
            sha != hashlib.sha256(body.encode()).hexdigest():
        raise ValueError(f"the AQP frontier data {p} is corrupted or of another format; regenerate it with "
                         f"`alft tables --rebuild aqp-frontier`")
    return doc


def certificate_point(entries, cert: dict) -> dict:
    """A stored float64 table (``entries``) and its AQP certificate in the form :func:`reverify` reads."""
    return {"eps": cert["eps"], "entries": [float(v) for v in entries], "certified": "stored",
            "tau_lower": cert["budget_lower"], "tau_upper": cert["budget_upper"], "dual_points": cert["dual_points"],
            "dual_nu": cert["dual_multipliers"], "variance_lower": cert["variance_lower"],
            "variance_upper": cert["variance_upper"], "optimum_lower": cert["optimum_lower_bound"]}


def reverify(K: int, point: dict, *, bias: bool = True, objective=None) -> dict:
    """Recompute a stored point's figures in this run: V exactly from its entries, the dual lower bound
    from its stored points and multipliers, and (``bias=True``) the rigorous sup of its weighted bias.
    ``objective``: the point's quadratic form (:class:`.objective.QuadraticObjective`; default V(g), H_K), e.g.
    the rloo advantage's variance of C9 (then K is the effective table's size). Returns the recomputed figures
    and whether they match the stored ones."""
    from fractions import Fraction

    from ..generators import get_generator
    from ..minimax.targets import target_for
    from .certify import certify_bias, dual_lower_bound, variance_bracket
    from .core import certificate_hints
    target = target_for(get_generator("kl"))
    # a point certified as stored holds a float64 table, kept as repr() strings: read as decimals they would
    # be another table
    entries = ([float(e) for e in point["entries"]] if point.get("certified") == "stored" else point["entries"])
    t0 = time.perf_counter()
    V, V_lo, V_up = variance_bracket(entries, objective)
    out = {"variance_lower": V_lo, "variance_upper": V_up}
    if point["dual_points"]:
        out["optimum_lower"] = dual_lower_bound(K, target, point["tau_upper"], point["dual_points"],
                                                point["dual_nu"], prec=256 + 2 * K, objective=objective)["lower"]
    else:
        out["optimum_lower"] = 0.0
    if bias:
        g = [float(Fraction(e)) for e in entries]
        out["bias_upper"] = certify_bias(entries, target, certificate_hints(target, K, g, point["tau_lower"])).upper
        out["bias_within_budget"] = out["bias_upper"] <= point["tau_lower"]
    out["matches"] = (out["variance_lower"] == point["variance_lower"] and
                      out["variance_upper"] == point["variance_upper"] and
                      math.isclose(out["optimum_lower"], point["optimum_lower"], rel_tol=1e-9, abs_tol=0) and
                      (not bias or out["bias_within_budget"]))
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def check_shape(points: list) -> dict:
    """Non-increasing and convex in the budget, as a theorem for convex programs requires: a certified
    violation (brackets that exclude the property) would be a solver bug. Returns the counts checked and
    any violations; ``points`` are dicts with eps, tau_lower, tau_upper, optimum_lower, variance_upper."""
    pts = sorted(points, key=lambda p: p["eps"])
    viol = []
    for a, b in zip(pts, pts[1:]):
        if a["variance_upper"] < b["optimum_lower"]:   # V*(smaller budget) certainly below V*(larger)
            viol.append(f"increasing between eps={a['eps']:g} and {b['eps']:g}")
    for a, b, c in zip(pts, pts[1:], pts[2:]):
        ta, tb, tc = (0.5 * (p["tau_lower"] + p["tau_upper"]) for p in (a, b, c))
        lam = (tc - tb) / (tc - ta)
        chord = lam * a["variance_upper"] + (1 - lam) * c["variance_upper"]
        if b["optimum_lower"] > chord * (1 + 1e-9):     # V*(middle) certainly above the chord
            viol.append(f"not convex at eps={b['eps']:g}")
    return {"monotone_pairs": max(0, len(pts) - 1), "convex_triples": max(0, len(pts) - 2), "violations": viol}
