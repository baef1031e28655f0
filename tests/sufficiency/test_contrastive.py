import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmtheory.sufficiency import (align_to_pmi, distance_to_pmi, excess_risk_large_batch, fit_score_table,
    finite_k_constant, gaussian_joint, info_nce_loss, mixture_kl, mutual_information, pmi, pmi_recovery)


def loss_by_loops(S):
    """The symmetric loss written out term by term."""
    B = len(S)
    row = sum(-S[i, i] + np.log(sum(np.exp(S[i, j]) for j in range(B))) for i in range(B)) / B
    col = sum(-S[j, j] + np.log(sum(np.exp(S[i, j]) for i in range(B))) for j in range(B)) / B
    return row + col


def test_info_nce_matches_its_definition():
    S = np.random.default_rng(0).normal(size=(6, 6))
    assert info_nce_loss(torch.as_tensor(S)).item() == pytest.approx(loss_by_loops(S), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 8), st.floats(-50, 50))
def test_info_nce_ignores_an_additive_constant_and_a_constant_score_pays_two_log_b(B, c):
    S = torch.as_tensor(np.random.default_rng(B).normal(size=(B, B)))
    assert info_nce_loss(S + c).item() == pytest.approx(info_nce_loss(S).item(), abs=1e-9)
    assert info_nce_loss(torch.full((B, B), c, dtype=torch.float64)).item() == pytest.approx(2 * np.log(B))


def test_info_nce_rejects_non_square_input():
    with pytest.raises(ValueError, match="scores must be a square"):
        info_nce_loss(torch.zeros(3, 4))


def large_batch_risk_by_definition(s, P):
    """-E[s] + E_x log E_y' e^s + (the same with roles swapped), minus its value at s = pmi."""
    px, py = P.sum(1), P.sum(0)

    def risk(t):
        return -2 * np.sum(P * t) + px @ np.log(np.exp(t) @ py) + py @ np.log(px @ np.exp(t))

    return risk(s) - risk(pmi(P))


@pytest.mark.parametrize("seed", range(5))
def test_excess_risk_equals_the_large_batch_risk_gap(seed):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(12)).reshape(3, 4)
    s = rng.normal(size=(3, 4))
    assert excess_risk_large_batch(s, P) == pytest.approx(large_batch_risk_by_definition(s, P), abs=1e-12)
    assert excess_risk_large_batch(pmi(P) - 2.5, P) == pytest.approx(0.0, abs=1e-12)
    assert excess_risk_large_batch(np.zeros((3, 4)), P) == pytest.approx(2 * mutual_information(P), abs=1e-12)


def test_distance_ignores_constants_and_vanishes_only_at_pmi():
    P = gaussian_joint(5, 0.4)
    assert distance_to_pmi(pmi(P) + 9.0, P) == pytest.approx(0.0, abs=1e-12)
    s = np.random.default_rng(1).normal(size=P.shape)
    assert distance_to_pmi(s + 3.0, P) == pytest.approx(distance_to_pmi(s, P))
    assert distance_to_pmi(s, P) > 0.1
    np.testing.assert_allclose(align_to_pmi(pmi(P) + 4.0, P), pmi(P), atol=1e-12)


@pytest.mark.parametrize("score, message", [(np.zeros((2, 2)), "score must have the shape"),
                                            (np.full((3, 3), np.nan), "NaN")])
def test_score_checks(score, message):
    with pytest.raises(ValueError, match=message):
        distance_to_pmi(score, gaussian_joint(3, 0.2))


def test_training_moves_the_score_to_pmi_plus_a_constant():
    # Threshold: an untrained table sits at distance d(0) (about 0.55 here). At the end of the cosine
    # schedule what is left is the gradient noise of the last steps, measured at 5-10% of d(0) for
    # this size; a quarter of d(0) is well above that floor, and no table that failed to learn meets it.
    P = gaussian_joint(6, 0.6)
    fit = fit_score_table(P, steps=400, batch=256, seed=0, device="cpu")
    assert fit.distance[-1] < 0.25 * fit.distance[0]
    assert fit.excess_risk[-1] < 0.05 * fit.excess_risk[0]
    assert fit.mi_lower_bound == pytest.approx(mutual_information(P), abs=0.03)


def test_training_is_repeatable_on_cpu():
    P = gaussian_joint(4, 0.5)
    a, b = (fit_score_table(P, steps=30, batch=16, seed=3, device="cpu") for _ in range(2))
    np.testing.assert_array_equal(a.score, b.score)


def test_pmi_recovery_quick_scale_converges_for_every_correlation():
    result = pmi_recovery(scale="quick", device="cpu")
    assert result.scores.shape == result.pmis.shape == (len(result.rhos), result.config.n, result.config.n)
    for r, rho in enumerate(result.rhos):
        if rho > 0:
            assert result.distance[r, -1] < 0.2 * result.distance[r, 0]
        assert result.excess_risk[r, -1] < 0.01
    np.testing.assert_allclose(result.mi_lower_bound, result.mutual_information, atol=0.03)


from itertools import product  # noqa: E402

from mmtheory.sufficiency import clip_excess_monte_carlo, clip_risk_exact, clip_risk_monte_carlo  # noqa: E402


