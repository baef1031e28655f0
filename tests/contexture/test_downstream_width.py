"""Theorem 16 on the Gaussian-noise context: the worst-case probe error of a feature map over the compatible tasks,
computed by quadrature, against the optimal-encoder value (CPU, seconds)."""

import numpy as np
import pytest
import torch

from mmtheory.contexture import (MLPEncoder, gaussian_worst_case_error, hermite_functions, optimal_features,
    optimal_worst_case_error, theorem16_midpoint, theorem16_range, train_encoders)

RHO, D = 0.8, 4
S = RHO ** np.arange(12.0)  # s_k = rho^k, enough of them for Theorem 16 with d <= 10
LOW, HIGH = theorem16_range(S)


def hermite_span(degrees, mix=None):
    """Features spanning h_k for k in ``degrees``, mixed by ``mix`` and shifted (the span is what counts)."""
    mix = np.eye(len(degrees)) if mix is None else mix
    return lambda a: hermite_functions(a, max(degrees))[:, degrees] @ mix + 2.5


def mlp(width, seed):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = MLPEncoder(1, width, 2, D).double()
    return lambda a: net(torch.as_tensor(a)[:, None]).detach().numpy()


@pytest.mark.parametrize("epsilon", [LOW + 1e-3, 0.5 * (LOW + HIGH), HIGH])
@pytest.mark.parametrize("d", [1, 2, 4, 6])
def test_the_top_d_features_attain_theorem_16(d, epsilon):
    value = optimal_worst_case_error(S, d, epsilon)
    assert gaussian_worst_case_error(lambda a: optimal_features(a, RHO, d), RHO, epsilon) == pytest.approx(value,
                                                                                                          abs=1e-10)
    mix = np.random.default_rng(d).normal(size=(d, d))  # any basis of the same span, shifted: the same value
    assert gaussian_worst_case_error(hermite_span(list(range(1, d + 1)), mix), RHO, epsilon) == pytest.approx(
        value, abs=1e-10)


def test_a_span_that_skips_a_direction_loses_it_to_the_adversary():
    eps = theorem16_midpoint(RHO)
    level = (1 - eps) ** 2
    # h_1, h_2, h_3, h_5: the worst task mixes mu_1 with the missing mu_4, error (s_1^2 - (1-eps)^2)/(s_1^2 - s_4^2)
    skips_4 = gaussian_worst_case_error(hermite_span([1, 2, 3, 5]), RHO, eps)
    assert skips_4 == pytest.approx((S[1] ** 2 - level) / (S[1] ** 2 - S[4] ** 2), abs=1e-10)
    assert skips_4 > optimal_worst_case_error(S, D, eps) + 1e-3
    # without h_1 the task mu_1 itself (compatibility s_1 >= 1 - eps) is missed entirely
    assert gaussian_worst_case_error(hermite_span([2, 3, 4, 5]), RHO, eps) == pytest.approx(1.0, abs=1e-10)


def test_random_networks_are_worse_than_the_bound_and_the_quadrature_has_converged():
    eps = theorem16_midpoint(RHO)
    value = optimal_worst_case_error(S, D, eps)
    for width, seed in ((4, 0), (16, 1), (64, 2)):
        features = mlp(width, seed)
        coarse, fine = (gaussian_worst_case_error(features, RHO, eps, nodes=n) for n in (64, 128))
        assert abs(coarse - fine) < 1e-5
        assert value + 1e-6 < coarse <= 1 + 1e-12


def test_theorem16_midpoint_is_the_middle_of_the_range():
    for rho in (0.3, 0.8, 0.95):
        low, high = theorem16_range(rho ** np.arange(3.0))
        assert theorem16_midpoint(rho) == pytest.approx(0.5 * (low + high), abs=1e-15)
        assert low < theorem16_midpoint(rho) < high


def test_trained_members_record_their_worst_case_before_and_after():
    fits = train_encoders(8, 1, (0, 1), steps=20, batch=64, test_points=1000)
    value = optimal_worst_case_error(S, D, theorem16_midpoint(RHO))
    for fit in fits:
        assert fit.epsilon == theorem16_midpoint(RHO)
        assert value - 1e-9 <= fit.worst_case <= 1 and value - 1e-9 <= fit.initial_worst_case <= 1
    assert fits[0].initial_worst_case != fits[1].initial_worst_case


@pytest.mark.parametrize("call, name", [
    (lambda: gaussian_worst_case_error(mlp(4, 0), RHO, 0.1), "epsilon"),  # below 1 - s_1: no compatible task
    (lambda: gaussian_worst_case_error(mlp(4, 0), RHO, 1.0), "epsilon"),
    (lambda: gaussian_worst_case_error(mlp(4, 0), 1.0, 0.3), "rho"),
    (lambda: gaussian_worst_case_error(mlp(4, 0), 0.0, 0.3), "rho"),
    (lambda: gaussian_worst_case_error(mlp(4, 0), RHO, 0.3, nodes=4), "nodes"),
    (lambda: gaussian_worst_case_error(mlp(4, 0), RHO, 0.3, nodes=64.5), "nodes"),
    (lambda: theorem16_midpoint(0.0), "rho"),
    (lambda: theorem16_midpoint(1.0), "rho"),
])
def test_bad_arguments_name_themselves(call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call()
