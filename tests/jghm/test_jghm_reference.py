"""The per-node reference (mmtheory.jghm.reference) against the vectorised sampler and belief propagation."""

import numpy as np
import pytest
import torch

from mmtheory.jghm import (
    JGHM,
    MAX_TUPLES,
    bp,
    denoising_mean_reference,
    root_message_reference,
    root_posterior_reference,
    sample_reference,
    sampling_tables,
)

MODELS = {
    "paper": lambda: JGHM.paper(p=0.2),
    "per-layer branching": lambda: JGHM.paper(p=0.3, depth=3, branching=(2, 3, 2), n_symbols=4, p_image=0.1),
}


@pytest.mark.parametrize("name", MODELS)
def test_reference_and_vectorised_posteriors_agree(name):
    model = MODELS[name]()
    s = model.sample(10, 0, "cpu")
    image, text = s.image.numpy(), s.text.numpy()
    for modality, leaves in (("image", image), ("text", text)):
        fast = bp.root_posterior(model, modality, torch.as_tensor(leaves)).numpy()
        slow = np.array([root_posterior_reference(model.tree(modality), row, model.prior) for row in leaves])
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-10)
    sigma = 0.7
    z = s.image.double() + sigma * torch.randn(s.image.shape, generator=torch.Generator().manual_seed(1),
                                               dtype=torch.float64)
    for with_text in (True, False):
        fast = bp.denoising_mean(model, z, s.text if with_text else None, sigma).numpy()
        slow = np.array([denoising_mean_reference(model.image, z_row,
                                                  root_message_reference(model.text, t_row) if with_text else None,
                                                  model.prior, sigma) for z_row, t_row in zip(z.numpy(), text)])
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-10)


def test_vectorised_sampler_transition_frequencies_match_the_matrices():
    model = MODELS["per-layer branching"]()
    n = 20_000
    s = model.sample(n, 3, "cpu", nodes=True)
    S = model.n_symbols
    for tree, nodes in ((model.image, s.image_nodes), (model.text, s.text_nodes)):
        assert [x.shape[1] for x in nodes] == [1, 2, 6, 12]
        for d, layer in enumerate(tree):
            m = layer.shape[0]
            parents = nodes[d].numpy()
            children = nodes[d + 1].numpy().reshape(n, parents.shape[1], m)
            for c in range(m):
                counts = np.zeros((S, S))
                np.add.at(counts, (parents.ravel(), children[:, :, c].ravel()), 1)
                total = counts.sum(1, keepdims=True)
                assert total.min() > 1000
                se = np.sqrt(layer[c] * (1 - layer[c]) / total)
                assert np.all(np.abs(counts / total - layer[c]) <= 4 * se + 1e-12), (d, c)


def _leaf_frequencies(leaves: np.ndarray, S: int) -> np.ndarray:
    return np.stack([(leaves == b).mean(0) for b in range(S)], -1)  # (n_leaves, S)


def test_reference_sampler_matches_the_vectorised_sampler():
    model = MODELS["per-layer branching"]()
    S = model.n_symbols
    n_ref, n_vec = 3000, 30_000
    roots, image, text = sample_reference(model.image, model.text, model.prior, n_ref, np.random.default_rng(0))
    assert image.shape == (n_ref, 12) and text.shape == (n_ref, 12) and roots.shape == (n_ref,)
    s = model.sample(n_vec, 4, "cpu")
    for ref, vec in ((roots[:, None], s.root.numpy()[:, None]), (image, s.image.numpy()), (text, s.text.numpy())):
        f_ref, f_vec = _leaf_frequencies(ref, S), _leaf_frequencies(vec, S)
        pooled = (n_ref * f_ref + n_vec * f_vec) / (n_ref + n_vec)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_vec))
        assert np.all(np.abs(f_ref - f_vec) <= 4 * se + 1e-12)
    # and the reference sampler's root-image-text joint: the image leaf given the root follows the matrices
    first_leaf = model.image[0][0] @ model.image[1][0] @ model.image[2][0]
    for a in range(S):
        rows = image[roots == a, 0]
        expected = first_leaf[a]
        se = np.sqrt(expected * (1 - expected) / len(rows))
        assert np.all(np.abs(_leaf_frequencies(rows[:, None], S)[0] - expected) <= 4 * se + 1e-12)


@pytest.mark.parametrize("branching,n_symbols", [((3, 2), 4), (4, 10), (2, 70)])  # g = m; g = 2 of 4; g = 1
def test_alias_tables_hold_the_joint_law_of_each_group_of_children(branching, n_symbols):
    """Walker's alias tables give each tuple of children exactly its joint law (to rounding)."""
    depth = len(branching) if isinstance(branching, tuple) else 1
    model = JGHM.paper(p=0.3, depth=depth, branching=branching, n_symbols=n_symbols)
    S = model.n_symbols
    for layer, (threshold, alias, digits) in zip(model.image, sampling_tables(model.image)):
        K, g = digits.shape
        assert K == S**g and layer.shape[0] % g == 0 and (g == layer.shape[0] or S ** (2 * g) > MAX_TUPLES)
        threshold, alias = threshold.numpy().reshape(-1, K), alias.numpy().reshape(-1, K)
        for r in range(threshold.shape[0]):
            k, a = divmod(r, S)
            law = (threshold[r] + np.bincount(alias[r], weights=1 - threshold[r], minlength=K)) / K
            expected = np.prod([layer[k * g + i][a, digits[:, i].numpy()] for i in range(g)], axis=0)
            np.testing.assert_allclose(law, expected, rtol=0, atol=1e-13)


def test_siblings_drawn_together_are_independent_given_their_parent():
    """The joint of two children of one node is the product of their rows (within 4 standard errors)."""
    model = JGHM.paper(p=0.3, depth=1, branching=3, n_symbols=3)
    n, S = 60_000, 3
    s = model.sample(n, 5, "cpu", nodes=True)
    parent, children = s.image_nodes[0][:, 0].numpy(), s.image_nodes[1].numpy()
    T = model.image[0]
    for a in range(S):
        rows = children[parent == a]
        counts = np.zeros((S, S))
        np.add.at(counts, (rows[:, 0], rows[:, 2]), 1)
        expected = np.outer(T[0][a], T[2][a])
        se = np.sqrt(expected * (1 - expected) / len(rows))
        assert np.all(np.abs(counts / len(rows) - expected) <= 4 * se)
