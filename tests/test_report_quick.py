"""The report end to end on the quick profile: files, reproducibility, regression, what a browser gets.

Two quick-profile runs of every registered claim (module fixture, same seed; the first with the
per-session cache cold, the second warm) serve every test here. The default profile runs once,
in ``tox -e regression`` / ``.ci/run`` (``alft baseline``), not in the unit tests.
"""
import json
import re

import pytest

from proofs_numeric.claims import CLAIMS, claim_ids
from proofs_numeric.regression.baseline import build_baseline, compare
from proofs_numeric.report import run_report
from proofs_numeric.report.builder import RESULTS_SCHEMA_VERSION, TIME_FIELDS

SEED = 12345


#: every test here reads the module's two report runs (about a minute on two cores)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("quick")
    docs = [run_report(root / name, profile="quick", seed=SEED, log=lambda m: None) for name in ("a", "b")]
    return root, docs


def _without_time_fields(doc: dict) -> dict:
    assert doc["time_fields"] == list(TIME_FIELDS) == ["generated_utc", "wall_seconds", "claims[*].seconds"]
    out = {k: v for k, v in doc.items() if k not in ("generated_utc", "wall_seconds")}
    out["claims"] = [{k: v for k, v in c.items() if k != "seconds"} for c in doc["claims"]]
    return out


def test_quick_profile_runs_every_registered_claim_and_passes(two_runs):
    _, (doc, _) = two_runs
    assert [c["id"] for c in doc["claims"]] == claim_ids()
    failed = {c["id"]: c["summary"] for c in doc["claims"] if c["status"] == "FAIL"}
    assert not failed


def test_same_seed_and_profile_give_identical_results_except_time_fields(two_runs):
    root, (a, b) = two_runs
    on_disk = [json.loads((root / n / "results.json").read_text()) for n in ("a", "b")]
    assert on_disk[0] == a and on_disk[1] == b
    assert _without_time_fields(a) == _without_time_fields(b)
    assert a["wall_seconds"] > 0 and all(c["seconds"] >= 0 for c in a["claims"])
    # the plots are byte-identical too (no timestamps in the PNGs)
    for c in a["claims"]:
        for p in c["plots"]:
            assert (root / "a" / p).read_bytes() == (root / "b" / p).read_bytes(), p


def test_report_directory_holds_everything_the_page_links(two_runs):
    root, (doc, _) = two_runs
    out = root / "a"
    assert doc["schema_version"] == RESULTS_SCHEMA_VERSION
    for c in doc["claims"]:
        assert {"id", "status", "figures", "accuracy", "summary", "seconds", "key_figure", "plot_alt"} <= set(c)
        for plot in c["plots"]:
            assert (out / plot).stat().st_size > 1000
            assert len(c["plot_alt"][plot]) > 40 and plot not in c["plot_alt"][plot]  # described, not named
        for t in c["tables"]:
            if t["csv"]:
                lines = (out / t["csv"]).read_text().splitlines()
                assert len(lines) == 1 + len((t["detail"] or t)["rows"])
    html = (out / "index.html").read_text()
    md = (out / "index.md").read_text()
    linked = set(re.findall(r"(?:src|href)='([^'#]+)'", html)) - {"results.json"}
    assert linked and all((out / name).exists() for name in linked)
    for c in doc["claims"]:
        assert f"## {c['id']}" in md and f"id='{c['id'].lower()}'" in html


def test_every_declared_claim_has_a_key_figure_in_the_summary(two_runs):
    _, (doc, _) = two_runs
    by_id = {c["id"]: c for c in doc["claims"]}
    for spec in CLAIMS:
        if spec.key_figure is not None and by_id[spec.id]["status"] != "SKIP":
            kf = by_id[spec.id]["key_figure"]
            assert kf and kf["label"] == spec.key_figure.label and kf["text"], spec.id


def test_c1_long_table_is_condensed_with_the_full_rows_beside_it(two_runs):
    _, (doc, _) = two_runs
    c1 = next(c for c in doc["claims"] if c["id"] == "C1")
    t = c1["tables"][0]
    full = t["detail"]["rows"]
    assert len(t["rows"]) < len(full) == len(c1["figures"]["per_K"])
    # the ranges cover every K exactly once, and each condensed row agrees with the rows it stands for
    covered = []
    for label, tried, verdict, _deg in t["rows"]:
        a, _, b = str(label).partition("–")
        ks = range(int(a), int(b or a) + 1)
        covered += ks
        assert all(r[1] == tried and (verdict == "all") == (r[2] == r[1]) for r in full if r[0] in ks)
    assert covered == [r[0] for r in full]


