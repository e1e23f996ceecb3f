"""A newcomer's set-up works as documented: clone and venv in the README, tox installable from an extra and
covering Python 3.10-3.12 with the user's cache, a licence, citation metadata and a changelog."""
import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_shows_clone_venv_and_how_to_get_tox():
    text = (ROOT / "README.md").read_text()
    assert "git clone" in text and "python3 -m venv .venv" in text
    assert '-e ".[dev]"' in text
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^dev = \[.*"tox>=4".*\]', pyproject, re.M)


def test_tox_covers_python_310_to_312_and_passes_the_cache_dir():
    ini = configparser.ConfigParser()
    ini.read(ROOT / "tox.ini")
    envs = [e.strip() for e in ini["tox"]["envlist"].split(",")]
    assert {"py310", "py311", "py312"} <= set(envs)
    assert ini["tox"]["skip_missing_interpreters"].strip() == "true"
    assert "ALFT_CACHE_DIR" in ini["testenv"]["passenv"].split()
    assert re.search(r'requires-python = ">=3.10"', (ROOT / "pyproject.toml").read_text())


def test_license_citation_and_changelog():
    lic = (ROOT / "LICENSE").read_text()
    assert lic.startswith("MIT License") and "the alft-verify authors" in lic
    assert 'license = "MIT"' in (ROOT / "pyproject.toml").read_text()
    cff = (ROOT / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in cff and 'title: "Answer-level fine-tuning as a distributional alignment game"' in cff
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")


def test_hypothesis_storage_is_outside_the_checkout():
    from hypothesis.configuration import storage_directory
    d = storage_directory("examples", intent_to_write=False)
    where = Path(getattr(d, "home_directory", d)).resolve()      # StorageDirectory (new) or a path (old)
    assert ROOT not in where.parents and where != ROOT / ".hypothesis", where
