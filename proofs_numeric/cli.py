"""The ``alft`` command line: ``alft tables``, ``alft report`` (and subcommands added by modules).

Subcommands are listed in :data:`SUBCOMMANDS` as ``(name, "module:add_parser")``; each
``add_parser(subparsers)`` registers its parser and sets ``func`` (returning an exit code). Every
subcommand's ``--help`` has a description, a help text and default for each option, its exit codes
and examples (tests/test_cli_help.py checks it). Library errors that carry a fix (``exc.remedy``,
:mod:`estimators.remedy`) are shown with that fix as command-line options.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .cliargs import add_generator_options, generator_params, parse_K_range, parse_params, parse_variance_max

__all__ = ["main", "SUBCOMMANDS"]

SUBCOMMANDS = [
    ("tables", "proofs_numeric.cli:add_tables_parser"),
    ("report", "proofs_numeric.report.builder:add_parser"),
    ("crosscheck", "proofs_numeric.crosscheck.cli:add_parser"),
    ("baseline", "proofs_numeric.regression.cli:add_parser"),
    ("game", "proofs_numeric.game.cli:add_parser"),
    ("recommend", "proofs_numeric.recommend:add_parser"),
    ("trainer-check", "proofs_numeric.trainer_check.cli:add_parser"),
]


_TABLES_EPILOG = """exit status:
  0  the table was printed or written (or the shipped data rebuilt)
  2  bad arguments, or no table exists for them (the message says why and what to pass instead)

