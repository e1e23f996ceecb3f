"""alft trainer-check (C9) without a trainer: the predictions it compares with, and its statistics.

The training itself (TRL, verl) is tested in tests/integration/test_trainer_check_*.py.
"""
import numpy as np
import pytest

from estimators import build_table
from proofs_numeric.game.spec import get_game
from proofs_numeric.trainer_check.cases import PAIRS, SETTINGS_SWEEP, default_settings, get_pair, pairs_for
from proofs_numeric.trainer_check.predict import Case, case_table, predict
from proofs_numeric.trainer_check.stats import (compare_to, end_points, pair_verdict, seed_interval,
                                                segment_position, total_variation)


def simplex_projection(v):
    """Euclidean projection onto the simplex (sorting algorithm), the reference for the Euclidean game."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1
    k = np.nonzero(u - css / np.arange(1, v.size + 1) > 0)[0][-1]
    return np.maximum(v - css[k] / (k + 1), 0)


@pytest.mark.parametrize("K, tv_issue", [(4, 0.0975), (8, 0.0325)])
def test_plain_ustat_under_rloo_is_euclidean_with_scaled_beta(K, tv_issue):
    """C9: under the rloo advantage the plain U-statistic acts as beta (1 - 1/(K - 1)), so its fixed point is the
    Euclidean optimum for that beta (a closed form, independent of the game's KKT solver); the corrected table's is
    p* itself. The TVs are the ones the issue states."""
    game = get_game("euclidean")
    plain = predict(game, build_table("euclidean", "ustat", K), "rloo")
    corrected = predict(game, build_table("euclidean", "ustat", K, advantage="rloo"), "rloo")
    beta_eff = game.beta * (1 - 1 / (K - 1))
    np.testing.assert_allclose(plain["predicted"], simplex_projection(game.r / beta_eff), atol=1e-9)
    np.testing.assert_allclose(corrected["predicted"], simplex_projection(game.r / game.beta), atol=1e-9)
    np.testing.assert_allclose(corrected["predicted"], corrected["p_star"], atol=1e-9)
    assert round(plain["tv_predicted_to_p_star"], 4) == tv_issue
    assert corrected["tv_predicted_to_p_star"] < 1e-9


def test_group_std_prediction_differs_from_none():
    """The group-std fixed point (enumeration) of the corrected table is not p* (what the pair relies on)."""
    game = get_game("euclidean")
    t = build_table("euclidean", "ustat", 4, advantage="rloo")
    grpo = predict(game, t, "grpo")
    assert grpo["tv_predicted_to_p_star"] > 0.05
    assert abs(sum(grpo["predicted"]) - 1) < 1e-9


def test_every_pair_has_clearly_different_predictions():
    for pair in PAIRS:
        preds = []
        for side in (pair.a, pair.b):
            st = side.settings(pair.engine)
            preds.append(predict(get_game(side.case.game), case_table(side.case), st.advantage)["predicted"])
        assert total_variation(*preds) > 0.03, pair.name


def test_profiles_and_lookup():
    quick = [p.name for p in pairs_for("quick")]
    assert "euclidean-K4-ustat" in quick and any(n.startswith("kl-") for n in quick)
    assert len(pairs_for("full")) == len(PAIRS) > len(quick)
    assert get_pair("euclidean-K8-ustat").a.case.K == 8
    with pytest.raises(ValueError, match="pair must be one of"):
        get_pair("nope")
    with pytest.raises(ValueError, match="profile must be one of"):
        pairs_for("default")
    assert SETTINGS_SWEEP[0][1] == {}


def test_bad_cases_and_settings():
    with pytest.raises(ValueError, match="game must be one of"):
        Case("nope", "ustat", 4)
    with pytest.raises(ValueError, match="K must be an integer >= 2"):
        Case("euclidean", "ustat", 1)
    with pytest.raises(ValueError, match="'grpo' has no table correction"):
        Case("euclidean", "ustat", 4, "grpo")
    with pytest.raises(ValueError, match="scale_rewards must be one of"):
        default_settings(4, scale_rewards="std")
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        default_settings(4, learning_rate=float("nan"))
    with pytest.raises(ValueError, match="adv_estimator must be one of"):
        default_settings(4, "verl", adv_estimator="gae")
    assert default_settings(8).groups == 64 and default_settings(4, scale_rewards="group").advantage == "grpo"
    assert default_settings(4, "verl", adv_estimator="grpo", norm_adv_by_std_in_grpo=False).advantage == "rloo"


def test_seed_interval_coverage():
    """Simultaneous coverage of the Bonferroni-t box: 2000 seeded replications of 5 Gaussian seeds over 5 answers;
    the box must hold the true mean in >= 93% of them (nominal >= 95%; the binomial sd of the rate is 0.5%)."""
    rng = np.random.default_rng(20261204)
    mu = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
    hits = 0
    for _ in range(2000):
        iv = seed_interval(mu + 0.01 * rng.standard_normal((5, 5)))
        hits += bool(np.all((np.array(iv["lower"]) <= mu) & (mu <= np.array(iv["upper"]))))
    assert hits / 2000 >= 0.93


def test_tv_interval_and_segment():
    ends = np.array([[0.5, 0.5], [0.52, 0.48], [0.48, 0.52]])
    iv = seed_interval(ends)
    own = compare_to(iv, [0.5, 0.5])
    other = compare_to(iv, [0.8, 0.2])
    assert own["inside"] and own["tv_lower"] == 0.0 and not other["inside"] and other["tv_lower"] > 0
    # TV interval: TV(mean, q) +- sum(half widths) / 2
    assert other["tv_upper"] - other["tv"] == pytest.approx(0.5 * sum(iv["half_width"]))
    pos = segment_position(ends, [0.5, 0.5], [0.8, 0.2])
    assert pos["mean"] == pytest.approx(0.0, abs=1e-12) and pos["lower"] < 0 < pos["upper"] < 0.5
    v = pair_verdict(own, other, pos)
    assert v["agrees"] and v["inside_box"] and v["segment_contains_own"]
    swapped = pair_verdict(other, own, segment_position(ends, [0.8, 0.2], [0.5, 0.5]))
    assert not swapped["agrees"] and not swapped["on_own"]
    with pytest.raises(ValueError, match="coincide"):
        segment_position(ends, [0.5, 0.5], [0.5, 0.5])
    with pytest.raises(ValueError, match="seeds >= 2"):
        seed_interval(ends[:1])


def test_end_points():
    H = np.zeros((2, 11, 3))
    H[:, -4:, 0] = 1.0
    np.testing.assert_array_equal(end_points(H, 4)[:, 0], [1.0, 1.0])
    np.testing.assert_array_equal(end_points(H, 8)[:, 0], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"last must be an integer in \[1, steps\] = \[1, 10\]"):
        end_points(H, 11)


def test_sampling_check_calibration_and_power():
    """The per-step chi-square: 300 seeded replications of 2 seeds x 30 steps x 256 draws from the stated policy
    (one answer rare, pooled), false alarms at level 0.01 in <= 3% of them (binomial sd 0.6%); draws from a policy
    moved by 0.05 TV are rejected at p < 1e-6."""
    from proofs_numeric.trainer_check.check import sampling_check
    rng = np.random.default_rng(20261204)
    alarms = 0
    for _ in range(300):
        H = rng.dirichlet(np.full(5, 2.0), size=(2, 31))
        H[..., 4] *= 0.002
        H /= H.sum(-1, keepdims=True)
        S = np.array([[rng.multinomial(256, H[s, t]) for t in range(30)] for s in range(2)])
        alarms += sampling_check(H, S)["p_value"] < 0.01
    assert alarms / 300 <= 0.03
    H = np.tile([0.3, 0.3, 0.2, 0.1, 0.1], (2, 31, 1))
    S = np.array([[rng.multinomial(256, [0.35, 0.25, 0.2, 0.1, 0.1]) for _ in range(30)] for _ in range(2)])
    assert sampling_check(H, S)["p_value"] < 1e-6
