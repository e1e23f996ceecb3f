"""Generators, tables and their bad-input errors (foundation)."""
import json
import math
from fractions import Fraction

import numpy as np
import pytest

from estimators import Table, build_table, get_generator, method_names


def test_targets_match_closed_forms():
    p = np.array([0.25, 0.5, 1.0])
    assert np.allclose(get_generator("kl").target(p), [math.log(0.25), math.log(0.5), 0.0], rtol=0, atol=1e-15)
    assert np.allclose(get_generator("power", alpha=2.5).target(p), p ** 1.5 / 1.5, rtol=1e-15, atol=0)
    assert get_generator("kl").weighted_target(0.0) == 0.0
    assert get_generator("power", alpha=3).dropped_constant == Fraction(-1, 6)
    assert get_generator("kl").dropped_constant == 1


def test_polynomial_generator_reward_is_derivative_of_phi():
    # phi = 1 + 2t + 3t^2 + 4t^3  ->  reward 2 + 6t + 12t^2
    g = get_generator("polynomial", coeffs=[1, 2, 3, 4])
    assert g.target_coeffs == (2, 6, 12)
    assert g.degree == 2
    assert g.target_exact(Fraction(1, 2)) == 2 + 3 + 3


@pytest.mark.parametrize("alpha", [0, -1, 1, 1.0, float("nan"), float("inf")])
def test_power_rejects_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        get_generator("power", alpha=alpha)


def test_power_rejects_non_number_alpha():
    with pytest.raises(TypeError, match="alpha"):
        get_generator("power", alpha="2")


def test_unknown_generator_and_method():
    with pytest.raises(ValueError, match="generator must be one of"):
        get_generator("hellinger")
    with pytest.raises(ValueError, match="method must be one of"):
        build_table("kl", "magic", 4)


@pytest.mark.parametrize("coeffs,exc", [([], ValueError), ("1,2", TypeError), ([1, float("nan")], ValueError),
                                        ([1, "x"], ValueError)])
def test_polynomial_rejects_bad_coeffs(coeffs, exc):
    with pytest.raises(exc, match="coeffs"):
        get_generator("polynomial", coeffs=coeffs)


@pytest.mark.parametrize("K,exc", [(1, ValueError), (0, ValueError), (-3, ValueError), (2.0, TypeError),
                                   (2.5, TypeError), ("4", TypeError), (True, TypeError)])
def test_bad_K(K, exc):
    with pytest.raises(exc, match="K must be an integer"):
        build_table("kl", "plugin", K)


def test_table_is_immutable_and_validated():
    t = build_table("kl", "plugin", 5)
    with pytest.raises(ValueError):
        t.values[0] = 1.0
    with pytest.raises(ValueError, match="finite"):
        Table(values=[0.0, float("nan")], generator=get_generator("kl"), method="plugin")
    with pytest.raises(ValueError, match="len\\(values\\)"):
        Table(values=[0.0], generator=get_generator("kl"), method="plugin")


def test_table_gather_checks_counts():
    t = build_table("euclidean", "ustat", 4)
    assert np.array_equal(t(np.array([0, 3])), [0.0, 1.0])
    with pytest.raises(ValueError, match="counts must lie in \\[0, 3\\]"):
        t(np.array([4]))
    with pytest.raises(TypeError, match="counts must be integers"):
        t(np.array([0.5]))


@pytest.mark.parametrize("method", ["ustat", "plugin", "jackknife"])
def test_json_round_trip_is_exact(method):
    t = build_table("power", method, 9, generator_params={"alpha": 3})
    d = json.loads(json.dumps(t.to_dict()))
    for key in ("K", "generator", "method", "params", "values"):
        assert key in d
    back = Table.from_dict(d)
    assert np.array_equal(back.values, t.values)  # full float64 precision survives JSON
    assert back.generator.params == t.generator.params
    assert back.reference == t.reference


def test_unknown_method_parameter_is_rejected():
    with pytest.raises(TypeError, match="unknown parameter"):
        build_table("kl", "plugin", 4, eps=0.1)


def test_builtin_methods_registered():
    assert {"ustat", "plugin", "jackknife"} <= set(method_names())
