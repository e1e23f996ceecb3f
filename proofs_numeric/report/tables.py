"""Report tables as files: which tables get a CSV beside the report, under which name, with what text.

A table gets a CSV when it is long (more than :data:`LONG_TABLE_ROWS` rows: the HTML shows it in
a scroll box) or when it is a condensed view whose full rows are in ``detail``; the CSV holds
the full rows. The names are derived from the claim id and the table title, so they are the
same in every run.
"""
from __future__ import annotations

import csv
import io
import re
from typing import Mapping

__all__ = ["LONG_TABLE_ROWS", "attach_csv_names", "csv_text", "is_long"]

LONG_TABLE_ROWS = 24


def is_long(table: Mapping) -> bool:
    """True when the table is shown in a scroll box rather than in full."""
    return len(table.get("rows") or []) > LONG_TABLE_ROWS


def _slug(title: str, words: int = 6) -> str:
    parts = re.findall(r"[A-Za-z0-9]+", title.lower())[:words]
    return "_".join(parts) or "table"


def attach_csv_names(claim: dict) -> list[tuple[str, Mapping]]:
    """Set ``table["csv"]`` (file name or None) on every table of a results-document claim;
    return ``(name, table_holding_the_full_rows)`` for each CSV to write."""
    out, used = [], set()
    for t in claim.get("tables") or []:
        full = t.get("detail") or (t if is_long(t) else None)
        if full is None:
            t["csv"] = None
            continue
        name = f"{claim['id'].lower()}_{_slug(t['title'])}.csv"
        k = 2
        while name in used:
            name = f"{claim['id'].lower()}_{_slug(t['title'])}_{k}.csv"
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
