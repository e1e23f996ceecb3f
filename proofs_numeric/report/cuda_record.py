"""The CUDA record: claim C8 checked on a GPU machine, stored in the repository, shown by the report.

CI and most machines have no GPU, so the report checks C8 on the device it runs on (the CPU). A GPU
run (``scripts/cuda_crosscheck.py`` or its successor, on a CUDA machine) writes its outcome to
:data:`RECORD_PATH`; the report shows that record in the C8 section, with its date and commit, and
says it was *recorded*, not re-run. Without the file the report says that no GPU record exists.

Schema (JSON object; extra keys are kept and ignored)::

    {"device": "NVIDIA H200",            # what ran the checks
     "torch": "2.13.0", "cuda": "13.0", "triton": "3.5.0" | null,
     "date": "2026-11-30",               # ISO date (or date and time) of the run
     "commit": "6d9a6bd",                # the repository commit that was checked
     "steps": [{"name": "torch tests, CUDA cases", "verdict": "PASS" | "FAIL" | "SKIP",
                "figures": {"what": value, ...}}, ...]}

A file that exists but does not follow the schema is an error naming the field (the report does not
silently drop a record it was given).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["RECORD_PATH", "REQUIRED", "VERDICTS", "load_record", "validate_record", "record_verdict"]

#: where the record lives, relative to the repository root
RECORD_PATH = "reports/cuda/cuda_record.json"
REQUIRED = ("device", "torch", "cuda", "date", "commit", "steps")
VERDICTS = ("PASS", "FAIL", "SKIP")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?Z?)?$")


def _text(doc: dict, key: str, where: str, *, optional: bool = False) -> None:
    v = doc.get(key)
    if v is None and optional:
        return
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"{where}: field {key!r} must be a non-empty string, got {v!r}")


def validate_record(doc, where: str = RECORD_PATH) -> dict:
    """Check a record against the schema; return it (a ValueError names the first bad field)."""
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: a CUDA record must be a JSON object, got {type(doc).__name__}")
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing}; required: {list(REQUIRED)}")
    for key in ("device", "torch", "cuda", "commit"):
        _text(doc, key, where)
    _text(doc, "triton", where, optional=True)
    _text(doc, "date", where)
    if not _DATE.match(doc["date"]):
        raise ValueError(f"{where}: field 'date' must be an ISO date such as 2026-11-30, got {doc['date']!r}")
    steps = doc["steps"]
    if not isinstance(steps, list) or not steps:
        raise ValueError(f"{where}: field 'steps' must be a non-empty list of {{name, verdict, figures}}")
    for i, st in enumerate(steps):
        if not isinstance(st, dict):
            raise ValueError(f"{where}: steps[{i}] must be an object with name, verdict and figures")
        _text(st, "name", f"{where}: steps[{i}]")
        if st.get("verdict") not in VERDICTS:
            raise ValueError(f"{where}: steps[{i}].verdict must be one of {list(VERDICTS)}, got {st.get('verdict')!r}")
        figs = st.get("figures", {})
        if not isinstance(figs, dict):
            raise ValueError(f"{where}: steps[{i}].figures must be an object (what -> value), got "
                             f"{type(figs).__name__}")
    return doc


def load_record(root: Path | str) -> dict | None:
    """The record under repository root ``root``, validated, or None when there is none."""
    path = Path(root) / RECORD_PATH
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{RECORD_PATH}: not readable as JSON ({exc})") from exc
    return validate_record(doc)


def record_verdict(doc: dict) -> str:
    """PASS when every step passed (SKIP steps do not count against it), FAIL when one failed."""
    verdicts = [s["verdict"] for s in doc["steps"]]
    if "FAIL" in verdicts:
        return "FAIL"
    return "PASS" if "PASS" in verdicts else "SKIP"
