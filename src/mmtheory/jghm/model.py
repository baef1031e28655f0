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
same :math:`\Pi` and :math:`G`.

A tree's matrices are a sequence of layers, layer :math:`d` an array ``(m_d, S, S)`` (a 4-D array
when every layer has the same branching). This module holds the model (:class:`JGHM`), a sampler
vectorised over depth (torch, GPU when asked), and the exact joint law of the leaves of trees small
enough to enumerate; :mod:`mmtheory.jghm.bp` holds the exact posteriors.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..checks import Integer, Probability, check_integer, constrain
from ..runtime import get_device

MAX_LEAF_CONFIGURATIONS = 100_000


def _softmax_rows(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _branchings(depth: int, branching) -> list[int]:
    if isinstance(branching, (int, np.integer)) and not isinstance(branching, bool):
        return [check_integer(branching, "branching", 1)] * depth
    branching = list(branching)
    if len(branching) != depth:
        raise ValueError(f"branching must be an integer or one integer per layer ({depth}), got {branching!r}")
    return [check_integer(m, "branching", 1) for m in branching]


@constrain(depth=Integer(1), n_symbols=Integer(2), p=Probability(closed_high=False))
def transition_matrices(depth: int, branching, n_symbols: int, p: float, rng: np.random.RandomState,
                        flip_scale: float = 1.0):
    """One tree's matrices :math:`T_{d,c}`: shape ``(depth, branching, n_symbols, n_symbols)`` for an
    integer ``branching``, a tuple of ``(m_d, n_symbols, n_symbols)`` layers for one branching per layer.

    Implements {eq}`eq-jghm-transition`

    Draws, layer by layer, one permutation and then ``m_d`` Gaussian matrices from ``rng`` (a legacy
    :class:`numpy.random.RandomState`, the order of the official generator). ``p`` is in [0, 1).
    """
    widths = _branchings(depth, branching)
    layers = [(1 - p) * permutation + p * noise
              for permutation, noise in _draw_ingredients(widths, n_symbols, rng, flip_scale)]
    return np.stack(layers) if isinstance(branching, (int, np.integer)) else tuple(layers)


def _draw_ingredients(widths, n_symbols: int, rng: np.random.RandomState, flip_scale: float = 1.0):
    r"""Per layer, the permutation :math:`\Pi_d` and the ``m_d`` noise matrices, drawn in the generator's order."""
    layers = []
    for m in widths:
        permutation = np.identity(n_symbols)[rng.permutation(n_symbols)]
        noise = np.stack([_softmax_rows(rng.normal(0.0, flip_scale, (n_symbols, n_symbols))) for _ in range(m)])
        layers.append((permutation, noise))
    return layers


@constrain(depth=Integer(1), n_symbols=Integer(2), p=Probability(closed_high=False), seed=Integer(0),
           p_image=Probability(closed_high=False, none_ok=True))
def paired_trees(depth: int, branching, n_symbols: int, p: float, seed: int = 42, p_image: float | None = None):
    """The text tree's and the image tree's matrices, drawn in that order from ``RandomState(seed)``.

    ``p_image`` (default ``p``) gives the image tree its own flip probability; the draws are the same.
    """
    rng = np.random.RandomState(seed)
    text = transition_matrices(depth, branching, n_symbols, p, rng)
    image = transition_matrices(depth, branching, n_symbols, p if p_image is None else p_image, rng)
    return text, image


@constrain(depth=Integer(1), n_symbols=Integer(2), seed=Integer(0))
def paired_ingredients(depth: int, branching, n_symbols: int, seed: int = 42) -> dict:
    r"""The random ingredients of :func:`paired_trees`: ``{(tree, d, c): (Pi_d, softmax(G_{d,c}))}``.

    ``tree`` is ``"text"`` or ``"image"``. These are the draws of {eq}`eq-jghm-transition` from
    ``RandomState(seed)``, in the order :func:`paired_trees` uses (the text tree first), so that
    ``paired_trees(..., p)`` has :math:`T_{d,c} = (1-p)\,\Pi_d + p\,\operatorname{softmax}(G_{d,c})` for
    every ``p``; nothing here depends on ``p``.
    """
    widths = _branchings(depth, branching)
    rng = np.random.RandomState(seed)
    out = {}
    for tree in ("text", "image"):
        for d, (permutation, noise) in enumerate(_draw_ingredients(widths, n_symbols, rng)):
            for c in range(len(noise)):
                out[tree, d, c] = (permutation, noise[c])
    return out


def check_tree(T, name: str = "T") -> tuple[np.ndarray, ...]:
    """Validate a tree's matrices (a sequence of ``(m_d, S, S)`` layers of row-stochastic matrices)."""
    try:
        layers = tuple(np.asarray(layer, dtype=float) for layer in T)
    except TypeError as err:
        raise ValueError(f"{name} must be a sequence of (m, S, S) layers") from err
    if not layers:
        raise ValueError(f"{name} must have at least one layer (depth >= 1)")
    S = layers[0].shape[-1]
    for d, layer in enumerate(layers):
        if layer.ndim != 3 or layer.shape[1:] != (S, S) or layer.shape[0] < 1:
            raise ValueError(f"{name}[{d}] must have shape (m, {S}, {S}), got {layer.shape}")
        if np.any(layer < 0) or not np.allclose(layer.sum(-1), 1.0, atol=1e-9):
            raise ValueError(f"{name}[{d}] must hold row-stochastic matrices (non-negative rows summing to 1)")
    return layers


def _check_prior(prior, S: int) -> np.ndarray:
    prior = np.full(S, 1.0 / S) if prior is None else np.asarray(prior, dtype=float)
    if prior.shape != (S,) or np.any(prior < 0) or abs(prior.sum() - 1) > 1e-9:
        raise ValueError(f"prior must be a probability vector of length {S}")
    return prior


def leaves_given_root(T) -> np.ndarray:
    r"""The matrix :math:`P(\text{leaves} = v \mid x_r = a)`, shape ``(n_symbols, n_symbols ** n_leaves)``.

    Leaves are in breadth-first order and a configuration's index reads them as the digits of a
    base-``n_symbols`` number, first leaf most significant. Only for small trees.
    """
    layers = check_tree(T)
    S = layers[0].shape[-1]
    n_leaves = int(np.prod([layer.shape[0] for layer in layers]))
    if S**n_leaves > MAX_LEAF_CONFIGURATIONS:
        raise ValueError(f"a tree with {n_leaves} leaves over {S} symbols has {S**n_leaves} leaf configurations, "
                         f"more than {MAX_LEAF_CONFIGURATIONS}: too large to enumerate")

    def below(d: int) -> np.ndarray:  # P(leaves under a node at depth d | node)
        if d == len(layers):
            return np.identity(S)
        child = below(d + 1)
        out = layers[d][0] @ child
        for c in range(1, layers[d].shape[0]):
            out = np.einsum("ai,aj->aij", out, layers[d][c] @ child).reshape(S, -1)
        return out

    return below(0)


def leaf_joint(text, image, prior=None) -> np.ndarray:
    r"""The exact joint law :math:`P(x_{\rm im}, x_{\rm tx}) = \sum_a \psi(a) P(x_{\rm im} \mid a) P(x_{\rm tx} \mid a)`.

    Implements {eq}`eq-jghm-leaf-law`

    Rows are image leaf configurations, columns text ones. ``prior`` defaults to uniform.
    """
    S = check_tree(text)[0].shape[-1]
    prior = _check_prior(prior, S)
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

    def model(self) -> JGHM:
        """The same tree as a :class:`JGHM`, for sampling and belief propagation."""
        return JGHM.paper(p=self.p, depth=self.depth, branching=self.branching, n_symbols=self.n_symbols,
                          seed=self.seed)


# --- the model and its sampler ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class JGHM:
    """A joint generative hierarchical model: a root prior and the matrices of the image and text trees.

    Implements {eq}`eq-jghm-joint`

    ``image`` and ``text`` are sequences of ``(m_d, S, S)`` layers; the two trees may differ in depth
    and branching but share the symbol set. Build the paper's simulation model with :meth:`paper`.
    """

    image: tuple
    text: tuple
    prior: np.ndarray

    def __post_init__(self):
        image, text = check_tree(self.image, "image"), check_tree(self.text, "text")
        if image[0].shape[-1] != text[0].shape[-1]:
            raise ValueError("image and text trees must share the number of symbols, got "
                             f"{image[0].shape[-1]} and {text[0].shape[-1]}")
        object.__setattr__(self, "image", image)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "prior", _check_prior(self.prior, image[0].shape[-1]))
        object.__setattr__(self, "_samplers", {})  # (modality, device) -> sampling_tables, built on first use

    @classmethod
    def paper(cls, p: float = 0.2, depth: int = 4, branching=3, n_symbols: int = 10, seed: int = 42,
              p_image: float | None = None, prior=None) -> JGHM:
        """The simulation model of Oko et al. (2025): 10 symbols, depth 4, 3 children, matrices from seed 42
        (text first), a uniform root; the same seed gives the same permutations and noise for every ``p``."""
        text, image = paired_trees(depth, branching, n_symbols, p, seed=seed, p_image=p_image)
        return cls(image=image, text=text, prior=prior)

    @property
    def n_symbols(self) -> int:
        return self.image[0].shape[-1]

    def _tables(self, modality: str, device) -> list:
        key = (modality, str(device))
        if key not in self._samplers:
            self._samplers[key] = sampling_tables(self.tree(modality), device)
        return self._samplers[key]

    def n_leaves(self, modality: str) -> int:
        return int(np.prod([layer.shape[0] for layer in self.tree(modality)]))

    def tree(self, modality: str) -> tuple:
        if modality not in ("image", "text"):
            raise ValueError(f"modality must be 'image' or 'text', got {modality!r}")
        return self.image if modality == "image" else self.text

    def sample(self, n: int, seed: int | torch.Generator = 0, device=None, nodes: bool = False) -> Sample:
        """``n`` independent (root, image leaves, text leaves) triples; see :func:`sample_tree`.

        ``seed`` is an integer or a :class:`torch.Generator`; a generator's own device is used unless
        ``device`` says otherwise."""
        check_integer(n, "n", 1)
        if isinstance(seed, torch.Generator):
            gen, dev = seed, (seed.device if device is None else get_device(device))
        else:
            dev = get_device(device)
            gen = torch.Generator(device=dev).manual_seed(seed)
        cdf = torch.cumsum(torch.as_tensor(self.prior, device=dev), 0)
        u = _uniforms((n,), gen).to(dev)
        root = torch.searchsorted(cdf, u, right=True).clamp(max=self.n_symbols - 1)
        image = sample_tree(self.image, root, gen, self._tables("image", dev))
        text = sample_tree(self.text, root, gen, self._tables("text", dev))
        if nodes:
            return Sample(root=root, image=image[-1], text=text[-1], image_nodes=image, text_nodes=text)
        return Sample(root=root, image=image[-1], text=text[-1])


