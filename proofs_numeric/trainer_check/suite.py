"""``alft trainer-check --all``: every pair of :mod:`.cases` and the TRL settings sweep, as JSON and Markdown.

A pair passes when each side lands on its own predicted fixed point (its TV interval reaches 0) and measurably
away from the other's (TV interval above 0, and below half-way along the segment between the predictions); see
:func:`.stats.pair_verdict`. The sweep trains the corrected Euclidean K = 4 case (prediction p*) under TRL
settings changed one at a time and reports which keep the prediction.
"""
from __future__ import annotations

import platform
import time

from .cases import SETTINGS_SWEEP, SWEEP_CASE, Pair, default_settings, pairs_for
from .check import run_case
from .stats import compare_to, pair_verdict, segment_position

__all__ = ["run_pair", "run_sweep", "run_all", "markdown"]


def run_pair(pair: Pair, *, seeds: int, steps: int | None = None, log=None, **kw) -> dict:
    """Both sides of ``pair`` (same seeds) and the verdict per side."""
    extra = {} if steps is None else {"steps": steps}
    sides = [run_case(s.case, s.settings(pair.engine, **extra), engine=pair.engine, seeds=seeds, log=log, **kw)
             for s in (pair.a, pair.b)]
    for me, other in ((sides[0], sides[1]), (sides[1], sides[0])):
        me["tv_trained_to_other"] = compare_to(me["trained"], other["predicted"])
        me["segment_position"] = segment_position(me["trained"]["per_seed"], me["predicted"], other["predicted"],
                                                  me["trained"]["level"])
        me["verdict"] = pair_verdict(me["tv_trained_to_predicted"], me["tv_trained_to_other"],
                                     me["segment_position"])
    from .stats import total_variation
    return {"name": pair.name, "what": pair.what, "engine": pair.engine, "profile": pair.profile,
            "tv_between_predictions": total_variation(sides[0]["predicted"], sides[1]["predicted"]),
            "sides": sides, "agrees": all(s["verdict"]["agrees"] for s in sides),
            "seconds": sum(s["seconds"] for s in sides)}


def run_sweep(*, seeds: int, steps: int | None = None, log=None, on_result=None, **kw) -> list:
    """The corrected Euclidean K = 4 case under each setting of :data:`.cases.SETTINGS_SWEEP`."""
    out = []
    for label, over in SETTINGS_SWEEP:
        st = default_settings(SWEEP_CASE.K, "trl", **({} if steps is None else {"steps": steps}), **over)
        res = _guarded(lambda: run_case(SWEEP_CASE, st, seeds=seeds, log=log, **kw), label, log)
        res.update(setting=label, changed=over)
        out.append(res)
        if on_result is not None:
            on_result()
    return out


