"""Pass criteria: what a claim's verdict requires, with its numbers, and whether this run met it.

A claim check decides PASS or FAIL *through* its criteria: it builds one :class:`Criterion` per
condition from the constants it compares with (a profile's ``slope_range``, a module's tolerance),
and its status is :func:`verdict` of them. The report prints the same objects, so the stated
criterion and the check cannot disagree (``ClaimSpec.execute`` refuses a status that is not the
verdict of the criteria). Requirements are written in the report's ASCII notation
(``<=``, ``K^2``, ``E*_K``); the renderer shows them as ≤, K², E*_K.

.. code-block:: python

    from .criteria import at_most, every, verdict, within

    criteria = [
        within("plug-in rate", "fitted log-log slope of sup_p p|b_g(p)| over K >= 32",
               {"lower ends": fit_lo.slope, "upper ends": fit_hi.slope}, params["slope_range"]),
        every("Monte Carlo", "each Monte Carlo interval contains the exact moment", n_within, n_cases),
    ]
    status = verdict(criteria)
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

from .result import FAIL, PASS

__all__ = ["Criterion", "Tally", "at_least", "at_most", "every", "holds", "num", "verdict", "within"]


@dataclass(frozen=True)
class Criterion:
    """One condition of a claim's verdict.

    Attributes
    ----------
    name : str         short label in words ("plug-in rate"), never a code identifier
    requirement : str  the condition with its numbers, built from the constants the check uses
    measured : str     what this run measured, formatted for reading
    met : bool         whether this run met the requirement
    """

    name: str
    requirement: str
    measured: str
    met: bool

    def to_json(self) -> dict:
        return asdict(self)


def num(x) -> str:
    """A constant as a reader writes it: ``-1.1``, ``0.001``, ``1e-9``, ``2`` (shortest exact form)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int) or (math.isfinite(x) and x == int(x) and abs(x) < 1e15):
        return str(int(x))
    text = repr(float(x))
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant}e{int(exp)}"
    return text


def _values(values) -> list[tuple[str, float]]:
    if isinstance(values, Mapping):
        return [(str(k), v) for k, v in values.items()]
    if isinstance(values, (list, tuple)):
        return [("", v) for v in values]
    return [("", values)]


def _measured(values, fmt: str) -> str:
    parts = []
    for label, v in _values(values):
        text = format(v, fmt) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)
        parts.append(f"{label} {text}" if label else text)
    return "; ".join(parts)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


def within(name: str, quantity: str, values, bounds: Sequence, *, fmt: str = ".4g") -> Criterion:
    """``quantity`` (one value or a mapping label -> value) must lie in ``[bounds[0], bounds[1]]``."""
    lo, hi = bounds
    vals = _values(values)
    met = bool(vals) and all(_finite(v) and lo <= v <= hi for _, v in vals)
    return Criterion(name, f"{quantity} must lie in [{num(lo)}, {num(hi)}]", _measured(values, fmt), met)


def at_most(name: str, quantity: str, values, limit, *, fmt: str = ".3g", strict: bool = False) -> Criterion:
    """``quantity`` (one value or a mapping) must be <= ``limit`` (< with ``strict``)."""
    vals = _values(values)
    met = bool(vals) and all(_finite(v) and (v < limit if strict else v <= limit) for _, v in vals)
    return Criterion(name, f"{quantity} must be {'<' if strict else '<='} {num(limit)}", _measured(values, fmt), met)


def at_least(name: str, quantity: str, values, limit, *, fmt: str = ".3g", strict: bool = False) -> Criterion:
    """``quantity`` (one value or a mapping) must be >= ``limit`` (> with ``strict``)."""
    vals = _values(values)
    met = bool(vals) and all(_finite(v) and (v > limit if strict else v >= limit) for _, v in vals)
    return Criterion(name, f"{quantity} must be {'>' if strict else '>='} {num(limit)}", _measured(values, fmt), met)


def every(name: str, requirement: str, n_ok: int, n_total: int, *, failures: Sequence[str] = ()) -> Criterion:
    """Each of ``n_total`` cases must hold (``n_total`` > 0). ``requirement`` says it of one case ("each
    Monte Carlo interval contains the exact mean"); the first failures are quoted."""
    measured = f"{n_ok} of {n_total} hold"
    if failures:
        measured += "; " + "; ".join(failures[:3]) + (f" (and {len(failures) - 3} more)" if len(failures) > 3 else "")
    return Criterion(name, requirement, measured, bool(n_total > 0 and n_ok == n_total))


def holds(name: str, requirement: str, met: bool, measured: str) -> Criterion:
    """A condition that is not a comparison of numbers (a theorem checked exactly, a refusal)."""
    return Criterion(name, requirement, measured, bool(met))


def verdict(criteria: Sequence[Criterion]) -> str:
    """PASS when there is at least one criterion and every one is met, else FAIL."""
    return PASS if criteria and all(c.met for c in criteria) else FAIL


class Tally:
    """Cases checked and failures found per criterion key, for checks made of many small conditions.

    ``tally.check("shipped", ok, "K=8: gap 2e-3")`` counts a case (and a failure when not ``ok``);
    ``tally.criterion("shipped", name, what)`` is the :func:`every` criterion over those cases.
    """

    def __init__(self) -> None:
        self._cases: Counter = Counter()
        self._failures: dict[str, list[str]] = defaultdict(list)

    def check(self, key: str, ok: bool, failure: str = "") -> bool:
        self._cases[key] += 1
        if not ok:
            self._failures[key].append(failure or f"a {key} case failed")
        return bool(ok)

    def fail(self, key: str, failure: str) -> None:
        """Count a failed case of ``key``."""
        self.check(key, False, failure)

    def cases(self, key: str) -> int:
        return self._cases[key]

    def failures(self, key: str | None = None) -> list[str]:
        if key is not None:
            return list(self._failures[key])
        return [f for msgs in self._failures.values() for f in msgs]

    def criterion(self, key: str, name: str, requirement: str) -> Criterion:
        n = self._cases[key]
        return every(name, requirement, n - len(self._failures[key]), n, failures=self._failures[key])
