"""The report framework without running a claim: pass criteria and the verdict they decide, words instead of
code names, the glossary, the GPU record, and the rendered page's structure (on a synthetic document)."""
import copy
import json
import math
import re

import pytest

from proofs_numeric.criteria import Criterion, Tally, at_least, at_most, every, holds, num, verdict, within
from proofs_numeric.report.cuda_record import figure_text, load_record, normalize, record_verdict, validate_record
from proofs_numeric.report.glossary import GLOSSARY, TermLinker, anchor
from proofs_numeric.report.render import render_html, render_markdown
from proofs_numeric.result import FAIL, PASS, ClaimResult, ClaimSpec, RunContext
from proofs_numeric.vocabulary import method_label, words

# -- criteria ---------------------------------------------------------------------------------------------

CRITERIA_CASES = [
    # (criterion, met, text the requirement must show, text the measurement must show)
    (within("rate", "slope", -0.99, (-1.1, -0.9)), True, "must lie in [-1.1, -0.9]", "-0.99"),
    (within("rate", "slope", -1.2, (-1.1, -0.9)), False, "[-1.1, -0.9]", "-1.2"),
    (within("rate", "slope", {"lower": -1.0, "upper": -0.5}, (-1.1, -0.9)), False, "[-1.1, -0.9]", "upper -0.5"),
    (within("rate", "slope", math.nan, (-1.1, -0.9)), False, "[-1.1, -0.9]", "nan"),
    (at_most("width", "bracket width", 1e-25, 1e-9), True, "must be <= 1e-9", "1e-25"),
    (at_most("width", "bracket width", 2e-9, 1e-9), False, "<= 1e-9", "2e-09"),
    (at_most("width", "bracket width", 1e-9, 1e-9, strict=True), False, "must be < 1e-9", ""),
    (at_least("positive", "bound", 0.0, 0.0, strict=True), False, "must be > 0", "0"),
    (at_least("positive", "bound", 3e-6, 0.0, strict=True), True, "> 0", "3e-06"),
    (every("mc", "each interval contains the mean", 5, 5), True, "each interval", "5 of 5 hold"),
    (every("mc", "each interval contains the mean", 4, 5, failures=["K=8"]), False, "each interval", "K=8"),
    (every("mc", "each interval contains the mean", 0, 0), False, "each interval", "0 of 0"),
    (holds("theorem", "exact identity", True, "yes"), True, "exact identity", "yes"),
]


@pytest.mark.parametrize("crit,met,requirement,measured", CRITERIA_CASES)
def test_criteria_state_their_numbers_and_decide_correctly(crit, met, requirement, measured):
    assert crit.met is met
    assert requirement in crit.requirement and measured in crit.measured
    assert set(crit.to_json()) == {"name", "requirement", "measured", "met"}


def test_num_writes_constants_as_a_reader_does():
    assert [num(x) for x in (-1.1, 0.001, 1e-9, 2.0, 5, 2e-4, 1e-12)] == ["-1.1", "0.001", "1e-9", "2", "5", "0.0002",
                                                                        "1e-12"]


def test_verdict_needs_at_least_one_criterion_and_all_met():
    ok, bad = holds("a", "a", True, "yes"), holds("b", "b", False, "no")
    assert verdict([ok]) == PASS and verdict([ok, bad]) == FAIL and verdict([]) == FAIL


def test_tally_counts_cases_and_quotes_failures():
    t = Tally()
    for k in range(4):
        t.check("shipped", k != 2, f"K={k}: gap too wide")
    t.fail("dual", "K=8: no bracket")
    c = t.criterion("shipped", "shipped tables", "each table re-verifies")
    assert not c.met and c.measured.startswith("3 of 4 hold") and "K=2: gap too wide" in c.measured
    assert t.failures() == ["K=2: gap too wide", "K=8: no bracket"]


def _spec(status, criteria, summary="did it"):
    def run(params, ctx):
        return ClaimResult(id="C0", title="test", status=status, summary=summary, criteria=list(criteria))
    return ClaimSpec(id="C0", title="test", run=run, profiles={"quick": {}})


