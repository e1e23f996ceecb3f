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

__all__ = ["GameSpec", "make_game", "GAMES", "get_game", "check_table_for_game", "check_step_size", "zipf_game_params"]


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


#: |reward| above this is refused: reward differences must stay exact enough to define the game in float64.
MAX_ABS_REWARD = 1e12
#: (largest reward gap) / beta and beta / (largest reward gap) above this are refused: p* is then a vertex
#: (or the uniform distribution) to float64 precision, and the fixed-point equations lose all their digits.
MAX_SCALE_RATIO = 1e10


def _check_scale(rewards, beta: float) -> None:
    big = max(abs(r) for r in rewards)
    if big > MAX_ABS_REWARD:
        raise ValueError(f"rewards must have |r| <= {MAX_ABS_REWARD:g} (only differences matter: shift or rescale "
                         f"them together with beta), got max |r| = {big:g}")
    gap = max(rewards) - min(rewards)
    if gap > 0 and gap / beta > MAX_SCALE_RATIO:
        raise ValueError(f"beta = {beta:g} is too small for rewards spread over {gap:g}: gap / beta must be <= "
                         f"{MAX_SCALE_RATIO:g} (p* is a vertex to float64 precision below that); use beta >= "
                         f"{gap / MAX_SCALE_RATIO:g}")
    if gap > 0 and beta / gap > MAX_SCALE_RATIO:
        raise ValueError(f"beta = {beta:g} is too large for rewards spread over {gap:g}: beta / gap must be <= "
                         f"{MAX_SCALE_RATIO:g} (p* is uniform to float64 precision beyond that); use beta <= "
                         f"{gap * MAX_SCALE_RATIO:g}")