@dataclasses.dataclass
class Sample:
    """A batch of JGHM draws: ``root (n,)``, leaf symbols ``image (n, n_im)`` and ``text (n, n_tx)``
    (breadth-first, ``int64``); with ``nodes=True`` also every depth's nodes, root first."""

    root: torch.Tensor
    image: torch.Tensor
    text: torch.Tensor
    image_nodes: list | None = None
    text_nodes: list | None = None


MAX_TUPLES = 4096  # children drawn together: the largest group of a node's slots with at most this many joint values


def sample_tree(T, root: torch.Tensor, generator: torch.Generator, tables: list | None = None) -> list[torch.Tensor]:
    """Sample a tree below the given roots, one depth at a time (no loop over nodes or samples).

    Child slot ``c`` of node ``j`` becomes node ``m j + c`` of the next depth. Returns the nodes of
    every depth, ``[root (n, 1), ..., leaves (n, n_leaves)]``, as ``int64`` on ``root``'s device.

    The children of a node are independent given it, so a group of ``g`` of its slots (``g`` the largest
    divisor of ``m`` with :math:`S^g \\le` ``MAX_TUPLES``; all three for the paper's trees) is one draw
    from their joint law :math:`\\prod_i T_{d,c_i}(a, b_i)` over the :math:`K = S^g` tuples, made with
    Walker's alias method from one uniform number :math:`u`: the bucket :math:`j = \\lfloor K u \\rfloor`,
    then :math:`j` itself if :math:`K u - j` is below the bucket's threshold, else the bucket's alias.
    ``tables`` are :func:`sampling_tables` of ``T`` on ``root``'s device (built when not given;
    :meth:`JGHM.sample` keeps them).
    """
    root = torch.as_tensor(root)
    if root.ndim != 1:
        raise ValueError(f"root must be a 1-D tensor of symbols, got shape {tuple(root.shape)}")
    layers = check_tree(T)
    S = layers[0].shape[-1]
    if root.numel() and (root.min() < 0 or root.max() >= S):
        raise ValueError(f"root symbols must be in [0, {S - 1}]")
    dev = root.device
    nodes = [root.long()[:, None]]
    for threshold, alias, digits in sampling_tables(layers, dev) if tables is None else tables:
        K = digits.shape[0]
        groups = threshold.shape[0] // (S * K)
        row = (torch.arange(groups, device=dev) * S)[None, None, :] + nodes[-1][:, :, None]  # (n, k, groups)
        u = _uniforms(row.shape, generator).to(dev) * K
        bucket = u.long().clamp_(max=K - 1)
        flat = row * K + bucket
        tuples = torch.where(u - bucket < threshold.take(flat), bucket, alias.take(flat))  # take: faster than [flat]
        nodes.append(digits.index_select(0, tuples.flatten()).reshape(row.shape[0], -1))
    return nodes


