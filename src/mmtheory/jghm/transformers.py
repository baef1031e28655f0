r"""The transformers of the JGHM simulations of Oko et al. (2025), written out cleanly.

Every network is a stack of pre-LayerNorm blocks (:class:`Block`) on learned token and position
embeddings; they differ in their tokens, their attention mask and their head:

* :class:`TreeEncoder`, the CLIP encoder of one modality: the 81 leaf symbols of a tree in, a
  ``embed_dim``-dimensional embedding out (a per-token linear map, then a linear map over the positions;
  no normalisation). The CLIP score is the inner product of an image and a text embedding.
* :class:`DenoisingTransformer`, the conditional denoiser (CDM): 81 image tokens carrying the fixed features
  :math:`-\tfrac12 (v - z_\ell)^2`, :math:`v = 0..S-1`, of the noisy leaves :math:`z = x_{\rm im} + \sigma g`,
  plus one token carrying a frozen text embedding (or the 81 text tokens, for joint training); bidirectional
  attention; a linear read-out of :math:`\hat x_\ell` from each image token.
* :class:`NextTokenTransformer`, the vision-language model (VLM): an image prefix (one frozen image-embedding
  token, or the 81 image tokens) followed by text leaves :math:`0..n-2`; text is causal and sees the whole
  prefix, the prefix sees only itself; :math:`S` logits per text position predict leaves :math:`1..n-1`.

**BP guidance** ("layer-wise BP supervision"): the hidden state after block :math:`i` of a
:class:`TreeEncoder` is pushed, in channels :math:`(i-1)S .. iS-1`, towards the upward BP message
:math:`h` of the node at depth :math:`L - i` above each leaf (:func:`guidance_targets`,
:func:`guidance_penalty`), so that the network is taught to run BP one tree level per block.

Differences from the official code (`willcai7/Multimodal-GHM`, its transformer module): attention has
``n_heads`` heads and an output projection (the official code is single-head without one), the VLM adds
its attention output once, and the guided channel slot advances with the block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import Integer, check_integer, constrain
from . import bp
from .model import check_tree

GUIDANCE_FLOOR = -30.0
CONDITIONS = ("embedding", "tokens")


def _check_sizes(d: int, n_layers: int, n_heads: int) -> tuple[int, int, int]:
    d, n_layers, n_heads = check_integer(d, "d", 1), check_integer(n_layers, "n_layers", 1), \
        check_integer(n_heads, "n_heads", 1)
    if d % n_heads:
        raise ValueError(f"d must be divisible by n_heads, got d={d}, n_heads={n_heads}")
    return d, n_layers, n_heads


def _check_condition(condition: str) -> str:
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    return condition


def _check_symbols(x, name: str, length: int, n_symbols: int) -> torch.Tensor:
    """``x`` as an integer tensor ``(n, length)`` of symbols in ``[0, n_symbols)``; else ``ValueError``."""
    if not isinstance(x, torch.Tensor) or x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool \
            or x.ndim != 2 or x.shape[1] != length:
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be an integer tensor of shape (n, {length}), got {got}")
    if x.numel() and bool(((x < 0) | (x >= n_symbols)).any()):
        raise ValueError(f"{name} symbols must be in [0, {n_symbols - 1}], got values in "
                         f"[{int(x.min())}, {int(x.max())}]")
    return x.long()


def _check_floats(x, name: str, shape_tail: tuple[int, ...], n: int | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point or x.shape[1:] != shape_tail \
            or x.ndim != 1 + len(shape_tail) or (n is not None and x.shape[0] != n):
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        rows = "n" if n is None else str(n)
        raise ValueError(f"{name} must be a float tensor of shape ({rows}, {', '.join(map(str, shape_tail))}), "
                         f"got {got}")
    return x



def _condition_tokens(net: nn.Module, condition, n: int, dtype, embedding: str, modality: str, against: str):
    """The conditioning tokens of a downstream network: a frozen CLIP embedding padded to width ``d`` as one
    token ``(n, 1, d)``, or (joint training) the ``modality``'s raw leaves embedded by ``net.{modality}_token``."""
    if net.condition == "embedding":
        condition = _check_floats(condition, f"condition ({embedding})", (net.embed_dim,), n)
        return F.pad(condition.to(dtype), (0, net.d - net.embed_dim))[:, None]
    leaves = net.n_text if modality == "text" else net.n_image
    condition = _check_symbols(condition, f"condition (the {modality} leaves)", leaves, net.n_symbols)
    if condition.shape[0] != n:
        raise ValueError(f"condition must have as many rows as {against} ({n}), got {condition.shape[0]}")
    return getattr(net, f"{modality}_token")(condition)

