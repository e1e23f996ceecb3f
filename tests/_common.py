"""Small helpers shared by test modules (not a test module itself)."""
from __future__ import annotations


def is_type(kind):
    """A cache validator for mechanics tests: the entry's type only (the solvers' own validators re-verify
    content; these tests exercise the cache's reading, writing and refusing)."""
    def check(v):
        if not isinstance(v, kind) or isinstance(v, bool):
            raise TypeError(f"expected {kind.__name__}, got {type(v).__name__}")
    return check


def print_summary_line(request, line: str) -> None:
    """Write ``line`` to the terminal after a module's tests (visible also under ``-q`` and output capture)."""
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    capman = request.config.pluginmanager.get_plugin("capturemanager")
    if tr is not None and capman is not None:
        with capman.global_and_fixture_disabled():
            tr.write_line("")
            tr.write_line(line)
    else:  # pragma: no cover
        print(line)
