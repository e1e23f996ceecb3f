"""C7 bad input (issue 17): ``alft game`` and ``alft recommend`` end in a clear error or a correct answer.

Each case runs the command line in process and must finish under a 60 s alarm (a guard against hangs,
not a timing measurement): exit status 2 with a one-line message naming the parameter, or exit 0 with
the correct figures.
"""
from __future__ import annotations

import io
import json
import signal
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

from proofs_numeric.cli import main


def _cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = main(list(argv))
        except SystemExit as exc:
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _alarm():
    def hang(*_):
        raise TimeoutError("no answer within 60 s")
    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


ERRORS = [
    (["game", "--exact", "--K", "4096", "--method", "plugin"], r"K must be an integer in \[2, 1024\]"),
    (["game", "--exact", "--K", "65536", "--method", "plugin"], r"K must be an integer in \[2, 1024\]"),
    (["game", "--exact", "--beta", "1e-300"], r"beta = 1e-300 is too small"),
    (["game", "--exact", "--beta", "1e300"], r"beta = 1e\+300 is too large"),
    (["game", "--exact", "--rewards", "1e308,-1e308"], r"rewards must have \|r\| <= 1e\+12"),
    (["game", "--steps", "1000000000000"], r"exceeds the work budget of one run"),
    (["game", "--seeds", "1000000000"], r"sampled answers per step exceeds"),
    (["game", "--methods", "foo"], r"--methods must be comma-separated names from .*'foo' unknown"),
    (["game", "--methods", "plugin,foo"], r"'foo' unknown"),
    (["game", "--exact", "--method", "foo"], r"'foo' unknown"),
    (["game", "--K", "8", "--methods", "aqp", "--steps", "5"], r"--methods aqp cannot be built at K = 8.*eps"),
    (["game", "--exact", "--initial-probabilities", "0.5,0.5,0,0,0"], r"initial_probabilities\[2\] must be"),
    (["game", "--exact", "--initial-probabilities", "0.5,0.5"], r"one probability per answer \(5\)"),
    (["game", "--exact", "--game", "default", "--answers", "30"], r"shape the longtail game"),
    (["game", "--exact", "--game", "longtail", "--answers", "1"], r"answers must be an integer in \[2, 1000\]"),
    (["game", "--exact", "--game", "longtail", "--tiny", "30"], r"tiny must be an integer in \[0, answers - 1\]"),
    (["game", "--tune", "--horizons", "0"], r"horizons must be integers >= 1"),
    (["game", "--processes", "0", "--steps", "2", "--seeds", "2"], r"--processes must be an integer >= 1"),
    (["recommend", "--K", "1", "--horizon", "100"], r"K must be an integer in \[2, 256\]"),
    (["recommend", "--K", "100000", "--horizon", "100"], r"K must be an integer in \[2, 256\]"),
    (["recommend", "--K", "8", "--horizon", "0"], r"horizon must be an integer in \[1, 10000\]"),
    (["recommend", "--K", "8", "--horizon", "100000000"], r"horizon must be an integer in \[1, 10000\]"),
    (["recommend", "--K", "2", "--horizon", "100", "--advantage", "rloo"], r"K = 2 under the rloo advantage"),
    (["recommend", "--K", "8", "--horizon", "100", "--groups", "0"], r"--groups must be an integer in \[1, 4096\]"),
    (["recommend", "--K", "8", "--horizon", "100", "--beta", "1e-300"], r"beta = 1e-300 is too small"),
]


@pytest.mark.parametrize("argv,match", ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_clear_errors(argv, match):
    import re
    rc, out, err = _cli(argv)
    assert rc == 2, (rc, out[-300:], err[-300:])
    assert "Traceback" not in err and re.search(match, err), err


@pytest.mark.slow
def test_huge_K_stochastic_run_answers_within_seconds(tmp_path):
    """K = 65536, 2 steps, 2 seeds, 1 group: a stochastic answer (the exact figures are skipped with the reason)."""
    rc, out, err = _cli(["game", "--K", "65536", "--methods", "plugin", "--steps", "2", "--seeds", "2", "--groups",
                         "1", "--format", "json", "--out", str(tmp_path / "g")])
    assert rc == 0, err[-500:]
    d = json.loads(out)
    (row,) = d["per_method_K"]
    assert row["K"] == 65536 and 0 < row["final_tv_mean"] < 1 and "exact_fixed_point_tv" not in row
    assert any("K = 1024" in s["reason"] for s in d["skipped"])


@pytest.mark.parametrize("beta", ["1e-10", "1e-9", "1e-4", "1e4", "1e8", "1e10"])
def test_extreme_beta_exact_answers(beta):
    """Tiny beta: p* and the plug-in's fixed point are the best answer's vertex; huge beta: both uniform."""
    rc, out, err = _cli(["game", "--exact", "--K", "8", "--method", "plugin", "--beta", beta, "--format", "json"])
    assert rc == 0, err[-500:]
    d = json.loads(out)
    fp, ps = np.array(d["fixed_points"][0]), np.array(d["p_star"])
    if float(beta) < 1:
        assert np.allclose(ps, [1, 0, 0, 0, 0], atol=1e-12) and np.allclose(fp, [1, 0, 0, 0, 0], atol=1e-9)
    else:
        assert np.allclose(ps, 0.2, atol=1e-4) and np.allclose(fp, 0.2, atol=1e-4)
    assert d["details"][0]["kkt_residual"] <= 1e-9 * max(1.0, float(beta))


@pytest.mark.slow
def test_exact_fixed_points_at_K_1024_use_the_overflow_free_evaluator():
    """From K = 1031 the binomial coefficients overflow float64; the evaluator works in log space."""
    rc, out, err = _cli(["game", "--exact", "--K", "1024", "--method", "plugin", "--format", "json"])
    assert rc == 0, err[-500:]
    d = json.loads(out)
    assert 0 < d["tv"][0] < 0.01 and d["details"][0]["kkt_residual"] < 1e-9
