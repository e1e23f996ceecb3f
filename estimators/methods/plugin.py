"""The plug-in table: the target at the empirical frequency, g(c) = target((c+1)/K).

For KL this is the standard ``log((C_i + 1)/K)`` reward; for polynomial rewards it plugs in
the frequency (c+1)/K. Biased by Jensen for non-linear targets (C2: Theta(1/K) for KL).
"""
from __future__ import annotations

from fractions import Fraction

from ..table import Table
from ._plugin_common import evaluate_entries


def plugin_table(generator, K: int) -> Table:
    """target((c+1)/K): the empirical-frequency plug-in (biased, C2)."""
    entries = [(lambda ev, c=c: ev(Fraction(c + 1, K))) for c in range(K)]
    vals, ref, dps, prov = evaluate_entries(generator, entries)
    return Table(values=vals, generator=generator, method="plugin", provenance=prov,
                 reference=ref, reference_dps=dps)
