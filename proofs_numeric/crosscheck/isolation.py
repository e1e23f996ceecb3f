"""The kernel under test in a process of its own (``alft crosscheck``, claim C8).

The supervisor hears of every call before and after it runs: a call that exceeds the per-case timeout, or a
process that ends early for any reason, is a FAIL naming the input being run, so a PASS means the whole
crosscheck ran.
"""
from __future__ import annotations

import sys

import torch

from .harness import CASE_TIMEOUT, CrosscheckReport, accepts_mask, check_max_examples, crosscheck, load_kernel

__all__ = ["crosscheck_isolated"]


class _Watched:
    """The kernel, announcing each call to the supervising process (``send``) before and after it runs."""

    def __init__(self, fn, send):
        self.fn, self.send = fn, send

    def __call__(self, ids, table, **kw):
        case = {"ids": ids.detach().cpu().tolist(), "ids_dtype": str(ids.dtype).replace("torch.", ""),
                "table": table.detach().cpu().tolist()}
        if "mask" in kw:
            case["mask"] = kw["mask"].detach().cpu().to(torch.int64).tolist()
        self.send(("call", case))
        try:
            out = self.fn(ids, table, **kw)
            if isinstance(out, torch.Tensor) and out.device.type == "cuda":
                torch.cuda.synchronize(out.device)   # an asynchronous kernel's hang belongs to its call
            return out
        finally:
            self.send(("ret", None))


def _worker(spec: str, cwd: str, hypothesis_home, options: dict, conn) -> None:
    """The kernel's process: load the kernel, run :func:`crosscheck`, send the report (or the load error)."""
    sys.path.insert(0, cwd)
    if hypothesis_home is not None:
        from hypothesis.configuration import set_hypothesis_home_dir
        set_hypothesis_home_dir(hypothesis_home)
    try:
        fn = load_kernel(spec)
    except ValueError as exc:
        conn.send(("error", str(exc)))
        return
    check_mask = accepts_mask(fn) if options["check_mask"] is None else options["check_mask"]
    conn.send(("loaded", None))
    try:
        rep = crosscheck(_Watched(fn, conn.send), device=options["device"], max_examples=options["max_examples"],
                         seed=options["seed"], check_mask=check_mask, name=spec)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported as a FAIL by the supervisor
        conn.send(("crash", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("done", rep.to_json()))


def _ended(proc) -> str:
    proc.join(5)
    code = proc.exitcode
    if code is None:
        return "it stopped answering"
    if code < 0:
        import signal
        try:
            sig = signal.Signals(-code).name
        except ValueError:
            sig = f"signal {-code}"
        return f"it was killed by {sig}"
    return f"it exited with status {code}"


def _failed(spec: str, device: str, reason: str, case: dict | None, calls: int = 0) -> CrosscheckReport:
    rep = CrosscheckReport(kernel=spec, device=device, passed=False, n_cases=calls)
    rep.first_failure = dict(case or {}, reason=reason, shrunk=False,
                             label=(f"kernel call {calls} (the one being run)" if case else "before the first call"))
    rep.notes.append("no verdict of conformance: the kernel's process did not finish the crosscheck")
    return rep


def crosscheck_isolated(spec: str, *, device: str = "cpu", max_examples: int = 200, seed: int = 0,
                        check_mask: bool | None = None, case_timeout: float = CASE_TIMEOUT,
                        hypothesis_home=None) -> CrosscheckReport:
    """:func:`crosscheck` of the kernel ``MODULE:FUNCTION`` run in a process of its own (spawned).

    Each call of the kernel must return within ``case_timeout`` seconds; importing the module within
    ``max(2 * case_timeout, 30)``. A call that does not, or a process that ends early for any reason
    (``sys.exit``, ``os._exit``, a signal, a crash), is a FAIL naming the reason and the input being run:
    the verdict PASS means the whole crosscheck ran. A module that cannot be imported is a ``ValueError``
    (its exception named), as is a bad spec.
    """
    import multiprocessing as mp
    import os

    max_examples = check_max_examples(max_examples)
    if not (isinstance(case_timeout, (int, float)) and not isinstance(case_timeout, bool)
            and 0 < case_timeout <= 3600):
        raise ValueError(f"case_timeout must be a number of seconds in (0, 3600], got {case_timeout!r}")
    if ":" not in spec:
        raise ValueError(f"kernel must look like MODULE:FUNCTION, got {spec!r}")
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    opts = {"device": device, "max_examples": max_examples, "seed": seed, "check_mask": check_mask}
    hh = None if hypothesis_home is None else str(hypothesis_home)
    proc = ctx.Process(target=_worker, args=(spec, os.getcwd(), hh, opts, send), daemon=True)
    proc.start()
    send.close()
    try:
        return _supervise(proc, recv, spec, device, case_timeout)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        recv.close()


def _supervise(proc, recv, spec: str, device: str, case_timeout: float) -> CrosscheckReport:
    case, loaded, in_call, calls = None, False, False, 0
    while True:
        wait = case_timeout if in_call else (None if loaded else max(2 * case_timeout, 30.0))
        if not recv.poll(wait):
            proc.kill()
            if not loaded:
                raise ValueError(f"cannot import module {spec.split(':')[0]!r} for kernel {spec!r}: no answer within "
                                 f"{max(2 * case_timeout, 30.0):g} s of starting its process")
            return _failed(spec, device, f"the kernel did not return within {case_timeout:g} s (per-case timeout)",
                           case, calls)
        try:
            kind, payload = recv.recv()
        except (EOFError, OSError):
            why = _ended(proc)
            if not loaded:
                raise ValueError(f"cannot import module {spec.split(':')[0]!r} for kernel {spec!r}: its process ended "
                                 f"while importing it ({why})") from None
            where = "while the kernel ran on this input" if in_call else "between cases"
            return _failed(spec, device, f"the kernel's process ended early {where} ({why})", case, calls)
        if kind == "call":
            case, in_call, calls = payload, True, calls + 1
        elif kind == "ret":
            in_call = False
        elif kind == "loaded":
            loaded = True
        elif kind == "error":
            raise ValueError(payload)
        elif kind == "crash":
            return _failed(spec, device, f"the crosscheck stopped: {payload}", case, calls)
        elif kind == "done":
            return CrosscheckReport(**payload)
