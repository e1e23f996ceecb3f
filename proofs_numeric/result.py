"""Structured results of claim checks: what the report and results.json are made of."""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = ["ClaimResult", "ClaimSpec", "KeyFigure", "ReportTable", "RunContext", "PASS", "FAIL", "SKIP", "jsonable"]

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass
class ReportTable:
    """A table for the report: a title, column names and rows of plain values.

    ``detail``: the full table when ``rows`` is a condensed view (e.g. ranges of K where rows
    agree); the report shows ``rows`` and writes ``detail`` as a CSV file beside the report. A long
    table without ``detail`` is shown as a short excerpt, the full rows collapsed below it and in a
    CSV file (:mod:`proofs_numeric.report.tables`).
    """

    title: str
    columns: list[str]
    rows: list[list[Any]]
    detail: "ReportTable | None" = None


@dataclass
class ClaimResult:
    """Outcome of one claim check.

    Attributes
    ----------
    id : str            claim id, "C1" ... "C9"
    status : str        PASS, FAIL or SKIP; PASS/FAIL must be ``criteria.verdict(criteria)``
    summary : str       what was shown, at most ~120 words (tests fail above 150)
    criteria : list     :class:`proofs_numeric.criteria.Criterion`: the pass criterion with its numbers
    figures : dict      key figures (JSON-serialisable), recorded in results.json
    accuracy : dict     what (in words, not a figure key) -> how accurate it is and how that is known
    tables, plots       report content (plots are file names inside the report directory)
    captions : dict     plot file name -> the finding it shows (the figure caption)
    notes : list[str]   caveats, what is proved vs. only supported numerically
    """

    id: str
    title: str
    status: str
    summary: str
    criteria: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    accuracy: dict = field(default_factory=dict)
    tables: list[ReportTable] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    captions: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_json(self) -> dict:
        d = asdict(self)
        d["tables"] = [asdict(t) for t in self.tables]
        d["criteria"] = [c.to_json() if hasattr(c, "to_json") else dict(c) for c in self.criteria]
        return d


@dataclass
class RunContext:
    """What a check gets besides its parameters: where to put plots, how to log, the seed."""

    outdir: Path | None = None
    seed: int = 20261128
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr, flush=True))
    results: dict = field(default_factory=dict)  # earlier claims' results, by id

    def plot_path(self, name: str) -> Path | None:
        """Path for a plot file inside the report directory (None when plots are not wanted)."""
        if self.outdir is None:
            return None
        return Path(self.outdir) / name


@dataclass(frozen=True)
class KeyFigure:
    """The result a claim shows in the report's summary table: ``label``, ``text(figures) -> str`` and
    ``accuracy`` (a string, or ``accuracy(figures) -> str``): how accurate that figure is, in a few words."""

    label: str
    text: Callable[[dict], str]
    accuracy: "str | Callable[[dict], str] | None" = None

    def render(self, figures: Mapping) -> str | None:
        """The text, or None when the figures do not hold it (a check that failed before computing it)."""
        try:
            return str(self.text(figures))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            return None

    def render_accuracy(self, figures: Mapping) -> str | None:
        """The accuracy statement, or None (none declared, or the figures do not hold it)."""
        if self.accuracy is None or isinstance(self.accuracy, str):
            return self.accuracy
        try:
            return str(self.accuracy(figures))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            return None


@dataclass(frozen=True)
class ClaimSpec:
    """A claim check: ``run(params, ctx)`` with ``params = profiles[profile]``.

    ``statement``: the claim in one sentence (report notation); ``regression``: the figures the
    committed baseline pins, as :class:`proofs_numeric.regression.spec.FigureCheck` declarations
    (path, kind, tolerance, why); ``key_figure``: what the report's summary table shows for this
    claim. The run returns the pass criteria with its result (docs/report.md, "Declaring a claim").
    """

    id: str
    title: str
    run: Callable[[Mapping, RunContext], ClaimResult]
    profiles: Mapping[str, Mapping]
    regression: tuple = ()
    key_figure: KeyFigure | None = None
    statement: str = ""

    def execute(self, profile: str, ctx: RunContext, overrides: Mapping | None = None) -> ClaimResult:
        if profile not in self.profiles:
            raise ValueError(f"profile must be one of {sorted(self.profiles)}, got {profile!r}")
        params = dict(self.profiles[profile])
        params.update(overrides or {})
        t0 = time.perf_counter()
        res = self.run(params, ctx)
        res.seconds = round(time.perf_counter() - t0, 3)
        _check_verdict(res)
        return res


def _check_verdict(res: ClaimResult) -> None:
    """A PASS or FAIL must be the verdict of the stated criteria; a mismatch is a bug in the check and
    becomes a FAIL that says so (the report never shows a verdict its criteria contradict)."""
    from .criteria import verdict
    if res.status == SKIP or not res.criteria:
        return
    expected = verdict(res.criteria)
    if res.status != expected:
        res.notes.append(f"the check returned {res.status} but its pass criteria give {expected}: a bug in the "
                         f"check; reported as FAIL")
        res.status = FAIL
    unmet = [c for c in res.criteria if not c.met]
    if res.status == FAIL and unmet and not res.summary.startswith("FAILED"):
        res.summary = ("FAILED: " + "; ".join(f"{c.name}: {c.measured}" for c in unmet) + ". " + res.summary)


def jsonable(x):
    """Make figures JSON-safe: non-finite floats become strings ("inf", "nan")."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item):
        return jsonable(x.item())
    return x
