#!/usr/bin/env python
"""Claim C8 on a GPU machine: the torch tests on CUDA, `alft crosscheck` of the project's kernels
on CUDA, and the C8 report section, with a one-screen summary.

Usage (from the repository root, with the package and a CUDA build of torch installed):

    python scripts/cuda_crosscheck.py                 # CUDA if available, else CPU only (exit 0)
    python scripts/cuda_crosscheck.py --require-cuda  # exit 3 when no CUDA device is visible
    python scripts/cuda_crosscheck.py --json out.json # also write the summary as JSON

Exit status: 0 when every step passes, 1 when one fails, 3 when --require-cuda and no GPU.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(label: str, cmd: list[str], expect_rc: int, steps: list, timeout: int = 900) -> None:
    print(f"\n=== {label}\n$ {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    env = dict(os.environ, HYPOTHESIS_PROFILE=os.environ.get("HYPOTHESIS_PROFILE", "ci"))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT), env.get("PYTHONPATH", "")])
    try:
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
        rc, out = res.returncode, res.stdout + res.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out = 124, f"timed out after {timeout} s\n{exc.stdout or ''}"
    tail = "\n".join(out.strip().splitlines()[-25:])
    print(tail, flush=True)
    ok = rc == expect_rc
    steps.append({"step": label, "ok": ok, "rc": rc, "expected_rc": expect_rc,
                  "seconds": round(time.perf_counter() - t0, 1)})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--require-cuda", action="store_true", help="fail (exit 3) when no CUDA device is visible")
    ap.add_argument("--max-examples", type=int, default=300, help="hypothesis examples per crosscheck")
    ap.add_argument("--json", help="write the summary as JSON to this path")
    args = ap.parse_args(argv)

    import torch
    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}; CUDA available: {cuda}"
          + (f" ({torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda})" if cuda else ""), flush=True)
    if not cuda:
        if args.require_cuda:
            print("no CUDA device visible and --require-cuda given", file=sys.stderr)
            return 3
        print("no CUDA device: running the CPU half only (the CUDA test cases skip)", flush=True)
    device = "cuda" if cuda else "cpu"
    py = sys.executable
    steps: list = []
    tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_torch_*.py"))
    _run("torch tests (CPU and, where available, CUDA parametrisations)",
         [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], 0, steps)
    if cuda:
        _run("torch tests, CUDA cases only", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "cuda",
                                              *tests], 0, steps)
    for kernel in ("estimators.torch:group_rewards", "estimators.torch.crosscheck:flat_kernel"):
        _run(f"alft crosscheck {kernel} --device {device}",
             [py, "-m", "proofs_numeric.cli", "crosscheck", kernel, "--device", device,
              "--max-examples", str(args.max_examples)], 0, steps)
    _run(f"alft crosscheck of a deliberately wrong kernel on {device} (must fail)",
         [py, "-m", "proofs_numeric.cli", "crosscheck", "kernels_for_crosscheck:off_by_one", "--device", device,
          "--max-examples", "50"], 1, steps)
    code = ("from proofs_numeric.c8_torch_engines import CLAIM\n"
            "from proofs_numeric.result import RunContext\n"
            "r = CLAIM.execute('default', RunContext())\n"
            "print(r.status, '-', r.summary)\n"
            "for t in r.tables:\n"
            "    print(t.title)\n"
            "    [print('   ', row) for row in t.rows]\n"
            "raise SystemExit(0 if r.status == 'PASS' else 1)\n")
    _run("claim C8 report section (default profile)", [py, "-c", code], 0, steps)

    print("\n=== summary (claim C8, device: " + device + ")")
    for s in steps:
        print(f"  {'ok  ' if s['ok'] else 'FAIL'}  {s['step']}  (rc {s['rc']}, {s['seconds']} s)")
    all_ok = all(s["ok"] for s in steps)
    print("C8 on " + device + ": " + ("PASS" if all_ok else "FAIL"))
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "torch": torch.__version__, "cuda": cuda,
                                               "steps": steps, "passed": all_ok}, indent=2) + "\n")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
