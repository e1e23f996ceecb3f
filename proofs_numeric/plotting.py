"""Matplotlib helpers for the report: Agg backend, atomic saves with alt text, readable K axes.

:func:`save_figure` stores a description of the plot (title, axes, curves) in the PNG's
``Description`` field; the report builder reads it back as the image's alt text and caption.
Labels may use matplotlib mathtext (``$E^*_K$``); :func:`plain_text` turns it into readable text.

House style (issue: plots must read without colour and without guessing): every curve of a plot gets
a distinct colour *and* marker *and* line style (:func:`style`), legends sit outside the data
(:func:`legend_outside`), reference lines carry their label on the line (:func:`reference_line`),
fitted curves are drawn above the data (``zorder=FIT_ZORDER``), one quantity per axis.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator  # noqa: E402

from estimators._io import file_mode  # noqa: E402

__all__ = ["plt", "save_figure", "describe_figure", "plain_text", "log_K_axis", "style", "legend_outside",
           "reference_line", "FIT_ZORDER"]

#: fitted curves and their labels are drawn above the data points they fit
FIT_ZORDER = 6
# colour-blind-safe palette (Okabe-Ito), then markers and line styles that differ in every position
_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]
_LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1))]


def style(i: int, *, line: bool = True) -> dict:
    """Plot keywords for the ``i``-th curve: colour, marker and (with ``line``) line style all change with
    ``i``, so curves stay distinct in grey scale and where colours repeat (more than 8 curves)."""
    kw = {"color": _COLORS[i % len(_COLORS)], "marker": _MARKERS[i % len(_MARKERS)]}
    if line:
        kw["linestyle"] = _LINESTYLES[i % len(_LINESTYLES)]
    else:
        kw["linestyle"] = "none"
    return kw


def legend_outside(target, *, where: str = "right", ncol: int = 1, fontsize: float = 7.5, handles=None,
                   labels=None):
    """A legend outside the data: right of the axes (``where="right"``) or below them (``"below"``).
    ``target`` is an Axes, or a Figure with ``handles``/``labels`` (one legend for several panels)."""
    kw = {"fontsize": fontsize, "frameon": False, "ncol": ncol}
    if handles is not None:
        kw.update(handles=handles, labels=labels)
    if where == "right":
        return target.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kw)
    if where == "below":
        return target.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), **kw)
    raise ValueError(f"where must be 'right' or 'below', got {where!r}")


def reference_line(ax, y: float, text: str, *, color: str = "0.35", ls="--", x: float = 0.99, va: str = "bottom"):
    """A horizontal reference line labelled on the plot itself (right end, just above the line), so it
    needs no legend entry; the label is also kept for the alt text."""
    ax.axhline(y, color=color, ls=ls, lw=1, zorder=1)
    t = ax.text(x, y, text, transform=ax.get_yaxis_transform(), ha="right", va=va, fontsize=7, color=color,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1}, zorder=FIT_ZORDER + 1)
    t.set_gid("reference-line")
    return t

_TEX = {r"\pm": "±", r"\omega": "ω", r"\varphi": "φ", r"\phi": "φ", r"\alpha": "α", r"\Theta": "Θ", r"\leq": "≤",
        r"\geq": "≥", r"\cdot": "·", r"\times": "×", r"\log": "log", r"\sup": "sup", r"\,": " ", r"\ ": " ",
        r"\infty": "∞", r"\mathrm": "", r"\mathit": "", r"\;": " ", r"\!": ""}


def plain_text(label: str) -> str:
    """Mathtext label -> plain text with the report's ASCII script notation (``$E^*_K$`` -> ``E^*_K``)."""
    s = str(label)
    for tex, txt in sorted(_TEX.items(), key=lambda kv: -len(kv[0])):
        s = s.replace(tex, txt)
    s = s.replace("$", "")
    s = re.sub(r"\^\{([^{}]*)\}", lambda m: "^" + (m.group(1) if len(m.group(1)) == 1 else f"({m.group(1)})"), s)
    s = re.sub(r"_\{([^{}]*)\}", lambda m: "_" + (m.group(1) if len(m.group(1)) == 1 else "{" + m.group(1) + "}"), s)
    return s.replace("{", "").replace("}", "").replace("\\", "")


def _scale(ax, which: str) -> str:
    name = ax.get_xscale() if which == "x" else ax.get_yscale()
    return {"log": "log scale", "logit": "logit scale", "symlog": "symmetric log scale"}.get(name, "linear")


def describe_figure(fig) -> str:
    """Alt text: per panel, the title, what is plotted against what (and the axis scales), the curves."""
    parts = []
    shared_x = next((a.get_xlabel() for a in fig.axes if a.get_xlabel()), "")  # panels sharing one x label
    for ax in fig.axes:
        if not ax.get_visible() or not (ax.lines or ax.collections):
            continue
        title = plain_text(ax.get_title())
        xlabel = plain_text(ax.get_xlabel() or shared_x) or "x"
        text = (f"{title}: " if title else "") + (f"{plain_text(ax.get_ylabel()) or 'value'} ({_scale(ax, 'y')}) "
                                                  f"against {xlabel} ({_scale(ax, 'x')})")
        leg = ax.get_legend()
        if leg is not None:
            text += "; " + "; ".join(plain_text(t.get_text()) for t in leg.get_texts())
        refs = [plain_text(t.get_text()) for t in ax.texts if t.get_gid() == "reference-line"]
        if refs:
            text += "; reference line" + ("s" if len(refs) > 1 else "") + ": " + "; ".join(refs)
        parts.append(text + ".")
    for leg in getattr(fig, "legends", []):  # one legend for several panels
        parts.append("Legend: " + "; ".join(plain_text(t.get_text()) for t in leg.get_texts()) + ".")
    return " ".join(parts)


def log_K_axis(ax, K_values, axis: str = "x") -> None:
    """A logarithmic axis for group sizes K: major ticks at the powers of 2 in range, plain integer
    labels, no minor labels (they overlap)."""
    lo, hi = min(K_values), max(K_values)
    ticks = [2 ** j for j in range(0, 16) if lo <= 2 ** j <= hi] or [lo, hi]
    a = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    a.set_major_locator(FixedLocator(ticks))
    a.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    a.set_minor_locator(NullLocator())
    a.set_minor_formatter(NullFormatter())


def save_figure(fig, path: Path | str | None, alt: str | None = None) -> str | None:
    """Save ``fig`` as PNG to ``path`` via a temporary file and rename; return the file name.

    ``alt``: the image's description (default: :func:`describe_figure`), stored in the PNG.
    """
    if path is None:
        plt.close(fig)
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp.png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight",
                    metadata={"Description": alt or describe_figure(fig), "Software": "alft-verify (matplotlib)"})
        os.chmod(tmp, file_mode())  # mkstemp creates 0600; a plot is readable like any file the user writes
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path.name
