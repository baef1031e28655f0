"""Context quality: the mask-rate sweet spot is an estimation effect; KNN on two moons is U-shaped, tau is not."""

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mmtheory.contexture import (cca_r2, context_svd, draw_mask_rate_state, estimated_contexture,
    hypercube_context, hypercube_spectrum, hypercube_target, knn_quality, knn_spectrum, mask_rate_sweep,
    parities, plot_knn_quality, plot_mask_rate, run_knn_quality, run_mask_rate, sample_masked_pairs,
    tau_metric, two_moons)
from mmtheory import contexture as cx  # noqa: E402
from mmtheory.numerics import nested_ridge_predict, principal_cosines, ridge_predict
from mmtheory.registry import experiments  # noqa: E402

pytestmark = pytest.mark.usefixtures("quiet")  # conftest: no progress bars, figures closed


@pytest.fixture(scope="module")
def mask_quick():
    return mask_rate_sweep("quick")


@pytest.fixture(scope="module")
def knn_quick():
    return knn_quality("quick")


# --------------------------------------------------------------------------- masking: sampler and estimator


def test_sampler_follows_the_context_table():
    n, p, n_pre = 3, 0.4, 200_000
    x, a = sample_masked_pairs(n, p, n_pre, np.random.default_rng(0))
    freq = np.zeros((2**n, 3**n))
    np.add.at(freq, (x, a), 1.0 / n_pre)
    # each cell is a binomial frequency with sd <= sqrt(0.25 / 2e5) ~ 0.0011, so 0.006 is > 5 sd
    assert np.abs(freq - hypercube_context(n, p)).max() < 0.006


@pytest.mark.parametrize("p", [0.3, 0.7])
def test_estimator_converges_to_the_exact_contexture(p):
    n, d = 5, 15  # levels 1 and 2: a multiplicity boundary
    exact = context_svd(hypercube_context(n, p)).mu[:, 1 : d + 1]
    s2 = hypercube_spectrum(n, p) ** 2
    worst_cos, spectrum_err = [], []
    for n_pre in (1_000, 10_000, 100_000):
        x, a = sample_masked_pairs(n, p, n_pre, np.random.default_rng(n_pre))
        s2_hat, mu_hat = estimated_contexture(n, x, a, d)
        worst_cos.append(principal_cosines(mu_hat, exact).min())
        spectrum_err.append(np.abs(s2_hat - s2).max())
    # measured over 5 seeds: smallest cosine 0.25 / 0.97 / 0.9974 at p = 0.3 and 0.01 / 0.93 / 0.994 at p = 0.7
    # (1 - cos falls like 1/n_pre); the largest |s2_hat - s2| 0.24 / 0.05 / 0.012 (falls like n_pre^-1/2)
    assert worst_cos[2] > 0.99 and worst_cos[1] > 0.85 and worst_cos[0] < worst_cos[2]
    assert spectrum_err[0] > spectrum_err[1] > spectrum_err[2] and spectrum_err[2] < 0.03


def test_estimated_encoder_is_orthonormal_and_starts_at_one():
    x, a = sample_masked_pairs(4, 0.5, 5_000, np.random.default_rng(1))
    s2, mu = estimated_contexture(4, x, a, 10)
    w = np.bincount(x, minlength=16) / x.size
    assert s2[0] == 1.0 and np.all(np.diff(s2) <= 1e-12) and s2.shape == (16,)
    np.testing.assert_allclose(w @ mu, 0.0, atol=1e-10)  # centred, under the empirical law of X
    np.testing.assert_allclose(mu.T @ (w[:, None] * mu), np.eye(10), atol=1e-10)


# --------------------------------------------------------------------------- masking: exact vs estimated encoders


@pytest.mark.parametrize("p", [0.05, 0.5, 0.95])
def test_exact_top_d_is_the_low_degree_parities_for_every_p(p):
    n = 6
    span = np.hstack([parities(n, 1), parities(n, 2)])
    mu = context_svd(hypercube_context(n, p)).mu[:, 1 : span.shape[1] + 1]
    assert cca_r2(mu, span) == pytest.approx(1.0, abs=1e-10)


