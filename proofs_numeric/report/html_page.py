"""index.html: the results document as one self-contained page (inline style, no script, no network).

Layout: title (with the device checked), contents, summary table, methods and set-up, one section per
claim (statement, pass criterion, key result with its accuracy, summary, numbered tables and figures,
accuracy, notes, back-to-top link), glossary. Terms link to the glossary at their first use in each
section. Wide tables scroll inside their own box with a visible hint and edge shadows; long tables
show an excerpt with the full rows collapsed (``<details>``) and in a CSV file; on a phone the summary
table turns into one card per claim.
"""
from __future__ import annotations

import html
import re
from typing import Mapping

from ..vocabulary import words
from .content import (claim_heading_note, device_text, header_facts, key_accuracy, key_text, methods_items,
                      record_lines, record_rows, seconds)
from .glossary import GLOSSARY, TermLinker, anchor
from .mathtext import to_html, to_unicode
from .tables import excerpt, is_long, is_wide

__all__ = ["render_html", "CSS"]

_BADGE = {"PASS": "#1a7f37", "FAIL": "#cf222e", "SKIP": "#9a6700"}
_NUMBER = re.compile(r"^[\s\[\]()+\-−]*\d[\d.,eE+\-−\s\[\]()]*$")

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:0 auto;
  padding:1.5em 1.2em 3em;line-height:1.5;color:#1f2328;background:#fff}
