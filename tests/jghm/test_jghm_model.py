from itertools import product

import numpy as np
import pytest

from mmtheory.jghm import leaf_joint, leaves_given_root, paired_trees, transition_matrices


def test_transition_rows_are_laws_and_share_their_draws_across_p():
    T0 = transition_matrices(3, 2, 4, 0.0, np.random.RandomState(7))
    T3 = transition_matrices(3, 2, 4, 0.3, np.random.RandomState(7))
    np.testing.assert_allclose(T3.sum(axis=-1), 1.0)
    assert set(np.unique(T0)) == {0.0, 1.0}  # p = 0: permutations
    noise = (T3 - 0.7 * T0) / 0.3
    T5 = transition_matrices(3, 2, 4, 0.5, np.random.RandomState(7))
    np.testing.assert_allclose(T5, 0.5 * T0 + 0.5 * noise)


def test_leaf_law_matches_enumeration_over_the_hidden_nodes():
    text, image = paired_trees(2, 2, 3, 0.3, seed=3)
    A = leaves_given_root(image)
    for a in range(3):
        for leaves in [(0, 1, 2, 0), (2, 2, 1, 0)]:
            total = 0.0
            for b0, b1 in product(range(3), repeat=2):  # the two depth-1 nodes
                total += (image[0, 0, a, b0] * image[0, 1, a, b1] * image[1, 0, b0, leaves[0]]
                          * image[1, 1, b0, leaves[1]] * image[1, 0, b1, leaves[2]] * image[1, 1, b1, leaves[3]])
            index = int(np.dot(leaves, [27, 9, 3, 1]))
            assert A[a, index] == pytest.approx(total, rel=1e-12)
    P = leaf_joint(text, image)
    assert P.shape == (81, 81) and P.sum() == pytest.approx(1.0)


def test_large_trees_are_refused():
    with pytest.raises(ValueError, match="too large to enumerate"):
        leaves_given_root(transition_matrices(4, 3, 10, 0.2, np.random.RandomState(0)))


@pytest.mark.parametrize("kwargs, message", [({"depth": 0}, "depth must be"), ({"p": 1.5}, "p must be in")])
def test_bad_tree_arguments(kwargs, message):
    args = {"depth": 2, "branching": 2, "n_symbols": 3, "p": 0.2, "rng": np.random.RandomState(0)} | kwargs
    with pytest.raises(ValueError, match=message):
        transition_matrices(**args)


def test_draw_jghm_state_draws_the_trees_and_the_posteriors():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mmtheory.jghm import draw_jghm_state

    fig = plt.figure()
    try:
        draw_jghm_state(fig, p=0.2, seed=1)
        assert len(fig.axes) == 2
        tree, posterior = fig.axes
        assert tree.images[0].get_array().shape == (9, 81)  # 4 image depths, the root, 4 text depths
        assert len(posterior.patches) >= 20  # ten bars per modality
    finally:
        plt.close(fig)
