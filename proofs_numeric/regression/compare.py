"""Extract a claim's declared regression figures from a results document and compare two extractions.

An *extraction* maps a concrete figure label (``per_K[K=64]/upper_str``, ``table:Certified E*_K``; list items are labelled by their ``K`` when
every item has a distinct one, otherwise by position)
to an entry ``{"kind", "value"}`` (plus ``"tol"`` for relative checks; a table's value is its
SHA-256 with the columns and rows kept beside it, so a diff can name the cells that moved).
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .spec import FigureCheck, describe_tolerance, parse_path

__all__ = ["Difference", "MISSING", "extract_claim", "compare_claim", "table_digest"]

MISSING = "<missing>"


@dataclass(frozen=True)
class Difference:
    """One figure that moved: where, what the baseline and this run say, and the tolerance applied."""

    claim: str
    figure: str
    baseline: str
    now: str
    tolerance: str


def table_digest(columns, rows) -> str:
    """SHA-256 of a report table's canonical JSON (columns and rows)."""
    text = json.dumps({"columns": columns, "rows": rows}, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _expand(node, segments, label: str, out: dict) -> None:
    if not segments:
        out[label] = node
        return
    (name, over_list), rest = segments[0], segments[1:]
    sep = "/" if label else ""
    if "*" in name:
        keys = [k for k in node if fnmatch.fnmatchcase(str(k), name)] if isinstance(node, Mapping) else []
        if not keys:
            out[label + sep + name] = MISSING
        for key in keys:
            _expand(node[key], rest, f"{label}{sep}{key}", out)
        return
    if not isinstance(node, Mapping) or name not in node:
        out[label + sep + name + ("[*]" if over_list else "")] = MISSING
        return
    child = node[name]
    if not over_list:
        _expand(child, rest, f"{label}{sep}{name}", out)
        return
    if not isinstance(child, list):
        out[f"{label}{sep}{name}[*]"] = MISSING
        return
    keyed = [item["K"] for item in child if isinstance(item, Mapping) and "K" in item]
    by_K = len(keyed) == len(child) and len(set(map(str, keyed))) == len(keyed)  # K labels only when unique
    for i, item in enumerate(child):
        tag = f"K={item['K']}" if by_K else str(i)
        _expand(item, rest, f"{label}{sep}{name}[{tag}]", out)


def _find_table(tables: list, prefix: str):
    hits = [t for t in tables if str(t.get("title", "")).startswith(prefix)]
    if len(hits) > 1:
        raise ValueError(f"table check {prefix!r} matches {len(hits)} report tables; make the title prefix unique")
    return hits[0] if hits else None


def extract_claim(claim: Mapping, checks: Iterable[FigureCheck]) -> dict:
    """Concrete label -> entry for every declared figure of one claim of a results document."""
    out: dict[str, dict] = {"status": {"kind": "exact", "value": claim.get("status")}}
    figures = claim.get("figures") or {}
    for chk in checks:
        if chk.kind == "table":
            t = _find_table(claim.get("tables") or [], chk.path)
            value = MISSING if t is None else {"sha256": table_digest(t["columns"], t["rows"]),
                                                "columns": t["columns"], "rows": t["rows"]}
            out[f"table:{chk.path}"] = {"kind": "table", "value": value}
            continue
        found: dict[str, Any] = {}
        _expand(figures, parse_path(chk.path), "", found)
        for label, value in found.items():
            entry = {"kind": chk.kind, "value": value}
            if chk.kind == "relative":
                entry["tol"] = chk.tol
            out[label] = entry
    return out


def _short(value, width: int = 44) -> str:
    text = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def _numbers(v):
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return [float(v)]
    if isinstance(v, list) and v and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        return [float(x) for x in v]
    return None


def _relative_ok(base, now, tol: float) -> bool:
    b, n = _numbers(base), _numbers(now)
    if b is None or n is None or len(b) != len(n):
        return False
    return all((math.isfinite(x) and math.isfinite(y) and abs(y - x) <= tol * abs(x)) for x, y in zip(b, n))


def _interval_ok(base, now) -> bool:
    b, n = _numbers(base), _numbers(now)
    if b is None or n is None or len(b) != 2 or len(n) != 2 or b[0] > b[1] or n[0] > n[1]:
        return False
    return max(b[0], n[0]) <= min(b[1], n[1])


def _table_cells(claim_id, label, base, now, tol_text) -> list[Difference]:
    """Name the cells of a changed table (at most 12, then a count)."""
    if base["columns"] != now["columns"]:
        return [Difference(claim_id, label + " (columns)", _short(base["columns"]), _short(now["columns"]), tol_text)]
    out = []
    nb, nn = len(base["rows"]), len(now["rows"])
    for i in range(max(nb, nn)):
        rb = base["rows"][i] if i < nb else None
        rn = now["rows"][i] if i < nn else None
        if rb == rn:
            continue
        key = (rb or rn)[0] if (rb or rn) else i
        if rb is None or rn is None or len(rb) != len(rn):
            out.append(Difference(claim_id, f"{label} row {i + 1} ({base['columns'][0]}={key})",
                                  _short(rb if rb is not None else MISSING), _short(rn if rn is not None else MISSING),
                                  tol_text))
            continue
        for col, a, b in zip(base["columns"], rb, rn):
            if a != b:
                out.append(Difference(claim_id, f"{label} row {i + 1} ({base['columns'][0]}={key}), '{col}'",
                                      _short(a), _short(b), tol_text))
    if len(out) > 12:
        out = out[:12] + [Difference(claim_id, f"{label}: {len(out) - 12} more cells", "", "", tol_text)]
    return out


def _tolerance_text(entry: Mapping) -> str:
    return describe_tolerance(entry.get("kind"), entry.get("tol"))


def compare_claim(claim_id: str, base: Mapping, now: Mapping) -> tuple[int, list[Difference]]:
    """Compare two extractions of one claim; returns (figures compared, differences).

    The current declaration's kind and tolerance apply; a label present on one side only, or whose
    kind changed, is a difference (the baseline must be rewritten to accept it).
    """
    diffs: list[Difference] = []
    labels = list(base) + [k for k in now if k not in base]
    for label in labels:
        b, n = base.get(label), now.get(label)
        if b is None:
            diffs.append(Difference(claim_id, label, "(not in baseline)", _short(n["value"]), _tolerance_text(n)))
            continue
        if n is None:
            diffs.append(Difference(claim_id, label, _short(b["value"]), "(no longer declared)", _tolerance_text(b)))
            continue
        tol_text = _tolerance_text(n)
        if b.get("kind") != n["kind"]:
            diffs.append(Difference(claim_id, label, f"kind {b.get('kind')}", f"kind {n['kind']}", "same kind"))
            continue
        bv, nv = b.get("value"), n["value"]
        if MISSING in (bv, nv) and bv != nv:
            diffs.append(Difference(claim_id, label, _short(bv), _short(nv), tol_text))
            continue
        kind = n["kind"]
        if kind == "table":
            if bv != MISSING and bv["sha256"] != nv["sha256"]:
                diffs.extend(_table_cells(claim_id, label, bv, nv, tol_text))
            continue
        if kind == "relative":
            ok = bv == nv or _relative_ok(bv, nv, n["tol"])
        elif kind == "interval":
            ok = bv == nv or _interval_ok(bv, nv)
        elif kind == "decimal":
            ok = isinstance(nv, str) and bv == nv
        else:
            ok = json.dumps(bv, sort_keys=True) == json.dumps(nv, sort_keys=True)
        if not ok:
            diffs.append(Difference(claim_id, label, _short(bv), _short(nv), tol_text))
    return len(labels), diffs