examples:
  alft tables --generator kl --method plugin --K 8
  alft tables --generator kl --method aqp --K 32 --eps 10 --format json --out aqp.json
  alft tables --generator kl --method aqp --K 8 --eps 5 --solve          # a budget outside the shipped set
  alft tables --generator kl --method aqp --K 16 --variance-max plugin   # least bias at the plug-in's variance
  alft tables --generator polynomial --coeffs 0,0,1/2 --method ustat --K 4 --format csv"""


def add_tables_parser(sub) -> None:
    from estimators import GENERATORS, method_names
    from estimators.advantages import ADVANTAGES

    from .helpformat import HelpFormatter

    p = sub.add_parser("tables", help="print or export one estimator table",
                       formatter_class=HelpFormatter, epilog=_TABLES_EPILOG,
                       description="Build one table (generator, method, K) and print or export it: the reward g(C) "
                                   "for each leave-one-out count C = 0..K-1, with its provenance and certificate. "
                                   "With --rebuild, regenerate the shipped AQP data instead.")
    p.add_argument("--generator", choices=sorted(GENERATORS),
                   help="phi, the diversity generator whose reward phi' the table estimates (kl: log p + 1)")
    add_generator_options(p)   # each family's parameters: --alpha (power), --coeffs and --coeffs-of (polynomial)
    p.add_argument("--method", choices=method_names(),
                   help="the estimator: plugin, jackknife, ustat (unbiased for polynomial rewards), minimax, "
                        "aqp (least variance under a bias budget)")
    p.add_argument("--K", type=int, help="group size (integer >= 2)")
    p.add_argument("--advantage", choices=list(ADVANTAGES), default="decoupled",
                   help="the trainer's advantage the table is for (C9): decoupled (default; no baseline, or one that "
                        "does not see the sample), rloo (leave-one-out or group-mean baseline: TRL "
                        "scale_rewards='none'/'batch', verl RLOO, GRPO without std, REINFORCE++-baseline; K >= 3), "
                        "grpo (group std: refused, no table corrects it)")
    p.add_argument("--eps", type=float, help="aqp: bias budget (1 + eps) E*_K; shipped for kl: 0.1, 0.3, 1, 3, 10, 30, "
                                             "100 (others with --solve); no default")
    p.add_argument("--variance-max", help="aqp, the dual: least bias with V(g) <= this number, or 'plugin' "
                                          "(the plug-in table's V); needs the solver")
    p.add_argument("--solve", action="store_true", help="aqp: solve and certify instead of loading a shipped table")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="method parameter (repeatable), e.g. --param gap_tol=1e-4 (default: none)")
    p.add_argument("--format", choices=["json", "text", "csv"], default="text",
                   help="text: a header and one line per count; json: the full table document; csv: count,value "
                        "(default: text)")
    p.add_argument("--out", help="write to this file (atomically) instead of standard output (default: stdout)")
    p.add_argument("--rebuild", choices=["aqp", "aqp-frontier"],
                   help="regenerate shipped data instead of printing a table: aqp (certified KL tables, K = 2..128, "
                        "progress per K; --rebuild-K rebuilds a range and keeps the others; with --advantage rloo the "
                        "set for a leave-one-out or group-mean baseline, K = 3..128) or aqp-frontier (the "
                        "bias-variance frontier and the dual at the plug-in's variance for K = 4, 8, ..., 128)")
    p.add_argument("--rebuild-K", metavar="LO-HI",
                   help="--rebuild: the range of K (default: the whole set, 2-128; 3-128 with --advantage rloo)")
    p.add_argument("--processes", type=int, default=2, help="--rebuild: worker processes (default 2)")
    p.add_argument("--data-dir", help="--rebuild: write here instead of the package's data directory")
    p.set_defaults(func=_cmd_tables)


def _cmd_rebuild(args) -> int:
    from estimators.aqp.build import rebuild
    if args.processes < 1:
        raise ValueError(f"--processes must be an integer >= 1, got {args.processes}")
    if args.rebuild == "aqp-frontier":
        if args.advantage != "decoupled":
            raise ValueError(f"--rebuild aqp-frontier is the frontier of the decoupled set; --advantage "
                             f"{args.advantage!r} takes --rebuild aqp")
        from estimators.aqp.frontier import FRONTIER_K, build_frontier
        Ks = [K for K in FRONTIER_K if K in parse_K_range(args.rebuild_K)]
        if not Ks:
            raise ValueError(f"--rebuild-K {args.rebuild_K} holds none of the frontier's K "
                             f"({', '.join(map(str, FRONTIER_K))})")
        from estimators.aqp.build import AQP_DATA
        from estimators.aqp.shipped import data_dir
        from estimators.outputs import check_output_dir
        folder = check_output_dir(data_dir() if args.data_dir is None else args.data_dir, AQP_DATA, name="--data-dir")  # never a user's folder
        folder.mkdir(exist_ok=True)
        doc = build_frontier(Ks, processes=args.processes, path=folder / "frontier_kl.json",
                             log=lambda m: print(m, file=sys.stderr, flush=True))
        print(f"rebuilt the AQP frontier for K = {', '.join(doc['K'])} in {doc['build_seconds']}s")
        return 0
    from estimators.aqp.shipped import SHIPPED_SETS, shipped_K
    if args.advantage not in SHIPPED_SETS:
        raise ValueError(f"--rebuild aqp takes --advantage {' or '.join(SHIPPED_SETS)}, got {args.advantage!r}")
    lo, hi = shipped_K(args.advantage)
    Ks = parse_K_range(args.rebuild_K, lo_min=lo, hi_max=hi)
    man = rebuild(Ks, processes=args.processes, out_dir=args.data_dir, advantage=args.advantage,
                  log=lambda m: print(m, file=sys.stderr, flush=True))
    n_ref = sum(len(v) for v in man["refused"].values())
    print(f"rebuilt {len(man['files'])} files ({n_ref} refusals) in {man['build_seconds']}s")
    return 0


def _cmd_tables(args) -> int:
    import json

    from estimators import build_table
    from estimators.outputs import check_output_file, write_output_file

    if args.rebuild:
        return _cmd_rebuild(args)
    missing = [f"--{n}" for n, v in (("generator", args.generator), ("method", args.method), ("K", args.K))
               if v is None]
    if missing:
        raise ValueError(f"alft tables needs {', '.join(missing)} (or --rebuild aqp)")
    if args.method == "aqp" and args.eps is None and args.variance_max is None and not any(
            item.split("=", 1)[0].strip() in ("eps", "variance_max") for item in args.param):
        from estimators.aqp import SHIPPED_EPS
        raise ValueError(f"--method aqp needs --eps (the bias budget; shipped for kl: "
                         f"{', '.join(f'{e:g}' for e in SHIPPED_EPS)}) or --variance-max (a number or 'plugin')")
    if args.out is not None:
        check_output_file(args.out, name="--out")  # before any work: a directory, a FIFO, a read-only file, ...
    params = parse_params(args.param)
    for name, val in (("eps", args.eps), ("variance_max", parse_variance_max(args.variance_max)),
                      ("solve", True if args.solve else None)):
        if val is not None:
            if name in params:
                raise ValueError(f"{name} is given twice (--{name.replace('_', '-')} and --param)")
            params[name] = val
    table = build_table(args.generator, args.method, args.K, advantage=args.advantage,
                        generator_params=generator_params(args.generator, args), **params)
    if args.format == "json":
        text = json.dumps(table.to_dict(), indent=2) + "\n"
    elif args.format == "csv":
        text = "count,value\n" + "".join(f"{c},{float(v)!r}\n" for c, v in enumerate(table.values))
    else:
        d = table.to_dict()
        head = [f"# {table!r}", f"# estimand: {d['estimand']}   reward: {d['reward']}", f"# provenance: {d['provenance']}"]
        if d["certificate"]:
            head.append(f"# certificate: {json.dumps(d['certificate'])}")
        text = "\n".join(head + [f"{c:6d}  {float(v)!r}" for c, v in enumerate(table.values)]) + "\n"
    if args.out is not None:
        write_output_file(args.out, text, name="--out")
    else:
        sys.stdout.write(text)
    return 0


_MAIN_EPILOG = """exit status: 0 success; 1 a check failed (report, baseline, crosscheck); 2 bad arguments or an error
(the message names the option). Set ALFT_DEBUG=1 for a traceback.

