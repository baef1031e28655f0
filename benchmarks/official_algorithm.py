r"""The algorithm of the official JGHM code, re-implemented as the benchmark's baseline.

The official code of Oko et al. (2025) (``ghmclip``, ``src/ghmclip/data/data_random_GHM.py`` in
github.com/willcai7/Multimodal-GHM) samples and runs belief propagation one tree node at a time,
each node's values or messages batched over the samples as an ``(S, B)`` numpy array:

* sampling: for every child of every node, one uniform per sample compared with the cumulative
  row of the parent's symbol (``argmax`` of the first exceedance);
* the root posterior (``BP_CLS``): a leaf's message is ``log T[:, x]``; a parent's is the sum of its
  children's ``log(T @ exp(h))``, shifted by its maximum;
* the denoising posterior (``BP_DNS``): Gaussian leaf log-likelihoods, the same upward sums, then
  down the tree ``beta_v = h_v + log(T.T @ exp(beta_u - q_v))``, shifted by its maximum.

This is that algorithm written afresh (no code copied), with two liberties that can only make it
faster: numpy arrays throughout (the original converts sampled values to Python lists), and the
translation-invariant matrices read from one ``(m, S, S)`` layer rather than a per-node list.
``benchmarks/jghm_throughput.py`` times :mod:`mmtheory.jghm` against it, and with ``--official PATH``
against the official class ``GHMTree`` too: on 2026-12-01 (2 threads, ``B = 10,000``,
``JGHM.paper(p=0.2)``, ``benchmarks/results/jghm_throughput.json``) this module's passes ran within
noise of ``GHMTree.BP_CLS`` and ``GHMTree.BP_DNS`` on the same trees (ratios 0.9 to 1.3 over several
runs), its posteriors agreeing to 1e-14, and its sampler faster.
"""

from __future__ import annotations

import numpy as np


def sample(T_image, T_text, prior, n: int, rng: np.random.Generator):
    """``n`` (root, image leaves, text leaves) draws, node by node: ints ``(n,)``, ``(n, n_im)``, ``(n, n_tx)``."""
    root = rng.choice(len(prior), size=n, p=prior)
    return root, _sample_tree(T_image, root, rng), _sample_tree(T_text, root, rng)


def _sample_tree(T, root: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    nodes = [root]
    for layer in T:
        cdf = np.cumsum(layer, axis=-1)  # (m, S, S)
        children = []
        for parent in nodes:
            for c in range(layer.shape[0]):
                u = rng.random((parent.shape[0], 1))
                children.append((u < cdf[c][parent]).argmax(axis=1))
        nodes = children
    return np.stack(nodes, axis=1)


def _upward(T, leaf_message):
    """Messages ``h`` (per depth, per node, ``(S, B)``) and ``q`` sent to parents, all kept for a downward
    pass, as ``BP_DNS`` keeps them; the leaves' ``h`` and ``q`` come from ``leaf_message``."""
    L = len(T)
    h, q = [None] * (L + 1), [None] * (L + 1)
    h[L], q[L] = leaf_message(T[-1])
    for d in range(L - 1, -1, -1):
        m = T[d].shape[0]
        h[d] = []
        for j in range(len(q[d + 1]) // m):
            h[d].append(_sum_of(q[d + 1][m * j + c] for c in range(m)))
        if d > 0:
            m_up = T[d - 1].shape[0]
            q[d] = [np.log(T[d - 1][j % m_up] @ np.exp(h[d][j])) for j in range(len(h[d]))]
    return h, q


def _sum_of(messages) -> np.ndarray:
    """A parent's message: the sum of its children's, accumulated in place, shifted by its maximum."""
    first, *rest = messages
    total = first.copy()
    for message in rest:
        total += message
    total -= total.max(axis=0)
    return total


def root_message(T, leaves: np.ndarray) -> np.ndarray:
    """The root's upward log-message ``(S, B)`` (max-normalised) from observed leaves ``(B, n_leaves)``,
    parent by parent as ``BP_CLS`` runs it (each child's message made when its parent needs it)."""
    values, m = leaves.T, T[-1].shape[0]  # (n_leaves, B)
    h = [_sum_of(np.log(T[-1][c][:, values[m * j + c]]) for c in range(m)) for j in range(len(values) // m)]
    for layer in reversed(T[:-1]):
        m = layer.shape[0]
        h = [_sum_of(np.log(layer[c] @ np.exp(h[m * j + c])) for c in range(m)) for j in range(len(h) // m)]
    return h[0]


def root_posterior(T, leaves: np.ndarray, prior) -> np.ndarray:
    """:math:`\\pi(x_r \\mid \\text{leaves})` ``(B, S)`` as ``BP_CLS`` computes it, from leaves ``(B, n_leaves)``."""
    root = root_message(T, leaves) + np.log(prior)[:, None]
    e = np.exp(root - root.max(axis=0))
    return (e / e.sum(axis=0)).T


def denoising_mean(T, z: np.ndarray, prior, sigma: float, external: np.ndarray | None = None) -> np.ndarray:
    """:math:`\\mathbb E[x_{\\rm leaf} \\mid z, \\cdot]` ``(B, n_leaves)`` as ``BP_DNS`` computes it; ``external``
    ``(S, B)`` is the other tree's root message (:func:`root_message`), the prior's log is added at the root."""
    S = T[0].shape[-1]
    values = np.arange(S, dtype=float)[:, None]

    def leaf_message(layer):
        m = layer.shape[0]
        hs = [-0.5 * (row[None, :] - values) ** 2 / sigma**2 for row in z.T]
        return hs, [np.log(layer[k % m] @ np.exp(hk)) for k, hk in enumerate(hs)]

    h, q = _upward(T, leaf_message)
    beta = h[0][0] + np.log(prior)[:, None]
    if external is not None:
        beta = beta + external
    beta = [beta]
    for d, layer in enumerate(T, start=1):
        m = layer.shape[0]
        down = []
        for j, hj in enumerate(h[d]):
            b = hj + np.log(layer[j % m].T @ np.exp(beta[j // m] - q[d][j]))
            b -= b.max(axis=0)
            down.append(b)
        beta = down
    means = [values[:, 0] @ np.exp(b) / np.exp(b).sum(axis=0) for b in beta]
    return np.stack(means, axis=1)
