"""Render a results document (results.json) as Markdown and as a self-contained HTML page.

Both renderings are pure functions of the document, so a report can be re-rendered from its
results.json. The HTML needs no network and no script: maths is converted to Unicode and
<sub>/<sup> (:mod:`.mathtext`), wide tables scroll inside their own box, long ones too (full
rows in a CSV beside the report, :mod:`.tables`), plots carry descriptive alt text.
"""
from __future__ import annotations

import html
import re
from typing import Mapping

from .mathtext import to_html, to_markdown, to_unicode
from .tables import is_long

__all__ = ["render_markdown", "render_html", "DOCS_CLAIMS"]

#: where the repository explains each claim (anchors #c1 ... #c8)
DOCS_CLAIMS = "docs/claims.md"

_BADGE = {"PASS": "#1a7f37", "FAIL": "#cf222e", "SKIP": "#9a6700"}
_NUMBER = re.compile(r"^[\s\[\]()+\-−]*\d[\d.,eE+\-−\s\[\]()]*$")


def _seconds(x) -> str:
    return f"{float(x):.1f}" if isinstance(x, (int, float)) else "—"


def _key_text(claim: Mapping) -> str:
    kf = claim.get("key_figure") or {}
    if not kf.get("text"):
        return ""
    return f"{kf['label']}: {kf['text']}" if kf.get("label") else kf["text"]


def _header_facts(doc: Mapping) -> list[str]:
    s = doc["summary"]
    return [f"Generated {doc['generated_utc']} with profile `{doc['profile']}`, seed {doc['seed']}, "
            f"alft-verify {doc['package_version']} (commit `{doc.get('git_commit') or 'unknown'}`), "
            f"in {_seconds(doc.get('wall_seconds'))} s.",
            f"Overall: **{s['status']}** ({s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped). "
            "Every number below was computed in this run; each section states its accuracy. "
            "Machine-readable figures: `results.json`; long tables also as CSV files beside this page."]


# -- Markdown ------------------------------------------------------------------------------------

