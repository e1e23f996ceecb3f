"""The CUDA record: claim C8 checked on a GPU machine, stored in the repository, shown by the report.

CI and most machines have no GPU, so the report checks C8 on the device it runs on (the CPU). A GPU
run of ``scripts/cuda_crosscheck.py`` writes its outcome as ``cuda_record.json``; committed as
:data:`RECORD_PATH`, the report shows it in the C8 section, with its date and commit, and says it
was *recorded*, not re-run. Without the file the report says that no GPU record exists.

Two layouts are read (extra keys are kept and ignored), and :func:`normalize` reduces both to the first:

* flat::

    {"device": "NVIDIA H200", "torch": "2.13.0", "cuda": "13.0", "triton": "3.5.0" | null,
     "date": "2026-11-30", "commit": "6d9a6bd",
     "steps": [{"name": "tests", "verdict": "PASS" | "FAIL" | "SKIP", "figures": {"what": value, ...}}, ...]}

* what ``scripts/cuda_crosscheck.py`` writes: ``"device": "cuda" | "cpu"``, the device's name and the
  versions under ``"versions"`` (``device``, ``torch``, ``cuda``, ``triton``), steps named by ``"step"``,
  the date as an ISO date and time.

A record made without a GPU (``"device": "cpu"``, a dry run) is shown as such, never as a GPU result. A
file that exists but does not follow the schema is an error naming the field (the report shows that
error; it does not silently drop a record it was given).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["RECORD_PATH", "VERDICTS", "load_record", "normalize", "validate_record", "record_verdict",
           "figure_text"]

#: where the record lives, relative to the repository root
RECORD_PATH = "reports/cuda/cuda_record.json"
VERDICTS = ("PASS", "FAIL", "SKIP")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def _text(value, key: str, where: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: field {key!r} must be a non-empty string, got {value!r}")


def normalize(doc, where: str = RECORD_PATH) -> dict:
    """The record in the flat layout, validated, with ``gpu`` (made on a GPU) added; a ValueError names the
    first bad or missing field."""
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: a CUDA record must be a JSON object, got {type(doc).__name__}")
    ver = doc.get("versions") if isinstance(doc.get("versions"), dict) else {}
    kind = doc.get("device")
    name = ver.get("device") if kind in ("cuda", "cpu") and ver.get("device") else kind
    gpu = kind != "cpu" and not str(name or "").lower().startswith("cpu")
    out = {"device": name, "torch": doc.get("torch", ver.get("torch")), "cuda": doc.get("cuda", ver.get("cuda")),
           "triton": doc.get("triton", ver.get("triton")), "date": doc.get("date"), "commit": doc.get("commit"),
           "gpu": gpu}
    missing = [k for k in ("device", "torch", "date", "commit") if out[k] is None] + (
        ["steps"] if "steps" not in doc else [])
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing}; a record needs device, torch, cuda, date, commit "
                         "and steps")
    for key in ("device", "torch", "commit", "date"):
        _text(out[key], key, where)
    _text(out["cuda"], "cuda", where, optional=not gpu)
    _text(out["triton"], "triton", where, optional=True)
    if not _DATE.match(out["date"]):
        raise ValueError(f"{where}: field 'date' must be an ISO date such as 2026-11-30, got {out['date']!r}")
    steps = doc["steps"]
    if not isinstance(steps, list) or not steps:
        raise ValueError(f"{where}: field 'steps' must be a non-empty list of {{name, verdict, figures}}")
    out["steps"] = []
    for i, st in enumerate(steps):
        if not isinstance(st, dict):
            raise ValueError(f"{where}: steps[{i}] must be an object with name, verdict and figures")
        step_name = st.get("name", st.get("step"))
        _text(step_name, "name", f"{where}: steps[{i}]")
        if st.get("verdict") not in VERDICTS:
            raise ValueError(f"{where}: steps[{i}].verdict must be one of {list(VERDICTS)}, got {st.get('verdict')!r}")
        figs = st.get("figures", {})
        if not isinstance(figs, dict):
            raise ValueError(f"{where}: steps[{i}].figures must be an object (what -> value), got "
                             f"{type(figs).__name__}")
        out["steps"].append({"name": step_name, "verdict": st["verdict"], "figures": figs})
    return out


def validate_record(doc, where: str = RECORD_PATH) -> dict:
    """Check a record against the schema (either layout); return it unchanged."""
    normalize(doc, where)
    return doc


def load_record(root: Path | str) -> dict | None:
    """The record under repository root ``root``, normalised (:func:`normalize`), or None when there is none."""
    path = Path(root) / RECORD_PATH
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{RECORD_PATH}: not readable as JSON ({exc})") from exc
    return normalize(doc)


def record_verdict(doc: dict) -> str:
    """PASS when every step passed (SKIP steps do not count against it), FAIL when one failed."""
    verdicts = [s["verdict"] for s in doc["steps"]]
    if "FAIL" in verdicts:
        return "FAIL"
    return "PASS" if "PASS" in verdicts else "SKIP"


def figure_text(figures: dict, limit: int = 8) -> str:
    """A step's figures in one line: scalars as they are, lists of verdicts counted, anything larger named
    (it stays in the record file)."""
    parts = []
    for key, val in figures.items():
        key = str(key).replace("_", " ")        # a label for people, not the record's key
        if isinstance(val, bool) or isinstance(val, (int, float)):
            parts.append(f"{key}: {val:.4g}" if isinstance(val, float) else f"{key}: {val}")
        elif isinstance(val, str):
            parts.append(f"{key}: {val if len(val) <= 100 else val[:99] + '…'}")
        elif isinstance(val, list) and val and all(isinstance(x, dict) and "verdict" in x for x in val):
            counts = {}
            for x in val:
                counts[x["verdict"]] = counts.get(x["verdict"], 0) + 1
            parts.append(f"{key}: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
        elif val is not None:
            parts.append(f"{key}: {len(val) if hasattr(val, '__len__') else 1} entries in the record")
    return "; ".join(parts[:limit]) + ("; …" if len(parts) > limit else "")
