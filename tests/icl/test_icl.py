"""Part IV library: the closed forms of the reconstructed cross-attention stack, checked by Monte Carlo and training."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from mmtheory.icl import (CrossAttentionStack, LatentFactorModel, alpha_star, bayes_risk, ca_excess,
    excess_over_oracle, gradient_descent_prediction, lsa_optimum, optimal_alpha, optimal_alpha_beta,
    rho_star, sample_prompts)

MODEL = LatentFactorModel()  # d = 6 + 4, k = 4, spectrum in [0.5, 4]


def test_minimax_step_and_rate():
    assert alpha_star(0.5, 4.0) == pytest.approx(2 / 6.5)
    assert rho_star(0.5, 4.0) == pytest.approx(3.5 / 6.5)
    alphas = np.linspace(0.01, 0.6, 2001)
    worst = np.maximum(abs(1 - alphas * 1.5), abs(1 - alphas * 5.0))
    assert alphas[np.argmin(worst)] == pytest.approx(alpha_star(0.5, 4.0), abs=1e-3)


def test_one_layer_is_the_lsa_optimum_and_lsa_cannot_reach_bayes():
    gamma, excess = lsa_optimum(MODEL)
    assert optimal_alpha(1, MODEL) == pytest.approx(gamma, abs=1e-7)  # a 1-D search finds argmins to ~sqrt(eps)
    assert gamma == pytest.approx(0.2700, abs=2e-4)
    assert excess == pytest.approx(0.0484, abs=1e-3) and excess > 0.04


def test_lsa_is_optimal_without_covariate_shift():
    _, excess = lsa_optimum(LatentFactorModel(m_low=2.0, m_high=2.0))
    assert excess == pytest.approx(0.0, abs=1e-14)


def test_depth_drives_alpha_to_alpha_star_from_below():
    alphas = [optimal_alpha(T, MODEL) for T in (1, 2, 4, 8, 16, 32)]
    assert np.all(np.diff(alphas) > 0) and alphas[-1] < alpha_star(0.5, 4.0)
    assert abs(alphas[-1] - alpha_star(0.5, 4.0)) < 0.005


def test_reference_table_of_minimisers():
    expected = {2: 0.2813, 4: 0.2913, 8: 0.2984, 16: 0.3027, 64: 0.3064, 256: 0.3074}
    for T, alpha in expected.items():
        assert optimal_alpha(T, MODEL) == pytest.approx(alpha, abs=2e-4), T


def log_slope(T1, T2):
    a = alpha_star(0.5, 4.0)
    return (math.log(ca_excess(a, T2, MODEL)) - math.log(ca_excess(a, T1, MODEL))) / (T2 - T1)


def test_excess_decays_at_rate_rho_star_squared_per_layer():
    rate = 2 * math.log(rho_star(0.5, 4.0))
    assert log_slope(128, 256) == pytest.approx(rate, rel=0.005)  # the slope tends to 2 ln rho*
    # ... with the 1/T correction of a spectral density positive at both edges: excess ~ C rho*^(2T) / T
    assert log_slope(32, 64) == pytest.approx(rate - math.log(2) / 32, abs=1e-3)
    for T in (4, 16):
        assert ca_excess(optimal_alpha(T, MODEL), T, MODEL) <= 0.8 * rho_star(0.5, 4.0) ** (2 * T)


def test_two_parameter_variant_ties_beta_to_minus_alpha():
    ratios = {T: -b / a for T, (a, b) in ((T, optimal_alpha_beta(T, MODEL)) for T in (2, 8, 16))}
    assert ratios[2] == pytest.approx(0.927, abs=0.003)
    assert ratios[8] > 0.999 and ratios[16] > 0.999


def test_monte_carlo_oracle_risk_matches_the_formula_within_one_percent():
    chunks = [sample_prompts(MODEL, 20_000, MODEL.d + 1, seed=s, device="cpu") for s in range(10)]
    residual = torch.cat([(p.yq - (p.w * p.xq).sum(-1)) ** 2 for p in chunks])
    assert float(residual.mean()) == pytest.approx(bayes_risk(MODEL), rel=0.01)


def test_cross_attention_stack_equals_gradient_descent():
    p = sample_prompts(MODEL, 64, 40, seed=3, device="cpu")
    for T, step in ((1, 0.1), (5, 0.25), (12, 0.3)):
        stack = CrossAttentionStack(MODEL.d, T, mode="tied", alpha0=step)
        with torch.no_grad():
            torch.testing.assert_close(stack(p), gradient_descent_prediction(p, step, T), rtol=0, atol=1e-12)


def test_full_matrix_stack_starts_as_the_two_parameter_stack():
    p = sample_prompts(MODEL, 32, 30, seed=4, device="cpu")
    with torch.no_grad():
        full, two = CrossAttentionStack(MODEL.d, 4, mode="full", alpha0=0.2), CrossAttentionStack(MODEL.d, 4, "two", 0.2)
        torch.testing.assert_close(full(p), two(p), rtol=0, atol=1e-12)


def test_deep_stack_with_alpha_star_approaches_the_oracle_at_long_context():
    p = sample_prompts(MODEL, 400, 4000, seed=5, device="cpu")
    with torch.no_grad():
        deep = excess_over_oracle(CrossAttentionStack(MODEL.d, 16, alpha0=alpha_star(0.5, 4)).forward(p), p)
        shallow = excess_over_oracle(CrossAttentionStack(MODEL.d, 1, alpha0=lsa_optimum(MODEL)[0]).forward(p), p)
    ols_reference = bayes_risk(MODEL) * MODEL.d / (4000 - MODEL.d - 1)
    assert deep < 3 * ols_reference < shallow


@pytest.mark.parametrize("kwargs, message", [
    ({"m_low": 2.0, "m_high": 1.0}, "0 < m_low <= m_high"), ({"sigma": -0.1}, "sigma must be non-negative"),
    ({"k": 11}, "k must be an integer in"), ({"modality_dims": ()}, "modality_dims"),
])
def test_bad_models_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LatentFactorModel(**kwargs)


def test_bad_depth_and_context_are_rejected():
    with pytest.raises(ValueError, match="L \\(the context length\\) must be an integer > d"):
        sample_prompts(MODEL, 4, MODEL.d)
    with pytest.raises(ValueError, match="mode must be"):
        CrossAttentionStack(10, 2, mode="softmax")


def test_standard_lsa_parametrisation_contains_the_reduced_form():
    from mmtheory.icl import LinearSelfAttention

    p = sample_prompts(MODEL, 16, 30, seed=6, device="cpu")
    Gamma = torch.as_tensor(np.random.default_rng(0).normal(size=(MODEL.d, MODEL.d)))
    full, standard = LinearSelfAttention(MODEL.d, "full"), LinearSelfAttention(MODEL.d, "standard")
    with torch.no_grad():
        full.Gamma.copy_(Gamma)
        standard.W_KQ[: MODEL.d, : MODEL.d] = Gamma  # e_i^T W^KQ e_q = x_i^T Gamma x_q
        torch.testing.assert_close(standard(p), full(p), rtol=0, atol=1e-12)


def test_training_one_layer_at_finite_context_finds_the_erm_step():
    from mmtheory.icl import train_in_context

    result = train_in_context(CrossAttentionStack(MODEL.d, 1, "tied", alpha0=0.05), MODEL, L=200, steps=300,
                              batch=128, lr=2e-2, eval_prompts=1000, record_every=100, device="cpu")
    assert result.excess[-1] < 0.5 * result.excess[0]
    # the ERM step at L = 200, computed: the one-layer prediction is alpha g with g = x_q^T c_hat, so the
    # population excess over the oracle is minimised at alpha = E[g w^T x_q] / E[g^2] (estimated on 40,000 prompts)
    p = sample_prompts(MODEL, 40_000, 200, seed=99)
    g, oracle = gradient_descent_prediction(p, 1.0, 1), (p.w * p.xq).sum(-1)
    alpha_erm = float((g * oracle).mean() / (g * g).mean())
    assert result.parameters["alpha"] == pytest.approx(alpha_erm, abs=0.02)


def test_depth_sweep_experiment_quick():
    from mmtheory.icl import icl_depth_sweep

    r = icl_depth_sweep(scale="quick")
    assert np.all(np.diff(r.alpha_T) > 0) and np.all(r.alpha_T < r.alpha_star)
    assert np.all(np.diff(r.excess_T) < 0) and r.excess_T[0] == pytest.approx(r.lsa_excess, rel=1e-6)
    assert r.beta_over_alpha[-1] > 0.999


def test_ablations_match_the_reference_values_and_need_depth_and_structure():
    from mmtheory.icl import best_variant_excess

    assert best_variant_excess("no_skip", 4, MODEL) == pytest.approx(0.0077, abs=3e-4)
    assert best_variant_excess("no_skip", 32, MODEL) == pytest.approx(0.018, abs=1e-3)
    assert best_variant_excess("no_reinjection", 8, MODEL) == pytest.approx(0.0017, abs=1e-4)
    no_skip = [best_variant_excess("no_skip", T, MODEL) for T in (2, 4, 8, 32)]
    assert np.all(np.diff(no_skip) > 0)  # without the skip connection depth hurts
    assert best_variant_excess("no_reinjection", 32, MODEL) > 1e-3  # without re-injection it plateaus
    assert best_variant_excess("tied", 32, MODEL) < 1e-18  # the full structure goes to zero
    with pytest.raises(ValueError, match="variant must be one of"):
        best_variant_excess("softmax", 2, MODEL)


def test_adding_a_weak_modality_never_hurts():
    from mmtheory.icl import modality_oracle_risks

    for weak in (0.0, 0.2, 1.0):
        risks = modality_oracle_risks(MODEL, weak, n_tasks=4000)
        assert risks["both"] <= min(risks["modality 1"], risks["modality 2 (weak)"]) + 1e-12


def test_finite_context_experiment_quick():
    from mmtheory.icl import icl_finite_context

    r = icl_finite_context(scale="quick", device="cpu")
    assert r.excess_at_alpha_star.shape == (2, 6)
    # at L = 200 deep stacks at alpha* reach the OLS reference, within Monte Carlo error
    assert r.excess_at_alpha_star[1, 3] < 2 * r.ols_reference[1]


def test_softmax_transformer_reads_the_context():
    from mmtheory.icl import SoftmaxTransformer

    torch.manual_seed(0)
    net = SoftmaxTransformer(MODEL.d, width=16, depth=1, heads=4)
    p = sample_prompts(MODEL, 8, 20, seed=0)
    out = net(p)
    assert out.shape == (8,) and out.dtype == torch.float64
    shifted = dataclasses.replace(p, y=p.y + 1.0)
    assert not torch.allclose(net(shifted), out)  # the prediction depends on the context's responses
    with pytest.raises(ValueError, match="width must be a multiple of heads"):
        SoftmaxTransformer(MODEL.d, width=10, heads=4)


def test_softmax_baseline_experiment_quick():
    import matplotlib.pyplot as plt

    from mmtheory.icl import icl_softmax_baseline, plot_softmax_baseline

    r = icl_softmax_baseline(scale="quick", device="cpu")
    assert r.softmax_curve.shape == r.stack_curve.shape == (1, len(r.curve_steps))
    assert r.softmax_curve[0, -1] < r.softmax_curve[0, 0]  # training helps the transformer
    assert r.stack_curve[0, -1] < r.stack_curve[0, 0]
    plt.close(plot_softmax_baseline(r))


def test_softmax_baseline_is_reproducible_whatever_the_global_seed():
    from mmtheory.icl import icl_softmax_baseline

    torch.manual_seed(1)
    first = icl_softmax_baseline(scale="quick", device="cpu")
    torch.manual_seed(2)
    second = icl_softmax_baseline(scale="quick", device="cpu")
    np.testing.assert_array_equal(first.softmax_curve, second.softmax_curve)


def test_von_oswald_layer_is_one_gradient_step_and_zfb_optimum_matches_least_squares():
    from mmtheory.icl import LinearSelfAttention, fit_preconditioner, linear_regression_prompts, zfb_optimum

    spectrum, L = [0.5, 3.0], 8
    p = linear_regression_prompts(spectrum, 100_000, L, seed=3)
    layer = LinearSelfAttention(2, "standard")
    with torch.no_grad():
        layer.W_KQ[:2, :2] = 0.4 * torch.eye(2, dtype=torch.float64)
        torch.testing.assert_close(layer(p), gradient_descent_prediction(p, 0.4, 1), rtol=0, atol=1e-12)
    fitted, formula = fit_preconditioner(p), zfb_optimum(spectrum, L)
    torch.testing.assert_close(fitted, formula, rtol=0.04, atol=0.01)
    assert bool((torch.diagonal(formula) < 1 / torch.tensor(spectrum, dtype=torch.float64)).all())
    with pytest.raises(ValueError, match="positive variances"):
        linear_regression_prompts([1.0, -1.0], 10, 5)
    with pytest.raises(ValueError, match="L must be"):
        zfb_optimum(spectrum, 0)
