"""Stochastic GRPO-style dynamics of the alignment game, vectorised over seeds and groups (numpy).

Per step and per seed (an independent run): B groups of K traces are sampled from the softmax
policy over traces, each sample gets the reward r(z_i) - beta * g(C_i) from its leave-one-out
count, an advantage (:mod:`.advantages`) and the logits move by one policy-gradient or
mirror-descent step (:mod:`.expected` states the updates and their expectations). All seeds,
groups and samples of a step are handled by a few array operations (inverse-CDF sampling by
threshold counts, two ``bincount`` to count and to scatter the gradient), so the cost per sampled
answer is a few tens of nanoseconds (``benchmarks/bench_game.py``).

Randomness: one ``numpy.random.Generator`` (PCG64) per run, seeded by ``RunConfig.seed``; seeds
within a run are rows of the same stream, so runs are reproducible and rows independent.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
from scipy import special

from estimators import Table
from estimators._validate import check_K, check_positive_int

from .advantages import GroupSums, advantage, check_advantage
from .expected import check_update
from .spec import GameSpec, check_step_size, check_table_for_game

__all__ = ["RunConfig", "Trajectory", "simulate", "step_sizes", "MAX_SAMPLES", "MAX_SAMPLES_PER_STEP",
           "MAX_RECORD_BYTES"]

#: work budget of one run: steps * seeds * groups * K sampled answers (about two minutes at the 1-2e7
#: answers/s of benchmarks/bench_game.py on 2 cores; the report's largest run needs 1.3e7)
MAX_SAMPLES = 1 << 31
#: memory budget of one step: seeds * groups * K sampled answers (about 100 bytes each: 1.6 GiB)
MAX_SAMPLES_PER_STEP = 1 << 24
#: memory budget of the recorded policies: seeds * (steps / record_every + 1) * answers float64
MAX_RECORD_BYTES = 1 << 30


@dataclass(frozen=True)
class RunConfig:
    """One stochastic experiment: ``seeds`` independent runs of ``steps`` steps.

    ``groups``: groups of K per step (B); ``record_every``: steps between recorded policies;
    ``decay_after``: when set, the step size is eta * decay_after / t for t > decay_after
    (Robbins-Monro), so the iterates settle on the fixed point instead of fluctuating around it.
    """

    K: int
    step_size: float
    steps: int
    groups: int = 8
    seeds: int = 64
    advantage: str = "decoupled"
    update: str = "pg"
    record_every: int = 1
    seed: int = 0
    decay_after: int | None = None

    def __post_init__(self):
        check_K(self.K)
        object.__setattr__(self, "step_size", check_step_size(self.step_size))
        check_positive_int(self.steps, name="steps")
        check_positive_int(self.groups, name="groups")
        check_positive_int(self.seeds, name="seeds")
        check_positive_int(self.record_every, name="record_every")
        check_advantage(self.advantage)
        check_update(self.update)
        if self.decay_after is not None:
            check_positive_int(self.decay_after, name="decay_after")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.samples_per_step > MAX_SAMPLES_PER_STEP:
            raise ValueError(f"seeds * groups * K = {self.samples_per_step} sampled answers per step exceeds "
                             f"{MAX_SAMPLES_PER_STEP} (the memory of one step); use fewer seeds or groups")
        if self.samples_per_step * self.steps > MAX_SAMPLES:
            raise ValueError(f"steps * seeds * groups * K = {self.samples_per_step * self.steps} sampled answers "
                             f"exceeds the work budget of one run, {MAX_SAMPLES} (about two minutes); use fewer "
                             f"steps, seeds or groups")

    @property
    def samples_per_step(self) -> int:
        return self.seeds * self.groups * self.K

    def to_json(self) -> dict:
        return asdict(self)


def step_sizes(cfg: RunConfig) -> np.ndarray:
    """Step size of each step t = 1..steps."""
    t = np.arange(1, cfg.steps + 1, dtype=np.float64)
    eta = np.full(cfg.steps, cfg.step_size)
    if cfg.decay_after is not None:
        eta = np.where(t > cfg.decay_after, cfg.step_size * cfg.decay_after / t, eta)
    return eta


@dataclass
class Trajectory:
    """Recorded answer distributions ``p`` [seeds, records, m] at ``steps`` [records] (0 = start)."""

    steps: np.ndarray
    p: np.ndarray
    pi_final: np.ndarray
    config: RunConfig
    seconds: float
    nonfinite_seeds: int = 0

    @property
    def samples(self) -> int:
        return self.config.samples_per_step * self.config.steps

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("inf")


#: Up to this many traces, sampling counts the CDF thresholds below u (one vector pass per trace);
#: above it, one searchsorted over the seeds' concatenated CDFs.
_THRESHOLD_SAMPLING_MAX_T = 16


def _inverse_cdf(cdf: np.ndarray, u: np.ndarray, row_off: np.ndarray, trace_base: np.ndarray) -> np.ndarray:
    """Trace index y[s, i] = #{j < T - 1 : cdf[s, j] <= u[s, i]} (inverse-CDF sampling, exact in float64)."""
    S, T = cdf.shape
    if T <= _THRESHOLD_SAMPLING_MAX_T:
        y = np.zeros(u.shape, dtype=np.int64)
        for j in range(T - 1):
            y += u >= cdf[:, j:j + 1]
        return y
    y = np.searchsorted((cdf + row_off).ravel(), (u + row_off).ravel(), side="right").reshape(u.shape)
    return np.minimum(y - trace_base, T - 1)


