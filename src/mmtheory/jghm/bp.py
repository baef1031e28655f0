r"""Exact belief propagation on a JGHM tree, batched in torch (CPU or GPU).

For a node :math:`v` at depth :math:`d` that is child slot :math:`c` of :math:`u`, with leaf
log-evidence :math:`\ell_v` (0 or :math:`-\infty` for an observed symbol, a Gaussian log-likelihood
for a noisy value, 0 when unobserved):

.. math::
    h_v = \ell_v \ (v \text{ a leaf}), \qquad
    q_v(a) = \log \sum_b T_{d-1,c}(a, b)\, e^{h_v(b)}, \qquad
    h_u(a) = \sum_{v \in \mathrm{ch}(u)} q_v(a),

so :math:`h_u(a)` is :math:`\log p(\text{evidence below } u \mid x_u = a)` up to a constant. At the
root :math:`\beta_r = \log\psi + h_r` (+ any message from the other tree), and the downward pass

.. math:: \beta_v(b) = h_v(b) + \log \sum_a T_{d-1,c}(a, b) \exp\big(\beta_u(a) - q_v(a)\big)

(computed without the subtraction, see :func:`downward`) gives
:math:`p(x_v = b \mid \text{evidence}) = \operatorname{softmax}_b \beta_v`. Every node's
message is shifted by its maximum; no posterior depends on the shift. Sums run as matrix products
of :math:`e^{h - \max h}` with :math:`T`, so no ``(n, nodes, S, S)`` tensor is ever formed.

**Two ways to run the same passes.** :func:`upward` and :func:`downward` are the equations above,
in the log domain; they hold for any matrices, zeros included (:math:`p = 0`). When every entry of
every :math:`T_{d,c}` is positive, :func:`marginals` and :func:`root_message` run the same passes on
the messages' exponentials :math:`e^{h}`, each node's vector divided by its maximum (a scaled
probability domain, no ``exp`` or ``log`` inside the tree), with the nodes of a depth stored slot
by slot, so that a layer is one batched product per child slot and a product over slots. This is
exact up to rounding, with no underflow, by a bound derived here. For a vector :math:`e \ge 0` with
maximum 1, :math:`t_{\min} \le (Te)(a) \le 1` (rows sum to one) and :math:`t_{\min} \le (T^\top e)(b)
\le S` (columns sum to at most :math:`S`), with :math:`t_{\min}` the smallest entry of any matrix. A
node's upward message is a product of at most :math:`m` factors of the first kind, and its belief on
the way down (its parent's belief divided by its own message, sent down, times its upward message)
lies within a factor :math:`t_{\min}^{m+1} / S` of its maximum whatever its parent's belief, so
nothing compounds down the tree. While :math:`(m + 1)\log(1/t_{\min}) + \log S \le 600`, with
:math:`m` the largest branching, every value stays above :math:`e^{-600}`, far from float64's smallest
normal number :math:`e^{-708}`, and the scaled passes are used; otherwise, or when some entry is zero,
the log-domain ones. Leaf evidence and the root's outside message are exponentiated once; an entry
below :math:`e^{-708}` of their maximum becomes 0, which changes no posterior by more than
:math:`e^{-108}`. The test suite runs
both ways against enumeration and against each other.

The task posteriors behind every figure of Oko et al. (2025) are at the end: the CLIP score, the
zero-shot label posterior, the conditional-denoising posterior mean and the next-token posterior.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..checks import Integer, OneOf, Real, check_integer, constrain
from .bp_scaled import (_node_orders, _observed_parents, _scaled_passes, _scaled_upward, _scaling_is_exact,
                        _from_scaled, _to_scaled)
from .model import JGHM, check_tree

DTYPE = torch.float64


def _matrices(T, device) -> list[torch.Tensor]:
    return [torch.as_tensor(layer, dtype=DTYPE, device=device) for layer in check_tree(T)]


def _widths(T) -> list[int]:
    return [layer.shape[0] for layer in check_tree(T)]


def _normalised(x: torch.Tensor) -> torch.Tensor:
    return x - x.amax(-1, keepdim=True)


def _log_matmul(log_x: torch.Tensor, M: torch.Tensor, spec: str) -> torch.Tensor:
    """``log(einsum(spec, exp(log_x), M))``, stable: the maximum over the summed axis is taken out first."""
    top = log_x.amax(-1, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    return torch.log(torch.einsum(spec, torch.exp(log_x - top), M)) + top


# --- leaf evidence ----------------------------------------------------------------------------------


def _check_leaves(leaves, n_symbols: int, n_leaves: int | None = None) -> torch.Tensor:
    leaves = torch.as_tensor(leaves)
    if leaves.ndim != 2 or leaves.dtype.is_floating_point or (n_leaves is not None and leaves.shape[1] != n_leaves):
        shape = "(n, k)" if n_leaves is None else f"(n, {n_leaves})"
        raise ValueError(f"leaves must be an integer tensor of shape {shape}, got {leaves.dtype} {tuple(leaves.shape)}")
    if leaves.numel() and (leaves.min() < 0 or leaves.max() >= n_symbols):
        raise ValueError(f"leaf symbols must be in [0, {n_symbols - 1}], got values in "
                         f"[{int(leaves.min())}, {int(leaves.max())}]")
    return leaves.long()


@constrain(n_symbols=Integer(1))
def symbol_evidence(leaves: torch.Tensor, n_symbols: int, observed: torch.Tensor | None = None) -> torch.Tensor:
    """Log-evidence ``(n, k, S)`` of observed leaf symbols: 0 at the symbol, :math:`-\\infty` elsewhere;
    0 everywhere at leaves where the boolean mask ``observed`` (broadcast to ``(n, k)``) is false."""
    leaves = _check_leaves(leaves, n_symbols)
    hit = torch.nn.functional.one_hot(leaves, n_symbols).bool()
    evidence = torch.zeros(hit.shape, dtype=DTYPE, device=leaves.device).masked_fill(~hit, -torch.inf)
    if observed is not None:
        evidence = torch.where(torch.as_tensor(observed, device=leaves.device)[..., None], evidence, 0.0)
    return evidence


@constrain(n_symbols=Integer(1), sigma=Real(0, closed="neither"))
def gaussian_evidence(z: torch.Tensor, n_symbols: int, sigma: float = 1.0) -> torch.Tensor:
    """Log-evidence ``(n, k, S)`` of noisy values :math:`z = x + \\sigma g`: :math:`-(z - b)^2 / 2\\sigma^2`."""
    z = torch.as_tensor(z, dtype=DTYPE)
    if z.ndim != 2:
        raise ValueError(f"z must have shape (n, k), got {tuple(z.shape)}")
    values = torch.arange(n_symbols, dtype=DTYPE, device=z.device)
    return -((z[..., None] - values) ** 2) / (2 * sigma**2)


# --- the two passes -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Upward:
    """Upward messages: ``h[d]`` ``(n, nodes at depth d, S)`` for d = 0 (root) .. L (leaves), and
    ``q[d]`` the message each depth-d node sends its parent (``q[0]`` is ``None``)."""

    h: list
    q: list

    @property
    def root(self) -> torch.Tensor:
        """:math:`h_r`, shape ``(n, S)``."""
        return self.h[0][:, 0]


def upward(T, evidence: torch.Tensor) -> Upward:
    """The upward pass from leaf log-evidence ``(n, n_leaves, S)`` to the root.

    Implements {eq}`eq-bp-upward`
    """
    Ts = _matrices(T, evidence.device)
    _check_evidence(evidence, Ts)
    h, q = [_normalised(evidence.to(DTYPE))], []
    for t in reversed(Ts):  # layer d maps depth d to depth d + 1
        message, parent = _up_step(h[0], t)
        q.insert(0, message)
        h.insert(0, parent)
    return Upward(h=h, q=[None] + q)


def _check_evidence(evidence: torch.Tensor, Ts) -> None:
    n_leaves, S = int(np.prod([t.shape[0] for t in Ts])), Ts[0].shape[-1]
    if evidence.ndim != 3 or evidence.shape[1:] != (n_leaves, S):
        raise ValueError(f"evidence must have shape (n, {n_leaves}, {S}), got {tuple(evidence.shape)}")


def _up_step(h: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer of the upward pass: the children's messages ``q`` ``(n, nodes, S)`` and the parents' ``h``."""
    m, S = t.shape[0], t.shape[-1]
    message = _log_matmul(h.reshape(h.shape[0], -1, m, S), t, "njcb,cab->njca")  # (n, parents, m, S)
    return message.reshape(h.shape), _normalised(message.sum(2))


