"""Run one case (game, table, trainer settings) over seeds and compare the trained end point with the prediction.

:func:`run_case` returns the JSON document of ``alft trainer-check``: ``predicted``, ``trained`` (mean end point
with simultaneous intervals over seeds), ``p_star``, ``tv_trained_to_predicted`` (with its interval),
``tv_predicted_to_p_star``, ``steps``, ``seeds``, ``seconds`` and the rest described in the README.
"""
from __future__ import annotations

import contextlib
import sys
import time

import numpy as np
from scipy import stats as sps

from .predict import Case, case_game, case_table, initial_distribution, predict
from .stats import LEVEL, compare_to, end_points, seed_interval, total_variation
from .trl_runner import check_batch

__all__ = ["ENGINES", "run_case", "sampling_check", "check_group_size", "default_last"]

ENGINES = ("trl", "verl")


def check_group_size(table, num_generations) -> int:
    """The trainer's group size must be the table's K (the table scores groups of exactly K answers)."""
    if num_generations is None:
        return table.K
    if isinstance(num_generations, bool) or not isinstance(num_generations, int) or num_generations < 2:
        raise ValueError(f"num_generations must be an integer >= 2, got {num_generations!r}")
    if num_generations != table.K:
        raise ValueError(f"the table has K = {table.K} entries but num_generations={num_generations}: the trainer "
                         f"would score groups of {num_generations} with a table for groups of {table.K}; build the "
                         f"table for K = {num_generations} (--K) or train with num_generations={table.K}")
    return num_generations