def one_direction_by_enumeration(s, P, K):
    py = P.sum(0)
    total = 0.0
    for x, y1 in product(range(P.shape[0]), range(P.shape[1])):
        for negatives in product(range(P.shape[1]), repeat=K - 1):
            weight = P[x, y1] * np.prod(py[list(negatives)])
            total += weight * (-s[x, y1] + np.log(np.exp(s[x, y1]) + np.exp(s[x, list(negatives)]).sum()))
    return total


@pytest.mark.parametrize("K", [2, 3, 4])
def test_exact_k_sample_risk_matches_enumeration(K):
    rng = np.random.default_rng(K)
    P = rng.dirichlet(np.ones(12)).reshape(3, 4)
    s = rng.normal(size=(3, 4))
    brute = one_direction_by_enumeration(s, P, K) + one_direction_by_enumeration(s.T, P.T, K)
    assert clip_risk_exact(s, P, K) == pytest.approx(brute, rel=1e-12)


@pytest.mark.parametrize("K", [2, 5, 9])
def test_constant_score_pays_two_log_k_and_pmi_is_the_minimum(K):
    P = gaussian_joint(4, 0.7)
    assert clip_risk_exact(np.full((4, 4), 1.3), P, K) == pytest.approx(2 * np.log(K))
    best = clip_risk_exact(pmi(P) + 0.7, P, K)
    rng = np.random.default_rng(K)
    for _ in range(5):
        assert clip_risk_exact(pmi(P) + 0.2 * rng.normal(size=(4, 4)), P, K) > best
    assert clip_risk_exact(pmi(P), P, K) == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize("convention", ["iid", "in_batch"])
def test_monte_carlo_risk_agrees_with_the_exact_risk(convention):
    P = gaussian_joint(5, 0.6)
    s = pmi(P) + np.random.default_rng(1).normal(0, 0.5, size=(5, 5))
    mean, se = clip_risk_monte_carlo(s, P, 4, n=40_000, convention=convention, seed=2)
    assert abs(mean - clip_risk_exact(s, P, 4)) < 4 * se


def test_common_random_numbers_estimate_the_excess():
    P = gaussian_joint(5, 0.6)
    s = pmi(P) + np.random.default_rng(1).normal(0, 0.5, size=(5, 5))
    gap, se = clip_excess_monte_carlo(s, pmi(P), P, 3, n=40_000)
    exact = clip_risk_exact(s, P, 3) - clip_risk_exact(pmi(P), P, 3)
    assert abs(gap - exact) < 4 * se and se < 0.2 * exact



@pytest.mark.parametrize("kwargs, message", [({"K": 60}, "max_terms")])
def test_exact_risk_rejects_bad_or_impossible_k(kwargs, message):
    with pytest.raises(ValueError, match=message):
        clip_risk_exact(np.zeros((6, 6)), gaussian_joint(6, 0.3), **kwargs)


def test_training_with_iid_negatives_also_reaches_pmi():
    P = gaussian_joint(6, 0.6)
    fit = fit_score_table(P, steps=400, batch=128, convention="iid", K=16, seed=0, device="cpu")
    assert fit.distance[-1] < 0.25 * fit.distance[0]
    with pytest.raises(ValueError, match="K must be an integer >= 2"):
        fit_score_table(P, convention="iid")


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("direction", ["x_to_y", "y_to_x", "both"])
def test_finite_k_excess_is_the_large_batch_excess_minus_the_mixture_kl(K, direction):
    """The chain rule on (J, y_1..y_K), checked exactly by enumeration for a mis-specified score."""
    P = gaussian_joint(7, 0.6)
    M = pmi(P)
    s = M + np.random.default_rng(K).normal(0, 0.5, M.shape)
    excess_K = clip_risk_exact(s, P, K, direction) - clip_risk_exact(M, P, K, direction)
    delta, hidden = excess_risk_large_batch(s, P, direction), mixture_kl(s, P, K, direction)
    assert excess_K == pytest.approx(delta - hidden, abs=1e-12)
    assert 0 < hidden < delta  # so 0 < excess_K < Delta
    B = max(np.abs(s).max(), np.abs(M).max())
    assert hidden <= finite_k_constant(B) / K * delta  # the corollary's bound (very loose)
    assert mixture_kl(M + 3.0, P, K, direction) == pytest.approx(0.0, abs=1e-12)  # the PMI hides nothing to hide


def test_mixture_kl_is_about_delta_over_k_under_weak_dependence():
    ratios = []
    for rho in (0.5, 0.2, 0.05):
        P = gaussian_joint(6, rho)
        s = 0.5 * pmi(P)  # a mis-scaled score
        ratios.append(4 * mixture_kl(s, P, 4) / excess_risk_large_batch(s, P, "x_to_y"))
    assert abs(ratios[-1] - 1) < 0.01 and abs(ratios[-1] - 1) < abs(ratios[0] - 1)


def test_finite_k_constant_and_bad_input():
    assert finite_k_constant(1e-9) == pytest.approx(2.0, rel=1e-6)  # c -> 2 at a = 1, e^{4B} -> 1
    assert finite_k_constant(1.0) > finite_k_constant(0.5) > 2
    P = gaussian_joint(6, 0.5)
    with pytest.raises(ValueError, match="K must be"):
        mixture_kl(pmi(P), P, 1)
    with pytest.raises(ValueError, match="max_terms"):
        mixture_kl(pmi(P), P, 4, max_terms=10)
    with pytest.raises(ValueError, match="B must be"):
        finite_k_constant(0.0)
