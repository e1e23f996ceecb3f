"""Shared evaluation of a generator's target at rational points, exactly or at high precision."""
from __future__ import annotations

from fractions import Fraction

import mpmath

from .._validate import check_exact_work, to_float64

#: digits used for non-polynomial targets before the single rounding to float64
REFERENCE_DPS = 40


def evaluate_entries(generator, entries, *, method: str = "plugin") -> tuple[list[float], tuple, int | None, str]:
    """Evaluate ``entries`` (callables ``h(evaluate) -> value`` over exact points) once exactly
    (polynomial targets) or in mpmath at REFERENCE_DPS digits, then round each once to float64.

    Returns ``(values, reference, reference_dps, provenance)``.
    """
    if generator.is_polynomial:
        check_exact_work(generator, len(entries), method=method)
        ref = tuple(Fraction(h(generator.target_exact)) for h in entries)
        return [to_float64(r) for r in ref], ref, None, "exact rational arithmetic, each entry rounded once to float64"
    with mpmath.workdps(REFERENCE_DPS + 10):
        def tmp(q: Fraction):
            return generator.target_mp(mpmath.mpf(q.numerator) / q.denominator)
        hp = [h(tmp) for h in entries]
        ref = tuple(mpmath.nstr(v, REFERENCE_DPS, strip_zeros=False) for v in hp)
        vals = [to_float64(v) for v in hp]
    return vals, ref, REFERENCE_DPS, f"mpmath at {REFERENCE_DPS + 10} digits, each entry rounded once to float64"
