"""The ``alft`` command line: ``tables`` export and ``report`` (quick profile)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from estimators import build_table
from proofs_numeric.cli import main
from proofs_numeric.report import run_report


def test_tables_json_has_the_documented_fields(capsys):
    assert main(["tables", "--generator", "power", "--alpha", "3", "--method", "ustat", "--K", "10",
                 "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("K", "generator", "method", "params", "values"):
        assert key in d
    assert d["K"] == 10 and len(d["values"]) == 10
    ref = build_table("power", "ustat", 10, generator_params={"alpha": 3}).values
    assert np.array_equal(np.array(d["values"]), ref)  # full float64 precision


def test_tables_polynomial_and_csv_to_file(tmp_path):
    out = tmp_path / "t.csv"
    assert main(["tables", "--generator", "polynomial", "--coeffs", "0,0,1/2", "--method", "ustat", "--K", "4",
                 "--format", "csv", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "count,value" and len(lines) == 5
    assert [float(x.split(",")[1]) for x in lines[1:]] == [0.0, 1 / 3, 2 / 3, 1.0]  # reward t: c/n


@pytest.mark.parametrize("argv,msg", [
    (["--generator", "kl", "--method", "plugin", "--K", "1"], "K must be an integer in [2,"),
    (["--generator", "power", "--method", "plugin", "--K", "4"], "--alpha is required"),
    (["--generator", "power", "--alpha", "1", "--method", "plugin", "--K", "4"], "alpha must be"),
    (["--generator", "kl", "--method", "ustat", "--K", "4"], "polynomial target"),
    (["--generator", "power", "--alpha", "5", "--method", "ustat", "--K", "3"], "K-1 = 2"),
    (["--generator", "kl", "--alpha", "2", "--method", "plugin", "--K", "4"], "--alpha applies only"),
])
def test_tables_bad_input_exit_2_with_a_clear_message(argv, msg, capsys):
    assert main(["tables", *argv]) == 2
    assert msg in capsys.readouterr().err


def test_unknown_method_is_an_argparse_error():
    with pytest.raises(SystemExit) as e:
        main(["tables", "--generator", "kl", "--method", "magic", "--K", "4"])
    assert e.value.code == 2


def test_report_replaces_itself_and_leaves_no_temporary_directories(tmp_path):
    out = tmp_path / "rep"
    run_report(out, profile="quick", claims=["C1"], log=lambda m: None)
    doc = run_report(out, profile="quick", claims=["C1"], seed=3, log=lambda m: None)
    assert json.loads((out / "results.json").read_text())["seed"] == 3 == doc["seed"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_report_refuses_to_overwrite_a_foreign_directory(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(ValueError, match="not written by alft report"):
        run_report(tmp_path, profile="quick", claims=["C1"], log=lambda m: None)
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_report_rejects_unknown_claims_and_profiles(tmp_path):
    with pytest.raises(ValueError, match="claims must be among"):
        run_report(tmp_path / "r", claims=["C42"])
    with pytest.raises(ValueError, match="profile must be one of"):
        run_report(tmp_path / "r", profile="huge")


@pytest.mark.slow
def test_console_script_entry_point(tmp_path):
    r = subprocess.run([sys.executable, "-m", "proofs_numeric.cli", "tables", "--generator", "kl", "--method",
                        "plugin", "--K", "3", "--format", "json"], capture_output=True, text=True, check=True)
    assert json.loads(r.stdout)["method"] == "plugin"


def test_profiles_have_the_same_parameters_and_shapes():
    """Static check of every claim's default (and full) profile against the quick one, which the tests run
    end to end: same parameter names, same kinds of values, K lists sorted. The default profile itself runs
    once, in ``tox -e regression`` / ``.ci/run`` (``alft baseline``)."""
    from proofs_numeric.claims import CLAIMS
    from proofs_numeric.report.builder import PROFILES
    for spec in CLAIMS:
        assert set(spec.profiles) == set(PROFILES), spec.id
        quick = spec.profiles["quick"]
        for name in ("default", "full"):
            prof = spec.profiles[name]
            assert set(prof) >= set(quick), (spec.id, name, set(quick) - set(prof))
            for key, q in quick.items():
                v = prof[key]
                assert isinstance(v, (list, tuple)) == isinstance(q, (list, tuple)), (spec.id, name, key)
                if isinstance(q, (int, float)) and not isinstance(q, bool):
                    assert isinstance(v, (int, float)) and not isinstance(v, bool), (spec.id, name, key)
                if key.startswith("K") and isinstance(v, (list, tuple)) and v and isinstance(v[0], int):
                    assert list(v) == sorted(set(v)) and v[0] >= 2, (spec.id, name, key)
            if "fit_K_min" in prof and "K" in prof:  # a slope or growth fit needs 3 points
                assert sum(K >= prof["fit_K_min"] for K in prof["K"]) >= 3, (spec.id, name)
            if "richardson_K0" in prof:  # Richardson needs K0, 2 K0, 4 K0
                assert {prof["richardson_K0"] * m for m in (1, 2, 4)} <= set(prof["K"]), (spec.id, name)
