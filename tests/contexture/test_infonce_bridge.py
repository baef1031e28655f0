"""InfoNCE against the contexture: first-order agreement under weak association."""

import numpy as np
import pytest

from mmtheory import contexture as cx
from mmtheory.numerics import principal_cosines

RNG = np.random.default_rng(0)
P = RNG.random((12, 15)) * (RNG.random((12, 15)) < 0.5) + 1e-3
P /= P.sum()


def test_weak_association_scales_the_singular_values_and_keeps_the_functions():
    S, St = cx.context_svd(P), cx.context_svd(cx.weak_association(P, 0.3))
    np.testing.assert_allclose(St.s[1:], 0.3 * S.s[1:], atol=1e-12)
    assert principal_cosines(St.mu[:, 1:4], S.mu[:, 1:4], S.px).min() > 1 - 1e-9


def test_centred_pmi_over_t_tends_to_r_minus_one():
    px, pa = P.sum(1), P.sum(0)
    r_minus_one = P / np.outer(px, pa) - 1
    errors = [np.abs(cx.double_centred_pmi(cx.weak_association(P, t)) / t - r_minus_one).max() for t in (0.1, 0.01)]
    assert errors[1] < errors[0] / 5  # first order: the error shrinks with t


def test_both_spans_approach_the_contexture_as_association_weakens():
    S, d = cx.context_svd(P), 2
    cos = lambda F: principal_cosines(F, S.mu[:, 1 : d + 1], S.px).min()  # noqa: E731
    weak, strong = cx.weak_association(P, 0.02), cx.weak_association(P, 0.9)
    assert cos(cx.pmi_top_functions(weak, d)) > cos(cx.pmi_top_functions(strong, d))
    assert cos(cx.pmi_top_functions(weak, d)) > 0.99
    F, loss = cx.fit_low_rank_infonce(weak, d, steps=1500)
    assert cos(F) > 0.99 and loss < 0


def test_bad_input():
    with pytest.raises(ValueError, match="full support"):
        cx.double_centred_pmi(np.array([[0.5, 0.0], [0.0, 0.5]]))
    with pytest.raises(ValueError, match="t must be"):
        cx.weak_association(P, 0.0)
