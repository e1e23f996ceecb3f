"""The report's glossary: every term a reader meets, defined in the report's own words, and the
links from a term's first use in each section to its definition.

Definitions are written in the report's ASCII notation (converted like all report text). ``patterns``
are regular expressions matched against the *rendered* HTML/Markdown text of a section (so
``E<sup>∗</sup><sub>K</sub>`` matches E*_K as shown); :class:`TermLinker` links the first match of
each term per section, outside tags, links and code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Term", "GLOSSARY", "TermLinker", "anchor"]


@dataclass(frozen=True)
class Term:
    """A glossary entry: its anchor key, the term as shown, its definition, and how to find it in text."""

    key: str
    term: str
    definition: str
    patterns: tuple[str, ...]


def anchor(key: str) -> str:
    """The HTML id of a glossary entry."""
    return f"g-{key}"


_ESTAR = r"E<sup>∗</sup><sub>K</sub>"
GLOSSARY: tuple[Term, ...] = (  # specific terms before the words they contain (weighted bias, bias)
    Term("K", "group size K", "the number of answers sampled for one prompt; every estimator sees only this group.",
         (r"group size K\b", r"group sizes?\b")),
    Term("count", "leave-one-out count C",
         "for sample i of a group, how many of the other K - 1 samples gave the same answer.",
         (r"leave-one-out counts?",)),
    Term("weighted-bias", "weighted bias",
         "sup over p in [0, 1] of p |b_g(p)|: the bias weighted by the answer's probability p, because the "
         "policy gradient weighs each answer by p.", (r"weighted bias",)),
    Term("weighted-variance", "weighted variance",
         "p V_g(p), the variance of the reward weighted like the bias; V(g) = integral over [0, 1] of p V_g(p) dp "
         "is its average (C6).", (r"weighted variance",)),
    Term("estar", "E*_K", "the least weighted bias that any table of size K can reach (the minimax error of "
         "approximating p log p by polynomials of degree <= K vanishing at 0).", (_ESTAR, r"E\*_K")),
    Term("bias", "bias b_g(p)", "the expected reward B_g(p) of a table minus the exact reward phi'(p) at answer "
         "probability p; B_g is a polynomial of degree K - 1 in p.", ()),
    Term("table", "table g", "an estimator written as the reward g(C) it gives for each leave-one-out count "
         "C = 0, ..., K - 1; every estimator studied here is such a table.", ()),
    Term("plugin", "plug-in", "the standard table log((C + 1)/K): the empirical frequency plugged into the KL "
         "reward.", (r"\bplug-in\b",)),
    Term("jackknife", "jackknife", "the plug-in with its leading bias removed by leave-one-out resampling.",
         (r"\bjackknife\b",)),
    Term("ustat", "U-statistic", "for a polynomial reward, the table built from falling factorials: exactly "
         "unbiased, and the only unbiased table (C1).", (r"U-statistics?",)),
    Term("minimax", "minimax table", "the table whose weighted bias is E*_K (C3); its entries grow exponentially "
         "with K (C5).", (r"\bminimax\b",)),
    Term("aqp", "AQP", "augmented quadratic program: the table of least average weighted variance whose "
         "weighted bias stays within the budget (1 + epsilon) E*_K (C6).", (r"\bAQP\b",)),
    Term("eps", "budget ε", "the allowed excess of an AQP table's weighted bias over E*_K: bias <= (1 + epsilon) "
         "E*_K.", (r"ε",)),
    Term("v-zero", "∞ (V = 0)", "a variance-reduction factor with a zero denominator: for a large budget a "
         "constant table (variance exactly 0) is feasible.", (r"∞ \(V = 0\)", r"V = 0\b")),
    Term("refused", "refused", "no float64 table is certified for this (K, epsilon); the cause is stated: "
         "rounding the optimal table's huge entries to float64 breaks the budget at the required optimality, or "
         "the optimality bracket did not close.", (r"\brefus(?:ed|al)\b",)),
    Term("certified", "certified", "proved by the computation itself: every rounding is enclosed (interval "
         "arithmetic in Arb, exact rationals), so a certified bracket [lower, upper] contains the true value; "
         "a maximum over a grid is only a lower bound.", (r"\bcertif(?:ied|icate)s?\b",)),
    Term("arb", "Arb", "ball (interval) arithmetic with rigorous error bounds (python-flint), used for every "
         "certified number.", (r"\bArb\b",)),
    Term("tv", "TV", "total variation distance between answer distributions: half the sum of |p(z) - q(z)| "
         "over answers z.", (r"\bTV\b",)),
    Term("pstar", "p*", "the equilibrium of the alignment game: the answer distribution that maximises reward "
         "plus diversity (for KL, p* is proportional to exp(r/beta)).", (r"\bp\*", r"p<sup>∗</sup>")),
    Term("fixed-point", "fixed point", "where the expected training dynamics of a table stop; it equals p* only "
         "for an unbiased table (C7).", (r"fixed points?",)),
    Term("rloo", "RLOO / decoupled RLOO / GRPO", "baselines subtracted from the reward: the mean of the other "
         "samples' rewards (RLOO), the same with the others recounted without the scored sample (decoupled), or "
         "the group mean divided by the group's standard deviation (GRPO).",
         (r"decoupled RLOO", r"\bRLOO\b", r"\bGRPO\b")),
    Term("omega", "ω²_φ", "the Ditzian-Totik modulus of smoothness of f of order 2 with step weight "
         "phi(x) = sqrt(x(1 - x)); best polynomial approximation errors are bounded by it (C4).",
         (r"ω<sup>[r2]</sup><sub>φ</sub>", r"Ditzian[-–]Totik")),
    Term("slope", "log-log slope", "the exponent b of a fitted law y ~ a K^b: the slope of log y against log K "
         "(least squares; its ± is the standard error).", (r"log[-–]log slopes?",)),
    Term("mc", "Monte Carlo check", "sampled groups compared with the exact moments: a normal confidence "
         "interval per answer, Bonferroni-corrected, with the stated family-wise false-alarm rate.",
         (r"Monte Carlo",)),
)


_SKIP = re.compile(r"<(a|code|h[1-6]|th|figcaption)\b[^>]*>.*?</\1>|<[^>]+>|`[^`]*`|\[[^\]]*\]\([^)]*\)", re.S)


class TermLinker:
    """Links the first use of each glossary term per section (call :meth:`reset` at a new section)."""

    def __init__(self, terms=GLOSSARY, href_prefix: str = "#") -> None:
        self.terms = terms
        self.href_prefix = href_prefix
        # terms without patterns are defined in the glossary but too common to link (table, bias)
        self._regex = [(t, re.compile("|".join(f"(?:{p})" for p in t.patterns))) for t in terms if t.patterns]
        self.used: set[str] = set()

    def reset(self) -> None:
        self.used = set()

    def link(self, markup: str) -> str:
        """``markup`` with the first unlinked occurrence of each term (in text, not in tags, links, code,
        headings or table headers) wrapped in a link to its definition."""
        for term, rx in self._regex:
            if term.key in self.used:
                continue
            pos = self._find(markup, rx)
            if pos is None:
                continue
            a, b = pos
            markup = (markup[:a] + f"<a class='term' href='{self.href_prefix}{anchor(term.key)}'>" + markup[a:b]
                      + "</a>" + markup[b:])
            self.used.add(term.key)
        return markup

    @staticmethod
    def _find(markup: str, rx: re.Pattern):
        blocked = [(m.start(), m.end()) for m in _SKIP.finditer(markup)]
        for m in rx.finditer(markup):
            # a match may span tags it contains (E<sup>∗</sup>...) but not start or end inside a blocked span
            if any(s < m.start() < e or s < m.end() < e for s, e in blocked if not _inner_tag(markup, s, e, m)):
                continue
            return m.start(), m.end()
        return None


def _inner_tag(markup: str, s: int, e: int, m) -> bool:
    """True when the blocked span [s, e) is a plain tag lying wholly inside the match (``<sup>`` of E*_K)."""
    return m.start() <= s and e <= m.end() and markup[s] == "<" and ">" not in markup[s + 1:e - 1]
