"""``alft crosscheck MODULE:FUNCTION``: conformance of a group-reward kernel (claim C8).

The parser is defined here without importing torch, so ``alft`` works where torch is absent;
the handler imports the harness (:mod:`.harness`, torch and hypothesis) when the subcommand runs. Bad arguments
(an unknown or unavailable ``--device``, a ``--json`` path that cannot be written) are refused
before any case runs. Hypothesis keeps its storage (example database, constants cache) out of the
user's working directory: see :func:`keep_hypothesis_out_of_cwd`.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

__all__ = ["add_parser", "keep_hypothesis_out_of_cwd"]


def keep_hypothesis_out_of_cwd() -> Path | None:
    """Point hypothesis's storage at ``$ALFT_CACHE_DIR/hypothesis`` (default ``~/.cache/alft-verify``),
    or a per-user temporary directory when that cannot be created, instead of ``./.hypothesis``.

    A ``HYPOTHESIS_STORAGE_DIRECTORY`` set by the user is respected. Returns the directory used.
    """
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return None
    from hypothesis.configuration import set_hypothesis_home_dir

    from estimators.cache import cache_dir

    for base in (cache_dir(), Path(tempfile.gettempdir()) / f"alft-verify-{os.getuid()}"):
        d = base / "hypothesis"
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(d, os.W_OK | os.X_OK):
            set_hypothesis_home_dir(d)
            return d
    d = Path(tempfile.mkdtemp(prefix="alft-hypothesis-"))
    set_hypothesis_home_dir(d)
    return d


def add_parser(sub) -> None:
    from ..helpformat import HelpFormatter
    p = sub.add_parser(
        "crosscheck", help="check a group-reward kernel against the reference estimators (claim C8)",
        formatter_class=HelpFormatter,
        description="Run MODULE:FUNCTION, called as fn(ids, table) with ids an integer tensor [B, K] and table "
                    "a float64 tensor [K] (returning rewards [B, K] with rewards[b, i] = table[C_bi]), against the "
                    "reference counts and tables on edge cases and hypothesis-generated inputs, and print a "
                    "conformance report. The kernel runs in a process of its own: a call that exceeds "
                    "--case-timeout, or a process that ends early, is a FAIL.",
        epilog="exit status:\n  0  the kernel conforms (the whole check ran)\n  1  it does not (the report lists "
               "the failing cases)\n  2  bad arguments, a module that cannot be imported, or PyTorch is not "
               "installed\n\nexamples:\n"
               "  alft crosscheck estimators.torch:group_rewards\n"
               "  alft crosscheck mypkg.kernels:rewards --device cuda --max-examples 500 --json report.json")
    p.add_argument("kernel", help="the kernel to check, as MODULE:FUNCTION (e.g. estimators.torch:group_rewards)")
    p.add_argument("--device", default="cpu", help="torch device for the inputs: cpu, cuda, cuda:1, ... (default: cpu)")
    p.add_argument("--max-examples", type=int, default=200,
                   help="hypothesis examples (default 200, at most 10000)")
    p.add_argument("--case-timeout", type=float, default=60.0,
                   help="seconds one call of the kernel may take before the case FAILs (default 60)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated cases (default 0)")
    p.add_argument("--mask", choices=["auto", "yes", "no"], default="auto",
                   help="check masked batches (auto: iff the kernel takes a `mask` keyword; default: auto)")
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH (default: not written)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from estimators.outputs import check_output_file
    from estimators.montecarlo import check_seed

    if args.json is not None:
        check_output_file(args.json, name="--json")
    check_seed(args.seed, name="--seed")
    if not 0 < args.case_timeout <= 3600:   # NaN fails too
        raise ValueError(f"--case-timeout must be a number of seconds in (0, 3600], got {args.case_timeout}")
    try:
        from estimators.torch.tensors import check_device

        from .harness import check_max_examples
    except ImportError as exc:
        print(f"alft crosscheck: error: needs PyTorch ({exc}); install alft-verify[torch]", file=sys.stderr)
        return 2
    check_max_examples(args.max_examples, name="--max-examples")
    check_device(args.device, name="--device")
    if ":" not in args.kernel:
        raise ValueError(f"kernel must look like MODULE:FUNCTION, got {args.kernel!r}")
    return _crosscheck(args, hypothesis_home=keep_hypothesis_out_of_cwd())


def _crosscheck(args, hypothesis_home=None) -> int:
    import json

    from .isolation import crosscheck_isolated
    mask = {"auto": None, "yes": True, "no": False}[args.mask]
    report = crosscheck_isolated(args.kernel, device=args.device, max_examples=args.max_examples, seed=args.seed,
                                 check_mask=mask, case_timeout=args.case_timeout, hypothesis_home=hypothesis_home)
    print(report.format())
    if args.json:
        from estimators.outputs import write_output_file
        write_output_file(args.json, json.dumps(report.to_json(), indent=2) + "\n", name="--json")
    return 0 if report.passed else 1
