"""Stochastic GRPO-style dynamics of the alignment game: one table, many seeds (:func:`simulate`).

Per step and per seed (an independent run): B groups of K traces are sampled from the softmax
policy over traces, each sample gets the reward r(z_i) - beta * g(C_i) from its leave-one-out
count, an advantage (:mod:`.advantages`) and the logits move by one policy-gradient or
mirror-descent step (:mod:`.expected` states the updates and their expectations). The work is done
by the batch engine (:mod:`.engine`: counts instead of samples, all seeds in a few array operations,
worker processes), so the cost per sampled answer is a few nanoseconds (``benchmarks/bench_game.py``).

Randomness: one ``numpy.random.Generator`` (PCG64) per run, seeded by ``RunConfig.seed``; seeds
within a run are rows of the same stream, so runs are reproducible and rows independent.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from estimators import Table
from estimators._validate import check_K, check_positive_int

from .advantages import check_advantage
from .engine import Batch, run_batch
from .expected import check_update
from .spec import GameSpec, check_step_size, check_table_for_game

__all__ = ["RunConfig", "Trajectory", "simulate", "step_sizes", "record_steps", "check_run_size", "MAX_SAMPLES",
           "MAX_SAMPLES_PER_STEP", "MAX_RECORD_BYTES"]

#: work budget of one run or batch: steps * (runs) * groups * K sampled answers (about two minutes at the
#: 1-2e7 answers/s of benchmarks/bench_game.py on 2 cores; the report's largest batch needs about 1.2e9)
MAX_SAMPLES = 1 << 31
#: memory budget of one step: (runs) * groups * K sampled answers (about 100 bytes each: 1.6 GiB)
MAX_SAMPLES_PER_STEP = 1 << 24
#: memory budget of the recorded values: runs * recorded steps * values per record, float64
MAX_RECORD_BYTES = 1 << 30


def check_run_size(seeds: int, groups: int, K: int, steps: int, *, records: int = 1) -> None:
    """Refuse runs beyond the memory of one step (:data:`MAX_SAMPLES_PER_STEP`), the work budget
    (:data:`MAX_SAMPLES`) or the memory of the recorded values (:data:`MAX_RECORD_BYTES`); ``seeds`` counts
    every run of a batch, ``records`` the float64 values recorded per run."""
    per_step = seeds * groups * K
    if per_step > MAX_SAMPLES_PER_STEP:
        raise ValueError(f"seeds * groups * K = {per_step} sampled answers per step exceeds {MAX_SAMPLES_PER_STEP} "
                         f"(the memory of one step); use fewer seeds or groups")
    if per_step * steps > MAX_SAMPLES:
        raise ValueError(f"steps * seeds * groups * K = {per_step * steps} sampled answers exceeds the work budget "
                         f"of one run, {MAX_SAMPLES} (about two minutes); use fewer steps, seeds or groups")
    if seeds * records * 8 > MAX_RECORD_BYTES:
        raise ValueError(f"recording {seeds} runs x {records} values needs {seeds * records * 8} bytes, over "
                         f"{MAX_RECORD_BYTES}; raise record_every or use fewer seeds or steps")


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
        check_run_size(self.seeds, self.groups, self.K, self.steps)
        check_positive_int(self.record_every, name="record_every")
        check_advantage(self.advantage)
        check_update(self.update)
        if self.decay_after is not None:
            check_positive_int(self.decay_after, name="decay_after")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")

    @property
    def samples_per_step(self) -> int:
        return self.seeds * self.groups * self.K

    def to_json(self) -> dict:
        return asdict(self)


def record_steps(cfg: RunConfig) -> np.ndarray:
    """Recorded steps: 0, record_every, 2 record_every, ... and always the last step."""
    rec = np.arange(0, cfg.steps + 1, cfg.record_every)
    return rec if rec[-1] == cfg.steps else np.append(rec, cfg.steps)


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


def simulate(game: GameSpec, table: Table, cfg: RunConfig, *, log=None, theta0=None,
             processes: int = 1) -> Trajectory:
    """Run ``cfg.seeds`` independent stochastic runs of the game from its initial logits (or ``theta0``, [T]).

    A one-configuration :class:`.engine.Batch`. ``processes`` > 1 shares the seeds among worker processes
    (results do not depend on their number; a script that asks for them needs the usual
    ``if __name__ == "__main__":`` guard, as with any spawned process).
    """
    check_table_for_game(game, table, cfg.K)
    check_run_size(cfg.seeds, cfg.groups, cfg.K, cfg.steps, records=record_steps(cfg).size * game.m)
    th0 = game.theta0 if game.initial_logits is not None else None
    if theta0 is not None:
        th0 = np.asarray(theta0, dtype=np.float64)
        if th0.shape != (game.T,) or not np.all(np.isfinite(th0)):
            raise ValueError(f"theta0 must be {game.T} finite logits (one per trace), got shape {th0.shape}")
    bt = Batch(r=game.r, beta=game.beta, answer_of=game.answer_of, K=cfg.K, tables=table.values[None, :],
               etas=step_sizes(cfg)[None, :], seeds=cfg.seeds, groups=cfg.groups, advantage=cfg.advantage,
               update=cfg.update, record=record_steps(cfg), seed=cfg.seed, theta0=th0)
    if log is not None:
        log(f"simulating {cfg.seeds} seeds x {cfg.steps} steps x {cfg.groups} groups of K = {cfg.K}")
    res = run_batch(bt, processes=check_positive_int(processes, name="processes"))
    return Trajectory(steps=bt.record, p=res.values[0], pi_final=res.pi_final[0], config=cfg, seconds=res.seconds,
                      nonfinite_seeds=int((~res.finite[0]).sum()))
