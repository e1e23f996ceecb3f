"""Claim C8: `alft crosscheck` passes the project's kernels and fails deliberately wrong ones."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _torch_common import DEVICES, torch  # noqa: F401
import kernels_for_crosscheck as kc
from estimators.torch import group_rewards
from proofs_numeric.crosscheck.harness import crosscheck, load_kernel
from proofs_numeric.crosscheck.kernels import dense_kernel, flat_kernel
from proofs_numeric.cli import main

TESTS = Path(__file__).parent


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("fn", [group_rewards, dense_kernel, flat_kernel, kc.good], ids=lambda f: f.__name__)
def test_c8_project_kernels_conform(device, fn):
    rep = crosscheck(fn, device=device, max_examples=60)
    assert rep.passed, rep.format()
    assert rep.counts_exact and rep.first_failure is None
    assert max(rep.max_abs_err.values()) == 0.0  # a gather of float64 entries is exact
    if fn in (group_rewards, dense_kernel):
        assert rep.mask_checked


@pytest.mark.slow
@pytest.mark.parametrize("fn, reason", [
    (kc.off_by_one, "counts"), (kc.overflowing_key, "counts"), (kc.batch_wide_counts, "counts"),
    (kc.ignores_table, "probe"), (kc.wrong_shape, "shape"),
])
def test_c8_wrong_kernels_fail_with_a_shrunk_input(fn, reason):
    rep = crosscheck(fn, max_examples=60)
    assert not rep.passed
    f = rep.first_failure
    assert f is not None and reason in f["reason"]
    text = rep.format()
    assert "FAIL" in text and "first failing input" in text
    if f["shrunk"]:  # hypothesis shrinks to a tiny batch
        assert len(f["ids"]) * len(f["ids"][0]) <= 16, f


def test_c8_overflow_is_caught_by_the_large_id_edge_cases():
    rep = crosscheck(kc.overflowing_key, max_examples=5)
    assert any("int64" in x or "large ids" in x or "huge range" in x for x in rep.failing_edge_cases)


@pytest.mark.slow
def test_c8_cli_exit_status_and_report(capsys, tmp_path):
    out = tmp_path / "rep.json"
    assert main(["crosscheck", "estimators.torch:group_rewards", "--max-examples", "30", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "PASS" in text and "max abs error" in text
    assert json.loads(out.read_text())["passed"] is True
    assert main(["crosscheck", "kernels_for_crosscheck:off_by_one", "--max-examples", "30"]) == 1
    text = capsys.readouterr().out
    assert "FAIL" in text and "first failing input" in text
    assert main(["crosscheck", "no_such_module_xyz:fn"]) == 2
    assert main(["crosscheck", "estimators.torch"]) == 2
    assert main(["crosscheck", "kernels_for_crosscheck:nope"]) == 2


@pytest.mark.slow
def test_c8_cli_subprocess_runs_a_users_module_from_the_current_directory(tmp_path):
    (tmp_path / "mykernel.py").write_text(
        "import torch\n"
        "def rewards(ids, table):\n"
        "    return table[(ids.unsqueeze(2) == ids.unsqueeze(1)).sum(2) - 1]\n")
    env = dict(os.environ, HYPOTHESIS_PROFILE="ci")
    cmd = [sys.executable, "-m", "proofs_numeric.cli", "crosscheck", "mykernel:rewards", "--max-examples", "20"]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "PASS" in res.stdout


def test_c8_load_kernel_errors():
    with pytest.raises(ValueError, match="MODULE:FUNCTION"):
        load_kernel("estimators")
    assert load_kernel("proofs_numeric.crosscheck.kernels:flat_kernel") is flat_kernel


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path of the CUDA script")
def test_c8_cuda_script_reports_a_missing_gpu():
    script = TESTS.parent / "scripts" / "cuda_crosscheck.py"
    res = subprocess.run([sys.executable, str(script), "--require-cuda"], capture_output=True, text=True)
    assert res.returncode == 3 and "CUDA available: False" in res.stdout


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine the script itself runs for real")
def test_c8_cuda_script_dry_run_writes_its_record(tmp_path):
    """The GPU script's steps run here on the CPU (the timed steps on small sizes with --dry-run): each
    step's verdict and figures land in three files, written after every step."""
    script = TESTS.parent / "scripts" / "cuda_crosscheck.py"
    out = tmp_path / "cuda"
    res = subprocess.run([sys.executable, str(script), "--out", str(out), "--steps", "crosscheck,graph,bench,engines",
                          "--dry-run", "--max-examples", "5", "--scale-seconds", "2", "--commit", "abc123"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["cuda_log.txt", "cuda_record.json", "cuda_record.md"]
    rec = json.loads((out / "cuda_record.json").read_text())
    assert rec["commit"] == "abc123" and rec["verdict"] == "PASS" and rec["steps_not_run"] == []
    steps = {s["step"]: s for s in rec["steps"]}
    assert [k["verdict"] for k in steps["crosscheck"]["figures"]["kernels"]] == ["PASS"] * 5 + ["FAIL"]
    assert steps["graph"]["verdict"] == "SKIP"  # CUDA graphs need CUDA
    rows = steps["bench"]["figures"]["rows"]
    assert [(r["B"], r["K"]) for r in rows] == [(32, 16), (512, 16), (64, 256)]
    assert all(all(r["bit_identical"].values()) for r in rows)
    scale = steps["engines"]["figures"]["at_scale"]
    assert scale["all_within"] and scale["groups"] >= 2
    assert "| bench | PASS |" in (out / "cuda_record.md").read_text()
    assert "C8 on cpu: PASS" in res.stdout


def test_c8_crosscheck_checks_every_registered_method_including_aqp():
    """Issue 16: AQP tables were skipped silently (they need eps); now every method has a table for each group
    size of the cases, and a method without one would be named in the report's notes."""
    from estimators.methods import METHODS
    from proofs_numeric.crosscheck.harness import SKIPPED_TABLES, method_tables
    for k in (2, 5, 8, 16, 65, 100):
        kinds = {kind.split(":")[1].split("/")[0] for kind, _ in method_tables(k)}
        assert kinds == set(METHODS), (k, set(METHODS) - kinds)
    assert not SKIPPED_TABLES
    rep = crosscheck(kc.good, max_examples=5)
    assert rep.passed and not [n for n in rep.notes if "table was checked" in n]