def test_exact_encoder_has_no_sweet_spot(mask_quick):
    # the exact top-d spans the same parities at every p (previous test) and each seed reuses its labels for
    # every p, so the exact error is constant in p: no sweet spot, and no p-dependence at all
    e = mask_quick.error_exact
    np.testing.assert_allclose(e, e[:1].repeat(e.shape[0], axis=0), rtol=0, atol=1e-9)


def test_estimation_creates_a_sweet_spot_in_the_mask_rate():
    r = run_mask_rate(n=6, ps=(0.02, 0.3, 0.95), n_pres=(10_000,), levels=2, n_lab=48, seeds=6, seed=0)
    e, pop = r.error_estimated[0], r.population_error[0]
    # measured over 24 seeds: err(0.3) / min(err(0.02), err(0.95)) <= 0.46 per seed (median ~0.26), and the
    # infinite-label (population) ratio <= 0.22; the margins below hold for every seed
    assert np.all(e[1] < 0.6 * np.minimum(e[0], e[2]))
    assert np.all(pop[1] < 0.3 * np.minimum(pop[0], pop[2]))
    assert np.all(e[1] > r.error_exact[1])  # estimation costs something even at the best p


def test_tau_on_the_hypercube_prefers_weak_association(mask_quick):
    # tau falls monotonically in p here, so it ranks p = 0.95 (the worst estimated encoder) best
    assert np.all(np.diff(mask_quick.tau) < 0)
    assert np.all(np.isfinite(mask_quick.tau)) and np.all(mask_quick.tau >= 1)


# --------------------------------------------------------------------------- KNN on two moons


def test_knn_error_is_lower_at_moderate_k_than_at_the_largest(knn_quick):
    r = knn_quick
    assert r.Ks.tolist() == [3, 10, 50, 150]
    # measured over moon seeds 0..4 at quick scale: err(K=10) / err(K=150) between 0.03 and 0.13
    assert r.best_error[1] < 0.3 * r.best_error[-1]
    # ... while tau ranks the largest K best: tau fails on this toy
    assert r.tau[-1] < r.tau[1]


def test_knn_tau_is_infinite_exactly_where_s_d_plus_one_is_one():
    points, _ = two_moons(200, 0.1, 0)
    s, _ = knn_spectrum(points, 2)
    pieces = int(np.sum(s >= 1 - 1e-10))
    assert pieces > 2  # K = 2 splits the graph
    tau, curve = tau_metric(s, pieces + 3)
    # s_0 .. s_{pieces-1} are 1, so tau_d (which uses s_{d+1}) is infinite exactly for d <= pieces - 2
    assert np.all(np.isinf(curve[: pieces - 2])) and np.all(np.isfinite(curve[pieces - 2 :]))
    assert np.isfinite(tau)
    assert np.isinf(tau_metric(s, pieces - 2)[0])


def test_knn_disconnected_graph_gives_nan_not_arbitrary_errors():
    r = run_knn_quality(n_points=200, Ks=(2, 10), d_max=8, n_lab=20, draws=2, d0=8)
    assert r.pieces[0] > 9 and r.pieces[1] == 1
    assert np.isnan(r.best_error[0]) and r.best_d[0] == 0 and np.isinf(r.tau[0])
    assert np.isfinite(r.best_error[1]) and 1 <= r.best_d[1] <= 8 and np.isfinite(r.tau[1])


def test_nested_ridge_matches_one_fit_per_d():
    rng = np.random.default_rng(0)
    Phi, y = rng.standard_normal((50, 6)), rng.standard_normal(50)
    labelled = np.arange(0, 50, 3)
    nested = nested_ridge_predict(Phi, labelled, y[labelled], 0.1)
    for d in (1, 4, 6):
        np.testing.assert_allclose(nested[:, d - 1], ridge_predict(Phi[:, :d], labelled, y[labelled], 0.1),
                                   atol=1e-12)


# --------------------------------------------------------------------------- results, figures, registry


