"""Worker processes for the game simulator: one persistent pool, reused by every batch.

The simulator's array operations hold the GIL (``bincount``, fancy indexing), so threads do not add
cores; separate processes do. The pool is started on first use ("spawn": no inherited locks or BLAS
threads), grows when a batch asks for more processes than it has, and is shut down at exit. Worker
errors are re-raised in the caller.
"""
from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

__all__ = ["run_parts", "default_processes", "shutdown"]

_POOL: ProcessPoolExecutor | None = None
_POOL_SIZE = 0


def default_processes() -> int:
    """Worker processes used by default: the CPUs this process may run on, at most 2."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        n = os.cpu_count() or 1
    return max(1, min(2, n))


def _pool(n: int) -> ProcessPoolExecutor:
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE < n:
        shutdown()
        _POOL = ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn"))
        _POOL_SIZE = n
    return _POOL


def shutdown() -> None:
    """Stop the worker processes (they are started again on the next parallel batch)."""
    global _POOL, _POOL_SIZE
    if _POOL is not None:
        _POOL.shutdown(wait=True, cancel_futures=True)
    _POOL, _POOL_SIZE = None, 0


atexit.register(shutdown)


def run_parts(fn, payload, parts, *, processes: int) -> list:
    """``[fn(payload, *part) for part in parts]``, in ``processes`` worker processes when > 1."""
    if processes <= 1 or len(parts) <= 1:
        return [fn(payload, *part) for part in parts]
    try:
        pool = _pool(min(processes, len(parts)))
        futures = [pool.submit(fn, payload, *part) for part in parts]
        return [f.result() for f in futures]
    except BrokenProcessPool:
        # a worker could not start (e.g. a script without the __main__ guard) or died: the results do not
        # depend on the number of processes, so the work is done here instead, and that is said
        shutdown()
        print("[game] worker processes stopped abruptly (a script that starts them needs "
              "`if __name__ == '__main__':`); continuing in this process", file=sys.stderr, flush=True)
        return [fn(payload, *part) for part in parts]
