"""The repository documents itself: docs/ exists, its links resolve, nothing points outside the repository."""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_PAGES = ["README.md", "theory.md", "claims.md", "estimators.md", "report.md"]
TEXT_SUFFIXES = {".py", ".md", ".toml", ".ini", ".cfg", ".txt", ".html", ".json"}


def _tracked_files() -> list[Path]:
    """Files under version control (the working tree when git is unavailable)."""
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30)
        names = out.stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()
                 and not any(part.startswith((".venv", ".git", ".tox")) for part in p.relative_to(ROOT).parts)]
    return [ROOT / n for n in names if (ROOT / n).is_file()]


def test_no_reference_to_theory_outside_the_repository():
    offenders = []
    for path in _tracked_files():
        if path.suffix not in TEXT_SUFFIXES and path.name != "run":
            continue
        text = path.read_text(errors="replace")
        for pattern in ("../shared", "THEORY"):
            if pattern in text and path != Path(__file__):
                offenders.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert not offenders, "point to docs/ instead: " + ", ".join(offenders)


@pytest.mark.parametrize("page", DOC_PAGES)
def test_doc_pages_exist_and_their_relative_links_resolve(page):
    path = ROOT / "docs" / page
    text = path.read_text()
    assert len(text) > 500, page
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (path.parent / target).resolve().exists(), f"docs/{page} links to missing {target}"


def test_claims_page_has_every_claim_with_a_status():
    text = (ROOT / "docs" / "claims.md").read_text()
    for k in range(1, 9):
        section = text.split(f'<a id="c{k}"></a>')[1].split("<a id=")[0]
        assert f"## C{k} " in section and "**Status.**" in section, f"C{k}"
        assert re.search(r"\*\*(proved|certified numerically|supported numerically|checked by testing)", section, re.I)


def test_readme_points_to_docs():
    text = (ROOT / "README.md").read_text()
    for page in ("docs/claims.md", "docs/estimators.md", "docs/report.md"):
        assert page in text
