"""One rule for command-line values (issue 18): every subcommand reads --param and lists the same way."""
import pytest

from proofs_numeric.cli import main
from proofs_numeric.cliargs import floats, generator_params, ints, parse_K_range, parse_params, parse_value


@pytest.mark.parametrize("text, value", [("true", True), ("Off", False), ("none", None), ("3", 3), ("1e-4", 1e-4),
                                         ("-2", -2), ("plugin", "plugin"), (" 0.5 ", 0.5)])
def test_values(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_params_read_each_name_once():
    assert parse_params(["eps=10", " gap_tol = 1e-4", "solve=yes"]) == {"eps": 10, "gap_tol": 1e-4, "solve": True}
    assert parse_params([]) == {}


@pytest.mark.parametrize("items, message", [(["eps"], "NAME=VALUE"), (["=1"], "NAME=VALUE"), ([" =1"], "NAME=VALUE"),
                                            (["eps=1", "eps=2"], "given twice")])
def test_bad_params_name_the_option(items, message):
    with pytest.raises(ValueError, match=message) as exc:
        parse_params(items, option="--param")
    assert "--param" in str(exc.value)


@pytest.mark.parametrize("argv", [
    ["tables", "--generator", "kl", "--method", "plugin", "--K", "4", "--param", "=1"],
    ["tables", "--generator", "kl", "--method", "plugin", "--K", "4", "--param", "a=1", "--param", "a=2"],
    ["game", "--exact", "--K", "4", "--method", "plugin", "--param", "=1"],
    ["game", "--exact", "--K", "4", "--method", "plugin", "--param", "a=1", "--param", "a=2"],
])
def test_every_subcommand_refuses_the_same_bad_params(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--param" in err and ("NAME=VALUE" in err or "given twice" in err)


def test_lists_and_ranges():
    assert floats("1, 0.5,,-2", "--rewards") == [1.0, 0.5, -2.0]
    assert ints("4,8", "--K") == [4, 8]
    assert parse_K_range("3-5") == range(3, 6) and parse_K_range("7") == range(7, 8)
    assert parse_K_range(None) == range(2, 129) and parse_K_range(None, lo_min=3) == range(3, 129)
    with pytest.raises(ValueError, match="within 3-128"):
        parse_K_range("2-5", lo_min=3)
    for bad, fn in [("1,x", lambda t: floats(t, "--rewards")), ("1.5", lambda t: ints(t, "--K")),
                    ("1-200", parse_K_range), ("a-b", parse_K_range), ("9-3", parse_K_range)]:
        with pytest.raises(ValueError, match="--"):
            fn(bad)


def test_generator_options_belong_to_their_generator():
    from argparse import Namespace

    def ns(**kw):
        return Namespace(**{"alpha": None, "coeffs": None, "coeffs_of": "phi", **kw})
    assert generator_params("power", ns(alpha=2.5)) == {"alpha": 2.5}
    assert generator_params("polynomial", ns(coeffs="0,0,1/2"))["of"] == "phi"
    assert generator_params("kl", ns()) == {}
    for gen, kw, msg in [("power", {}, "--alpha is required"), ("kl", {"alpha": 2.0}, "--alpha applies only"),
                         ("polynomial", {}, "--coeffs is required"), ("kl", {"coeffs": "1"}, "--coeffs applies only"),
                         ("kl", {"coeffs_of": "reward"}, "--coeffs-of applies only"),
                         ("polynomial", {"coeffs": "1/0"}, "division by zero")]:
        with pytest.raises(ValueError, match=msg):
            generator_params(gen, ns(**kw))


def test_every_family_option_is_on_the_command_line():
    """The command line asks the families for their options: each one's parameters appear in alft tables."""
    from estimators.generators import FAMILIES, family
    from proofs_numeric.cli import build_parser
    text = build_parser()._subparsers._group_actions[0].choices["tables"].format_help()
    for name in FAMILIES:
        for opt in getattr(family(name), "CLI_OPTIONS", ()):
            assert opt.flag in text, (name, opt.flag)
