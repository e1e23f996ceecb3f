"""Regression against a committed baseline: ``alft baseline`` (check) and ``alft baseline --write``.

Claims declare their regression figures (:mod:`.spec`); :mod:`.compare` extracts and compares
them; :mod:`.baseline` reads and writes ``reports/baseline.json``; :mod:`.cli` is the command.
This package must not import the claim registry at import time (claim modules import :mod:`.spec`).
"""
from .spec import KINDS, FigureCheck, decimal, exact, interval, relative, table

__all__ = ["FigureCheck", "KINDS", "exact", "decimal", "relative", "interval", "table"]