def _guarded(fn, what: str, log) -> dict:
    """``fn()``, or a record of its failure (the run goes on with the next item; the verdict is a failure)."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001  (a failing case is reported, not fatal to the others)
        msg = f"{type(exc).__name__}: {exc}"
        (log or (lambda m: None))(f"trainer-check: {what} failed: {msg}")
        return {"error": msg, "agrees": False}


def run_all(profile: str = "quick", *, seeds: int, steps: int | None = None, sweep: bool | None = None,
            pairs: bool = True, log=None, checkpoint=None, **kw) -> dict:
    """Every pair of ``profile`` (``pairs=False``: none) and the settings sweep (by default in the full profile
    only). ``checkpoint(doc)`` is called with the document so far after every pair and sweep entry; a pair or
    entry that raises is recorded with its error and counts as a failure."""
    t0 = time.perf_counter()
    do_sweep = (profile == "full") if sweep is None else sweep
    doc = {"claim": "C9", "title": "The game predicts the trainer", "profile": profile, "pairs": [],
           "settings_sweep": [], "agrees": True, "seconds": 0.0,
           "machine": {"python": platform.python_version(), "processor": platform.machine()}}

    def save():
        doc["agrees"] = all(p["agrees"] for p in doc["pairs"])
        doc["seconds"] = time.perf_counter() - t0
        if checkpoint is not None:
            checkpoint(doc)

    for p in (pairs_for(profile) if pairs else []):
        res = _guarded(lambda: run_pair(p, seeds=seeds, steps=steps, log=log, **kw), p.name, log)
        res.setdefault("name", p.name)
        res.setdefault("what", p.what)
        doc["pairs"].append(res)
        save()
    if do_sweep:
        doc["settings_sweep"] = run_sweep(seeds=seeds, steps=steps, log=log, on_result=save, **kw)
    save()
    return doc


def _vec(x, nd=3) -> str:
    return "(" + ", ".join(f"{v:.{nd}f}" for v in x) + ")"


def _ok(b) -> str:
    return "yes" if b else "**no**"


def _setting(side: dict) -> str:
    s = side["settings"]
    if side["engine"] == "trl":
        return f"TRL scale_rewards={s['scale_rewards']}"
    return f"verl {s['adv_estimator']}" + ("" if s["adv_estimator"] != "grpo"
                                          else f", std={'yes' if s['norm_adv_by_std_in_grpo'] else 'no'}")


def markdown(doc: dict) -> str:
    """The report section: one row per side of every pair, then the settings sweep."""
    lines = [f"## {doc['title']} (claim C9, profile {doc['profile']})", "",
             "Each row trains the tiny LM (one answer token, ~3k parameters) over seeds and compares the mean end "
             "point (last third of the steps, simultaneous 95% intervals over seeds) with the game's exact fixed "
             "point for the same table and advantage. *TV own / TV other*: TV from the trained point to its own "
             "prediction and to the other side's, with intervals; *position*: where the seeds land along the "
             "segment from the own prediction (0) to the other's (1), 95% interval.", "",
             "| pair | case | trainer | predicted | trained | TV own | TV other | position | box | agrees |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for p in doc["pairs"]:
        if "error" in p:
            lines.append(f"| {p['name']} | failed: {p['error']} | | | | | | | | **no** |")
            continue
        for s in p["sides"]:
            o, x, pos, v = s["tv_trained_to_predicted"], s["tv_trained_to_other"], s["segment_position"], s["verdict"]
            lines.append(
                f"| {p['name']} | {s['label']} | {_setting(s)} | {_vec(s['predicted'])} | {_vec(s['trained']['mean'])} "
                f"| {o['tv']:.4f} [{o['tv_lower']:.4f}, {o['tv_upper']:.4f}] | {x['tv']:.4f} [{x['tv_lower']:.4f}, "
                f"{x['tv_upper']:.4f}] | {pos['mean']:+.3f} [{pos['lower']:+.3f}, {pos['upper']:+.3f}] | "
                f"{_ok(v['inside_box'])} | {_ok(v['agrees'])} |")
    done = [p for p in doc["pairs"] if "error" not in p]
    if done:
        lines += ["", "Runs: " + "; ".join(
            f"{p['name']}: {p['sides'][0]['seeds']} seeds x {p['sides'][0]['steps']} steps x "
            f"{p['sides'][0]['completions_per_step']} completions, {p['seconds']:.0f} s, "
            f"{p['sides'][0]['steps_per_second']:.1f} steps/s" for p in done) + "."]
    if doc["settings_sweep"]:
        lines += ["", "### Which TRL settings keep the prediction (corrected U-statistic, Euclidean K = 4, "
                      "prediction p*)", "", "| setting | trained | TV to predicted | box |", "|---|---|---|---|"]
        for s in doc["settings_sweep"]:
            if "error" in s:
                lines.append(f"| {s['setting']} | failed: {s['error']} | | **no** |")
                continue
            o = s["tv_trained_to_predicted"]
            lines.append(f"| {s['setting']} | {_vec(s['trained']['mean'])} | {o['tv']:.4f} [{o['tv_lower']:.4f}, "
                         f"{o['tv_upper']:.4f}] | {_ok(o['inside'])} |")
    return "\n".join(lines) + "\n"
