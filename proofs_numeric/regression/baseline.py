"""The committed regression baseline (``reports/baseline.json``): build, validate, read, write, compare.

Baseline document (schema ``alft-verify/baseline``, version :data:`BASELINE_SCHEMA_VERSION`)::

    {"schema": "alft-verify/baseline", "schema_version": 1,
     "profile": "default", "seed": 20261128, "results_schema_version": int,
     "written_from": {"package_version": str, "git_commit": str|null},
     "claims": {"C1": {"status": "PASS", "figures": {label: {"kind", "value", ["tol"]}}}, ...}}

Labels and entries are those of :func:`.compare.extract_claim`. Writing the same run twice gives
the same file (no time fields are stored).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from estimators.outputs import NotRegularFileError, check_output_file, read_regular, write_output_file

from .compare import MISSING, Difference, compare_claim, extract_claim

__all__ = ["BASELINE_SCHEMA", "BASELINE_SCHEMA_VERSION", "REGENERATE", "RegressionReport", "build_baseline",
           "compare", "declared_checks", "load_baseline", "load_results", "write_baseline", "is_baseline_file",
           "check_baseline_target"]

BASELINE_SCHEMA = "alft-verify/baseline"
BASELINE_SCHEMA_VERSION = 1
RESULTS_SCHEMA = "alft-verify/results"
REGENERATE = ("regenerate it with `alft baseline --write` (runs the default report, a few minutes, and "
              "rewrites reports/baseline.json and reports/reference/)")


def _results_schema_version() -> int:
    from ..report.builder import RESULTS_SCHEMA_VERSION
    return RESULTS_SCHEMA_VERSION


def declared_checks() -> dict:
    """Claim id -> the FigureCheck declarations of the registered claims (``ClaimSpec.regression``)."""
    from ..claims import CLAIMS
    return {spec.id: tuple(spec.regression) for spec in CLAIMS}


def _read_json(path: Path, what: str) -> dict:
    path = Path(path)
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise ValueError(f"{what} {path} does not exist" + ("; " + REGENERATE if what == "baseline" else "")) \
            from None
    except NotRegularFileError:
        raise ValueError(f"{what} {path} is not a regular file (a directory, a FIFO or a device)") from None
    except OSError as exc:
        raise ValueError(f"{what} {path} cannot be read ({exc.strerror})") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{what} {path} is not JSON ({exc}); "
                         + (REGENERATE if what == "baseline" else "rerun `alft report`")) from None
    if not isinstance(doc, dict):
        raise ValueError(f"{what} {path} is not a JSON object")
    return doc


def load_results(path) -> dict:
    """Read a results.json written by ``alft report``; a clear error when it is not one (or an old schema)."""
    doc = _read_json(Path(path), "results file")
    check_results(doc, str(path))
    return doc


def check_results(doc: Mapping, where: str = "results") -> None:
    """Raise ValueError unless ``doc`` is a results document of the schema this version writes."""
    if doc.get("schema") != RESULTS_SCHEMA:
        raise ValueError(f"{where} is not an alft-verify results document (schema {doc.get('schema')!r}, "
                         f"expected {RESULTS_SCHEMA!r})")
    want = _results_schema_version()
    if doc.get("schema_version") != want:
        raise ValueError(f"{where} has results schema version {doc.get('schema_version')!r}; this alft-verify "
                         f"reads version {want}: rerun `alft report`")
    if not isinstance(doc.get("claims"), list):
        raise ValueError(f"{where} has no 'claims' list")


def load_baseline(path) -> dict:
    """Read and validate a baseline file; a clear error saying what is wrong and how to regenerate."""
    doc = _read_json(Path(path), "baseline")
    if doc.get("schema") != BASELINE_SCHEMA:
        raise ValueError(f"{path} is not an alft-verify baseline (schema {doc.get('schema')!r}, expected "
                         f"{BASELINE_SCHEMA!r}); pass the right file with --baseline, or " + REGENERATE)
    if doc.get("schema_version") != BASELINE_SCHEMA_VERSION:
        raise ValueError(f"baseline {path} has schema version {doc.get('schema_version')!r}, this alft-verify "
                         f"reads version {BASELINE_SCHEMA_VERSION}; " + REGENERATE)
    if doc.get("results_schema_version") != _results_schema_version():
        raise ValueError(f"baseline {path} was written from results schema version "
                         f"{doc.get('results_schema_version')!r}, this alft-verify writes version "
                         f"{_results_schema_version()}; " + REGENERATE)
    claims = doc.get("claims")
    if not isinstance(claims, dict) or not all(isinstance(c, dict) and isinstance(c.get("figures"), dict)
                                               for c in claims.values()):
        raise ValueError(f"baseline {path} has no valid 'claims' mapping; " + REGENERATE)
    if not isinstance(doc.get("profile"), str) or not isinstance(doc.get("seed"), int):
        raise ValueError(f"baseline {path} does not record its profile and seed; " + REGENERATE)
    return doc


def _validate_entry(claim_id: str, label: str, entry: Mapping) -> None:
    v, kind = entry["value"], entry["kind"]
    where = f"{claim_id} figure {label!r} (declared in the claim's regression=...)"
    if v == MISSING:
        raise ValueError(f"{where} is not in the results: fix the path of the declaration")
    numeric = (lambda x: isinstance(x, (int, float)) and not isinstance(x, bool))
    if kind == "relative" and not (numeric(v) or (isinstance(v, list) and v and all(map(numeric, v)))):
        raise ValueError(f"{where} is declared relative but is not a number or a list of numbers: {v!r}")
    if kind == "interval" and not (isinstance(v, list) and len(v) == 2 and all(map(numeric, v)) and v[0] <= v[1]):
        raise ValueError(f"{where} is declared an interval but is not a [lo, hi] pair: {v!r}")
    if kind == "decimal" and not isinstance(v, str):
        raise ValueError(f"{where} is declared a decimal string but is {type(v).__name__}: {v!r}")


def build_baseline(results: Mapping, checks: Mapping | None = None) -> dict:
    """The baseline document of a PASSing results document (``checks``: claim id -> declarations)."""
    check_results(results)
    if results.get("summary", {}).get("status") != "PASS":
        failed = [c["id"] for c in results["claims"] if c.get("status") == "FAIL"]
        raise ValueError(f"a baseline must come from a passing report; claims {failed} FAIL in this run")
    checks = declared_checks() if checks is None else checks
    claims = {}
    for c in results["claims"]:
        entries = extract_claim(c, checks.get(c["id"], ()))
        for label, entry in entries.items():
            _validate_entry(c["id"], label, entry)
        claims[c["id"]] = {"status": c["status"], "figures": entries}
    return {"schema": BASELINE_SCHEMA, "schema_version": BASELINE_SCHEMA_VERSION,
            "profile": results["profile"], "seed": results["seed"],
            "results_schema_version": results["schema_version"],
            "written_from": {"package_version": results.get("package_version"),
                             "git_commit": results.get("git_commit")},
            "claims": claims}


def is_baseline_file(path) -> bool:
    """True when ``path`` is a regular file holding an alft-verify baseline (any version)."""
    try:
        old = json.loads(read_regular(path, max_bytes=1 << 28).decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(old, dict) and old.get("schema") == BASELINE_SCHEMA


def check_baseline_target(path, *, name: str = "--baseline") -> Path:
    """The output rule for the baseline file: new, or an existing writable alft-verify baseline."""
    return check_output_file(path, name=name, owned=is_baseline_file, what="an alft-verify baseline")


def write_baseline(path, doc: Mapping, *, name: str = "--baseline") -> Path:
    """Write ``doc`` atomically; an existing file is replaced only if it is a writable alft-verify baseline."""
    write_output_file(path, json.dumps(doc, indent=1, sort_keys=False, allow_nan=False) + "\n", name=name,
                      owned=is_baseline_file, what="an alft-verify baseline")
    return Path(path)


@dataclass
class RegressionReport:
    """Outcome of comparing a run with the baseline: figures compared and the differences."""

    compared: int = 0
    differences: list[Difference] = field(default_factory=list)
    baseline_path: str = ""

    @property
    def passed(self) -> bool:
        return not self.differences

    def render(self) -> str:
        """A readable diff: one line per moved figure (claim, figure, baseline, now, tolerance)."""
        head = (f"regression vs {self.baseline_path or 'baseline'}: "
                + ("PASS" if self.passed else f"FAIL, {len(self.differences)} change(s)")
                + f" in {self.compared} figures compared")
        if self.passed:
            return head
        rows = [("claim", "figure", "baseline", "now", "tolerance")]
        rows += [(d.claim, d.figure, d.baseline, d.now, d.tolerance) for d in self.differences]
        widths = [min(max(len(r[i]) for r in rows), 70) for i in range(5)]
        lines = [head, ""]
        for r in rows:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
        lines += ["", "If the change is intended, " + REGENERATE + " and commit both."]
        return "\n".join(lines)


def compare(baseline: Mapping, results: Mapping, checks: Mapping | None = None,
            baseline_path: str = "") -> RegressionReport:
    """Compare a results document with a baseline document under the current declarations."""
    check_results(results)
    for key in ("profile", "seed"):
        if baseline.get(key) != results.get(key):
            raise ValueError(f"the baseline is for {key} {baseline.get(key)!r} but the results are for "
                             f"{key} {results.get(key)!r}: compare runs of the same configuration "
                             f"(`alft baseline` runs the baseline's profile and seed for you)")
    checks = declared_checks() if checks is None else checks
    rep = RegressionReport(baseline_path=baseline_path)
    now_claims = {c["id"]: c for c in results["claims"]}
    for cid, base in baseline["claims"].items():
        if cid not in now_claims:
            rep.differences.append(Difference(cid, "(claim)", "present", "(missing from this run)", "identical"))
            continue
        n, diffs = compare_claim(cid, base["figures"], extract_claim(now_claims[cid], checks.get(cid, ())))
        rep.compared += n
        rep.differences.extend(diffs)
    for cid in now_claims:
        if cid not in baseline["claims"]:
            rep.differences.append(Difference(cid, "(claim)", "(not in baseline)", "present", "identical"))
    return rep
