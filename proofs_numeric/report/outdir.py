"""The report directory (``alft report --out DIR``): safe to replace, never someone else's.

The rule is the shared output rule of :mod:`estimators.outputs` (one rule for every command that
writes), with the report's marker:

* A finished report directory holds :data:`MARKER` (JSON, schema ``alft-verify/report-dir``).
  ``--out DIR`` may replace DIR only when it carries that marker or is empty; anything else (a file,
  ``/``, a directory of the user's, even one holding a ``results.json``) is refused *before* any
  check runs.
* The report is built in a sibling ``.DIR.<random>.partial/`` holding :data:`PARTIAL_MARKER` and
  renamed into place at the end under an exclusive lock on the parent directory; a run killed with
  SIGKILL leaves it behind, and later runs remove it only when provably ours and stale.
"""
from __future__ import annotations

from pathlib import Path

from estimators import outputs
from estimators.outputs import PARTIAL_MARKER, OutputKind

__all__ = ["MARKER", "PARTIAL_MARKER", "REPORT", "check_out", "make_partial", "swap_in", "clean_orphans",
           "is_report_dir"]

MARKER = ".alft-report.json"
#: the folders ``alft report`` owns
REPORT = OutputKind(command="alft report", markers=((MARKER, "schema", "alft-verify/report-dir"),))


def is_report_dir(path: Path) -> bool:
    """True when ``path`` is a directory carrying the report marker (written by ``alft report``)."""
    return outputs.is_own_dir(path, REPORT)


def check_out(out, *, name: str = "--out") -> Path:
    """Resolve ``out`` and check it can receive a report; ``ValueError`` naming ``name`` otherwise."""
    return outputs.check_output_dir(out, REPORT, name=name)


def clean_orphans(out: Path, log=None) -> list[Path]:
    """Remove ``.OUT.<token>.partial`` directories of dead runs on this host, and an own ``.OUT.old``."""
    return outputs.clean_orphans(out, REPORT, log)


def make_partial(out: Path, log=None) -> Path:
    """Clean stale orphans, then create the partial directory next to ``out`` with both markers."""
    return outputs.make_partial(out, REPORT, log)


def swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` by the finished directory ``tmp`` (refused when ``out`` is no longer replaceable)."""
    outputs.swap_in(tmp, out, REPORT)
