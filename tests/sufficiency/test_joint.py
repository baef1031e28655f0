import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mmtheory.sufficiency import (gaussian_joint, marginals, mutual_information, pmi,
    ratio_singular_values, validate_joint)

joints = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5)),
                elements=st.floats(0.01, 1.0)).map(lambda a: a / a.sum())


def brute_force_mi(P):
    """I(X;Y) = H(X) + H(Y) - H(X,Y), by loops over cells."""
    nx, ny = P.shape
    px = [sum(P[x, y] for y in range(ny)) for x in range(nx)]
    py = [sum(P[x, y] for x in range(nx)) for y in range(ny)]
    h = lambda ps: -sum(p * np.log(p) for p in ps if p > 0)
    return h(px) + h(py) - h([P[x, y] for x, y in itertools.product(range(nx), range(ny))])


@settings(max_examples=60, deadline=None)
@given(joints)
def test_mutual_information_matches_entropy_identity(P):
    assert mutual_information(P) == pytest.approx(brute_force_mi(P), abs=1e-10)
    assert mutual_information(P) >= -1e-12


@settings(max_examples=40, deadline=None)
@given(joints)
def test_ratio_spectrum_starts_at_one_and_sums_to_chi_square_plus_one(P):
    s = ratio_singular_values(P)
    px, py = marginals(P)
    assert s[0] == pytest.approx(1.0, abs=1e-10)
    assert np.sum(s**2) == pytest.approx(np.sum(P**2 / np.outer(px, py)), rel=1e-10)


def test_independent_law_has_zero_pmi():
    P = np.outer([0.2, 0.8], [0.5, 0.25, 0.25])
    np.testing.assert_allclose(pmi(P), 0.0, atol=1e-12)
    assert mutual_information(P) == pytest.approx(0.0, abs=1e-12)


def test_pmi_of_a_zero_cell_is_minus_infinity_and_adds_nothing_to_mi():
    P = np.array([[0.5, 0.0], [0.0, 0.5]])
    assert pmi(P)[0, 1] == -np.inf
    assert mutual_information(P) == pytest.approx(np.log(2))


@pytest.mark.parametrize("n, rho", [(6, 0.3), (9, -0.7), (12, 0.9)])
def test_gaussian_grid_pmi_has_rank_three(n, rho):
    s = np.linalg.svd(pmi(gaussian_joint(n, rho)), compute_uv=False)
    assert np.sum(s > 1e-9 * s[0]) == 3


def test_gaussian_grid_spectrum_approaches_mehler_as_the_grid_is_refined():
    rho = 0.6
    coarse = ratio_singular_values(gaussian_joint(8, rho))[:4]
    fine = ratio_singular_values(gaussian_joint(48, rho, span=3.0))[:4]
    mehler = rho ** np.arange(4)
    assert np.max(np.abs(fine - mehler)) < np.max(np.abs(coarse - mehler))
    assert np.max(np.abs(fine - mehler)) < 0.05


@pytest.mark.parametrize(
    "P, message",
    [
        (np.array([0.5, 0.5]), "2-D array"),
        (np.array([[0.5, 0.6]]), "sum to 1"),
        (np.array([[1.5, -0.5]]), "non-negative"),
        (np.array([[np.nan, 1.0]]), "finite"),
    ],
)
def test_invalid_joint_laws_are_rejected(P, message):
    with pytest.raises(ValueError, match=f"P must .*{message}|P must have {message}|{message}"):
        validate_joint(P)
    with pytest.raises(ValueError, match="P must"):
        mutual_information(P)

