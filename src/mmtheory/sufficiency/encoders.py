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
contrastive risk (:func:`mmtheory.sufficiency.excess_risk_large_batch`).
Every function takes ``axis=0`` to encode :math:`X` (rows of ``P``) or ``axis=1`` to encode :math:`Y`.
"""

from __future__ import annotations

import numpy as np

from ..checks import Integer, OneOf, check_integer, constrain
from .contrastive import excess_risk_large_batch
from .joint import conditional, conditional_kl, mutual_information, pmi, validate_encoder, validate_joint


def _oriented(P, encoder, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """``P`` with the encoded variable on the rows, and the checked encoder."""
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 (encode X, the rows) or 1 (encode Y, the columns), got {axis!r}")
    P = validate_joint(P)
    P = P if axis == 0 else P.T
    return P, validate_encoder(encoder, P.shape[0])


@constrain(axis=OneOf(0, 1))
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


@constrain(axis=OneOf(0, 1))
def sufficiency_kl(P, encoder, axis: int = 0) -> float:
    """:math:`\\mathbb E_X \\mathrm{KL}(P(Y \\mid X) \\| P(Y \\mid E(X)))`: the conditional-KL form.

    Implements {prf:ref}`def-suff`
    """
    P_rows, enc = _oriented(P, encoder, axis)
    given_code = conditional(encode(P_rows, enc))[enc]  # row x holds P(y | E(x))
    return conditional_kl(P_rows, given_code)


@constrain(axis=OneOf(0, 1))
def sufficiency_information(P, encoder, axis: int = 0) -> float:
    """:math:`I(X; Y) - I(E(X); Y)`: the information-loss form.

    Implements {prf:ref}`prop-four-forms`
    """
    P_rows, enc = _oriented(P, encoder, axis)
    return mutual_information(P_rows) - mutual_information(encode(P_rows, enc))


@constrain(axis=OneOf(0, 1))
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


@constrain(axis=OneOf(0, 1))
def sufficiency_variational(P, encoder, axis: int = 0) -> float:
    """The variational form at its minimiser :math:`Q = P(Y \\mid E)`.

    Implements {prf:ref}`prop-four-forms`
    """
    P_rows, enc = _oriented(P, encoder, axis)
    return variational_objective(P_rows, enc, conditional(encode(P_rows, enc)))


@constrain(axis=OneOf(0, 1))
def factoring_score(P, encoder, axis: int = 0) -> np.ndarray:
    """The best score that sees the encoded side only through its code: :math:`\\log P(y \\mid E(x)) / P(y)`.

    Implements {prf:ref}`prop-four-forms`

    Returned on the full grid (rows x, columns y, whichever side is encoded); ``-inf`` where
    :math:`P(y \\mid E(x)) = 0`.
    """
    P_rows, enc = _oriented(P, encoder, axis)
    score = pmi(encode(P_rows, enc))[enc]
    return score if axis == 0 else score.T


@constrain(axis=OneOf(0, 1))
def sufficiency_contrastive(P, encoder, axis: int = 0) -> float:
    """The contrastive form: the one-direction large-batch excess risk of :func:`factoring_score`.

    Implements {prf:ref}`prop-four-forms`
    """
    P = validate_joint(P)
    score = factoring_score(P, encoder, axis)
    return excess_risk_large_batch(score, P, direction="x_to_y" if axis == 0 else "y_to_x")


@constrain(n_symbols=Integer(2), n_leaves=Integer(1), k=Integer(0))
def prefix_encoder(n_symbols: int, n_leaves: int, k: int) -> np.ndarray:
    """Encoder of a leaf configuration (index in base ``n_symbols``, first leaf most significant)
    that keeps only its first ``k`` leaves."""
    check_integer(k, "k", 0, n_leaves)
    return np.arange(n_symbols**n_leaves) // n_symbols ** (n_leaves - k)


@constrain(n=Integer(1), n_cells=Integer(1))
def block_encoder(n: int, n_cells: int) -> np.ndarray:
    """Coarsen ``range(n)`` into ``n_cells`` blocks of neighbouring values (sizes differing by at most one)."""
    check_integer(n_cells, "n_cells", 1, n)
    return (np.arange(n) * n_cells) // n


# --- Part I: near-minimisers are approximately sufficient --------------------------------------