class Block(nn.Module):
    r"""A pre-LayerNorm transformer block:
    :math:`H \leftarrow H + \mathrm{MHA}(\mathrm{LN}(H))`, then :math:`H \leftarrow H + \mathrm{MLP}(\mathrm{LN}(H))`,
    with ``n_heads``-head softmax attention (scaled dot products, bias-free :math:`Q, K, V`, an output
    projection) and a GELU MLP :math:`d \to 4d \to d`.

    ``mask`` (optional, boolean ``(tokens, tokens)``): ``mask[i, j]`` true when token ``i`` may attend to ``j``.
    """

    def __init__(self, d: int, n_heads: int):
        super().__init__()
        self.d, _, self.n_heads = _check_sizes(d, 1, n_heads)
        self.ln_attention = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.projection = nn.Linear(d, d)
        self.ln_mlp = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        n, k, d = x.shape
        heads = self.qkv(self.ln_attention(x)).reshape(n, k, 3, self.n_heads, d // self.n_heads)
        q, key, v = heads.permute(2, 0, 3, 1, 4)  # each (n, heads, k, d / heads)
        attended = F.scaled_dot_product_attention(q, key, v, attn_mask=mask)  # (n, heads, k, d / heads)
        x = x + self.projection(attended.transpose(1, 2).reshape(n, k, d))
        return x + self.mlp(self.ln_mlp(x))


class _Stack(nn.Module):
    """Blocks run in order, optionally keeping the hidden state after each."""

    def __init__(self, d: int, n_layers: int, n_heads: int):
        super().__init__()
        self.blocks = nn.ModuleList(Block(d, n_heads) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        hidden = []
        for block in self.blocks:
            x = block(x, mask)
            hidden.append(x)
        return x, hidden


class TreeEncoder(nn.Module):
    r"""The CLIP encoder of one modality: leaf symbols ``(n, n_leaves)`` to an embedding ``(n, embed_dim)``.

    Token and learned position embeddings, ``n_layers`` blocks, then a per-token linear map
    :math:`d \to` ``embed_dim`` and a linear map over the ``n_leaves`` positions to one vector. The paper's
    encoder has 5 blocks of width 128 and a 10-dimensional embedding.
    ``forward(leaves, return_hidden=True)`` also returns the hidden state after every block (for guidance).
    """

    def __init__(self, n_symbols: int = 10, n_leaves: int = 81, d: int = 128, n_layers: int = 5,
                 n_heads: int = 4, embed_dim: int = 10):
        super().__init__()
        self.n_symbols = check_integer(n_symbols, "n_symbols", 2)
        self.n_leaves = check_integer(n_leaves, "n_leaves", 1)
        self.d, self.n_layers, self.n_heads = _check_sizes(d, n_layers, n_heads)
        self.embed_dim = check_integer(embed_dim, "embed_dim", 1)
        self.token = nn.Embedding(n_symbols, d)
        self.position = nn.Parameter(torch.randn(n_leaves, d))
        self.stack = _Stack(d, n_layers, n_heads)
        self.head = nn.Linear(d, embed_dim)
        self.pool = nn.Linear(n_leaves, 1)

    def forward(self, leaves: torch.Tensor, return_hidden: bool = False):
        leaves = _check_symbols(leaves, "leaves", self.n_leaves, self.n_symbols)
        x, hidden = self.stack(self.token(leaves) + self.position)  # (n, leaves, d)
        embedding = self.pool(self.head(x).transpose(1, 2))[..., 0]  # (n, embed_dim, leaves) -> (n, embed_dim)
        return (embedding, hidden) if return_hidden else embedding


class DenoisingTransformer(nn.Module):
    r"""The conditional denoiser: noisy image leaves :math:`z` ``(n, n_leaves)`` and a text condition to a
    prediction of the clean leaf values ``(n, n_leaves)``.

    Image token :math:`\ell` is :math:`(-\tfrac12(v - z_\ell)^2)_{v<S}` in its first :math:`S` channels,
    zero elsewhere, plus a learned position. ``condition="embedding"``: one more token, a frozen
    ``embed_dim``-dimensional text embedding zero-padded to :math:`d` (``forward(z, embedding (n, embed_dim))``);
    ``condition="tokens"``: the ``n_text`` text leaves as learned tokens (``forward(z, text (n, n_text))``,
    joint training). Attention is bidirectional; a linear map :math:`d \to 1` reads each image token.
    ``n_text`` defaults to ``n_leaves``.
    """

    def __init__(self, n_symbols: int = 10, n_leaves: int = 81, d: int = 128, n_layers: int = 9, n_heads: int = 4,
                 condition: str = "embedding", embed_dim: int = 10, n_text: int | None = None):
        super().__init__()
        self.n_symbols = check_integer(n_symbols, "n_symbols", 2)
        self.n_leaves = check_integer(n_leaves, "n_leaves", 1)
        self.n_text = n_leaves if n_text is None else check_integer(n_text, "n_text", 1)
        self.d, self.n_layers, self.n_heads = _check_sizes(d, n_layers, n_heads)
        self.condition = _check_condition(condition)
        self.embed_dim = check_integer(embed_dim, "embed_dim", 1)
        if n_symbols > d:
            raise ValueError(f"d must be >= n_symbols = {n_symbols} (the image features), got d={d}")
        if condition == "embedding" and embed_dim > d:
            raise ValueError(f"embed_dim must be <= d = {d} (it is zero-padded to d), got {embed_dim}")
        n_condition = 1 if condition == "embedding" else self.n_text
        if condition == "tokens":
            self.text_token = nn.Embedding(n_symbols, d)
        self.register_buffer("values", torch.arange(n_symbols, dtype=torch.float32), persistent=False)
        self.position = nn.Parameter(torch.randn(n_leaves + n_condition, d))
        self.stack = _Stack(d, n_layers, n_heads)
        self.head = nn.Linear(d, 1)

    def forward(self, z: torch.Tensor, condition: torch.Tensor, return_hidden: bool = False):
        z = _check_floats(z, "z", (self.n_leaves,))
        n = z.shape[0]
        features = -0.5 * (self.values - z.to(self.values.dtype)[..., None]) ** 2  # (n, leaves, S)
        image = F.pad(features, (0, self.d - self.n_symbols))
        text = _condition_tokens(self, condition, n, image.dtype, "a text embedding", "text", "z")
        x, hidden = self.stack(torch.cat([image, text], 1) + self.position)
        prediction = self.head(x[:, :self.n_leaves])[..., 0]  # (n, leaves)
        return (prediction, hidden) if return_hidden else prediction


class NextTokenTransformer(nn.Module):
    r"""The vision-language model: text leaves ``(n, n_text)`` and an image condition to next-token logits
    ``(n, n_text - 1, S)``, the logits at position :math:`j` predicting text leaf :math:`j + 1`.

    The sequence is an image prefix, then text leaves :math:`0..n_{\rm text}-2` (learned tokens and positions).
    ``condition="embedding"``: the prefix is one token, a frozen ``embed_dim``-dimensional image embedding
    zero-padded to :math:`d`; ``condition="tokens"``: the ``n_image`` image leaves as learned tokens (joint
    training). Text tokens attend causally to text and to the whole prefix; prefix tokens attend only to the
    prefix (:meth:`attention_mask`). A linear map :math:`d \to S` reads each text token.
    """

    def __init__(self, n_symbols: int = 10, n_text: int = 81, n_image: int = 81, d: int = 256, n_layers: int = 9,
                 n_heads: int = 4, condition: str = "embedding", embed_dim: int = 10):
        super().__init__()
        self.n_symbols = check_integer(n_symbols, "n_symbols", 2)
        self.n_text = check_integer(n_text, "n_text", 2)
        self.n_image = check_integer(n_image, "n_image", 1)
        self.d, self.n_layers, self.n_heads = _check_sizes(d, n_layers, n_heads)
        self.condition = _check_condition(condition)
        self.embed_dim = check_integer(embed_dim, "embed_dim", 1)
        if condition == "embedding" and embed_dim > d:
            raise ValueError(f"embed_dim must be <= d = {d} (it is zero-padded to d), got {embed_dim}")
        self.n_prefix = 1 if condition == "embedding" else self.n_image
        if condition == "tokens":
            self.image_token = nn.Embedding(n_symbols, d)
        self.text_token = nn.Embedding(n_symbols, d)
        self.position = nn.Parameter(torch.randn(self.n_prefix + self.n_text - 1, d))
        self.register_buffer("mask", self.attention_mask(), persistent=False)
        self.stack = _Stack(d, n_layers, n_heads)
        self.head = nn.Linear(d, n_symbols)

    def attention_mask(self) -> torch.Tensor:
        """Boolean ``(tokens, tokens)``, true where a token (row) may attend to another (column)."""
        P, k = self.n_prefix, self.n_prefix + self.n_text - 1
        mask = torch.ones(k, k, dtype=torch.bool).tril()  # text: causal
        mask[:, :P] = True  # everyone sees the whole prefix ...
        mask[:P, P:] = False  # ... and the prefix sees no text
        return mask

    def forward(self, text: torch.Tensor, condition: torch.Tensor, return_hidden: bool = False):
        text = _check_symbols(text, "text", self.n_text, self.n_symbols)
        n = text.shape[0]
        tokens = self.text_token(text[:, :-1])  # (n, n_text - 1, d)
        prefix = _condition_tokens(self, condition, n, tokens.dtype, "an image embedding", "image", "text")
        x, hidden = self.stack(torch.cat([prefix, tokens], 1) + self.position, self.mask)
        logits = self.head(x[:, self.n_prefix:])  # (n, n_text - 1, S)
        return (logits, hidden) if return_hidden else logits


# --- BP guidance --------------------------------------------------------------------------------------


@constrain(n_layers=Integer(1))
def guidance_targets(T, leaves: torch.Tensor, n_layers: int) -> list[torch.Tensor]:
    r"""The BP targets of blocks :math:`i = 1 .. \min(n_{\rm layers}, L)` of an encoder of tree ``T``.

    Target :math:`i` is the max-normalised upward message :math:`h` of the depth-:math:`(L - i)` ancestor of
    every leaf, shape ``(n, n_leaves, S)`` (float64, on the leaves' device), floored at -30 (at :math:`p = 0`
    a message can be :math:`-\infty`). Block 1 is thus asked for the messages of the leaves' parents and
    block :math:`L` for the root's.
    """
    S = check_tree(T)[0].shape[-1]
    with torch.no_grad():
        h = bp.upward(T, bp.symbol_evidence(leaves, S)).h  # h[d]: (n, nodes at depth d, S)
    L, n_leaves = len(h) - 1, leaves.shape[1]
    targets = []
    for i in range(1, min(n_layers, L) + 1):
        message = h[L - i]
        # breadth-first order: the leaves under node j of a depth are one contiguous block
        targets.append(message.repeat_interleave(n_leaves // message.shape[1], dim=1).clamp(min=GUIDANCE_FLOOR))
    return targets


def guidance_penalty(hidden: list[torch.Tensor], targets: list[torch.Tensor]) -> torch.Tensor:
    r""":math:`\frac1n \sum_i \sum_{\text{samples}} \| H_i[:, :, (i-1)S : iS] - \text{target}_i \|_F^2`: the squared
    Frobenius distance, summed over the guided blocks and averaged over the batch, between channel slot
    :math:`i - 1` of the hidden state after block :math:`i` and its target (the slot advances with the block).

    ``hidden``: the hidden states after blocks 1, 2, ... ``(n, tokens, d)``; ``targets``: from
    :func:`guidance_targets`. Needs ``d >= len(targets) * S`` and at least as many hidden states as targets.
    """
    if not targets:
        raise ValueError("targets must hold at least one guided block")
    if len(hidden) < len(targets):
        raise ValueError(f"hidden must hold at least as many blocks as targets ({len(targets)}), got {len(hidden)}")
    S, d = targets[0].shape[-1], hidden[0].shape[-1]
    if d < len(targets) * S:
        raise ValueError(f"the hidden width d must be >= (guided blocks) x S = {len(targets)} x {S} = "
                         f"{len(targets) * S} so that each guided block has its own channels, got d={d}")
    total = hidden[0].new_zeros(())
    for slot, (H, target) in enumerate(zip(hidden, targets)):
        if target.shape != H.shape[:2] + (S,):
            raise ValueError(f"target {slot + 1} must have shape {tuple(H.shape[:2]) + (S,)}, "
                             f"got {tuple(target.shape)}")
        gap = H[..., slot * S:(slot + 1) * S] - target.to(H.dtype)
        total = total + (gap**2).sum((1, 2)).mean()
    return total


@constrain(n_layers=Integer(1))
def guided_blocks(T, n_layers: int) -> int:
    """How many blocks of an ``n_layers``-block encoder of tree ``T`` are guided: :math:`\\min(n_{\\rm layers}, L)`."""
    return min(n_layers, len(check_tree(T)))


# --- the constructive argument, executed --------------------------------------------------------------


def bp_as_attention(T, leaves: torch.Tensor) -> list[torch.Tensor]:
    r"""The upward pass written as :math:`L` transformer-like blocks acting on the leaf positions.

    The state after block :math:`i` holds, at every leaf position, the (max-normalised) message
    :math:`h` of that leaf's depth-:math:`(L-i)` ancestor. Block :math:`i + 1` is a position-wise map
    (the role of the MLP) :math:`h \mapsto q = \log(T_{d,c}\, e^{h})`, with the slot :math:`c` read from
    the position, then **uniform attention** over the positions that share the depth-:math:`d` ancestor
    (a fixed block mask), scaled by the branching :math:`m_d`: each child's message is repeated equally
    often in that group, so :math:`m_d` times the average is the sum :math:`\sum_c q_c = h_{\rm parent}`.
    Returns the states after blocks :math:`1..L`, each ``(n, n_leaves, S)``; they equal
    :func:`guidance_targets` (which broadcasts :func:`~mmtheory.jghm.bp.upward`) exactly.
    """
    layers = check_tree(T)
    S, widths = layers[0].shape[-1], [layer.shape[0] for layer in layers]
    H = bp.symbol_evidence(leaves, S)  # (n, N, S): log-evidence of the leaves themselves
    n, N = H.shape[:2]
    positions = torch.arange(N, device=H.device)
    states = []
    for d in reversed(range(len(layers))):  # block L - d: messages of depth d + 1 -> depth d
        below = int(torch.prod(torch.tensor(widths[d + 1:], dtype=torch.long)))  # leaves under a depth-(d+1) node
        slot = (positions // below) % widths[d]
        log_t = torch.log(torch.as_tensor(layers[d], dtype=H.dtype, device=H.device))[slot]  # (N, S, S)
        q = torch.logsumexp(log_t[None] + H[:, :, None, :], dim=-1)  # the MLP: q(a) = log sum_b T(a, b) e^h(b)
        group = below * widths[d]  # positions sharing the depth-d ancestor: the attention block
        mean = q.reshape(n, N // group, group, S).mean(2)  # uniform attention within the block
        H = (widths[d] * mean).repeat_interleave(group, dim=1)
        H = H - H.amax(-1, keepdim=True)
        states.append(H)
    return states

