"""ASCII maths in report text -> HTML that renders offline (Unicode letters, <sub>/<sup>, <em>).

Claim modules write plain ASCII (``Theta(1/K^2)``, ``omega^r_phi(f, 1/K)``, ``E*_K``,
``sup_p p |bias|``, ``<=``, ``+-``, ``*emphasis*``, ```code```); :func:`to_html` turns it
into markup any browser shows without network access or scripts. Rules (conservative, so
identifiers such as ``stored_table_sup_upper`` or ``E_star_lower`` pass through unchanged):

* Greek names as whole words (``alpha`` -> α, ``omega`` -> ω, ``Theta`` -> Θ, ``eps`` -> ε, ...);
* ``^x``, ``^-x``, ``^(...)``: superscript after a symbol, a digit, ``)`` or ``*``;
* ``_x``: subscript of one character after a short base (at most 3 letters, e.g. ``E*``,
  ``B``, ``sup``, a Greek letter), when no letter or digit follows;
* ``<=`` ``>=`` ``!=`` ``+-`` ``->`` -> ≤ ≥ ≠ ± →; ``*text*`` and ``**text**`` -> emphasis;
  ```text``` -> <code> (no conversion inside).
"""
from __future__ import annotations

import html
import re

__all__ = ["to_html", "to_markdown", "to_unicode", "GREEK"]

GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "epsilon": "ε", "eps": "ε", "lambda": "λ", "omega": "ω", "phi": "φ",
         "psi": "ψ", "sigma": "σ", "theta": "θ", "Theta": "Θ", "Delta": "Δ", "Omega": "Ω"}
_GREEK_RE = re.compile(r"(?<![A-Za-z0-9.])(" + "|".join(GREEK) + r")(?![a-zA-Z])")
_OPS = [("&lt;=", "≤"), ("&gt;=", "≥"), ("<=", "≤"), (">=", "≥"), ("!=", "≠"), ("+-", "±"), ("-&gt;", "→"),
        ("->", "→")]
_EXP = re.compile(r"-?(?:\([^()]*\)|\{[^{}]*\}|\d+(?:\.\d+)?|[^\W\d_]+\d*|\*)")
_SUB = re.compile(r"(?:\{[^{}]*\}|[^\W_])(?![\w])")
_BASE = re.compile(r"(?:(?<!\w)[^\W\d_]{1,3}\*?|</sup>|</sub>|\))$")
_STRONG = re.compile(r"(?<![\w*])\*\*(?=\S)(.+?)(?<=\S)\*\*(?![\w*])")
_EM = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![\w*])")


def _strip_group(tok: str) -> str:
    """The script's content: outer (...) or {...} dropped unless a minus sign stands before them."""
    if tok[:1] in "({" and tok[-1:] in ")}":
        return tok[1:-1]
    return tok


def _scripts(text: str) -> str:
    """Convert ^ and _ scripts left to right (the output of one may be the base of the next)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        prev = "".join(out[-6:]) if out else ""
        if ch == "^" and prev and (prev[-1].isalnum() or prev[-1] in ")*" or prev.endswith(("</sup>", "</sub>"))):
            m = _EXP.match(text, i + 1)
            if m:
                # minus signs typeset as such; a starred exponent as U+2217 so emphasis never sees it
                out.append(f"<sup>{_strip_group(m.group(0)).replace('-', '−').replace('*', '∗')}</sup>")
                i = m.end()
                continue
        if ch == "_" and prev and _BASE.search("".join(out[-12:]) if out else ""):
            m = _SUB.match(text, i + 1)
            if m:
                if out[-1] == "*":  # E*_K: the star is a superscript, as in E^*_K
                    out[-1] = "<sup>∗</sup>"
                out.append(f"<sub>{_strip_group(m.group(0))}</sub>")
                i = m.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _convert(text: str) -> str:
    text = _GREEK_RE.sub(lambda m: GREEK[m.group(1)], text)
    for a, b in _OPS:
        text = text.replace(a, b)
    text = _scripts(text)
    text = _STRONG.sub(r"<strong>\1</strong>", text)
    return _EM.sub(r"<em>\1</em>", text)


def _by_code_spans(text: str, convert, code) -> str:
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: no code spans
        parts = [str(text)]
    return "".join(code(p) if k % 2 else convert(p) for k, p in enumerate(parts))


def to_html(text) -> str:
    """HTML for a line of report text: escaped, maths and emphasis converted, `code` kept verbatim."""
    return _by_code_spans(text, lambda p: _convert(html.escape(p, quote=False)),
                          lambda p: f"<code>{html.escape(p, quote=False)}</code>")


def _letters_and_operators(text: str) -> str:
    """Greek names and ASCII operators of unescaped text."""
    text = _GREEK_RE.sub(lambda m: GREEK[m.group(1)], text)
    for a, b in _OPS[2:]:
        text = text.replace(a, b)
    return text


def to_markdown(text) -> str:
    """Markdown for a line of report text: the same conversions (inline HTML tags, which Markdown
    viewers render), emphasis and `code` left to Markdown; ``|`` escaped for table cells."""
    return _by_code_spans(text, lambda p: _scripts(_letters_and_operators(p)).replace("|", "\\|"),
                          lambda p: f"`{p}`")


_SUP_CHARS = str.maketrans("0123456789+-−=()nirKkαβ∗", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱʳᴷᵏᵅᵝ*")
_SUB_CHARS = str.maketrans("0123456789+-=()aehijklmnoprstuvxφ", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵩ")


def _unicode_script(mark: str, table: dict):
    def repl(m) -> str:
        body = m.group(1)
        if all(ord(c) in table for c in body):
            return body.translate(table)
        return mark + (body if len(body) == 1 else f"({body})")
    return repl


def to_unicode(text) -> str:
    """Plain text for places without markup (image alt text): Greek letters, operators, and scripts as
    Unicode super-/subscripts where every character has one (``K^2`` -> ``K²``), else ``^x`` / ``_x``."""
    out = _by_code_spans(text, lambda p: _scripts(_letters_and_operators(p)), lambda p: p)
    out = re.sub(r"<sup>(.*?)</sup>", _unicode_script("^", _SUP_CHARS), out)
    return re.sub(r"<sub>(.*?)</sub>", _unicode_script("_", _SUB_CHARS), out)
