"""Shared evaluation of a generator's target at rational points, exactly or at high precision."""
from __future__ import annotations

from fractions import Fraction

import mpmath

from .._validate import check_exact_work

#: digits used for non-polynomial targets before the single rounding to float64
REFERENCE_DPS = 40


def _float(x) -> float:
    """float64 value of an entry; an entry beyond float64's range is a clear error, not an OverflowError."""
    try:
        v = float(x)
    except OverflowError:
        v = float("inf")
    if v in (float("inf"), float("-inf")):
        raise ValueError(f"a table entry ({mpmath.nstr(mpmath.mpf(x.numerator) / x.denominator if isinstance(x, Fraction) else x, 8)}) "
                         f"exceeds the float64 range; scale the generator's coefficients down")
    return v


def evaluate_entries(generator, entries, *, method: str = "plugin") -> tuple[list[float], tuple, int | None, str]:
    """Evaluate ``entries`` (callables ``h(evaluate) -> value`` over exact points) once exactly
    (polynomial targets) or in mpmath at REFERENCE_DPS digits, then round each once to float64.

    Returns ``(values, reference, reference_dps, provenance)``.
    """
    if generator.is_polynomial:
        check_exact_work(generator, len(entries), method=method)
        ref = tuple(Fraction(h(generator.target_exact)) for h in entries)
        return [_float(r) for r in ref], ref, None, "exact rational arithmetic, each entry rounded once to float64"
    with mpmath.workdps(REFERENCE_DPS + 10):
        def tmp(q: Fraction):
            return generator.target_mp(mpmath.mpf(q.numerator) / q.denominator)
        hp = [h(tmp) for h in entries]
        ref = tuple(mpmath.nstr(v, REFERENCE_DPS, strip_zeros=False) for v in hp)
        vals = [_float(v) for v in hp]
    return vals, ref, REFERENCE_DPS, f"mpmath at {REFERENCE_DPS + 10} digits, each entry rounded once to float64"
