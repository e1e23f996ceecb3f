#!/usr/bin/env python
"""Claim C8 on a GPU machine in one go: every CUDA check and benchmark, with the figures in files.

Steps (each in its own process, with its own time limit, so one failure or hang loses no other figure):

    tests        the torch test files (CPU and CUDA cases, graph capture and no-sync tests included)
    crosscheck   `alft crosscheck` on the device: the fused and torch paths, dense and flattened
                 (interleaved and contiguous groups) must PASS, a deliberately wrong kernel must FAIL
    c8           the report's C8 section (default profile) on every device present
    graph        CUDA-graph capture and replay of the fused kernels, and host syncs per call
    bench        kernel / floor ratios against a bare gather, the issue's targets, a tile sweep
    engines      Monte Carlo throughput (kernel and counts engines), exact moments throughput, and the
                 counts engine at GPU scale (up to 10^10 groups) against the exact moments

Usage, from the repository root (the package importable, e.g. PYTHONPATH=.):

    python scripts/cuda_crosscheck.py --require-cuda --out OUT   # on a GPU machine
    python scripts/cuda_crosscheck.py --out OUT                  # anywhere: CUDA steps skip without a GPU

Files written under OUT (three): ``cuda_record.json`` (device, versions, date, commit, each step's
verdict, time and figures: commit it as reports/cuda/cuda_record.json), ``cuda_record.md`` (a short
summary) and ``cuda_log.txt`` (every step's output). A compact summary is printed at the end.
Exit status: 0 when every step that ran passed, 1 when one failed or timed out, 3 when
--require-cuda is given and no CUDA device is visible.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

#: per-step time limits (s), also cut to what is left of --deadline; the whole run on an H200 is
#: planned at 4-5 minutes
LIMITS = {"tests": 300, "crosscheck": 240, "c8": 300, "graph": 90, "bench": 180, "engines": 240}
T_START = time.perf_counter()
STEPS = tuple(LIMITS)
#: steps that time the GPU run one after another, alone; the others run side by side first
TIMED = ("graph", "bench", "engines")
#: the sizes of the dry run (``--dry-run``: the timed steps' code on the CPU, for the tests)
DRY_SIZES = [(32, 16), (512, 16), (64, 256)]
CROSSCHECK_KERNELS = [  # (kernel, expected verdict, needs CUDA)
    ("estimators.torch:group_rewards", True, False),
    ("proofs_numeric.crosscheck.kernels:flat_kernel", True, False),
    ("proofs_numeric.crosscheck.kernels:flat_kernel_contiguous", True, False),
    ("proofs_numeric.crosscheck.kernels:dense_kernel_torch", True, False),
    ("proofs_numeric.crosscheck.kernels:flat_kernel_torch", True, False),
    ("proofs_numeric.crosscheck.kernels:dense_kernel_triton", True, True),
    ("proofs_numeric.crosscheck.kernels:flat_kernel_triton", True, True),
    ("kernels_for_crosscheck:off_by_one", False, False),
]


# ----------------------------------------------------------------------------- steps (run in a worker process)

def step_crosscheck(args, device: str) -> dict:
    from proofs_numeric.crosscheck.harness import crosscheck, load_kernel
    results, ok = [], True
    for spec, expect, needs_cuda in CROSSCHECK_KERNELS:
        if needs_cuda and device != "cuda":
            continue
        t0 = time.perf_counter()
        rep = crosscheck(load_kernel(spec), device=device, max_examples=args.max_examples if expect else 50,
                         name=spec)
        good = rep.passed == expect
        ok &= good
        results.append({"kernel": spec, "verdict": "PASS" if rep.passed else "FAIL", "expected": "PASS" if expect
                        else "FAIL", "as_expected": good, "cases": rep.n_cases, "max_abs_err": rep.max_abs_err,
                        "seconds": round(time.perf_counter() - t0, 1)})
        print(f"  {'ok  ' if good else 'FAIL'} {spec}: {results[-1]['verdict']} ({rep.n_cases} cases)", flush=True)
    return {"ok": ok, "figures": {"device": device, "kernels": results}}


def step_c8(args, device: str) -> dict:
    from proofs_numeric.c8_torch_engines import CLAIM
    from proofs_numeric.result import RunContext
    r = CLAIM.execute(args.c8_profile, RunContext())
    print(f"  C8 ({args.c8_profile} profile): {r.status} - {r.summary}", flush=True)
    for t in r.tables:
        print(f"  {t.title}")
        for row in t.rows:
            print(f"    {row}")
    fig = r.to_json()
    return {"ok": r.status == "PASS", "figures": {"status": r.status, "summary": r.summary,
                                                   "devices": fig["figures"].get("devices"),
                                                   "tables": [{"title": t.title, "columns": t.columns, "rows": t.rows}
                                                              for t in r.tables]}}


def step_graph(args, device: str) -> dict:
    import numpy as np
    import torch

    from _cuda_timing import host_syncs
    from estimators import build_table
    from estimators.torch import group_rewards, group_rewards_flat
    if device != "cuda":
        return {"ok": True, "skipped": "no CUDA device"}
    table = build_table("kl", "jackknife", 16)
    tables = {k: build_table("kl", "jackknife", k) for k in range(2, 17)}
    rng = np.random.default_rng(0)
    ids = torch.as_tensor(rng.integers(0, 6, size=(4096, 16)), device="cuda")
    mask = torch.as_tensor(rng.random((4096, 16)) < 0.8, device="cuda")
    mask[:, :2] = True
    gid = torch.arange(4096, device="cuda").repeat_interleave(16)
    perm = torch.randperm(gid.numel(), device="cuda")
    s_ids, s_gid = ids.clone(), gid[perm].clone()
    calls = {"dense": lambda: group_rewards(s_ids, table), "dense_masked": lambda: group_rewards(s_ids, tables, mask),
             "flat": lambda: group_rewards_flat(s_ids.reshape(-1), s_gid, table),
             "flat_ragged_tables": lambda: group_rewards_flat(s_ids.reshape(-1), s_gid, tables)}
    syncs = {k: host_syncs(fn) for k, fn in calls.items()}
    print(f"  host syncs per call: {syncs}", flush=True)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for fn in calls.values():
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outs = {k: fn() for k, fn in calls.items()}
    replays = []
    for seed in range(4):
        new = torch.as_tensor(np.random.default_rng(100 + seed).integers(0, 5, size=(4096, 16)), device="cuda")
        s_ids.copy_(new)
        s_gid.copy_(gid[torch.randperm(gid.numel(), device="cuda")])
        graph.replay()
        torch.cuda.synchronize()
        ref = {"dense": group_rewards(new, table, backend="torch"),
               "dense_masked": group_rewards(new, tables, mask, backend="torch"),
               "flat": group_rewards_flat(new.reshape(-1), s_gid, table, backend="torch"),
               "flat_ragged_tables": group_rewards_flat(new.reshape(-1), s_gid, tables, backend="torch")}
        replays.append({k: bool(torch.equal(outs[k], ref[k])) for k in calls})
    same = all(all(r.values()) for r in replays)
    print(f"  graph replays equal the torch path bit for bit: {same} ({len(replays)} replays x {len(calls)} calls)")
    return {"ok": same and not any(syncs.values()), "figures": {"host_syncs_per_call": syncs, "replays": replays}}


def step_bench(args, device: str) -> dict:
    import torch

    from _cuda_timing import SIZES, floor_rows, targets, tile_sweep
    if device != "cuda" and not args.dry_run:
        return {"ok": True, "skipped": "no CUDA device"}
    print("  kernel / floor (CUDA events, median of 30):", flush=True)
    rows = floor_rows(DRY_SIZES if args.dry_run else SIZES, log=lambda s: print(s, flush=True), device=device,
                      reps=3 if args.dry_run else 30)
    goals = targets(rows)
    for g in goals:
        print(f"  {'met ' if g['met'] else 'MISS'} {g['target']}: {g['measured']} (limit {g['limit']})", flush=True)
    sweep = [] if args.dry_run else tile_sweep()
    best = {}
    for s in sweep:
        key = f"B={s['B']},K={s['K']}"
        if key not in best or s["seconds"] < best[key]["seconds"]:
            best[key] = s
    if sweep:
        from estimators.torch import triton_kernels as tk  # imports Triton: only where the sweep ran
    for key, s in best.items():
        print(f"  tile sweep {key}: fastest {s['tile']} ids / {s['num_warps']} warps, {s['seconds'] * 1e6:.1f} us "
              f"(default {tk.DENSE_TILE} / {tk.DENSE_WARPS})", flush=True)
    exact = all(all(r["bit_identical"].values()) for r in rows) and all(s["same_bits"] for s in sweep)
    # the performance targets are reported, not required: the step fails only on wrong bits or a sync
    syncs_ok = all(g["met"] for g in goals if g["target"].startswith("host syncs"))
    return {"ok": exact and syncs_ok, "figures": {"rows": rows, "targets": goals, "tile_sweep": sweep,
                                                  "targets_met": sum(g["met"] for g in goals),
                                                  "targets_total": len(goals)}}


def step_engines(args, device: str) -> dict:
    import torch

    from estimators import build_table
    from estimators.torch.moments import moments
    from estimators.torch.montecarlo import monte_carlo
    from proofs_numeric.c8_torch_engines import monte_carlo_at_scale
    if device != "cuda" and not args.dry_run:
        return {"ok": True, "skipped": "no CUDA device"}
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    dry = 2 ** 6 if args.dry_run else 1  # the dry run on the CPU: the same code on smaller sizes
    probs = [0.4, 0.3, 0.2, 0.07, 0.03]
    fig = {"monte_carlo_groups_per_second": [], "moments_points_per_second": []}
    for K in (8, 64):
        table = build_table("kl", "jackknife", K)
        for engine, n in (("kernel", 2 ** 24 // dry ** 2), ("counts", 2 ** 26 // dry ** 2)):
            monte_carlo(table, probs, 2 ** 16 // dry, seed=0, device=device, engine=engine)  # warm-up
            sync()
            t0 = time.perf_counter()
            monte_carlo(table, probs, n, seed=1, device=device, engine=engine, max_samples=n * K)  # asks for its work
            sync()
            rate = n / (time.perf_counter() - t0)
            fig["monte_carlo_groups_per_second"].append({"K": K, "engine": engine, "groups": n, "rate": rate})
            print(f"  Monte Carlo K={K} {engine} engine: {rate:.3g} groups/s ({n} groups)", flush=True)
        p = torch.rand(2 ** 22 // dry ** 2, dtype=torch.float64, device=device)
        moments(table, p[:4096], device=device)
        sync()
        t0 = time.perf_counter()
        moments(table, p, device=device)
        sync()
        rate = p.numel() / (time.perf_counter() - t0)
        fig["moments_points_per_second"].append({"K": K, "points": p.numel(), "rate": rate})
        print(f"  exact moments K={K}: {rate:.3g} p-points/s (float64)", flush=True)
    counts8 = next(r["rate"] for r in fig["monte_carlo_groups_per_second"] if r["K"] == 8 and r["engine"] == "counts")
    n = int(min(args.scale_groups, max(2 ** 26 // dry ** 2, counts8 * args.scale_seconds)))
    n -= n % (1 << 22 if n > 1 << 24 else 1)
    print(f"  Monte Carlo at scale: {n:.3g} groups of K=8 (counts engine; budget {args.scale_seconds} s)", flush=True)
    last = [time.perf_counter()]

    def progress(done, total):  # a line every 15 s
        if time.perf_counter() - last[0] > 15 or done == total:
            last[0] = time.perf_counter()
            print(f"    {done:.3g} / {total:.3g} groups", flush=True)

    sc = monte_carlo_at_scale(device, n_groups=n, K=8, probs=probs, seed=20260101, progress=progress)
    print(f"  -> {sc['groups']:.3g} groups in {sc['seconds']:.1f} s ({sc['groups_per_second']:.3g} groups/s); "
          f"exact moments inside every interval: {sc['all_within']} (max |z| mean {sc['max_abs_z_mean']:.2f}, "
          f"var {sc['max_abs_z_var']:.2f}, z crit {sc['z_crit']:.2f}); relative half-widths: mean "
          f"{sc['max_rel_half_width_mean']:.2g}, var {sc['max_rel_half_width_var']:.2g}", flush=True)
    fig["at_scale"] = sc
    return {"ok": sc["all_within"], "figures": fig}


STEP_FUNCS = {"crosscheck": step_crosscheck, "c8": step_c8, "graph": step_graph, "bench": step_bench,
              "engines": step_engines}


def worker(args) -> int:
    """Run one step in this process and write {ok, figures} as JSON to --result."""
    import torch

    from proofs_numeric.crosscheck.cli import keep_hypothesis_out_of_cwd
    keep_hypothesis_out_of_cwd()   # the steps run in the checkout: hypothesis's storage goes to the cache dir
    device = "cuda" if torch.cuda.is_available() and not args.dry_run else "cpu"
    try:
        res = STEP_FUNCS[args.worker](args, device)
    except Exception as exc:  # noqa: BLE001 - a failing step is reported, not fatal
        traceback.print_exc()
        res = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    Path(args.result).write_text(json.dumps(res, indent=1, default=str) + "\n")
    return 0


# ----------------------------------------------------------------------------- orchestration

def _env(step: str) -> dict:
    env = dict(os.environ, HYPOTHESIS_PROFILE=os.environ.get("HYPOTHESIS_PROFILE", "ci"), PYTHONUNBUFFERED="1")
    if step not in TIMED:  # steps that run side by side share the cores
        env.setdefault("OMP_NUM_THREADS", "2")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _start(step: str, args, tmp: Path, log):
    """Start a step's process; returns (process, result path, log file, start time)."""
    result = tmp / f"{step}.json"
    if step == "tests":
        tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_torch_*.py"))
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", *tests]
        try:
            import xdist  # noqa: F401 - spread the test files over processes where pytest-xdist exists
            cmd[3:3] = ["-n", str(args.test_workers)]
        except ImportError:
            pass
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", step, "--result", str(result),
               "--max-examples", str(args.max_examples), "--c8-profile", args.c8_profile,
               "--scale-groups", str(args.scale_groups), "--scale-seconds", str(args.scale_seconds)]
        if args.dry_run:
            cmd.append("--dry-run")
    out = open(tmp / f"{step}.log", "w+")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True, env=_env(step))
    limit = min(LIMITS[step], max(10.0, args.deadline - (time.perf_counter() - T_START)))
    log(f"=== {step}: started (limit {limit:.0f} s)\n$ {' '.join(cmd)}")
    return proc, result, out, time.perf_counter(), limit