def downward(T, up: Upward, root_outside: torch.Tensor) -> list[torch.Tensor]:
    """The downward pass: log-marginals :math:`\\beta` per depth (softmax them for posteriors).

    Implements {eq}`eq-bp-downward`

    ``root_outside`` ``(n, S)`` is the root's evidence from outside its own tree: the log prior plus
    any message from the other tree. The pass carries these outside messages :math:`o_v` down,
    :math:`o_v(b) = \\log\\sum_a T(a, b)\\exp(o_u(a) + \\sum_{v' \\ne v} q_{v'}(a))`, and returns
    :math:`\\beta_v = o_v + h_v`; summing the siblings directly (rather than dividing out
    :math:`q_v`) keeps zero-probability states exact, as at :math:`p = 0`."""
    Ts = _matrices(T, root_outside.device)
    outside = _normalised(root_outside)[:, None, :]
    beta = [_normalised(outside + up.h[0])]
    for d, t in enumerate(Ts):
        m, S = t.shape[0], t.shape[-1]
        n, k = outside.shape[:2]
        q = up.q[d + 1].reshape(n, k, m, S)
        siblings = torch.stack([q[:, :, [o for o in range(m) if o != c]].sum(2) for c in range(m)], 2)
        cavity = outside[:, :, None, :] + siblings  # (n, k, m, S) over the parent's state a
        outside = _normalised(_log_matmul(cavity, t, "njca,cab->njcb").reshape(n, k * m, S))
        beta.append(_normalised(outside + up.h[d + 1]))
    return beta


