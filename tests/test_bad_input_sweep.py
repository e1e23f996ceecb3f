"""The bad-input sweep (issue 11), as data: every input ends in a clear error or a correct result.

Each :class:`Case` calls one public entry point -- the Python API (``api``), the torch kernels and
engines (``torch``) or the ``alft`` command line (``cli``, in process: exit status 2 and a one-line
message, never a traceback) -- and states what must happen:

* ``error``: the exception type (a ``ValueError``/``TypeError`` family) and a pattern the message
  must contain (it names the parameter and, where there is one, the supported range);
* ``check``: the call succeeds and the predicate on its result holds (a correct result, not just
  "no exception").

A hang is a failure: each case runs under a 60 s alarm (a guard, not a timing measurement).
The counts (inputs tried, clear errors, correct results) are printed at the end of the module.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import signal
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from estimators import Table, build_table, get_generator, moments
from estimators.certificates import bind
from estimators.minimax import UnsupportedTargetError
from estimators.montecarlo import monte_carlo
from _common import print_summary_line

COUNTS = {"inputs": 0, "clear_errors": 0, "correct_results": 0}


@dataclass(frozen=True)
class Case:
    id: str
    surface: str                      # "api" | "torch" | "cli"
    run: Callable[[], Any]
    error: type | tuple | None = None  # expected exception type(s) for a clear error
    match: str | None = None          # the message must contain this (regex)
    check: Callable[[Any], bool] | None = None  # predicate on a correct result
    needs_torch: bool = False


def err(id, surface, run, exc, match, **kw):
    return Case(id, surface, run, error=exc, match=match, **kw)


def ok(id, surface, run, check, **kw):
    return Case(id, surface, run, check=check, **kw)


VE, TE = ValueError, TypeError
BAD = (ValueError, TypeError)


# -- shared small objects ---------------------------------------------------------------------------

def plug(K=4):
    return build_table("kl", "plugin", K)


def mc_result():
    return monte_carlo(plug(4), [0.5, 0.5], 2000, seed=1)


def ones_table(K):
    return Table(values=np.ones(K), generator=get_generator("kl"), method="constant")


def _unsorted_dvp():
    """issue 11, item 3: the alternation points of K = 6 in the wrong order."""
    from flint import arb, ctx

    from estimators.generators import kl
    from estimators.minimax import remez
    from estimators.minimax.certify import bernstein_from_cheb, dvp_lower, poly_u_from_bernstein
    sol = remez(kl().certified_target(), 5, constrained=True)
    pts = list(sol.points)
    with ctx.workprec(200):
        Pu = poly_u_from_bernstein(bernstein_from_cheb(sol.coeffs, 200))
        return lambda points, **kw: dvp_lower(Pu, kl().certified_target(), points, **{"degree": 6, "constrained": True, **kw}), pts


def dvp(kind):
    def run():
        f, pts = _unsorted_dvp()
        from flint import arb
        if kind == "unsorted":
            return f(pts[::-1])
        if kind == "swapped":
            return f([pts[1], pts[0]] + pts[2:])
        if kind == "few":
            return f(pts[:-1])
        if kind == "duplicate":
            return f(pts[:3] + [pts[2]] + pts[4:])
        if kind == "zero":
            return f([arb(0)] + pts[1:])
        if kind == "outside":
            return f(pts[:-1] + [arb(1.5)])
        if kind == "sorted":
            return f(pts)
        raise AssertionError(kind)
    return run


def cert_ok(t):
    from estimators.certificates import verify
    return verify(t)


# -- the command line, in process ------------------------------------------------------------------

class CliError(Exception):
    """The CLI ended with exit status 2 and a one-line message (a clear error)."""


def _cli(argv):
    from proofs_numeric.cli import main
    out, errs = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(errs):
        try:
            rc = main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            rc = exc.code
    return rc, out.getvalue(), errs.getvalue()


def cli_err(id, argv, match, **kw):
    def run():
        rc, out, e = _cli(argv)
        if rc == 2 and e.strip() and "Traceback" not in e:
            raise CliError(e.strip())
        return rc, out, e
    return err(id, "cli", run, CliError, match, **kw)


def cli_ok(id, argv, check, **kw):
    return ok(id, "cli", lambda: _cli(argv), check, **kw)


TABLES = ["tables", "--generator"]


def _json_K(r, K):
    return r[0] == 0 and json.loads(r[1])["K"] == K


# -- torch -------------------------------------------------------------------------------------------

def tr(fn):
    """Run ``fn(torch, estimators.torch)``: torch cases import torch only when they run."""
    def run():
        import torch

        import estimators.torch as et
        return fn(torch, et)
    return run


def _ids(torch, K, B=3):
    return torch.randint(0, 5, (B, K), generator=torch.Generator().manual_seed(0))


# -- the sweep ----------------------------------------------------------------------------------------

CASES = [
    # generators: the power exponent, polynomial coefficients, names
    *[err(f"power alpha={a!r}", "api", (lambda a=a: get_generator("power", alpha=a)), BAD, r"alpha must be a real number in \(0, 10000\]")
      for a in [0, -1, 1, 1.0, float("nan"), float("inf"), 1e300, 10 ** 400, 1e5, 10 ** 6, True, None, "2"]],
    ok("power alpha=1e-300 plug-in", "api", lambda: build_table("power", "plugin", 8, generator_params={"alpha": 1e-300}),
       lambda t: t.values[0] == -8.0),
    ok("power alpha=100.5 K=8 minimax (issue: bare tail-bound error)", "api",
       lambda: build_table("power", "minimax", 8, generator_params={"alpha": 100.5}), cert_ok),
    err("generator name", "api", lambda: get_generator("nope"), VE, "generator must be one of"),
    err("polynomial coeffs=[]", "api", lambda: get_generator("polynomial", coeffs=[]), VE, "coeffs"),
    err("polynomial coeffs='abc'", "api", lambda: get_generator("polynomial", coeffs="abc"), TE, "coeffs"),
    err("polynomial coeffs 1/0", "api", lambda: get_generator("polynomial", coeffs=["1/0"]), VE, "coeffs"),
    err("polynomial coeffs nan", "api", lambda: get_generator("polynomial", coeffs=[0, float("nan")]), VE, "coeffs"),
    err("polynomial coeffs True", "api", lambda: get_generator("polynomial", coeffs=[True]), TE, "coeffs"),
    err("polynomial coeffs 1e400", "api", lambda: get_generator("polynomial", coeffs=[0, "1e400"]), VE, "float64"),
    err("polynomial coeffs 10**400", "api", lambda: get_generator("polynomial", coeffs=[0, 10 ** 400]), VE, "float64"),
    err("polynomial degree 20000", "api", lambda: get_generator("polynomial", coeffs=[0] * 20001 + [1]), VE,
        "degree <= 10000"),
    err("polynomial of=", "api", lambda: get_generator("polynomial", coeffs=[1], of="x"), VE, "of must be"),
    # build_table: K, methods, parameters, work limits
    *[err(f"K={K!r}", "api", (lambda K=K: build_table("kl", "plugin", K)), BAD, r"K must be an integer in \[2, 65536\]")
      for K in [1, 0, -3, 65537, 2.0, True, "8", None, 1e9]],
    err("method name", "api", lambda: build_table("kl", "nope", 4), VE, "method must be one of"),
    err("unknown method parameter", "api", lambda: build_table("kl", "plugin", 4, eps=0.1), TE, "unknown parameter"),
    err("integer alpha=1e6 plug-in (issue: hang)", "api",
        lambda: build_table("power", "plugin", 8, generator_params={"alpha": 10 ** 6}), VE, "alpha"),
    err("alpha=10000 jackknife K=256 (exact work)", "api",
        lambda: build_table("power", "jackknife", 256, generator_params={"alpha": 10000}), VE,
        r"K \* \(degree \+ 1\) <= 262144"),
    err("dense degree 65 ustat K=4096 (exact work)", "api",
        lambda: build_table("polynomial", "ustat", 4096, generator_params={"coeffs": [1] * 67}), VE, "262144"),
    ok("ustat power alpha=4 K=65536 (within the work limit)", "api",
       lambda: build_table("power", "ustat", 65536, generator_params={"alpha": 4}), lambda t: t.K == 65536),
    err("plug-in entry beyond float64", "api",
        lambda: build_table("polynomial", "plugin", 8, generator_params={"coeffs": [1e308, 1e308], "of": "reward"}), VE,
        "float64 range"),
    err("minimax K=257", "api", lambda: build_table("kl", "minimax", 257), VE, r"\[2, 256\]"),
    *[err(f"minimax rel_tol={r!r}", "api", (lambda r=r: build_table("kl", "minimax", 8, rel_tol=r)), BAD, "rel_tol")
      for r in [0, 1, 2, -1e-9, float("nan"), "x"]],
    err("minimax use_cache='False'", "api", lambda: build_table("kl", "minimax", 8, use_cache="False"), TE, "use_cache"),
    err("minimax alpha=1e-6", "api", lambda: build_table("power", "minimax", 8, generator_params={"alpha": 1e-6}),
        UnsupportedTargetError, r"alpha in \[0.001, 10000\]"),
    err("minimax alpha=4096 K=256 (issue: hang)", "api",
        lambda: build_table("power", "minimax", 256, generator_params={"alpha": 4096}), UnsupportedTargetError,
        r"d \* K <= 65536"),
    err("minimax power(100.5) K=256", "api",
        lambda: build_table("power", "minimax", 256, generator_params={"alpha": 100.5}), VE, "alpha=100.5.*K=256"),
    # Table construction and the gather
    err("Table one value", "api", lambda: Table(values=[1.0], generator=get_generator("kl"), method="m"), VE, "len\\(values\\)"),
    err("Table NaN value", "api", lambda: Table(values=[float("nan"), 1.0], generator=get_generator("kl"), method="m"),
        VE, "finite"),
    err("Table 2-D values", "api", lambda: Table(values=np.ones((2, 2)), generator=get_generator("kl"), method="m"),
        VE, "one-dimensional"),
    err("Table generator str", "api", lambda: Table(values=[1.0, 2.0], generator="kl", method="m"), TE, "generator"),
    err("Table certificate not a mapping", "api",
        lambda: Table(values=[1.0, 2.0], generator=get_generator("kl"), method="m", certificate=[1]), TE, "certificate"),
    err("Table.from_dict {}", "api", lambda: Table.from_dict({}), VE, "needs the keys"),
    err("Table.from_dict K mismatch", "api", lambda: Table.from_dict(dict(plug(4).to_dict(), K=5)), VE, "K = 5"),
    err("Table.from_dict on_bad_certificate", "api", lambda: Table.from_dict(plug(4).to_dict(), on_bad_certificate="x"),
        VE, "on_bad_certificate"),
    err("gather float counts", "api", lambda: plug(4)(np.array([0.0, 1.0])), TE, "counts must be integers"),
    err("gather count out of range", "api", lambda: plug(4)(np.array([0, 4])), VE, r"\[0, 3\]"),
    err("bind a list", "api", lambda: bind(plug(4), [1]), TE, "certificate must be a mapping"),
    err("bind empty certifier", "api", lambda: bind(plug(4), {}, certifier=""), TE, "certifier"),
    # exact moments
    *[err(f"moments p={p!r}", "api", (lambda p=p: moments(plug(4), p)), BAD, "p must")
      for p in [[float("nan")], [-0.1], [1.5], [], "x", [float("inf")]]],
    err("moments engine", "api", lambda: moments(plug(4), [0.5], engine="float32"), VE, "engine must be one of"),
    err("moments dps", "api", lambda: moments(plug(4), [0.5], engine="mpmath", dps=2), VE, "dps"),
    err("moments exact engine, K=65536 (issue: minutes per point)", "api",
        lambda: moments(ones_table(65536), [Fraction(1, 3)] * 3, engine="exact"), VE, "the exact engine needs"),
    ok("moments exact engine, K=4096 in integer arithmetic", "api",
       lambda: moments(ones_table(4096), [Fraction(1, 3)], engine="exact"), lambda m: m.mean[0] == 1 and m.var[0] == 0),
    err("moments mpmath engine, K=65536 x 100 points", "api",
        lambda: moments(ones_table(65536), ["0.5"] * 100, engine="mpmath"), VE, "the mpmath engine needs"),
    err("moments mpmath dps=10**6", "api", lambda: moments(plug(4), ["0.5"], engine="mpmath", dps=10 ** 6), VE,
        r"dps must be an integer in \[5, 10000\]"),
    err("moments chunk", "api", lambda: moments(plug(4), [0.5], chunk=0), VE, "chunk"),
    err("moments values=", "api", lambda: moments(plug(4), [0.5], values="x"), VE, "values must be"),
    err("moments table", "api", lambda: moments([1.0, 2.0], [0.5]), TE, "table must be"),
    ok("float64 moments at K=65536, 1001 points (issue: > 600 s)", "api",
       lambda: (moments(ones_table(65536), np.linspace(0, 1, 1001)), None),
       lambda r: bool(np.all(np.abs(r[0].mean - 1) <= r[0].mean_err / np.maximum(r[0].p, 1e-300) + 1e-15))
       and float(np.max(r[0].var)) < 1e-20),
    err("log_binomial_coefficients(70000)", "api",
        lambda: __import__("estimators.moments", fromlist=["x"]).log_binomial_coefficients(70000), VE, "n must be"),
    # Monte Carlo
    *[err(f"monte_carlo min_expected={m!r}", "api", (lambda m=m: monte_carlo(plug(4), [0.5, 0.5], 100, seed=1, min_expected=m)),
          BAD, "min_expected must be a finite number >= 0") for m in [float("nan"), float("inf"), -1, "x", True]],
    *[err(f"monte_carlo seed={s!r}", "api", (lambda s=s: monte_carlo(plug(4), [0.5, 0.5], 100, seed=s)), BAD,
          "seed must be a non-negative integer") for s in [-1, 1.5, "a", None, True]],
    *[err(f"monte_carlo n_groups={n!r}", "api", (lambda n=n: monte_carlo(plug(4), [0.5, 0.5], n, seed=1)), BAD, "n_groups")
      for n in [1, 0, 2.5]],
    *[err(f"monte_carlo alpha={a!r}", "api", (lambda a=a: monte_carlo(plug(4), [0.5, 0.5], 100, seed=1, alpha=a)), BAD,
          "alpha") for a in [0, 1, float("nan")]],
    *[err(f"monte_carlo probs={q!r}", "api", (lambda q=q: monte_carlo(plug(4), q, 100, seed=1)), VE, "probs")
      for q in [[0.5, 0.6], [], [[0.5, 0.5]], [float("nan"), 1.0], [-0.5, 1.5]]],
    err("monte_carlo max_bytes too small", "api", lambda: monte_carlo(plug(4), [0.5, 0.5], 100, seed=1, max_bytes=10),
        VE, "max_bytes"),
    err("compare wrong length", "api", lambda: mc_result().compare([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]), VE,
        "exact_mean must have one value per answer"),
    err("compare NaN", "api", lambda: mc_result().compare([float("nan"), 1.0], [1.0, 1.0]), VE, "exact_mean must be finite"),
    ok("compare with nothing tested is not all_within", "api",
       lambda: monte_carlo(plug(4), [0.5, 0.5], 100, seed=1, min_expected=1e12).compare([0, 0], [0, 0]),
       lambda c: c.n_tested == 0 and not c.all_within),
    ok("monte_carlo at K=4096 within its memory budget", "api",
       lambda: monte_carlo(plug(4096), [0.5, 0.5], 40, seed=1, max_bytes=1 << 24), lambda r: r.n_groups == 40),
    # the certificates' building blocks
    *[err(f"dvp_lower points {k}", "api", dvp(k), VE, m) for k, m in [
        ("unsorted", "strictly increasing"), ("swapped", "strictly increasing"), ("few", "at least 7 points"),
        ("duplicate", "strictly increasing"), ("zero", r"inside \(0, 1\]"), ("outside", r"inside \(0, 1\]")]],
    ok("dvp_lower sorted points", "api", dvp("sorted"), lambda r: r[0] is not None and r[0] > 0),
    err("weighted_bias_bracket rel_tol", "api",
        lambda: __import__("estimators.certified.supnorm", fromlist=["x"]).weighted_bias_bracket(plug(4), rel_tol=0), VE, "rel_tol"),
    err("weighted_bias_bracket table", "api",
        lambda: __import__("estimators.certified.supnorm", fromlist=["x"]).weighted_bias_bracket([1.0]), TE, "table must be"),
    # torch kernels and engines
    err("group_rewards on the meta device", "torch", tr(lambda torch, et: et.group_rewards(_ids(torch, 4).to("meta"), plug(4))),
        VE, "meta", needs_torch=True),
    err("group_rewards float32 overflow (minimax K=144)", "torch",
        tr(lambda torch, et: et.group_rewards(_ids(torch, 144), build_table("kl", "minimax", 144))), VE,
        "beyond the range of the output dtype float32", needs_torch=True),
    ok("group_rewards minimax K=144 in float64", "torch",
       tr(lambda torch, et: et.group_rewards(_ids(torch, 144), build_table("kl", "minimax", 144), dtype=torch.float64)),
       lambda r: bool(r.isfinite().all()), needs_torch=True),
    err("group_rewards float ids", "torch", tr(lambda torch, et: et.group_rewards(torch.zeros(2, 4), plug(4))), TE,
        "ids must be an integer tensor", needs_torch=True),
    err("group_rewards wrong table size", "torch", tr(lambda torch, et: et.group_rewards(_ids(torch, 5), plug(4))), VE,
        "K = 4", needs_torch=True),
    err("group_rewards NaN raw table", "torch",
        tr(lambda torch, et: et.group_rewards(_ids(torch, 4), torch.tensor([0.0, float("nan"), 1.0, 2.0]))), VE,
        "finite", needs_torch=True),
    err("group_rewards int dtype", "torch", tr(lambda torch, et: et.group_rewards(_ids(torch, 4), plug(4), dtype=torch.int32)),
        TE, "dtype", needs_torch=True),
    err("group_rewards_flat singleton group", "torch",
        tr(lambda torch, et: et.group_rewards_flat(torch.tensor([1, 2, 3]), torch.tensor([0, 0, 1]), plug(2))), VE,
        "at least 2", needs_torch=True),
    err("torch moments device='foo'", "torch",
        tr(lambda torch, et: __import__("estimators.torch.moments", fromlist=["x"]).moments(plug(4), [0.5], device="foo")),
        VE, "device", needs_torch=True),
    err("torch moments device='meta'", "torch",
        tr(lambda torch, et: __import__("estimators.torch.moments", fromlist=["x"]).moments(plug(4), [0.5], device="meta")),
        VE, "meta", needs_torch=True),
    err("torch moments float16", "torch",
        tr(lambda torch, et: __import__("estimators.torch.moments", fromlist=["x"]).moments(plug(4), [0.5], dtype=torch.float16)),
        TE, "dtype", needs_torch=True),
    *[err(f"torch monte_carlo {k}={v!r}", "torch",
          tr(lambda torch, et, k=k, v=v: __import__("estimators.torch.montecarlo", fromlist=["x"]).monte_carlo(
              plug(4), [0.5, 0.5], 100, **{"seed": 1, k: v})), BAD, m, needs_torch=True)
      for k, v, m in [("seed", -1, "seed"), ("min_expected", float("nan"), "min_expected"), ("device", "meta", "meta"),
                      ("device", "foo", "device")]],
    *[err(f"trl scale={s!r}", "torch", tr(lambda torch, et, s=s: et.trl_reward_function(plug(4), num_generations=4, scale=s)),
          BAD, "scale must be a finite real number", needs_torch=True) for s in [float("nan"), float("inf"), "x", True]],
    ok("trl scale=-0.5", "torch",
       tr(lambda torch, et: et.trl_reward_function(plug(4), num_generations=4, scale=-0.5, check_prompts=False)(
           completions=["a", "a", "b", "c"])),
       lambda r: np.allclose(r, [-0.5 * v for v in plug(4).values[[1, 1, 0, 0]]]), needs_torch=True),
    err("verl scale=nan", "torch", tr(lambda torch, et: et.add_group_rewards(None, plug(4), scale=float("nan"))), VE,
        "scale", needs_torch=True),
    err("leave_one_out_counts 1-D", "torch", tr(lambda torch, et: et.leave_one_out_counts(torch.tensor([1, 2]))), VE,
        "shape", needs_torch=True),
    # the command line: alft tables
    cli_err("tables --coeffs 1/0", TABLES + ["polynomial", "--method", "ustat", "--K", "4", "--coeffs", "1/0"],
            r"--coeffs entry 1 \('1/0'\) is division by zero"),
    cli_err("tables --coeffs 0,1e400", TABLES + ["polynomial", "--method", "ustat", "--K", "4", "--coeffs", "0,1e400"],
            "finite in float64"),
    cli_err("tables --coeffs 0,,1", TABLES + ["polynomial", "--method", "ustat", "--K", "4", "--coeffs", "0,,1"],
            r"--coeffs entry 2 \(''\) is not a rational number"),
    cli_err("tables --coeffs a", TABLES + ["polynomial", "--method", "ustat", "--K", "4", "--coeffs", "a"], "--coeffs"),
    cli_err("tables --coeffs missing", TABLES + ["polynomial", "--method", "ustat", "--K", "4"], "--coeffs is required"),
    cli_err("tables --rebuild aqp-frontier --rebuild-K 2-3", ["tables", "--rebuild", "aqp-frontier", "--rebuild-K", "2-3"],
            "holds none of the frontier's K"),
    cli_err("tables --rebuild aqp --processes 0", ["tables", "--rebuild", "aqp", "--processes", "0"],
            "--processes must be an integer >= 1"),
    cli_err("tables --coeffs with kl", TABLES + ["kl", "--method", "plugin", "--K", "4", "--coeffs", "1"], "--coeffs applies"),
    cli_err("tables --alpha missing", TABLES + ["power", "--method", "plugin", "--K", "4"], "--alpha is required"),
    cli_err("tables --alpha nan", TABLES + ["power", "--method", "plugin", "--K", "4", "--alpha", "nan"], "alpha must be"),
    cli_err("tables --alpha 1e400", TABLES + ["power", "--method", "plugin", "--K", "4", "--alpha", "1e400"], "alpha must be"),
    cli_err("tables --alpha with kl", TABLES + ["kl", "--method", "plugin", "--K", "4", "--alpha", "2"], "--alpha applies"),
    cli_err("tables --K 1", TABLES + ["kl", "--method", "plugin", "--K", "1"], r"K must be an integer in \[2, 65536\]"),
    cli_err("tables --K 70000", TABLES + ["kl", "--method", "plugin", "--K", "70000"], r"\[2, 65536\]"),
    cli_err("tables --K abc", TABLES + ["kl", "--method", "plugin", "--K", "abc"], "invalid int value"),
    cli_err("tables --generator nope", TABLES + ["nope", "--method", "plugin", "--K", "4"], "invalid choice"),
    cli_err("tables minimax --K 300", TABLES + ["kl", "--method", "minimax", "--K", "300"], r"\[2, 256\]"),
    cli_err("tables --param use_cache=maybe", TABLES + ["kl", "--method", "minimax", "--K", "4", "--param", "use_cache=maybe"],
            "use_cache must be True or False"),
    cli_ok("tables --param use_cache=False (issue: parsed as true)",
           TABLES + ["kl", "--method", "minimax", "--K", "4", "--param", "use_cache=False", "--format", "json"],
           lambda r: _json_K(r, 4)),
    cli_err("tables --param =3", TABLES + ["kl", "--method", "plugin", "--K", "4", "--param", "=3"], "NAME=VALUE"),
    cli_err("tables --param noequals", TABLES + ["kl", "--method", "plugin", "--K", "4", "--param", "x"], "NAME=VALUE"),
    cli_err("tables --param eps=0.1 (unknown)", TABLES + ["kl", "--method", "plugin", "--K", "4", "--param", "eps=0.1"],
            "unknown parameter"),
    cli_err("tables --param rel_tol=nan", TABLES + ["kl", "--method", "minimax", "--K", "4", "--param", "rel_tol=nan"],
            "rel_tol"),
    cli_err("tables --out a directory", TABLES + ["kl", "--method", "plugin", "--K", "4", "--out", "/tmp"], "is a directory"),
    cli_err("tables --out /", TABLES + ["kl", "--method", "plugin", "--K", "4", "--out", "/"], "must be a file path"),
    cli_err("tables --out missing parent", TABLES + ["kl", "--method", "plugin", "--K", "4", "--out", "/nonexistent-alft/t.json"],
            "does not exist"),
    # alft report: bad arguments are refused before any check runs
    cli_err("report --out /", ["report", "--profile", "quick", "--claims", "C1", "--out", "/"], "filesystem root"),
    cli_err("report --seed -1", ["report", "--profile", "quick", "--claims", "C1", "--seed", "-1", "--out", "/tmp/alft-x"],
            "seed must be a non-negative integer"),
    cli_err("report --claims C42", ["report", "--profile", "quick", "--claims", "C42", "--out", "/tmp/alft-x"],
            "claims must be among"),
    cli_err("report --profile huge", ["report", "--profile", "huge"], "invalid choice"),
    # alft crosscheck
    cli_err("crosscheck --device meta", ["crosscheck", "estimators.torch:group_rewards", "--device", "meta"], "--device 'meta'",
            needs_torch=True),
    cli_err("crosscheck --device foo", ["crosscheck", "estimators.torch:group_rewards", "--device", "foo"],
            "--device must be a torch device", needs_torch=True),
    cli_err("crosscheck --json a directory", ["crosscheck", "estimators.torch:group_rewards", "--json", "/tmp"],
            "--json '/tmp' is a directory"),
    cli_err("crosscheck --json missing parent", ["crosscheck", "estimators.torch:group_rewards", "--json", "/nonexistent-alft/x"],
            "does not exist"),
    cli_err("crosscheck --seed -1", ["crosscheck", "estimators.torch:group_rewards", "--seed", "-1"], "--seed must be"),
    cli_err("crosscheck kernel without colon", ["crosscheck", "estimators.torch"], "MODULE:FUNCTION", needs_torch=True),
    cli_err("crosscheck missing module", ["crosscheck", "no_such_module_alft:fn"], "cannot import", needs_torch=True),
    cli_err("crosscheck --max-examples 0", ["crosscheck", "estimators.torch:group_rewards", "--max-examples", "0"],
            "--max-examples", needs_torch=True),

    # -- issue 16: parse and work limits (each of these ran past 60 s) -------------------------------------
    err("coeffs=[0, '1e20000000'] (issue: hang)", "api", lambda: get_generator("polynomial", coeffs=[0, "1e20000000"]),
        VE, r"decimal exponent within \+-1000"),
    cli_err("tables --coeffs 0,1e20000000 (issue: hang)",
            TABLES + ["polynomial", "--method", "ustat", "--K", "4", "--coeffs", "0,1e20000000"],
            r"--coeffs entry 2 .* is too long"),
    err("moments exact p='1e-300000000' (issue: hang)", "api",
        lambda: moments(plug(4), ["1e-300000000"], engine="exact"), VE, r"p must be .*exponent within \+-1000"),
    err("monte_carlo n_groups=10**18 (issue: hang)", "api", lambda: monte_carlo(plug(4), [.5, .5], 10 ** 18, seed=1),
        VE, "max_samples"),
    cli_err("crosscheck --max-examples 1000000000 (issue: hang)",
            ["crosscheck", "estimators.torch:group_rewards", "--max-examples", "1000000000"],
            r"--max-examples must be an integer in \[1, 10000\]", needs_torch=True),
    err("coeffs=[0, Decimal('Infinity')] (issue: OverflowError traceback)", "api",
        lambda: get_generator("polynomial", coeffs=[0, Decimal("Infinity")]), VE, "coeffs"),
    # -- issue 16: numbers are numbers (each was silently accepted) ------------------------------------------
    err("moments p=['0.5'] (issue: accepted)", "api", lambda: moments(plug(4), ["0.5"]), TE,
        r"p must be .*the string '0.5'.*engine='exact'"),
    err("monte_carlo alpha='0.01' (issue: accepted)", "api",
        lambda: monte_carlo(plug(4), [.5, .5], 100, seed=1, alpha="0.01"), TE, "alpha must be"),
    err("aqp eps='10' (issue: accepted)", "api", lambda: build_table("kl", "aqp", 16, eps="10"), TE, "eps must be"),
    err("Table(values=['1', '2']) (issue: accepted)", "api",
        lambda: Table(values=["1", "2"], generator=get_generator("kl"), method="m"), TE, "values must be"),
    err("monte_carlo probs=[True, False] (issue: accepted)", "api",
        lambda: monte_carlo(plug(4), [True, False], 100, seed=1), TE, "probs must be"),
    err("moments p=[True, False] (issue: accepted)", "api", lambda: moments(plug(4), [True, False]), TE, "the bool"),
    # -- issue 16, a fresh sweep of the same kinds -----------------------------------------------------------
    *[err(f"coeffs entry {c!r} beyond the parse limits", "api",
          (lambda c=c: get_generator("polynomial", coeffs=[0, c])), VE, "at most 1000 digits")
      for c in [Decimal("1e20000000"), Decimal("1e-20000000"), "1" * 5000, "1/" + "3" * 2000, "1e" + "9" * 5000,
                "-1.5e-1001", "0." + "0" * 1500 + "1"]],
    *[err(f"coeffs entry {c!r} not a number", "api", (lambda c=c: get_generator("polynomial", coeffs=[0, c])), BAD,
          "coeffs entries") for c in [Decimal("NaN"), Decimal("-Infinity"), 1 + 2j, b"1", None, "1_0", "0x10", "inf"]],
    ok("coeffs ['3/10', '1.5e-7', Decimal('0.25')] read exactly", "api",
       lambda: get_generator("polynomial", coeffs=["3/10", "1.5e-7", Decimal("0.25")], of="reward"),
       lambda g: g.target_coeffs == (Fraction(3, 10), Fraction(3, 20000000), Fraction(1, 4))),
    cli_err("tables --coeffs 0,1e-20000000", TABLES + ["polynomial", "--method", "ustat", "--K", "4", "--coeffs",
                                                      "0,1e-20000000"], "too long"),
    cli_err("tables --coeffs 0,nan", TABLES + ["polynomial", "--method", "ustat", "--K", "4", "--coeffs", "0,nan"],
            "not a rational number"),
    cli_ok("tables --coeffs 0,0,1e2 (a bounded exponent is fine)",
           TABLES + ["polynomial", "--method", "ustat", "--K", "4", "--coeffs", "0,0,1e2", "--format", "json"],
           lambda r: _json_K(r, 4)),
    err("moments mpmath p='1e-300000000'", "api", lambda: moments(plug(4), ["1e-300000000"], engine="mpmath"), VE,
        "exponent within"),
    ok("moments exact p='3/10' is 3/10", "api", lambda: moments(plug(4), ["3/10"], engine="exact"),
       lambda m: m.p == [Fraction(3, 10)]),
    ok("moments mpmath p='0.3' (the README's form)", "api", lambda: moments(plug(4), ["0.3"], engine="mpmath", dps=60),
       lambda m: abs(float(m.p[0]) - 0.3) < 1e-15),
    err("moments exact p=Decimal('1e-20000000')", "api",
        lambda: moments(plug(4), [Decimal("1e-20000000")], engine="exact"), VE, "exponent within"),
    err("Table.from_dict reference '1e20000000'", "api",
        lambda: Table.from_dict(dict(ones_table(2).to_dict(), reference=["1e20000000", "1"], reference_dps=None)), VE,
        "reference entries"),
    err("torch monte_carlo n_groups=10**18", "torch",
        tr(lambda torch, et: __import__("estimators.torch.montecarlo", fromlist=["x"]).monte_carlo(
            plug(4), [.5, .5], 10 ** 18, seed=1)), VE, "max_samples", needs_torch=True),
    err("monte_carlo max_samples=0", "api", lambda: monte_carlo(plug(4), [.5, .5], 100, seed=1, max_samples=0), VE,
        "max_samples must be"),
    ok("monte_carlo beyond the default budget when max_samples is raised", "api",
       lambda: monte_carlo(plug(2), [.5, .5], 100, seed=1, max_samples=200), lambda r: r.n_groups == 100),
    err("crosscheck API max_examples=10**9", "torch",
        tr(lambda torch, et: __import__("proofs_numeric.crosscheck.harness", fromlist=["x"]).crosscheck(
            et.group_rewards, max_examples=10 ** 9)), VE, r"\[1, 10000\]", needs_torch=True),
    *[cli_err(f"crosscheck --case-timeout {v}", ["crosscheck", "estimators.torch:group_rewards", "--case-timeout", v],
              "--case-timeout must be") for v in ["0", "-1", "nan", "1e9"]],
    err("game steps=10**12 (work budget)", "api",
        lambda: __import__("proofs_numeric.game", fromlist=["x"]).RunConfig(K=4, step_size=1.0, steps=10 ** 12), VE,
        "work budget"),
    err("game seeds=10**9 (memory of one step)", "api",
        lambda: __import__("proofs_numeric.game", fromlist=["x"]).RunConfig(K=4, step_size=1.0, steps=3, seeds=10 ** 9),
        VE, "per step"),
    cli_err("game --steps 1000000000000", ["game", "--methods", "plugin", "--steps", "1000000000000", "--out",
                                           "/nonexistent-alft/g"], "work budget"),
    *[err(f"moments p={p!r}", "api", (lambda p=p: moments(plug(4), p)), TE, "p must be")
      for p in [[0.5, True], np.array([True]), [0.5 + 0j], [None], [b"0.5"], np.array(["0.5"]), [[0.5], [0.2, 0.3]]]],
    *[err(f"{what}={v!r}", "api", run, TE, what)
      for v in ["1", True, 1j]
      for what, run in [
          ("min_expected", lambda v=v: monte_carlo(plug(4), [.5, .5], 100, seed=1, min_expected=v)),
          ("rel_tol", lambda v=v: build_table("kl", "minimax", 8, rel_tol=v)),
          ("exact_mean", lambda v=v: mc_result().compare([v, 1.0], [1.0, 1.0])),
          ("alpha", lambda v=v: get_generator("power", alpha=v)),
      ]],
    err("check_rational_probability(True)", "api",
        lambda: __import__("estimators._validate", fromlist=["x"]).check_rational_probability(True), TE, "the bool"),
    err("Table(values=np.array([True, False]))", "api",
        lambda: Table(values=np.array([True, False]), generator=get_generator("kl"), method="m"), TE, "values must be"),
    err("Table(values=[1.0, 2j])", "api", lambda: Table(values=[1.0, 2j], generator=get_generator("kl"), method="m"),
        TE, "complex"),
    err("torch moments p=['0.5']", "torch",
        tr(lambda torch, et: __import__("estimators.torch.moments", fromlist=["x"]).moments(plug(4), ["0.5"])), TE,
        "p must be", needs_torch=True),
    err("torch monte_carlo probs=torch bool tensor", "torch",
        tr(lambda torch, et: __import__("estimators.torch.montecarlo", fromlist=["x"]).monte_carlo(
            plug(4), torch.tensor([True, False]), 100, seed=1)), TE, "probs must be", needs_torch=True),
    err("trl scale='1'", "torch", tr(lambda torch, et: et.trl_reward_function(plug(4), num_generations=4, scale="1")),
        TE, "scale must be", needs_torch=True),
    cli_err("crosscheck mod:f raising RuntimeError at import", ["crosscheck", "kernels_that_fail_at_import:f"],
            "importing it raised RuntimeError", needs_torch=True),
]


def _file_cases(tmp_path) -> list[Case]:
    """Cases that need files: a report directory of the user's, an existing file, a read-only directory."""
    user = tmp_path / "user"
    user.mkdir()
    (user / "results.json").write_text("{}")
    (user / "notes.txt").write_text("mine")
    afile = tmp_path / "afile"
    afile.write_text("x")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    existing = tmp_path / "t.json"
    existing.write_text("old")
    existing.chmod(0o644)
    cases = [
        cli_err("report --out a directory holding results.json and other files (issue: deleted them)",
                ["report", "--profile", "quick", "--claims", "C1", "--out", str(user)], "not written by alft report"),
        cli_err("report --out an existing file", ["report", "--profile", "quick", "--claims", "C1", "--out", str(afile)],
                "not a directory"),
        cli_ok("tables --out an existing 0644 file: replaced, mode kept",
               TABLES + ["kl", "--method", "plugin", "--K", "4", "--out", str(existing), "--format", "json"],
               lambda r: r[0] == 0 and json.loads(existing.read_text())["K"] == 4 and (existing.stat().st_mode & 0o777) == 0o644),
    ]
    if os.geteuid() != 0:  # root ignores permission bits: these need an ordinary user
        cases += [
            cli_err("tables --out in a read-only directory", TABLES + ["kl", "--method", "plugin", "--K", "4", "--out",
                                                                      str(ro / "t.json")], "not writable"),
            cli_err("report --out in a read-only directory", ["report", "--profile", "quick", "--claims", "C1", "--out",
                                                              str(ro / "r")], "not writable|cannot create"),
        ]
    return cases


