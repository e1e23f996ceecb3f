"""Helpers shared by benchmark modules: keep each benchmark's median, and at the end of a module write
a summary to ``.benchmarks/<name>.json`` and print it past pytest's output capture (so that the
side-by-side ratios are visible in a plain ``--benchmark-only`` run)."""
from __future__ import annotations

import json
from pathlib import Path


def record_median(store: dict, benchmark, name: str) -> None:
    """``store[name]`` = the benchmark's median in seconds (nothing when benchmarks are disabled)."""
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        store[name] = stats.stats.median


def publish(request, filename: str, summary: dict, lines: list[str]) -> Path:
    """Write ``summary`` as JSON under ``.benchmarks/`` and print ``lines`` outside the capture."""
    path = Path(".benchmarks") / filename
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    text = "\n".join(["", *lines, f"  (written to {path})"])
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is None:  # pragma: no cover
        print(text)
        return path
    with capman.global_and_fixture_disabled():
        print(text, flush=True)
    return path
