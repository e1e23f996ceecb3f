"""The C9 report section (baselines that see the sample): what it recomputes, and what makes it fail.

The section runs end to end on the quick profile; the default profile runs once, in ``alft baseline``.
"""
from fractions import Fraction

import pytest

from estimators import build_table
from estimators.advantages import effective_table
from proofs_numeric import c9_baselines as c9
from proofs_numeric.result import FAIL, PASS, RunContext

F = Fraction


@pytest.fixture(scope="module")
def quick():
    return c9.CLAIM.execute("quick", RunContext(log=lambda m: None))


@pytest.mark.slow
def test_quick_section_passes_with_every_criterion_met(quick):
    assert quick.status == PASS, quick.summary
    assert all(c.met for c in quick.criteria)
    assert quick.figures["theorem_cases"] == len(quick.tables[0].rows)


@pytest.mark.slow
def test_quick_section_figures_obey_the_theorem(quick):
    f = quick.figures
    for r in f["effective_bias"]:
        # the corrected table under the baseline is the K - 1 table: nothing is below E* of K - 1 samples
        assert r["corrected_under_rloo"][1] >= r["E_star_K_minus_1"][0] * (1 - 1e-9), r
        assert r["as_used"][0] <= r["as_used"][1] and r["plain_under_rloo"][0] <= r["plain_under_rloo"][1]
        if r["method"] == "plugin":   # K plug-in under the baseline = K - 1 plug-in + a constant (docs/advantages.md)
            assert abs(r["plain_under_rloo"][1] / r["corrected_under_rloo"][1] - 1) < 1e-6, r
    eu = [r for r in f["fixed_points"] if r["game"] == "euclidean"]
    for r in eu:
        if r["built_for"] == r["advantage"]:
            assert r["tv"] < 1e-12, r


def test_enumeration_detects_a_wrong_effective_table():
    """The exact enumeration has power: an effective table off by one count (g(1..K-1) instead of g(0..K-2))
    does not satisfy the identity."""
    g = [F(c * c + 1, c + 2) for c in range(5)]
    r, probs, beta = [F(1), F(-1, 2), F(1, 3)], [F(1, 2), F(1, 3), F(1, 6)], F(3, 4)
    assert c9.identity_holds(g, r, beta, probs, "rloo")
    A = c9.expected_advantages_exact(g, r, beta, probs, "rloo")
    u_wrong = [c9._binomial_mean(g[1:], p) for p in probs]
    assert len({A[z] - (r[z] - beta * u_wrong[z]) for z in range(3)}) > 1


@pytest.mark.slow
def test_section_fails_when_the_corrected_table_is_wrong(monkeypatch):
    """Monkeypatched so that 'corrected' tables are the plain ones: the exactness, fixed-point and Monte Carlo
    criteria must fail (a check that cannot fail is no check)."""
    real = c9.build_table

    def plain_build(gen, method, K, advantage="decoupled", **kw):
        t = real(gen, method, K, **kw)
        if advantage != "rloo":
            return t
        from estimators.table import Table
        return Table(values=t.values, generator=t.generator, method=t.method, params={**t.params, "advantage": "rloo"},
                     provenance="wrong on purpose", reference=t.reference, reference_dps=t.reference_dps)

    monkeypatch.setattr(c9, "build_table", plain_build)
    res = c9.CLAIM.execute("quick", RunContext(log=lambda m: None))
    assert res.status == FAIL
    failed = {c.name for c in res.criteria if not c.met}
    assert {"corrected U-statistic", "corrected table reaches p*", "Monte Carlo"} <= failed, failed


def test_weighted_bias_up_to_a_constant_brackets_a_shifted_table():
    """Adding a constant to a table leaves its bias up to a constant unchanged (both ends within their
    accuracy), while the plain weighted bias moves."""
    t = build_table("kl", "jackknife", 12)
    lo, up, _ = c9.weighted_bias_up_to_constant(t)
    from estimators.table import Table
    shifted = Table(values=t.values + 0.25, generator=t.generator, method=t.method)
    lo2, up2, c2 = c9.weighted_bias_up_to_constant(shifted)
    assert lo <= up and lo2 <= up2
    assert abs(up2 / up - 1) < 1e-6 and abs(c2 + 0.25) < 0.3
    assert effective_table(t, "rloo").K == 11


def test_quick_section_recomputes_the_rloo_aqp_certificates(quick):
    a = quick.figures["aqp_rloo"]
    assert a["loaded"] > 0 and a["verified"] and all(r["ok"] for r in a["verified"])
    assert any(r["bias_recertified"] for r in a["verified"])


@pytest.mark.parametrize("field,factor,match", [("optimum_lower_bound", 1.01, "dual bound"),
                                                ("budget_lower", 0.999, "budget"),
                                                ("variance_upper", 1.5, "advantage variance")])
def test_the_rloo_aqp_recomputation_catches_an_edited_certificate(field, factor, match):
    """A certificate edited and re-bound (a binding is no signature): recomputing it from the values says so."""
    from estimators import Table
    from estimators.certificates import BINDING_KEY, bind
    from proofs_numeric.c9_aqp_rloo import _reverified
    t = build_table("kl", "aqp", 6, eps=1.0, advantage="rloo")
    assert not _reverified(6, 1.0, t, False, 1e-3)["problems"]
    body = {k: v for k, v in t.certificate.items() if k != BINDING_KEY}
    body[field] *= factor
    d = t.to_dict()
    d["certificate"] = bind(t, body, certifier=t.certificate[BINDING_KEY]["certifier"])
    problems = _reverified(6, 1.0, Table.from_dict(d), False, 1e-3)["problems"]
    assert any(match in p for p in problems), problems