def test_a_status_the_criteria_contradict_becomes_a_fail_with_a_note():
    res = _spec(PASS, [holds("rate", "slope in range", False, "-1.5")]).execute("quick", RunContext(log=lambda m: None))
    assert res.status == FAIL
    assert any("pass criteria give FAIL" in n for n in res.notes)
    assert res.summary.startswith("FAILED: rate: -1.5.")


def test_a_consistent_verdict_is_kept():
    res = _spec(PASS, [holds("rate", "slope in range", True, "-1.0")]).execute("quick", RunContext(log=lambda m: None))
    assert res.status == PASS and res.summary == "did it" and not res.notes


# -- words, not code -------------------------------------------------------------------------------------

def test_method_and_baseline_names_read_as_words():
    assert method_label("aqp(eps=10)") == "AQP(ε = 10)" and method_label("plugin") == "plug-in"
    assert words("default/plugin/K=32/rloo") == "default/plug-in/K=32/RLOO"
    assert words("the decoupled baseline") == "the decoupled baseline"
    assert words("c2_plugin_bias_vs_K.png and `plugin`") == "c2_plugin_bias_vs_K.png and `plugin`"


#: a label that looks like code: snake_case (not a maths subscript such as omega^r_phi or sup_p), a dotted
#: module path, or an ALL_CAPS constant
CODE_LABEL = re.compile(r"\b[a-z][a-z0-9]*_(?!(?:phi|alpha|beta|omega|eps|lambda|sigma|theta)\b)[a-z0-9]{2,}[a-z0-9_]*\b"
                        r"|\b[a-z_]+\.[a-z_]+\.[a-z_]+\b|\b[A-Z]{2,}_[A-Z_]+\b")


def code_labels(claim: dict) -> list[str]:
    """Labels of a results-document claim that are code names (a figure key or an identifier)."""
    keys = set()

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                keys.add(str(k))
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(claim.get("figures") or {})
    keys = {k for k in keys if "_" in k}
    labels = list((claim.get("accuracy") or {}).keys()) + [c["name"] for c in claim.get("criteria") or []]
    labels += [t["title"] for t in claim.get("tables") or []] + [str(c) for t in claim.get("tables") or []
                                                                   for c in t["columns"]]
    if claim.get("key_figure"):
        labels.append(claim["key_figure"]["label"])
    return [lab for lab in labels if lab in keys or CODE_LABEL.search(lab)]


def test_the_code_label_check_catches_json_keys():
    claim = {"figures": {"per_K": [{"sup_weighted_bias_lower": 1.0}]},
             "accuracy": {"sup_weighted_bias_lower": "certified", "weighted bias": "ok", "omega^r_phi": "ok",
                          "sup_p p V_g(p)": "ok"},
             "criteria": [{"name": "MOMENT_TOL"}], "tables": [{"title": "hessian.variance_exact here", "columns": []}]}
    assert code_labels(claim) == ["sup_weighted_bias_lower", "MOMENT_TOL", "hessian.variance_exact here"]


# -- glossary --------------------------------------------------------------------------------------------

def test_glossary_links_the_first_use_per_section_outside_tags_and_code():
    linker = TermLinker()
    html = ("<code>AQP</code> the <img alt='AQP'> weighted bias of E<sup>∗</sup><sub>K</sub>, AQP and AQP "
            "<a href='#x'>TV</a> TV")
    out = linker.link(html)
    assert out.count("href='#g-aqp'") == 1 and "<code>AQP</code>" in out and "alt='AQP'" in out
    assert "<a class='term' href='#g-estar'>E<sup>∗</sup><sub>K</sub></a>" in out
    assert "<a class='term' href='#g-weighted-bias'>weighted bias</a>" in out
    assert out.endswith("<a class='term' href='#g-tv'>TV</a>")
    assert "href='#g-aqp'" not in linker.link("AQP again")      # first use per section only
    linker.reset()
    assert "href='#g-aqp'" in linker.link("AQP again")


