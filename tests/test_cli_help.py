"""The command line as people expect it: --version, and every subcommand's --help with a description,
help text and default for every option, its exit codes and an example; errors in command-line words."""
import argparse
import re

import pytest

from estimators import __version__
from proofs_numeric.cli import build_parser, main
from proofs_numeric.report.builder import DEFAULT_SEED


def _subparsers():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"alft-verify {__version__}"


@pytest.mark.parametrize("name", sorted(_subparsers()))
def test_every_subcommand_help_has_description_options_defaults_exit_codes_and_examples(name):
    sp = _subparsers()[name]
    assert sp.description and len(sp.description) > 40, name
    for action in sp._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"alft {name} {action.option_strings or action.dest}: no help text"
        if action.default not in (None, False, []) and action.option_strings:
            assert "default" in action.help, f"alft {name} {action.option_strings}: default not stated"
    text = sp.format_help()
    assert "exit status:" in text and re.search(r"^\s+0\s", text, re.M), name
    assert "examples:" in text and f"alft {name}" in text.split("examples:")[1], name


def test_report_help_states_the_default_seed_and_exit_code_1_on_fail():
    text = _subparsers()["report"].format_help()
    assert f"default: {DEFAULT_SEED}" in text
    assert re.search(r"^\s+1\s+a claim FAILED", text, re.M)


def test_a_budget_outside_the_shipped_set_is_explained_in_command_line_words(capsys):
    assert main(["tables", "--generator", "kl", "--method", "aqp", "--K", "8", "--eps", "5"]) == 2
    err = capsys.readouterr().err
    assert "--solve" in err and "solve=True" not in err and "build_table" not in err


def test_a_refused_shipped_table_names_the_options_that_solve_it(capsys):
    assert main(["tables", "--generator", "kl", "--method", "aqp", "--K", "64", "--eps", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "--solve --param certified=reference" in err and "build_table" not in err


def test_aqp_without_a_budget_names_the_options(capsys):
    assert main(["tables", "--generator", "kl", "--method", "aqp", "--K", "8"]) == 2
    err = capsys.readouterr().err
    assert "--eps" in err and "--variance-max" in err and "variance_max" not in err


def test_the_library_still_names_the_python_call():
    from estimators import build_table
    with pytest.raises(ValueError, match=r"solve=True") as exc:
        build_table("kl", "aqp", 8, eps=5.0)
    assert exc.value.remedy == {"solve": True}
