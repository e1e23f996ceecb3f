"""C7: the vectorised stochastic dynamics -- one step against the exact expected update (Monte Carlo),
and the acceptance checks: stochastic runs settle on the exact fixed points (plug-in and an unbiased table).

Monte Carlo tests are seeded; each states its sample size and its family-wise false-alarm rate.
"""
import numpy as np
import pytest
from scipy import special, stats

from estimators import build_table
from proofs_numeric.game import RunConfig, get_game, simulate
from proofs_numeric.game.compare import AgreementCase, agreement_check
from proofs_numeric.game.equilibria import optimum
from proofs_numeric.game.expected import EnumeratedAdvantage, expected_field

ALPHA = 1e-3


@pytest.mark.parametrize("game_name,method,K,kind,update", [
    ("default", "plugin", 4, "decoupled", "pg"),
    ("default", "minimax", 4, "rloo", "pg"),
    ("default", "jackknife", 3, "grpo", "pg"),
    ("traces", "plugin", 4, "decoupled", "pg"),
    ("traces", "plugin", 4, "rloo", "md"),
    # K >= answers: the engine works per (answer, group) instead of per sample
    ("default", "aqp", 8, "grpo", "pg"),
    ("traces", "jackknife", 16, "rloo", "md"),
    ("traces", "plugin", 8, "decoupled", "pg"),
])
def test_one_step_mean_equals_the_exact_expected_update(game_name, method, K, kind, update):
    """20000 independent one-step runs (1 group each) from the same random logits; the centred mean logit
    change must match eta * E[update] from the exact enumeration, Student-t intervals Bonferroni over the
    T coordinates, family-wise false-alarm rate 1e-3."""
    game = get_game(game_name)
    t = build_table(game.generator, method, K, **({"eps": 10.0} if method == "aqp" else {}))
    theta0 = np.random.default_rng(5).normal(size=game.T)
    eta, S = 0.5, 20000
    tr = simulate(game, t, RunConfig(K=K, step_size=eta, steps=1, groups=1, seeds=S, advantage=kind,
                                     update=update, seed=11), theta0=theta0)
    delta = np.log(tr.pi_final) - np.log(special.softmax(theta0))
    delta -= delta.mean(axis=1, keepdims=True)
    F = EnumeratedAdvantage(game, t, kind)
    exact = eta * expected_field(game, F, theta0, update)
    exact -= exact.mean()
    mean, se = delta.mean(axis=0), delta.std(axis=0, ddof=1) / np.sqrt(S)
    q = stats.t.ppf(1 - ALPHA / (2 * game.T), S - 1)
    assert np.all(np.abs(mean - exact) <= q * se + 1e-12), (mean - exact) / se


def test_runs_are_reproducible_and_seeds_independent():
    game = get_game("default")
    t = build_table("kl", "plugin", 8)
    cfg = RunConfig(K=8, step_size=1.0, steps=20, groups=4, seeds=6, seed=3)
    a, b = simulate(game, t, cfg), simulate(game, t, cfg)
    assert np.array_equal(a.p, b.p) and a.p.shape == (6, 21, 5)
    assert not np.allclose(a.p[0, -1], a.p[1, -1])
    assert np.allclose(a.p.sum(axis=2), 1.0)


def test_minimax_huge_entries_stay_finite():
    """max|g| ~ 1e4 at K = 16: the runs collapse onto a vertex but never produce NaN."""
    game = get_game("default")
    t = build_table("kl", "minimax", 16)
    tr = simulate(game, t, RunConfig(K=16, step_size=1.0, steps=50, groups=8, seeds=16))
    assert tr.nonfinite_seeds == 0 and np.all(np.isfinite(tr.p))
    assert np.mean(tr.p[:, -1].max(axis=1) > 0.99) > 0.5


# -- acceptance: the final error's interval contains the exact fixed-point error ----------------------

@pytest.mark.parametrize("case,alternative", [
    # an unbiased table (C1): the exact fixed point is p* itself, error 0
    (AgreementCase("euclidean", "ustat", 4, steps=600, seeds=48, tail=150), "rloo"),
    # the usual leave-one-out baseline: the shifted fixed point of the effective table, not p*
    (AgreementCase("euclidean", "ustat", 4, advantage="rloo", steps=600, seeds=48, tail=150), "decoupled"),
    # the plug-in (KL): a measurably wrong fixed point
    (AgreementCase("default", "plugin", 32, steps=600, seeds=32, tail=150), None),
])
def test_stochastic_runs_settle_on_the_exact_fixed_point(case, alternative):
    """Decaying step size, tail-averaged per seed; simultaneous Student-t intervals over seeds (Bonferroni over
    the 5 answers, family-wise false-alarm rate 1e-3). The other baseline's fixed point must be excluded
    (the check has power)."""
    game = get_game(case.game)
    ps = optimum(game)[0]
    chk = agreement_check(game, case, alpha=ALPHA, p_star=ps, alternative=alternative)
    assert chk["all_within"], chk
    assert chk["tv_interval"][0] <= chk["exact_tv"] <= chk["tv_interval"][1]
    assert chk["transient_over_half_width"] < 0.5
    if case.method == "ustat" and case.advantage == "decoupled":
        assert chk["exact_tv"] < 1e-12 and chk["tv_interval"][0] == 0.0
    if case.method == "plugin":
        assert chk["tv_interval"][0] > 0.02            # the plug-in's error is measurably nonzero
    if alternative:
        assert chk["alternative"]["excluded"] and chk["alternative"]["tv_to_checked"] > 0.01
