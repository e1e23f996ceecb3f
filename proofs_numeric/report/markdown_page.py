"""index.md: the results document as Markdown, with the same content and order as index.html.

Markdown viewers render the inline HTML used here (``<sub>``, ``<sup>``, ``<a id>``, ``<details>``);
long tables are collapsed in ``<details>`` after an excerpt, as on the HTML page.
"""
from __future__ import annotations

from typing import Mapping

from ..vocabulary import words
from .content import (claim_heading_note, header_facts, key_accuracy, key_text, methods_items, record_lines,
                      record_rows, seconds)
from .glossary import GLOSSARY, TermLinker, anchor
from .mathtext import to_markdown, to_unicode
from .tables import excerpt, is_long

__all__ = ["render_markdown"]

_TOP = "[↑ Back to top](#top)"


def _m(text) -> str:
    return to_markdown(words("" if text is None else text))


def _md_table(columns, rows, linker: TermLinker | None = None) -> str:
    link = linker.link if linker is not None else (lambda s: s)
    out = ["| " + " | ".join(_m(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(link(_m(v)) for v in r) + " |" for r in rows]
    return "\n".join(out)


def _table(t: Mapping, n: list, linker: TermLinker) -> list[str]:
    n[1] += 1
    lines = [f"**Table {n[1]}.** {linker.link(_m(t['title']))}", ""]
    ex = excerpt(t)
    if ex is not None:
        idx, what = ex
        lines += [f"Excerpt: {len(idx)} of {len(t['rows'])} rows ({_m(what)}).", "",
                  _md_table(t["columns"], [t["rows"][i] for i in idx], linker), "",
                  f"<details><summary>Show all {len(t['rows'])} rows</summary>", "",
                  _md_table(t["columns"], t["rows"]), "", "</details>", ""]
    elif is_long(t):
        lines += [f"<details><summary>Show the table ({len(t['rows'])} rows)</summary>", "",
                  _md_table(t["columns"], t["rows"], linker), "", "</details>", ""]
    else:
        lines += [_md_table(t["columns"], t["rows"], linker), ""]
    if t.get("csv"):
        full = t.get("detail") or t
        what = "condensed here; all rows" if t.get("detail") else "all rows"
        lines += [f"CSV ({what}, {len(full['rows'])}): [{t['csv']}]({t['csv']}).", ""]
    return lines


def _criteria(c: Mapping, linker: TermLinker) -> list[str]:
    crit = c.get("criteria") or []
    if not crit:
        return [f"**Pass criterion.** None declared by this check: its verdict ({c['status']}) cannot be traced to "
                "stated numbers.", ""]
    met = sum(bool(k["met"]) for k in crit)
    lines = [f"**Pass criterion.** {c['id']} passes when every condition holds ({met} of {len(crit)} hold here: "
             f"**{c['status']}**).", ""]
    lines += [f"- {'✓' if k['met'] else '✗'} **{_m(k['name'])}**: {linker.link(_m(k['requirement']))}. "
              f"Measured: {linker.link(_m(k['measured']))}." for k in crit]
    return lines + [""]


def _claim(doc: Mapping, c: Mapping, n: list, linker: TermLinker) -> list[str]:
    linker.reset()
    note = claim_heading_note(doc, c)
    lines = [f'<a id="{c["id"].lower()}"></a>', "", f"## {c['id']}: {_m(c['title'])} — **{c['status']}**", ""]
    if note:
        lines += [_m(note[:1].upper() + note[1:]) + ".", ""]
    if c.get("statement"):
        lines += [f"**Claim.** {linker.link(_m(c['statement']))}", ""]
    lines += _criteria(c, linker)
    if key_text(c):
        acc = key_accuracy(c)
        lines += [f"**Key result.** {linker.link(_m(key_text(c)))}" + (f" (accuracy: {linker.link(_m(acc))})"
                                                                        if acc else ""), ""]
    lines += [linker.link(_m(c["summary"])), "", f"*Computed in {seconds(c.get('seconds'))} s.*", ""]
    if c["id"] == "C8":
        lines += ["### GPU record", ""] + [linker.link(_m(x)) + "\n" for x in record_lines(doc)]
        if record_rows(doc):
            lines += _table({"title": "C8 on a GPU: the recorded steps", "columns": ["step", "verdict", "figures"],
                             "rows": record_rows(doc)}, n, linker)
    for t in c.get("tables") or []:
        lines += _table(t, n, linker)
    alts = c.get("plot_alt") or {}
    for p in c.get("plots") or []:
        n[0] += 1
        alt = (alts.get(p) or f"{c['id']} plot").replace("[", "(").replace("]", ")").replace("\n", " ")
        cap = (c.get("captions") or {}).get(p) or alt
        lines += [f"![{to_unicode(words(alt))}]({p})", "", f"**Figure {n[0]}.** {linker.link(_m(cap))}", ""]
    if c.get("accuracy"):
        lines += ["### Accuracy", ""] + [f"- *{_m(k)}*: {linker.link(_m(v))}" for k, v in c["accuracy"].items()] + [""]
    if c.get("notes"):
        lines += ["### Notes", ""] + [f"- {linker.link(_m(x))}" for x in c["notes"]] + [""]
    return lines + [_TOP, ""]


def render_markdown(doc: Mapping, docs_href: str | None = None, docs_name: str = "docs/claims.md") -> str:
    """index.md: title, contents, summary table, methods, one section per claim, glossary."""
    claims = doc["claims"]
    linker = TermLinker()
    lines = ['<a id="top"></a>', "", "# alft-verify rate-verification report", ""]
    for fact in header_facts(doc):
        lines += [_m(fact), ""]
    docs = f"[{docs_name}]({docs_href})" if docs_href else f"`{docs_name}` in the alft-verify repository"
    lines += [f"Terms are defined in the [glossary](#glossary); what each claim means and what is proved: {docs}.",
              "", "**Contents:** [Summary](#summary) · [Methods and set-up](#methods) · "
              + " · ".join(f"[{c['id']}](#{c['id'].lower()})" for c in claims) + " · [Glossary](#glossary)", ""]
    lines += ['<a id="summary"></a>', "", "## Summary", "",
              _md_table(["claim", "verdict", "key result"],
                        [[f"[{c['id']}](#{c['id'].lower()}): {c['title']}", f"**{c['status']}**", key_text(c)]
                         for c in claims]), ""]
    lines += ['<a id="methods"></a>', "", "## Methods and set-up", ""]
    lines += [f"- **{_m(k)}.** {linker.link(_m(v))}" for k, v in methods_items(doc)] + ["", _TOP, ""]
    n = [0, 0]
    for c in claims:
        lines += _claim(doc, c, n, linker)
    lines += ['<a id="glossary"></a>', "", "## Glossary", ""]
    lines += [f'- <a id="{anchor(t.key)}"></a>**{_m(t.term)}**: {_m(t.definition)}' for t in GLOSSARY]
    lines += ["", _TOP, "", "Machine-readable figures: [results.json](results.json).", ""]
    return "\n".join(lines)
