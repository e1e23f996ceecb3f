"""TRL ``GRPOTrainer`` adapter for the group-reward kernels (claim C8).

:func:`trl_reward_function` returns a callable with the signature TRL uses for custom reward
functions: ``reward_func(prompts=..., completions=..., completion_ids=..., **reward_kwargs)``
(dataset columns, ``trainer_state``, ``log_metric`` and ``log_extra`` arrive as keywords); it
returns one float per completion, in TRL's order. ::

    from trl import GRPOConfig, GRPOTrainer
    from estimators import build_table
    from estimators.torch import trl_reward_function

    args = GRPOConfig(num_generations=8, num_generations_eval=4, scale_rewards="none", ...)
    diversity = trl_reward_function(build_table("kl", "jackknife", 8), num_generations=8,
                                    num_generations_eval=4, extract_answer=my_parser, scale=-beta)
    trainer = GRPOTrainer(model=..., reward_funcs=[correctness, diversity], args=args, ...)

Which table the trainer gets (claim C9)
---------------------------------------
GRPOTrainer subtracts the group mean (with the sample) from the summed rewards, and by default
divides by the group's std. The reward function reads the trainer's settings on every call (TRL
passes it a method of the trainer) and maps them with :data:`~estimators.torch.trainer_settings.TRL_RULES`:
``scale_rewards="none"`` or ``"batch"`` (and RLOOTrainer) make the ``rloo`` advantage, so a
:class:`~estimators.Table` built for the plain estimator is replaced by
``build_table(..., advantage="rloo")`` (the trainer then applies the method's estimator for K - 1
samples, up to a step size); ``scale_rewards="group"`` (TRL's default) and
``multi_objective_aggregation="normalize_then_sum"`` have no table-only correction: the table is
applied as built and one warning names the settings that make the correction exact. ``advantage=``
overrides what is read; ``args=`` (the GRPOConfig) reads the settings before training and is checked
against the trainer's.

How groups are found
--------------------
TRL's sampler repeats each prompt ``G`` times consecutively (``G = num_generations`` in training,
``num_generations_eval`` in evaluation), the global batch is the processes' slices in rank order,
and TRL only asks that the *global* batch be a multiple of ``G``. So a process may hold part of a
group. The reward function

1. finds ``G``: the trainer's own value for its current mode when TRL passes it (through the
   ``log_metric`` keyword, a method of the trainer), else the configured size that the prompts
   allow (consecutive runs of one prompt must be multiples of ``G``); the configured sizes are
   the check: a size the adapter was not configured for, or a layout no configured size fits,
   raises;
2. when torch.distributed is initialised with several processes, agrees on the layout with one
   ``all_gather`` of one int64 per process (sample count, group-size hint, prompts or not), waited
   for at most ``sync_timeout`` seconds: processes that disagree raise the same error, a process
   whose partners do not call raises after ``sync_timeout`` instead of hanging;
3. when the slices need not hold whole groups (their length is not a multiple of every configured
   size), gathers the answers of all processes with **one** ``all_gather`` of ``2n`` int64 per
   process (hashed answer and prompt ids, see :mod:`estimators.torch.distributed`), scores the
   whole groups and returns this process's slice;
4. otherwise scores its own slice (exact string comparison, no further communication).

Answers that cannot be parsed (``extract_answer`` returned None) count as distinct answers
(count 0) by default; ``none_answers="same"`` counts them as one answer.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch

from .._validate import check_finite_real
from ..table import Table
from .distributed import agree_layout, answer_hash, gather_keys, hash_keys, world_of
from .kernels import answers_to_ids, group_rewards
from .table_sizes import table_for_size
from .trainer_settings import Reading, TableChooser, trl_reading

__all__ = ["trl_reward_function", "completion_text", "trainer_group_size", "trainer_of", "resolve_group_size",
           "prompt_runs"]


def completion_text(completion) -> str:
    """Text of a TRL completion: a string, or a conversational list of ``{"role", "content"}``
    messages (the last message's content), or one such message."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        content = completion.get("content")
        if isinstance(content, list):  # multimodal content parts
            return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
        return "" if content is None else str(content)
    if isinstance(completion, (list, tuple)):
        if not completion:
            return ""
        return completion_text(completion[-1])
    raise TypeError(f"completions must be strings or lists of {{'role', 'content'}} messages, got "
                    f"{type(completion).__name__}")


def _prompt_key(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    try:
        return json.dumps(prompt, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(prompt)


def prompt_runs(keys) -> list[int]:
    """Lengths of the runs of equal consecutive entries of ``keys`` (a list or 1-D tensor)."""
    keys = keys.tolist() if isinstance(keys, torch.Tensor) else list(keys)
    runs: list[int] = []
    for i, k in enumerate(keys):
        if i and k == keys[i - 1]:
            runs[-1] += 1
        else:
            runs.append(1)
    return runs


def trainer_of(reward_kwargs: Mapping):
    """The TRL trainer calling the reward function (``log_metric`` is a bound method of it), or None."""
    return getattr(reward_kwargs.get("log_metric"), "__self__", None)


def trainer_group_size(reward_kwargs: Mapping) -> int | None:
    """The group size TRL's ``GRPOTrainer`` uses right now, read from the keywords it passes.

    TRL 1.x passes ``log_metric``, a bound method of the trainer; the trainer scores with
    ``num_generations`` when its model is in training mode and ``num_generations_eval`` otherwise
    (``GRPOTrainer._generate_and_score_completions``). None when the keywords do not carry it.
    """
    trainer = trainer_of(reward_kwargs)
    model = getattr(trainer, "model", None)
    train_g = getattr(trainer, "num_generations", None)
    if model is None or not isinstance(train_g, int):
        return None
    if bool(getattr(model, "training", True)):
        return train_g
    eval_g = getattr(trainer, "num_generations_eval", None)
    return eval_g if isinstance(eval_g, int) else train_g


def resolve_group_size(n_total: int, runs: list[int] | None, sizes: tuple[int, ...], hint: int | None) -> int:
    """The group size of a batch of ``n_total`` completions.

    ``runs``: lengths of the runs of one prompt (None when prompts are unknown or unchecked);
    ``sizes``: the configured group sizes; ``hint``: the trainer's group size, if known.
    Raises ValueError when the layout does not fit, or (without a hint) fits several sizes.
    """
    fits = [G for G in sizes if n_total % G == 0 and (runs is None or all(r % G == 0 for r in runs))]
    if hint is not None:
        if hint not in sizes:
            raise ValueError(f"the trainer scores groups of {hint} completions but the reward function was "
                             f"configured for {sorted(set(sizes))} (set num_generations / num_generations_eval "
                             f"like the GRPOConfig)")
        if hint not in fits:
            raise ValueError(_layout_error(n_total, runs, hint))
        return hint
    if not fits:
        raise ValueError(_layout_error(n_total, runs, sizes[0] if len(set(sizes)) == 1 else sorted(set(sizes))))
    if len(fits) > 1:
        raise ValueError(f"completions: {n_total} completions with prompt runs {sorted(set(runs or []))} fit group "
                         f"sizes {fits}; pass prompts (distinct per group) or call from TRL's GRPOTrainer, which "
                         f"tells its current group size")
    return fits[0]


def _layout_error(n_total, runs, G) -> str:
    first = G if isinstance(G, int) else G[0]
    if runs is not None and n_total % first == 0 and any(r % first for r in runs):
        bad = next(i for i, r in enumerate(runs) if r % first)
        start = sum(runs[:bad])
        return (f"prompts: completions {start}..{start + runs[bad] - 1} share one prompt, a run of {runs[bad]} "
                f"that groups of num_generations={G} cannot tile; the adapter expects the completions of a prompt "
                f"to be contiguous, num_generations per group (TRL's layout)")
    return (f"completions: {n_total} completions is not a multiple of num_generations={G}; a group must be "
            f"complete in one call, or split across processes with torch.distributed initialised (TRL's "
            f"multi-process layout)")


def _check_size(value, name: str, *, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        extra = " (a frequency reward needs at least 2 completions per prompt)" if value == 1 else ""
        raise ValueError(f"{name} must be an integer >= 2, got {value!r}{extra}")
    return value


def _check_args(args, G_train: int, G_eval: int | None) -> Reading | None:
    """The reading of a TRL config given as ``args=``, after checking its group sizes against ours."""
    if args is None:
        return None
    got = getattr(args, "num_generations", None)
    if isinstance(got, int) and got != G_train:
        raise ValueError(f"num_generations={G_train} but args.num_generations={got}; use the GRPOConfig's values")
    got_eval = getattr(args, "num_generations_eval", None)
    if isinstance(got_eval, int) and got_eval != (G_eval or G_train):
        raise ValueError(f"num_generations_eval={G_eval} but args.num_generations_eval={got_eval}; use the "
                         f"GRPOConfig's values")
    return trl_reading(args, source="args")


def _check_timeout(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"sync_timeout must be a positive number of seconds or None, got {value!r}")
    return float(value)


def _choose_tables(table, G_train: int, G_eval: int, num_generations_eval, advantage, args):
    """The table chooser, the trainer settings read from ``args`` and the group sizes, checked now (a wrong table
    fails when the reward function is made, not at the first step)."""
    if isinstance(table, Table) and len(table) != G_train:
        raise ValueError(f"table has K = {len(table)} entries but num_generations={G_train}; build the table for "
                         f"the training group size (it is rebuilt for num_generations_eval)")
    sizes = tuple(sorted({G_train, G_eval}))
    for G in sizes:
        table_for_size(table, G)  # checked per size now (a Table is rebuilt), before any correction
    chooser = TableChooser(table, advantage=advantage)
    args_reading = _check_args(args, G_train, num_generations_eval)
    if chooser.explicit is not None or args_reading is not None:
        chooser.tables(chooser.reading(args_reading), sizes)  # errors and warnings now, not at the first step
    return chooser, args_reading, sizes


@dataclass
class _Scorer:
    """What a TRL reward function does on each call: answers to ids, the tables for the trainer's advantage,
    the groups (gathered across processes when a slice may hold partial groups), the rewards."""

    chooser: TableChooser
    args_reading: Reading | None
    sizes: tuple
    extract: Callable
    normalize: Callable | None
    none_answers: str
    add_constant: bool
    scale: float
    check_prompts: bool
    gather: str
    process_group: Any
    device: Any
    timeout: float | None

    def answer_keys(self, completions) -> list:
        keys = []
        for c in completions:
            a = self.extract(completion_text(c))
            if a is not None:
                a = str(a)
                if self.normalize is not None:
                    a = self.normalize(a)
            keys.append(a)
        return keys

    def tables_now(self, kwargs) -> dict:
        trainer = trainer_of(kwargs)
        read = None if trainer is None or self.chooser.explicit is not None else trl_reading(trainer)
        if read is not None and self.args_reading is not None and read.setting != self.args_reading.setting:
            raise ValueError(f"args= says {self.args_reading.setting} but the trainer runs with {read.setting}; pass "
                             f"the trainer's own GRPOConfig")
        return self.chooser.tables(self.chooser.reading(read or self.args_reading), self.sizes)

    def score(self, ids: torch.Tensor, G: int, tables: dict) -> list:
        r = group_rewards(ids.view(-1, G), tables[G], dtype=torch.float64, add_constant=self.add_constant)
        return [v * self.scale for v in r.reshape(-1).tolist()]

    def gathered(self, keys, pkeys, n: int, hint, tables) -> list | None:
        """The rewards of this slice when the processes share the batch (None: score the slice locally).

        Every process takes part in the layout agreement (one int64 each), so every process takes the same
        decision and raises the same error when the layout does not fit."""
        if self.gather == "never" or world_of(self.process_group) is None:
            return None
        layout = agree_layout(n, hint=hint or 0, has_prompts=pkeys is not None, group=self.process_group,
                              timeout=self.timeout)
        layout.check()
        if not n or not (self.gather == "always" or any(n % G for G in self.sizes)):
            return None
        got = gather_keys(hash_keys(keys), None if pkeys is None else [answer_hash(k) for k in pkeys],
                          layout=layout, none=self.none_answers, group=self.process_group, timeout=self.timeout)
        N = got.answer_ids.numel()
        G = resolve_group_size(N, None if got.prompt_ids is None else prompt_runs(got.prompt_ids), self.sizes, hint)
        ids = got.answer_ids.to(self.device) if self.device is not None else got.answer_ids
        return self.score(ids, G, tables)[got.offset:got.offset + n]

    def __call__(self, prompts, completions, kwargs) -> list:
        if completions is None:
            raise TypeError("reward_func needs completions=... (TRL passes prompts=, completions=, "
                            "completion_ids= and dataset columns as keywords)")
        n = len(completions)
        if prompts is not None and len(prompts) != n:
            raise ValueError(f"prompts has {len(prompts)} entries but completions has {n}")
        hint = trainer_group_size(kwargs)
        tables = self.tables_now(kwargs)
        keys = self.answer_keys(completions)
        pkeys = [_prompt_key(p) for p in prompts] if (prompts is not None and self.check_prompts) else None
        out = self.gathered(keys, pkeys, n, hint, tables)
        if out is not None:
            return out
        if n == 0:
            return []
        G = resolve_group_size(n, None if pkeys is None else prompt_runs(pkeys), self.sizes, hint)
        ids = answers_to_ids([keys[b:b + G] for b in range(0, n, G)], device=self.device, none=self.none_answers)
        return self.score(ids, G, tables)


def trl_reward_function(table, *, num_generations: int, num_generations_eval: int | None = None,
                        extract_answer: Callable[[str], Any] | None = None,
                        normalize: Callable[[str], str] | None = None, add_constant: bool = False,
                        scale: float = 1.0, none_answers: str = "distinct", check_prompts: bool = True,
                        gather: str = "auto", process_group=None, device=None, name: str | None = None,
                        advantage: str | None = None, args=None,
                        sync_timeout: float | None = 60.0) -> Callable[..., list]:
    """A TRL ``GRPOTrainer`` reward function applying ``table`` to each group of completions.

    Parameters
    ----------
    table : Table, raw 1-D table, mapping ``{group size: table}`` or callable ``size -> table``
        A :class:`~estimators.Table` is rebuilt for the evaluation group size and, under a baseline that
        sees the sample, corrected for it (same generator, method, parameters); a raw table serves one
        size only and cannot be corrected.
    num_generations, num_generations_eval : int
        As in ``GRPOConfig`` (``num_generations_eval=None``: same as ``num_generations``); both >= 2.
    extract_answer : callable text -> answer string, or None when no answer can be parsed
        Default: the completion text itself (stripped).
    normalize : callable, optional
        Applied to each answer before comparison (e.g. :func:`~estimators.torch.normalize_answer`).
    add_constant : bool
        Add the generator's dropped constant (see :func:`~estimators.torch.group_rewards`).
    scale : float
        Multiplies the rewards (e.g. ``-beta`` for the diversity term ``-beta * phi'(p)``).
    none_answers : "distinct" | "same"
        Unparseable answers count as distinct answers (each has count 0), or as one answer.
    check_prompts : bool
        Use the prompts to find and check the groups (runs of one prompt must tile into groups).
    gather : "auto" | "always" | "never"
        Cross-process gathering when torch.distributed is initialised: when the local slice may
        hold partial groups (auto), on every call (always), or never (partial groups raise; no
        collective at all, not even the layout agreement).
    process_group : torch.distributed group, optional
        The processes that share the batch (default: the default group, TRL's).
    device : torch device for the kernel (default CPU).
    advantage : None | "decoupled" | "rloo" | "grpo"
        The trainer's advantage (C9). None (default): read from the trainer's settings on each call
        (:data:`~estimators.torch.trainer_settings.TRL_RULES`), or from ``args``; a given value overrides them
        ("decoupled" applies the table as given).
    args : GRPOConfig or RLOOConfig, optional
        The trainer's config: its settings are read (and its group sizes checked) now, so a wrong
        table fails here rather than at the first step; the trainer's own settings must agree.
    sync_timeout : float or None
        Seconds the processes may be apart when they agree on the layout (default 60; None: the
        process group's timeout, 30 minutes by default).

    Returns
    -------
    ``reward_func(prompts=None, completions=None, completion_ids=None, **kwargs) -> list[float]``

    Warns once (UserWarning) for a setting with no exact correction (TRL's default ``scale_rewards="group"``)
    or when no trainer and no settings were seen.
    """
    G_train = _check_size(num_generations, "num_generations")
    G_eval = _check_size(num_generations_eval, "num_generations_eval", allow_none=True) or G_train
    if none_answers not in ("distinct", "same"):
        raise ValueError(f"none_answers must be 'distinct' or 'same', got {none_answers!r}")
    if gather not in ("auto", "always", "never"):
        raise ValueError(f"gather must be 'auto', 'always' or 'never', got {gather!r}")
    chooser, args_reading, sizes = _choose_tables(table, G_train, G_eval, num_generations_eval, advantage, args)
    scorer = _Scorer(chooser=chooser, args_reading=args_reading, sizes=sizes,
                     extract=extract_answer if extract_answer is not None else (lambda text: text.strip()),
                     normalize=normalize, none_answers=none_answers, add_constant=add_constant,
                     scale=check_finite_real(scale, name="scale"), check_prompts=check_prompts, gather=gather,
                     process_group=process_group, device=device, timeout=_check_timeout(sync_timeout))

    def reward_func(prompts=None, completions=None, completion_ids=None, **kwargs) -> list:
        return scorer(prompts, completions, kwargs)

    reward_func.__name__ = name or "alft_group_reward"
    reward_func.__qualname__ = reward_func.__name__
    reward_func.alft_tables = chooser  # the tables per (advantage, size) and the warnings given (inspection)
    return reward_func
