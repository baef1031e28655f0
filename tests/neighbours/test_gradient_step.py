"""Stage 1 as one gradient step (Part V): the gradient is the loss's, the expected step is the derived one, the
step's noise off S + span w has the derived size, and the step's budget sets how far the rows get into S."""

import math

import numpy as np
import pytest
import torch

from mmtheory.neighbours import (
    BudgetSweep,
    GradientStepSettings,
    SingleIndexTasks,
    expected_correlation,
    gradient_steps,
    large_step,
    learner_from_rows,
    loss_gradient,
    network_output,
    off_plane_energy,
    one_gradient_step,
    predicted_fraction,
    pretraining_loss,
    run_budget_sweep,
    subspace_fraction,
    symmetric_init,
)

pytestmark = pytest.mark.usefixtures("quiet")  # conftest: no progress bars, figures closed


def _unit_rows(m, d, seed):
    W = torch.randn(m, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return W / W.norm(dim=1, keepdim=True)


def test_the_closed_form_gradient_is_autograd_of_the_loss():
    gen = torch.Generator().manual_seed(0)
    d, m, n = 5, 6, 300
    W = torch.randn(m, d, generator=gen, dtype=torch.float64, requires_grad=True)
    b, a = torch.randn(m, generator=gen, dtype=torch.float64), torch.randn(m, generator=gen, dtype=torch.float64)
    x, y = torch.randn(n, d, generator=gen, dtype=torch.float64), torch.randn(n, generator=gen, dtype=torch.float64)
    (auto,) = torch.autograd.grad(pretraining_loss(W, b, a, x, y), W)
    # a generic network (f != 0): same sums, in another order, in float64
    torch.testing.assert_close(loss_gradient(W.detach(), b, a, x, y), auto, rtol=1e-10, atol=1e-12)
    # and a central finite difference in one entry (the loss is piecewise smooth; h far below the kinks' spacing)
    h, E = 1e-6, torch.zeros(m, d, dtype=torch.float64)
    E[2, 3] = h
    with torch.no_grad():
        fd = (pretraining_loss(W + E, b, a, x, y) - pretraining_loss(W - E, b, a, x, y)) / (2 * h)
    assert float(fd) == pytest.approx(float(auto[2, 3]), rel=1e-5, abs=1e-8)


def test_a_symmetric_initialisation_is_the_zero_network_and_its_gradient_the_label_correlation():
    W0, b, a = symmetric_init(7, 6, torch.Generator().manual_seed(1))
    np.testing.assert_allclose(W0.norm(dim=1).numpy(), 1.0, atol=1e-12)
    assert torch.equal(W0[:3], W0[3:]) and torch.equal(b[:3], b[3:]) and torch.equal(a, torch.tensor([1.0] * 3 + [-1.0] * 3, dtype=a.dtype))
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(500, 7, generator=gen, dtype=torch.float64), torch.randn(500, generator=gen, dtype=torch.float64)
    assert float(network_output(W0, b, a, x).abs().max()) < 1e-12
    correlation = ((y[:, None] * (x @ W0.T + b > 0)).T @ x) / 500
    torch.testing.assert_close(loss_gradient(W0, b, a, x, y), -a[:, None] * correlation)


def test_the_expected_step_matches_a_large_sample():
    tasks = SingleIndexTasks(d=6, r=2, noise=0.1)
    U = tasks.subspace(seed=3)
    W0, b, a = symmetric_init(6, 8, torch.Generator().manual_seed(4))
    n = 400_000
    step = one_gradient_step(tasks, U, W0, b, a, n, 1.0, torch.Generator().manual_seed(5))
    g_hat = -step.gradient / a[:, None]
    # per coordinate, Var(y 1 x_k) <= E[y^2 x_k^2] <= sqrt(E y^4 E x_k^4) = sqrt(3 * 15.06) < 7 (He2/sqrt2 link,
    # noise 0.1): sd of a coordinate <= sqrt(7 / n) ~ 0.0042; 5 sd = 0.021
    assert float((g_hat - expected_correlation(W0, b, U)).abs().max()) < 5 * math.sqrt(7 / n)
    # and the expected step is not small against that tolerance (the check can fail)
    assert float(expected_correlation(W0, b, U).abs().max()) > 0.05


def test_the_population_step_lies_in_S_up_to_a_multiple_of_the_row():
    U = SingleIndexTasks(d=20, r=3).subspace(seed=6)
    W = _unit_rows(10, 20, 7)
    b = torch.linspace(-1, 1, 10, dtype=torch.float64)
    g = expected_correlation(W, b, U)
    M = math.sqrt(2) / 3 * U @ U.T
    along = 0.5 * (b * b - 1) * ((W @ M) * W).sum(1) * torch.exp(-b * b / 2) / math.sqrt(2 * math.pi)
    rest = g - along[:, None] * W
    torch.testing.assert_close(rest - rest @ U @ U.T, torch.zeros_like(rest), atol=1e-14, rtol=0)
    torch.testing.assert_close(rest, torch.exp(-b * b / 2)[:, None] / math.sqrt(2 * math.pi) * (W @ M))


@pytest.mark.parametrize("n", [2**11, 2**14])
def test_the_step_off_S_and_the_row_is_noise_of_the_derived_size(n):
    # off S + span w_j, Q_j x is independent of (y, 1{active}): n |Q_j g_j|^2 / tau_hat_j ~ chi2(d - r - 1) exactly
    # given the labels and masks; averaged over 20 independent samples (per row) it is chi2(20 (d - r - 1)) / 20
    tasks = SingleIndexTasks(d=40, r=2)
    U = tasks.subspace(seed=8)
    W0, b, a = symmetric_init(40, 8, torch.Generator().manual_seed(9))
    dof = tasks.d - tasks.r - 1
    ratios = []
    for rep in range(20):
        step = one_gradient_step(tasks, U, W0, b, a, n, 1.0, torch.Generator().manual_seed(100 + rep))
        g_hat = -step.gradient / a[:, None]
        ratios.append((off_plane_energy(g_hat, W0, U) * n / (dof * step.tau)).numpy()[:4])  # 4 distinct rows
    mean = np.mean(ratios, axis=0)
    k = 20 * dof  # chi2(k) / k quantiles at 1e-4 and 1 - 1e-4 (z = 3.72), by the Wilson-Hilferty approximation
    low, high = ((1 - 2 / (9 * k) + z * math.sqrt(2 / (9 * k))) ** 3 for z in (-3.72, 3.72))
    assert np.all((low < mean) & (mean < high)), (mean, low, high)


def test_a_longer_budget_moves_the_rows_into_S_and_a_larger_d_needs_it():
    measured, predicted = {}, {}
    for d in (8, 64):
        tasks = SingleIndexTasks(d=d, r=2)
        U = tasks.subspace(seed=10)
        W0, b, a = symmetric_init(d, 16, torch.Generator().manual_seed(11))
        steps = gradient_steps(tasks, U, W0, b, a, [2**9, 2**16], large_step(d, 2), torch.Generator().manual_seed(12))
        measured[d] = [float(subspace_fraction(s.W1, U).mean()) for s in steps]
        predicted[d] = [float(predicted_fraction(s, U).mean()) for s in steps]
    # the step's noise-to-signal ratio (squared norms) is about pi r d^2 tau / n1 ~ 3 d^2 / n1 at r = 2, b = 0:
    # at n1 = 2^9 it is about 0.4 at d = 8 and 24 at d = 64, so the rows of the larger d stay mostly outside S
    assert measured[64][0] < measured[8][0] - 0.2
    for d in (8, 64):
        assert measured[d][0] < measured[d][1]
    # where that ratio is small (n1 = 2^16: 0.003 and 0.19) the ratio-of-expectations prediction holds to 0.1
    for d in (8, 64):
        assert abs(measured[d][1] - predicted[d][1]) < 0.1


def test_the_learner_built_from_rows_has_those_features():
    W, b = _unit_rows(6, 9, 13), torch.linspace(-1, 1, 6, dtype=torch.float64)
    model = learner_from_rows(W, b)
    x = torch.randn(4, 5, 9, generator=torch.Generator().manual_seed(14), dtype=torch.float64)
    torch.testing.assert_close(model.features(x), torch.relu(x @ W.T + b))


def test_a_tiny_budget_sweep_has_its_shape_and_rows_in_S_grow_with_the_budget():
    result = run_budget_sweep((8, 16), (2**9, 2**13), m=8, n_prompts=200, N_test=16, n_test=100, seeds=1)
    assert isinstance(result, BudgetSweep) and result.errors.shape == (2, 3, 1) == result.fraction.shape
    assert np.all(np.diff(result.fraction[:, :2, 0], axis=1) > 0)
    assert np.all(np.isfinite(result.errors))


def test_bad_inputs_raise_value_errors_naming_the_argument():
    tasks = SingleIndexTasks(d=6, r=2)
    U = tasks.subspace(seed=0)
    W0, b, a = symmetric_init(6, 4, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="m must be even"):
        symmetric_init(6, 5, torch.Generator())
    with pytest.raises(ValueError, match="W must have unit rows"):
        expected_correlation(2 * W0, b, U)
    with pytest.raises(ValueError, match="r must be"):
        large_step(4, 5)
    with pytest.raises(ValueError, match="budgets"):
        gradient_steps(tasks, U, W0, b, a, [100, 100], 1.0, torch.Generator())
    with pytest.raises(ValueError, match="n_examples"):
        one_gradient_step(tasks, U, W0, b, a, 0, 1.0, torch.Generator())
    with pytest.raises(ValueError, match="ds"):
        run_budget_sweep([], [100])
    with pytest.raises(ValueError, match="key"):
        run_budget_sweep((4,), (64,), m=2, n_prompts=10, n_test=10, seeds=1).mean_se("cosine")


def test_settings_sizes_grow_with_the_scale():
    quick, book = GradientStepSettings.for_scale("quick"), GradientStepSettings.for_scale("book")
    assert max(book.ds) > max(quick.ds) and max(book.budgets) > max(quick.budgets)
