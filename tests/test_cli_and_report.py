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


def test_report_quick_writes_everything(tmp_path):
    out = tmp_path / "rep"
    doc = run_report(out, profile="quick", claims=["C1", "C2"], log=lambda m: None)
    assert doc["summary"]["status"] == "PASS"
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["schema_version"] == 1
    assert [c["id"] for c in on_disk["claims"]] == ["C1", "C2"]
    for c in on_disk["claims"]:
        assert {"id", "status", "figures", "accuracy", "summary"} <= set(c)
    c2 = on_disk["claims"][1]["figures"]
    assert -1.2 < c2["slope_fit_lower"]["slope"] < -0.8
    md = (out / "index.md").read_text()
    assert "## C1" in md and "## C2" in md
    for c in on_disk["claims"]:
        for plot in c["plots"]:
            assert (out / plot).stat().st_size > 1000
    assert (out / "index.html").exists()
    # a second run replaces the report in place; no temporary directories are left behind
    run_report(out, profile="quick", claims=["C1"], log=lambda m: None)
    assert [c["id"] for c in json.loads((out / "results.json").read_text())["claims"]] == ["C1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_report_refuses_to_overwrite_a_foreign_directory(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(ValueError, match="not an alft report directory"):
        run_report(tmp_path, profile="quick", claims=["C1"], log=lambda m: None)
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_report_rejects_unknown_claims_and_profiles(tmp_path):
    with pytest.raises(ValueError, match="claims must be among"):
        run_report(tmp_path / "r", claims=["C42"])
    with pytest.raises(ValueError, match="profile must be one of"):
        run_report(tmp_path / "r", profile="huge")


def test_console_script_entry_point(tmp_path):
    r = subprocess.run([sys.executable, "-m", "proofs_numeric.cli", "tables", "--generator", "kl", "--method",
                        "plugin", "--K", "3", "--format", "json"], capture_output=True, text=True, check=True)
    assert json.loads(r.stdout)["method"] == "plugin"


def test_report_quick_profile_runs_every_registered_claim(tmp_path):
    from proofs_numeric.claims import claim_ids
    doc = run_report(tmp_path / "all", profile="quick", log=lambda m: None)
    assert [c["id"] for c in doc["claims"]] == claim_ids()
    failed = {c["id"]: c["summary"] for c in doc["claims"] if c["status"] == "FAIL"}
    assert not failed


@pytest.mark.slow
def test_default_profile_report_passes(tmp_path):
    """The main job (``alft report`` with its default configuration, ~2 minutes) passes every claim."""
    doc = run_report(tmp_path / "default", profile="default", log=lambda m: None)
    failed = {c["id"]: c["summary"] for c in doc["claims"] if c["status"] != "PASS"}
    assert not failed
