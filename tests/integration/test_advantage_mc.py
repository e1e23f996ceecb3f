"""Integration (claim C9): the advantage TRL's and verl's own code give each answer, with the adapters'
tables, by Monte Carlo.

For every trainer setting of the RLOO family (verl GRPO without the std, RLOO, REINFORCE++-baseline; TRL
``scale_rewards="none"`` and ``"batch"``) the adapter reads the setting and hands the trainer the corrected
table; the trainer's advantages are then checked, per batch, to be the group-mean advantage D = R - mean(R)
times one positive number plus one constant (float32 tolerance: the batch-wide std is a step size), and the
mean advantage per answer is compared with C9's prediction (``advantage_mc``):

* power generator (alpha = 3, target p^2/2) with its unbiased table (``ustat``): the corrected table gives
  r(z) - beta * target(p_z) + const (the user's target, exactly), while the table as built (the adapter
  told ``advantage="decoupled"``, which is what it did before reading settings) gives C9's effective
  estimator and *misses* the target: detected, with the power computed from the run (>= 0.999);
* KL with the jackknife: the corrected table gives the jackknife for K - 1 samples (C9's prediction).

Statistics: 4000 groups of K = 6 per run (24000 samples), answers p = (0.5, 0.25, 0.15, 0.10), task rewards
(0, 1, 0.3, 0.6), beta = 1; ratio estimator over groups with delta-method standard errors; a check passes
when all 4 answers are within z* = 3.84 standard errors (family-wise false-alarm rate 1e-3, Bonferroni,
two-sided); seeds fixed. The group std (TRL's default ``scale_rewards="group"``, verl GRPO with
``norm_adv_by_std_in_grpo=True``) has no table-only correction: the adapter warns and applies the table as
built; the test shows its advantage is not D times a batch-wide number and prints the per-answer means.
Needs the ``integration`` extra; skipped otherwise.
"""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("ALFT_REQUIRE_INTEGRATION") == "1":  # tox -e integration and CI: missing is an error
    import trl  # noqa: F401
    import verl  # noqa: F401
else:
    pytest.importorskip("trl", reason="integration test: needs trl (pip install -e '.[integration]')")
    pytest.importorskip("verl", reason="integration test: needs verl (pip install -e '.[integration]')")
pytestmark = pytest.mark.integration

sys.path.insert(0, str(Path(__file__).resolve().parent))
import advantage_mc as mc  # noqa: E402
from trainer_advantages import TrlAdvantages, verl_advantages, verl_config  # noqa: E402

from estimators import build_table  # noqa: E402
from estimators.torch.verl_settings import VerlGroupReward  # noqa: E402

POWER = ("power", {"alpha": 3}, "ustat")
KL = ("kl", {}, "jackknife")
#: (label, table, adapter override, what the mean advantage must match)
CASES = [("power/ustat, corrected from the settings", POWER, None, "target"),
         ("power/ustat as built (advantage='decoupled')", POWER, "decoupled", "miss"),
         ("kl/jackknife, corrected from the settings", KL, None, "c9")]


def plain_table(spec):
    gen, gp, method = spec
    return build_table(gen, method, mc.K, generator_params=gp)


def used_table(spec, override):
    gen, gp, method = spec
    return build_table(gen, method, mc.K, generator_params=gp, advantage="decoupled" if override else "rloo")


def group_rewards(answers, table) -> np.ndarray:
    """-beta * g(C_i), plain numpy."""
    same = (answers[:, :, None] == answers[:, None, :]).sum(axis=2) - 1
    return -mc.BETA * np.asarray(table.values)[same].reshape(-1)


def affine_per_batch(adv, total, answers, batches: int):
    """Fit adv = f_b * D + c_b per batch (D: the group-mean advantage of the total rewards); returns f, c and
    the largest residual relative to max |adv|."""
    D = (total.reshape(answers.shape) - total.reshape(answers.shape).mean(axis=1, keepdims=True)).reshape(-1)
    f, c, worst = [], [], 0.0
    for part_a, part_d in zip(np.array_split(adv, batches), np.array_split(D, batches)):
        X = np.stack([part_d, np.ones_like(part_d)], axis=1)
        (fb, cb), *_ = np.linalg.lstsq(X, part_a, rcond=None)
        worst = max(worst, float(np.abs(part_a - fb * part_d - cb).max() / np.abs(part_a).max()))
        f.append(fb)
        c.append(cb)
    return np.array(f), np.array(c), worst