def simulate(game: GameSpec, table: Table, cfg: RunConfig, *, log=None, theta0=None) -> Trajectory:
    """Run ``cfg.seeds`` independent stochastic runs of the game from uniform logits (or ``theta0``, [T])."""
    check_table_for_game(game, table, cfg.K)
    S, B, K, T, m = cfg.seeds, cfg.groups, cfg.K, game.T, game.m
    rng = np.random.default_rng(cfg.seed)
    g = np.ascontiguousarray(table.values)
    r, beta = game.r, game.beta
    answer_of = game.answer_of
    to_answers = game.trace_to_answer_matrix
    etas = step_sizes(cfg)
    n_rec = cfg.steps // cfg.record_every + 2
    if S * n_rec * m * 8 > MAX_RECORD_BYTES:
        raise ValueError(f"recording {S} seeds x {n_rec} steps x {m} answers needs {S * n_rec * m * 8} bytes, over "
                         f"{MAX_RECORD_BYTES}; raise record_every or use fewer seeds or steps")
    rec_steps = np.arange(0, cfg.steps + 1, cfg.record_every)
    if rec_steps[-1] != cfg.steps:
        rec_steps = np.append(rec_steps, cfg.steps)
    P = np.empty((S, rec_steps.size, m))
    theta = np.zeros((S, T))
    if theta0 is not None:
        th0 = np.asarray(theta0, dtype=np.float64)
        if th0.shape != (T,) or not np.all(np.isfinite(th0)):
            raise ValueError(f"theta0 must be {T} finite logits (one per trace), got shape {th0.shape}")
        theta += th0
    row_off = (2.0 * np.arange(S))[:, None]                    # rows of the flattened CDF never interleave
    trace_base = (np.arange(S) * T)[:, None]
    group_key = (np.arange(S * B) * m).reshape(S, B, 1)
    seed_trace_key = (np.arange(S) * T)[:, None, None]
    scale = 1.0 / (B * K)
    j = 0
    t0 = time.perf_counter()
    for t in range(cfg.steps + 1):
        pi = special.softmax(theta, axis=1)
        if rec_steps[j] == t:
            P[:, j] = pi @ to_answers
            j += 1
            if log is not None and j % max(1, rec_steps.size // 4) == 0:
                log(f"step {t}/{cfg.steps}")
        if t == cfg.steps:
            break
        cdf = np.cumsum(pi, axis=1)
        cdf[:, -1] = 1.0
        u = rng.random((S, B * K))
        y = _inverse_cdf(cdf, u, row_off, trace_base).reshape(S, B, K)
        z = answer_of[y]
        N = np.bincount((group_key + z).ravel(), minlength=S * B * m).reshape(S, B, m)
        C = np.take_along_axis(N, z, axis=2) - 1
        gC = g[C]
        rz = r[z]
        R = rz - beta * gC
        sum_R = R.sum(axis=2, keepdims=True)
        if cfg.advantage == "decoupled":
            sums = GroupSums(R=sum_R, r=rz.sum(axis=2, keepdims=True), g=gC.sum(axis=2, keepdims=True), css=None)
            A = advantage("decoupled", R=R, r_i=rz, g_i=gC, g_minus_i=g[np.maximum(C - 1, 0)], C_i=C,
                          sums=sums, beta=beta, K=K)
        elif cfg.advantage == "grpo":
            dev = R - sum_R / K
            sums = GroupSums(R=sum_R, r=None, g=None, css=(dev * dev).sum(axis=2, keepdims=True))
            A = advantage("grpo", R=R, r_i=rz, g_i=gC, g_minus_i=None, C_i=C, sums=sums, beta=beta, K=K)
        else:
            A = advantage("rloo", R=R, r_i=rz, g_i=gC, g_minus_i=None, C_i=C,
                          sums=GroupSums(R=sum_R, r=None, g=None, css=None), beta=beta, K=K)
        G = np.bincount((seed_trace_key + y).ravel(), weights=A.ravel(), minlength=S * T).reshape(S, T)
        if cfg.update == "pg":
            G -= pi * A.sum(axis=(1, 2))[:, None]
        else:
            G /= pi
        theta += (etas[t] * scale) * G
        theta -= theta.max(axis=1, keepdims=True)
    seconds = time.perf_counter() - t0
    bad = ~np.isfinite(P).all(axis=(1, 2))
    return Trajectory(steps=rec_steps, p=P, pi_final=special.softmax(theta, axis=1), config=cfg, seconds=seconds,
                      nonfinite_seeds=int(bad.sum()))
