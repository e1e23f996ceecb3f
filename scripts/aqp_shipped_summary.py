"""Summarise the shipped AQP set from its manifest (claim C6): certified and refused (K, eps) per budget and per
cause, for the README and docs figures (``python scripts/aqp_shipped_summary.py``; ``--json`` for the numbers).

Every figure is read from ``estimators/aqp/data/manifest.json`` (``tests/test_readme_figures.py`` checks the
README's sentence against it)."""
from __future__ import annotations

import json
import sys

from estimators.aqp.shipped import manifest
from proofs_numeric.c6_aqp import certifiable_ranges, refusal_counts


def summary() -> dict:
    man = manifest()
    n_tables = len(man["files"])
    counts = refusal_counts(man)
    return {"certifier": man["certifier"], "K": man["K"], "eps": man["eps"], "n_tables": n_tables,
            "n_refused": sum(counts.values()), "refused_by_cause": counts,
            "build_seconds": man.get("build_seconds"), "per_eps": certifiable_ranges(man)}


def main(argv=None) -> int:
    s = summary()
    if "--json" in (argv if argv is not None else sys.argv[1:]):
        print(json.dumps(s, indent=1))
        return 0
    print(f"{s['n_tables']} tables are certified and {s['n_refused']} refused ("
          + ", ".join(f"{c} {n}" for c, n in s["refused_by_cause"].items()) + f"); certifier {s['certifier']}, "
          f"built in {s['build_seconds']} s")
    for r in s["per_eps"]:
        print(f"  eps={r['eps']:g}: certified K {r['certified_K']}; refused K {r['refused_K']} "
              + " ".join(f"[{c}: {k}]" for c, k in r["refused_by_cause"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
