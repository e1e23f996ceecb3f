"""The vectorised simulator core: many configurations x many seeds of the stochastic game in one pass.

A *batch* is P configurations (each its own table g and step-size schedule eta_t) times S seeds, all
with the same game, group size K, advantage and update. Per step, every run samples B groups of K
traces from its softmax policy and moves its logits by one policy-gradient (or mirror-descent) step.

Two ideas make it fast:

* **Counts, not samples.** Every quantity of a step depends on a group only through its counts: samples
  with the same answer share their leave-one-out count, reward and advantage, so the update of trace y
  is N_y * A(a(y)) (minus pi_y * sum_i A_i under policy gradient). Only the sampling itself touches the
  B * K samples of a run (inverse-CDF thresholds, then one ``bincount``); the rest costs O(traces) per
  group.
* **Common random numbers.** The uniforms of seed s are the same for every configuration (rows of one
  PCG64 stream seeded by ``seed``), and sampling is by the inverse CDF (monotone in u), so runs of two
  tables with the same seed see nearly the same groups: differences between methods are measured
  *paired* (:mod:`.stats`), with far less noise than independent runs.

Work is split across ``processes`` worker processes (by configurations, or by seeds when there are
fewer configurations than processes); every worker draws the full stream and uses its rows, so results
do not depend on the number of processes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .advantages import GroupSums, advantage, check_advantage
from .parallel import run_parts

__all__ = ["Batch", "BatchResult", "run_batch", "group_updates", "THRESHOLD_MAX_T"]

#: Up to this many traces, sampling counts the CDF thresholds below u (one vector pass per trace into a
#: small integer: about 1 ns per sample and trace); above it, one ``searchsorted`` over all rows' CDFs.
THRESHOLD_MAX_T = 64


@dataclass
class Batch:
    """Everything a worker needs (plain arrays: picklable, no estimators objects).

    ``tables`` [P, K] float64; ``etas`` [P, steps]; ``record`` sorted steps in [0, steps] at which the
    answer distribution is recorded (as TV to ``p_ref`` when given, else the distribution itself).
    """

    r: np.ndarray
    beta: float
    answer_of: np.ndarray
    K: int
    tables: np.ndarray
    etas: np.ndarray
    seeds: int
    groups: int
    advantage: str
    update: str
    record: np.ndarray
    seed: int
    p_ref: np.ndarray | None = None
    theta0: np.ndarray | None = None

    def __post_init__(self):
        check_advantage(self.advantage)
        self.tables = np.ascontiguousarray(self.tables, dtype=np.float64)
        self.etas = np.ascontiguousarray(self.etas, dtype=np.float64)
        if self.tables.ndim != 2 or self.tables.shape[1] != self.K:
            raise ValueError(f"tables must have shape [configurations, K = {self.K}], got {self.tables.shape}")
        if self.etas.shape[0] != self.tables.shape[0]:
            raise ValueError(f"etas must have one schedule per table ({self.tables.shape[0]}), got {self.etas.shape}")

    @property
    def P(self) -> int:
        return self.tables.shape[0]

    @property
    def steps(self) -> int:
        return self.etas.shape[1]

    @property
    def samples(self) -> int:
        return self.P * self.seeds * self.groups * self.K * self.steps


@dataclass
class BatchResult:
    """``values`` [P, S, records] (TV to p_ref) or [P, S, records, m] (distributions); ``pi_final``
    [P, S, traces]; ``finite`` [P, S] (False where a run's logits overflowed); wall-clock ``seconds`` and the
    CPU seconds of the processes that did the work (``cpu_seconds`` / ``seconds`` near the number of processes
    means they ran in parallel)."""

    values: np.ndarray
    pi_final: np.ndarray
    finite: np.ndarray
    seconds: float
    samples: int
    cpu_seconds: float = float("nan")

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("inf")


def _sample_traces(cdf, u) -> np.ndarray:
    """Trace index y [rows, n] of every uniform ``u`` [rows, n] by the inverse CDF ``cdf`` [T, rows]:
    y = #{j < T - 1 : cdf_j <= u} (the last entry of the CDF is 1)."""
    T, rows = cdf.shape
    if T <= THRESHOLD_MAX_T:
        # one compare-and-add pass per threshold into a small integer (fastest up to tens of traces)
        y = np.zeros(u.shape, dtype=np.int8 if T <= 127 else np.int16)
        for j in range(T - 1):
            y += u >= cdf[j][:, None]
        return y.astype(np.int64)
    off = 2.0 * np.arange(rows)[:, None]                 # rows of the flattened CDF never interleave
    y = np.searchsorted((cdf.T + off).ravel(), (u + off).ravel(), side="right").reshape(u.shape)
    return np.minimum(y - (np.arange(rows, dtype=np.int64) * T)[:, None], T - 1)


def _group_columns(rows: int, B: int, K: int) -> np.ndarray:
    """Column (group b, row) of every sample [rows, B * K] in the trace-major count layout [T, B, rows]."""
    return (np.arange(B, dtype=np.int64) * rows).repeat(K)[None, :] + np.arange(rows, dtype=np.int64)[:, None]


def _count_level_direction(bt: Batch, Ntr, pi, tables_flat, starts) -> np.ndarray:
    """Sum over the B groups of the update direction [T, rows], computed per (answer, group): samples with
    the same answer in a group share count, reward and advantage (cheaper when answers <= K)."""
    rows = pi.shape[1]
    N = Ntr if starts is None else np.add.reduceat(Ntr, starts, axis=0)
    row_base = (np.arange(rows, dtype=np.int64) * bt.K)[None, None, :]
    C = np.maximum(N - 1, 0)
    gC = tables_flat[row_base + C]
    rr = bt.r[:, None, None]
    Nf = N.astype(np.float64)
    A = _advantage(bt, Nf, C, gC, rr, lambda: tables_flat[row_base + np.maximum(C - 1, 0)], axis=0)
    A_tr = A if starts is None else A[bt.answer_of]
    G = (Ntr * A_tr).sum(axis=1)
    if bt.update == "pg":
        G -= pi * (Nf * A).sum(axis=(0, 1))
    else:
        G /= pi
    return G


def _sample_level_direction(bt: Batch, y, cols, Ntr, pi, tables_flat, starts) -> np.ndarray:
    """As :func:`_count_level_direction`, computed per sample (cheaper when answers > K)."""
    T, rows = pi.shape
    B, K = bt.groups, bt.K
    N = Ntr if starts is None else np.add.reduceat(Ntr, starts, axis=0)
    z = y if starts is None else bt.answer_of[y]
    C = (N.ravel()[z * (rows * B) + cols] - 1).reshape(rows, B, K)
    row_base = (np.arange(rows, dtype=np.int64) * K)[:, None, None]
    gC = tables_flat[row_base + C]
    A = _advantage(bt, None, C, gC, bt.r[z].reshape(rows, B, K),
                   lambda: tables_flat[row_base + np.maximum(C - 1, 0)], axis=2)
    G = np.bincount((y * (rows * B) + cols).ravel(), weights=A.ravel(), minlength=T * B * rows)
    G = G.reshape(T, B, rows).sum(axis=1)
    if bt.update == "pg":
        G -= pi * A.sum(axis=(1, 2))
    else:
        G /= pi
    return G


def _advantage(bt: Batch, weights, C, gC, rz, g_minus, axis: int) -> np.ndarray:
    """Advantages from counts C, table values gC and rewards rz; the group sums run over ``axis`` (answers
    weighted by their counts ``weights``, or samples with ``weights`` None). ``g_minus``: g(C - 1), lazily."""
    kind, beta, K = bt.advantage, bt.beta, bt.K

    def total(x):
        return (x if weights is None else weights * x).sum(axis=axis, keepdims=weights is None)

    R = rz - beta * gC
    sum_R = total(R)
    if kind == "rloo":
        sums = GroupSums(R=sum_R, r=None, g=None, css=None)
        return advantage("rloo", R=R, r_i=rz, g_i=gC, g_minus_i=None, C_i=C, sums=sums, beta=beta, K=K)
    if kind == "decoupled":
        sums = GroupSums(R=sum_R, r=total(rz), g=total(gC), css=None)
        return advantage("decoupled", R=R, r_i=rz, g_i=gC, g_minus_i=g_minus(), C_i=C, sums=sums, beta=beta, K=K)
    dev = R - sum_R / K
    sums = GroupSums(R=sum_R, r=None, g=None, css=total(dev * dev))
    return advantage("grpo", R=R, r_i=rz, g_i=gC, g_minus_i=None, C_i=C, sums=sums, beta=beta, K=K)


def _step_direction(bt: Batch, u, pi, tables_flat, starts) -> np.ndarray:
    """Sample B groups of K from every run's policy ``pi`` [T, rows] with uniforms ``u`` [rows, B K]; return
    the sum over groups of the update direction [T, rows] (before eta / (B K))."""
    T, rows = pi.shape
    cdf = np.cumsum(pi, axis=0)
    cdf[-1] = 1.0
    y = _sample_traces(cdf, u)
    cols = _group_columns(rows, bt.groups, bt.K)
    Ntr = np.bincount((y * (rows * bt.groups) + cols).ravel(), minlength=T * bt.groups * rows)
    Ntr = Ntr.reshape(T, bt.groups, rows)
    if bt.r.size <= bt.K:
        return _count_level_direction(bt, Ntr, pi, tables_flat, starts)
    return _sample_level_direction(bt, y, cols, Ntr, pi, tables_flat, starts)


def _softmax0(theta: np.ndarray) -> np.ndarray:
    """Softmax over axis 0 (traces) of [T, rows]."""
    e = np.exp(theta - theta.max(axis=0))
    return e / e.sum(axis=0)


def _starts(answer_of: np.ndarray):
    """Start index of each answer's block of traces (traces grouped by answer, see :func:`_prepare`), or None
    when trace y is answer y."""
    if np.array_equal(answer_of, np.arange(answer_of.size)):
        return None
    return np.flatnonzero(np.r_[True, answer_of[1:] != answer_of[:-1]])


def _run_part(bt: Batch, c0: int, c1: int, s0: int, s1: int) -> tuple:
    """Configurations [c0, c1) x seeds [s0, s1) of the batch (one worker's share)."""
    cpu0 = time.process_time()
    Pw, Sw, B, K = c1 - c0, s1 - s0, bt.groups, bt.K
    rows = Pw * Sw
    T = bt.answer_of.size
    starts = _starts(bt.answer_of)
    tables_flat = np.repeat(bt.tables[c0:c1], Sw, axis=0).ravel()
    etas = np.repeat(bt.etas[c0:c1], Sw, axis=0).T / (B * K)                   # [steps, rows]
    rng = np.random.default_rng(bt.seed)
    theta = np.zeros((T, rows))
    if bt.theta0 is not None:
        theta += np.asarray(bt.theta0)[:, None]
    m = bt.r.size
    out = np.empty((bt.record.size, rows) if bt.p_ref is not None else (bt.record.size, m, rows))
    p_ref = None if bt.p_ref is None else np.asarray(bt.p_ref)[:, None]
    j = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(bt.steps + 1):
            pi = _softmax0(theta)
            if j < bt.record.size and bt.record[j] == t:
                p = pi if starts is None else np.add.reduceat(pi, starts, axis=0)
                out[j] = 0.5 * np.abs(p - p_ref).sum(axis=0) if p_ref is not None else p
                j += 1
            if t == bt.steps:
                break
            u = rng.random((bt.seeds, B * K))[s0:s1]
            uu = np.broadcast_to(u[None], (Pw, Sw, B * K)).reshape(rows, B * K)
            theta += etas[t] * _step_direction(bt, uu, pi, tables_flat, starts)
            theta -= theta.max(axis=0)
    finite = np.isfinite(theta).all(axis=0) & np.isfinite(out.reshape(-1, rows)).all(axis=0)
    vals = np.moveaxis(out, -1, 0).reshape(Pw, Sw, *out.shape[:-1])          # [Pw, Sw, records(, m)]
    return vals, _softmax0(theta).T.reshape(Pw, Sw, T), finite.reshape(Pw, Sw), time.process_time() - cpu0


def _prepare(bt: Batch) -> tuple[Batch, np.ndarray]:
    """Order traces by answer (stable) so that each answer's traces are one block; returns the batch and
    the permutation that restores the caller's trace order."""
    order = np.argsort(bt.answer_of, kind="stable")
    if np.array_equal(order, np.arange(order.size)):
        return bt, order
    bt2 = Batch(**{**bt.__dict__, "answer_of": bt.answer_of[order],
                   "theta0": None if bt.theta0 is None else np.asarray(bt.theta0)[order]})
    return bt2, order


def _parts(P: int, S: int, processes: int) -> list[tuple[int, int, int, int]]:
    if processes <= 1:
        return [(0, P, 0, S)]
    if P >= processes:
        cuts = np.linspace(0, P, processes + 1).round().astype(int)
        return [(int(a), int(b), 0, S) for a, b in zip(cuts, cuts[1:]) if b > a]
    cuts = np.linspace(0, S, processes + 1).round().astype(int)
    return [(c, c + 1, int(a), int(b)) for c in range(P) for a, b in zip(cuts, cuts[1:]) if b > a]


#: Batches with fewer sampled answers than this run in the calling process (a worker round trip costs more).
INLINE_SAMPLES = 4_000_000


def run_batch(bt: Batch, *, processes: int = 1) -> BatchResult:
    """Run every configuration and seed of ``bt``; see the module docstring."""
    bt2, order = _prepare(bt)
    t0 = time.perf_counter()
    procs = 1 if bt.samples < INLINE_SAMPLES else processes
    parts = _parts(bt.P, bt.seeds, procs)
    outs = run_parts(_run_part, bt2, parts, processes=procs)
    P, S, T = bt.P, bt.seeds, bt.answer_of.size
    rec_shape = (P, S, bt.record.size) if bt.p_ref is not None else (P, S, bt.record.size, bt.r.size)
    values, pi, finite = np.empty(rec_shape), np.empty((P, S, T)), np.empty((P, S), dtype=bool)
    for (c0, c1, s0, s1), (v, p, f, _cpu) in zip(parts, outs):
        values[c0:c1, s0:s1], pi[c0:c1, s0:s1], finite[c0:c1, s0:s1] = v, p, f
    inv = np.empty_like(order)
    inv[order] = np.arange(order.size)
    return BatchResult(values=values, pi_final=pi[..., inv], finite=finite, seconds=time.perf_counter() - t0,
                       samples=bt.samples, cpu_seconds=float(sum(o[3] for o in outs)))


def group_updates(bt: Batch, theta: np.ndarray, n_groups: int, rng) -> np.ndarray:
    """Update directions of ``n_groups`` independent single groups at logits ``theta`` [T] for the first
    table of ``bt`` (rows [n_groups, T], each (1/K) sum_i A_i (e_{y_i} - pi) under policy gradient): the
    per-group noise whose covariance the horizon predictor needs (:mod:`.predict`)."""
    bt2, order = _prepare(Batch(**{**bt.__dict__, "tables": bt.tables[:1], "etas": bt.etas[:1], "groups": 1,
                                   "theta0": np.asarray(theta, dtype=np.float64)}))
    T = bt2.answer_of.size
    starts = _starts(bt2.answer_of)
    pi = _softmax0(np.broadcast_to(bt2.theta0[:, None], (T, n_groups)))
    tables_flat = np.tile(bt2.tables[0], n_groups)
    G = _step_direction(bt2, rng.random((n_groups, bt.K)), pi, tables_flat, starts) / bt.K
    inv = np.empty_like(order)
    inv[order] = np.arange(order.size)
    return G.T[:, inv]