p,li,dd,td,figcaption{overflow-wrap:anywhere}
h1{font-size:1.7em;margin:.2em 0 .3em}
h2{font-size:1.35em;margin-top:2.2em;padding-bottom:.2em;border-bottom:1px solid #d0d7de}
h3{font-size:1.05em;margin:1.4em 0 .3em}
p,li,dd{max-width:78ch}
a{color:#0969da}
a.term{color:inherit;text-decoration:underline dotted #0969da;text-underline-offset:2px}
.meta{color:#59636e;font-size:.92em}
.device{font-size:1.05em;margin:.1em 0 .6em}
nav.toc{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.5em 1em;margin:1em 0;max-width:78ch}
nav.toc ol{margin:.3em 0;padding-left:1.4em}
nav.toc li{margin:.15em 0}
.statement{font-size:1.02em}
.criteria{border:1px solid #d0d7de;border-radius:6px;padding:.3em .9em;margin:.8em 0;max-width:80ch}
.criteria ul{list-style:none;padding-left:0;margin:.3em 0}
.criteria li{margin:.35em 0;padding-left:1.6em;text-indent:-1.6em}
.mark{display:inline-block;width:1.6em;text-indent:0;font-weight:700}
.met .mark{color:#1a7f37}.unmet .mark{color:#cf222e}
.measured{color:#59636e}
.key{background:#f6f8fa;border-left:4px solid #0969da;padding:.4em .8em;max-width:78ch}
.acc{color:#59636e;font-size:.92em}
.tcap{margin:1.4em 0 .2em;font-size:.95em}
.hint{display:none;margin:.1em 0;font-size:.8em;color:#59636e}
.scroll{overflow-x:auto;width:fit-content;max-width:100%;margin:.2em 0 .2em;border:1px solid #d0d7de;
  background:linear-gradient(to right,#fff 30%,rgba(255,255,255,0)) left/2.5em 100% no-repeat local,
  linear-gradient(to left,#fff 30%,rgba(255,255,255,0)) right/2.5em 100% no-repeat local,
  radial-gradient(farthest-side at 0 50%,rgba(0,0,0,.22),rgba(0,0,0,0)) left/.9em 100% no-repeat scroll,
  radial-gradient(farthest-side at 100% 50%,rgba(0,0,0,.22),rgba(0,0,0,0)) right/.9em 100% no-repeat scroll}
table{border-collapse:collapse;font-size:.86em}
td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
.scroll table{border-style:hidden}
th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.summary td.key-cell{min-width:12em}
details{margin:.3em 0 .6em}
summary{cursor:pointer;color:#0969da;font-size:.92em}
.badge{color:#fff;border-radius:4px;padding:1px 7px;font-weight:600;font-size:.8em;vertical-align:middle;
  white-space:nowrap}
figure{margin:1.2em 0}
figure img{display:block;max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{font-size:.9em;color:#1f2328;max-width:78ch;margin-top:.3em}
code{font-size:.9em;background:#f6f8fa;padding:0 .25em;border-radius:3px;overflow-wrap:anywhere}
sub,sup{font-size:.72em;line-height:0}
.top{font-size:.85em;margin-top:1.5em}
dl.glossary dt{font-weight:600;margin-top:.6em}
dl.glossary dd{margin-left:1.2em}
@media (max-width:900px){.wide-hint{display:block}}
@media (max-width:800px){body{padding:1em .7em 2em}h1{font-size:1.4em}table{font-size:.8em}}
@media (max-width:600px){
  table.summary,table.summary tbody,table.summary tr,table.summary td{display:block;width:100%}
  table.summary thead{display:none}
  table.summary tr{border-bottom:2px solid #d0d7de;padding:.3em 0}
  table.summary td{border:none;padding:2px 6px}
  table.summary td::before{content:attr(data-label) ": ";font-weight:600;color:#59636e}
  table.summary td.key-cell{min-width:0}
  .scroll.fits-phone{width:100%}
}
"""


class _Counter:
    def __init__(self) -> None:
        self.figure = 0
        self.table = 0


def _badge(status: str) -> str:
    return f"<span class='badge' style='background:{_BADGE.get(status, '#59636e')}'>{html.escape(status)}</span>"


def _t(text) -> str:
    """Report text -> HTML: method names in words, maths in Unicode."""
    return to_html(words("" if text is None else text))


def _cell(v, linker: TermLinker) -> str:
    text = "" if v is None else str(v)
    cls = " class='num'" if _NUMBER.match(text) else ""
    return f"<td{cls}>{linker.link(_t(text))}</td>"


def _table_html(columns, rows, linker: TermLinker, *, wide: bool) -> str:
    head = "".join(f"<th scope='col'>{_t(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(v, linker) for v in r) + "</tr>" for r in rows)
    hint = "<p class='hint wide-hint'>↔ wide table: scroll sideways inside the box</p>" if wide else ""
    return (f"{hint}<div class='scroll{' wide' if wide else ''}'><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _report_table(t: Mapping, n: _Counter, linker: TermLinker) -> str:
    n.table += 1
    e = html.escape
    out = [f"<p class='tcap' id='table-{n.table}'><strong>Table {n.table}.</strong> {linker.link(_t(t['title']))}</p>"]
    wide = is_wide(t)
    ex = excerpt(t)
    if ex is not None:
        idx, what = ex
        out.append(f"<p class='meta'>Excerpt: {len(idx)} of {len(t['rows'])} rows ({_t(what)}).</p>")
        out.append(_table_html(t["columns"], [t["rows"][i] for i in idx], linker, wide=wide))
        out.append(f"<details><summary>Show all {len(t['rows'])} rows</summary>"
                   f"{_table_html(t['columns'], t['rows'], linker, wide=wide)}</details>")
    elif is_long(t):
        out.append(f"<details><summary>Show the table ({len(t['rows'])} rows)</summary>"
                   f"{_table_html(t['columns'], t['rows'], linker, wide=wide)}</details>")
    else:
        out.append(_table_html(t["columns"], t["rows"], linker, wide=wide))
    if t.get("csv"):
        full = t.get("detail") or t
        what = "condensed here; all rows" if t.get("detail") else "all rows"
        out.append(f"<p class='meta'>CSV ({what}, {len(full['rows'])}): <a href='{e(t['csv'])}'>{e(t['csv'])}</a></p>")
    return "\n".join(out)


def _alt(claim: Mapping, plot: str) -> str:
    text = (claim.get("plot_alt") or {}).get(plot) or f"{claim['id']} plot ({claim['title']})"
    return text.replace("[", "(").replace("]", ")").replace("\n", " ")


def _figure(claim: Mapping, plot: str, n: _Counter, linker: TermLinker) -> str:
    n.figure += 1
    e = html.escape
    alt = _alt(claim, plot)
    caption = (claim.get("captions") or {}).get(plot) or alt
    return (f"<figure id='figure-{n.figure}'><img src='{e(plot)}' alt='{e(to_unicode(words(alt)))}' loading='lazy'>"
            f"<figcaption><strong>Figure {n.figure}.</strong> {linker.link(_t(caption))}</figcaption></figure>")


def _criteria(c: Mapping, linker: TermLinker) -> str:
    crit = c.get("criteria") or []
    if not crit:
        return ("<div class='criteria'><p><strong>Pass criterion.</strong> none declared by this check: its "
                f"verdict ({html.escape(c['status'])}) cannot be traced to stated numbers.</p></div>")
    met = sum(bool(k["met"]) for k in crit)
    items = "".join(
        f"<li class='{'met' if k['met'] else 'unmet'}'><span class='mark'>{'✓' if k['met'] else '✗'}</span>"
        f"<strong>{_t(k['name'])}</strong>: {linker.link(_t(k['requirement']))}. "
        f"<span class='measured'>Measured: {linker.link(_t(k['measured']))}.</span></li>" for k in crit)
    return (f"<div class='criteria'><p><strong>Pass criterion.</strong> {c['id']} passes when every condition "
            f"holds ({met} of {len(crit)} hold here: {_badge(c['status'])}).</p><ul>{items}</ul></div>")


def _claim(doc: Mapping, c: Mapping, n: _Counter, linker: TermLinker) -> str:
    e = html.escape
    linker.reset()
    note = claim_heading_note(doc, c)
    out = [f"<section id='{e(c['id'].lower())}'>",
           f"<h2>{e(c['id'])}: {_t(c['title'])} {_badge(c['status'])}</h2>"]
    if note:
        out.append(f"<p class='device'>{_t(note[:1].upper() + note[1:])}.</p>")
    if c.get("statement"):
        out.append(f"<p class='statement'><strong>Claim.</strong> {linker.link(_t(c['statement']))}</p>")
    out.append(_criteria(c, linker))
    if key_text(c):
        acc = key_accuracy(c)
        out.append(f"<p class='key'><strong>Key result.</strong> {linker.link(_t(key_text(c)))}"
                   + (f" <span class='acc'>(accuracy: {linker.link(_t(acc))})</span>" if acc else "") + "</p>")
    out.append(f"<p>{linker.link(_t(c['summary']))}</p>")
    out.append(f"<p class='meta'>Computed in {seconds(c.get('seconds'))} s.</p>")
    if c["id"] == "C8":
        out.append(_record(doc, n, linker))
    out += [_report_table(t, n, linker) for t in c.get("tables") or []]
    out += [_figure(c, p, n, linker) for p in c.get("plots") or []]
    if c.get("accuracy"):
        out.append("<h3>Accuracy</h3><ul>" + "".join(
            f"<li><em>{_t(k)}</em>: {linker.link(_t(v))}</li>" for k, v in c["accuracy"].items()) + "</ul>")
    if c.get("notes"):
        out.append("<h3>Notes</h3><ul>" + "".join(f"<li>{linker.link(_t(x))}</li>" for x in c["notes"]) + "</ul>")
    out.append("<p class='top'><a href='#top'>↑ Back to top</a></p></section>")
    return "\n".join(out)


def _record(doc: Mapping, n: _Counter, linker: TermLinker) -> str:
    out = ["<h3>GPU record</h3>"] + [f"<p>{linker.link(_t(x))}</p>" for x in record_lines(doc)]
    rows = record_rows(doc)
    if rows:
        out.append(_report_table({"title": "C8 on a GPU: the recorded steps", "columns": ["step", "verdict",
                                                                                         "figures"], "rows": rows},
                                 n, linker))
    return "\n".join(out)


def _summary_table(claims) -> str:
    rows = "".join(
        f"<tr><td data-label='claim'><a href='#{c['id'].lower()}'>{html.escape(c['id'])}</a>: {_t(c['title'])}</td>"
        f"<td data-label='verdict'>{_badge(c['status'])}</td>"
        f"<td data-label='key result' class='key-cell'>{_t(key_text(c))}</td></tr>" for c in claims)
    return ("<div class='scroll fits-phone'><table class='summary'><thead><tr><th scope='col'>claim</th>"
            f"<th scope='col'>verdict</th><th scope='col'>key result</th></tr></thead><tbody>{rows}</tbody></table>"
            "</div>")


def _toc(claims) -> str:
    items = ["<li><a href='#summary'>Summary</a></li>", "<li><a href='#methods'>Methods and set-up</a></li>"]
    items += [f"<li><a href='#{c['id'].lower()}'>{html.escape(c['id'])}: {_t(c['title'])}</a> {_badge(c['status'])}"
              "</li>" for c in claims]
    items.append("<li><a href='#glossary'>Glossary</a></li>")
    return f"<nav class='toc' aria-label='Contents'><strong>Contents</strong><ol>{''.join(items)}</ol></nav>"


def _glossary() -> str:
    items = "".join(f"<dt id='{anchor(t.key)}'>{_t(t.term)}</dt><dd>{_t(t.definition)}</dd>" for t in GLOSSARY)
    return (f"<section id='glossary'><h2>Glossary</h2><dl class='glossary'>{items}</dl>"
            "<p class='top'><a href='#top'>↑ Back to top</a></p></section>")


def render_html(doc: Mapping, docs_href: str | None = None, docs_name: str = "docs/claims.md") -> str:
    """index.html: the same content as index.md, self-contained (inline CSS, no script, no network)."""
    e = html.escape
    claims = doc["claims"]
    s = doc["summary"]
    n = _Counter()
    linker = TermLinker()
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>alft-verify report: {e(s['status'])} ({s['passed']}/{len(claims)}), {e(doc['profile'])} "
             f"profile, checked on {e(device_text(doc))}</title>",
             f"<style>{CSS}</style></head><body>", "<header id='top'>",
             f"<h1>alft-verify rate-verification report</h1>"]
    parts += [f"<p class='{'device' if i == 0 else 'meta'}'>{_t(f)}</p>" for i, f in enumerate(header_facts(doc))]
    docs = (f"<a href='{e(docs_href)}'>{e(docs_name)}</a> (Markdown)" if docs_href
            else f"<code>{e(docs_name)}</code> in the alft-verify repository")
    parts.append(f"<p>Terms are defined in the <a href='#glossary'>glossary</a>; what each claim means and what "
                 f"is proved: {docs}.</p></header>")
    parts.append(_toc(claims))
    parts.append(f"<section id='summary'><h2>Summary</h2>{_summary_table(claims)}</section>")
    items = "".join(f"<li><strong>{_t(k)}.</strong> {linker.link(_t(v))}</li>" for k, v in methods_items(doc))
    parts.append(f"<section id='methods'><h2>Methods and set-up</h2><ul>{items}</ul>"
                 "<p class='top'><a href='#top'>↑ Back to top</a></p></section>")
    parts += [_claim(doc, c, n, linker) for c in claims]
    parts.append(_glossary())
    parts.append("<p class='meta'>Machine-readable figures: <a href='results.json'>results.json</a>.</p></body></html>")
    return "\n".join(parts) + "\n"
