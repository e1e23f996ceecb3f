"""Regression baseline (``alft baseline``): comparison kinds, readable diffs, bad input, the committed files.

Everything here runs on small synthetic results documents or on the committed reference report;
the quick-profile end-to-end check lives in tests/test_report_quick.py.
"""
import copy
import json
from pathlib import Path

import pytest

from proofs_numeric.cli import main
from proofs_numeric.regression import FigureCheck, decimal, exact, interval, relative, table
from proofs_numeric.regression.baseline import (BASELINE_SCHEMA, build_baseline, compare, declared_checks,
                                                load_baseline, load_results, write_baseline)
from proofs_numeric.regression.spec import parse_path
from proofs_numeric.report.builder import RESULTS_SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "reports" / "baseline.json"
REFERENCE = ROOT / "reports" / "reference" / "results.json"

CHECKS = {"C9": (
    exact("count", "an integer"),
    decimal("per_K[*]/lower_str", "certified digits"),
    relative("per_K[*]/value", 1e-6, "a fitted figure"),
    relative("power_*/slope", 1e-9, "slopes of every target"),
    interval("mc[*]/mean_interval", "Monte Carlo"),
    table("Per-K table", "every cell"),
)}


def synthetic_results(**changes) -> dict:
    """A minimal results document (schema of this version) with one claim C9."""
    doc = {
        "schema": "alft-verify/results", "schema_version": RESULTS_SCHEMA_VERSION,
        "time_fields": ["generated_utc", "wall_seconds", "claims[*].seconds"],
        "generated_utc": "2026-01-01T00:00:00Z", "profile": "default", "seed": 7, "package_version": "0.1.0",
        "git_commit": "abc1234", "environment": {}, "wall_seconds": 1.0,
        "summary": {"status": "PASS", "passed": 1, "failed": 0, "skipped": 0},
        "claims": [{
            "id": "C9", "title": "synthetic", "status": "PASS", "summary": "", "seconds": 0.5,
            "figures": {
                "count": 42,
                "per_K": [{"K": 2, "lower_str": "0.0123", "value": 1.0}, {"K": 4, "lower_str": "0.00456", "value": 2.0}],
                "power_0.5": {"slope": -1.0}, "power_1.5": {"slope": -3.0}, "kl": {"slope": 9.0},
                "mc": [{"K": 3, "mean_interval": [0.10, 0.12]}],
            },
            "tables": [{"title": "Per-K table of things", "columns": ["K", "E"], "rows": [[2, "0.0123"], [4, "0.00456"]],
                        "detail": None, "csv": None}],
        }],
    }
    for path, value in changes.items():
        node = doc["claims"][0]
        keys = path.split("/")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        node[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    return doc


def diff_of(**changes):
    base = build_baseline(synthetic_results(), CHECKS)
    return compare(base, synthetic_results(**changes), CHECKS)


def test_unchanged_run_passes_and_every_declared_figure_is_compared():
    rep = diff_of()
    assert rep.passed and rep.differences == []
    # status + count + 2 decimals + 2 relatives + 2 power slopes (kl excluded by the pattern) + 1 interval + 1 table
    assert rep.compared == 10
    assert "PASS" in rep.render()


@pytest.mark.parametrize("change,figure,tolerance", [
    ({"figures/count": 43}, "count", "identical"),
    ({"figures/per_K/1/lower_str": "0.00457"}, "per_K[K=4]/lower_str", "identical digits"),
    ({"figures/per_K/0/value": 1.00001}, "per_K[K=2]/value", "relative 1e-06"),
    ({"figures/power_1.5/slope": -3.0000001}, "power_1.5/slope", "relative 1e-09"),
    ({"figures/mc/0/mean_interval": [0.125, 0.13]}, "mc[K=3]/mean_interval", "intervals overlap"),
    ({"tables/0/rows": [[2, "0.0123"], [4, "0.00457"]]}, "table:Per-K table row 2 (K=4), 'E'", "identical cells"),
    ({"status": "FAIL"}, "status", "identical"),
])
def test_a_moved_figure_or_table_entry_fails_with_a_readable_diff(change, figure, tolerance):
    rep = diff_of(**change)
    assert not rep.passed
    assert [(d.figure, d.tolerance) for d in rep.differences] == [(figure, tolerance)]
    text = rep.render()
    assert figure in text and tolerance in text and "alft baseline --write" in text
    # the diff shows baseline and current value side by side
    d = rep.differences[0]
    assert d.baseline != d.now


@pytest.mark.parametrize("change", [
    {"figures/per_K/0/value": 1.0000009},           # within the relative tolerance 1e-6
    {"figures/mc/0/mean_interval": [0.119, 0.14]},  # overlapping Monte Carlo interval
    {"figures/kl/slope": 123.0},                    # not declared: free to move
    {"seconds": 99.0},                              # a time field
])
def test_changes_within_tolerance_or_undeclared_pass(change):
    assert diff_of(**change).passed


def test_missing_and_new_figures_and_claims_are_differences():
    base = build_baseline(synthetic_results(), CHECKS)
    doc = synthetic_results()
    del doc["claims"][0]["figures"]["count"]
    rep = compare(base, doc, CHECKS)
    assert [(d.figure, d.now) for d in rep.differences] == [("count", "<missing>")]
    doc = synthetic_results()
    doc["claims"].append(dict(copy.deepcopy(doc["claims"][0]), id="C10"))
    rep = compare(base, doc, CHECKS)
    assert [(d.claim, d.baseline) for d in rep.differences] == [("C10", "(not in baseline)")]
    doc = synthetic_results()
    doc["claims"] = []
    assert [d.now for d in compare(base, doc, CHECKS).differences] == ["(missing from this run)"]


def test_a_declaration_that_points_nowhere_is_refused_when_writing():
    with pytest.raises(ValueError, match="C9 figure 'nowhere' .* not in the results"):
        build_baseline(synthetic_results(), {"C9": (exact("nowhere", "x"),)})
    with pytest.raises(ValueError, match="declared relative but is not a number"):
        build_baseline(synthetic_results(), {"C9": (relative("per_K[*]/lower_str", 1e-3, "x"),)})
    with pytest.raises(ValueError, match="declared an interval"):
        build_baseline(synthetic_results(), {"C9": (interval("count", "x"),)})


@pytest.mark.parametrize("kwargs,msg", [
    (dict(path="a", kind="fuzzy", why="w"), "kind must be one of"),
    (dict(path="a", kind="relative", why="w"), "tol must be a number in \\(0, 1\\)"),
    (dict(path="a", kind="relative", why="w", tol=2.0), "tol must be a number in \\(0, 1\\)"),
    (dict(path="a", kind="exact", why="w", tol=0.1), "tol applies only to kind 'relative'"),
    (dict(path="a", kind="exact", why=" "), "why must say why"),
    (dict(path="a//b", kind="exact", why="w"), "path segment"),
    (dict(path="a[0]", kind="exact", why="w"), "path segment"),
    (dict(path="/a", kind="exact", why="w"), "non-empty 'a/b\\[\\*\\]/c' figure path"),
])
def test_bad_declarations_are_clear_errors(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        FigureCheck(**kwargs)


def test_path_grammar():
    assert parse_path("per_K[*]/lower_str") == [("per_K", True), ("lower_str", False)]
    assert parse_path("power_*/ratio_bounds/*") == [("power_*", False), ("ratio_bounds", False), ("*", False)]
    assert parse_path("power_0.5/slope_E/slope")[0] == ("power_0.5", False)


def test_a_failing_run_cannot_become_the_baseline():
    doc = synthetic_results(status="FAIL")
    doc["summary"]["status"] = "FAIL"
    with pytest.raises(ValueError, match=r"must come from a passing report; claims \['C9'\] FAIL"):
        build_baseline(doc, CHECKS)


def test_profile_or_seed_mismatch_is_an_error_not_a_diff():
    base = build_baseline(synthetic_results(), CHECKS)
    doc = synthetic_results()
    doc["profile"] = "quick"
    with pytest.raises(ValueError, match="baseline is for profile 'default' but the results are for profile 'quick'"):
        compare(base, doc, CHECKS)


# -- files and the command line -------------------------------------------------------------

def _write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj))
    return path


