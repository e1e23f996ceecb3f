"""Figures of the C7 section and of ``alft game``: error against steps, fixed-point errors against K,
and the agreement of the stochastic runs with the exact fixed points.

House style (:mod:`proofs_numeric.plotting`): each method keeps one colour, marker and line style in
every panel, legends sit outside the data, reference lines are labelled on the plot.
"""
from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from ..plotting import legend_outside, log_K_axis, plt, reference_line, save_figure, style
from ..vocabulary import advantage_label, method_label

__all__ = ["plot_convergence", "plot_fixed_point_errors", "plot_agreement", "plot_protocol"]

_TV = r"TV$(p_t, p^*)$"


def _styles(labels) -> dict:
    return {lab: style(i) for i, lab in enumerate(labels)}


def plot_convergence(result: dict, path, title: str):
    """One panel per K: seed-mean TV(p_t, p*) with its 95% band (solid, with markers), the expected dynamics
    (dotted) and the exact fixed-point error (dashed), one colour and marker per method; TV targets labelled."""
    rows = result["per_method_K"]
    curves = result["_curves"]
    Ks = sorted({r["K"] for r in rows})
    labels = list(dict.fromkeys(r["method"] for r in rows))
    sty = _styles(labels)
    ncol = 2 if len(Ks) > 1 else 1
    nrow = int(np.ceil(len(Ks) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.2 * ncol, 3.6 * nrow), squeeze=False, sharey=True)
    fig.subplots_adjust(hspace=0.45, wspace=0.12, top=0.88)
    for ax, K in zip(axes.ravel(), Ks):
        for r in (r for r in rows if r["K"] == K):
            c = curves[(r["method"], K)]
            st = sty[r["method"]]
            n = len(c["steps"])
            ax.plot(c["steps"], c["mean"], color=st["color"], marker=st["marker"], ms=3.5,
                    markevery=max(1, n // 8), lw=1.2, label=method_label(r["method"]))
            ax.fill_between(c["steps"], np.maximum(c["lo"], 1e-6), c["hi"], color=st["color"], alpha=0.15, lw=0)
            if c["det"] is not None:
                ax.plot(c["steps"], np.maximum(c["det"], 1e-6), color=st["color"], lw=0.9, ls=":")
            if r.get("exact_fixed_point_tv") is not None:
                ax.axhline(max(r["exact_fixed_point_tv"], 1e-6), color=st["color"], lw=0.9, ls="--")
        for tgt in result["config"]["targets"]:
            reference_line(ax, tgt, f"target {tgt:g}", color="0.45", ls=(0, (1, 3)), x=0.02)
            ax.texts[-1].set_ha("left")
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 1.0)
        ax.set_title(f"K = {K}")
        ax.set_xlabel("step")
        ax.set_ylabel(_TV)
    for ax in axes.ravel()[len(Ks):]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=sty[m]["color"], marker=sty[m]["marker"], lw=1.2) for m in labels]
    handles += [Line2D([], [], color="0.3", lw=1.2), Line2D([], [], color="0.3", lw=0.9, ls=":"),
                Line2D([], [], color="0.3", lw=0.9, ls="--")]
    names = [method_label(m) for m in labels] + ["seed mean (band: 95%)", "expected dynamics", "exact fixed point"]
    legend_outside(fig, where="below", ncol=min(len(names), 5), handles=handles, labels=names)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def plot_fixed_point_errors(exact_rows: list, path, title: str):
    """TV(fixed point, p*) against K, one panel per advantage, one style per method (exact, no sampling)."""
    labels = list(dict.fromkeys(r["method"] for r in exact_rows))
    sty = _styles(labels)
    advs = [a for a in ("decoupled", "rloo", "grpo") if any(r["advantage"] == a for r in exact_rows)]
    fig, axes = plt.subplots(1, len(advs), figsize=(4.2 * len(advs), 3.8), squeeze=False, sharey=True)
    Ks_all = sorted({r["K"] for r in exact_rows})
    for ax, adv in zip(axes[0], advs):
        for lab in labels:
            sel = [r for r in exact_rows if r["method"] == lab and r["advantage"] == adv]
            if not sel:
                continue
            ax.plot([r["K"] for r in sel], [max(r["tv"], 1e-12) for r in sel], ms=4, mfc="none", mew=1.1,
                    **sty[lab])
        ax.set_yscale("log")
        log_K_axis(ax, Ks_all)
        ax.set_xlabel("group size K")
        ax.set_title(f"baseline: {advantage_label(adv)}", fontsize=10)
    axes[0][0].set_ylabel("TV(fixed point, p*)")
    handles = [Line2D([], [], mfc="none", ms=5, **sty[m]) for m in labels]
    legend_outside(fig, where="below", ncol=min(len(labels), 6), handles=handles,
                   labels=[method_label(m) for m in labels])
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.02, 1, 0.95))
    return save_figure(fig, path)