def test_quick_results_have_the_right_shapes_and_draw(mask_quick, knn_quick):
    r = mask_quick
    M, P, S, N = r.n_pres.size, r.ps.size, r.error_exact.shape[1], 2**r.n
    assert r.d == 6 + 15 and r.error_estimated.shape == r.population_error.shape == r.cca_r2.shape == (M, P, S)
    assert r.spectrum_exact.shape == (P, N) and r.spectrum_estimated.shape == (M, P, N)
    assert r.tau.shape == r.tau_argmin.shape == r.decay.shape == (P,)
    assert np.all((r.cca_r2 >= 0) & (r.cca_r2 <= 1 + 1e-12))
    k = knn_quick
    assert k.errors.shape == k.class_errors.shape == (k.Ks.size, k.d_max, 3)
    assert k.s.shape == (k.Ks.size, k.d0 + 2) and k.best_error.shape == k.tau.shape == (k.Ks.size,)
    for fig in (plot_mask_rate(r), plot_knn_quality(k)):
        assert len(fig.axes) == 3
    fig = plt.figure()
    draw_mask_rate_state(fig, r, float(r.ps[1]))
    assert len(fig.axes) == 2


def test_experiments_are_registered():
    known = experiments()
    assert "mask_rate_sweep" in known and "knn_quality" in known


def test_target_is_unit_variance_inside_the_span():
    f = hypercube_target(6, 2)
    assert f.mean() == pytest.approx(0.0, abs=1e-12) and f.var() == pytest.approx(1.0)
    span = np.hstack([parities(6, 1), parities(6, 2)])
    coef = np.linalg.lstsq(span, f, rcond=None)[0]
    np.testing.assert_allclose(span @ coef, f, atol=1e-12)


@pytest.mark.parametrize("call, name", [
    (lambda: estimated_contexture(3, np.array([0, 1]), np.array([0, 1]), 8), "d"),
    (lambda: estimated_contexture(3, np.array([0, 9]), np.array([0, 1]), 2), "x and a"),
    (lambda: run_mask_rate(ps=(0.0, 0.5)), "ps"),
    (lambda: run_mask_rate(ps=(0.5, 1.0)), "ps"),
    (lambda: run_mask_rate(n_pres=(0,)), "n_pres"),
    (lambda: run_mask_rate(levels=3), "levels"),
    (lambda: run_mask_rate(n=6, n_lab=65), "n_lab"),
    (lambda: run_mask_rate(noise=-1.0), "noise"),
    (lambda: run_knn_quality(Ks=(200,)), "Ks"),
    (lambda: run_knn_quality(d_max=199), "d_max"),
    (lambda: run_knn_quality(d0=500), "d0"),
    (lambda: run_knn_quality(ridge=-1.0), "ridge"),
])
def test_bad_arguments_name_the_argument(call, name):
    # every message starts with the argument's name (escaped: "p (the mask rate)" has parentheses)
    with pytest.raises(ValueError, match="^" + re.escape(name)):
        call()


def test_draw_rejects_a_p_off_the_grid(mask_quick):
    with pytest.raises(ValueError, match="p must be one of the stored mask rates"):
        draw_mask_rate_state(plt.figure(), mask_quick, 0.123)


def test_subspace_estimate_obeys_wedin_and_the_gap_vanishes_at_both_ends_of_the_mask_rate():
    n, d = 5, 15  # parities of degree <= 2 on 5 bits: 5 + 10
    gaps = []
    for p in (0.05, 0.5, 0.95):
        P = cx.hypercube_context(n, p)
        x, a = cx.sample_masked_pairs(n, p, 200_000, np.random.default_rng(1))
        C = np.zeros_like(P)
        np.add.at(C, (x, a), 1.0)
        est = cx.subspace_estimate(P, C, d)
        assert est.gap == pytest.approx((1 - p) - (1 - p) ** 1.5, abs=1e-12)
        assert est.sin_theta <= est.bound  # trivially true when the bound is inf
        gaps.append(est.gap)
    assert gaps[1] > max(gaps[0], gaps[2])
    exact = cx.subspace_estimate(P, P, d)
    assert exact.sin_theta < 1e-6 and exact.noise < 1e-12 and exact.bound < 1e-10
    with pytest.raises(ValueError, match="same shape"):
        cx.subspace_estimate(P, P[:, :3], d)
