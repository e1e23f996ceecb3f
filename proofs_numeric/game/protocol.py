"""The fair convergence protocol (claim C7(c)): every table gets its own tuned step size, measured on fresh seeds.

For one game, one advantage and one group size K:

1. **Tables.** Every method of the list (classical tables, AQP at each budget), and under ``rloo`` also
   the baseline-aware version of each (``build_table(..., advantage="rloo")``, C9): the trainer's
   baseline shifts a plain table, the corrected one undoes the shift. ``grpo`` has no correction.
2. **Tuning.** Each table runs every schedule of a grid (constant step sizes eta, and eta decaying as
   eta * tau / t after step tau) on *tuning seeds*, all in one batch with common random numbers.
   For each horizon T the schedule with the least seed-mean TV(p_T, p*) is chosen; for the *best error*
   the pair (schedule, step t <= T_max) with the least seed-mean error is chosen.
3. **Measurement.** The chosen schedules run again on *fresh seeds* (another stream); the error at T
   (or at the chosen t) is reported per seed, with a Student-t interval over seeds. All tables of a
   (game, advantage, K) share the measurement seeds, so comparisons are paired (:mod:`.stats`).

A schedule chosen at the edge of the grid is flagged: the table might do better outside it.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from estimators import Table, build_table, method_names

from .dynamics import check_run_size
from .engine import Batch, run_batch
from .equilibria import optimum
from .spec import GameSpec

__all__ = ["Schedule", "Entry", "ProtocolConfig", "entries_for", "record_grid", "schedule_grid", "tune",
           "measure", "run_cell", "make_batch", "protocol_methods", "build_cell_tables", "Cell", "SCHEDULE_KINDS", "DECAY_TAU"]

SCHEDULE_KINDS = ("constant", "decay")
#: the decaying schedule keeps eta for DECAY_TAU steps, then eta * DECAY_TAU / t (Robbins-Monro)
DECAY_TAU = 30


@dataclass(frozen=True)
class Schedule:
    """A step-size schedule: ``constant`` eta, or ``decay``: eta up to step ``tau``, eta * tau / t after."""

    kind: str
    eta: float
    tau: int = DECAY_TAU

    def __post_init__(self):
        if self.kind not in SCHEDULE_KINDS:
            raise ValueError(f"schedule kind must be one of {SCHEDULE_KINDS}, got {self.kind!r}")
        if not (isinstance(self.eta, (int, float)) and np.isfinite(self.eta) and self.eta > 0):
            raise ValueError(f"schedule eta must be a finite number > 0, got {self.eta!r}")

    def etas(self, steps: int) -> np.ndarray:
        """Step size of each step t = 1..steps."""
        t = np.arange(1, steps + 1, dtype=np.float64)
        if self.kind == "constant":
            return np.full(steps, float(self.eta))
        return np.where(t > self.tau, self.eta * self.tau / t, float(self.eta))

    @property
    def label(self) -> str:
        return f"{self.eta:g}" if self.kind == "constant" else f"{self.eta:g}·{self.tau}/t"

    def to_json(self) -> dict:
        return {"kind": self.kind, "eta": float(self.eta), "tau": self.tau if self.kind == "decay" else None}


@dataclass(frozen=True)
class Entry:
    """One table of the comparison: a method with its parameters, plain or corrected for the ``rloo`` baseline.

    ``solve``: build a corrected AQP table by solving it (``build_table(..., solve=True)``: seconds per table
    the first time, then cached) instead of refusing it when it is not shipped."""

    method: str
    params: tuple = ()
    corrected: bool = False
    solve: bool = False

    @property
    def label(self) -> str:
        p = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in self.params)
        base = f"{self.method}({p})" if p else self.method
        return base + (" [rloo-corrected]" if self.corrected else "")

    def build(self, game: GameSpec, K: int) -> Table:
        extra = {"solve": True} if self.solve and self.corrected and self.method == "aqp" else {}
        return build_table(game.generator, self.method, K, advantage="rloo" if self.corrected else "decoupled",
                           **dict(self.params), **extra)


def protocol_methods(game) -> list[tuple[str, dict]]:
    """The methods the protocol compares on ``game``: the classical tables, the U-statistic for a polynomial
    target, else the minimax table and the AQP table at every shipped budget when the shipped set is for this
    generator (unregistered methods left out)."""
    from estimators.aqp import SHIPPED_EPS

    known = set(method_names())
    out = [("plugin", {}), ("jackknife", {})]
    if game.generator.is_polynomial:       # an unbiased table exists (C1)
        out.append(("ustat", {}))
    else:                                  # none does: the least biased table (C3) and the variance trade-off (C6)
        out.append(("minimax", {}))
        if _aqp_shipped_for(game.generator):
            out += [("aqp", {"eps": float(e)}) for e in SHIPPED_EPS]
    return [(n, p) for n, p in out if n in known]


def _aqp_shipped_for(generator) -> bool:
    """Whether the shipped AQP set was built for ``generator`` (its manifest names the generator)."""
    from estimators import get_generator
    from estimators.aqp.shipped import ShippedTableError, manifest
    try:
        g = manifest()["generator"]
        return get_generator(g["name"], **g.get("params", {})) == generator
    except (ShippedTableError, KeyError, TypeError, ValueError):
        return False


def entries_for(methods, advantage: str, *, solve: bool = False) -> list[Entry]:
    """The tables compared under ``advantage``: each method plain, and under ``rloo`` also corrected (corrected
    AQP tables solved when ``solve``, else as shipped)."""
    out = [Entry(name, tuple(sorted(params.items()))) for name, params in methods]
    if advantage == "rloo":
        out += [Entry(e.method, e.params, True, solve) for e in out]
    return out


@dataclass(frozen=True)
class ProtocolConfig:
    """Settings of the protocol (shared by every cell)."""

    horizons: tuple = (100, 300, 1000, 3000)
    etas: tuple = tuple(float(2.0 ** k) for k in range(-4, 6))
    kinds: tuple = SCHEDULE_KINDS
    groups: int = 2
    tune_seeds: int = 8
    measure_seeds: int = 32
    level: float = 0.95
    n_boot: int = 2000
    targets: tuple = (0.1, 0.05, 0.02)
    seed: int = 0

    def __post_init__(self):
        if not self.horizons or any(int(h) != h or h < 1 for h in self.horizons):
            raise ValueError(f"horizons must be integers >= 1, got {self.horizons!r}")
        for k in self.kinds:
            Schedule(k, 1.0)
        for e in self.etas:
            Schedule("constant", e)
        if self.tune_seeds < 2 or self.measure_seeds < 2:
            raise ValueError("tune_seeds and measure_seeds must be >= 2 (intervals over seeds)")

    @property
    def T_max(self) -> int:
        return int(max(self.horizons))

    def to_json(self) -> dict:
        return asdict(self)


def schedule_grid(cfg: ProtocolConfig) -> list[Schedule]:
    return [Schedule(k, e) for k in cfg.kinds for e in cfg.etas]


def record_grid(T_max: int, horizons=()) -> np.ndarray:
    """Recorded steps: every step to 100, every 10th to 1000, every 25th beyond, the horizons and T_max."""
    parts = [np.arange(0, min(T_max, 100) + 1), np.arange(100, min(T_max, 1000) + 1, 10),
             np.arange(1000, T_max + 1, 25), np.asarray(horizons, dtype=np.int64), [T_max]]
    rec = np.unique(np.concatenate([np.asarray(p, dtype=np.int64) for p in parts]))
    return rec[rec <= T_max]


def make_batch(game: GameSpec, K: int, advantage: str, tables, schedules, steps: int, seeds: int, groups: int,
               seed: int, p_star) -> Batch:
    """A batch of (table, schedule) configurations recording TV to ``p_star`` on :func:`record_grid`."""
    rec = record_grid(steps)
    check_run_size(len(tables) * seeds, groups, K, steps, records=rec.size)
    return Batch(r=game.r, beta=game.beta, answer_of=game.answer_of, K=K,
                 tables=np.stack([t.values for t in tables]), etas=np.stack([s.etas(steps) for s in schedules]),
                 seeds=seeds, groups=groups, advantage=advantage, update="pg", record=record_grid(steps),
                 seed=seed, p_ref=np.asarray(p_star), theta0=game.theta0)


def _tuning_errors(game, tables: dict, labels, grid, K, advantage, cfg, seed, p_star, processes):
    """Seed-mean error curves [labels, schedules, records] of every (table, schedule) on the tuning seeds."""
    configs = [(lab, s) for lab in labels for s in grid]
    bt = make_batch(game, K, advantage, [tables[lab] for lab, _ in configs], [s for _, s in configs], cfg.T_max,
                    cfg.tune_seeds, cfg.groups, seed, p_star)
    res = run_batch(bt, processes=processes)
    err = np.where(res.finite[..., None], res.values, np.inf).mean(axis=1)      # a diverged seed: never chosen
    err = np.where(np.isfinite(err), err, np.inf)
    return err.reshape(len(labels), len(grid), -1), bt.record, res.samples, res.seconds


def _choices(e: np.ndarray, grid, rec, cfg, edges) -> dict:
    """The schedule with the least tuning error per horizon, and the (schedule, step) with the least error."""
    choice = {}
    for T in cfg.horizons:
        col = np.searchsorted(rec, T)
        j = int(np.argmin(e[:, col]))
        choice[int(T)] = {"schedule": grid[j], "tune_error": float(e[j, col]), "t": int(T),
                          "at_grid_edge": grid[j].eta in edges}
    j, r = np.unravel_index(int(np.argmin(e)), e.shape)
    choice["best"] = {"schedule": grid[j], "tune_error": float(e[j, r]), "t": int(rec[r]),
                      "at_grid_edge": grid[j].eta in edges}
    return choice


#: When a table's choice sits at an end of the grid, the grid is extended for that table: down by factors of 4
#: (six values, to ~1e-5 of the smallest eta) or up by factors of 2 (three values).
EXTEND_DOWN, EXTEND_UP = tuple(4.0 ** -k for k in range(1, 7)), (2.0, 4.0, 8.0)


def tune(game: GameSpec, tables: dict, K: int, advantage: str, cfg: ProtocolConfig, *, seed: int, p_star,
         processes: int = 1) -> dict:
    """Per table label: the schedule chosen for each horizon and for the best error (tuning seeds). A table whose
    choice sits at an end of the grid gets the grid extended beyond that end (same seeds), once."""
    grid = schedule_grid(cfg)
    labels = list(tables)
    err, rec, samples, seconds = _tuning_errors(game, tables, labels, grid, K, advantage, cfg, seed, p_star,
                                                processes)
    lo, hi = min(cfg.etas), max(cfg.etas)
    out, extended = {}, {}
    for i, lab in enumerate(labels):
        ch = _choices(err[i], grid, rec, cfg, (lo, hi))
        ends = {c["schedule"].eta for c in ch.values()} & {lo, hi}
        if ends:
            extended[lab] = [lo * f for f in EXTEND_DOWN] if lo in ends else [hi * f for f in EXTEND_UP]
        out[lab] = ch
    for extra in sorted({tuple(v) for v in extended.values()}):
        labs = [lab for lab, v in extended.items() if tuple(v) == extra]
        xgrid = [Schedule(k, e) for k in cfg.kinds for e in extra]
        xerr, _rec, xs, xsec = _tuning_errors(game, tables, labs, xgrid, K, advantage, cfg, seed, p_star, processes)
        samples, seconds = samples + xs, seconds + xsec
        new_edges = (min(extra + (lo,)), max(extra + (hi,)))
        for j, lab in enumerate(labs):
            i = labels.index(lab)
            out[lab] = _choices(np.concatenate([err[i], xerr[j]]), grid + xgrid, rec, cfg, new_edges)
    return {"choices": out, "samples": samples, "seconds": seconds, "seed": seed,
            "extended": {lab: list(v) for lab, v in extended.items()}}


def measure(game: GameSpec, tables: dict, K: int, advantage: str, choices: dict, cfg: ProtocolConfig, *,
            seed: int, p_star, processes: int = 1) -> dict:
    """Per (table label, horizon or "best"): per-seed errors at the chosen step on fresh seeds.

    Runs are grouped by length (the step they are read at), each group one batch with the same seed, so every
    table sees the same random numbers (paired). Also returns, per table, the whole error curve of the run
    tuned for T_max (for first-passage times)."""
    need = {}
    for lab, ch in choices.items():
        for key, c in ch.items():
            need.setdefault(c["t"], {}).setdefault((lab, c["schedule"]), []).append(key)
    out, curves, samples, seconds = {}, {}, 0, 0.0
    for steps in sorted(need):
        jobs = list(need[steps])
        bt = make_batch(game, K, advantage, [tables[lab] for lab, _ in jobs], [s for _, s in jobs], max(steps, 1),
                    cfg.measure_seeds, cfg.groups, seed, p_star)
        res = run_batch(bt, processes=processes)
        samples, seconds = samples + res.samples, seconds + res.seconds
        vals = np.where(res.finite[..., None], res.values, 1.0)                     # a diverged seed: TV 1
        for i, (lab, sched) in enumerate(jobs):
            for key in need[steps][(lab, sched)]:
                out[(lab, key)] = {"errors": vals[i, :, np.searchsorted(bt.record, steps)],
                                   "diverged": int((~res.finite[i]).sum())}
                if key == cfg.T_max:
                    curves[lab] = {"steps": bt.record, "errors": vals[i]}
    return {"errors": out, "curves": curves, "samples": samples, "seconds": seconds, "seed": seed}


def build_cell_tables(game: GameSpec, methods, K: int, advantage: str, *, solve: bool = False) -> tuple[dict, list]:
    """Tables of the cell by label, and the ones that cannot be built with the reason."""
    tables, skipped = {}, []
    registered = set(method_names())
    for e in entries_for(methods, advantage, solve=solve):
        if e.method not in registered:
            skipped.append({"table": e.label, "K": K, "advantage": advantage,
                            "reason": f"method {e.method!r} is not registered"})
            continue
        try:
            tables[e.label] = e.build(game, K)
        except (ValueError, TypeError) as exc:
            skipped.append({"table": e.label, "K": K, "advantage": advantage,
                            "reason": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"})
    return tables, skipped


@dataclass
class Cell:
    """The raw outcome of one (game, advantage, K): tables, tuning choices, measured errors."""

    game: str
    advantage: str
    K: int
    entries: dict
    tuning: dict
    measured: dict
    skipped: list = field(default_factory=list)
    seconds: float = 0.0


def run_cell(game: GameSpec, methods, K: int, advantage: str, cfg: ProtocolConfig, *, p_star=None,
             processes: int = 1, seed_offset: int = 0, solve: bool = False) -> Cell:
    """Tune then measure every table of one (game, advantage, K). Tuning and measurement seeds are separate
    streams: ``cfg.seed`` + offsets that differ by K, advantage and purpose. ``solve``: see :class:`Entry`."""
    t0 = time.perf_counter()
    ps = optimum(game)[0] if p_star is None else np.asarray(p_star)
    tables, skipped = build_cell_tables(game, methods, K, advantage, solve=solve)
    entries = {e.label: e for e in entries_for(methods, advantage, solve=solve) if e.label in tables}
    if not tables:
        return Cell(game.name, advantage, K, {}, {}, {}, skipped, time.perf_counter() - t0)
    base = cfg.seed + 7919 * K + 104729 * seed_offset
    tuning = tune(game, tables, K, advantage, cfg, seed=2 * base + 1, p_star=ps, processes=processes)
    measured = measure(game, tables, K, advantage, tuning["choices"], cfg, seed=2 * base + 2, p_star=ps,
                       processes=processes)
    return Cell(game.name, advantage, K, entries, tuning, measured, skipped, time.perf_counter() - t0)