def test_html_reads_well_in_a_browser(two_runs):
    root, (doc, _) = two_runs
    html = (root / "a" / "index.html").read_text()
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in html
    assert "overflow-x:auto" in html and "max-width:100%" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html  # offline
    text = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    text = re.sub(r"<style>.*?</style>", "", text, flags=re.S)
    alts = re.findall(r" alt='([^']*)'", text)
    assert alts and not any("^2" in a or "omega" in a for a in alts)  # plain Unicode: K², ω
    text = re.sub(r" alt='[^']*'", "", text)
    for ascii_math in ("Theta(", "omega^", "K^2", "E*_K", "&lt;=", "&gt;=", "+-", "alpha="):
        assert ascii_math not in text, ascii_math
    assert "Θ(1/K<sup>2</sup>)" in text and "ω<sup>2</sup><sub>φ</sub>" in text
    assert not re.search(r"(?<![\w*])\*[A-Za-z][^*<>]*\*(?![\w*])", text)  # no raw Markdown emphasis
    for c in doc["claims"]:
        for p in c["plots"]:
            alt = re.search(rf"<img src='{re.escape(p)}' alt='([^']*)'", html).group(1)
            assert alt != p and len(alt) > 40


def test_regression_passes_across_two_runs_and_fails_when_a_figure_or_table_entry_moves(two_runs):
    _, (a, b) = two_runs
    base = build_baseline(a)
    assert compare(base, b).passed  # a second run of the same configuration: nothing moves
    c3 = next(i for i, c in enumerate(b["claims"]) if c["id"] == "C3")
    moved = json.loads(json.dumps(b))
    moved["claims"][c3]["tables"][0]["rows"][2][1] = "0.1"
    rep = compare(base, moved)
    assert [d.claim for d in rep.differences] == ["C3"] and "table:Certified E*_K row 3" in rep.differences[0].figure
    moved = json.loads(json.dumps(b))
    moved["claims"][c3]["figures"]["constant"]["estimate"] *= 1 + 1e-8
    rep = compare(base, moved)
    assert [d.figure for d in rep.differences] == ["constant/estimate"]
    assert "relative 1e-10" in rep.render()


# -- the framework on every registered claim (issue 19) ---------------------------------------------------

SUMMARY_WORDS_MAX = 150   # the aim is ~120 words; a summary above 150 fails


def test_every_claim_states_its_claim_criteria_verdict_and_key_figure_accuracy(two_runs):
    from proofs_numeric.criteria import Criterion, verdict
    _, (doc, _) = two_runs
    for c in doc["claims"]:
        if c["status"] == "SKIP":
            continue
        assert c["statement"] and len(c["statement"].split()) <= 60, c["id"]
        assert c["criteria"], f"{c['id']} declares no pass criteria (proofs_numeric/criteria.py, docs/report.md)"
        assert c["status"] == verdict([Criterion(**k) for k in c["criteria"]]), c["id"]
        assert all(k["requirement"] and k["measured"] for k in c["criteria"]), c["id"]
        assert len(c["summary"].split()) <= SUMMARY_WORDS_MAX, (c["id"], len(c["summary"].split()))
        assert c["key_figure"] and c["key_figure"]["accuracy"], c["id"]
        assert set(c["plots"]) <= set(c["captions"]), f"{c['id']}: a plot without a caption stating its finding"


def test_no_code_key_is_used_as_a_label(two_runs):
    from test_report_framework import code_labels
    _, (doc, _) = two_runs
    bad = {c["id"]: code_labels(c) for c in doc["claims"]}
    assert not any(bad.values()), bad


def test_page_prose_has_no_code_names(two_runs):
    """Outside code spans, links to files and attributes the page shows no snake_case identifiers, module
    paths or ASCII maths such as K*sup (method names are words: plug-in, AQP(ε = 10), decoupled RLOO)."""
    from test_report_framework import CODE_LABEL
    root, _ = two_runs
    html = (root / "a" / "index.html").read_text()
    text = re.sub(r"<(code|style|a)\b[^>]*>.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    found = sorted(set(m.group(0) for m in CODE_LABEL.finditer(text)) - {"x86_64"})   # an architecture's name
    assert not found, found
    for ascii_math in ("K*sup", "p * bias", "B_stored", "rloo_decoupled", "eps="):
        assert ascii_math not in text, ascii_math


def test_csv_names_do_not_repeat_the_claim_id(two_runs):
    _, (doc, _) = two_runs
    names = [t["csv"] for c in doc["claims"] for t in c["tables"] if t["csv"]]
    assert names and not any(re.match(r"(c\d)_\1_", n) for n in names), names
