"""The cases of ``alft trainer-check --all``: pairs of runs whose predicted fixed points differ clearly, and TRL
settings that do or do not keep the prediction exact (claims C7, C9).

Each pair trains two cases that differ in one thing (the table, or the trainer's advantage); each side should land
on its own predicted point and away from the other's. ``profile``: ``quick`` pairs run in the default profile
(and CI), ``full`` adds the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

from .predict import Case
from .trl_runner import TrainerSettings
from .verl_runner import VerlSettings

__all__ = ["Side", "Pair", "PAIRS", "SETTINGS_SWEEP", "PROFILES", "pairs_for", "get_pair", "default_settings",
           "COMPLETIONS_PER_STEP", "DEFAULT_STEPS", "DEFAULT_SEEDS"]

#: completions per optimizer step (groups = this // K): the batch that makes the end point precise enough
COMPLETIONS_PER_STEP = 512
DEFAULT_STEPS = 150
DEFAULT_SEEDS = 5
PROFILES = ("quick", "full")


def default_settings(K: int, engine: str = "trl", **overrides):
    """The default settings of a case with group size K (``COMPLETIONS_PER_STEP // K`` groups per step)."""
    base = dict(steps=DEFAULT_STEPS, groups=max(1, COMPLETIONS_PER_STEP // K))
    base.update(overrides)
    return TrainerSettings(**base) if engine == "trl" else VerlSettings(**base)


@dataclass(frozen=True)
class Side:
    """One run of a pair: a case and its settings overrides (``scale_rewards`` for TRL, ``adv_estimator`` and
    ``norm_adv_by_std_in_grpo`` for verl)."""

    case: Case
    overrides: tuple = ()

    def settings(self, engine: str, **extra):
        return default_settings(self.case.K, engine, **{**dict(self.overrides), **extra})


@dataclass(frozen=True)
class Pair:
    name: str
    what: str
    engine: str
    a: Side
    b: Side
    profile: str = "full"


def _c(game, method, K, adv="rloo", **params):
    return Case(game, method, K, adv, tuple(sorted(params.items())))


_NONE = (("scale_rewards", "none"),)
_AQP1 = dict(eps=1.0, solve=True)

PAIRS = (
    Pair("euclidean-K4-ustat", "Euclidean game, K = 4, TRL scale_rewards='none': the plain U-statistic (its fixed "
         "point is off p*) vs the one corrected for the group-mean baseline (fixed point p*)", "trl",
         Side(_c("euclidean", "ustat", 4, "decoupled"), _NONE), Side(_c("euclidean", "ustat", 4), _NONE), "quick"),
    Pair("kl-K8-jackknife-aqp", "KL game, K = 8, scale_rewards='none': jackknife vs AQP (eps = 1), both corrected "
         "for the baseline", "trl", Side(_c("default", "jackknife", 8), _NONE), Side(_c("default", "aqp", 8, **_AQP1),
                                                                                      _NONE), "quick"),
    Pair("verl-euclidean-K4-ustat", "as euclidean-K4-ustat through verl's RLOO advantage and PPO loss", "verl",
         Side(_c("euclidean", "ustat", 4, "decoupled"), (("adv_estimator", "rloo"),)),
         Side(_c("euclidean", "ustat", 4), (("adv_estimator", "rloo"),)), "quick"),
    Pair("euclidean-K8-ustat", "as euclidean-K4-ustat at K = 8 (the plain table's point is closer to p*)", "trl",
         Side(_c("euclidean", "ustat", 8, "decoupled"), _NONE), Side(_c("euclidean", "ustat", 8), _NONE)),
    Pair("kl-K8-plugin-jackknife", "KL game, K = 8, scale_rewards='none': plug-in (loses two answers) vs jackknife",
         "trl", Side(_c("default", "plugin", 8), _NONE), Side(_c("default", "jackknife", 8), _NONE)),
    Pair("euclidean-K4-group-vs-none", "Euclidean game, K = 4, the corrected U-statistic: TRL's default "
         "scale_rewards='group' (group std, fixed point by enumeration) vs 'none'", "trl",
         Side(_c("euclidean", "ustat", 4), (("scale_rewards", "group"),)), Side(_c("euclidean", "ustat", 4), _NONE)),
    Pair("kl-K8-aqp-group-vs-none", "KL game, K = 8, corrected AQP (eps = 1): scale_rewards='group' vs 'none'", "trl",
         Side(_c("default", "aqp", 8, **_AQP1), (("scale_rewards", "group"),)),
         Side(_c("default", "aqp", 8, **_AQP1), _NONE)),
    Pair("euclidean-K4-ustat-batch", "as euclidean-K4-ustat with scale_rewards='batch' (a batch-wide std: the same "
         "advantage up to a step size)", "trl",
         Side(_c("euclidean", "ustat", 4, "decoupled"), (("scale_rewards", "batch"),)),
         Side(_c("euclidean", "ustat", 4), (("scale_rewards", "batch"),))),
    Pair("longtail-K16-jackknife-aqp", "the larger KL game (24 answers, long-tailed p*, the four best answers start at "
         "probability 1e-3), K = 16, scale_rewards='none': jackknife (keeps 11 answers) vs AQP (eps = 1, keeps all "
         "24), both corrected", "trl", Side(_c("longtail", "jackknife", 16), _NONE),
         Side(_c("longtail", "aqp", 16, **_AQP1), _NONE)),
    Pair("verl-euclidean-K4-grpo-std", "Euclidean game, K = 4, corrected U-statistic through verl's GRPO: with the "
         "std (norm_adv_by_std_in_grpo=True) vs without", "verl",
         Side(_c("euclidean", "ustat", 4), (("adv_estimator", "grpo"), ("norm_adv_by_std_in_grpo", True))),
         Side(_c("euclidean", "ustat", 4), (("adv_estimator", "grpo"), ("norm_adv_by_std_in_grpo", False)))),
)

#: TRL settings varied one at a time on the corrected Euclidean K = 4 case (prediction p*): which keep it exact
SETTINGS_SWEEP = (
    ("defaults (beta=0, Adam lr 0.01 -> 0, max_grad_norm=1, one update per batch)", {}),
    ("TRL KL to the reference model, beta=0.04", {"kl_beta": 0.04}),
    ("weight_decay=0.1", {"weight_decay": 0.1}),
    ("constant learning rate 0.01 (no decay)", {"lr_scheduler_type": "constant"}),
    ("gradient clipping always active, max_grad_norm=1e-3", {"max_grad_norm": 1e-3}),
    ("off-policy: num_iterations=4 updates per batch, ratio clip epsilon=0.2", {"num_iterations": 4}),
    ("off-policy with a tight ratio clip: num_iterations=4, epsilon=0.02", {"num_iterations": 4, "epsilon": 0.02}),
)
SWEEP_CASE = _c("euclidean", "ustat", 4)


def pairs_for(profile: str) -> list:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}, got {profile!r}")
    return [p for p in PAIRS if profile == "full" or p.profile == "quick"]


def get_pair(name: str) -> Pair:
    for p in PAIRS:
        if p.name == name:
            return p
    raise ValueError(f"pair must be one of {[p.name for p in PAIRS]}, got {name!r}")