def marginals(T, evidence: torch.Tensor, prior, root_message: torch.Tensor | None = None,
              leaves_only: bool = False) -> list[torch.Tensor]:
    """Posterior marginals ``(n, nodes, S)`` of every node of one tree, depth by depth, given its leaf
    evidence and (optionally) the other tree's root message :math:`h_r^{\\rm other}` ``(n, S)``.

    Implements {eq}`eq-bp-root`, {eq}`eq-bp-downward`
    """
    outside = torch.log(torch.as_tensor(prior, dtype=DTYPE, device=evidence.device)).expand(evidence.shape[0], -1)
    if root_message is not None:
        outside = outside + root_message
    Ts = _matrices(T, evidence.device)
    if not _scaling_is_exact(Ts):
        beta = downward(T, upward(T, evidence), outside)
        return [torch.softmax(b, -1) for b in (beta[-1:] if leaves_only else beta)]
    _check_evidence(evidence, Ts)
    orders = _node_orders(Ts, evidence.device)
    orders = orders[-1:] if leaves_only else orders
    blocks = _scaled_passes(Ts, outside, lambda block: _to_scaled(evidence[block], orders[-1]),
                            lambda beta: [_from_scaled(b, order) for b, order in zip(beta, orders)], leaves_only)
    return [torch.cat(parts) for parts in zip(*blocks)]


# --- the Bayes quantities of the four tasks ---------------------------------------------------------


def _prior(model: JGHM, device) -> torch.Tensor:
    return torch.as_tensor(model.prior, dtype=DTYPE, device=device)


@constrain(modality=OneOf("image", "text"))
def root_message(model: JGHM, modality: str, leaves: torch.Tensor) -> torch.Tensor:
    """:math:`h_r` ``(n, S)`` of one tree with all its leaf symbols observed (max-normalised).

    Implements {eq}`eq-bp-upward`

    The same as ``upward(T, symbol_evidence(leaves, S)).root``, faster: in the scaled domain (see the
    module docstring) an observed leaf's message is read off the matrix, :math:`e^{q_v(a)} = T(a, x_v)`,
    with no sum over symbols."""
    leaves = _check_leaves(leaves, model.n_symbols, model.n_leaves(modality))
    Ts = _matrices(model.tree(modality), leaves.device)
    if not _scaling_is_exact(Ts):
        return upward(Ts, symbol_evidence(leaves, model.n_symbols)).root
    x = leaves.T[_node_orders(Ts, leaves.device)[-1]].reshape(Ts[-1].shape[0], -1)  # (slot, parent x sample)
    h = _observed_parents(model.tree(modality)[-1], x).reshape(model.n_symbols, -1, leaves.shape[0])
    return torch.log(_scaled_upward(Ts[:-1], h)[0][0][:, 0].T)