def test_glossary_defines_the_terms_the_issue_names():
    terms = {t.term for t in GLOSSARY}
    for needed in ("weighted bias", "E*_K", "AQP", "TV", "∞ (V = 0)"):
        assert needed in terms
    assert len({anchor(t.key) for t in GLOSSARY}) == len(GLOSSARY)


# -- the GPU record --------------------------------------------------------------------------------------

RECORD = {"device": "NVIDIA H200", "torch": "2.13.0", "cuda": "13.0", "triton": "3.5.0", "date": "2026-11-30",
          "commit": "abcdef1", "steps": [{"name": "torch tests, CUDA cases", "verdict": "PASS",
                                          "figures": {"tests passed": 212}},
                                         {"name": "C8 section on cuda", "verdict": "PASS", "figures": {}}]}


@pytest.mark.parametrize("edit,message", [
    (lambda r: r.pop("device"), "missing field"),
    (lambda r: r.update(date="yesterday"), "ISO date"),
    (lambda r: r.update(steps=[]), "non-empty list"),
    (lambda r: r["steps"][0].update(verdict="ok"), "verdict must be one of"),
    (lambda r: r["steps"][0].update(figures=[1]), "figures must be an object"),
    (lambda r: r.update(torch=""), "'torch' must be a non-empty string"),
])
def test_a_record_that_breaks_the_schema_is_refused_with_the_field(edit, message):
    rec = copy.deepcopy(RECORD)
    edit(rec)
    with pytest.raises(ValueError, match=message):
        validate_record(rec)


def test_record_verdict_and_loading(tmp_path):
    assert load_record(tmp_path) is None
    path = tmp_path / "reports" / "cuda" / "cuda_record.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(RECORD))
    assert load_record(tmp_path) == dict(RECORD, gpu=True) and record_verdict(RECORD) == "PASS"
    failing = copy.deepcopy(RECORD)
    failing["steps"][1]["verdict"] = "FAIL"
    assert record_verdict(failing) == "FAIL"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not readable as JSON"):
        load_record(tmp_path)


#: the layout scripts/cuda_crosscheck.py writes (device kind on top, name and versions nested, "step")
SCRIPT_RECORD = {"claim": "C8", "date": "2026-12-04T19:08:34+00:00", "commit": "abc123", "device": "cuda",
                 "versions": {"python": "3.11.7", "torch": "2.13.0", "cuda": "13.0", "triton": "3.5.0",
                              "device": "NVIDIA H200"},
                 "steps": [{"step": "crosscheck", "verdict": "PASS", "seconds": 3.0,
                            "figures": {"device": "cuda", "kernels": [{"verdict": "PASS"}] * 5 + [{"verdict": "FAIL"}]}},
                           {"step": "bench", "verdict": "PASS", "figures": {"rows": [{"B": 32}] * 3, "targets_met": 5,
                                                                            "targets_total": 11}},
                           {"step": "graph", "verdict": "SKIP", "figures": {}}],
                 "verdict": "PASS"}


def test_the_gpu_scripts_layout_is_read_and_summarised():
    rec = normalize(SCRIPT_RECORD)
    assert (rec["device"], rec["torch"], rec["cuda"], rec["triton"], rec["gpu"]) == ("NVIDIA H200", "2.13.0", "13.0",
                                                                                      "3.5.0", True)
    assert [s["name"] for s in rec["steps"]] == ["crosscheck", "bench", "graph"] and record_verdict(rec) == "PASS"
    assert figure_text(rec["steps"][0]["figures"]) == "device: cuda; kernels: 5 PASS, 1 FAIL"
    assert figure_text(rec["steps"][1]["figures"]) == "rows: 3 entries in the record; targets met: 5; targets total: 11"
    html = render_html(_doc(rec))
    assert "GPU record: C8 PASS on NVIDIA H200, 2026-12-04" in html and "Recorded on a GPU, not re-run here" in html


