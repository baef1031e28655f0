r"""Belief propagation in the scaled probability domain: the fast passes of :mod:`mmtheory.jghm.bp`.

Used by :func:`mmtheory.jghm.bp.marginals`, :func:`~mmtheory.jghm.bp.root_message` and
:func:`~mmtheory.jghm.bp.denoising_mean` when every entry of the matrices is positive and the range bound
derived in :mod:`mmtheory.jghm.bp` holds; the log-domain passes there are the general ones.

Layout: a depth is one tensor ``(S, nodes, n)``, symbols first and samples last, so that a sum over
symbols is one matrix product ``T_c @ (S, nodes x n)`` and a maximum over symbols runs along rows; the
nodes are in slot-major order (:func:`_node_orders`), so the children of a depth reshape to
``(S, m, parents, n)`` with no copy. On the CPU the batch runs in blocks that stay near cache size.
"""

from __future__ import annotations

import numpy as np
import torch

from .model import _child_groups

SCALED_RANGE = 600.0  # nats: the scaled passes keep every value above exp(-SCALED_RANGE)
CPU_BLOCK = 2**19  # values in one block's leaf tensor on the CPU (4 MB of float64)


def _scaling_is_exact(Ts) -> bool:
    """Whether the scaled passes are exact for these matrices: :math:`t_{\\min} > 0` and
    :math:`(m + 1) \\log(1 / t_{\\min}) + \\log S \\le` ``SCALED_RANGE``, with :math:`t_{\\min}` the smallest entry
    and :math:`m` the largest branching of the tree (see :mod:`mmtheory.jghm.bp`)."""
    t_min, m, S = min(float(t.min()) for t in Ts), max(t.shape[0] for t in Ts), Ts[0].shape[-1]
    return t_min > 0 and (m + 1) * -np.log(t_min) + np.log(S) <= SCALED_RANGE


def _scaled(x: torch.Tensor) -> torch.Tensor:
    return x / x.amax(0, keepdim=True)


def _blocks(n: int, per_sample: int, device) -> list[slice]:
    """The batch in blocks: on the CPU of about ``CPU_BLOCK / per_sample`` samples, elsewhere whole."""
    size = max(1, CPU_BLOCK // per_sample) if torch.device(device).type == "cpu" else max(n, 1)
    return [slice(i, i + size) for i in range(0, n, size)]


def _product(factors) -> torch.Tensor:
    first, *rest = factors
    for factor in rest:
        first = first * factor
    return first


def _node_orders(Ts, device) -> list[torch.Tensor]:
    """Per depth, the breadth-first index of the node held at each position of the slot-major order, in
    which the nodes of depth d + 1 reshape to ``(m_d, nodes at depth d)``: position ``c P + r`` holds
    child ``c`` of the parent at position ``r`` (breadth-first index ``m j + c`` for parent ``j``)."""
    orders = [torch.zeros(1, dtype=torch.long, device=device)]
    for t in Ts:
        m = t.shape[0]
        orders.append((m * orders[-1][None, :] + torch.arange(m, device=device)[:, None]).flatten())
    return orders


def _scaled_upward(Ts, leaves: torch.Tensor) -> tuple[list, list]:
    """The upward pass on scaled messages ``(S, nodes, n)``: ``h[d]`` per depth, and ``q[d]`` the list over
    slots ``c`` of ``(S, nodes at depth d x n)``, what child ``c`` of each depth-d node sends it."""
    S, n = leaves.shape[0], leaves.shape[-1]
    h, q = [leaves], []
    for t in reversed(Ts):
        children = h[0].reshape(S, t.shape[0], -1)
        message = [t[c] @ children[:, c] for c in range(t.shape[0])]  # sum_b T_c(a, b) e(b)
        q.insert(0, message)
        h.insert(0, _scaled(_product(message)).reshape(S, -1, n))
    return h, q


def _scaled_downward(Ts, h: list, q: list, root_outside: torch.Tensor, leaves_only: bool) -> list:
    """The downward pass on scaled messages: unnormalised marginals ``(S, nodes, n)`` per depth.

    A child's cavity is its parent's belief divided by the child's own message, :math:`\\beta_u / e^{q_v}`
    (every message is at least :math:`t_{\\min} > 0` here), the same as :func:`mmtheory.jghm.bp.downward`'s product over
    the siblings."""
    S, n = h[0].shape[0], h[0].shape[-1]
    beta = _scaled(torch.exp((root_outside - root_outside.amax(-1, keepdim=True))).T * h[0][:, 0])  # (S, n)
    out = [] if leaves_only else [beta[:, None]]
    for d, t in enumerate(Ts):
        parent = beta.reshape(S, -1)
        child = torch.stack([t[c].T @ (parent / q[d][c]) for c in range(t.shape[0])], 1)  # sum_a cavity(a) T_c(a, b)
        beta = child.reshape(S, -1, n) * h[d + 1]
        if d < len(Ts) - 1:
            beta = _scaled(beta)
        if not leaves_only or d == len(Ts) - 1:
            out.append(beta)
    return out


def _scaled_passes(Ts, root_outside: torch.Tensor, leaves_of, result_of, leaves_only: bool = True) -> list:
    """Both scaled passes, block by block (see :func:`_blocks`): ``leaves_of(block)`` gives a block's scaled
    leaf messages ``(S, leaves, n)``, ``result_of(beta)`` what to keep of its marginals; returns the list."""
    n_leaves, S = int(np.prod([t.shape[0] for t in Ts])), Ts[0].shape[-1]
    out = []
    for block in _blocks(root_outside.shape[0], n_leaves * S, root_outside.device):
        h, q = _scaled_upward(Ts, leaves_of(block))
        out.append(result_of(_scaled_downward(Ts, h, q, root_outside[block], leaves_only)))
    return out


def _to_scaled(evidence: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Log-evidence ``(n, leaves, S)`` (breadth-first) as scaled leaf messages ``(S, leaves, n)`` (slot-major)."""
    e = evidence.to(torch.float64).permute(2, 1, 0)[:, order]
    return torch.exp(e - e.amax(0, keepdim=True))


def _from_scaled(beta: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Unnormalised marginals ``(S, nodes, n)`` (slot-major) as posteriors ``(n, nodes, S)`` (breadth-first)."""
    return (beta / beta.sum(0, keepdim=True))[:, torch.argsort(order)].permute(2, 1, 0)


def _observed_parents(layer: np.ndarray, x: torch.Tensor) -> torch.Tensor:
    """The scaled :math:`h` ``(S, N)`` of ``N`` parents of observed leaves ``x`` ``(m, N)`` (row c: slot c), from
    the last ``layer`` ``(m, S, S)`` of the tree.

    :math:`h(a) \\propto \\prod_c T_c(a, x_c)` is read off the joint laws of groups of ``g`` children
    (:func:`mmtheory.jghm.model._child_groups`, shared with the sampler), one lookup per group: for the
    paper's trees, one lookup per parent."""
    m, S = layer.shape[0], layer.shape[-1]
    g, laws = _child_groups(layer)
    digits = S ** torch.arange(g - 1, -1, -1, device=x.device)  # the first slot of a group most significant
    index = (x.reshape(m // g, g, -1) * digits[:, None]).sum(1) + S**g * torch.arange(m // g, device=x.device)[:, None]
    table = torch.as_tensor(np.concatenate([law.T for law in laws]), device=x.device)  # row: a group's tuple
    table = table / table.amax(1, keepdim=True)  # rows scaled: one group needs no further scaling
    h = _product(table[i] for i in index).T
    return h if m == g else _scaled(h)