def _file_cases_16(tmp_path) -> tuple[list[Case], Callable[[], None]]:
    """Issue 16: no command deletes or replaces what it did not create (one output rule for every writer);
    never a FIFO, a device or a read-only file. Returns the cases and a check that every file survived."""
    ro = tmp_path / "ro.json"
    ro.write_text("precious")
    ro.chmod(0o444)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "link-to-ro").symlink_to(ro)
    (tmp_path / "dangling").symlink_to(tmp_path / "target.json")
    mydocs = tmp_path / "mydocs"
    mydocs.mkdir()
    (mydocs / "thesis.tex").write_text("years of work")
    for sib in ("mydocs.old.99999", "mydocs.new.99998"):
        (tmp_path / sib).mkdir()
        (tmp_path / sib / "f").write_text(sib)
    afile = tmp_path / "afile"
    afile.write_text("x")
    aqpdir = tmp_path / "aqpdir"     # looks like an AQP data folder, but holds a file of the user's
    aqpdir.mkdir()
    (aqpdir / "manifest.json").write_text(json.dumps({"format": "alft-verify/aqp-tables"}))
    (aqpdir / "notes.txt").write_text("mine")
    results = tmp_path / "results.json"
    results.write_text("{}")
    out = ["--out"]
    kl = TABLES + ["kl", "--method", "plugin", "--K", "4"]
    rebuild = ["tables", "--rebuild", "aqp", "--rebuild-K", "2-2", "--processes", "1", "--data-dir"]
    game = ["game", "--K", "4", "--methods", "plugin", "--steps", "2", "--seeds", "2", "--groups", "1", "--out"]
    cases = [
        cli_err("tables --out a 0444 file (issue: overwritten)", kl + out + [str(ro)], "read-only file"),
        cli_err("tables --out a symlink to a 0444 file", kl + out + [str(tmp_path / "link-to-ro")], "read-only file"),
        cli_err("tables --out a FIFO", kl + out + [str(fifo)], "is a FIFO, not a regular file"),
        cli_err("tables --out /dev/null", kl + out + ["/dev/null"], "character device"),
        cli_err("tables --out a missing folder with a trailing slash", kl + out + [str(tmp_path / "newdir") + "/"],
                "must be a file path"),
        cli_ok("tables --out a dangling symlink writes the file it names", kl + out + [str(tmp_path / "dangling"),
                                                                                   "--format", "json"],
               lambda r: r[0] == 0 and json.loads((tmp_path / "target.json").read_text())["K"] == 4
               and (tmp_path / "dangling").is_symlink()),
        cli_err("crosscheck --json a FIFO", ["crosscheck", "estimators.torch:group_rewards", "--json", str(fifo)],
                "is a FIFO"),
        cli_err("tables --rebuild aqp --data-dir a folder of the user's (issue: deleted thesis.tex)",
                rebuild + [str(mydocs)], "not written by alft tables --rebuild"),
        cli_err("tables --rebuild aqp --data-dir a file (issue: moved aside)", rebuild + [str(afile)],
                "exists and is not a directory"),
        cli_err("tables --rebuild aqp --data-dir an AQP folder holding a file of the user's", rebuild + [str(aqpdir)],
                r"holds files alft tables --rebuild did not write \(notes.txt\)"),
        cli_err("tables --rebuild aqp-frontier --data-dir a folder of the user's",
                ["tables", "--rebuild", "aqp-frontier", "--rebuild-K", "4-4", "--data-dir", str(mydocs)],
                "not written by alft tables --rebuild"),
        cli_err("game --out / (issue 17: wrote there)", game + ["/"], "filesystem root"),
        cli_err("game --out a folder of the user's", game + [str(mydocs)], "not written by alft game"),
        cli_err("game --out a file", game + [str(afile)], "not a directory"),
        cli_err("game --out a FIFO", game + [str(fifo)], "not a directory"),
        cli_err("report --out a FIFO", ["report", "--profile", "quick", "--claims", "C1", "--out", str(fifo)],
                "not a directory"),
        cli_err("baseline --write --reference a folder of the user's",
                ["baseline", "--write", "--reference", str(mydocs), "--baseline", str(tmp_path / "b.json")],
                "--reference .* not written by alft report"),
        cli_err("baseline --write --baseline a FIFO", ["baseline", "--write", "--results", str(results), "--baseline",
                                                        str(fifo)], "is a FIFO"),
        cli_err("baseline --write --baseline a 0444 file", ["baseline", "--write", "--results", str(results),
                                                             "--baseline", str(ro)], "read-only file"),
        cli_err("baseline --write --baseline a file that is not a baseline",
                ["baseline", "--write", "--results", str(results), "--baseline", str(afile)],
                "not an alft-verify baseline"),
        cli_err("baseline --baseline a FIFO (issue: would block)", ["baseline", "--baseline", str(fifo), "--results",
                                                                     str(results)], "not a regular file"),
        cli_err("baseline --results a FIFO", ["baseline", "--baseline", "reports/baseline.json", "--results", str(fifo)],
                "not a regular file"),
    ]

    def survived():
        assert ro.read_text() == "precious" and (ro.stat().st_mode & 0o777) == 0o444
        assert (mydocs / "thesis.tex").read_text() == "years of work" and sorted(os.listdir(mydocs)) == ["thesis.tex"]
        for sib in ("mydocs.old.99999", "mydocs.new.99998"):
            assert (tmp_path / sib / "f").read_text() == sib
        assert afile.read_text() == "x" and (aqpdir / "notes.txt").read_text() == "mine"
        assert sorted(os.listdir(aqpdir)) == ["manifest.json", "notes.txt"]
        assert fifo.is_fifo() and not (tmp_path / "b.json").exists()
        assert not [n for n in os.listdir(tmp_path) if n.endswith(".partial")]
        assert not (tmp_path / "newdir").exists()
    return cases, survived