@constrain(modality=OneOf("image", "text"))
def root_posterior(model: JGHM, modality: str, leaves: torch.Tensor) -> torch.Tensor:
    """:math:`\\pi(x_r \\mid \\text{leaves of one tree})` ``(n, S)``: the exact sufficient statistic.

    Implements {eq}`eq-bp-root`, {prf:ref}`prop-jghm-root-sufficient`
    """
    return torch.softmax(torch.log(_prior(model, leaves.device)) + root_message(model, modality, leaves), -1)


def clip_score(model: JGHM, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """The pointwise mutual information :math:`S_\\star(x_{\\rm im}, x_{\\rm tx}) =
    \\log \\sum_a \\pi_{\\rm im}(a)\\pi_{\\rm tx}(a)/\\psi(a)` for every image against every text,
    shape ``(n_image, n_text)``.

    Implements {prf:ref}`prop-jghm-root-sufficient`, {prf:ref}`prop-bayes-targets`
    """
    prior = _prior(model, image.device)
    left = root_posterior(model, "image", image) / prior
    return torch.log(left @ root_posterior(model, "text", text).T)


def root_recovery(model: JGHM, n: int, seed: int = 1) -> dict[str, tuple[float, float]]:
    r"""How well the root is recovered from ``n`` fresh pairs: ``{"image" | "text" | "both": (accuracy, entropy)}``.

    For each source of evidence the exact root posterior :math:`q = \pi(\cdot \mid \text{evidence})` is
    computed, and the pair is the fraction of draws whose most likely root is the true one,
    :math:`\hat P(\arg\max_a q(a) = x_r)`, and the mean entropy :math:`-\sum_a q(a) \log q(a)` (nats), a
    Monte-Carlo estimate of :math:`H(x_r \mid \text{evidence})`. Given both modalities, by
    {eq}`eq-jghm-leaf-law`, :math:`\pi(a \mid x_{\rm im}, x_{\rm tx}) \propto
    \pi(a \mid x_{\rm im})\,\pi(a \mid x_{\rm tx}) / \psi(a)`. The pairs are ``model.sample(n, seed)`` on the CPU.
    """
    check_integer(n, "n", 1)
    pairs = model.sample(n, seed=seed, device="cpu")
    post = {modality: root_posterior(model, modality, getattr(pairs, modality)) for modality in ("image", "text")}
    both = post["image"] * post["text"] / torch.as_tensor(model.prior)
    post["both"] = both / both.sum(-1, keepdim=True)

    def entropy(q: torch.Tensor) -> torch.Tensor:
        return -(q * torch.log(q.clamp_min(1e-300))).sum(-1)

    return {key: ((q.argmax(-1) == pairs.root).double().mean().item(), entropy(q).mean().item())
            for key, q in post.items()}


@constrain(leaf=Integer(0))
def leaf_path(T, leaf: int) -> list[int]:
    """The child slots from the root down to leaf number ``leaf`` (breadth-first order)."""
    widths = _widths(T)
    n_leaves = int(np.prod(widths))
    check_integer(leaf, "leaf", 0, n_leaves - 1)
    slots = []
    for m in reversed(widths):
        leaf, c = divmod(leaf, m)
        slots.insert(0, c)
    return slots


def leaf_given_root(T, leaf: int = 0) -> np.ndarray:
    """:math:`P(x_{\\text{leaf}} = b \\mid x_r = a)`: the product of the matrices on the leaf's path."""
    layers = check_tree(T)
    out = np.identity(layers[0].shape[-1])
    for layer, c in zip(layers, leaf_path(T, leaf)):
        out = out @ layer[c]
    return out


def label_posterior(model: JGHM, image: torch.Tensor, leaf: int = 0, label_model: JGHM | None = None) -> torch.Tensor:
    """The zero-shot target :math:`p(x_{{\\rm tx},\\text{leaf}} \\mid x_{\\rm im})` ``(n, S)``: the label
    is a text leaf (the first, by default), so it is the image root posterior pushed down the text path.

    The root posterior is computed by BP with ``model``; the text path is that of ``label_model``
    (``model`` when ``None``). Passing the data's model as ``label_model`` and another as ``model`` gives the
    mis-specified baseline of the official ``figures/eval-zsc-ood.py`` of Oko et al. (2025): only the image
    side is run with the wrong matrices.

    Implements {prf:ref}`prop-bayes-targets`
    """
    label_model = model if label_model is None else label_model
    path = torch.as_tensor(leaf_given_root(label_model.text, leaf), dtype=DTYPE, device=image.device)
    return root_posterior(model, "image", image) @ path


def label_prior(model: JGHM, leaf: int = 0) -> np.ndarray:
    """The marginal law of the label leaf, :math:`\\psi^\\top P(x_{\\text{leaf}} \\mid x_r)`."""
    return model.prior @ leaf_given_root(model.text, leaf)


@constrain(sigma=Real(0, closed="neither"))
def denoising_mean(model: JGHM, z: torch.Tensor, text: torch.Tensor | None = None,
                   sigma: float = 1.0) -> torch.Tensor:
    """The conditional-denoising target :math:`\\mathbb E[x_{\\rm im} \\mid z, x_{\\rm tx}]` ``(n, n_im)``
    for :math:`z = x_{\\rm im} + \\sigma g` (leaf symbols read as the numbers 0..S-1); ``text=None``
    conditions on :math:`z` alone.

    Implements {prf:ref}`prop-bayes-targets`
    """
    S, z = model.n_symbols, torch.as_tensor(z, dtype=DTYPE)
    message = None if text is None else root_message(model, "text", text)
    Ts = _matrices(model.image, z.device)
    if not _scaling_is_exact(Ts):
        leaves = marginals(model.image, gaussian_evidence(z, S, sigma), model.prior, message, leaves_only=True)[-1]
        return leaves @ torch.arange(S, dtype=DTYPE, device=leaves.device)
    if z.ndim != 2 or z.shape[1] != model.n_leaves("image"):
        raise ValueError(f"z must have shape (n, {model.n_leaves('image')}), got {tuple(z.shape)}")
    outside = torch.log(_prior(model, z.device)).expand(z.shape[0], -1)
    outside = outside if message is None else outside + message
    order = _node_orders(Ts, z.device)[-1]
    values = torch.arange(S, dtype=DTYPE, device=z.device)[:, None, None]

    def leaves_of(block):  # exp(-(z - b)^2 / 2 sigma^2) over its maximum, the nearest symbol b*:
        x = z[block].T[order][None]  # exp(((b - b*)(2z - b - b*)) / 2 sigma^2)
        nearest = x.round().clamp(0, S - 1)
        return torch.exp((values - nearest) * (2 * x - values - nearest) / (2 * sigma**2))

    def mean_of(beta):  # (S, leaves, n) -> (leaves, n)
        return (beta[-1] * values).sum(0) / beta[-1].sum(0)

    return torch.cat(_scaled_passes(Ts, outside, leaves_of, mean_of), 1)[torch.argsort(order)].T


@constrain(chunk=Integer(1))
def next_token_posteriors(model: JGHM, text: torch.Tensor, image: torch.Tensor | None = None,
                          chunk: int = 128) -> torch.Tensor:
    """The next-token targets :math:`p(x_{{\\rm tx},j+1} \\mid x_{{\\rm tx},\\le j}, x_{\\rm im})` for
    j = 0 .. n_tx - 2, shape ``(n, n_tx - 1, S)``; every prefix is one batched BP run (``chunk``
    samples at a time, ``n_tx - 1`` prefixes each). ``image=None`` drops the image.

    Implements {prf:ref}`prop-bayes-targets`
    """
    S, n_tx = model.n_symbols, model.n_leaves("text")
    text = torch.as_tensor(text)
    if text.ndim != 2 or text.shape[1] != n_tx:
        raise ValueError(f"text must have shape (n, {n_tx}), got {tuple(text.shape)}")
    prefixes = torch.arange(n_tx, device=text.device)[None, :] <= torch.arange(n_tx - 1, device=text.device)[:, None]
    out = []
    for start in range(0, text.shape[0], chunk):
        block = text[start:start + chunk]
        b = block.shape[0]
        leaves = block[:, None, :].expand(b, n_tx - 1, n_tx).reshape(-1, n_tx)
        observed = prefixes[None].expand(b, -1, -1).reshape(-1, n_tx)
        message = None
        if image is not None:
            message = root_message(model, "image", image[start:start + chunk]).repeat_interleave(n_tx - 1, 0)
        posterior = marginals(model.text, symbol_evidence(leaves, S, observed), model.prior, message,
                              leaves_only=True)[-1]
        posterior = posterior.reshape(b, n_tx - 1, n_tx, S)
        index = torch.arange(1, n_tx, device=text.device)
        out.append(posterior[:, index - 1, index])
    return torch.cat(out)