def plot_agreement(checks: list, path):
    """(mean p - exact p)/half-width per answer and case: inside [-1, 1] means the simultaneous interval
    contains the exact fixed point; open markers: the other advantage's fixed point (should be outside)."""
    fig, ax = plt.subplots(figsize=(7.0, 0.55 * len(checks) + 1.6))
    for i, c in enumerate(checks):
        mean, fp, hw = (np.array(c[k]) for k in ("mean_p", "exact_fixed_point", "half_width"))
        z = (mean - fp) / hw
        ax.plot(z, np.full(z.size, i), "o", color=style(0)["color"], ms=4,
                label="exact fixed point of the run's baseline" if i == 0 else None)
        alt = c.get("alternative")
        if alt:
            za = np.clip((mean - np.array(alt["fixed_point"])) / hw, -12, 12)
            first = not any(t.startswith("other") for t in ax.get_legend_handles_labels()[1])
            ax.plot(za, np.full(za.size, i), "D", mfc="none", color=style(1)["color"], ms=5,
                    label="other baseline's fixed point (clipped at ±12)" if first else None)
    ax.axvspan(-1, 1, color="0.9", zorder=0, label="agreement: inside ±1 half-width")
    ax.set_yticks(range(len(checks)))
    ax.set_yticklabels([method_label_case(c["case"]) for c in checks], fontsize=7)
    ax.set_xlabel("(seed-mean p − fixed-point p) / simultaneous half-width, per answer")
    ax.set_title("C7: stochastic runs against exact fixed points")
    legend_outside(ax, where="below")
    return save_figure(fig, path)


def method_label_case(case: str) -> str:
    """An agreement case label ``game/method/K=../advantage`` in words."""
    parts = str(case).split("/")
    out = []
    for part in parts:
        if part in ("decoupled", "rloo", "grpo"):
            out.append(advantage_label(part))
        else:
            out.append(method_label(part))
    return " / ".join(out)


#: the table families of the protocol figure, each with one style in every panel
_FAMILIES = ["plugin", "jackknife", "minimax", "ustat", "aqp"]


def _protocol_series(summary: dict, game: str, adv: str, T) -> dict:
    """(family, corrected) -> [(K, mean, lo, hi)] at horizon T: the classical tables, and AQP with its eps chosen
    on the tuning seeds."""
    rows = [r for r in summary["rows"] if r["game"] == game and r["advantage"] == adv and r["horizon"] == T]
    chosen = {(a["K"], a["corrected"]): a["aqp"] for a in summary["aqp"]
              if a["game"] == game and a["advantage"] == adv and a["horizon"] == T}
    out: dict = {}
    for r in rows:
        if r["method"] == "aqp" and chosen.get((r["K"], r["corrected"])) != r["table"]:
            continue
        out.setdefault((r["method"], r["corrected"]), []).append((r["K"], r["error_mean"], r["error_lo"],
                                                                 r["error_hi"]))
    return out


def _protocol_label(family: str, corrected: bool) -> str:
    base = "AQP (ε tuned)" if family == "aqp" else method_label(family)
    return base + (", corrected for RLOO" if corrected else "")


def plot_protocol(summary: dict, path):
    """One panel per (game, baseline): measured TV(p_T, p*) at the longest horizon against K, each table with its
    own tuned step size (95% intervals over the measurement seeds); hollow markers: the tables corrected for the
    RLOO baseline. One legend for all panels."""
    blocks = list(dict.fromkeys((r["game"], r["advantage"]) for r in summary["rows"]))
    if not blocks:
        return None
    ncol = min(3, len(blocks))
    nrow = int(np.ceil(len(blocks) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol + 2.2, 3.4 * nrow), squeeze=False)
    fig.subplots_adjust(hspace=0.55, wspace=0.3, top=0.9, right=0.8)
    handles = {}
    for ax, (game, adv) in zip(axes.ravel(), blocks):
        T = max(r["horizon"] for r in summary["rows"] if r["game"] == game and r["advantage"] == adv
                and r["horizon"] != "best")
        for (fam, corr), pts in sorted(_protocol_series(summary, game, adv, T).items()):
            pts.sort()
            K, m, lo, hi = (np.array(v, dtype=float) for v in zip(*pts))
            st = style(_FAMILIES.index(fam) if fam in _FAMILIES else len(_FAMILIES))
            h = ax.errorbar(K, m, yerr=[m - lo, hi - m], color=st["color"], marker=st["marker"], ms=4, lw=1.1,
                            ls=":" if corr else st["linestyle"], mfc="white" if corr else st["color"], capsize=2)
            handles.setdefault(_protocol_label(fam, corr), h)
        ax.set_yscale("log")
        log_K_axis(ax, sorted({r["K"] for r in summary["rows"] if r["game"] == game and r["advantage"] == adv}))
        ax.set_title(f"{game} game, {advantage_label(adv)}, T = {T}", fontsize=9)
        ax.set_xlabel("K")
        ax.set_ylabel(r"TV$(p_T, p^*)$, tuned step size")
    for ax in axes.ravel()[len(blocks):]:
        ax.set_visible(False)
    legend_outside(fig, handles=list(handles.values()), labels=list(handles), where="right")
    fig.suptitle("C7: error at the horizon, every table with its own tuned step size (fresh seeds, 95% intervals)",
                 fontsize=9)
    return save_figure(fig, path)