# -- the runner ---------------------------------------------------------------------------------------

class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang("no answer within 60 s")


def _run_case(case: Case, monkeypatch):
    if case.needs_torch:
        pytest.importorskip("torch")
    monkeypatch.delenv("ALFT_DEBUG", raising=False)
    COUNTS["inputs"] += 1
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(60)
    try:
        if case.error is not None:
            with pytest.raises(case.error) as info:
                case.run()
            msg = str(info.value)
            assert "Traceback" not in msg
            assert re.search(case.match, msg), f"message does not say {case.match!r}: {msg}"
            COUNTS["clear_errors"] += 1
        else:
            result = case.run()
            assert case.check(result), f"wrong result: {result!r:.300}"
            COUNTS["correct_results"] += 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("ALFT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "sweep-cache"))
    monkeypatch.delenv("ALFT_CACHE_DISABLE", raising=False)


@pytest.fixture(scope="module", autouse=True)
def _print_counts(request):
    yield
    line = (f"bad-input sweep (issues 11, 16): {COUNTS['inputs']} inputs tried, {COUNTS['clear_errors']} clear errors, "
            f"{COUNTS['correct_results']} correct results, "
            f"{COUNTS['inputs'] - COUNTS['clear_errors'] - COUNTS['correct_results']} otherwise")
    print_summary_line(request, line)


#: cases that take seconds (a subprocess, or the largest K inside the work limits): marked slow
SLOW_CASES = {"crosscheck mod:f raising RuntimeError at import", "crosscheck missing module",
              "ustat power alpha=4 K=65536 (within the work limit)", "group_rewards float32 overflow (minimax K=144)"}


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.surface}: {c.id}",
                                               marks=[pytest.mark.slow] if c.id in SLOW_CASES else [])
                                  for c in CASES])
def test_sweep(case, monkeypatch):
    _run_case(case, monkeypatch)


def test_sweep_with_files(tmp_path, monkeypatch):
    """The file cases (each is counted); the user's files survive every refused call."""
    for case in _file_cases(tmp_path):
        _run_case(case, monkeypatch)
    assert (tmp_path / "user" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "afile").read_text() == "x"


def test_sweep_issue16_files(tmp_path, monkeypatch):
    """Issue 16's output rule: each case is a clear error or a correct result, and every file survives."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])   # baseline's default paths are relative
    cases, survived = _file_cases_16(tmp_path)
    for case in cases:
        _run_case(case, monkeypatch)
    survived()


def test_sweep_covers_every_surface():
    assert {c.surface for c in CASES} == {"api", "torch", "cli"}
    assert SLOW_CASES <= {c.id for c in CASES}
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
    assert len(CASES) >= 150
