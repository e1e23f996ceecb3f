"""``alft report``: run the claim checks and write the report directory.

The directory is built in a temporary sibling and swapped in at the end, so an interrupted
run never leaves a partial report behind.

Reproducibility: two runs with the same profile, seed, code and environment write the same
results.json except for the fields listed in :data:`TIME_FIELDS` (recorded in the document
itself as ``time_fields``); tests/test_report_reproducible.py checks it.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

from estimators._io import atomic_write_text
from estimators.montecarlo import check_seed

from ..claims import CLAIMS, claim_ids
from ..crosscheck.cli import keep_hypothesis_out_of_cwd
from ..result import FAIL, PASS, SKIP, ClaimResult, RunContext, jsonable
from .cuda_record import RECORD_PATH, load_record, record_verdict
from .outdir import check_out, make_partial, swap_in
from .render import DOCS_CLAIMS, render_html, render_markdown
from .tables import attach_csv_names, csv_text

__all__ = ["run_report", "add_parser", "RESULTS_SCHEMA_VERSION", "TIME_FIELDS", "claim_document", "DEFAULT_SEED"]

RESULTS_SCHEMA_VERSION = 3
#: the only fields of results.json that differ between two runs of the same configuration
TIME_FIELDS = ("generated_utc", "wall_seconds", "claims[*].seconds")
PROFILES = ("quick", "default", "full")
#: the seed of every random draw unless --seed says otherwise (the committed baseline uses it)
DEFAULT_SEED = 20261128
_REPO_ROOT = Path(__file__).resolve().parents[2]


def _versions() -> dict:
    out = {"python": sys.version.split()[0], "platform": platform.platform(), "cpu_count": os.cpu_count()}
    for mod in ("numpy", "scipy", "mpmath", "flint", "cvxpy", "matplotlib", "torch"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "unknown")
        except ImportError:
            out[mod] = None
    out["device"] = _device()
    return out


def _device() -> str:
    """The device the checks ran on: the CUDA device when torch sees one (C8 then checks it too), else the CPU."""
    try:
        import torch
        if torch.cuda.is_available():
            return f"CUDA: {torch.cuda.get_device_name(0)} (and the CPU)"
    except ImportError:
        pass
    return f"CPU ({platform.machine() or 'unknown architecture'})"


def _cuda_record() -> dict:
    """The stored GPU record of C8 (or why there is none / why it was not read), for results.json."""
    out = {"path": RECORD_PATH, "record": None, "verdict": None, "error": None}
    try:
        rec = load_record(_REPO_ROOT)
    except ValueError as exc:  # a record that does not follow the schema is shown as such, never dropped silently
        out["error"] = str(exc)
        return out
    if rec is not None:
        out.update(record=rec, verdict=record_verdict(rec))
    return out


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return r.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def run_report(out, *, profile: str = "default", claims=None, seed: int = DEFAULT_SEED, log=None,
               accept=None) -> dict:
    """Run the checks of ``claims`` (default: all) with ``profile`` and write the report to ``out``.

    Returns the results.json document. A check that raises is recorded as FAIL with the reason.
    ``accept(doc)`` (optional) is called before the finished report replaces ``out``; when it raises,
    ``out`` is left as it was (``alft baseline --write`` refuses a failing run this way).
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    wanted = claim_ids() if not claims else list(claims)
    unknown = [c for c in wanted if c not in claim_ids()]
    if unknown:
        raise ValueError(f"claims must be among {claim_ids()}, got {unknown}")
    seed = check_seed(seed)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    out = check_out(out)  # a file, /, or a directory alft report did not write: refused before any check runs
    keep_hypothesis_out_of_cwd()
    tmp = make_partial(out, log)
    try:
        ctx = RunContext(outdir=tmp, seed=seed, log=log)
        results: list[ClaimResult] = []
        t_start = time.perf_counter()
        for i, spec in enumerate(s for s in CLAIMS if s.id in wanted):
            log(f"[report] ({i + 1}/{len(wanted)}) {spec.id}: {spec.title} ...")
            try:
                res = spec.execute(profile, ctx)
            except Exception as exc:  # a crashing check is a FAIL with its reason, never a silent pass
                res = ClaimResult(id=spec.id, title=spec.title, status=FAIL,
                                  summary=f"the check raised {type(exc).__name__}: {exc}",
                                  notes=["".join(traceback.format_exception(exc)[-3:])])
            ctx.results[spec.id] = res
            results.append(res)
            log(f"[report] {spec.id}: {res.status} in {res.seconds:.1f}s")
        counts = {s: sum(r.status == s for r in results) for s in (PASS, FAIL, SKIP)}
        meta = {
            "schema": "alft-verify/results", "schema_version": RESULTS_SCHEMA_VERSION,
            "time_fields": list(TIME_FIELDS),
            "generated_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "profile": profile, "seed": seed, "package_version": _package_version(),
            "git_commit": _git_commit(), "environment": _versions(), "cuda_record": _cuda_record(),
            "wall_seconds": round(time.perf_counter() - t_start, 2),
            "summary": {"status": FAIL if counts[FAIL] else PASS, "passed": counts[PASS],
                        "failed": counts[FAIL], "skipped": counts[SKIP]},
        }
        specs = {s.id: s for s in CLAIMS}
        doc = dict(meta, claims=[claim_document(r, specs.get(r.id), tmp) for r in results])
        for c in doc["claims"]:
            for name, table in attach_csv_names(c):
                atomic_write_text(tmp / name, csv_text(table))
        atomic_write_text(tmp / "results.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")
        href = _docs_href(out)
        atomic_write_text(tmp / "index.md", render_markdown(doc, href))
        atomic_write_text(tmp / "index.html", render_html(doc, href))
        if accept is not None:
            accept(doc)
        swap_in(tmp, out)
        log(f"[report] wrote {out} ({meta['summary']['status']}, {meta['wall_seconds']}s)")
        return doc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def claim_document(res: ClaimResult, spec, outdir: Path | None = None) -> dict:
    """One claim's entry of results.json: the result, its statement, its key figure with its accuracy,
    and its plots' alt texts."""
    d = jsonable(res.to_json())
    d["statement"] = getattr(spec, "statement", "") or ""
    kf = spec.key_figure if spec is not None else None
    text = kf.render(d["figures"]) if kf is not None else None
    d["key_figure"] = ({"label": kf.label, "text": text, "accuracy": kf.render_accuracy(d["figures"])}
                       if text is not None else None)
    d["plot_alt"] = {p: _png_description(Path(outdir) / p) for p in d["plots"]} if outdir is not None else {}
    return d


