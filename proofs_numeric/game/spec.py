"""The tabular alignment game (docs/claims.md, C7): answers, traces, rewards, strength and generator.

A policy is a softmax over reasoning *traces*; each trace ends in one *answer* (a many-to-one
map), and only the answer distribution p(z) = sum_{y: a(y) = z} pi(y) enters the objective

    J(p) = <r, p> - beta * sum_z phi(p(z)).

A sampled trace y_i in a group of K gets the reward r(z_i) - beta * (g(C_i) + dropped constant),
where C_i is its leave-one-out count and g an estimator table. :class:`GameSpec` holds the game
and checks it; :data:`GAMES` names the configurations the report and ``alft game`` use.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from functools import cached_property
from typing import Mapping, Sequence

import numpy as np

from estimators import Generator, Table, get_generator
from estimators._validate import check_K

__all__ = ["GameSpec", "make_game", "GAMES", "get_game", "check_table_for_game", "check_step_size"]


def _check_rewards(rewards) -> tuple[float, ...]:
    if isinstance(rewards, (str, bytes)) or not hasattr(rewards, "__len__"):
        raise TypeError(f"rewards must be a sequence of finite real numbers (one per answer), got {rewards!r}")
    out = []
    for i, r in enumerate(rewards):
        if isinstance(r, bool) or not isinstance(r, (numbers.Real, np.floating, np.integer)):
            raise TypeError(f"rewards[{i}] must be a finite real number, got {r!r}")
        if not math.isfinite(float(r)):
            raise ValueError(f"rewards[{i}] must be a finite real number (no NaN or inf), got {r!r}")
        out.append(float(r))
    if len(out) < 2:
        raise ValueError(f"rewards must give at least 2 answers (one reward each), got {len(out)}")
    return tuple(out)


def _check_positive(x, name: str) -> float:
    """Return ``x`` as a float after checking it is a finite real number > 0."""
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a finite real number > 0, got {x!r}")
    v = float(x)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite real number > 0, got {x!r}")
    return v


def _check_beta(beta) -> float:
    return _check_positive(beta, "beta")


def check_step_size(step_size, *, name: str = "step_size") -> float:
    """Return ``step_size`` as a float after checking it is finite and > 0."""
    return _check_positive(step_size, name)


def _check_trace_answer(trace_answer, m: int) -> tuple[int, ...]:
    if isinstance(trace_answer, (str, bytes)) or not hasattr(trace_answer, "__len__"):
        raise TypeError(f"trace_answer must be a sequence of answer indices (one per trace), got {trace_answer!r}")
    out = []
    for y, z in enumerate(trace_answer):
        if isinstance(z, bool) or not isinstance(z, (numbers.Integral, np.integer)):
            raise TypeError(f"trace_answer[{y}] must be an answer index in [0, {m - 1}], got {z!r}")
        if not 0 <= int(z) < m:
            raise ValueError(f"trace_answer[{y}] must be an answer index in [0, {m - 1}] "
                             f"(rewards has {m} entries), got {z}")
        out.append(int(z))
    unreachable = sorted(set(range(m)) - set(out))
    if unreachable:
        raise ValueError(f"trace_answer leaves answer(s) {unreachable} unreachable: every answer in "
                         f"[0, {m - 1}] needs at least one trace (or drop its reward)")
    return tuple(out)


@dataclass(frozen=True)
class GameSpec:
    """A tabular alignment game.

    Attributes
    ----------
    rewards : tuple of float
        r(z) for the m answers (finite).
    beta : float
        Diversity strength, > 0.
    generator : Generator
        phi (``kl``, ``euclidean``, ``power``, ``polynomial``).
    trace_answer : tuple of int
        a(y): the answer of each of the T >= m traces; every answer is reachable.
    name : str
        A label for reports.
    """

    rewards: tuple
    beta: float
    generator: Generator
    trace_answer: tuple
    name: str = "game"

    def __post_init__(self):
        object.__setattr__(self, "rewards", _check_rewards(self.rewards))
        object.__setattr__(self, "beta", _check_beta(self.beta))
        if not isinstance(self.generator, Generator):
            raise TypeError(f"generator must be an estimators Generator, got {type(self.generator).__name__}")
        object.__setattr__(self, "trace_answer", _check_trace_answer(self.trace_answer, len(self.rewards)))

    @property
    def m(self) -> int:
        """Number of answers."""
        return len(self.rewards)

    @property
    def T(self) -> int:
        """Number of traces."""
        return len(self.trace_answer)

    @property
    def r(self) -> np.ndarray:
        return np.array(self.rewards, dtype=np.float64)

    @property
    def answer_of(self) -> np.ndarray:
        """a(y) as an int64 array of length T."""
        return np.array(self.trace_answer, dtype=np.int64)

    @property
    def traces_per_answer(self) -> np.ndarray:
        return np.bincount(self.answer_of, minlength=self.m)

    @property
    def one_trace_per_answer(self) -> bool:
        return self.T == self.m

    @cached_property
    def trace_to_answer_matrix(self) -> np.ndarray:
        """[T, m] 0/1 matrix with a one at (y, a(y))."""
        M = np.zeros((self.T, self.m))
        M[np.arange(self.T), self.answer_of] = 1.0
        M.setflags(write=False)
        return M

    def answer_probabilities(self, pi: np.ndarray) -> np.ndarray:
        """p(z) = sum over the traces of z of pi(y), along the last axis of ``pi`` ([..., T] -> [..., m])."""
        pi = np.asarray(pi, dtype=np.float64)
        if pi.shape[-1] != self.T:
            raise ValueError(f"pi must have {self.T} trace probabilities on its last axis, got shape {pi.shape}")
        if self.one_trace_per_answer and self.trace_answer == tuple(range(self.m)):
            return pi.copy()
        return pi @ self.trace_to_answer_matrix

    def to_dict(self) -> dict:
        gen = self.generator
        return {"name": self.name, "rewards": list(self.rewards), "beta": self.beta,
                "generator": gen.name, "generator_params": dict(gen.params),
                "trace_answer": list(self.trace_answer), "traces_per_answer": self.traces_per_answer.tolist()}

    def describe(self) -> str:
        tpa = self.traces_per_answer.tolist()
        traces = "one trace per answer" if self.one_trace_per_answer else f"traces per answer {tpa}"
        return (f"{self.name}: r = {list(self.rewards)}, beta = {self.beta:g}, generator {self.generator.label()}, "
                f"{traces}")


def make_game(rewards, beta, generator="kl", *, generator_params: Mapping | None = None,
              traces_per_answer: Sequence[int] | None = None, trace_answer: Sequence[int] | None = None,
              name: str = "game") -> GameSpec:
    """Build a :class:`GameSpec`; traces are one per answer unless ``traces_per_answer`` (a count per
    answer, each >= 1) or an explicit ``trace_answer`` map is given (not both)."""
    gen = get_generator(generator, **(generator_params or {}))
    r = _check_rewards(rewards)
    if traces_per_answer is not None and trace_answer is not None:
        raise ValueError("give traces_per_answer or trace_answer, not both")
    if traces_per_answer is not None:
        if len(traces_per_answer) != len(r):
            raise ValueError(f"traces_per_answer must have one count per answer ({len(r)}), "
                             f"got {len(traces_per_answer)}")
        for z, t in enumerate(traces_per_answer):
            if isinstance(t, bool) or not isinstance(t, (numbers.Integral, np.integer)) or t < 1:
                raise ValueError(f"traces_per_answer[{z}] must be an integer >= 1 (an answer with no trace is "
                                 f"unreachable), got {t!r}")
        trace_answer = [z for z, t in enumerate(traces_per_answer) for _ in range(int(t))]
    elif trace_answer is None:
        trace_answer = list(range(len(r)))
    return GameSpec(rewards=r, beta=beta, generator=gen, trace_answer=tuple(trace_answer), name=name)


#: The default game of the issue, a multi-trace version of it, and a Euclidean game where the
#: U-statistic table is exactly unbiased (C1), so its fixed point must be p* itself (beta = 4 keeps
#: every answer in the support of p*: p* = (r - lambda)/beta = (0.335, 0.26, 0.185, 0.135, 0.085)).
DEFAULT_REWARDS = (1.0, 0.7, 0.4, 0.2, 0.0)
GAMES: dict[str, dict] = {
    "default": dict(rewards=DEFAULT_REWARDS, beta=0.5, generator="kl"),
    "traces": dict(rewards=DEFAULT_REWARDS, beta=0.5, generator="kl", traces_per_answer=(1, 2, 3, 4, 5)),
    "euclidean": dict(rewards=DEFAULT_REWARDS, beta=4.0, generator="euclidean"),
}


def get_game(name: str) -> GameSpec:
    """One of the named configurations in :data:`GAMES`."""
    if name not in GAMES:
        raise ValueError(f"game must be one of {sorted(GAMES)}, got {name!r}")
    return make_game(name=name, **GAMES[name])


def check_table_for_game(game: GameSpec, table: Table, K=None) -> Table:
    """Check that ``table`` estimates the game's generator and, when given, has the game's group size K."""
    if not isinstance(table, Table):
        raise TypeError(f"table must be an estimators.Table, got {type(table).__name__}")
    gen, tg = game.generator, table.generator
    if tg.name != gen.name or dict(tg.params) != dict(gen.params):
        raise ValueError(f"table estimates generator {tg.label()!r} but the game's generator is {gen.label()!r}")
    if K is not None:
        K = check_K(K)
        if table.K != K:
            raise ValueError(f"table has K = {table.K} entries but the game is played with groups of K = {K}: "
                             f"build the table for K = {K}")
    return table