def default_last(steps: int) -> int:
    """Readings averaged per seed by default: the last third of the run."""
    return max(1, steps // 3)


def _merged_cells(observed: np.ndarray, expected: np.ndarray, min_expected: float):
    """Cells for Pearson's test: answers whose expected count is below ``min_expected`` pooled into one cell, and
    that cell merged into the smallest other one while it is still below."""
    order = np.argsort(expected)
    small = expected[order] < min_expected
    o, e = list(observed[order][~small]), list(expected[order][~small])
    if small.any():
        rest_o, rest_e = float(observed[order][small].sum()), float(expected[order][small].sum())
        if rest_e < min_expected and e:
            o[0] += rest_o
            e[0] += rest_e
        else:
            o.insert(0, rest_o)
            e.insert(0, rest_e)
    return np.array(o), np.array(e)


def sampling_check(histories, sampled, sampled_at=None, min_expected: float = 5.0) -> dict:
    """Are the answers the trainer drew distributed as the policy read from the logits when it drew them?

    ``histories`` [S, steps + 1, m], ``sampled`` [S, G, m] (answer counts of G generation batches per seed),
    ``sampled_at`` [S, G] (the reading each batch was drawn from; default 0..G-1). Per batch, Pearson's chi-square
    of the counts against n p (answers expected fewer than ``min_expected`` times pooled), summed over batches and
    seeds: batches are independent given the policy, so the sum is chi-square with the summed degrees of freedom
    (asymptotically in n)."""
    H = np.asarray(histories, dtype=np.float64)
    S = np.asarray(sampled, dtype=np.float64)
    at = np.broadcast_to(np.arange(S.shape[1]), S.shape[:2]) if sampled_at is None else np.asarray(sampled_at)
    if at.shape != S.shape[:2]:
        raise ValueError(f"sampled_at must have shape {S.shape[:2]}, got {at.shape}")
    chi2, dof = 0.0, 0
    for s in range(S.shape[0]):
        for t in range(S.shape[1]):
            o, e = _merged_cells(S[s, t], S[s, t].sum() * H[s, at[s, t]], min_expected)
            chi2 += float(((o - e) ** 2 / e).sum())
            dof += o.size - 1
    return {"chi2": chi2, "dof": dof, "p_value": float(sps.chi2.sf(chi2, dof)) if dof else 1.0,
            "samples": int(S.sum()),
            "what": "Pearson chi-square per generation batch of the answers the trainer drew against the policy read "
                    "from the logits when it drew them, summed over batches and seeds"}


def _runner(engine: str):
    if engine == "trl":
        from .trl_runner import run_trl_seed
        return run_trl_seed
    if engine == "verl":
        from .verl_runner import run_verl_seed
        return run_verl_seed
    raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")


def _versions(engine: str) -> dict:
    import importlib.metadata as md
    out = {}
    for name in ("torch", "transformers", "trl" if engine == "trl" else "verl"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:  # pragma: no cover
            out[name] = None
    return out


def _check_seeds(seeds, last, steps):
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 2 <= seeds <= 1000:
        raise ValueError(f"seeds must be an integer in [2, 1000] (the interval is over seeds), got {seeds!r}")
    last = default_last(steps) if last is None else last
    if isinstance(last, bool) or not isinstance(last, int) or not 1 <= last <= steps:
        raise ValueError(f"last must be an integer in [1, steps] = [1, {steps}], got {last!r}")
    return last


def run_case(case: Case, settings, *, engine: str = "trl", seeds: int = 4, last: int | None = None,
             first_seed: int = 0, answer_tokens: int | None = None, num_generations: int | None = None,
             level: float = LEVEL, threads: int = 1, log=None) -> dict:
    """Train ``seeds`` runs of ``case`` with ``settings`` (TRL's or verl's) and compare with the game's prediction.

    ``log``: a callable taking a progress line (default: standard error). ``threads``: torch's intra-op threads
    during training (default 1: the model is tiny, and a second thread only spins).
    """
    from .tiny_model import check_answer_tokens

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    runner = _runner(engine)
    game, table = case_game(case), case_table(case)
    check_answer_tokens(answer_tokens, game.m)
    check_group_size(table, num_generations)
    check_batch(settings.groups, table.K)
    last = _check_seeds(seeds, last, settings.steps)
    t0 = time.perf_counter()
    pred = predict(game, table, settings.advantage)
    t_pred = time.perf_counter() - t0
    p0 = initial_distribution(game)
    runs = []
    with _threads(threads):
        for s in range(first_seed, first_seed + seeds):
            out = runner(game, table, settings, s, answer_tokens=answer_tokens, initial=p0)
            runs.append(out)
            e = out["history"][-last:].mean(0)
            log(f"trainer-check {engine} {case.label}, {settings.advantage}: seed {s} done in {out['seconds']:.1f}s, "
                f"TV to predicted {total_variation(e, pred['predicted']):.4f}")
    H = np.array([r["history"] for r in runs])
    interval = seed_interval(end_points(H, last), level)
    own = compare_to(interval, pred["predicted"])
    train_s = sum(r["seconds"] for r in runs)
    return {
        "case": case.to_dict(), "label": case.label, "engine": engine, "settings": settings.to_dict(),
        "advantage": settings.advantage, "table": [float(v) for v in table.values],
        **pred,
        "trained": interval,
        "tv_trained_to_predicted": own,
        "tv_trained_to_p_star": compare_to(interval, pred["p_star"]),
        "agrees": own["inside"],
        "steps": settings.steps, "seeds": seeds, "last": last, "groups_per_step": settings.groups,
        "completions_per_step": settings.groups * table.K,
        "trajectory_tv": _trajectory(H, pred["predicted"]),
        "sampling_check": sampling_check(H, np.array([r["sampled"] for r in runs]),
                                         np.array([r["sampled_at"] for r in runs])),
        "seconds": time.perf_counter() - t0, "train_seconds": train_s, "predict_seconds": t_pred,
        "cpu_seconds": sum(r["cpu_seconds"] for r in runs),
        "steps_per_second": seeds * settings.steps / train_s,
        "versions": _versions(engine),
    }


@contextlib.contextmanager
def _threads(n: int):
    import torch
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be an integer >= 1, got {n!r}")
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _trajectory(H: np.ndarray, q) -> dict:
    """TV from the seed-mean policy to ``q`` at about ten steps of the run."""
    steps = H.shape[1] - 1
    at = sorted(set(np.linspace(0, steps, 11).round().astype(int).tolist()))
    mean = H.mean(axis=0)
    return {"step": at, "tv": [total_variation(mean[t], q) for t in at]}
