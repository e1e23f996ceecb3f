"""Words for code names: how methods and baselines are called in the report's prose, tables and plots.

results.json keeps the code names (``plugin``, ``aqp(eps=10)``, ``rloo``): they are what a
program matches on. A reader sees words: plug-in, AQP(ε = 10), decoupled RLOO. One table here, used
by the renderer (:func:`words` on every line of text) and by the plots (:func:`method_label`,
:func:`advantage_label`).
"""
from __future__ import annotations

import re

__all__ = ["METHOD_WORDS", "ADVANTAGE_WORDS", "method_label", "advantage_label", "words"]

METHOD_WORDS = {"plugin": "plug-in", "jackknife": "jackknife", "ustat": "U-statistic", "minimax": "minimax",
                "aqp": "AQP"}
#: baseline names; ``decoupled`` is already a word in prose, so only labels (plots, case names) expand it
ADVANTAGE_WORDS = {"decoupled": "decoupled RLOO", "rloo": "RLOO", "grpo": "GRPO", "group_mean": "group mean"}

_PARAMS = re.compile(r"\(([^()]*)\)")
_ASSIGN = re.compile(r"\b(eps|alpha)\s*=\s*")
_WORD = re.compile(r"(?<![\w.-])(group_mean|rloo|grpo|plugin|ustat|aqp)(?![\w-])")


def _params(text: str) -> str:
    return _ASSIGN.sub(lambda m: {"eps": "ε", "alpha": "α"}[m.group(1)] + " = ", text)


def method_label(name: str) -> str:
    """``aqp(eps=10)`` -> ``AQP(ε = 10)``, ``plugin`` -> ``plug-in``; unknown names are returned as given."""
    base, _, rest = str(name).partition("(")
    word = METHOD_WORDS.get(base.strip(), base.strip())
    return word + (_params("(" + rest) if rest else "")


def advantage_label(name: str) -> str:
    """``decoupled`` -> ``decoupled RLOO``, ``rloo`` -> ``RLOO``; unknown names are returned as given."""
    return ADVANTAGE_WORDS.get(str(name), str(name))


def words(text) -> str:
    """Free text with the method and baseline code names replaced by their words (whole words only, so
    file names such as ``c2_plugin_bias_vs_K.png`` and ```code``` spans are left alone)."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:
        parts = [str(text)]
    out = []
    for k, part in enumerate(parts):
        if k % 2:
            out.append("`" + part + "`")
            continue
        part = _WORD.sub(lambda m: ADVANTAGE_WORDS.get(m.group(1)) or METHOD_WORDS[m.group(1)], part)
        out.append(_PARAMS.sub(lambda m: "(" + _params(m.group(1)) + ")", part) if "=" in part else part)
    return "".join(out)
