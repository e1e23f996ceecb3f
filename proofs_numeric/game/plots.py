"""Figures of the C7 section and of ``alft game``: error against steps, fixed-point errors against K,
and the agreement of the stochastic runs with the exact fixed points."""
from __future__ import annotations

import numpy as np

from ..plotting import log_K_axis, plt, save_figure

__all__ = ["plot_convergence", "plot_fixed_point_errors", "plot_agreement", "plot_protocol"]


def _colors(labels):
    cmap = plt.get_cmap("tab10")
    return {lab: cmap(i % 10) for i, lab in enumerate(labels)}


def plot_convergence(result: dict, path, title: str):
    """One panel per K: seed-mean TV(p_t, p*) with its 95% band, the exact fixed-point error (dashed)
    and the expected dynamics (dotted)."""
    rows = result["per_method_K"]
    curves = result["_curves"]
    Ks = sorted({r["K"] for r in rows})
    labels = list(dict.fromkeys(r["method"] for r in rows))
    col = _colors(labels)
    ncol = 2 if len(Ks) > 1 else 1
    nrow = int(np.ceil(len(Ks) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.2 * ncol, 3.6 * nrow), squeeze=False, sharey=True)
    fig.subplots_adjust(hspace=0.45, wspace=0.12, top=0.86)
    for ax, K in zip(axes.ravel(), Ks):
        for r in (r for r in rows if r["K"] == K):
            c = curves[(r["method"], K)]
            colr = col[r["method"]]
            ax.plot(c["steps"], c["mean"], color=colr, lw=1.2, label=r["method"])
            ax.fill_between(c["steps"], np.maximum(c["lo"], 1e-6), c["hi"], color=colr, alpha=0.2, lw=0)
            if c["det"] is not None:
                ax.plot(c["steps"], np.maximum(c["det"], 1e-6), color=colr, lw=0.8, ls=":")
            if r.get("exact_fixed_point_tv") is not None:
                ax.axhline(max(r["exact_fixed_point_tv"], 1e-6), color=colr, lw=0.8, ls="--")
        for tgt in result["config"]["targets"]:
            ax.axhline(tgt, color="0.6", lw=0.5)
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 1.0)
        ax.set_title(f"K = {K}")
        ax.set_xlabel("step")
        ax.set_ylabel("TV(p_t, p*)")
        ax.legend(fontsize=7, loc="lower left")
    for ax in axes.ravel()[len(Ks):]:
        ax.set_visible(False)
    fig.suptitle(title + "\nsolid: seed mean with 95% band; dotted: expected dynamics; dashed: exact fixed point",
                 fontsize=9)
    return save_figure(fig, path)


def plot_fixed_point_errors(exact_rows: list, path, title: str):
    """TV(fixed point, p*) against K per method and advantage (exact, no sampling)."""
    labels = list(dict.fromkeys(r["method"] for r in exact_rows))
    col = _colors(labels)
    styles = {"decoupled": ("-", "o"), "rloo": ("--", "s"), "grpo": (":", "^")}
    fig, ax = plt.subplots(figsize=(6.6, 4.3))
    Ks_all = sorted({r["K"] for r in exact_rows})
    for lab in labels:
        for adv, (ls, mk) in styles.items():
            sel = [r for r in exact_rows if r["method"] == lab and r["advantage"] == adv]
            if not sel:
                continue
            K = [r["K"] for r in sel]
            tv = [max(r["tv"], 1e-12) for r in sel]
            ax.plot(K, tv, ls=ls, marker=mk, ms=3.5, color=col[lab], label=f"{lab} ({adv})")
    ax.set_yscale("log")
    log_K_axis(ax, Ks_all)
    ax.set_xlabel("K")
    ax.set_ylabel("TV(fixed point, p*)")
    ax.set_title(title)
    ax.legend(fontsize=6.5, ncol=2)
    return save_figure(fig, path)