def _finish(step: str, started, log) -> dict:
    proc, result, out, t0, limit = started
    try:
        rc = proc.wait(timeout=max(1.0, limit - (time.perf_counter() - t0)))
        timed_out = False
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
        timed_out = True
    out.seek(0)
    text = out.read()
    out.close()
    secs = round(time.perf_counter() - t0, 1)
    log(f"=== {step}: {'TIMED OUT' if timed_out else f'exit {rc}'} after {secs} s\n{text}")
    rec = {"step": step, "seconds": secs, "exit": rc, "timed_out": timed_out}
    if step == "tests":
        tail = [ln for ln in text.strip().splitlines() if " passed" in ln or " failed" in ln or " error" in ln]
        rec.update(ok=(rc == 0 and not timed_out), figures={"summary": tail[-1] if tail else text[-300:]})
    elif result.exists():
        res = json.loads(result.read_text())
        rec.update(ok=bool(res.get("ok")) and rc == 0 and not timed_out, figures=res.get("figures", {}))
        for key in ("skipped", "error"):
            if key in res:
                rec[key] = res[key]
    else:
        rec.update(ok=False, error="the step ended without a result" + (" (time limit)" if timed_out else ""),
                   output_tail=text[-2000:])
    rec["verdict"] = "SKIP" if rec.get("skipped") else ("PASS" if rec["ok"] else "FAIL")
    return rec


