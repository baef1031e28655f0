"""Part IV, when the modalities differ: the 2 x 2 reduction, whitening, the blind minimax step, the per-modality
streams and the one-way floor, checked against explicit matrices, Monte Carlo and the closed forms."""

import math

import numpy as np
import pytest
import torch

from mmtheory.icl import (
    CrossAttentionStack,
    LatentFactorModel,
    ModalityStack,
    OneWayStack,
    TwoModalityLaw,
    blind_step,
    ca_excess,
    lsa_optimum,
    minimax_steps,
    modal_excess,
    one_way_floor,
    optimal_alpha,
    sample_modal_prompts,
    train_in_context,
    weighted_spectrum,
    whitened_steps,
)

NOISY = TwoModalityLaw(shares=(0.5, 0.5), noise=(1.0, 0.1))  # modality 2 ten times less noisy
SILENT = TwoModalityLaw(shares=(1.0, 0.0))  # modality 2 carries no signal


def _explicit_excess(law, steps, T, n_tasks, seed):
    """The population excess of preconditioned gradient descent task by task, with the full d x d matrices (the
    average over theta in closed form): mean and standard error over tasks."""
    rng = np.random.default_rng(seed)
    P = np.diag(np.repeat(steps, law.dims))
    D = np.diag(np.repeat(law.noise, law.dims))
    values = []
    for _ in range(n_tasks):
        lam = rng.uniform(law.m_low, law.m_high, law.k)
        V = np.linalg.qr(rng.standard_normal((law.k, law.k)))[0]
        U = [np.linalg.qr(rng.standard_normal((d, d)))[0][:, :law.k] for d in law.dims]
        A = np.vstack([math.sqrt(g) * u for g, u in zip(law.shares, U)]) * np.sqrt(lam) @ V.T
        Sigma = A @ A.T + D
        E = np.linalg.matrix_power(np.eye(law.d) - P @ Sigma, T) @ np.linalg.solve(Sigma, A)  # e_T = -E theta
        values.append(np.trace(E.T @ Sigma @ E) / law.k)  # theta ~ N(0, I/k)
    return np.mean(values), np.std(values) / math.sqrt(n_tasks)


@pytest.mark.parametrize("steps, T", [((0.1, 0.6), 3), ((0.3, 0.3), 5)])
def test_the_two_by_two_reduction_matches_the_full_matrices(steps, T):
    mean, se = _explicit_excess(NOISY, steps, T, 3000, seed=T)
    assert abs(modal_excess(steps, T, NOISY) - mean) < 4 * se


def test_per_modality_steps_are_whitening():
    white = NOISY.whitened()
    for T in (1, 4, 16):
        alpha = optimal_alpha(T, white)
        assert whitened_steps(T, NOISY) == pytest.approx((alpha / 1.0, alpha / 0.1))
        assert modal_excess(whitened_steps(T, NOISY), T, NOISY) == pytest.approx(ca_excess(alpha, T, white), rel=1e-9)


@pytest.mark.parametrize("tau2", [0.25, 1.0, 3.0])
def test_equal_noise_minimax_step_is_two_over_two_tau_squared_plus_the_bounds(tau2):
    law = TwoModalityLaw(shares=(0.9, 0.1), noise=(tau2, tau2))
    (blind, _), rho = minimax_steps(law)["blind"]
    assert blind == pytest.approx(2 / (2 * tau2 + law.m_low + law.m_high))
    assert minimax_steps(law)["whitened"][0] == pytest.approx((blind, blind))
    assert rho == pytest.approx(minimax_steps(law)["whitened"][1])
    for T in (2, 8):  # with equal noise the shares do not matter: blind and aware coincide
        assert modal_excess((blind_step(T, law),) * 2, T, law) == pytest.approx(
            modal_excess(whitened_steps(T, law), T, law), rel=1e-6)


def test_unequal_noise_slows_the_blind_stack_and_not_the_aware_one():
    factors = minimax_steps(NOISY)
    assert factors["blind"][1] > factors["whitened"][1] + 0.1
    low, _ = weighted_spectrum(NOISY)
    assert low == pytest.approx(np.linalg.eigvalsh(NOISY.block(np.array([0.5])))[0, 0])
    for T in (4, 16):
        assert modal_excess(whitened_steps(T, NOISY), T, NOISY) < modal_excess((blind_step(T, NOISY),) * 2, T, NOISY) / 5


