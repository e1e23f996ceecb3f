"""C1: the U-statistic table is exactly unbiased for polynomial rewards of degree <= K-1."""
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from estimators import build_table, get_generator, moments
from estimators.bernstein import bernstein_to_monomial, mean_polynomial, monomial_to_bernstein
from proofs_numeric.c1_ustat_exact import check_identity

rationals = st.fractions(min_value=-20, max_value=20, max_denominator=50)


@st.composite
def poly_and_K(draw, K_max=40):
    K = draw(st.integers(2, K_max))
    d = draw(st.integers(0, K - 1))
    coeffs = draw(st.lists(rationals, min_size=d + 1, max_size=d + 1))
    return coeffs, K


@given(poly_and_K())
def test_c1_identity_holds_as_polynomials(data):
    coeffs, K = data
    t = build_table(get_generator("polynomial", coeffs=coeffs, of="reward"), "ustat", K)
    assert check_identity(t)


@given(poly_and_K(K_max=20), st.fractions(min_value=0, max_value=1, max_denominator=97))
def test_c1_exact_engine_gives_zero_bias_at_rational_p(data, p):
    """Independent route: binomial expectation summed directly, not through the monomial expansion."""
    coeffs, K = data
    t = build_table(get_generator("polynomial", coeffs=coeffs, of="reward"), "ustat", K)
    m = moments(t, [p], engine="exact", values="reference")
    assert m.bias == [0]


def test_c1_identity_at_K64_for_the_top_degree():
    t = build_table("power", "ustat", 64, generator_params={"alpha": 64})  # reward degree 63 = K-1
    assert check_identity(t)


def test_c1_euclidean_table_is_c_over_n():
    t = build_table("euclidean", "ustat", 7)
    assert t.reference == tuple(Fraction(c, 6) for c in range(7))


def test_c1_a_biased_table_fails_the_identity():
    """The identity check can fail: the plug-in frequency is biased for the Euclidean reward."""
    t = build_table("euclidean", "plugin", 6)
    assert not check_identity(t)


@pytest.mark.parametrize("K", [2, 5, 10])
def test_c1_degree_ge_K_is_refused(K):
    with pytest.raises(ValueError, match=f"K-1 = {K - 1}"):
        build_table("power", "ustat", K, generator_params={"alpha": K + 1})


def test_ustat_refuses_non_polynomial():
    with pytest.raises(ValueError, match="polynomial target"):
        build_table("kl", "ustat", 8)


@given(st.lists(rationals, min_size=1, max_size=12))
def test_bernstein_round_trip(coeffs):
    n = len(coeffs) - 1 + 3
    b = monomial_to_bernstein(coeffs, n)
    assert bernstein_to_monomial(b) == list(coeffs) + [Fraction(0)] * 3