def _png_description(path: Path) -> str | None:
    """The alt text :func:`proofs_numeric.plotting.save_figure` stores in the PNG (``Description``)."""
    try:
        from PIL import Image
        with Image.open(path) as im:
            return im.text.get("Description") if hasattr(im, "text") else None
    except (OSError, ImportError):
        return None


def _docs_href(out: Path) -> str | None:
    """Relative link from the report directory to docs/claims.md when the report lies in this repository."""
    target = _REPO_ROOT / DOCS_CLAIMS
    try:
        Path(out).resolve().relative_to(_REPO_ROOT)
    except ValueError:
        return None
    return os.path.relpath(target, Path(out).resolve()).replace(os.sep, "/") if target.exists() else None


def _package_version() -> str:
    from estimators import __version__
    return __version__


def add_parser(sub) -> None:
    from ..helpformat import HelpFormatter
    p = sub.add_parser(
        "report", help="run the claim checks and write the report",
        formatter_class=HelpFormatter,
        description="Run the checks of the claims (" + ", ".join(claim_ids()) + ") and write index.html, index.md, "
                    "PNG plots, CSV files of long tables and results.json into --out. Progress is logged on stderr.",
        epilog="exit status:\n  0  every claim checked passed (or was skipped)\n  1  a claim FAILED (the report is "
               "still written)\n  2  bad arguments (nothing is run)\n\nexamples:\n"
               "  alft report                                   # default profile -> reports/latest/\n"
               "  alft report --profile quick --out /tmp/r      # seconds\n"
               "  alft report --claims C1,C3 --seed 7           # two claims, another seed")
    p.add_argument("--out", default="reports/latest",
                   help="report directory; replaced only if an earlier alft report wrote it (default: reports/latest)")
    p.add_argument("--profile", choices=PROFILES, default="default",
                   help="quick: seconds (what the tests run); default: a few minutes on 2 cores; full: long sweeps "
                        "(default: default)")
    p.add_argument("--claims", metavar="IDS", help="comma-separated claim ids to run, e.g. C1,C2 (default: all)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"seed of every random draw (default: {DEFAULT_SEED})")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args) -> int:
    claims = [c.strip().upper() for c in args.claims.split(",")] if args.claims else None
    doc = run_report(args.out, profile=args.profile, claims=claims, seed=args.seed)
    return 0 if doc["summary"]["status"] == PASS else 1
