"""The committed reference report as a reader gets it: the framework's rules hold on the default profile,
and in a real browser (headless Chromium, when installed) nothing sticks out of a 1280, 760 or 390 px
viewport without a scroll hint. CI has no browser: the layout test skips cleanly there."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reports" / "reference"


def _screenshots():
    spec = importlib.util.spec_from_file_location("alft_screenshots", ROOT / "scripts" / "screenshots.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_reference_report_follows_the_framework():
    from test_report_framework import code_labels
    from test_report_quick import SUMMARY_WORDS_MAX
    doc = json.loads((REFERENCE / "results.json").read_text())
    for c in doc["claims"]:
        assert c["statement"] and c["criteria"] and c["key_figure"]["accuracy"], c["id"]
        assert len(c["summary"].split()) <= SUMMARY_WORDS_MAX, (c["id"], len(c["summary"].split()))
        assert not code_labels(c), (c["id"], code_labels(c))
    html = (REFERENCE / "index.html").read_text()
    assert "Methods and set-up" in html and "id='glossary'" in html and "checked on" in html


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 760, 390])
def test_reference_page_has_no_unhinted_horizontal_overflow_in_a_browser(width):
    shots = _screenshots()
    browser = shots.find_browser()
    if browser is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium); scripts/screenshots.py needs it")
    found = shots.check_overflow(browser, REFERENCE, width)
    assert found["shown"]["width"] == width
    assert not shots.problems(found), shots.problems(found)
