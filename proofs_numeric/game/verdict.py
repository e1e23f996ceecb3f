"""The convergence verdict from the tuned, paired protocol (claim C7(c)): who wins where, by how much.

From the :class:`.protocol.Cell` of every (game, advantage, K):

* ``rows``: one per (horizon, table): the schedule chosen on the tuning seeds and the error measured on
  fresh seeds (mean over seeds with a Student-t interval);
* ``cells``: one per (game, advantage, K, horizon): the winner (least measured mean error), the runner-up
  and the margin runner-up / winner as a paired bootstrap ratio (:func:`.stats.ratio_of_means`); when its
  interval reaches 1 the winner is *tied* with the runner-up, and every table whose ratio to the winner
  reaches 1 is listed as tied;
* ``aqp``: AQP, its budget eps chosen on the tuning seeds (so the choice is not made on the seeds that
  judge it), against the plug-in, the jackknife and the minimax table: "faster" (AQP's error lower, the
  ratio's interval below 1), "slower" or "no significant difference";
* ``corrections`` (``rloo`` only): each method's baseline-aware table against its plain table;
* ``passage``: first-passage times to the targets along the run tuned for the longest horizon.

Intervals are 95% per comparison; with many cells a few are expected to exclude the truth by chance.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from .protocol import Cell, ProtocolConfig
from .stats import compare_passage, first_passage, mean_interval, paired_indices, passage_summary, ratio_of_means

__all__ = ["summarise_cell", "verdict_paragraph", "REFERENCES"]

#: the references AQP is compared with
REFERENCES = ("plugin", "jackknife", "minimax")


def _horizon_keys(cfg: ProtocolConfig) -> list:
    return [int(h) for h in cfg.horizons] + ["best"]


def _rows(cell: Cell, cfg: ProtocolConfig) -> list[dict]:
    out = []
    for key in _horizon_keys(cfg):
        for lab, entry in cell.entries.items():
            ch = cell.tuning["choices"][lab][key]
            m = cell.measured["errors"][(lab, key)]
            mean, lo, hi = mean_interval(m["errors"], cfg.level)
            out.append({"game": cell.game, "advantage": cell.advantage, "K": cell.K, "horizon": key,
                        "table": lab, "method": entry.method, "params": dict(entry.params),
                        "corrected": entry.corrected, "schedule": ch["schedule"].to_json(),
                        "schedule_label": ch["schedule"].label, "at_grid_edge": ch["at_grid_edge"],
                        "tune_error": ch["tune_error"], "t": ch["t"], "error_mean": mean, "error_lo": lo,
                        "error_hi": hi, "seeds": int(m["errors"].size), "diverged": m["diverged"]})
    return out


def _winner(cell: Cell, key, errs: dict, idx, level: float) -> dict:
    order = sorted(errs, key=lambda lab: float(errs[lab].mean()))
    win = order[0]
    out = {"game": cell.game, "advantage": cell.advantage, "K": cell.K, "horizon": key, "winner": win,
           "winner_error": float(errs[win].mean()), "n_tables": len(order)}
    if len(order) < 2:
        return dict(out, runner_up=None, margin=None, margin_lo=None, margin_hi=None, tied_with=[], outcome="alone")
    ratios = {lab: ratio_of_means(errs[lab], errs[win], idx, level) for lab in order[1:]}
    ru = ratios[order[1]]
    tied = [lab for lab in order[1:] if not ratios[lab]["lo"] > 1]
    return dict(out, runner_up=order[1], runner_up_error=float(errs[order[1]].mean()), margin=ru["ratio"],
                margin_lo=ru["lo"], margin_hi=ru["hi"], tied_with=tied,
                outcome="tied" if tied else "wins")


def _pick_aqp(cell: Cell, key, corrected: bool):
    """The AQP table (any shipped eps) with the least *tuning* error at this horizon."""
    cands = [lab for lab, e in cell.entries.items() if e.method == "aqp" and e.corrected == corrected]
    if not cands:
        return None
    return min(cands, key=lambda lab: cell.tuning["choices"][lab][key]["tune_error"])


def _comparison(a: np.ndarray, b: np.ndarray, idx, level: float) -> dict:
    r = ratio_of_means(a, b, idx, level)
    if not (math.isfinite(r["lo"]) and math.isfinite(r["hi"])):
        outcome = "undetermined"
    elif r["hi"] < 1:
        outcome = "faster"
    elif r["lo"] > 1:
        outcome = "slower"
    else:
        outcome = "no significant difference"
    return {"ratio": r["ratio"], "lo": r["lo"], "hi": r["hi"], "outcome": outcome}


def _aqp_rows(cell: Cell, key, errs: dict, idx, level: float) -> list[dict]:
    out = []
    for corrected in ([False, True] if cell.advantage == "rloo" else [False]):
        aqp = _pick_aqp(cell, key, corrected)
        if aqp is None:
            continue
        for ref in REFERENCES:
            lab = next((lb for lb, e in cell.entries.items() if e.method == ref and not e.params
                        and e.corrected == corrected), None)
            if lab is None:
                continue
            c = _comparison(errs[aqp], errs[lab], idx, level)
            out.append({"game": cell.game, "advantage": cell.advantage, "K": cell.K, "horizon": key,
                        "aqp": aqp, "reference": lab, "corrected": corrected, **c})
    return out


def _correction_rows(cell: Cell, key, errs: dict, idx, level: float) -> list[dict]:
    out = []
    for lab, e in cell.entries.items():
        if not e.corrected:
            continue
        plain = next((lb for lb, f in cell.entries.items() if not f.corrected and f.method == e.method
                      and f.params == e.params), None)
        if plain is not None:
            out.append({"game": cell.game, "advantage": cell.advantage, "K": cell.K, "horizon": key,
                        "corrected": lab, "plain": plain, **_comparison(errs[lab], errs[plain], idx, level)})
    return out


def _passage_rows(cell: Cell, cfg: ProtocolConfig) -> list[dict]:
    curves = cell.measured["curves"]
    out = []
    for tgt in cfg.targets:
        taus = {lab: first_passage(c["errors"], c["steps"], tgt) for lab, c in curves.items()}
        for lab, tau in taus.items():
            out.append({"game": cell.game, "advantage": cell.advantage, "K": cell.K, "target": tgt, "table": lab,
                        **passage_summary(tau, cfg.level)})
        aqp = _pick_aqp(cell, cfg.T_max, False)
        for ref in REFERENCES:
            if aqp in taus and ref in taus:
                c = compare_passage(taus[aqp], taus[ref], cfg.level)
                out.append({"game": cell.game, "advantage": cell.advantage, "K": cell.K, "target": tgt,
                            "table": f"{aqp} vs {ref}", "comparison": c})
    return out


def summarise_cell(cell: Cell, cfg: ProtocolConfig) -> dict:
    """Rows, winners, AQP comparisons, corrections and first passages of one (game, advantage, K)."""
    out = {"rows": [], "cells": [], "aqp": [], "corrections": [], "passage": [], "skipped": cell.skipped}
    if not cell.entries:
        return out
    out["rows"] = _rows(cell, cfg)
    rng = np.random.default_rng(cfg.seed + 31 * cell.K + 7)
    idx = paired_indices(cfg.measure_seeds, cfg.n_boot, rng)
    for key in _horizon_keys(cfg):
        errs = {lab: cell.measured["errors"][(lab, key)]["errors"] for lab in cell.entries}
        out["cells"].append(_winner(cell, key, errs, idx, cfg.level))
        out["aqp"] += _aqp_rows(cell, key, errs, idx, cfg.level)
        out["corrections"] += _correction_rows(cell, key, errs, idx, cfg.level)
    out["passage"] = _passage_rows(cell, cfg)
    return out


def _family(label: str) -> str:
    return label.split("(")[0].split(" ")[0] + (" [corrected]" if "corrected" in label else "")


def _ratio_range(rows) -> str:
    r = sorted(x["ratio"] for x in rows)
    return f"{r[0]:.2g}" if len(r) == 1 else f"{r[0]:.2g}–{r[-1]:.2g}"


def _by_K(cells: list) -> str:
    """Per K: the table family that wins most (advantage x T) cells and the median margin over the runner-up."""
    parts = []
    for K in sorted({c["K"] for c in cells}):
        cs = [c for c in cells if c["K"] == K]
        fam, n = Counter(_family(c["winner"]) for c in cs).most_common(1)[0]
        margins = [c["margin"] for c in cs if _family(c["winner"]) == fam and c["margin"] is not None]
        med = f", median margin {np.median(margins):.2f}" if margins else ""
        parts.append(f"K = {K}: {fam} in {n}/{len(cs)}{med}")
    return "; ".join(parts)


def verdict_paragraph(summary: dict) -> str:
    """The verdict in a few sentences, from the numbers (``summary`` merges :func:`summarise_cell` outputs)."""
    cells = [c for c in summary["cells"] if c["horizon"] != "best"]
    if not cells:
        return "No cell was measured."
    wins = Counter(_family(c["winner"]) for c in cells)
    clear = sum(c["outcome"] == "wins" for c in cells)
    parts = [f"Over {len(cells)} cells (game × advantage × K × T) the least error at T goes to "
             + ", ".join(f"{f} ({n})" for f, n in wins.most_common())
             + f"; {clear} of these wins are clear of the runner-up (paired 95% interval above 1), the rest are ties."]
    for game in dict.fromkeys(c["game"] for c in cells):
        parts.append(f"{game} game, the most frequent winner per K (margin = runner-up / winner): "
                     + _by_K([c for c in cells if c["game"] == game]) + ".")
    for ref in REFERENCES:
        rows = [a for a in summary["aqp"] if a["horizon"] != "best" and not a["corrected"] and
                a["reference"] == ref]
        if not rows:
            continue
        k = Counter(a["outcome"] for a in rows)
        fast = [a for a in rows if a["outcome"] == "faster"]
        slow = [a for a in rows if a["outcome"] == "slower"]
        parts.append(f"AQP (ε tuned) against {ref}: lower error in {k['faster']} of {len(rows)} cells"
                     + (f" (error ratio {_ratio_range(fast)}; K = {sorted({a['K'] for a in fast})})" if fast else "")
                     + f", higher in {k['slower']}"
                     + (f" (ratio {_ratio_range(slow)}; K = {sorted({a['K'] for a in slow})})" if slow else "")
                     + f", no significant difference in {k['no significant difference']}.")
    corr = [c for c in summary["corrections"] if c["horizon"] != "best"]
    if corr:
        k = Counter(c["outcome"] for c in corr)
        parts.append(f"Under the rloo baseline the baseline-aware tables have lower error than their plain versions "
                     f"in {k['faster']} of {len(corr)} (table, K, T), higher in {k['slower']}, no significant "
                     f"difference in {k['no significant difference']}.")
    return " ".join(parts)
