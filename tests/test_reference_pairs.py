"""Reference pairs, in the style of torch's distribution tests.

``REFERENCES`` lists, per registered method, (generator, parameters, K) cases with an
independent reference implementation of the table (closed forms written directly in
Python floats or Fractions, not through the library's construction code). One
parametrized test checks every pair; another fails when a registered method has no entry.
"""
import math
from fractions import Fraction

import numpy as np
import pytest

from estimators import build_table
from estimators.methods import METHODS


def _ustat_power(alpha, K):
    n = K - 1
    j = alpha - 1  # reward p^j / j: falling factorial c^(j) / n^(j)
    return [math.comb(c, j) / math.comb(n, j) / j for c in range(K)]


def _plugin_log(K):
    return [math.log((c + 1) / K) for c in range(K)]


def _plugin_power(alpha, K):
    return [((c + 1) / K) ** (alpha - 1) / (alpha - 1) for c in range(K)]


def _jackknife_log(K):
    n = K - 1
    out = []
    for c in range(K):
        v = n * math.log((c + 1) / K)
        if n > 1:
            mean_deleted = 0.0
            if c > 0:
                mean_deleted += c / n * math.log(c / n)
            if c < n:
                mean_deleted += (n - c) / n * math.log((c + 1) / n)
            v -= (n - 1) * mean_deleted
        out.append(v)
    return out


# method -> list of (generator, generator params, K, reference values, relative tolerance)
REFERENCES = {
    "ustat": [("power", {"alpha": a}, K, _ustat_power(a, K), 1e-15) for a, K in [(2, 2), (3, 5), (4, 30), (6, 64)]]
    + [("euclidean", {}, 9, [c / 8 for c in range(9)], 1e-15)],
    "plugin": [("kl", {}, K, _plugin_log(K), 1e-15) for K in (2, 3, 16, 1000)]
    + [("power", {"alpha": 2.5}, 7, _plugin_power(2.5, 7), 1e-14)],
    "jackknife": [("kl", {}, K, _jackknife_log(K), 1e-13) for K in (2, 3, 10, 100)],
}

PAIRS = [(m, *case) for m, cases in REFERENCES.items() for case in cases]


@pytest.mark.parametrize("method,gen,gp,K,ref,rtol", PAIRS,
                         ids=[f"{m}-{g}-{K}" for m, g, _, K, _, _ in PAIRS])
def test_table_matches_reference(method, gen, gp, K, ref, rtol):
    t = build_table(gen, method, K, generator_params=gp)
    np.testing.assert_allclose(t.values, ref, rtol=rtol, atol=rtol * max(1.0, max(map(abs, ref))))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_registered_method_has_a_reference(method):
    assert method in REFERENCES, (f"method {method!r} is registered but has no independent reference entry in "
                                  f"tests/test_reference_pairs.py::REFERENCES; add one")
