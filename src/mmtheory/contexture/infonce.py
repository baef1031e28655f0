r"""InfoNCE and the contexture: the PMI that contrastive learning fits, against the singular functions.

Part I shows that the population minimiser of the symmetric InfoNCE (CLIP) loss is the pointwise mutual
information :math:`\log r`, with :math:`r = P^+/(P_X \otimes P_A)`; the spectral objectives of Part III
learn the rank-:math:`d` truncation of :math:`r - 1 = \sum_{i \ge 1} s_i\, \mu_i \otimes \nu_i`. Under weak
association the two agree to first order: for :math:`P_t = (1-t)\,P_X \otimes P_A + t\,P^+`,
:math:`\log r_t = t(r - 1) + O(t^2)`.
"""

from __future__ import annotations

import numpy as np
import torch

from ..checks import Integer, Probability, Real, constrain
from ..sufficiency.joint import pmi
from .operator import validate_context


@constrain(t=Probability(closed_low=False))
def weak_association(P, t: float) -> np.ndarray:
    r""":math:`P_t = (1-t)\,P_X \otimes P_A + t\,P`: the same marginals and singular functions, singular values :math:`t\,s_i`.

    Implements {prf:ref}`prop-infonce-contexture`
    """
    P = validate_context(P)
    return (1 - t) * np.outer(P.sum(axis=1), P.sum(axis=0)) + t * P


def double_centred_pmi(P) -> np.ndarray:
    r"""The PMI of ``P`` with its functions of :math:`x` alone and of :math:`a` alone removed in :math:`L^2(P_X \otimes P_A)`.

    Implements {prf:ref}`prop-infonce-contexture`

    ``P`` must have full support (the PMI is finite everywhere).
    """
    P = validate_context(P)
    if np.any(P <= 0):
        raise ValueError("P must have full support: the PMI of a zero entry is -inf")
    M, px, pa = pmi(P), P.sum(axis=1), P.sum(axis=0)
    return M - (M @ pa)[:, None] - (px @ M)[None, :] + px @ M @ pa


@constrain(d=Integer(1))
def pmi_top_functions(P, d: int) -> np.ndarray:
    r"""The top-:math:`d` left singular functions (``N x d``) of the double-centred PMI in :math:`L^2(P_X \otimes P_A)`.

    Implements {prf:ref}`prop-infonce-contexture`
    """
    P = validate_context(P)
    px, pa = P.sum(axis=1), P.sum(axis=0)
    U = np.linalg.svd(np.sqrt(px)[:, None] * double_centred_pmi(P) * np.sqrt(pa)[None, :])[0]
    return U[:, :d] / np.sqrt(px)[:, None]


@constrain(d=Integer(1), steps=Integer(1), lr=Real(0, closed="neither"), seed=Integer(0))
def fit_low_rank_infonce(P, d: int, steps: int = 3000, lr: float = 0.03, seed: int = 0) -> tuple[np.ndarray, float]:
    r"""Minimise the population symmetric InfoNCE loss (:math:`K = \infty`) over bilinear scores :math:`s = FG^\top`.

    Implements {prf:ref}`prop-infonce-contexture`

    The loss is :math:`-2\,\mathbb E_{P}\,s + \mathbb E_{x}\log \mathbb E_{P_A} e^{s(x, \cdot)} + \mathbb E_{a}\log \mathbb E_{P_X} e^{s(\cdot, a)}`,
    minimised by full-batch Adam from a small random start. Returns the image embedding ``F`` (``N x d``)
    and the final loss, whose minimum over all scores is :math:`-2I(X;A)`.
    """
    P = validate_context(P)
    g = torch.Generator().manual_seed(seed)
    P_t = torch.as_tensor(P, dtype=torch.float64)
    px, pa = P_t.sum(1), P_t.sum(0)
    F = (0.1 * torch.randn(P.shape[0], d, generator=g, dtype=torch.float64)).requires_grad_()
    G = (0.1 * torch.randn(P.shape[1], d, generator=g, dtype=torch.float64)).requires_grad_()
    opt = torch.optim.Adam([F, G], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        s = F @ G.T
        loss = (-2 * (P_t * s).sum() + px @ torch.logsumexp(torch.log(pa)[None, :] + s, 1)
                + pa @ torch.logsumexp(torch.log(px)[:, None] + s, 0))
        loss.backward()
        opt.step()
    return F.detach().numpy(), float(loss.detach())