@pytest.mark.parametrize("content,msg", [
    (None, "does not exist; regenerate it with `alft baseline --write`"),
    ("not json {", "is not JSON"),
    ({"schema": "something/else"}, "is not an alft-verify baseline"),
    ({"schema": BASELINE_SCHEMA, "schema_version": 999}, "has schema version 999, this alft-verify reads version 1"),
    ({"schema": BASELINE_SCHEMA, "schema_version": 1, "results_schema_version": 1},
     "written from results schema version 1"),
])
def test_missing_foreign_or_mismatched_baseline_is_a_clear_error(tmp_path, content, msg, capsys):
    path = tmp_path / "baseline.json"
    if isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        _write_json(path, content)
    results = _write_json(tmp_path / "results.json", synthetic_results())
    with pytest.raises(ValueError, match=msg):
        load_baseline(path)
    before = path.read_bytes() if path.exists() else None
    assert main(["baseline", "--baseline", str(path), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert "alft baseline: error:" in err and "alft baseline --write" in err
    assert (path.read_bytes() if path.exists() else None) == before  # nothing overwritten without --write


@pytest.mark.parametrize("doc,msg", [
    ({"schema": "alft-verify/results", "schema_version": 1, "claims": []}, "results schema version 1"),
    ({"schema": "other"}, "is not an alft-verify results document"),
])
def test_foreign_or_old_results_are_clear_errors(tmp_path, doc, msg):
    with pytest.raises(ValueError, match=msg):
        load_results(_write_json(tmp_path / "r.json", doc))


def test_cli_write_then_check(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("proofs_numeric.regression.baseline.declared_checks", lambda: CHECKS)
    results = _write_json(tmp_path / "results.json", synthetic_results())
    base = tmp_path / "baseline.json"
    assert main(["baseline", "--write", "--results", str(results), "--baseline", str(base)]) == 0
    first = base.read_bytes()
    assert main(["baseline", "--write", "--results", str(results), "--baseline", str(base)]) == 0
    assert base.read_bytes() == first  # same run, same file: no time fields stored
    capsys.readouterr()
    assert main(["baseline", "--results", str(results), "--baseline", str(base)]) == 0
    assert "PASS" in capsys.readouterr().out
    moved = _write_json(tmp_path / "moved.json", synthetic_results(**{"figures/per_K/1/lower_str": "0.00457"}))
    assert main(["baseline", "--results", str(moved), "--baseline", str(base)]) == 1
    out = capsys.readouterr().out
    assert "per_K[K=4]/lower_str" in out and "0.00456" in out and "0.00457" in out and "identical digits" in out
    assert base.read_bytes() == first  # the check never writes the baseline


def test_write_refuses_to_overwrite_a_file_that_is_not_a_baseline(tmp_path):
    keep = tmp_path / "notes.json"
    keep.write_text('{"precious": true}')
    with pytest.raises(ValueError, match="is not an alft-verify baseline; refusing to overwrite"):
        write_baseline(keep, build_baseline(synthetic_results(), CHECKS))
    assert json.loads(keep.read_text()) == {"precious": True}


def test_check_refuses_to_write_its_report_over_the_reference(tmp_path, capsys):
    base = tmp_path / "b.json"
    write_baseline(base, build_baseline(synthetic_results(), CHECKS))
    ref = tmp_path / "reference"
    assert main(["baseline", "--baseline", str(base), "--out", str(ref), "--reference", str(ref)]) == 2
    assert "is the committed reference report" in capsys.readouterr().err
    assert not ref.exists()


# -- the committed baseline and reference report ----------------------------------------------

def test_committed_baseline_matches_the_committed_reference_report_under_current_declarations():
    """The reference report's results.json passes the committed baseline with today's declarations, so a
    changed declaration (path, kind, tolerance) or a stale baseline shows up here, without running anything.
    Claims registered after the baseline was written (until ``alft baseline --write``) are left out."""
    base = load_baseline(BASELINE)
    results = load_results(REFERENCE)
    assert base["profile"] == results["profile"] == "default"
    results["claims"] = [c for c in results["claims"] if c["id"] in base["claims"]]
    rep = compare(base, results, declared_checks(), baseline_path=str(BASELINE))
    assert rep.passed, rep.render()
    assert results["summary"]["status"] == "PASS"


def _fake_report(doc):
    """Stand-in for run_report: writes a report directory holding ``doc`` and returns it."""
    def run(out, *, profile, seed, accept=None, **_):
        if accept is not None:   # run_report calls it before the finished report replaces ``out``
            accept(doc)
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(doc))
        (out / "index.html").write_text("<p>report</p>")
        return doc
    return run


def test_write_runs_the_report_then_replaces_reference_and_baseline_only_when_it_passes(tmp_path, monkeypatch):
    monkeypatch.setattr("proofs_numeric.regression.baseline.declared_checks", lambda: CHECKS)
    ref, base = tmp_path / "reference", tmp_path / "baseline.json"
    ref.mkdir()
    (ref / "results.json").write_text("{}")
    (ref / "index.html").write_text("old")
    from proofs_numeric.report.outdir import MARKER   # only a directory alft report wrote may be replaced
    (ref / MARKER).write_text(json.dumps({"schema": "alft-verify/report-dir"}))
    failing = synthetic_results(status="FAIL")
    failing["summary"]["status"] = "FAIL"
    monkeypatch.setattr("proofs_numeric.report.builder.run_report", _fake_report(failing))
    assert main(["baseline", "--write", "--reference", str(ref), "--baseline", str(base)]) == 2
    assert (ref / "index.html").read_text() == "old" and not base.exists()  # nothing replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference"]     # no staging directory left
    monkeypatch.setattr("proofs_numeric.report.builder.run_report", _fake_report(synthetic_results()))
    assert main(["baseline", "--write", "--reference", str(ref), "--baseline", str(base)]) == 0
    assert (ref / "index.html").read_text() == "<p>report</p>"
    assert load_baseline(base)["claims"]["C9"]["figures"]["count"] == {"kind": "exact", "value": 42}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json", "reference"]


def test_check_runs_the_baselines_profile_and_seed_and_reports_a_moved_figure(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("proofs_numeric.regression.baseline.declared_checks", lambda: CHECKS)
    base = tmp_path / "baseline.json"
    write_baseline(base, build_baseline(synthetic_results(), CHECKS))
    seen = {}

    def run(out, *, profile, seed, **_):
        seen.update(profile=profile, seed=seed)
        return _fake_report(synthetic_results(**{"figures/count": 41}))(out, profile=profile, seed=seed)
    monkeypatch.setattr("proofs_numeric.report.builder.run_report", run)
    assert main(["baseline", "--baseline", str(base), "--out", str(tmp_path / "regression")]) == 1
    assert seen == {"profile": "default", "seed": 7}
    out = capsys.readouterr().out
    assert "C9" in out and "count" in out and "42" in out and "41" in out
