r"""The Joint Generative Hierarchical Model: transition matrices, and exact leaf laws of small trees.

A root :math:`x_r` with prior :math:`\psi` has two trees hanging off it, an image tree and a text
tree. Every node at depth :math:`d` has :math:`m` children; child slot :math:`c` of a node at
depth :math:`d` is drawn from row :math:`x_{\text{parent}}` of the transition matrix
:math:`T_{d,c}`, the same at every node of the layer (translation invariance). Following the
official code of Oko et al. (2025),

.. math:: T_{d,c} = (1-p)\,\Pi_d + p\,\operatorname{softmax}_{\text{row}}(G_{d,c}),
          \qquad (G_{d,c})_{ab} \sim \mathcal N(0, 1),

with :math:`\Pi_d` a random permutation matrix shared by the slots of layer :math:`d`. The random
draws come from one seeded stream and do not depend on :math:`p`, so every :math:`p` shares the
same :math:`\Pi` and :math:`G`. Part II adds the sampler and belief propagation; this module holds
what Part I needs: the exact joint law of the leaves of trees small enough to enumerate.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .checks import check_integer

MAX_LEAF_CONFIGURATIONS = 100_000


def _softmax_rows(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def transition_matrices(depth: int, branching: int, n_symbols: int, p: float, rng: np.random.RandomState,
                        flip_scale: float = 1.0) -> np.ndarray:
    """One tree's matrices :math:`T_{d,c}`, shape ``(depth, branching, n_symbols, n_symbols)``.

    Draws, layer by layer, one permutation and then ``branching`` Gaussian matrices from ``rng``
    (a legacy :class:`numpy.random.RandomState`, the order of the official generator).
    """
    for name, value, low in (("depth", depth, 1), ("branching", branching, 1), ("n_symbols", n_symbols, 2)):
        check_integer(value, name, low)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    T = np.empty((depth, branching, n_symbols, n_symbols))
    for d in range(depth):
        permutation = np.identity(n_symbols)[rng.permutation(n_symbols)]
        for c in range(branching):
            noise = _softmax_rows(rng.normal(0.0, flip_scale, (n_symbols, n_symbols)))
            T[d, c] = (1 - p) * permutation + p * noise
    return T


def paired_trees(depth: int, branching: int, n_symbols: int, p: float, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """The text tree's and the image tree's matrices, drawn in that order from ``RandomState(seed)``."""
    rng = np.random.RandomState(seed)
    text = transition_matrices(depth, branching, n_symbols, p, rng)
    image = transition_matrices(depth, branching, n_symbols, p, rng)
    return text, image


def leaves_given_root(T: np.ndarray) -> np.ndarray:
    r"""The matrix :math:`P(\text{leaves} = v \mid x_r = a)`, shape ``(n_symbols, n_symbols ** n_leaves)``.

    Leaves are in breadth-first order and a configuration's index reads them as the digits of a
    base-``n_symbols`` number, first leaf most significant. Only for small trees.
    """
    depth, branching, S, _ = T.shape
    n_leaves = branching**depth
    if S**n_leaves > MAX_LEAF_CONFIGURATIONS:
        raise ValueError(f"a tree with {n_leaves} leaves over {S} symbols has {S**n_leaves} leaf configurations, "
                         f"more than {MAX_LEAF_CONFIGURATIONS}: too large to enumerate")

    def below(d: int) -> np.ndarray:  # P(leaves under a node at depth d | node)
        if d == depth:
            return np.identity(S)
        child = below(d + 1)
        out = T[d, 0] @ child
        for c in range(1, branching):
            out = np.einsum("ai,aj->aij", out, T[d, c] @ child).reshape(S, -1)
        return out

    return below(0)


def leaf_joint(text: np.ndarray, image: np.ndarray, prior=None) -> np.ndarray:
    r"""The exact joint law :math:`P(x_{\rm im}, x_{\rm tx}) = \sum_a \psi(a) P(x_{\rm im} \mid a) P(x_{\rm tx} \mid a)`.

    Rows are image leaf configurations, columns text ones. ``prior`` defaults to uniform.
    """
    S = text.shape[-1]
    prior = np.full(S, 1.0 / S) if prior is None else np.asarray(prior, dtype=float)
    if prior.shape != (S,) or np.any(prior < 0) or abs(prior.sum() - 1) > 1e-9:
        raise ValueError(f"prior must be a probability vector of length {S}")
    return (leaves_given_root(image).T * prior) @ leaves_given_root(text)


@dataclasses.dataclass(frozen=True)
class TinyTree:
    """A JGHM small enough to write its leaf law down: by default depth 2, branching 2, 3 symbols,
    flip probability 0.3, matrices from seed 42 (81 image and 81 text configurations)."""

    depth: int = 2
    branching: int = 2
    n_symbols: int = 3
    p: float = 0.3
    seed: int = 42

    @property
    def n_leaves(self) -> int:
        return self.branching**self.depth

    def joint(self) -> np.ndarray:
        """The exact joint law of (image leaves, text leaves), rows image configurations."""
        return leaf_joint(*paired_trees(self.depth, self.branching, self.n_symbols, self.p, seed=self.seed))
