r"""A plain, per-sample and per-node reference for the JGHM sampler and belief propagation.

Nothing here is vectorised: every function loops over samples and nodes in plain Python with
numpy, and the two passes of belief propagation are written node by node, the upward one as a
recursion. It is slow on purpose, written to be read and checked against the equations, and it
serves two ends: an independent check of the batched code of :mod:`mmtheory.jghm` (``JGHM.sample``)
and :mod:`mmtheory.jghm.bp`, and the baseline of ``benchmarks/jghm_throughput.py``.

Trees are sequences of ``(m_d, S, S)`` layers, row ``a`` of ``T[d][c]`` the law of child slot
``c`` of a depth-``d`` node in state ``a``; child ``c`` of node ``j`` at depth ``d`` is node
``m_d j + c`` at depth ``d + 1`` (breadth-first), as in :mod:`mmtheory.jghm`.
"""

from __future__ import annotations

import numpy as np
import torch

from ..checks import Integer, Real, constrain
from ..numerics import logsumexp
from .model import JGHM, Sample


def _log(x) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(x, dtype=float))


# --- sampling ---------------------------------------------------------------------------------------


def _draw(law: np.ndarray, rng: np.random.Generator) -> int:
    """One symbol from the probability vector ``law`` (inverse CDF of one uniform)."""
    return min(int(np.searchsorted(np.cumsum(law), rng.random(), side="right")), len(law) - 1)


def _sample_nodes(T, root: int, rng: np.random.Generator) -> list[list[int]]:
    """Every depth below ``root`` (root first), drawn one node at a time, depth by depth."""
    nodes = [[root]]
    for layer in T:
        nodes.append([_draw(layer[c][parent], rng) for parent in nodes[-1] for c in range(len(layer))])
    return nodes


@constrain(n=Integer(1))
def sample_reference(T_image, T_text, prior, n: int, rng: np.random.Generator):
    """``n`` draws of (root, image leaves, text leaves) as int arrays ``(n,)``, ``(n, n_im)``, ``(n, n_tx)``."""
    prior = np.asarray(prior, dtype=float)
    roots, image, text = [], [], []
    for _ in range(n):
        root = _draw(prior, rng)
        roots.append(root)
        image.append(_sample_nodes(T_image, root, rng)[-1])
        text.append(_sample_nodes(T_text, root, rng)[-1])
    return np.array(roots, dtype=np.int64), np.array(image, dtype=np.int64), np.array(text, dtype=np.int64)


@constrain(seed=Integer(0))
def coupled_draw(model: JGHM, seed: int = 0) -> Sample:
    """One draw of ``model`` with every depth (a :class:`Sample` of one, on the CPU), from common random numbers.

    The reference sampler with ``numpy.random.default_rng(seed)``: each node inverts the cumulative law of
    its row at its own uniform, the uniforms taken in a fixed order, so one ``seed`` gives the same
    uniforms for every model of the same shape. Draws of :meth:`JGHM.paper` at two flip probabilities
    are then coupled: a node changes only where the change of ``p`` carries a boundary of its cumulative
    law across its uniform (:meth:`JGHM.sample`, drawing groups of children by the alias method, has no
    such coupling)."""
    rng = np.random.default_rng(seed)
    root = _draw(model.prior, rng)
    image, text = (_sample_nodes(T, root, rng) for T in (model.image, model.text))

    def depths(nodes):
        return [torch.as_tensor([level], dtype=torch.int64) for level in nodes]

    return Sample(root=torch.as_tensor([root]), image=depths(image)[-1], text=depths(text)[-1],
                  image_nodes=depths(image), text_nodes=depths(text))


# --- belief propagation -------------------------------------------------------------------------------


def _upward(T, leaf_evidence: np.ndarray, d: int, j: int, h: dict, q: dict) -> np.ndarray:
    r"""The log-message :math:`h` of node ``j`` at depth ``d`` (evidence below it given its state),
    recursively; stores every node's ``h`` and the message ``q`` it sends its parent."""
    if d == len(T):
        h[d, j] = leaf_evidence[j]
        return h[d, j]
    layer = T[d]
    total = np.zeros(layer.shape[-1])
    for c in range(len(layer)):
        child = len(layer) * j + c
        below = _upward(T, leaf_evidence, d + 1, child, h, q)
        # q_child(a) = log sum_b T(a, b) exp(h_child(b))
        q[d + 1, child] = logsumexp(_log(layer[c]) + below[None, :], axis=1)
        total = total + q[d + 1, child]
    h[d, j] = total
    return total


def _symbol_evidence(leaves_row, S: int) -> np.ndarray:
    evidence = np.full((len(leaves_row), S), -np.inf)
    evidence[np.arange(len(leaves_row)), np.asarray(leaves_row)] = 0.0
    return evidence


def root_message_reference(T, leaves_row) -> np.ndarray:
    r""":math:`h_r(a) = \log p(\text{leaves} \mid x_r = a)` of one sample's observed leaf symbols."""
    T = [np.asarray(layer, dtype=float) for layer in T]
    return _upward(T, _symbol_evidence(leaves_row, T[0].shape[-1]), 0, 0, {}, {})


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def root_posterior_reference(T, leaves_row, prior) -> np.ndarray:
    r""":math:`\pi(x_r \mid \text{leaves})` ``(S,)`` for ONE sample: softmax of :math:`\log\psi + h_r`."""
    return _softmax(_log(prior) + root_message_reference(T, leaves_row))


@constrain(sigma=Real(0, closed="neither"))
def denoising_mean_reference(T_image, z_row, text_message, prior, sigma: float) -> np.ndarray:
    r""":math:`\mathbb E[x_{\rm im, leaf} \mid z, x_{\rm tx}]` for every image leaf of ONE sample.

    ``z_row`` holds the noisy leaves :math:`z = x + \sigma g`; ``text_message`` is the text tree's
    root log-message :math:`h_r^{\rm tx}` (:func:`root_message_reference`), or ``None`` for none.
    Upward pass, then downward with the child's own message divided out:
    :math:`\beta_v(b) = h_v(b) + \log\sum_a T(a, b) \exp(\beta_u(a) - q_v(a))`.
    """
    T = [np.asarray(layer, dtype=float) for layer in T_image]
    S = T[0].shape[-1]
    values = np.arange(S, dtype=float)
    evidence = -((np.asarray(z_row, dtype=float)[:, None] - values[None, :]) ** 2) / (2 * sigma**2)
    h, q = {}, {}
    _upward(T, evidence, 0, 0, h, q)
    beta = {(0, 0): _log(prior) + h[0, 0] + (0.0 if text_message is None else np.asarray(text_message))}
    for d, layer in enumerate(T):
        m = len(layer)
        for j in range(int(np.prod([len(t) for t in T[:d]]))):
            for c in range(m):
                v = m * j + c
                cavity = beta[d, j] - q[d + 1, v]  # belief of the parent without this child's message
                beta[d + 1, v] = h[d + 1, v] + logsumexp(_log(layer[c]) + cavity[:, None], axis=0)
    n_leaves = len(z_row)
    return np.array([_softmax(beta[len(T), k]) @ values for k in range(n_leaves)])
