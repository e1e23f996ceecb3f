"""What a claim declares for the regression baseline: which figures must not move, and how they compare.

A claim module lists :class:`FigureCheck` declarations in ``ClaimSpec(regression=...)``:

.. code-block:: python

    from .regression.spec import FigureCheck, exact, relative, decimal, interval, table

    CLAIM = ClaimSpec(..., regression=(
        decimal("per_K[*]/lower_str", "certified decimal string of the E*_K lower bound"),
        relative("constant/estimate", 1e-10, "extrapolated constant; float64 least squares"),
        interval("monte_carlo[*]/mean_interval", "Monte Carlo interval: must overlap the baseline's"),
        table("Certified E*_K", "every cell of the report table"),
    ))

Paths point into the claim's ``figures`` (``ClaimResult.figures``); segments are separated by
``/`` (figure names may contain dots, e.g. ``power_0.5``). A segment ``name[*]`` expands over a
list (elements that are dicts with distinct ``K`` are labelled ``name[K=64]``, others ``name[3]``), a
segment with one ``*`` over the matching keys of a dict (``*`` all keys, ``power_*`` some). ``table("<title prefix>", ...)`` checks a report table
(``ClaimResult.tables``) cell by cell through a checksum of its columns and rows.

Kinds and their meaning:

* ``exact``     the JSON value must be identical (integers, booleans, strings, counts; floats bit for bit);
* ``decimal``   a certified decimal string, compared character by character;
* ``relative``  numbers (or lists of numbers) within ``tol`` relatively: ``|now - base| <= tol |base|``;
* ``interval``  a ``[lo, hi]`` pair (a Monte Carlo confidence interval): the two intervals must overlap;
* ``table``     a report table: the SHA-256 of its canonical JSON must be identical (the diff names the cells).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["FigureCheck", "KINDS", "exact", "decimal", "relative", "interval", "table", "parse_path",
           "describe_tolerance"]

KINDS = ("exact", "decimal", "relative", "interval", "table")

_SEGMENT = re.compile(r"^(?:[^/\[\]*]*\*[^/\[\]*]*|[^/\[\]*]+(?:\[\*\])?)$")


def parse_path(path: str) -> list[tuple[str, bool]]:
    """Split a figure path into ``(name, expand_list)`` segments; a name with one ``*`` is a pattern
    over the keys of a dict (``*``: every key, ``power_*``: keys starting with ``power_``)."""
    if not isinstance(path, str) or not path or path.startswith("/") or path.endswith("/"):
        raise ValueError(f"path must be a non-empty 'a/b[*]/c' figure path, got {path!r}")
    out = []
    for seg in path.split("/"):
        if not _SEGMENT.match(seg):
            raise ValueError(f"path segment {seg!r} in {path!r} must be a name, 'name[*]' or a key pattern "
                             "with one '*' ('*', 'power_*')")
        out.append((seg[:-3], True) if seg.endswith("[*]") else (seg, False))
    return out


@dataclass(frozen=True)
class FigureCheck:
    """One regression figure of a claim: where it is, how it is compared, and why that way.

    Attributes
    ----------
    path : str   figure path into ``figures`` (module docstring), or the title prefix of a report table
    kind : str   one of :data:`KINDS`
    why : str    one sentence: why this figure and this comparison (shown in docs and diffs)
    tol : float  relative tolerance (kind ``relative`` only)
    """

    path: str
    kind: str
    why: str
    tol: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "relative":
            if not isinstance(self.tol, (int, float)) or isinstance(self.tol, bool) or not 0 < self.tol < 1:
                raise ValueError(f"tol must be a number in (0, 1) for a relative check of {self.path!r}, "
                                 f"got {self.tol!r}")
        elif self.tol is not None:
            raise ValueError(f"tol applies only to kind 'relative', not {self.kind!r} ({self.path!r})")
        if not isinstance(self.why, str) or not self.why.strip():
            raise ValueError(f"why must say why {self.path!r} is checked this way (a non-empty string)")
        if self.kind == "table":
            if not isinstance(self.path, str) or not self.path.strip():
                raise ValueError(f"a table check needs the table's title prefix, got {self.path!r}")
        else:
            parse_path(self.path)


def describe_tolerance(kind: str, tol: float | None = None) -> str:
    """A comparison in words: ``identical``, ``relative 1e-09``, ``intervals overlap``, ..."""
    if kind == "relative":
        return f"relative {tol:g}" if isinstance(tol, (int, float)) else "relative (no tolerance recorded)"
    return {"exact": "identical", "decimal": "identical digits", "interval": "intervals overlap",
            "table": "identical cells"}.get(kind, f"unknown kind {kind!r}")


def exact(path: str, why: str) -> FigureCheck:
    """Identical JSON value (counts, booleans, K values, float64 bit for bit)."""
    return FigureCheck(path, "exact", why)


def decimal(path: str, why: str) -> FigureCheck:
    """A certified decimal string, digit for digit."""
    return FigureCheck(path, "decimal", why)


def relative(path: str, tol: float, why: str) -> FigureCheck:
    """A number (or list of numbers) within ``tol`` relatively."""
    return FigureCheck(path, "relative", why, tol)


def interval(path: str, why: str) -> FigureCheck:
    """A [lo, hi] interval (Monte Carlo): must overlap the baseline's."""
    return FigureCheck(path, "interval", why)


def table(title_prefix: str, why: str) -> FigureCheck:
    """A report table, identified by the start of its title: every cell identical."""
    return FigureCheck(title_prefix, "table", why)
