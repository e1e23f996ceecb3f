"""The rate-verification report: runs the claim checks and writes index.md, index.html,
PNG plots and results.json into one directory (see README for the results.json schema)."""
from .builder import run_report

__all__ = ["run_report"]
