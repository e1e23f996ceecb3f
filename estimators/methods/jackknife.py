"""Delete-one jackknife bias correction of the plug-in (a classic baseline).

With n = K - 1 other samples and h_m(c) = target((c+1)/(m+1)) the plug-in from m others,
deleting one of the n others leaves count c-1 (with probability c/n over the deleted
sample) or c (probability (n-c)/n) among n-1 others, and

    g(c) = n h_n(c) - (n-1) [ (c/n) h_{n-1}(c-1) + ((n-c)/n) h_{n-1}(c) ].

The scored sample itself is never deleted.
"""
from __future__ import annotations

from fractions import Fraction

from ..table import Table
from ._plugin_common import evaluate_entries


def _entry(c: int, n: int):
    def h(ev):
        val = n * ev(Fraction(c + 1, n + 1))
        if n > 1:
            if c > 0:
                val -= (n - 1) * Fraction(c, n) * ev(Fraction(c, n))
            if c < n:
                val -= (n - 1) * Fraction(n - c, n) * ev(Fraction(c + 1, n))
        return val
    return h


def jackknife_table(generator, K: int) -> Table:
    """Delete-one jackknife correction of the plug-in (baseline)."""
    n = K - 1
    vals, ref, dps, prov = evaluate_entries(generator, [_entry(c, n) for c in range(K)], method="jackknife")
    return Table(values=vals, generator=generator, method="jackknife", provenance=prov,
                 reference=ref, reference_dps=dps)
