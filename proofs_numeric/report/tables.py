"""Report tables as files: which tables get a CSV beside the report, under which name, with what text.

A table gets a CSV when it is long (more than :data:`LONG_TABLE_ROWS` rows) or when it is a
condensed view whose full rows are in ``detail``; the CSV holds the full rows. The page shows a
long table as a short excerpt (:func:`excerpt`) with the full rows collapsed below it. The names
are derived from the claim id and the table title (a title that starts with the claim id does not
repeat it), so they are the same in every run.
"""
from __future__ import annotations

import csv
import io
import re
from typing import Mapping

__all__ = ["LONG_TABLE_ROWS", "EXCERPT_ROWS", "attach_csv_names", "csv_text", "is_long", "excerpt", "is_wide"]

LONG_TABLE_ROWS = 24
#: at most this many rows in the excerpt of a long table
EXCERPT_ROWS = 12
#: a table with this many columns (or a cell this long) may not fit a phone's width: the page says so
WIDE_COLUMNS, WIDE_CELL = 5, 36


def is_long(table: Mapping) -> bool:
    """True when the table is shown in a scroll box rather than in full."""
    return len(table.get("rows") or []) > LONG_TABLE_ROWS


def is_wide(table: Mapping) -> bool:
    """True when the table may need sideways scrolling on a narrow screen (the page shows a hint)."""
    cols = table.get("columns") or []
    cells = [str(v) for r in (table.get("rows") or []) for v in r]
    return len(cols) >= WIDE_COLUMNS or any(len(c) > WIDE_CELL for c in cells)


def excerpt(table: Mapping) -> tuple[list[int], str] | None:
    """Row indices of a long table's excerpt and what they are, or None when no excerpt is meaningful.

    A table whose first column is K (increasing integers) keeps the rows with K a power of two and the last K;
    any other long table is shown collapsed without an excerpt (its rows are not ordered by one variable).
    """
    rows = table.get("rows") or []
    cols = table.get("columns") or []
    if not is_long(table) or not cols or str(cols[0]) != "K" or not all(isinstance(r[0], int) for r in rows):
        return None
    if any(b[0] <= a[0] for a, b in zip(rows, rows[1:])):   # several rows per K: no single-K excerpt
        return None
    keep = [i for i, r in enumerate(rows) if r[0] > 0 and r[0] & (r[0] - 1) == 0]
    if rows and (len(rows) - 1) not in keep:
        keep.append(len(rows) - 1)
    if len(keep) > EXCERPT_ROWS:
        step = len(keep) / EXCERPT_ROWS
        keep = sorted({keep[int(j * step)] for j in range(EXCERPT_ROWS)} | {keep[-1]})
    return keep, "K a power of 2 and the last K"


def _slug(title: str, claim_id: str = "", words: int = 6) -> str:
    parts = re.findall(r"[A-Za-z0-9]+", title.lower())
    if claim_id and parts and parts[0] == claim_id.lower():
        parts = parts[1:]
    return "_".join(parts[:words]) or "table"


def attach_csv_names(claim: dict) -> list[tuple[str, Mapping]]:
    """Set ``table["csv"]`` (file name or None) on every table of a results-document claim;
    return ``(name, table_holding_the_full_rows)`` for each CSV to write."""
    out, used = [], set()
    for t in claim.get("tables") or []:
        full = t.get("detail") or (t if is_long(t) else None)
        if full is None:
            t["csv"] = None
            continue
        slug = _slug(t["title"], claim["id"])
        name = f"{claim['id'].lower()}_{slug}.csv"
        k = 2
        while name in used:
            name = f"{claim['id'].lower()}_{slug}_{k}.csv"
            k += 1
        used.add(name)
        t["csv"] = name
        out.append((name, full))
    return out


def csv_text(table: Mapping) -> str:
    """The table as CSV (header row, then one line per row; values as written in results.json)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table["columns"])
    for row in table["rows"]:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()
