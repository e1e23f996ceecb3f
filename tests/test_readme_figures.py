"""The README's and docs' counts of the shipped AQP set are the manifest's (C6): certified tables, refusals,
and refusals per cause (issue 16: the figures say how many refusals are float64 limits, and match)."""
import re
from pathlib import Path

import pytest

from estimators.aqp.shipped import manifest
from proofs_numeric.c6_aqp import refusal_counts

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("page", ["README.md", "docs/claims.md"])
def test_shipped_counts_in_the_text_match_the_manifest(page):
    text = " ".join(ROOT.joinpath(page).read_text().split())       # line breaks as spaces
    man = manifest()
    counts = refusal_counts(man)
    m = re.search(r"(\d+) tables are certified and \**(\d+) refused, all (?:(\d+) )?for float64 rounding", text)
    assert m, f"{page} states the shipped set's counts as 'N tables are certified and M refused, all ...'"
    assert int(m.group(1)) == len(man["files"])
    assert int(m.group(2)) == sum(counts.values()) == counts.get("float64_rounding", 0)
    if m.group(3):
        assert int(m.group(3)) == counts["float64_rounding"]


@pytest.mark.parametrize("page", ["README.md", "docs/claims.md", "docs/advantages.md"])
def test_rloo_counts_in_the_text_match_its_manifest(page):
    """C9: the counts of the shipped set for the baseline, as the text states them, are its manifest's."""
    text = " ".join(ROOT.joinpath(page).read_text().split())
    man = manifest("rloo")
    m = re.search(r"the baseline's set holds (\d+) certified tables and (\d+) refusals", text)
    assert m, f"{page} states the rloo set's counts as \"the baseline's set holds N certified tables and M refusals\""
    assert int(m.group(1)) == len(man["files"])
    assert int(m.group(2)) == sum(refusal_counts(man).values())