def test_the_tuned_blind_step_approaches_the_minimax_step():
    (blind, _), _ = minimax_steps(NOISY)["blind"]
    gaps = [blind - blind_step(T, NOISY) for T in (8, 32, 128)]
    assert all(g > 0 for g in gaps) and gaps[2] < gaps[1] < gaps[0] and gaps[2] < 0.02 * blind


def test_the_oracle_of_the_two_modality_law():
    p = sample_modal_prompts(NOISY, 4000, 12, seed=0)
    residual = (p.yq - (p.w * p.xq).sum(-1)) ** 2
    se = float(residual.std()) / math.sqrt(len(residual))
    assert abs(float(residual.mean()) - float(p.oracle_risk.mean())) < 3 * se
    long = sample_modal_prompts(NOISY, 20, 40_000, seed=1)  # w is the regression coefficient of each task
    normal = (long.X.transpose(1, 2) @ (long.y - (long.X @ long.w[:, :, None])[..., 0])[:, :, None])[..., 0] / 40_000
    assert float(normal.abs().max()) < 6 / math.sqrt(40_000)


def test_the_tied_stack_is_preconditioned_gradient_descent():
    p = sample_modal_prompts(NOISY, 50, 40, seed=2)
    stack = ModalityStack(NOISY.dims, T=6)
    free = ModalityStack(NOISY.dims, T=6, gains="free")
    with torch.no_grad():
        stack.alpha.copy_(torch.tensor([0.07, 0.6], dtype=torch.float64))
        free.alpha.copy_(stack.alpha)
        free.beta.copy_(-stack.alpha.expand(2, 2))
    Sigma = p.X.transpose(1, 2) @ p.X / 40
    c = (p.X.transpose(1, 2) @ p.y[:, :, None])[..., 0] / 40
    P, v = torch.tensor([0.07] * 6 + [0.6] * 4, dtype=torch.float64), torch.zeros_like(c)
    for _ in range(6):
        v = v + P * (c - (Sigma @ v[:, :, None])[..., 0])
    with torch.no_grad():
        assert torch.allclose(stack(p), (v * p.xq).sum(-1), atol=1e-10)
        assert torch.allclose(free(p), stack(p), atol=1e-12)
        blind = ModalityStack(NOISY.dims, T=6, blind=True, alpha0=0.2)
        assert torch.allclose(blind(p), CrossAttentionStack(NOISY.d, 6, alpha0=0.2)(p), atol=1e-12)


def test_a_one_way_stack_on_a_silent_modality_stays_above_the_one_layer_floor():
    floor = one_way_floor(SILENT)
    assert floor == pytest.approx(lsa_optimum(LatentFactorModel((6,), 4, 0.5, 4.0))[1])
    p = sample_modal_prompts(SILENT, 4000, 60, seed=3)
    torch.manual_seed(0)
    for T in (1, 3):
        stack = OneWayStack(SILENT.dims, T)
        with torch.no_grad():
            for weight in (stack.W_Q, stack.W_V):
                weight.add_(0.3 * torch.randn_like(weight))
            gaps = (stack(p) - (p.w * p.xq).sum(-1)) ** 2
        assert float(gaps.mean()) > floor - 3 * float(gaps.std()) / math.sqrt(len(gaps))
    trained = train_in_context(ModalityStack(SILENT.dims, 6), SILENT, L=200, steps=60, batch=64, lr=2e-2,
                               eval_prompts=1000, seed=0)
    assert trained.excess[-1] + 3 * trained.excess_se < floor  # the two-way stack goes below it


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="noise"):
        TwoModalityLaw(noise=(1.0, 0.0))
    with pytest.raises(ValueError, match="shares"):
        TwoModalityLaw(shares=(0.0, 0.0))
    with pytest.raises(ValueError, match="k"):
        TwoModalityLaw(dims=(6, 3), k=4)
    with pytest.raises(ValueError, match="steps"):
        modal_excess((0.1, -0.1), 2, NOISY)
    with pytest.raises(ValueError, match="L"):
        sample_modal_prompts(NOISY, 4, 10)
    with pytest.raises(ValueError, match="shares"):
        one_way_floor(NOISY)
    with pytest.raises(ValueError, match="gains"):
        ModalityStack(gains="loose")
    with pytest.raises(ValueError, match="dims"):
        OneWayStack(dims=(6,))