def plot_agreement(checks: list, path):
    """(mean p - exact p)/half-width per answer and case: inside [-1, 1] means the simultaneous interval
    contains the exact fixed point; open markers: the other advantage's fixed point (should be outside)."""
    fig, ax = plt.subplots(figsize=(7.0, 0.55 * len(checks) + 1.6))
    for i, c in enumerate(checks):
        mean, fp, hw = (np.array(c[k]) for k in ("mean_p", "exact_fixed_point", "half_width"))
        z = (mean - fp) / hw
        ax.plot(z, np.full(z.size, i), "o", color="C0", ms=4, label="exact fixed point" if i == 0 else None)
        alt = c.get("alternative")
        if alt:
            za = np.clip((mean - np.array(alt["fixed_point"])) / hw, -12, 12)
            ax.plot(za, np.full(za.size, i), "o", mfc="none", color="C3", ms=5,
                    label="other advantage's fixed point (clipped at 12)" if not ax.get_legend_handles_labels()[1][1:]
                    else None)
    ax.axvspan(-1, 1, color="0.9", zorder=0)
    ax.set_yticks(range(len(checks)))
    ax.set_yticklabels([c["case"] for c in checks], fontsize=7)
    ax.set_xlabel("(seed-mean p - fixed point p) / simultaneous half-width, per answer")
    ax.set_title("C7: stochastic runs against exact fixed points (inside the grey band = agreement)")
    ax.legend(fontsize=7, loc="upper right")
    return save_figure(fig, path)


def _protocol_series(summary: dict, game: str, adv: str, T) -> dict:
    """label -> [(K, mean, lo, hi)] at horizon T: the classical tables and AQP with eps chosen on tuning seeds."""
    rows = [r for r in summary["rows"] if r["game"] == game and r["advantage"] == adv and r["horizon"] == T]
    chosen = {(a["K"], a["corrected"]): a["aqp"] for a in summary["aqp"]
              if a["game"] == game and a["advantage"] == adv and a["horizon"] == T}
    out: dict = {}
    for r in rows:
        if r["method"] == "aqp":
            if chosen.get((r["K"], r["corrected"])) != r["table"]:
                continue
            lab = "AQP (ε tuned)" + (" [corrected]" if r["corrected"] else "")
        else:
            lab = r["method"] + (" [corrected]" if r["corrected"] else "")
        out.setdefault(lab, []).append((r["K"], r["error_mean"], r["error_lo"], r["error_hi"]))
    return out


def plot_protocol(summary: dict, path):
    """One panel per (game, advantage): measured TV(p_T, p*) at the longest horizon against K, each table with its
    own tuned schedule (95% intervals over the measurement seeds); dashed: the rloo-corrected tables."""
    blocks = list(dict.fromkeys((r["game"], r["advantage"]) for r in summary["rows"]))
    if not blocks:
        return None
    ncol = min(3, len(blocks))
    nrow = int(np.ceil(len(blocks) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.0 * ncol, 3.6 * nrow), squeeze=False)
    fig.subplots_adjust(hspace=0.5, wspace=0.25, top=0.86)
    fams = ["plugin", "jackknife", "minimax", "ustat", "AQP (ε tuned)"]
    col = {f: plt.get_cmap("tab10")(i) for i, f in enumerate(fams)}
    for ax, (game, adv) in zip(axes.ravel(), blocks):
        Ts = [r["horizon"] for r in summary["rows"] if r["game"] == game and r["advantage"] == adv
              and r["horizon"] != "best"]
        T = max(Ts)
        for lab, pts in _protocol_series(summary, game, adv, T).items():
            pts.sort()
            K, m, lo, hi = (np.array(v, dtype=float) for v in zip(*pts))
            base = lab.replace(" [corrected]", "")
            ax.errorbar(K, m, yerr=[m - lo, hi - m], color=col.get(base, "0.3"), marker="o", ms=3, lw=1,
                        ls="--" if "corrected" in lab else "-", capsize=2, label=lab)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        Ks = sorted({r["K"] for r in summary["rows"] if r["game"] == game and r["advantage"] == adv})
        log_K_axis(ax, Ks)
        ax.set_title(f"{game} game, {adv}, T = {T}", fontsize=9)
        ax.set_xlabel("K")
        ax.set_ylabel("TV(p_T, p*), tuned step size")
        ax.legend(fontsize=6, loc="best")
    for ax in axes.ravel()[len(blocks):]:
        ax.set_visible(False)
    fig.suptitle("C7: error at the horizon with each table's own tuned step size (fresh seeds, 95% intervals)",
                 fontsize=9)
    return save_figure(fig, path)
