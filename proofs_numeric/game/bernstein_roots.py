"""Certified isolation of the real roots of a Bernstein polynomial on [0, 1], in exact rationals.

Used to split the mean B_g(p) of a table into monotone pieces (the roots of its derivative),
which is what makes the list of a table's fixed points complete (:mod:`.equilibria`).

Rule of signs in the Bernstein basis: the number of roots in the open interval is at most the
number of sign changes V of the coefficients, and of the same parity. So V = 0 means no root and
V = 1 exactly one (a sign change of the polynomial). Intervals with V >= 2 are halved by de
Casteljau's algorithm (exact: dyadic splits of rational coefficients) until every piece has
V <= 1 or is narrower than 2^-max_depth (then reported as an unresolved cluster). The Bernstein algebra (exact
values, derivative, de Casteljau splits) is :mod:`estimators.certified.bernstein`'s.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Sequence

from estimators.certified.bernstein import evaluate, sign_changes, split_half

__all__ = ["RootIsolation", "isolate_roots"]


@dataclass
class RootIsolation:
    """Roots of a Bernstein polynomial in the open interval (0, 1).

    ``exact``: roots hit exactly by a split point; ``brackets``: disjoint rational intervals
    (lo, hi), each holding exactly one root of odd multiplicity and no other root;
    ``clusters``: intervals narrower than 2^-max_depth with V >= 2 (possibly several roots).
    ``identically_zero``: every coefficient is 0.
    """

    exact: list = field(default_factory=list)
    brackets: list = field(default_factory=list)
    clusters: list = field(default_factory=list)
    identically_zero: bool = False

    def points(self) -> list[float]:
        """Approximate root locations (bracket midpoints), sorted."""
        pts = [float(x) for x in self.exact] + [float((a + b) / 2) for a, b in self.brackets + self.clusters]
        return sorted(pts)


def isolate_roots(coeffs: Sequence, *, max_depth: int = 60, refine_to: int = 52) -> RootIsolation:
    """Isolate the roots in (0, 1) of the Bernstein polynomial with ``coeffs`` (exact rationals).

    Brackets with one sign change are then narrowed by exact bisection to width 2^-refine_to.
    """
    b0 = [Fraction(c) for c in coeffs]
    out = RootIsolation()
    if all(c == 0 for c in b0):
        out.identically_zero = True
        return out
    stack = [(Fraction(0), Fraction(1), b0, 0)]
    while stack:
        lo, hi, b, depth = stack.pop()
        v = sign_changes(b)
        if v == 0:
            continue
        if v == 1 and b[0] != 0 and b[-1] != 0:
            out.brackets.append(_bisect(b0, lo, hi, refine_to))
            continue
        if depth >= max_depth:
            out.clusters.append((lo, hi))
            continue
        mid = (lo + hi) / 2
        left, right = split_half(b)
        if right[0] == 0:  # the polynomial vanishes at the split point
            out.exact.append(mid)
        # a zero end coefficient means a root at that end: drop it from the sub-interval test by
        # looking at the open interval only (sign changes ignore zeros)
        stack.append((lo, mid, left, depth + 1))
        stack.append((mid, hi, right, depth + 1))
    out.exact.sort()
    out.brackets.sort()
    out.clusters.sort()
    return out


def _bisect(b0, lo: Fraction, hi: Fraction, bits: int) -> tuple[Fraction, Fraction]:
    """Narrow a bracket with a sign change of the polynomial to width <= 2^-bits (exact signs)."""
    flo = evaluate(b0, lo)
    target = Fraction(1, 1 << bits)
    while hi - lo > target:
        mid = (lo + hi) / 2
        fm = evaluate(b0, mid)
        if fm == 0:
            return mid, mid
        if (fm > 0) == (flo > 0):
            lo, flo = mid, fm
        else:
            hi = mid
    return lo, hi
