"""``alft crosscheck MODULE:FUNCTION``: conformance of a group-reward kernel (claim C8).

The parser is defined here without importing torch, so ``alft`` works where torch is absent;
the handler imports :mod:`estimators.torch.crosscheck` when the subcommand runs.
"""
from __future__ import annotations

import sys

__all__ = ["add_parser"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "crosscheck", help="check a group-reward kernel against the reference estimators (claim C8)",
        description="Run MODULE:FUNCTION, called as fn(ids, table) with ids an integer tensor [B, K] and table "
                    "a float64 tensor [K] (returning rewards [B, K] with rewards[b, i] = table[C_bi]), against the "
                    "reference counts and tables on edge cases and hypothesis-generated inputs, and print a "
                    "conformance report. Exit status 0 when the kernel conforms, 1 when it does not, 2 on usage "
                    "errors.")
    p.add_argument("kernel", help="the kernel to check, as MODULE:FUNCTION (e.g. estimators.torch:group_rewards)")
    p.add_argument("--device", default="cpu", help="torch device for the inputs (cpu, cuda, cuda:1, ...)")
    p.add_argument("--max-examples", type=int, default=200, help="hypothesis examples (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated cases (default 0)")
    p.add_argument("--mask", choices=["auto", "yes", "no"], default="auto",
                   help="check masked batches (auto: iff the kernel takes a `mask` keyword)")
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH")
    p.set_defaults(func=_run)


def _run(args) -> int:
    try:
        from estimators.torch.crosscheck import run_cli
    except ImportError as exc:
        print(f"alft crosscheck: error: needs PyTorch ({exc}); install alft-verify[torch]", file=sys.stderr)
        return 2
    return run_cli(args)
