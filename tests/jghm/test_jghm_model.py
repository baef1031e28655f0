from itertools import product

import numpy as np
import pytest

from mmtheory.jghm import leaf_joint, leaves_given_root, paired_ingredients, paired_trees, transition_matrices


def test_transition_rows_are_laws_and_share_their_draws_across_p():
    T0 = transition_matrices(3, 2, 4, 0.0, np.random.RandomState(7))
    T3 = transition_matrices(3, 2, 4, 0.3, np.random.RandomState(7))
    np.testing.assert_allclose(T3.sum(axis=-1), 1.0)
    assert set(np.unique(T0)) == {0.0, 1.0}  # p = 0: permutations
    noise = (T3 - 0.7 * T0) / 0.3
    T5 = transition_matrices(3, 2, 4, 0.5, np.random.RandomState(7))
    np.testing.assert_allclose(T5, 0.5 * T0 + 0.5 * noise)


def test_paired_trees_rebuilt_by_hand_from_the_seed():
    """The order of the draws (text tree first; per layer one permutation, then m Gaussian matrices) and
    T = (1 - p) Pi + p softmax(G) with the same draws at every p (moved here from the model chapter)."""
    S, L, m = 10, 4, 3
    rng = np.random.RandomState(42)
    hand = {}
    for tree in ("text", "image"):  # the text tree is drawn first
        for d in range(L):
            Pi = np.identity(S)[rng.permutation(S)]
            for c in range(m):
                G = rng.normal(0.0, 1.0, (S, S))
                hand[tree, d, c] = (Pi, np.exp(G) / np.exp(G).sum(axis=1, keepdims=True))
    ingredients = paired_ingredients(L, m, S, seed=42)
    assert ingredients.keys() == hand.keys()
    for key, (Pi, noise) in hand.items():
        assert np.array_equal(ingredients[key][0], Pi)
        np.testing.assert_allclose(ingredients[key][1], noise, rtol=0, atol=1e-15)
    for p in (0.0, 0.1, 0.3):
        text, image = paired_trees(L, m, S, p=p, seed=42)
        for tree, T in (("text", text), ("image", image)):
            for d in range(L):
                for c in range(m):
                    Pi, noise = hand[tree, d, c]
                    np.testing.assert_allclose(T[d, c], (1 - p) * Pi + p * noise, rtol=0, atol=1e-15)
    text0, image0 = paired_trees(L, m, S, p=0.0, seed=42)
    for T in (text0, image0):  # p = 0: permutations, shared by the slots of a layer
        assert np.isin(T, (0, 1)).all() and (T.sum(-1) == 1).all() and (T.sum(-2) == 1).all()
        assert (T == T[:, :1]).all()


def test_paired_ingredients_with_one_branching_per_layer():
    ingredients = paired_ingredients(2, (2, 1), 3, seed=7)
    assert sorted(k for k in ingredients if k[0] == "image") == [("image", 0, 0), ("image", 0, 1), ("image", 1, 0)]
    _, image = paired_trees(2, (2, 1), 3, p=0.25, seed=7)
    for d, layer in enumerate(image):
        for c in range(len(layer)):
            Pi, noise = ingredients["image", d, c]
            np.testing.assert_allclose(layer[c], 0.75 * Pi + 0.25 * noise, atol=1e-15)


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