def _versions(cuda: bool) -> dict:
    import numpy
    import torch
    v = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
         "numpy": numpy.__version__, "platform": platform.platform()}
    try:
        import triton
        v["triton"] = triton.__version__
    except Exception as exc:  # noqa: BLE001
        v["triton"] = f"not importable ({type(exc).__name__})"
    if cuda:
        p = torch.cuda.get_device_properties(0)
        v.update(device=torch.cuda.get_device_name(0), multiprocessors=p.multi_processor_count,
                 memory_GiB=round(p.total_memory / 2 ** 30, 1), capability=f"{p.major}.{p.minor}")
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20)
            v["driver"] = smi.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            v["driver"] = None
    else:
        v["device"] = "cpu only (no CUDA device visible)"
    return v


def _commit(given: str | None) -> str:
    if given:
        return given
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=20)
        if res.returncode == 0:
            return res.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown (pass --commit)"


def _markdown(rec: dict) -> str:
    v = rec["versions"]
    lines = [f"# Claim C8 on {v.get('device')}", "",
             f"{rec['date']}, commit `{rec['commit']}`; torch {v['torch']} (CUDA {v['cuda']}), Triton {v['triton']}, "
             f"Python {v['python']}" + (f", driver {v['driver']}" if v.get("driver") else "") + ".",
             f"Verdict: **{rec['verdict']}** ({rec['total_seconds']} s)"
             + (f"; not run: {', '.join(rec['steps_not_run'])}" if rec.get("steps_not_run") else "") + ".", "",
             "| step | verdict | seconds | figures |", "|---|---|---|---|"]
    for s in rec["steps"]:
        lines.append(f"| {s['step']} | {s['verdict']} | {s['seconds']} | {_brief(s)} |")
    bench = next((s for s in rec["steps"] if s["step"] == "bench" and s.get("figures", {}).get("rows")), None)
    if bench:
        lines += ["", "Fused kernels against a bare gather of the same size (CUDA events, median of 30):", "",
                  "| B | K | floor (µs) | dense | flat, contiguous | flat, interleaved | torch dense | syncs (fused) |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in bench["figures"]["rows"]:
            q = r["ratio_to_floor"]
            lines.append(f"| {r['B']} | {r['K']} | {r['seconds']['floor'] * 1e6:.1f} | {q['fused_dense']:.2f}× | "
                         f"{q['fused_flat_contiguous']:.2f}× | {q['fused_flat_interleaved']:.2f}× | "
                         f"{q['torch_dense']:.2f}× | {r['host_syncs']['fused_dense']} |")
        lines += ["", "Targets:", ""] + [f"- {'met' if g['met'] else 'missed'}: {g['target']} = {g['measured']} "
                                         f"(limit {g['limit']})" for g in bench["figures"]["targets"]]
    return "\n".join(lines) + "\n"


def _brief(s: dict) -> str:
    f = s.get("figures") or {}
    if s.get("skipped"):
        return s["skipped"]
    if s.get("error"):
        return s["error"][:160]
    if s["step"] == "tests":
        return f.get("summary", "")
    if s["step"] == "crosscheck":
        return "; ".join(f"{k['kernel'].split(':')[-1]} {k['verdict']}" for k in f.get("kernels", []))
    if s["step"] == "c8":
        return f"C8 {f.get('status')} on {', '.join(f.get('devices') or [])}"
    if s["step"] == "graph":
        return f"syncs per call {f.get('host_syncs_per_call')}; replays equal: {all(all(r.values()) for r in f.get('replays', []))}"
    if s["step"] == "bench":
        return f"targets met {f.get('targets_met')} of {f.get('targets_total')}"
    if s["step"] == "engines" and "at_scale" in f:
        a = f["at_scale"]
        return (f"{a['groups']:.3g} groups at {a['groups_per_second']:.3g}/s, within: {a['all_within']}, "
                f"rel half-width {a['max_rel_half_width_mean']:.2g}")
    return ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--require-cuda", action="store_true", help="exit 3 when no CUDA device is visible")
    ap.add_argument("--out", default="reports/cuda-run", help="folder for cuda_record.json, cuda_record.md, "
                    "cuda_log.txt (default: reports/cuda-run)")
    ap.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    ap.add_argument("--commit", help="the git commit being checked (default: git rev-parse HEAD)")
    ap.add_argument("--max-examples", type=int, default=150, help="hypothesis examples per crosscheck (default 150)")
    ap.add_argument("--c8-profile", default="default", choices=["quick", "default", "full"])
    ap.add_argument("--scale-groups", type=int, default=10 ** 10, help="Monte Carlo groups at scale (default 1e10)")
    ap.add_argument("--scale-seconds", type=float, default=60.0,
                    help="time budget of the at-scale Monte Carlo: fewer groups when 1e10 would take longer")
    ap.add_argument("--test-workers", type=int, default=6, help="pytest-xdist processes for the tests step")
    ap.add_argument("--deadline", type=float, default=540.0,
                    help="seconds for the whole run (default 540): later steps get what is left")
    ap.add_argument("--json", help=argparse.SUPPRESS)  # the earlier option: also write the record here
    ap.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)  # bench/engines on the CPU, small
    ap.add_argument("--worker", choices=sorted(STEP_FUNCS), help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        ap.error(f"--steps: unknown step(s) {unknown}; choose from {','.join(STEPS)}")

    import torch
    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}; CUDA available: {cuda}"
          + (f" ({torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda})" if cuda else ""), flush=True)
    if not cuda and args.require_cuda:
        print("no CUDA device visible and --require-cuda given", file=sys.stderr)
        return 3
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    log_lines: list[str] = []

    def log(text: str) -> None:
        log_lines.append(text)
        head = text.splitlines()[0] if text else ""
        print(head, flush=True)

    rec = {"claim": "C8", "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "commit": _commit(args.commit), "versions": _versions(cuda), "device": "cuda" if cuda else "cpu",
           "arguments": {k: v for k, v in vars(args).items() if k not in ("worker", "result", "json")}, "steps": []}

    def save() -> None:  # after every step: a run cut short still leaves the figures it has
        rec["total_seconds"] = round(time.perf_counter() - t_all, 1)
        rec["verdict"] = "PASS" if all(s["verdict"] != "FAIL" for s in rec["steps"]) else "FAIL"
        rec["steps_not_run"] = [s for s in steps if s not in {r["step"] for r in rec["steps"]}]
        _write(out / "cuda_record.json", json.dumps(rec, indent=1, default=str) + "\n")
        _write(out / "cuda_record.md", _markdown(rec))
        _write(out / "cuda_log.txt", "\n".join(log_lines) + "\n")

    with tempfile.TemporaryDirectory(prefix="alft-cuda-") as tmpd:
        tmp = Path(tmpd)
        side = [s for s in steps if s not in TIMED]
        running = {s: _start(s, args, tmp, log) for s in side}  # checks side by side; timings come after, alone
        for s in side:
            rec["steps"].append(_finish(s, running[s], log))
            save()
        for s in [s for s in steps if s in TIMED]:
            rec["steps"].append(_finish(s, _start(s, args, tmp, log), log))
            save()
    save()
    if args.json:
        _write(Path(args.json), json.dumps(rec, indent=1, default=str) + "\n")
    print(f"\n=== summary (claim C8, device: {rec['versions'].get('device')}, commit {rec['commit'][:12]})")
    for s in rec["steps"]:
        print(f"  {s['verdict']:<4}  {s['step']:<10} {s['seconds']:>6} s  {_brief(s)}")
    print(f"C8 on {rec['device']}: {rec['verdict']} ({rec['total_seconds']} s); files in {out}/: cuda_record.json, "
          f"cuda_record.md, cuda_log.txt")
    return 0 if rec["verdict"] == "PASS" else 1


def _write(path: Path, text: str) -> None:
    """Write then rename: no half-written record."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
