"""Belief propagation against brute-force enumeration of tiny trees, for every posterior it returns."""

import numpy as np
import pytest
import torch

from mmtheory.jghm import JGHM, bp, leaf_joint, leaves_given_root

TINY = [
    JGHM.paper(p=0.3, depth=2, branching=2, n_symbols=3, seed=42),
    JGHM.paper(p=0.5, depth=2, branching=(2, 1), n_symbols=3, seed=7, p_image=0.15, prior=[0.5, 0.3, 0.2]),
    JGHM.paper(p=0.0, depth=2, branching=2, n_symbols=3, seed=1),  # permutations only: zeros everywhere
]


def configurations(n_leaves: int, S: int) -> torch.Tensor:
    """Every leaf configuration, in the order of :func:`leaves_given_root` (first leaf most significant)."""
    index = np.arange(S**n_leaves)
    digits = [(index // S ** (n_leaves - 1 - i)) % S for i in range(n_leaves)]
    return torch.as_tensor(np.stack(digits, 1))


def joint(model):
    return leaf_joint(model.text, model.image, model.prior)  # rows image, columns text


@pytest.mark.parametrize("model", TINY)
def test_root_posteriors_and_clip_score(model):
    S = model.n_symbols
    images, texts = configurations(model.n_leaves("image"), S), configurations(model.n_leaves("text"), S)
    for modality, leaves in (("image", images), ("text", texts)):
        likelihood = leaves_given_root(model.tree(modality)).T * model.prior  # (configs, S)
        seen = likelihood.sum(1) > 0
        exact = likelihood[seen] / likelihood[seen].sum(1, keepdims=True)
        np.testing.assert_allclose(bp.root_posterior(model, modality, leaves[seen]).numpy(), exact, atol=1e-12)
    P = joint(model)
    rows, cols = P.sum(1) > 0, P.sum(0) > 0
    seen = P[np.ix_(rows, cols)]
    with np.errstate(divide="ignore"):
        pmi = np.log(seen / np.outer(seen.sum(1), seen.sum(0)))
    score = bp.clip_score(model, images[rows], texts[cols]).numpy()
    finite = np.isfinite(pmi)
    assert np.array_equal(finite, np.isfinite(score))
    np.testing.assert_allclose(score[finite], pmi[finite], atol=1e-9)


@pytest.mark.parametrize("model", TINY)
def test_label_posterior(model):
    S = model.n_symbols
    images, texts = configurations(model.n_leaves("image"), S), configurations(model.n_leaves("text"), S)
    P = joint(model)
    seen = P.sum(1) > 0
    label = np.stack([P[:, texts[:, 0].numpy() == c].sum(1) for c in range(S)], 1)[seen]
    np.testing.assert_allclose(bp.label_posterior(model, images[seen]).numpy(),
                               label / label.sum(1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(bp.label_prior(model), label.sum(0) / label.sum(), atol=1e-12)


@pytest.mark.parametrize("model", TINY)
def test_denoising_mean(model):
    S, rng = model.n_symbols, np.random.default_rng(0)
    images, texts = configurations(model.n_leaves("image"), S), configurations(model.n_leaves("text"), S)
    P, sigma = joint(model), 0.7
    possible = np.flatnonzero(P.sum(0) > 0)
    for t in rng.choice(possible, size=min(5, possible.size), replace=False):
        z = images[rng.integers(len(images))].double() + sigma * torch.as_tensor(rng.normal(size=images.shape[1]))
        weight = P[:, t] * np.exp(-((z.numpy() - images.numpy()) ** 2).sum(1) / (2 * sigma**2))
        exact = weight @ images.numpy() / weight.sum()
        got = bp.denoising_mean(model, z[None], texts[t][None], sigma)[0].numpy()
        np.testing.assert_allclose(got, exact, atol=1e-9)
        weight = P.sum(1) * np.exp(-((z.numpy() - images.numpy()) ** 2).sum(1) / (2 * sigma**2))
        np.testing.assert_allclose(bp.denoising_mean(model, z[None], None, sigma)[0].numpy(),
                                   weight @ images.numpy() / weight.sum(), atol=1e-9)


@pytest.mark.parametrize("model", TINY)
def test_next_token_posteriors(model):
    S = model.n_symbols
    images, texts = configurations(model.n_leaves("image"), S), configurations(model.n_leaves("text"), S)
    P = joint(model)
    rng = np.random.default_rng(1)
    nonzero = np.argwhere(P > 0)
    for i, t in nonzero[rng.choice(len(nonzero), size=min(6, len(nonzero)), replace=False)]:
        got = bp.next_token_posteriors(model, texts[t][None], images[i][None], chunk=1)[0].numpy()
        for j in range(texts.shape[1] - 1):
            agree = (texts[:, : j + 1] == texts[t, : j + 1]).all(1).numpy()
            mass = np.array([P[i, agree & (texts[:, j + 1].numpy() == c)].sum() for c in range(S)])
            np.testing.assert_allclose(got[j], mass / mass.sum(), atol=1e-12)


@pytest.mark.parametrize("model", TINY[:2])
def test_every_node_marginal_against_enumeration(model):
    """Middle nodes too: enumerate the hidden depth-1 nodes of a depth-2 image tree."""
    T, S = model.image, model.n_symbols
    m0, m1 = T[0].shape[0], T[1].shape[0]
    leaves = torch.tensor([[2, 0, 1, 1][: m0 * m1]])
    got = bp.marginals(T, bp.symbol_evidence(leaves, S), model.prior)
    weight = np.zeros((S,) + (S,) * m0)
    for a in range(S):
        for mids in np.ndindex(*(S,) * m0):
            w = model.prior[a] * np.prod([T[0][c, a, mids[c]] for c in range(m0)])
            w *= np.prod([T[1][c, mids[j], leaves[0, j * m1 + c]] for j in range(m0) for c in range(m1)])
            weight[(a,) + mids] = w
    weight /= weight.sum()
    np.testing.assert_allclose(got[0][0, 0].numpy(), weight.reshape(S, -1).sum(1), atol=1e-12)
    for j in range(m0):
        axes = tuple(k for k in range(m0 + 1) if k != j + 1)
        np.testing.assert_allclose(got[1][0, j].numpy(), weight.sum(axis=axes), atol=1e-12)
    np.testing.assert_allclose(got[2][0].numpy(), torch.nn.functional.one_hot(leaves[0], S).numpy(), atol=1e-12)


def test_scaled_and_log_domain_passes_agree_on_the_paper_tree():
    """The fast (scaled probability domain) passes against the log-domain equations, every depth, with
    Gaussian and masked leaves, an outside root message and a branching that changes with depth."""
    model = JGHM.paper(p=0.05, depth=3, branching=(3, 2, 4), n_symbols=6)
    Ts = bp._matrices(model.image, "cpu")
    assert bp._scaling_is_exact(Ts)
    s = model.sample(64, 3)
    gen = torch.Generator().manual_seed(4)
    evidence = bp.gaussian_evidence(s.image + 0.3 * torch.randn(s.image.shape, generator=gen, dtype=torch.float64),
                                    6, sigma=0.3)
    evidence[:, ::5] = 0.0  # unobserved leaves
    outside = torch.log(torch.as_tensor(model.prior)) + bp.root_message(model, "text", s.text)
    fast = bp.marginals(model.image, evidence, model.prior, bp.root_message(model, "text", s.text))
    slow = [torch.softmax(b, -1) for b in bp.downward(model.image, bp.upward(model.image, evidence), outside)]
    assert [f.shape for f in fast] == [b.shape for b in slow]
    for f, b in zip(fast, slow):
        torch.testing.assert_close(f, b, rtol=0, atol=1e-12)
    leaves = bp.marginals(model.image, evidence, model.prior, leaves_only=True)
    assert len(leaves) == 1 and leaves[0].shape == (64, 24, 6)
    root = bp.upward(model.text, bp.symbol_evidence(s.text, 6)).root
    torch.testing.assert_close(bp.root_message(model, "text", s.text), root, rtol=0, atol=1e-12)


def test_blocks_of_the_batch_join_up():
    """On the CPU a long batch runs in blocks (of 647 samples for the paper's 81 x 10 leaf evidence); the
    blocked denoising means and leaf marginals equal the log-domain passes over the whole batch."""
    model = JGHM.paper(p=0.2)
    s = model.sample(1500, 6)
    gen = torch.Generator().manual_seed(7)
    z = s.image + torch.randn(s.image.shape, generator=gen, dtype=torch.float64)
    evidence = bp.gaussian_evidence(z, 10)
    outside = torch.log(torch.as_tensor(model.prior)) + bp.root_message(model, "text", s.text)
    whole = torch.softmax(bp.downward(model.image, bp.upward(model.image, evidence), outside)[-1], -1)
    blocked = bp.marginals(model.image, evidence, model.prior, bp.root_message(model, "text", s.text), leaves_only=True)
    torch.testing.assert_close(blocked[0], whole, rtol=0, atol=1e-12)
    mean = whole @ torch.arange(10, dtype=torch.float64)
    torch.testing.assert_close(bp.denoising_mean(model, z, s.text), mean, rtol=0, atol=1e-11)


def test_scaled_passes_are_used_only_where_the_bound_holds():
    layer = np.full((3, 4, 4), 0.25)
    assert bp._scaling_is_exact([torch.as_tensor(layer)])
    assert not bp._scaling_is_exact([torch.as_tensor(TINY[2].image[0])])  # p = 0: zero entries
    tiny = np.full((3, 2, 2), [[1 - 1e-80, 1e-80], [0.5, 0.5]])  # 4 log(1e80) = 737 > 600 nats
    assert not bp._scaling_is_exact([torch.as_tensor(tiny)])


def test_posterior_mean_identity_on_the_paper_tree():
    """For m = E[x | z]: E[m^2] = E[m x] (the official repository's own check)."""
    model = JGHM.paper(p=0.2)
    gen = torch.Generator().manual_seed(0)
    s = model.sample(4000, gen)
    x = s.image.double()
    m = bp.denoising_mean(model, x + torch.randn(x.shape, generator=gen, dtype=torch.float64), s.text)
    gap = ((m * m).sum(1) - (m * x).sum(1)).numpy()
    assert abs(gap.mean()) < 4 * gap.std() / np.sqrt(gap.size)
    assert abs(gap.mean()) < 0.5  # of a summed squared error of about 33


def test_leaf_path_and_bad_input():
    model = JGHM.paper(p=0.2, depth=3, branching=(2, 3, 2), n_symbols=4)
    assert bp.leaf_path(model.text, 0) == [0, 0, 0]
    assert bp.leaf_path(model.text, 11) == [1, 2, 1]  # 11 = (1 * 3 + 2) * 2 + 1
    with pytest.raises(ValueError, match="leaf must be"):
        bp.leaf_path(model.text, 12)
    with pytest.raises(ValueError, match=r"leaf symbols must be in \[0, 3\]"):
        bp.root_posterior(model, "image", torch.full((2, 12), 4))
    with pytest.raises(ValueError, match=r"evidence must have shape \(n, 12, 4\)"):
        bp.upward(model.image, torch.zeros(2, 11, 4))
    with pytest.raises(ValueError, match="leaves must be an integer tensor"):
        bp.symbol_evidence(torch.zeros(2, 12), 4)
    with pytest.raises(ValueError, match="modality must be"):
        bp.root_posterior(model, "audio", torch.zeros(2, 12, dtype=torch.long))


def test_root_recovery_against_the_posteriors():
    model = JGHM.paper(p=0.3, depth=2, branching=2, n_symbols=3, seed=42)
    rows = bp.root_recovery(model, 500, seed=3)
    assert rows.keys() == {"image", "text", "both"}
    pairs = model.sample(500, seed=3, device="cpu")
    S = model.n_symbols
    likelihood = {m: leaves_given_root(model.tree(m)).T for m in ("image", "text")}  # (configs, S)
    weights = S ** np.arange(model.n_leaves("image") - 1, -1, -1)
    lik_im = likelihood["image"][pairs.image.numpy() @ weights]
    lik_tx = likelihood["text"][pairs.text.numpy() @ weights]
    for key, lik in (("image", lik_im), ("text", lik_tx), ("both", lik_im * lik_tx)):
        q = lik * model.prior
        q /= q.sum(1, keepdims=True)
        accuracy = np.mean(q.argmax(1) == pairs.root.numpy())
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy = -np.nansum(q * np.log(q), 1).mean()
        assert rows[key][0] == pytest.approx(accuracy)
        assert rows[key][1] == pytest.approx(entropy, abs=1e-9)
    assert rows["both"][1] <= min(rows["image"][1], rows["text"][1]) + 1e-9  # on average, more evidence
    with pytest.raises(ValueError):
        bp.root_recovery(model, 0)
