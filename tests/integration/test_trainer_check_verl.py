"""The game predicts the trainer through verl 0.9.1's code (claim C9), on CPU.

verl's ``compute_advantage`` (RLOO, GRPO with and without the std, REINFORCE++-baseline) on real ``DataProto``
batches carrying the project's group reward (``add_group_rewards``), checked against plain formulas; then the
Euclidean K = 4 pair (plain vs corrected U-statistic) trained through verl's RLOO advantage and PPO loss lands on
its predicted fixed points. verl's Ray trainer, FSDP workers and vLLM/SGLang rollout need GPUs and are not run.
Needs the ``integration`` extra (verl 0.9.1); skipped otherwise.
"""
import os
from collections import Counter

import numpy as np
import pytest

if os.environ.get("ALFT_REQUIRE_INTEGRATION") == "1":  # tox -e integration and CI: missing is an error
    import verl  # noqa: F401
else:
    pytest.importorskip("verl", reason="integration test: needs verl (pip install -e '.[integration]')")
pytestmark = pytest.mark.integration

from estimators import build_table  # noqa: E402
from proofs_numeric.game.spec import get_game  # noqa: E402
from proofs_numeric.trainer_check.cases import get_pair  # noqa: E402
from proofs_numeric.trainer_check.suite import run_pair  # noqa: E402
from proofs_numeric.trainer_check.tiny_model import build_tiny_lm  # noqa: E402
from proofs_numeric.trainer_check.verl_runner import VerlSettings, verl_advantages, verl_batch  # noqa: E402

K = 4


def plain_rewards(answers, table, game):
    """r(z_i) - beta g(C_i), groups of K consecutive samples, in plain Python."""
    out = []
    for b in range(0, len(answers), K):
        grp = list(answers[b:b + K])
        c = Counter(grp)
        out += [game.r[a] - game.beta * table.values[c[a] - 1] for a in grp]
    return np.array(out).reshape(-1, K)


@pytest.mark.parametrize("estimator, norm", [("rloo", True), ("grpo", True), ("grpo", False),
                                             ("reinforce_plus_plus_baseline", True)])
def test_verl_advantages_on_the_hooked_batch(estimator, norm):
    game = get_game("euclidean")
    table = build_table("euclidean", "ustat", K, advantage="rloo")
    lm = build_tiny_lm(game.m)
    answers = np.random.default_rng(7).integers(0, game.m, size=16 * K)
    batch = verl_batch(lm, answers, K, game.r)
    adv = verl_advantages(batch, table, game.beta, K, VerlSettings(adv_estimator=estimator,
                                                                   norm_adv_by_std_in_grpo=norm))
    R = plain_rewards(answers, table, game)
    np.testing.assert_allclose(batch.batch["rm_scores"].numpy().reshape(-1, K), R, atol=1e-6)  # the hook's sum
    dev = R - R.mean(1, keepdims=True)
    want = {("rloo", True): dev * K / (K - 1), ("grpo", False): dev,
            ("grpo", True): dev / (R.std(1, ddof=1, keepdims=True) + 1e-6),
            # REINFORCE++-baseline: the group mean, then whitening over the batch's tokens
            ("reinforce_plus_plus_baseline", True): (dev - dev.mean()) / dev.std(ddof=1)}[(estimator, norm)]
    np.testing.assert_allclose(adv.numpy().reshape(-1, K), want, rtol=1e-4, atol=1e-5)


def test_verl_pair_lands_on_its_predictions():
    pair = run_pair(get_pair("verl-euclidean-K4-ustat"), seeds=4, steps=100, log=lambda m: None)
    for side in pair["sides"]:
        v = side["verdict"]
        assert v["on_own"] and v["away_from_other"] and v["closer_to_own"], (side["label"], side["trained"]["mean"],
                                                                             side["predicted"])
        assert side["sampling_check"]["p_value"] > 1e-3
