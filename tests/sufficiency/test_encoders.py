import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmtheory.sufficiency import (block_encoder, conditional, encode, excess_risk_large_batch,
    factoring_score, gaussian_joint, mutual_information, prefix_encoder, suff_vs_excess,
    sufficiency_contrastive, sufficiency_information, sufficiency_kl, sufficiency_variational,
    variational_objective)


@st.composite
def law_and_encoder(draw):
    nx, ny = draw(st.integers(2, 6)), draw(st.integers(2, 6))
    seed = draw(st.integers(0, 10**6))
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(nx * ny, draw(st.sampled_from([0.3, 1.0, 5.0])))).reshape(nx, ny)
    axis = draw(st.sampled_from([0, 1]))
    n = P.shape[axis]
    codes = rng.integers(0, draw(st.integers(1, n)), size=n)
    return P, np.unique(codes, return_inverse=True)[1], axis


FORMS = (sufficiency_kl, sufficiency_information, sufficiency_variational, sufficiency_contrastive)


@settings(max_examples=80, deadline=None)
@given(law_and_encoder())
def test_the_four_forms_of_sufficiency_agree(case):
    P, enc, axis = case
    values = [form(P, enc, axis=axis) for form in FORMS]
    assert values[0] >= -1e-12
    np.testing.assert_allclose(values, values[0], atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(law_and_encoder(), st.integers(0, 10**6))
def test_variational_objective_is_suff_plus_the_chain_rule_gap(case, seed):
    P, enc, axis = case
    P_rows = P if axis == 0 else P.T
    Q = np.random.default_rng(seed).dirichlet(np.ones(P_rows.shape[1]), size=enc.max() + 1)
    coded = encode(P_rows, enc)
    pe, cond = coded.sum(axis=1), conditional(coded)
    gap = np.sum(pe[:, None] * cond * np.log(cond / Q))
    assert variational_objective(P, enc, Q, axis=axis) == pytest.approx(sufficiency_kl(P, enc, axis=axis) + gap, abs=1e-10)


@settings(max_examples=40, deadline=None)
@given(law_and_encoder(), st.integers(0, 10**6))
def test_any_score_that_factors_through_the_code_pays_at_least_suff(case, seed):
    P, enc, axis = case
    if axis == 1:
        P, axis = P.T, 0
    h = np.random.default_rng(seed).normal(size=(enc.max() + 1, P.shape[1]))
    excess = excess_risk_large_batch(h[enc], P, direction="x_to_y")
    assert excess >= sufficiency_kl(P, enc) - 1e-12


def test_injective_encoders_are_sufficient_and_constant_ones_lose_everything():
    P = gaussian_joint(6, 0.7)
    permutation = np.random.default_rng(0).permutation(6)
    assert sufficiency_information(P, permutation) == pytest.approx(0.0, abs=1e-12)
    assert sufficiency_kl(P, np.zeros(6, dtype=int)) == pytest.approx(mutual_information(P), abs=1e-12)


def test_sufficiency_shrinks_as_the_coarsening_is_refined():
    P = gaussian_joint(12, 0.8)
    suff = [sufficiency_information(P, block_encoder(12, c)) for c in (1, 2, 3, 6, 12)]
    assert np.all(np.diff(suff) < 0) and suff[-1] == pytest.approx(0.0, abs=1e-12)


def test_factoring_score_sees_only_the_code():
    P = gaussian_joint(6, 0.5)
    enc = block_encoder(6, 2)
    s = factoring_score(P, enc)
    assert np.allclose(s[:3], s[0]) and np.allclose(s[3:], s[3])


def test_encoders():
    np.testing.assert_array_equal(prefix_encoder(3, 2, 1), [0, 0, 0, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(block_encoder(5, 2), [0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="k must be an integer in"):
        prefix_encoder(3, 2, 3)
    with pytest.raises(ValueError, match="n_cells must be an integer in"):
        block_encoder(5, 6)


@pytest.mark.parametrize("encoder, axis, message", [
    (np.array([0, 1]), 0, "length 4"), (np.array([0, 1, -1, 0]), 0, "non-negative integer"),
    (np.array([0.0, 1.0, 0.0, 1.0]), 0, "non-negative integer")
])
def test_bad_encoders_are_rejected(encoder, axis, message):
    with pytest.raises(ValueError, match=message):
        sufficiency_kl(gaussian_joint(4, 0.3), encoder, axis=axis)


def test_suff_vs_excess_reproduces_the_pattern_of_the_reference_table():
    r = suff_vs_excess(scale="quick")
    np.testing.assert_allclose(r.excess_inf, r.suff, atol=1e-10)  # K = infinity: excess equals Suff
    assert np.all(np.diff(r.excess_K, axis=1) > 0)  # the excess grows with K towards Suff
    big = r.suff > 0.1
    for j, K in enumerate(r.Ks):
        ratio = r.suff[big] / r.excess_K[big, j]
        np.testing.assert_allclose(ratio, K / (K - 1), rtol=0.08)