def _uniforms(shape, generator: torch.Generator) -> torch.Tensor:
    """Uniform float64 numbers on ``generator``'s device. On the CPU they come from numpy's PCG64 seeded
    by one draw of ``generator`` (reproducible from its state, and about twice as fast as torch's CPU
    generator); elsewhere from ``torch.rand``."""
    if generator.device.type == "cpu":
        seed = int(torch.randint(2**62, (1,), generator=generator))
        return torch.from_numpy(np.random.default_rng(seed).random(tuple(shape)))
    return torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float64)


def sampling_tables(T, device=None) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per layer, the alias tables of :func:`sample_tree`: ``threshold`` and ``alias`` (flat, row
    ``r = k S + a`` for group ``k`` and parent state ``a``, ``S^g`` entries a row) and the digits
    ``(S^g, g)`` of each tuple (first slot most significant)."""
    out = []
    for layer in check_tree(T):
        S = layer.shape[-1]
        g, laws = _child_groups(layer)
        threshold, alias = _alias_tables(np.concatenate(laws))
        tuples = np.arange(S**g)
        digits = np.stack([tuples // S ** (g - 1 - i) % S for i in range(g)], axis=1)
        out.append(tuple(torch.as_tensor(x, device=get_device(device)) for x in (threshold.ravel(), alias.ravel(), digits)))
    return out


def _child_groups(layer: np.ndarray) -> tuple[int, list[np.ndarray]]:
    """A layer's slots in groups of ``g`` (the largest divisor of ``m`` with :math:`S^g \\le` ``MAX_TUPLES``),
    and per group the joint law ``(S, S^g)`` of its children given the parent's state: row ``a``, column the
    tuple :math:`(b_1 \\dots b_g)` read in base ``S`` (first slot most significant), :math:`\\prod_i T_i(a, b_i)`."""
    m, S = layer.shape[0], layer.shape[-1]
    g = max((k for k in range(1, m + 1) if m % k == 0 and S**k <= MAX_TUPLES), default=1)
    laws = []
    for k in range(m // g):
        joint = np.ones((S, 1))
        for c in range(k * g, k * g + g):
            joint = (joint[:, :, None] * layer[c][:, None, :]).reshape(S, -1)
        laws.append(joint)
    return g, laws


def _alias_tables(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's construction of Walker's alias tables for each row of ``probs`` ``(R, K)``: bucket ``j``
    keeps ``j`` with probability ``threshold[j]`` and gives ``alias[j]`` otherwise."""
    R, K = probs.shape
    threshold, alias = np.ones((R, K)), np.tile(np.arange(K), (R, 1))
    for r in range(R):
        scaled = (probs[r] / probs[r].sum() * K).tolist()
        small = [j for j, x in enumerate(scaled) if x < 1]
        large = [j for j, x in enumerate(scaled) if x >= 1]
        while small and large:
            j, k = small.pop(), large.pop()
            threshold[r, j], alias[r, j] = scaled[j], k
            scaled[k] -= 1 - scaled[j]
            (small if scaled[k] < 1 else large).append(k)
    return threshold, alias


# --- the Part II widget ---------------------------------------------------------------------------