def check_case(label, spec, override, expect, answers, adv, total, *, batches, f_nominal, f_fixed):
    """The deterministic checks (table used, per-batch affine form) and the Monte Carlo check."""
    table = used_table(spec, override)
    np.testing.assert_allclose(total - mc.R[answers.reshape(-1)], group_rewards(answers, table), rtol=0, atol=1e-6)
    f, c, worst = affine_per_batch(adv, total, answers, batches)
    assert worst < 2e-5, f"{label}: the advantage is not one step size times the group-mean advantage ({worst})"
    if f_fixed:
        np.testing.assert_allclose(f, f_nominal, rtol=2e-5)
    assert np.all(f > 0) and np.all(np.abs(c) < 1e-5 * np.abs(adv).max())
    scaled = np.concatenate([(a - cb) / fb * f_nominal for a, fb, cb in zip(np.array_split(adv, batches), f, c)])
    means = mc.per_answer_means(answers, scaled)
    step = f_nominal * (mc.K - 1) / mc.K
    c9 = mc.predicted(mc.bernstein_mean(table.values, mc.K - 2, mc.P), step)  # what C9 says the trainer applies
    claim = mc.predicted(mc.bernstein_mean(plain_table(spec).values, mc.K - 1, mc.P), step)  # what the user chose
    print(mc.report(label, means, c9, claim))
    assert mc.check(means, c9), mc.report(label, means, c9)
    if expect == "target":
        assert mc.check(means, claim), mc.report(label, means, claim)
    elif expect == "miss":
        assert not mc.check(means, claim), f"{label}: the uncorrected table's miss was not detected"
        assert mc.power(means, c9 - claim) >= mc.POWER_MIN


VERL_PATHS = [("grpo", False, 1.0, 1, True),                        # Dr. GRPO: D itself
              ("rloo", None, mc.K / (mc.K - 1), 1, True),            # D * K / (K - 1)
              ("reinforce_plus_plus_baseline", None, 1.0, 2, False)]  # D whitened over each batch


@pytest.mark.parametrize("estimator, norm, f_nominal, batches, f_fixed", VERL_PATHS,
                         ids=[p[0] for p in VERL_PATHS])
def test_c9_verl_advantages_per_answer(estimator, norm, f_nominal, batches, f_fixed):
    for k, (label, spec, override, expect) in enumerate(CASES):
        gen, gp, method = spec
        alft = {"generator": gen, "generator_params": gp, "method": method}
        if override:
            alft["advantage"] = override
        hook = VerlGroupReward(verl_config(estimator, norm, alft))
        assert hook.reading.advantage == (override or "rloo")
        answers = mc.draw(seed=100 + 10 * k + VERL_PATHS.index((estimator, norm, f_nominal, batches, f_fixed)))
        parts = [verl_advantages(a, hook, estimator, norm) for a in np.array_split(answers, batches)]
        adv, total = (np.concatenate([p[i] for p in parts]) for i in (0, 1))
        check_case(f"verl {estimator}: {label}", spec, override, expect, answers, adv, total, batches=batches,
                   f_nominal=f_nominal, f_fixed=f_fixed)


TRL_PATHS = [("none", 1.0, 4, True), ("batch", 1.0, 4, False)]


@pytest.mark.parametrize("scale_rewards, f_nominal, batches, f_fixed", TRL_PATHS, ids=[p[0] for p in TRL_PATHS])
def test_c9_trl_advantages_per_answer(tmp_path, scale_rewards, f_nominal, batches, f_fixed):
    for k, (label, spec, override, expect) in enumerate(CASES):
        run = TrlAdvantages(tmp_path / f"case{k}", plain_table(spec), scale_rewards=scale_rewards, advantage=override)
        answers = mc.draw(seed=200 + 10 * k + [p[0] for p in TRL_PATHS].index(scale_rewards))
        parts = [run(a) for a in np.array_split(answers, batches)]  # one TRL generation batch each
        adv, total = (np.concatenate([p[i] for p in parts]) for i in (0, 1))
        check_case(f"TRL scale_rewards={scale_rewards!r}: {label}", spec, override, expect, answers, adv, total,
                   batches=batches, f_nominal=f_nominal, f_fixed=f_fixed)


def test_c9_group_std_has_no_table_correction(tmp_path):
    """TRL's default and verl's default GRPO divide by the group's own std: the adapters warn once, naming the
    exact settings, and apply the table as built; the advantage is not the group-mean advantage times a
    batch-wide number (so no table can correct it). The per-answer means are printed (a measurement)."""
    spec = POWER
    gen, gp, method = spec
    answers = mc.draw(seed=300, groups=1000)
    with pytest.warns(UserWarning, match="scale_rewards='none'"):
        run = TrlAdvantages(tmp_path / "trl", plain_table(spec), scale_rewards="group")
        trl_adv, trl_total = run(answers)
    with pytest.warns(UserWarning, match="norm_adv_by_std_in_grpo=False"):
        hook = VerlGroupReward(verl_config("grpo", True, {"generator": gen, "generator_params": gp, "method": method}))
    verl_adv, verl_total = verl_advantages(answers, hook, "grpo", True)
    for name, adv, total in (("TRL scale_rewards='group'", trl_adv, trl_total),
                             ("verl grpo with the std", verl_adv, verl_total)):
        np.testing.assert_allclose(total - mc.R[answers.reshape(-1)], group_rewards(answers, plain_table(spec)),
                                   rtol=0, atol=1e-6)  # the table as built
        _, _, worst = affine_per_batch(adv, total, answers, 1)
        assert worst > 0.05, f"{name}: unexpectedly a batch-wide step size ({worst})"
        means = mc.per_answer_means(answers, adv)
        print(f"{name}: mean advantage per answer {np.round(means.mean, 4)} (se {np.round(means.se, 4)}); "
              f"no per-answer prediction exists")
