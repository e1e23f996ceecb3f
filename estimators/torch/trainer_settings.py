"""Which advantage a trainer's settings make (claim C9), as data, and the table that goes with it.

A trainer subtracts a baseline from the rewards before the policy gradient. Which baseline decides which
table the adapters must hand it (:mod:`estimators.advantages`): ``rloo`` (a leave-one-out or group mean that
sees the sample) needs the corrected table ``build_table(..., advantage="rloo")``; ``decoupled`` takes the
table as built; ``grpo`` (a per-group std, or any advantage that is not a mean of the rewards) has no
table-only correction. :data:`TRL_RULES` and :data:`VERL_RULES` map each setting of TRL 1.16 and verl 0.9.1
to one of these; both adapters read them (:func:`trl_reading`, :func:`verl_reading`), and
:class:`TableChooser` turns a reading into the table per group size, warning once where no exact
correction exists.

``exactness`` says how far the mapped advantage is exact:

``exact``
    the trainer's advantage is the named one, sample for sample;
``step size``
    it is the named one times a positive factor shared by every sample of a batch (the group mean with the
    sample gives (K - 1)/K times the RLOO advantage; a batch-wide std or whitening divides by one number)
    and, at most, minus one batch-wide mean: the same per-answer comparison, a different step size;
``approximate``
    the named advantage only under a condition the trainer does not guarantee (said in ``note``); warned;
``none``
    no table-only correction exists; the table is used as built, and a warning names the settings under
    which the correction is exact (:data:`estimators.advantages.EXACT_SETTINGS`);
``refused``
    the adapter cannot work under this setting (``note`` says why); an error.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Mapping

from ..certified.advantages import EXACT_SETTINGS, check_advantage
from ..table import Table

__all__ = ["Rule", "Reading", "TRL_RULES", "VERL_RULES", "EXACTNESS", "trl_reading", "verl_reading",
           "explicit_reading", "TableChooser", "rules_markdown"]

EXACTNESS = ("exact", "step size", "approximate", "none", "refused")


@dataclass(frozen=True)
class Rule:
    """One trainer setting and the advantage it makes."""
    trainer: str          # "TRL GRPOTrainer", "TRL RLOOTrainer", "verl"
    setting: str          # e.g. "scale_rewards='group'", "algorithm.adv_estimator=grpo, norm_adv_by_std_in_grpo=True"
    advantage: str | None  # one of estimators.advantages.ADVANTAGES, None when refused
    exactness: str        # one of EXACTNESS
    note: str


@dataclass(frozen=True)
class Reading:
    """What an adapter read: the advantage, the setting it came from, how exact, and from where."""
    advantage: str
    setting: str
    exactness: str
    note: str
    source: str  # "explicit", "trainer", "args", "config" or "unknown"


def _r(trainer, setting, advantage, exactness, note):
    assert exactness in EXACTNESS and (advantage is None) == (exactness == "refused")
    return Rule(trainer, setting, advantage, exactness, note)


_GRPO = "TRL GRPOTrainer"
#: TRL 1.16: GRPOTrainer's ``scale_rewards`` (True means 'group', False 'none') under the default
#: ``multi_objective_aggregation='sum_then_normalize'``; 'normalize_then_sum' overrides it; RLOOTrainer.
TRL_RULES = (
    _r(_GRPO, "scale_rewards='group'", "grpo", "none",
       "the advantage is divided by the group's own std, which depends on the group's composition (TRL's default)"),
    _r(_GRPO, "scale_rewards='batch'", "rloo", "step size",
       "group mean with the sample, divided by one std over the whole batch"),
    _r(_GRPO, "scale_rewards='none'", "rloo", "step size",
       "group mean with the sample (Dr. GRPO): (K - 1)/K times the RLOO advantage"),
    _r(_GRPO, "multi_objective_aggregation='normalize_then_sum'", "grpo", "none",
       "each reward function's rewards are divided by their own group std before the sum (scale_rewards is not "
       "used)"),
    _r("TRL RLOOTrainer", "normalize_advantages=False", "rloo", "exact", "leave-one-out mean of the other rewards"),
    _r("TRL RLOOTrainer", "normalize_advantages=True", "rloo", "step size",
       "leave-one-out mean, then the batch's mean and std"),
)

_V = "verl"
_STD = "divided by the group's own std, which depends on the group's composition"
#: verl 0.9.1: ``algorithm.adv_estimator`` (with ``algorithm.norm_adv_by_std_in_grpo`` where it is read).
VERL_RULES = (
    _r(_V, "grpo, norm_adv_by_std_in_grpo=True", "grpo", "none", f"group mean, {_STD} (verl's default)"),
    _r(_V, "grpo, norm_adv_by_std_in_grpo=False", "rloo", "step size",
       "group mean with the sample (Dr. GRPO): (K - 1)/K times the RLOO advantage"),
    _r(_V, "grpo_vectorized, norm_adv_by_std_in_grpo=True", "grpo", "none", f"as grpo: {_STD}"),
    _r(_V, "grpo_vectorized, norm_adv_by_std_in_grpo=False", "rloo", "step size", "as grpo without the std"),
    _r(_V, "rloo", "rloo", "exact", "leave-one-out mean of the other rewards"),
    _r(_V, "rloo_vectorized", "rloo", "exact", "leave-one-out mean of the other rewards"),
    _r(_V, "reinforce_plus_plus_baseline", "rloo", "step size",
       "group mean with the sample, then whitening over the batch's tokens (one shift and one scale per batch)"),
    _r(_V, "gpg", "rloo", "step size",
       "group mean with the sample times one batch-wide factor (batch size over the number of nonzero rewards)"),
    _r(_V, "opo", "rloo", "approximate",
       "a length-weighted group mean with the sample: the rloo correction is exact when response lengths do not "
       "depend on the answer"),
    _r(_V, "reinforce_plus_plus", "decoupled", "step size",
       "no group baseline; whitening over the batch's tokens (its mean sees the sample only through 1/batch size)"),
    _r(_V, "remax", "decoupled", "exact",
       "the baseline is the greedy rollout's reward (its rows take no part in the group reward)"),
    _r(_V, "gae", "decoupled", "step size",
       "a learned critic's value, then whitening over the batch (the critic does not see the group)"),
    _r(_V, "grpo_passk", "grpo", "none",
       "only each group's best sample gets an advantage (best minus second best): no mean to correct"),
    _r(_V, "optimal_token_baseline", "grpo", "none",
       "a per-token group baseline weighted by the policy's token probabilities, with the sample"),
    _r(_V, "tir_optimal_token_baseline", "grpo", "none", "as optimal_token_baseline, for multi-turn rollouts"),
    _r(_V, "gdpo", None, "refused",
       "GDPO reads each reward from algorithm.gdpo_reward_keys in the reward extra info and ignores rm_scores, "
       "where the group reward goes"),
)


def _reading(rule: Rule, source: str) -> Reading:
    if rule.advantage is None:
        raise ValueError(f"{rule.trainer} with {rule.setting}: the group reward cannot be applied ({rule.note}). Use "
                         f"another advantage estimator; the correction is exact under " + "; ".join(EXACT_SETTINGS))
    return Reading(rule.advantage, f"{rule.trainer} {rule.setting}", rule.exactness, rule.note, source)


def _rule(rules, trainer: str, setting: str) -> Rule | None:
    return next((r for r in rules if r.trainer == trainer and r.setting == setting), None)


def explicit_reading(advantage: str) -> Reading:
    """The reading for an explicit ``advantage=`` argument (it overrides the trainer's settings)."""
    adv = check_advantage(advantage)
    exactness = "none" if adv == "grpo" else "exact"
    return Reading(adv, f"advantage={adv!r} (given explicitly)", exactness, "given explicitly", "explicit")


def _trl_kind(obj) -> str:
    """'rloo' for TRL's RLOOTrainer / RLOOConfig, 'grpo' for GRPOTrainer / GRPOConfig (by class name, so that
    this module needs no trl import); a config is found on ``obj.args`` for a trainer."""
    names = {c.__name__ for c in type(obj).__mro__}
    if names & {"RLOOTrainer", "RLOOConfig"}:
        return "rloo"
    if names & {"GRPOTrainer", "GRPOConfig"}:
        return "grpo"
    args = getattr(obj, "args", None)
    if args is not None and args is not obj:
        return _trl_kind(args)
    if hasattr(obj, "scale_rewards"):
        return "grpo"
    raise TypeError(f"cannot read TRL's advantage settings from a {type(obj).__name__}: pass a GRPOTrainer, "
                    f"RLOOTrainer or their config (GRPOConfig, RLOOConfig), or advantage=")


def _setting(obj, name: str, default):
    """A setting as the trainer's advantage code reads it: the trainer attribute, else its args, else default."""
    if hasattr(obj, name):
        return getattr(obj, name)
    args = getattr(obj, "args", None)
    return getattr(args, name, default) if args is not None else default


def trl_reading(obj, *, source: str = "trainer") -> Reading:
    """The advantage of a TRL 1.16 trainer or config (:data:`TRL_RULES`): ``scale_rewards`` and
    ``multi_objective_aggregation`` of GRPO, ``normalize_advantages`` of RLOO."""
    if _trl_kind(obj) == "rloo":
        norm = bool(_setting(obj, "normalize_advantages", False))
        return _reading(_rule(TRL_RULES, "TRL RLOOTrainer", f"normalize_advantages={norm}"), source)
    agg = _setting(obj, "multi_objective_aggregation", "sum_then_normalize")
    if agg == "normalize_then_sum":
        return _reading(_rule(TRL_RULES, _GRPO, f"multi_objective_aggregation={agg!r}"), source)
    if agg != "sum_then_normalize":
        raise ValueError(f"TRL multi_objective_aggregation={agg!r} is not one the adapter knows ('sum_then_normalize', "
                         f"'normalize_then_sum'); pass advantage= to say which advantage it makes")
    scale = _setting(obj, "scale_rewards", "group")
    scale = {True: "group", False: "none"}.get(scale, scale)
    rule = _rule(TRL_RULES, _GRPO, f"scale_rewards={scale!r}")
    if rule is None:
        raise ValueError(f"TRL scale_rewards={scale!r} is not one the adapter knows ('group', 'batch', 'none'); pass "
                         f"advantage= to say which advantage it makes")
    return _reading(rule, source)


def _get(cfg, key, default):
    if cfg is None:
        return default
    if isinstance(cfg, Mapping) or hasattr(cfg, "get"):
        try:
            return cfg.get(key, default)
        except TypeError:  # pragma: no cover  (a dataclass config without get)
            pass
    return getattr(cfg, key, default)


def verl_reading(algorithm, *, source: str = "config") -> Reading:
    """The advantage of verl 0.9.1's ``algorithm`` config block (:data:`VERL_RULES`): ``adv_estimator`` and,
    for the GRPO estimators, ``norm_adv_by_std_in_grpo`` (default True, as verl reads it)."""
    est = _get(algorithm, "adv_estimator", "gae")
    est = str(getattr(est, "value", est))
    if est in ("grpo", "grpo_vectorized"):
        norm = bool(_get(algorithm, "norm_adv_by_std_in_grpo", True))
        rule = _rule(VERL_RULES, _V, f"{est}, norm_adv_by_std_in_grpo={norm}")
    else:
        rule = _rule(VERL_RULES, _V, est)
    if rule is None:
        known = sorted({r.setting.split(",")[0] for r in VERL_RULES})
        raise ValueError(f"algorithm.adv_estimator={est!r} is not one the adapter knows ({', '.join(known)}); set "
                         f"alft.advantage to 'decoupled', 'rloo' or 'grpo' to say which advantage it makes")
    return _reading(rule, source)


def rules_markdown(rules) -> str:
    """The rules as a markdown table (docs)."""
    lines = ["| trainer | setting | advantage | exactness | why |", "|---|---|---|---|---|"]
    for r in rules:
        lines.append(f"| {r.trainer} | `{r.setting}` | {r.advantage or 'refused'} | {r.exactness} | {r.note} |")
    return "\n".join(lines)


# -- tables ----------------------------------------------------------------------------------------------------

def _rebuild(table: Table, K: int, advantage: str) -> Table:
    from ..methods import METHODS, build_table  # the method registry; imported on first use only
    spec = METHODS.get(table.method)
    if spec is None:
        raise ValueError(f"the {table.method!r} table cannot be rebuilt for K = {K} under the {advantage!r} advantage "
                         f"(method {table.method!r} is not in the registry); pass a table built with "
                         f"build_table(..., advantage={advantage!r}) for every group size, as a mapping {{size: table}}")
    params = {k: v for k, v in table.params.items() if k in spec.params}
    return build_table(table.generator, table.method, K, advantage=advantage, **params)


def table_for(table, K: int, advantage: str, *, setting: str = ""):
    """The table scoring groups of ``K`` samples for a trainer with ``advantage``.

    ``table``: a :class:`Table` (rebuilt for K and corrected from its generator, method and parameters), a
    mapping ``{size: table}`` or a callable ``size -> table`` (a :class:`Table` value is checked and corrected
    like the first; a raw value is used as given under 'decoupled' and 'grpo' and refused under 'rloo'), or a
    raw table (one size). Never silent: a table built for another advantage than the trainer's is rebuilt
    ('decoupled' -> 'rloo') or refused ('rloo' -> 'decoupled').
    """
    from .table_sizes import table_for_size
    where = f" ({setting})" if setting else ""
    if not isinstance(table, Table) and (isinstance(table, Mapping) or callable(table)) and not _is_tensor(table):
        value = table_for_size(table, K)
        if isinstance(value, Table):
            return table_for(value, K, advantage, setting=setting)
        table = value
    if not isinstance(table, Table):
        if advantage == "rloo" and K >= 3:  # (a group of 2 cancels the group reward whatever the table)
            raise ValueError(f"the trainer's advantage is 'rloo'{where}, and a raw table cannot be corrected for it "
                             f"(it does not say which estimator it is): pass an estimators Table (it is corrected "
                             f"here), tables built with build_table(..., advantage='rloo'), or advantage='decoupled' "
                             f"to apply the raw table as given")
        return table_for_size(table, K)
    want = None if advantage == "grpo" else advantage  # 'grpo': no table-only correction, the table as built
    if want == "rloo" and K < 3:
        # a group of 2 under a baseline that sees the sample: both samples always share their count, so the
        # group reward cancels from the advantage whatever the table (TableChooser warns); the plain table
        return table_for_size(table if table.advantage == "decoupled" else _rebuild(table, K, "decoupled"), K)
    if want is None or (want == table.advantage and table.K == K):
        return table_for_size(table, K)
    if table.advantage == "rloo" and want == "decoupled":
        raise ValueError(f"this {table.method} table is corrected for the 'rloo' advantage, but the trainer applies "
                         f"rewards without a baseline that sees the sample{where}: build it with "
                         f"advantage='decoupled', or pass advantage='rloo' if the trainer's baseline does see the "
                         f"sample")
    return table_for_size(_rebuild(table, K, want), K)


def _is_tensor(x) -> bool:
    import torch
    return isinstance(x, torch.Tensor)


class TableChooser:
    """Tables per (advantage, group size) for one adapter, warning once per non-exact setting.

    ``table``: what the user passed (see :func:`table_for`); ``advantage``: the explicit override or None.
    """

    def __init__(self, table, *, advantage: str | None = None):
        self.table = table
        self.explicit = None if advantage is None else explicit_reading(advantage)
        self._tables: dict = {}
        self._warned: set = set()

    def reading(self, read: Reading | None) -> Reading:
        """The explicit override when given, else ``read`` (the trainer's), else the table as built (warned)."""
        if self.explicit is not None:
            return self.explicit
        if read is not None:
            return read
        built = self.table.advantage if isinstance(self.table, Table) else "decoupled"
        return Reading(built, "unknown: no trainer or trainer settings were seen", "approximate",
                       f"the table is applied as built (for the {built!r} advantage); pass advantage= or the "
                       f"trainer's settings", "unknown")

    def tables(self, reading: Reading, sizes) -> dict:
        """``{K: table}`` for ``sizes`` under ``reading`` (built once, then cached); warns once per setting
        whose exactness is 'approximate' or 'none'."""
        self.warn(reading)
        out = {}
        if reading.advantage == "rloo" and min(sizes) < 3 and ("K=2", reading.setting) not in self._warned:
            self._warned.add(("K=2", reading.setting))
            warnings.warn(f"alft group reward: groups of 2 under {reading.setting}: both samples of a group always "
                          f"share their count, so the group reward cancels from the advantage whatever the table "
                          f"(it is applied as built); use groups of 3 or more for a diversity signal",
                          UserWarning, stacklevel=3)
        for K in sizes:
            key = (reading.advantage, K)
            if key not in self._tables:
                self._tables[key] = table_for(self.table, K, reading.advantage, setting=reading.setting)
            out[K] = self._tables[key]
        return out

    def warn(self, reading: Reading) -> None:
        if reading.exactness not in ("approximate", "none") or reading.setting in self._warned:
            return
        self._warned.add(reading.setting)
        if reading.source == "unknown":
            what = reading.note
        elif reading.exactness == "none":
            what = f"{reading.note}: no table-only correction exists, so the table is applied as built"
        else:
            what = f"{reading.note}; otherwise the {reading.advantage!r} correction is approximate"
        warnings.warn(f"alft group reward: {reading.setting}: {what}. The correction is exact under "
                      + "; ".join(EXACT_SETTINGS) + " (an explicit advantage= overrides the settings)",
                      UserWarning, stacklevel=3)
