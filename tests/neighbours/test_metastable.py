"""Metastable chains: the kernel's structure, its slow eigenvectors, and exact hitting times."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmtheory.contexture import context_svd
from mmtheory.neighbours import metastable as ms
from mmtheory.numerics import principal_cosines


@settings(max_examples=25, deadline=None)
@given(K=st.integers(2, 5), s=st.integers(1, 8), eps=st.floats(0.0, 0.99), seed=st.integers(0, 1000))
def test_kernel_is_symmetric_doubly_stochastic_and_leaves_clusters_with_probability_eps(K, s, eps, seed):
    P, labels = ms.metastable_kernel(K, s, eps, seed)
    assert P.shape == (K * s, K * s) and np.all(P >= 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(P, P.T, atol=1e-15)
    exit_probability = (P * (labels[:, None] != labels[None, :])).sum(axis=1)
    np.testing.assert_allclose(exit_probability, eps, atol=1e-12)
    assert np.linalg.eigvalsh(P).min() >= -eps - 1e-10  # B is PSD and S >= -I (Weyl)


def test_sparse_part_has_at_most_2m_edges_a_row_and_depends_on_the_state():
    B, S, labels = ms.metastable_parts(4, 6, seed=3, m=2)
    assert np.all((S > 0).sum(axis=1) <= 4)
    assert np.all(S[labels[:, None] == labels[None, :]] == 0)
    to_clusters = S @ ms.indicators(labels)  # P(x -> c') for the sparse part
    assert np.ptp(to_clusters[labels == 0], axis=0).max() > 0  # not lumpable: exit laws differ within a cluster


def test_cluster_indicators_are_exact_eigenvectors_at_eps_zero():
    P, labels = ms.metastable_kernel(4, 7, 0.0, seed=1)
    E = ms.indicators(labels)
    np.testing.assert_allclose(P @ E, E, atol=1e-10)
    values, V = ms.top_eigenvectors(P, 5)
    np.testing.assert_allclose(values[:4], 1.0, atol=1e-10)
    assert values[4] < 1 - 1e-3  # every block is irreducible: multiplicity exactly K
    assert ms.cluster_alignment(V[:, :4], labels) == pytest.approx(1.0, abs=1e-10)


def test_top_eigenvectors_are_eigenvectors_orthonormal_and_sorted():
    P, _ = ms.metastable_kernel(3, 5, 0.2, seed=2)
    values, V = ms.top_eigenvectors(P, 6)
    np.testing.assert_allclose(P @ V, V * values, atol=1e-12)
    np.testing.assert_allclose(V.T @ V / P.shape[0], np.eye(6), atol=1e-12)  # orthonormal in L2(uniform)
    assert np.all(np.diff(values) <= 1e-15)
    np.testing.assert_allclose(values, np.sort(np.linalg.eigvalsh(P))[::-1][:6], atol=1e-12)


def test_reversible_nonsymmetric_chain_uses_its_stationary_law():
    # a birth-death chain is reversible; its eigenvalues must come out right and V orthonormal in L2(pi)
    P = np.array([[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.0, 0.5, 0.5]])
    values, V = ms.top_eigenvectors(P, 3)
    np.testing.assert_allclose(values, np.sort(np.linalg.eigvals(P).real)[::-1], atol=1e-12)
    pi = np.array([0.25, 0.5, 0.25])
    np.testing.assert_allclose(V.T @ (pi[:, None] * V), np.eye(3), atol=1e-12)


def test_nonreversible_chain_is_refused():
    P = np.array([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]])  # a drift around a cycle
    with pytest.raises(ValueError, match="reversible"):
        ms.top_eigenvectors(P, 2)


def test_alignment_is_near_one_for_small_eps_and_falls_for_large_eps():
    aligns = {}
    for eps in (0.001, 0.01, 0.1, 0.7):
        P, labels = ms.metastable_kernel(3, 10, eps, seed=0)
        aligns[eps] = ms.cluster_alignment(ms.top_eigenvectors(P, 3)[1], labels)
    assert aligns[0.001] > 0.9999 and aligns[0.01] > 0.999
    assert aligns[0.001] > aligns[0.01] > aligns[0.1] > aligns[0.7]
    assert aligns[0.7] < 0.6


def test_alignment_of_orthonormal_vectors_is_the_share_explained_by_cluster_means():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 5)
    V = np.linalg.qr(rng.standard_normal((15, 2)))[0] * np.sqrt(15)  # orthonormal in L2(uniform)
    means = ms.indicators(labels) @ (ms.indicators(labels).T @ V / 5)  # each column's cluster means
    share = np.sum(means**2) / np.sum(V**2)
    assert ms.cluster_alignment(V, labels) == pytest.approx(share, rel=1e-12)


def test_davis_kahan_bound_holds_and_residual_is_linear_in_eps():
    K, s = 3, 10
    for eps in (0.001, 0.01, 0.05, 0.1, 0.2):
        P, labels = ms.metastable_kernel(K, s, eps, seed=4)
        _, V = ms.top_eigenvectors(P, K)
        sine = np.sqrt(1 - principal_cosines(V, ms.indicators(labels), centred=False).min() ** 2)
        assert sine <= ms.davis_kahan_bound(P, labels) + 1e-12
    P, labels = ms.metastable_kernel(K, s, 0.0, seed=4)
    assert ms.davis_kahan_bound(P, labels) == pytest.approx(0.0, abs=1e-12)


def test_top_eigenvectors_are_the_contexture_of_the_next_state():
    P, labels = ms.metastable_kernel(3, 8, 0.05, seed=5)
    values, V = ms.top_eigenvectors(P, 3)
    svd = context_svd(P / P.shape[0])  # joint law of (state, next state) under the uniform stationary law
    np.testing.assert_allclose(svd.s[:3], values, atol=1e-12)
    np.testing.assert_allclose(principal_cosines(svd.mu[:, :3], V, centred=False), 1.0, atol=1e-10)


def test_hitting_time_matches_hand_computations():
    a = 0.07
    assert ms.hitting_time(np.array([[1 - a, a], [0.3, 0.7]]), [0], [1]) == pytest.approx(1 / a, rel=1e-12)
    P = np.array([[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.0, 0.5, 0.5]])
    # h0 = 1 + h0/2 + h1/2, h1 = 1 + h0/4 + h1/2  =>  h0 = 8, h1 = 6
    assert ms.hitting_time(P, [0], [2]) == pytest.approx(8.0, rel=1e-12)
    assert ms.hitting_time(P, [0, 1], [2]) == pytest.approx(7.0, rel=1e-12)
    assert ms.hitting_time(P, [2], [2]) == 0.0


@pytest.mark.parametrize("s, seed", [(1, 0), (6, 1), (15, 2)])
def test_two_clusters_are_left_after_exactly_one_over_eps_steps(s, seed):
    for eps in (0.3, 0.01, 1e-4):
        P, labels = ms.metastable_kernel(2, s, eps, seed)
        target = np.flatnonzero(labels == 1)
        for x in np.flatnonzero(labels == 0):
            assert ms.hitting_time(P, [x], target) == pytest.approx(1 / eps, rel=1e-8)


def test_hitting_time_grows_like_one_over_eps_towards_the_meta_chain():
    K, s, seed = 4, 6, 7
    _, S, labels = ms.metastable_parts(K, s, seed)
    h_meta = ms.hitting_time(ms.meta_chain(S, labels), [0], [K - 1])
    target = np.flatnonzero(labels == K - 1)
    scaled = []
    for eps in (1e-2, 1e-3, 1e-4):
        P, _ = ms.metastable_kernel(K, s, eps, seed)
        scaled.append(eps * ms.hitting_time(P, [0], target))
    assert scaled[2] / scaled[1] == pytest.approx(1.0, abs=5e-3)  # E tau ~ 1/eps
    # E tau = h_M / eps + O(1) (the time spent inside clusters): the gap to h_M shrinks ten-fold a decade
    gaps = [abs(x - h_meta) for x in scaled]
    assert gaps[1] < gaps[0] / 5 and gaps[2] < gaps[1] / 5
    assert scaled[2] == pytest.approx(h_meta, rel=1e-3)


def test_hitting_time_is_infinite_when_clusters_are_closed():
    P, labels = ms.metastable_kernel(3, 4, 0.0, seed=0)
    assert ms.hitting_time(P, [0], np.flatnonzero(labels == 2)) == np.inf
    assert ms.hitting_time(P, [0], [1]) < np.inf  # same cluster: reachable


def test_meta_chain_of_a_lumpable_chain_gives_exact_hitting_times():
    K, s, seed = 3, 5, 1
    B, S, labels = ms.metastable_parts(K, s, seed)
    Q = ms.meta_chain(S, labels)
    np.testing.assert_allclose(Q.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.diag(Q), 0.0, atol=1e-15)
    S_bar = Q[labels][:, labels] / s  # every state of a cluster gets the cluster's average exit law
    eps = 0.05
    P = (1 - eps) * B + eps * S_bar
    h_meta = ms.hitting_time(Q, [0], [K - 1])
    assert ms.hitting_time(P, [0], np.flatnonzero(labels == K - 1)) == pytest.approx(h_meta / eps, rel=1e-10)


@pytest.mark.parametrize("kwargs, name", [
    ({"K": 1, "s": 3, "eps": 0.1}, "K"),
    ({"K": 2.0, "s": 3, "eps": 0.1}, "K"),
    ({"K": 3, "s": 0, "eps": 0.1}, "s"),
    ({"K": 3, "s": True, "eps": 0.1}, "s"),
    ({"K": 3, "s": 2, "eps": 1.0}, "eps"),
    ({"K": 3, "s": 2, "eps": -0.01}, "eps"),
    ({"K": 3, "s": 2, "eps": 0.1, "m": 0}, "m"),
])
def test_bad_kernel_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        ms.metastable_kernel(**kwargs)


def test_bad_arguments_elsewhere_name_the_argument():
    P, labels = ms.metastable_kernel(2, 3, 0.1)
    with pytest.raises(ValueError, match="^k "):
        ms.top_eigenvectors(P, 7)
    with pytest.raises(ValueError, match="^P "):
        ms.top_eigenvectors(P[:, :5], 2)
    with pytest.raises(ValueError, match="^P "):
        ms.hitting_time(2 * P, [0], [5])
    with pytest.raises(ValueError, match="^start_states "):
        ms.hitting_time(P, [6], [5])
    with pytest.raises(ValueError, match="^target_states "):
        ms.hitting_time(P, [0], [])
    with pytest.raises(ValueError, match="^vectors "):
        ms.cluster_alignment(np.ones((5, 2)), labels)
    with pytest.raises(ValueError, match="^labels "):
        ms.meta_chain(P, labels[:-1])


def test_plot_singular_thread_draws_the_hub_and_five_spokes(quiet):
    import matplotlib

    matplotlib.use("Agg")
    from mmtheory.neighbours import plot_singular_thread

    fig = plot_singular_thread()
    [ax] = fig.axes
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 6 and texts[-1].startswith("Part III: contexture")
    assert len(ax.lines) == 5  # one spoke per neighbour
    assert tuple(fig.get_size_inches()) == (9.6, 4.9)
