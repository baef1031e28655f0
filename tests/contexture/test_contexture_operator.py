"""Contexture library: exact identities, closed-form spectra, objectives, optimality."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmtheory import contexture as cx
from mmtheory.contexture import objectives as obj
from mmtheory.numerics import principal_cosines


def random_context(seed: int, N: int = 40, M: int = 60, density: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    P = rng.random((N, M)) * (rng.random((N, M)) < density)
    P[np.arange(N), rng.integers(0, M, N)] += 0.01  # every x and (almost surely) a has mass
    P[rng.integers(0, N, M), np.arange(M)] += 0.01
    return P / P.sum()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), N=st.integers(3, 12), M=st.integers(3, 12))
def test_svd_identities_on_random_contexts(seed, N, M):
    P = random_context(seed, N, M, density=0.5)
    S = cx.context_svd(P)
    px, pa = S.px, S.pa
    k = min(N, M)
    assert S.s[0] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(S.mu[:, 0], 1.0, atol=1e-10)
    np.testing.assert_allclose(S.nu[:, 0], 1.0, atol=1e-10)
    np.testing.assert_allclose(S.mu.T @ (px[:, None] * S.mu), np.eye(N), atol=1e-10)  # orthonormal in L2(P_X)
    T = cx.expectation_operator(P)
    Tstar = (P / pa).T
    np.testing.assert_allclose(T @ S.nu, S.mu[:, :k] * S.s[:k], atol=1e-10)  # T nu_i = s_i mu_i
    np.testing.assert_allclose(Tstar @ S.mu[:, :k], S.nu * S.s[:k], atol=1e-10)  # T* mu_i = s_i nu_i
    recon = (S.mu[:, :k] * S.s[:k]) @ S.nu.T  # Lemma 4: P / (px pa) = sum_i s_i mu_i nu_i
    np.testing.assert_allclose(recon, P / np.outer(px, pa), atol=1e-9)
    eig = np.sort(np.linalg.eigvals(cx.dual_kernel(P) * px).real)[::-1]  # T_{k_X} = T T* has eigenvalues s^2
    np.testing.assert_allclose(eig, S.s**2, atol=1e-10)


def test_empirical_context_converges_to_the_table():
    P = cx.hypercube_context(3, 0.4)
    rng = np.random.default_rng(0)
    n = 200_000
    cells = rng.choice(P.size, size=n, p=P.ravel())
    x, a = np.divmod(cells, P.shape[1])
    P_hat, values = cx.empirical_context(x, a, N=P.shape[0])
    full = np.zeros_like(P)
    full[:, values] = P_hat
    se = np.sqrt(P * (1 - P) / n)
    assert np.all(np.abs(full - P) <= 5 * se + 1e-12)  # every cell within five standard errors
    s_hat = cx.context_svd(P_hat).s
    np.testing.assert_allclose(s_hat[:8], cx.hypercube_spectrum(3, 0.4), atol=0.02)


def test_constant_comes_first_when_the_context_splits():
    # two pieces that share no context value: s = 1 twice, and an SVD may return any basis of that block
    P = np.array([[0.435, 0.0, 0.0], [0.0, 0.402, 0.0], [0.0, 0.013, 0.150]])
    P /= P.sum()
    S = cx.context_svd(P)
    np.testing.assert_allclose(S.s[:2], 1.0, atol=1e-12)
    np.testing.assert_allclose(S.mu[:, 0], 1.0, atol=1e-12)
    np.testing.assert_allclose(S.nu[:, 0], 1.0, atol=1e-12)
    np.testing.assert_allclose(cx.expectation_operator(P) @ S.nu, S.mu * S.s, atol=1e-12)
    assert abs(S.px @ S.mu[:, 1]) < 1e-12  # the second piece-contrast is centred


@pytest.mark.parametrize("seed", range(5))
def test_nystrom_estimate_of_the_gaussian_context(seed):
    # rho = 0.5: the Mehler kernel's diagonal has a finite second moment only for rho^2 < 1/3
    rng = np.random.default_rng(seed)
    s2, mu_hat = cx.nystrom_contexture(lambda a, b: cx.mehler_kernel(a, b, 0.5), rng.standard_normal(1000), 3)
    np.testing.assert_allclose(s2, 0.25 ** np.arange(1, 4), atol=0.02)  # measured worst 0.0093 over seeds 0-4
    test = rng.standard_normal(4000)
    cos = principal_cosines(mu_hat(test), cx.hermite_functions(test, 3)[:, 1:])
    # measured over seeds 0-4: the top two >= 0.999996; the third, whose s^2 = 1/64 is closest to the
    # sampling noise, 0.9815 at worst
    assert cos[1] > 0.9999 and cos[2] > 0.97


def test_mehler_kernel_is_the_dual_kernel_of_the_gaussian_grid():
    P, grid = cx.gaussian_context(0.6)
    inner = np.abs(grid) <= 3
    np.testing.assert_allclose(cx.dual_kernel(P)[np.ix_(inner, inner)],
                               cx.mehler_kernel(grid[inner], grid[inner], 0.6), rtol=1e-8)


def test_plain_svd_of_the_table_gives_the_wrong_functions():
    P = random_context(1)
    S = cx.context_svd(P)
    U = np.linalg.svd(P)[0]
    assert principal_cosines(U[:, 1:4], S.mu[:, 1:4], S.px).min() < 0.99


def test_gaussian_context_has_hermite_singular_functions():
    rho = 0.6
    P, u = cx.gaussian_context(rho)
    S = cx.context_svd(P)
    np.testing.assert_allclose(S.s[:10], rho ** np.arange(10), atol=1e-10)
    H = cx.hermite_functions(u, 6)
    for k in range(1, 7):  # each mu_k is He_k / sqrt(k!) up to sign, in L2(P_X)
        assert abs(S.px @ (S.mu[:, k] * H[:, k])) == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_hypercube_masking_spectrum_and_parities(p):
    n = 5
    S = cx.context_svd(cx.hypercube_context(n, p))
    np.testing.assert_allclose(S.s, cx.hypercube_spectrum(n, p), atol=1e-12)
    start = 1
    for level in range(1, n):
        width = cx.parities(n, level).shape[1]
        cos = principal_cosines(S.mu[:, start : start + width], cx.parities(n, level), S.px)
        np.testing.assert_allclose(cos, 1.0, atol=1e-9)
        start += width


def test_ring_walk_spectrum_is_fourier():
    S = cx.context_svd(cx.ring_context(30, 2.5))
    np.testing.assert_allclose(S.s, cx.ring_spectrum(30, 2.5), atol=1e-12)
    j = np.arange(30)
    fourier = np.stack([np.cos(2 * np.pi * j / 30), np.sin(2 * np.pi * j / 30)], axis=1)
    np.testing.assert_allclose(principal_cosines(S.mu[:, 1:3], fourier), 1.0, atol=1e-9)


def test_balanced_label_noise_spectrum():
    classes = np.repeat(np.arange(4), 5)
    S = cx.context_svd(cx.label_context(classes, eta=0.3))
    np.testing.assert_allclose(S.s[1:4], 0.7, atol=1e-12)
    np.testing.assert_allclose(S.s[4:], 0.0, atol=1e-12)
    indicators = np.eye(4)[classes]
    np.testing.assert_allclose(principal_cosines(S.mu[:, 1:4], indicators), 1.0, atol=1e-9)


def test_mixing_moves_the_spectrum_the_way_the_operator_algebra_says():
    P1, P2 = cx.ring_context(24, 1.0), cx.ring_context(24, 3.0)
    s1, s2 = cx.context_svd(P1).s, cx.context_svd(P2).s
    conv = cx.context_svd(cx.convolve(P1, cx.expectation_operator(P2))).s
    np.testing.assert_allclose(conv, np.sort(_ring_product(24, 1.0, 3.0))[::-1], atol=1e-12)
    assert np.all(conv <= np.minimum(s1, s2) + 1e-12)
    cat = cx.context_svd(cx.concatenate(P1, P2)).s[:24]
    assert np.all(cat >= np.maximum(s1, s2) - 1e-12)
    mix = cx.context_svd(cx.convex_mix([P1, P2], [0.5, 0.5])).s
    assert np.all(mix <= np.maximum(s1, s2) + 1e-12)


def _ring_product(N, a, b):
    """Fourier multipliers of two commuting ring walks multiply."""
    k = np.arange(N)
    mult = lambda sig: np.cos(2 * np.pi * np.outer(k, k) / N) @ cx.ring_weights(N, sig)  # noqa: E731
    return np.abs(mult(a) * mult(b))


def test_compatibility_closed_form_matches_direct_maximisation():
    P = random_context(2)
    S = cx.context_svd(P)
    f = np.random.default_rng(3).standard_normal(P.shape[0])
    # direct: max_g <f~, T g> / (|f~| |g|) is the largest singular value of the map g -> <f~, Tg>
    fc = f - S.px @ f
    T = cx.expectation_operator(P)
    row = (S.px * fc) @ T / np.sqrt(S.pa)  # <f~, T g> with g = D_A^{-1/2} h, |g| = |h|
    direct = np.linalg.norm(row) / np.sqrt(S.px @ fc**2)
    assert cx.compatibility(f, S) == pytest.approx(direct, rel=1e-10)
    assert cx.compatibility(S.mu[:, 1], S) == pytest.approx(S.s[1], abs=1e-12)


def test_theorem14_as_printed_fails_for_a_compatible_task():
    """A task with compatibility 0.945 (eps = 0.055 < 1/2) that no exact representer g (Tg = f) serves:
    the conditional variance of every such g is 2(|g|^2 - |f|^2), and the least-norm one already exceeds 4 eps |g|^2."""
    P, _ = cx.gaussian_context(0.95)
    S = cx.context_svd(P)
    f = S.mu[:, 1] + 0.1 * S.mu[:, 40]
    eps = 1 - cx.compatibility(f, S)
    assert 0.05 < eps < 0.06
    adjoint, exact = cx.representers(f, P)
    assert exact.fit_error < 1e-10  # T g = f: the representer the printed statement promises
    assert exact.variance_ratio > 4 * eps * 5  # the printed bound fails by a factor above five
    u = cx.coefficients(f, S)
    harmonic = (u @ u) / np.sum(u[:160] ** 2 / S.s[1:161] ** 2)  # |f|^2 / |g|^2 for the least-norm g
    # computed from the table, E(g^2 | x) - E(g | x)^2 cancels digits where s_i is tiny: agreement to 1e-4
    assert exact.variance_ratio == pytest.approx(2 * (1 - harmonic), rel=1e-4)
    # the corrected statement: g = T* f meets the variance bound, and T g is within sqrt(1 - rho^2) of f
    rho2 = (1 - eps) ** 2
    assert adjoint.variance_ratio <= 2 * (1 - rho2) <= 4 * eps
    assert 0.1 < adjoint.fit_error <= np.sqrt(1 - rho2)


@pytest.mark.parametrize("seed", range(6))
def test_adjoint_representer_meets_the_corrected_theorem14(seed):
    rng = np.random.default_rng(seed)
    P = random_context(seed) if seed % 2 else cx.gaussian_context(rng.uniform(0.5, 0.99), n=41, span=6)[0]
    S = cx.context_svd(P)
    f = S.mu[:, 1:6] @ rng.standard_normal(5) + rng.uniform(0, 0.5) * rng.standard_normal(P.shape[0])
    rho2 = cx.compatibility(f, S) ** 2
    adjoint, exact = cx.representers(f, P)
    assert adjoint.variance_ratio <= 2 * (1 - rho2) + 1e-12
    assert adjoint.fit_error <= np.sqrt(1 - rho2) + 1e-12
    if exact is not None:  # any exact representer pays at least 2 (1 - harmonic mean of s_i^2) >= 2 (1 - rho^2)
        assert exact.fit_error < 1e-6 and exact.variance_ratio >= 2 * (1 - rho2) - 1e-9


def test_representers_outside_the_range_of_T_and_bad_input():
    P = random_context(0, N=50, M=20)  # rank at most 20 < 49 non-constant directions
    S = cx.context_svd(P)
    adjoint, exact = cx.representers(S.mu[:, 30], P)
    assert exact is None and adjoint.fit_error == pytest.approx(1.0)
    with pytest.raises(ValueError, match="f is constant"):
        cx.representers(np.ones(50), P)
    with pytest.raises(ValueError, match="shape"):
        cx.representers(np.ones(3), P)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_worst_case_error_theorem16(seed):
    P = random_context(seed)
    S = cx.context_svd(P)
    d = 3
    lo, hi = cx.theorem16_range(S.s)
    eps = 0.5 * (lo + hi)
    formula = cx.optimal_worst_case_error(S.s, d, eps)
    value, f = cx.worst_case_error(S.mu[:, 1 : d + 1], S, eps)
    assert value == pytest.approx(formula, abs=1e-9)
    assert cx.compatibility(f, S) >= 1 - eps - 1e-9  # the worst task is in F_eps ...
    assert cx.probe_error(S.mu[:, 1 : d + 1], f, S.px) == pytest.approx(value, abs=1e-9)  # ... and attains it
    # the adversarial task of the proof: sqrt(1-A) mu_1 + sqrt(A) mu_{d+1}
    adversary = np.sqrt(1 - formula) * S.mu[:, 1] + np.sqrt(formula) * S.mu[:, d + 1]
    assert cx.compatibility(adversary, S) == pytest.approx(1 - eps, abs=1e-9)
    assert cx.probe_error(S.mu[:, 1 : d + 1], adversary, S.px) == pytest.approx(formula, abs=1e-9)
    rng = np.random.default_rng(seed)
    for _ in range(20):  # random encoders never beat the top-d encoder
        assert cx.worst_case_error(rng.standard_normal((P.shape[0], d)), S, eps)[0] >= formula - 1e-9
    # brute force from inside F_eps: random compatible tasks never exceed the dual's value
    best = 0.0
    for _ in range(2000):
        g = rng.standard_normal(P.shape[0])
        t = rng.uniform(0, 1)
        h = np.sqrt(1 - t) * S.mu[:, 1 : d + 2] @ rng.standard_normal(d + 1) + np.sqrt(t) * g
        if cx.compatibility(h, S) >= 1 - eps:
            best = max(best, cx.probe_error(S.mu[:, 1 : d + 1], h / np.sqrt(S.px @ (h - S.px @ h) ** 2), S.px))
    assert best <= value + 1e-9


def test_ratio_trace_is_maximal_for_the_contexture_and_invariant():
    P = random_context(4)
    S = cx.context_svd(P)
    rng = np.random.default_rng(0)
    d = 4
    top = S.mu[:, 1 : d + 1]
    best = np.sum(S.s[1 : d + 1] ** 2)
    assert cx.ratio_trace(top, P) == pytest.approx(best, rel=1e-10)
    assert cx.ratio_trace(top @ rng.standard_normal((d, d)) + 3.0, P) == pytest.approx(best, rel=1e-10)
    for _ in range(20):
        assert cx.ratio_trace(rng.standard_normal((P.shape[0], d)), P) < best


def test_tau_metric_and_decay_rate():
    s = cx.hypercube_spectrum(6, 0.5)
    tau, curve = cx.tau_metric(s, 10)
    assert tau == curve.min() and tau >= 1
    expected = 1 / (1 - s[2:12] ** 2) + np.cumsum(s[1:11] ** 2) / np.sum(s[1:11] ** 2)
    np.testing.assert_allclose(curve, expected)
    disconnected = np.array([1.0, 1.0, 1.0, 0.5, 0.2])  # s_2 = 1: three connected pieces
    tau, curve = cx.tau_metric(disconnected, 2)
    assert np.isinf(curve[0]) and np.isfinite(curve[1]) and tau == curve[1]
    rate = cx.decay_rate(np.exp(-0.3 * np.arange(20) / 2), 10)
    assert rate == pytest.approx(0.3, abs=1e-6)


# --------------------------------------------------------------------------- objectives


@pytest.fixture(scope="module")
def ctx():
    P = random_context(0)
    return P, torch.tensor(P), cx.context_svd(P)


def _span_ok(Phi, S, d):
    return principal_cosines(Phi, S.mu[:, 1 : d + 1], S.px).min() > 0.999


def test_spectral_contrastive_table_reaches_the_minimum_and_the_span(ctx):
    P, Pt, S = ctx
    d = 3
    Psi, _, curve = obj.fit_table(lambda Y: obj.spectral_contrastive_loss(Y, Pt), S.pa, d, steps=1500)
    assert curve[-1] == pytest.approx(obj.contrastive_minimum(S.s, d), abs=1e-4)
    assert _span_ok(cx.expectation_operator(P) @ Psi, S, d)  # the average encoder T Psi learns the contexture


def test_noncontrastive_with_penalty_reaches_the_minimum(ctx):
    P, Pt, S = ctx
    d = 3
    Psi, _, curve = obj.fit_table(lambda Y: obj.noncontrastive_loss(Y, Pt, 0.7), S.pa, d, steps=1500)
    assert curve[-1] == pytest.approx(obj.noncontrastive_minimum(S.s, d, 0.7), abs=1e-4)
    assert _span_ok(cx.expectation_operator(P) @ Psi, S, d)


def test_balanced_mse_learns_the_contexture_and_plain_mse_does_not(ctx):
    P, Pt, S = ctx
    d, M = 3, P.shape[1]
    Phi, _, curve = obj.fit_table(lambda F, W, b: obj.balanced_mse_loss(F, W, b, Pt), S.px, d,
                                  extra_shapes=[(M, d), (M,)], steps=2500)
    assert curve[-1] == pytest.approx(obj.balanced_mse_minimum(S.s, d, M), abs=1e-4)
    assert _span_ok(Phi, S, d)
    plain, _, _ = obj.fit_table(lambda F, W: obj.mse_loss(F, W, Pt), S.px, d, extra_shapes=[(M, d)], steps=2500)
    assert principal_cosines(plain, S.mu[:, 1 : d + 1], S.px).min() < 0.9


def test_plain_mse_and_the_autoencoder_learn_their_loss_kernel_operators(ctx):
    P, Pt, S = ctx
    d = 3
    for side, table_p, context, other in (("inputs", S.px, Pt, P.shape[1]), ("context", S.pa, Pt.T, P.shape[0])):
        values, functions = obj.loss_kernel_spectrum(P, side)
        kernel = P / P.sum(1, keepdims=True) if side == "inputs" else (P / P.sum(0)).T  # P(a | x) or P(x | a)
        gram = kernel @ kernel.T  # k(x, x') = sum_a P(a|x) P(a|x'): the operator acts by f -> gram @ (p f)
        np.testing.assert_allclose(gram @ (table_p[:, None] * functions[:, :4]), functions[:, :4] * values[:4],
                                   atol=1e-12)
        fit, _, curve = obj.fit_table(lambda F, W, c=context: obj.mse_loss(F, W, c), table_p, d,
                                      extra_shapes=[(other, d)], steps=2500)
        assert curve[-1] == pytest.approx(obj.plain_mse_minimum(P, d, side), abs=1e-6)
        assert principal_cosines(fit, functions[:, :d], table_p).min() > 1 - 1e-6


def test_the_optimality_widget_rotates_away_from_the_formula():
    import matplotlib.pyplot as plt

    for d, sharp in ((1, True), (2, False), (3, True)):
        fig = plt.figure()
        formula, errors = cx.draw_optimality_state(fig, d, 0.5)
        plt.close(fig)
        assert errors[0] == pytest.approx(formula, abs=1e-9) and errors.min() >= formula - 1e-12
        assert (errors.max() > 2 * formula) == sharp  # only where the spectrum has a gap at d
    with pytest.raises(ValueError, match="d"):
        cx.draw_optimality_state(plt.figure(), 4, 0.5)


def test_the_loss_kernel_is_the_contexture_when_the_context_is_uniform():
    P = cx.ring_context(24, 2.0, lazy=True)  # P_A uniform: T Lambda T* = T T* / M, the constant on top
    S = cx.context_svd(P)
    values, functions = obj.loss_kernel_spectrum(P)
    np.testing.assert_allclose(values[:5], S.s[:5] ** 2 / P.shape[1], rtol=1e-10)
    assert principal_cosines(functions[:, :3], S.mu[:, :3], S.px).min() > 1 - 1e-10
    with pytest.raises(ValueError, match="side"):
        obj.loss_kernel_spectrum(P, "targets")


def test_laplacian_eigenmaps_on_a_lazy_ring():
    P = cx.ring_context(30, 2.0, lazy=True)
    S = cx.context_svd(P)
    Pt = torch.tensor(P)
    Phi, _, curve = obj.fit_table(lambda F: obj.eigenmap_loss(F, Pt, 1.0), S.px, 4, steps=1500)
    assert curve[-1] == pytest.approx(obj.eigenmap_minimum(S.s, 4, 1.0), abs=1e-4)
    assert _span_ok(Phi, S, 4)  # d = 4 sits at a multiplicity boundary (pairs of Fourier modes)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, match", [
    (lambda: cx.context_svd(np.array([[0.5, 0.0], [0.5, 0.0]])), "every column"),
    (lambda: cx.context_svd(np.array([[0.6, 0.6], [0.0, 0.0]])), "sum to 1"),
    (lambda: cx.gaussian_context(1.2), "rho"),
    (lambda: cx.knn_context(np.zeros((5, 2)), 5), "K must be"),
    (lambda: cx.optimal_worst_case_error(cx.hypercube_spectrum(4, 0.5), 0, 0.4), "d must be"),
    (lambda: cx.optimal_worst_case_error(cx.hypercube_spectrum(4, 0.5), 2, 0.1), "epsilon must be"),
    (lambda: cx.tau_metric(cx.hypercube_spectrum(3, 0.5), 7), "d0 must be"),
    (lambda: cx.label_context(np.array([0, 1, 5]), 0.1, C=3), "classes must lie"),
    (lambda: cx.convex_mix([cx.ring_context(5, 1.0)], [0.5]), "weights must be"),
    (lambda: cx.empirical_context(np.array([0, 5]), np.array([1, 1]), N=3), "x and a must be"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_duality_residuals_vanish_and_catch_a_wrong_svd(monkeypatch):
    for N, M in ((40, 60), (30, 12)):
        residuals = cx.duality_residuals(random_context(0, N, M))
        assert list(residuals) == ["s_0 - 1", "mu_0 - 1", "orthonormality in L2(P_X)", "T nu_i - s_i mu_i",
                                   "T* mu_i - s_i nu_i", "spectral decomposition", "eigenvalues of T T* - s^2"]
        assert max(residuals.values()) < 1e-10
    import dataclasses

    from mmtheory.contexture import operator

    good = operator.context_svd
    monkeypatch.setattr(operator, "context_svd", lambda P: dataclasses.replace(good(P), s=good(P).s * 1.01))
    assert cx.duality_residuals(random_context(0))["T nu_i - s_i mu_i"] > 1e-4


def test_closed_form_residuals_match_the_formulas():
    rows = cx.closed_form_residuals()
    assert [row[0] for row in rows] == ["Gaussian, rho = 0.6", "hypercube, n = 6, p = 0.3",
                                        "ring, N = 40, sigma = 2", "labels, C = 5, eta = 0.25"]
    for name, err, cos, what in rows:
        assert err < 1e-10, name
        assert cos == pytest.approx(1.0, abs=1e-10), name


def test_nested_cluster_context_has_a_strong_top_and_clear_gaps():
    S = cx.context_svd(cx.nested_cluster_context())
    assert S.s[1] > 0.95 and S.s[1] - S.s[2] > 0.15 and S.s[3] - S.s[4] > 0.5
    low, high = cx.theorem16_range(S.s)
    assert low < 0.05 and high - low > 0.08  # a range of epsilon below one half, wide enough to see
    with pytest.raises(ValueError, match="noise"):
        cx.nested_cluster_context(noise=1.0)


def test_loss_mixture_and_concatenated_encoders_the_official_codes_operations():
    P1, P2 = cx.ring_context(16, 0.7), cx.ring_context(16, 2.0)
    s_loss, mu = cx.loss_mixture([P1, P2], [0.3, 0.7])
    s_joint = cx.context_svd(cx.convex_mix([P1, P2], [0.3, 0.7])).s
    assert np.all(s_loss >= s_joint - 1e-12) and np.any(s_loss > s_joint + 1e-3)  # Jensen, strict somewhere
    px = P1.sum(1)
    np.testing.assert_allclose(mu.T @ (px[:, None] * mu), np.eye(16), atol=1e-10)  # orthonormal in L2(P_X)
    assert cx.loss_mixture([P1, P2], [1.0, 0.0])[0] == pytest.approx(cx.context_svd(P1).s, abs=1e-10)
    E = cx.concatenated_encoders([P1, P2], [2, 2])
    assert E.shape == (16, 4) and np.linalg.matrix_rank(E, tol=1e-8) == 2
    with pytest.raises(ValueError, match="same law of X"):
        cx.loss_mixture([P1, cx.nested_cluster_context(N=16, M=16)], [0.5, 0.5])
    with pytest.raises(ValueError, match="one dimension per context"):
        cx.concatenated_encoders([P1, P2], [2])
