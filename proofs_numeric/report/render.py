"""Render a results document (results.json) as Markdown and as a self-contained HTML page.

Both renderings are pure functions of the document, so a report can be re-rendered from its
results.json: :mod:`.html_page` (index.html) and :mod:`.markdown_page` (index.md) lay out the same
content, :mod:`.content` writes the parts that are not a claim's own result (header, methods and
set-up, GPU record), :mod:`.glossary` defines the terms and links their first use,
:mod:`.mathtext` turns the report's ASCII maths into Unicode and <sub>/<sup>, :mod:`.tables` decides
which tables are excerpted, collapsed and written as CSV.
"""
from __future__ import annotations

from .html_page import render_html as _render_html
from .markdown_page import render_markdown as _render_markdown

__all__ = ["render_markdown", "render_html", "DOCS_CLAIMS"]

#: where the repository explains each claim (anchors #c1 ... #c9)
DOCS_CLAIMS = "docs/claims.md"


def render_markdown(doc, docs_href: str | None = None) -> str:
    """index.md (see :mod:`.markdown_page`)."""
    return _render_markdown(doc, docs_href, DOCS_CLAIMS)


def render_html(doc, docs_href: str | None = None) -> str:
    """index.html (see :mod:`.html_page`)."""
    return _render_html(doc, docs_href, DOCS_CLAIMS)
