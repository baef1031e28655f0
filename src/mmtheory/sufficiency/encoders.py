r"""Sufficient and approximately sufficient encoders of a finite modality.

An **encoder** of :math:`X \in \{0, \dots, n_x - 1\}` is given here as an integer array
``encoder`` of length :math:`n_x`: :math:`E(x) = \texttt{encoder[x]}`, a code in
:math:`\{0, \dots, n_e - 1\}`. (Every deterministic encoder of a finite space is a partition
of it, so this loses nothing.) The **sufficiency** of :math:`E` for :math:`Y` is the
information about :math:`Y` that the code throws away, in four equal forms (Oko et al., 2025):

.. math::

   \operatorname{Suff}(E)
   &= \mathbb E_X\, \mathrm{KL}\big(P(\cdot \mid X) \,\|\, P(\cdot \mid E(X))\big)        &\text{(conditional KL)}\\
   &= I(X; Y) - I(E(X); Y)                                                            &\text{(information loss)}\\
   &= \min_{Q} \mathbb E_X\, \mathrm{KL}\big(P(\cdot \mid X) \,\|\, Q(\cdot \mid E(X))\big) &\text{(variational)}\\
   &= \min_{h} \Delta_{X \to Y}\big((x, y) \mapsto h(E(x), y)\big)                          &\text{(contrastive)}

where :math:`\Delta_{X \to Y}` is the image-to-text half of the large-batch excess
contrastive risk (:func:`mmtheory.contrastive.excess_risk_large_batch`).
Every function takes ``axis=0`` to encode :math:`X` (rows of ``P``) or ``axis=1`` to encode :math:`Y`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .checks import check_integer
from .contrastive import _monte_carlo_values, excess_risk_large_batch
from .jghm import TinyTree
from .joint import conditional, conditional_kl, mutual_information, pmi, validate_joint
from .registry import experiment
from .runtime import resolve_scale


def validate_encoder(encoder, n: int, name: str = "encoder") -> np.ndarray:
    """Check that ``encoder`` maps ``range(n)`` to codes ``0..n_e-1``; return it as an int array."""
    enc = np.asarray(encoder)
    if enc.ndim != 1 or enc.shape[0] != n:
        raise ValueError(f"{name} must be a 1-D array with one code per value (length {n}), got shape {enc.shape}")
    if not np.issubdtype(enc.dtype, np.integer) or (n and enc.min() < 0):
        raise ValueError(f"{name} must hold non-negative integer codes")
    return enc.astype(np.int64)


def _oriented(P, encoder, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """``P`` with the encoded variable on the rows, and the checked encoder."""
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 (encode X, the rows) or 1 (encode Y, the columns), got {axis!r}")
    P = validate_joint(P)
    P = P if axis == 0 else P.T
    return P, validate_encoder(encoder, P.shape[0])


def encode(P, encoder, axis: int = 0) -> np.ndarray:
    """The joint law of the code and the other modality: :math:`P(E(X) = e, Y = y)` (``axis=0``).

    For ``axis=1`` it is :math:`P(X = x, E(Y) = e)`, with the code on the columns.
    """
    P_rows, enc = _oriented(P, encoder, axis)
    coded = np.zeros((int(enc.max()) + 1 if enc.size else 0, P_rows.shape[1]))
    np.add.at(coded, enc, P_rows)
    return coded if axis == 0 else coded.T


def encode_both(P, image_encoder, text_encoder) -> np.ndarray:
    """The joint law of the two codes, :math:`P(E_X(X) = e_1, E_Y(Y) = e_2)`."""
    return encode(encode(P, image_encoder, axis=0), text_encoder, axis=1)


def sufficiency_kl(P, encoder, axis: int = 0) -> float:
    """:math:`\\mathbb E_X \\mathrm{KL}(P(Y \\mid X) \\| P(Y \\mid E(X)))`: the conditional-KL form."""
    P_rows, enc = _oriented(P, encoder, axis)
    given_code = conditional(encode(P_rows, enc))[enc]  # row x holds P(y | E(x))
    return conditional_kl(P_rows, given_code)


def sufficiency_information(P, encoder, axis: int = 0) -> float:
    """:math:`I(X; Y) - I(E(X); Y)`: the information-loss form."""
    P_rows, enc = _oriented(P, encoder, axis)
    return mutual_information(P_rows) - mutual_information(encode(P_rows, enc))


def variational_objective(P, encoder, Q, axis: int = 0) -> float:
    """:math:`\\mathbb E_X \\mathrm{KL}(P(Y \\mid X) \\| Q(Y \\mid E(X)))` for a kernel ``Q`` (rows: codes).

    Its minimum over ``Q`` is the sufficiency, attained at :math:`Q = P(Y \\mid E)`; the gap is
    :math:`\\sum_e P(e)\\, \\mathrm{KL}(P(\\cdot \\mid e) \\| Q(\\cdot \\mid e))` (the chain rule).
    """
    P_rows, enc = _oriented(P, encoder, axis)
    Q = np.asarray(Q, dtype=float)
    n_codes = int(enc.max()) + 1
    if Q.ndim != 2 or Q.shape != (n_codes, P_rows.shape[1]):
        raise ValueError(f"Q must have shape {(n_codes, P_rows.shape[1])} (codes x values), got {Q.shape}")
    return conditional_kl(P_rows, Q[enc])


def sufficiency_variational(P, encoder, axis: int = 0) -> float:
    """The variational form at its minimiser :math:`Q = P(Y \\mid E)`."""
    P_rows, enc = _oriented(P, encoder, axis)
    return variational_objective(P_rows, enc, conditional(encode(P_rows, enc)))


def factoring_score(P, encoder, axis: int = 0) -> np.ndarray:
    """The best score that sees the encoded side only through its code: :math:`\\log P(y \\mid E(x)) / P(y)`.

    Returned on the full grid (rows x, columns y, whichever side is encoded); ``-inf`` where
    :math:`P(y \\mid E(x)) = 0`.
    """
    P_rows, enc = _oriented(P, encoder, axis)
    score = pmi(encode(P_rows, enc))[enc]
    return score if axis == 0 else score.T


def sufficiency_contrastive(P, encoder, axis: int = 0) -> float:
    """The contrastive form: the one-direction large-batch excess risk of :func:`factoring_score`."""
    P = validate_joint(P)
    score = factoring_score(P, encoder, axis)
    return excess_risk_large_batch(score, P, direction="x_to_y" if axis == 0 else "y_to_x")


def prefix_encoder(n_symbols: int, n_leaves: int, k: int) -> np.ndarray:
    """Encoder of a leaf configuration (index in base ``n_symbols``, first leaf most significant)
    that keeps only its first ``k`` leaves."""
    check_integer(n_symbols, "n_symbols", 2)
    check_integer(n_leaves, "n_leaves", 1)
    check_integer(k, "k", 0, n_leaves)
    return np.arange(n_symbols**n_leaves) // n_symbols ** (n_leaves - k)


def block_encoder(n: int, n_cells: int) -> np.ndarray:
    """Coarsen ``range(n)`` into ``n_cells`` blocks of neighbouring values (sizes differing by at most one)."""
    check_integer(n, "n", 1)
    check_integer(n_cells, "n_cells", 1, n)
    return (np.arange(n) * n_cells) // n


# --- Part I: near-minimisers are approximately sufficient --------------------------------------


@dataclasses.dataclass(frozen=True)
class SuffVsExcessConfig:
    """A tiny JGHM (exactly enumerable) and the Monte Carlo budget for the finite-K excess risks."""

    tree: TinyTree = TinyTree()
    Ks: tuple[int, ...] = (2, 4, 16, 64)
    n_anchors: int = 200_000

    @classmethod
    def for_scale(cls, scale: str | None = None) -> "SuffVsExcessConfig":
        scale = resolve_scale(scale)
        return {"quick": cls(n_anchors=20_000), "book": cls(), "full": cls(n_anchors=4_000_000)}[scale]


@dataclasses.dataclass
class SuffVsExcessResult:
    """For encoders :math:`E_k` keeping the first ``k`` image leaves: sufficiency and excess risks.

    Excess risks are per direction (the summed risk's excess halved), so that at :math:`K = \\infty`
    the excess of the best score factoring through :math:`E_k` equals :math:`\\operatorname{Suff}(E_k)`.
    """

    config: SuffVsExcessConfig
    mutual_information: float
    k: np.ndarray  # (n_enc,)
    suff: np.ndarray  # (n_enc,)
    excess_inf: np.ndarray  # (n_enc,)
    Ks: np.ndarray  # (n_K,)
    excess_K: np.ndarray  # (n_enc, n_K)
    excess_K_se: np.ndarray  # (n_enc, n_K)


def plot_suff_vs_excess(result: SuffVsExcessResult):
    """Excess risk against sufficiency: on the diagonal at K = infinity, below it by about (K-1)/K."""
    from .viz import new_figure, sequential_colors

    fig, (ax0, ax1) = new_figure(ncols=2)
    top = 1.1 * result.suff.max()
    ax0.plot([0, top], [0, top], "k--", lw=1, label="excess = Suff")
    ax0.plot(result.suff, result.excess_inf, "ko", label=r"$K=\infty$ (exact)")
    for j, (K, color) in enumerate(zip(result.Ks, sequential_colors(len(result.Ks)))):
        ax0.errorbar(result.suff, result.excess_K[:, j], yerr=2 * result.excess_K_se[:, j], fmt="s", color=color,
                     ms=4, label=f"K = {K}")
    ax0.set(xlabel=r"$\mathrm{Suff}(E_k)$ (nats)", ylabel="excess risk per direction", title="excess vs sufficiency")
    ax0.legend(fontsize="small")
    keep = result.suff > 1e-9
    ratio = result.suff[keep, None] / result.excess_K[keep]
    for row, k in zip(ratio, result.k[keep]):
        ax1.semilogx(result.Ks, row, "o-", label=f"k = {k}")
    K_grid = np.geomspace(result.Ks.min(), result.Ks.max(), 50)
    ax1.semilogx(K_grid, K_grid / (K_grid - 1), "k--", lw=1, label="K/(K-1)")
    ax1.set(xlabel="K", ylabel=r"Suff / excess$_K$", title="finite K: how much the bound loosens")
    ax1.legend(fontsize="small")
    return fig


@experiment("suff_vs_excess", plot=plot_suff_vs_excess)
def suff_vs_excess(scale: str | None = None, seed: int = 0, device=None) -> SuffVsExcessResult:
    """Sufficiency of prefix encoders of a tiny JGHM against the excess CLIP risk of their best scores, K = 2..inf."""
    cfg = SuffVsExcessConfig.for_scale(scale)
    P, tree = cfg.tree.joint(), cfg.tree
    ks = np.arange(tree.n_leaves)  # k = n_leaves keeps everything: Suff = 0
    encoders = [prefix_encoder(tree.n_symbols, tree.n_leaves, int(k)) for k in ks]
    best = pmi(P)
    scores = [factoring_score(P, enc) for enc in encoders]
    excess = np.empty((len(ks), len(cfg.Ks)))
    se = np.empty_like(excess)
    for j, K in enumerate(cfg.Ks):
        values = _monte_carlo_values([*scores, best], P, int(K), cfg.n_anchors, "iid", seed + j)
        gaps = (values[:-1] - values[-1]) / 2  # per direction
        excess[:, j] = gaps.mean(axis=1)
        se[:, j] = gaps.std(axis=1, ddof=1) / np.sqrt(cfg.n_anchors)
    return SuffVsExcessResult(
        config=cfg,
        mutual_information=mutual_information(P),
        k=ks,
        suff=np.array([sufficiency_information(P, enc) for enc in encoders]),
        excess_inf=np.array([excess_risk_large_batch(s, P) / 2 for s in scores]),
        Ks=np.array(cfg.Ks),
        excess_K=excess,
        excess_K_se=se,
    )


def draw_coarsening_state(fig, P, n_cells: int, axis: int = 0) -> None:
    """Part I widget: the law of (code, text) for a block coarsening of the image, and Suff against the cells."""
    from .viz import PALETTE

    n = P.shape[axis]
    ax0, ax1 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    coded = encode(P, block_encoder(n, n_cells), axis=axis)
    ax0.imshow(coded / coded.sum(axis=1, keepdims=True), cmap="viridis", origin="lower", aspect="auto",
               extent=(-0.5, P.shape[1] - 0.5, -0.5, n_cells - 0.5))
    ax0.grid(False)
    ax0.set(xlabel="$y$", ylabel="code $E(x)$", title=f"$P(y \\mid E(x))$, {n_cells} cells")
    cells = np.arange(1, n + 1)
    suff = [sufficiency_information(P, block_encoder(n, c), axis=axis) for c in cells]
    ax1.plot(cells, suff, "o-", color="0.7")
    ax1.plot([n_cells], [suff[n_cells - 1]], "o", ms=10, color=PALETTE[1])
    ax1.axhline(mutual_information(P), color="k", ls="--", lw=1, label="$I(X;Y)$: nothing kept")
    ax1.set(xlabel="cells of the coarsening", ylabel="Suff$(E)$ (nats)",
            title=f"Suff = {suff[n_cells - 1]:.4f} nats")
    ax1.legend(fontsize="small")
