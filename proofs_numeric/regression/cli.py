"""``alft baseline``: compare a run with the committed baseline, or (``--write``) rewrite the baseline.

* ``alft baseline`` runs the report with the baseline's profile and seed into ``--out``
  (default ``reports/regression``), compares the declared figures and prints a readable diff;
  exit 0 when nothing moved, 1 when a figure moved or a claim changed status.
* ``alft baseline --results FILE`` compares an existing results.json instead of running.
* ``alft baseline --write`` runs the default report, and only if every claim passes replaces the
  committed reference report (``reports/reference/``) and ``reports/baseline.json``. Without
  ``--write`` nothing is overwritten. Both follow the output rule of :mod:`estimators.outputs`: the
  reference must be a directory ``alft report`` wrote (or empty/new), the baseline file a baseline.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .baseline import build_baseline, compare, load_baseline, load_results, write_baseline

__all__ = ["add_parser"]

from ..report.builder import DEFAULT_SEED  # noqa: E402  (one default seed for report and baseline)


def add_parser(sub) -> None:
    from ..helpformat import HelpFormatter
    p = sub.add_parser("baseline", help="regression check against the committed baseline (or --write it)",
                       formatter_class=HelpFormatter,
                       description="Compare the report's declared key figures with reports/baseline.json "
                                   "(a diff when any moved), or rewrite the baseline and the reference report "
                                   "with --write. Without --results it runs the default report first (minutes).",
                       epilog="exit status:\n  0  nothing moved (or the baseline was written)\n  1  a figure "
                              "moved or a claim changed status (the diff says which)\n  2  bad arguments, a missing "
                              "or foreign baseline, or --write of a failing run\n\nexamples:\n"
                              "  alft baseline                                        # run and compare (tox -e "
                              "regression)\n"
                              "  alft baseline --results reports/latest/results.json  # compare an existing run\n"
                              "  alft baseline --write                                # rewrite baseline + reference")
    p.add_argument("--baseline", default="reports/baseline.json", help="baseline file (default: reports/baseline.json)")
    p.add_argument("--results", help="compare (or, with --write, record) this results.json instead of running the "
                                     "report (default: run it)")
    p.add_argument("--out", default="reports/regression",
                   help="where the check writes its report (default: reports/regression)")
    p.add_argument("--reference", default="reports/reference",
                   help="with --write: the committed reference report directory (default: reports/reference)")
    p.add_argument("--write", action="store_true",
                   help="rewrite the baseline (and the reference report, unless --results is given); refused when a "
                        "claim fails")
    p.add_argument("--profile", choices=("quick", "default", "full"), default="default",
                   help="with --write: the profile to record (default: default)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"with --write: the seed to record (default: "
                                                                  f"{DEFAULT_SEED})")
    p.set_defaults(func=_cmd_baseline)


def _cmd_baseline(args) -> int:
    return _write(args) if args.write else _check(args)


def _check(args) -> int:
    from ..report.builder import run_report

    base = load_baseline(args.baseline)  # fail fast, before a run of several minutes
    if args.results:
        results = load_results(args.results)
    else:
        out = Path(args.out).resolve()
        if out == Path(args.reference).resolve():
            raise ValueError(f"--out {args.out} is the committed reference report; the check writes elsewhere "
                             "(only --write replaces the reference)")
        results = run_report(out, profile=base["profile"], seed=base["seed"])
    rep = compare(base, results, baseline_path=str(args.baseline))
    print(rep.render())
    return 0 if rep.passed else 1


def _write(args) -> int:
    from ..report.builder import run_report
    from ..report.outdir import check_out
    from .baseline import check_baseline_target

    check_baseline_target(args.baseline)   # the output rule, before a run of several minutes
    if args.results:
        doc = build_baseline(load_results(args.results))
    else:
        check_out(args.reference, name="--reference")
        built = {}

        def accept(results):  # refuses a failing run before anything is replaced
            built["doc"] = build_baseline(results)

        run_report(args.reference, profile=args.profile, seed=args.seed, accept=accept)
        doc = built["doc"]
        print(f"alft baseline: reference report written to {args.reference}", file=sys.stderr)
    path = write_baseline(args.baseline, doc)
    n = sum(len(c["figures"]) for c in doc["claims"].values())
    print(f"alft baseline: wrote {path} ({n} figures of claims {', '.join(doc['claims'])}; profile "
          f"{doc['profile']}, seed {doc['seed']})")
    return 0