def _check_logits(logits, T: int) -> tuple[float, ...]:
    if isinstance(logits, (str, bytes)) or not hasattr(logits, "__len__"):
        raise TypeError(f"initial_logits must be a sequence of {T} finite real numbers (one per trace), got {logits!r}")
    if len(logits) != T:
        raise ValueError(f"initial_logits must have one value per trace ({T}), got {len(logits)}")
    out = []
    for i, v in enumerate(logits):
        if isinstance(v, bool) or not isinstance(v, (numbers.Real, np.floating, np.integer)) or \
                not math.isfinite(float(v)):
            raise ValueError(f"initial_logits[{i}] must be a finite real number, got {v!r}")
        out.append(float(v))
    if max(out) - min(out) > 700:
        raise ValueError("initial_logits must span at most 700 (exp(-700) ~ 1e-304 is the smallest initial "
                         f"probability float64 holds), got a span of {max(out) - min(out):g}")
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
    initial_logits : tuple of float or None
        The policy's logits over traces at step 0 (None: all zero, the uniform policy over traces).
    """

    rewards: tuple
    beta: float
    generator: Generator
    trace_answer: tuple
    name: str = "game"
    initial_logits: tuple | None = None

    def __post_init__(self):
        object.__setattr__(self, "rewards", _check_rewards(self.rewards))
        object.__setattr__(self, "beta", _check_beta(self.beta))
        if not isinstance(self.generator, Generator):
            raise TypeError(f"generator must be an estimators Generator, got {type(self.generator).__name__}")
        object.__setattr__(self, "trace_answer", _check_trace_answer(self.trace_answer, len(self.rewards)))
        _check_scale(self.rewards, self.beta)
        if self.initial_logits is not None:
            object.__setattr__(self, "initial_logits", _check_logits(self.initial_logits, len(self.trace_answer)))

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
    def theta0(self) -> np.ndarray:
        """Initial trace logits [T] (zeros: the uniform policy over traces)."""
        if self.initial_logits is None:
            return np.zeros(self.T)
        return np.array(self.initial_logits, dtype=np.float64)

    @property
    def p0(self) -> np.ndarray:
        """Initial answer distribution."""
        th = self.theta0
        w = np.exp(th - th.max())
        return self.answer_probabilities(w / w.sum())

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
                "trace_answer": list(self.trace_answer), "traces_per_answer": self.traces_per_answer.tolist(),
                "initial_logits": None if self.initial_logits is None else list(self.initial_logits)}

    def describe(self) -> str:
        tpa = self.traces_per_answer.tolist()
        traces = "one trace per answer" if self.one_trace_per_answer else f"traces per answer {tpa}"
        start = "" if self.initial_logits is None else \
            f", starting from p0 with min {self.p0.min():.2g} (answer {int(np.argmin(self.p0))})"
        r = list(self.rewards) if self.m <= 8 else f"{self.m} rewards in [{min(self.rewards):g}, {max(self.rewards):g}]"
        return f"{self.name}: r = {r}, beta = {self.beta:g}, generator {self.generator.label()}, {traces}{start}"


def make_game(rewards, beta, generator="kl", *, generator_params: Mapping | None = None,
              traces_per_answer: Sequence[int] | None = None, trace_answer: Sequence[int] | None = None,
              initial_probabilities: Sequence[float] | None = None, name: str = "game") -> GameSpec:
    """Build a :class:`GameSpec`; traces are one per answer unless ``traces_per_answer`` (a count per
    answer, each >= 1) or an explicit ``trace_answer`` map is given (not both). ``initial_probabilities``:
    the answer distribution at step 0 (each > 0, summing to 1; split evenly over an answer's traces);
    default uniform over traces."""
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
    logits = None if initial_probabilities is None else _logits_from(initial_probabilities, trace_answer, len(r))
    return GameSpec(rewards=r, beta=beta, generator=gen, trace_answer=tuple(trace_answer), name=name,
                    initial_logits=logits)


def _logits_from(p0, trace_answer, m: int) -> tuple[float, ...]:
    """Trace logits whose answer distribution is ``p0`` (split evenly over each answer's traces)."""
    if isinstance(p0, (str, bytes)) or not hasattr(p0, "__len__") or len(p0) != m:
        raise ValueError(f"initial_probabilities must give one probability per answer ({m}), got {p0!r}")
    p = []
    for z, v in enumerate(p0):
        if isinstance(v, bool) or not isinstance(v, (numbers.Real, np.floating, np.integer)) or \
                not (math.isfinite(float(v)) and float(v) > 0):
            raise ValueError(f"initial_probabilities[{z}] must be a finite number > 0 (an answer with probability 0 "
                             f"is never sampled), got {v!r}")
        p.append(float(v))
    if abs(sum(p) - 1) > 1e-9:
        raise ValueError(f"initial_probabilities must sum to 1 (within 1e-9), got a sum of {sum(p)!r}")
    counts = np.bincount(np.asarray(trace_answer, dtype=np.int64), minlength=m)
    return tuple(math.log(p[z] / counts[z]) for z in trace_answer)


def zipf_game_params(m: int = 24, exponent: float = 1.1, beta: float = 0.5, tiny: int = 4,
                     tiny_probability: float = 1e-3) -> dict:
    """A larger KL game with a long-tailed optimum: p*(z) proportional to (z + 1)^-exponent over m answers
    (rewards r(z) = 1 - beta * exponent * log(z + 1)), and a start where the ``tiny`` best answers have
    probability ``tiny_probability`` each (the rest share the remainder evenly): the policy must find
    rare good answers, as a pretrained model must."""
    if not (isinstance(m, int) and 2 <= m <= 1000):
        raise ValueError(f"answers must be an integer in [2, 1000], got {m!r}")
    if not (isinstance(tiny, int) and 0 <= tiny < m):
        raise ValueError(f"tiny must be an integer in [0, answers - 1] = [0, {m - 1}], got {tiny!r}")
    if not (0 < tiny_probability and tiny * tiny_probability < 1):
        raise ValueError(f"tiny_probability must be > 0 with tiny * tiny_probability < 1, got {tiny_probability!r}")
    rewards = tuple(1.0 - beta * exponent * math.log(z + 1) for z in range(m))
    rest = (1.0 - tiny * tiny_probability) / (m - tiny)
    p0 = [tiny_probability] * tiny + [rest] * (m - tiny)
    p0[-1] = 1.0 - math.fsum(p0[:-1])
    return dict(rewards=rewards, beta=beta, generator="kl", initial_probabilities=tuple(p0))


#: The default game of the issue, a multi-trace version of it, a Euclidean game where the U-statistic
#: table is exactly unbiased (C1), so its fixed point must be p* itself (beta = 4 keeps every answer in the
#: support of p*: p* = (r - lambda)/beta = (0.335, 0.26, 0.185, 0.135, 0.085)), and a larger game with a
#: long-tailed p* over 24 answers whose four best answers start at probability 1e-3.
DEFAULT_REWARDS = (1.0, 0.7, 0.4, 0.2, 0.0)
GAMES: dict[str, dict] = {
    "default": dict(rewards=DEFAULT_REWARDS, beta=0.5, generator="kl"),
    "traces": dict(rewards=DEFAULT_REWARDS, beta=0.5, generator="kl", traces_per_answer=(1, 2, 3, 4, 5)),
    "euclidean": dict(rewards=DEFAULT_REWARDS, beta=4.0, generator="euclidean"),
    "longtail": zipf_game_params(),
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
