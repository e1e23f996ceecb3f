"""The method registry (issue 18): data resolved on first use, third-party methods, parameters from signatures."""
import subprocess
import sys

import pytest

from estimators import build_table, registry
from estimators.registry import BUILTIN, METHODS, get_method, method_names, register_method
from estimators.table import Table


@pytest.fixture
def added():
    names = []
    yield names
    for n in names:   # leave the process-wide registry as it was
        registry._ADDED.pop(n, None)
        registry._RESOLVED.pop(n, None)


def _example(generator, K, *, weight: float = 0.5):
    """The plug-in shrunk towards the jackknife (an example)."""
    a, b = build_table(generator, "plugin", K), build_table(generator, "jackknife", K)
    return Table(values=weight * a.values + (1 - weight) * b.values, generator=generator, method="example",
                 params={"weight": weight}, provenance="test")


def test_builtin_methods_are_data_and_load_on_first_use():
    code = ("import sys, estimators; names = estimators.method_names(); m = list(estimators.METHODS); "
            "loaded = 'estimators.minimax' in sys.modules or 'estimators.aqp' in sys.modules; "
            "spec = estimators.METHODS['minimax']; print(names == sorted(m), loaded, "
            "'estimators.minimax' in sys.modules, spec.params)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(maxsplit=3)
    assert out[:3] == ["True", "False", "True"] and "rel_tol" in out[3]
    assert set(BUILTIN) <= set(method_names())


def test_parameters_and_baseline_awareness_come_from_the_signature():
    assert get_method("aqp").params == ("eps", "variance_max", "solve", "objective", "gap_tol", "use_cache",
                                        "certified")
    assert get_method("aqp").baseline_aware and get_method("ustat").baseline_aware
    assert not get_method("plugin").baseline_aware and get_method("plugin").params == ()
    assert all(METHODS[n].summary for n in BUILTIN)


def test_a_third_party_method(added):
    register_method("example", _example)
    added.append("example")
    assert "example" in METHODS and "example" in method_names() and METHODS["example"].params == ("weight",)
    t = build_table("kl", "example", 6, weight=0.25)
    assert t.method == "example" and t.params == {"weight": 0.25}
    assert build_table("kl", "example", 6, advantage="rloo").advantage == "rloo"   # corrected for K - 1
    with pytest.raises(TypeError, match="unknown parameter"):
        build_table("kl", "example", 6, alpha=1)
    with pytest.raises(ValueError, match="already registered"):
        register_method("example", _example)
    with pytest.raises(ValueError, match="already registered"):
        register_method("plugin", _example)


def test_decorator_form_and_bad_builders(added):
    @register_method("example2")
    def example2(generator, K):
        """Constant zero (an example)."""
        return Table(values=[0.0] * K, generator=generator, method="example2")
    added.append("example2")
    assert build_table("kl", "example2", 3).values.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(TypeError, match="named parameters"):
        register_method("bad", lambda generator, K, **kw: None)
    with pytest.raises(TypeError, match="named parameters"):
        register_method("bad", lambda generator: None)
    with pytest.raises(TypeError, match="non-empty string"):
        register_method("", _example)
    assert "bad" not in METHODS


@pytest.mark.parametrize("name", ["nope", "", None, ["plugin"], 3])
def test_unknown_methods_are_clear_errors(name):
    with pytest.raises(ValueError, match="method must be one of"):
        get_method(name)
    assert name not in METHODS