examples:
  alft report --profile quick --out /tmp/report   # the claims C1-C8 in seconds
  alft tables --generator kl --method aqp --K 32 --eps 10
  alft SUBCOMMAND --help                          # each subcommand's options, defaults and examples"""


def build_parser() -> argparse.ArgumentParser:
    from estimators import __version__

    from .helpformat import HelpFormatter
    parser = argparse.ArgumentParser(prog="alft", description="alft-verify: verified low-bias ALFT reward estimators "
                                                              "and the numerical suite that proves them.",
                                     formatter_class=HelpFormatter, epilog=_MAIN_EPILOG)
    parser.add_argument("--version", action="version", version=f"alft-verify {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    for _name, target in SUBCOMMANDS:
        mod, fn = target.split(":")
        getattr(importlib.import_module(mod), fn)(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, OSError) as exc:
        if os.environ.get("ALFT_DEBUG"):
            raise
        msg = f"{exc.strerror}: {exc.filename!r}" if isinstance(exc, OSError) and exc.filename else _cli_message(exc)
        print(f"alft {args.command}: error: {msg}  (set ALFT_DEBUG=1 for a traceback)", file=sys.stderr)
        return 2


_REMEDY_OPTIONS = {"solve": lambda v: "--solve" if v else "", "eps": lambda v: f"--eps {v:g}",
                   "variance_max": lambda v: f"--variance-max {v}"}


def _cli_message(exc: Exception) -> str:
    """The error in command-line words: a library error's fix (``exc.remedy``, keyword arguments of
    build_table) becomes the options that apply it, instead of a Python call."""
    remedy = getattr(exc, "remedy", None)
    if not remedy or not getattr(exc, "reason", None):
        return str(exc)
    opts = [_REMEDY_OPTIONS[k](v) if k in _REMEDY_OPTIONS else f"--param {k}={v}" for k, v in remedy.items()]
    return f"{exc.reason}. Rerun with {' '.join(o for o in opts if o)} to get it"


if __name__ == "__main__":
    sys.exit(main())