def test_a_cpu_dry_run_is_not_shown_as_a_gpu_record():
    dry = copy.deepcopy(SCRIPT_RECORD)
    dry.update(device="cpu")
    dry["versions"].update(cuda=None, device="cpu only (no CUDA device visible)")
    rec = normalize(dry)
    assert rec["gpu"] is False
    html = render_html(_doc(rec))
    assert "no GPU record exists in this repository" in html and "made without a GPU" in html
    assert "Recorded on a GPU" not in html and "GPU record: cpu" not in html


# -- the page, on a synthetic document -------------------------------------------------------------------

def _doc(record=None):
    claim = {"id": "C8", "title": "One implementation, two engines: the torch kernels match the reference",
             "statement": "The torch implementation matches the reference.", "status": "PASS",
             "criteria": [Criterion("counts", "each count equals the reference", "10 of 10 hold", True).to_json()],
             "summary": "Counts match.", "key_figure": {"label": "torch", "text": "counts exact", "accuracy": "exact"},
             "figures": {"devices": ["cpu"]}, "accuracy": {"counts": "exact"},
             "tables": [{"title": "Long table", "columns": ["K", "value"], "rows": [[k, k * 2] for k in range(2, 60)],
                         "detail": None, "csv": "c8_long_table.csv"}],
             "plots": ["c8_plot.png"], "plot_alt": {"c8_plot.png": "error (log scale) against p (log scale)."},
             "captions": {"c8_plot.png": "The error stays below its tolerance."}, "notes": ["AQP is fine."],
             "seconds": 1.0}
    return {"schema": "alft-verify/results", "schema_version": 3, "generated_utc": "2026-11-30T00:00:00Z",
            "profile": "quick", "seed": 1, "package_version": "0.1.0", "git_commit": "abcdef1",
            "environment": {"python": "3.11", "platform": "Linux", "cpu_count": 2, "device": "CPU (x86_64)"},
            "cuda_record": {"path": "reports/cuda/cuda_record.json",
                            "record": normalize(record) if record else None,
                            "verdict": record_verdict(record) if record else None, "error": None},
            "wall_seconds": 1.0, "summary": {"status": "PASS", "passed": 1, "failed": 0, "skipped": 0},
            "claims": [claim]}


def test_without_a_record_the_page_says_no_gpu_record_exists():
    html = render_html(_doc())
    assert "no GPU record exists" in html and "checked on CPU (x86_64)" in html
    assert "Checked here on cpu; no GPU record" in html


def test_with_a_record_the_page_shows_device_versions_date_commit_and_steps():
    html = render_html(_doc(RECORD))
    for text in ("NVIDIA H200", "PyTorch 2.13.0", "CUDA 13.0", "Triton 3.5.0", "2026-11-30", "abcdef1",
                 "torch tests, CUDA cases", "tests passed: 212", "Recorded on a GPU, not re-run here"):
        assert text in html, text
    assert "(the commit of this report)" in html
    md = render_markdown(_doc(RECORD))
    assert "NVIDIA H200" in md and "## C8" in md


def test_page_structure_contents_numbering_excerpts_glossary_and_back_links():
    html = render_html(_doc())
    ids = set(re.findall(r"id='([^']+)'", html))
    for href in re.findall(r"href='#([^']+)'", html):
        assert href in ids, href                                    # contents, terms and back links resolve
    assert {"top", "summary", "methods", "c8", "glossary"} <= ids
    assert html.count("↑ Back to top") == 3                       # methods, the claim, the glossary
    assert "<strong>Figure 1.</strong> The error stays below its tolerance." in html
    assert "<strong>Table 1.</strong>" in html and "Excerpt: 6 of 58 rows" in html
    assert "<details><summary>Show all 58 rows</summary>" in html
    assert "Methods and set-up" in html and "Certified" in html
    assert "<strong>Pass criterion.</strong>" in html and "Measured: 10 of 10 hold." in html
    assert "(accuracy: exact)" in html