def _md_table(columns, rows) -> str:
    out = ["| " + " | ".join(to_markdown(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(to_markdown(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def render_markdown(doc: Mapping, docs_href: str | None = None) -> str:
    """index.md: summary table with each claim's key result and time, then one section per claim."""
    claims = doc["claims"]
    docs = f"[{DOCS_CLAIMS}]({docs_href})" if docs_href else f"`{DOCS_CLAIMS}` in the alft-verify repository"
    lines = ["# alft-verify rate-verification report", ""]
    for fact in _header_facts(doc):
        lines += [to_markdown(fact), ""]
    lines += [f"What the claims mean, what is proved and what is only supported numerically: {docs}.", ""]
    lines += [_md_table(["claim", "title", "status", "key result", "time (s)"],
                        [[f"[{c['id']}](#{c['id'].lower()})", c["title"], f"**{c['status']}**", _key_text(c),
                          _seconds(c.get("seconds"))] for c in claims]), ""]
    for c in claims:
        lines += [f'<a id="{c["id"].lower()}"></a>', "",
                  f"## {c['id']}: {to_markdown(c['title'])} — **{c['status']}**", "",
                  f"*Computed in {_seconds(c.get('seconds'))} s.*", "", to_markdown(c["summary"]), ""]
        if _key_text(c):
            lines += [f"**Key result.** {to_markdown(_key_text(c))}", ""]
        for t in c.get("tables") or []:
            lines += [f"**{to_markdown(t['title'])}**", "", _md_table(t["columns"], t["rows"]), ""]
            if t.get("csv"):
                n = len((t.get("detail") or t)["rows"])
                lines += [f"Full table ({n} rows): [{t['csv']}]({t['csv']}).", ""]
        alts = c.get("plot_alt") or {}
        for p in c.get("plots") or []:
            lines += [f"![{to_unicode(_alt(c, p, alts))}]({p})", ""]
        if c.get("accuracy"):
            lines += ["Accuracy:", ""] + [f"- *{to_markdown(k)}*: {to_markdown(v)}" for k, v in c["accuracy"].items()] + [""]
        if c.get("notes"):
            lines += ["Notes:", ""] + [f"- {to_markdown(n)}" for n in c["notes"]] + [""]
    lines += ["Machine-readable figures: [results.json](results.json).", ""]
    return "\n".join(lines)


def _alt(claim: Mapping, plot: str, alts: Mapping) -> str:
    """The plot's description (stored in the PNG by save_figure), in plain Unicode for an alt attribute."""
    text = alts.get(plot) or f"{claim['id']} plot ({claim['title']})"
    return text.replace("[", "(").replace("]", ")").replace("\n", " ")


# -- HTML ----------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:0 auto;
  padding:1.5em 1.2em 3em;line-height:1.5;color:#1f2328;background:#fff}
h1{font-size:1.7em;margin:.2em 0 .6em}
h2{font-size:1.35em;margin-top:2.2em;padding-bottom:.2em;border-bottom:1px solid #d0d7de}
h3{font-size:1.05em;margin:1.4em 0 .3em}
p,li{max-width:78ch}
.meta{color:#59636e;font-size:.92em}
.key{background:#f6f8fa;border-left:4px solid #0969da;padding:.4em .8em;max-width:78ch}
.scroll{overflow-x:auto;width:fit-content;max-width:100%;margin:.4em 0 .2em;border:1px solid #d0d7de}
.scroll.long{max-height:30em;overflow-y:auto}
table{border-collapse:collapse;font-size:.86em}
td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
.scroll table{border-style:hidden}
th{background:#f6f8fa;position:sticky;top:0;z-index:1}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.summary td:nth-child(4){min-width:16em}
.badge{color:#fff;border-radius:4px;padding:1px 7px;font-weight:600;font-size:.8em;vertical-align:middle}
figure{margin:1.2em 0}
figure img{display:block;max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{font-size:.85em;color:#59636e;max-width:78ch}
code{font-size:.9em;background:#f6f8fa;padding:0 .25em;border-radius:3px}
sub,sup{font-size:.72em;line-height:0}
@media (max-width:800px){body{padding:1em .7em 2em}h1{font-size:1.4em}table{font-size:.8em}}
"""


def _cell(v) -> str:
    text = "" if v is None else str(v)
    cls = " class='num'" if _NUMBER.match(text) else ""
    return f"<td{cls}>{to_html(text)}</td>"


def _html_table(columns, rows, *, css_class: str = "", long: bool = False) -> str:
    head = "".join(f"<th scope='col'>{to_html(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in r) + "</tr>" for r in rows)
    cls = f" class='{css_class}'" if css_class else ""
    return (f"<div class='scroll{' long' if long else ''}'><table{cls}><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _badge(status: str) -> str:
    return f"<span class='badge' style='background:{_BADGE.get(status, '#59636e')}'>{html.escape(status)}</span>"


def render_html(doc: Mapping, docs_href: str | None = None) -> str:
    """index.html: the same content as index.md, self-contained (inline CSS, no script, no network)."""
    e = html.escape
    claims = doc["claims"]
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>alft-verify report ({e(doc['profile'])} profile, {e(doc['summary']['status'])})</title>",
             f"<style>{_CSS}</style></head><body>", "<h1>alft-verify rate-verification report</h1>"]
    for fact in _header_facts(doc):
        parts.append(f"<p class='meta'>{to_html(fact)}</p>")
    docs = (f"<a href='{e(docs_href)}'>{DOCS_CLAIMS}</a>" if docs_href
            else f"<code>{DOCS_CLAIMS}</code> in the alft-verify repository")
    parts.append(f"<p>What the claims mean, what is proved and what is only supported numerically: {docs}.</p>")
    rows = "".join(
        f"<tr><td><a href='#{c['id'].lower()}'>{e(c['id'])}</a></td><td>{to_html(c['title'])}</td>"
        f"<td>{_badge(c['status'])}</td><td>{to_html(_key_text(c))}</td>"
        f"<td class='num'>{_seconds(c.get('seconds'))}</td></tr>" for c in claims)
    parts.append("<div class='scroll'><table class='summary'><thead><tr><th scope='col'>claim</th>"
                 "<th scope='col'>title</th><th scope='col'>status</th><th scope='col'>key result</th>"
                 f"<th scope='col'>time (s)</th></tr></thead><tbody>{rows}</tbody></table></div>")
    for c in claims:
        parts.append(_html_claim(c))
    parts.append("<p class='meta'>Machine-readable figures: <a href='results.json'>results.json</a>.</p>"
                 "</body></html>")
    return "\n".join(parts) + "\n"


def _html_claim(c: Mapping) -> str:
    e = html.escape
    out = [f"<section id='{e(c['id'].lower())}'>",
           f"<h2>{e(c['id'])}: {to_html(c['title'])} {_badge(c['status'])}</h2>",
           f"<p class='meta'>Computed in {_seconds(c.get('seconds'))} s.</p>",
           f"<p>{to_html(c['summary'])}</p>"]
    if _key_text(c):
        out.append(f"<p class='key'><strong>Key result.</strong> {to_html(_key_text(c))}</p>")
    for t in c.get("tables") or []:
        out.append(f"<h3>{to_html(t['title'])}</h3>")
        out.append(_html_table(t["columns"], t["rows"], long=is_long(t)))
        if t.get("csv"):
            full = t.get("detail") or t
            what = "condensed; full table" if t.get("detail") else "full table"
            out.append(f"<p class='meta'>{len(t['rows'])} rows shown ({what}, {len(full['rows'])} rows: "
                       f"<a href='{e(t['csv'])}'>{e(t['csv'])}</a>).</p>")
    alts = c.get("plot_alt") or {}
    for p in c.get("plots") or []:
        alt = _alt(c, p, alts)
        out.append(f"<figure><img src='{e(p)}' alt='{e(to_unicode(alt))}' loading='lazy'>"
                   f"<figcaption>{to_html(alt)}</figcaption></figure>")
    if c.get("accuracy"):
        out.append("<h3>Accuracy</h3><ul>" + "".join(
            f"<li><em>{to_html(k)}</em>: {to_html(v)}</li>" for k, v in c["accuracy"].items()) + "</ul>")
    if c.get("notes"):
        out.append("<h3>Notes</h3><ul>" + "".join(f"<li>{to_html(n)}</li>" for n in c["notes"]) + "</ul>")
    out.append("</section>")
    return "\n".join(out)
