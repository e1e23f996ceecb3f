"""Render claim results as Markdown and as a self-contained HTML page."""
from __future__ import annotations

import html

from ..result import ClaimResult

__all__ = ["render_markdown", "render_html"]

_BADGE = {"PASS": "#1a7f37", "FAIL": "#cf222e", "SKIP": "#9a6700"}


def _md_table(columns, rows) -> str:
    out = ["| " + " | ".join(str(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def render_markdown(meta: dict, results: list[ClaimResult]) -> str:
    lines = [f"# alft-verify rate-verification report", "",
             f"Generated {meta['generated_utc']} with profile `{meta['profile']}`, seed {meta['seed']}, "
             f"alft-verify {meta['package_version']} (commit `{meta.get('git_commit') or 'unknown'}`).", "",
             f"Overall: **{meta['summary']['status']}** ({meta['summary']['passed']} passed, "
             f"{meta['summary']['failed']} failed, {meta['summary']['skipped']} skipped). "
             "Every number below was computed in this run; each section states its accuracy.", "",
             _md_table(["claim", "title", "status", "seconds"],
                       [[f"[{r.id}](#{r.id.lower()})", r.title, f"**{r.status}**", r.seconds] for r in results]), ""]
    for r in results:
        lines += [f'<a id="{r.id.lower()}"></a>', f"## {r.id}: {r.title} — **{r.status}**", "", r.summary, ""]
        for t in r.tables:
            lines += [f"**{t.title}**", "", _md_table(t.columns, t.rows), ""]
        for p in r.plots:
            lines += [f"![{r.id} {p}]({p})", ""]
        if r.accuracy:
            lines += ["Accuracy:", ""] + [f"- *{k}*: {v}" for k, v in r.accuracy.items()] + [""]
        if r.notes:
            lines += ["Notes:", ""] + [f"- {n}" for n in r.notes] + [""]
    lines += ["Machine-readable figures: [results.json](results.json).", ""]
    return "\n".join(lines)


def _html_table(columns, rows) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(meta: dict, results: list[ClaimResult]) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>alft-verify report</title><style>",
             "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;line-height:1.45}",
             "table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:2px 6px}",
             "th{background:#f4f4f4}.badge{color:#fff;border-radius:4px;padding:1px 6px;font-weight:600}",
             "img{max-width:640px;display:block;margin:.5em 0}</style></head><body>",
             "<h1>alft-verify rate-verification report</h1>",
             f"<p>Generated {e(meta['generated_utc'])} with profile <code>{e(meta['profile'])}</code>, seed {meta['seed']}, "
             f"alft-verify {e(meta['package_version'])} (commit <code>{e(str(meta.get('git_commit') or 'unknown'))}</code>). "
             f"Overall: <b>{e(meta['summary']['status'])}</b>. Every number was computed in this run.</p>"]
    parts.append(_html_table(["claim", "title", "status", "seconds"],
                             [[r.id, r.title, r.status, r.seconds] for r in results]))
    for r in results:
        color = _BADGE.get(r.status, "#555")
        parts.append(f"<h2 id='{r.id.lower()}'>{e(r.id)}: {e(r.title)} "
                     f"<span class='badge' style='background:{color}'>{e(r.status)}</span></h2><p>{e(r.summary)}</p>")
        for t in r.tables:
            parts.append(f"<p><b>{e(t.title)}</b></p>" + _html_table(t.columns, t.rows))
        for p in r.plots:
            parts.append(f"<img src='{e(p)}' alt='{e(r.id)} {e(p)}'>")
        if r.accuracy:
            parts.append("<p>Accuracy:</p><ul>" + "".join(f"<li><i>{e(k)}</i>: {e(str(v))}</li>" for k, v in r.accuracy.items()) + "</ul>")
        if r.notes:
            parts.append("<p>Notes:</p><ul>" + "".join(f"<li>{e(n)}</li>" for n in r.notes) + "</ul>")
    parts.append("<p>Machine-readable figures: <a href='results.json'>results.json</a>.</p></body></html>")
    return "\n".join(parts)
