import numpy as np
import pytest

from mmtheory.numerics import fit_inverse_m, fit_prompt_expansion
from mmtheory.sufficiency import (bayes_label_posterior, block_encoder, cross_entropy_risk, encode,
    denoising_excess, diffusion_score_gap, draw_prompts, excess_risk_large_batch, gaussian_joint, label_channel,
    next_token_excess, pmi, sufficiency_information, zero_shot, zero_shot_posterior)

P = gaussian_joint(8, 0.7)
CHANNEL = label_channel(block_encoder(8, 3))


def test_bayes_identity_pmi_with_infinitely_many_prompts_is_the_bayes_posterior():
    np.testing.assert_allclose(zero_shot_posterior(pmi(P) + 2.0, P, CHANNEL), bayes_label_posterior(P, CHANNEL),
                               atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_pushforward_bound_label_loss_at_most_the_image_to_text_excess(seed):
    s = pmi(P) + np.random.default_rng(seed).normal(0, 1.0, size=P.shape)
    joint_xc = P @ CHANNEL
    kl = np.sum(joint_xc * np.log(bayes_label_posterior(P, CHANNEL) / zero_shot_posterior(s, P, CHANNEL)))
    assert 0 <= kl <= excess_risk_large_batch(s, P, direction="x_to_y") + 1e-12


def test_many_prompts_approach_the_infinite_prompt_posterior():
    rng = np.random.default_rng(0)
    finite = zero_shot_posterior(pmi(P), P, CHANNEL, draw_prompts(P, CHANNEL, 20000, rng))
    np.testing.assert_allclose(finite, zero_shot_posterior(pmi(P), P, CHANNEL), atol=0.02)


def test_bayes_posterior_minimises_the_zero_shot_risk():
    bayes = cross_entropy_risk(bayes_label_posterior(P, CHANNEL), P, CHANNEL)
    other = zero_shot_posterior(pmi(P) * 0.5, P, CHANNEL)
    assert cross_entropy_risk(other, P, CHANNEL) > bayes


def test_fit_prompt_expansion_recovers_b_and_c_with_the_limit_known():
    Ms = np.array([1, 2, 4, 8, 16])
    se = np.full(5, 0.01)
    b, c, worst = fit_prompt_expansion(Ms, 0.4 + 1.5 / Ms - 0.3 / Ms**2, se, limit=0.4)
    assert (b, c) == pytest.approx((1.5, -0.3)) and worst < 1e-9
    assert fit_prompt_expansion(Ms, 0.4 + 1.5 / Ms, se, limit=0.5)[2] > 5  # a wrong limit leaves residuals
    with pytest.raises(ValueError, match="se >= 0"):
        fit_prompt_expansion(Ms, Ms, -se, limit=0.0)


def test_fit_inverse_m_recovers_a_and_b():
    Ms = np.array([1, 2, 4, 8, 16])
    assert fit_inverse_m(Ms, 0.4 + 1.5 / Ms) == pytest.approx((0.4, 1.5))


@pytest.mark.parametrize("cells", [1, 2, 4])
def test_denoising_excess_is_within_two_b_squared_suff_and_matches_monte_carlo(cells):
    u = np.linspace(-2, 2, 8)
    enc = block_encoder(8, cells)
    excess, bound = denoising_excess(P, u, enc)
    assert 0 < excess <= bound
    # Monte Carlo: draw (x, y, z) and compare the two posterior means
    rng = np.random.default_rng(cells)
    cells_xy = rng.choice(64, size=200_000, p=P.ravel())
    x, y = cells_xy // 8, cells_xy % 8
    z = u[x] + rng.standard_normal(x.size)
    like = np.exp(-((z[:, None] - u[None, :]) ** 2) / 2)  # (n, n_x)
    m_y = (like * u * P[:, y].T).sum(1) / (like * P[:, y].T).sum(1)
    P_code = np.stack([P[:, enc == e].sum(1) for e in range(enc.max() + 1)], axis=1)
    m_e = (like * u * P_code[:, enc[y]].T).sum(1) / (like * P_code[:, enc[y]].T).sum(1)
    gaps = (m_y - m_e) ** 2
    assert abs(gaps.mean() - excess) < 4 * gaps.std() / np.sqrt(gaps.size)


def test_denoising_excess_vanishes_for_a_sufficient_code():
    excess, bound = denoising_excess(P, np.linspace(-2, 2, 8), np.arange(8))
    assert excess == pytest.approx(0.0, abs=1e-12) and bound == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("cells", [1, 3, 8])
def test_next_token_excess_is_exactly_suff(cells):
    enc = block_encoder(8, cells)
    assert next_token_excess(P, enc) == pytest.approx(sufficiency_information(P, enc), abs=1e-12)


@pytest.mark.parametrize("cells", [1, 3, 8])
def test_next_token_excess_given_the_first_token_is_suff_minus_what_the_token_tells(cells):
    enc, first = block_encoder(8, cells), block_encoder(8, 2)  # G = the first "token" of y: its half
    told = sufficiency_information(encode(P, first, axis=1), enc)  # I(X; G | E) = I(X; G) - I(E; G)
    assert next_token_excess(P, enc, given=first) == pytest.approx(sufficiency_information(P, enc) - told, abs=1e-12)
    assert next_token_excess(P, enc, given=np.zeros(8, dtype=int)) == pytest.approx(next_token_excess(P, enc), abs=1e-12)
    if cells < 8:
        assert told > 1e-3  # the given token carries information the code lost


def test_diffusion_score_gap_is_below_its_bound_and_converges_while_the_bound_grows():
    u = np.linspace(-2, 2, 8)
    enc = block_encoder(8, 2)
    gaps = [diffusion_score_gap(P, u, enc, delta) for delta in (0.1, 0.01)]
    assert all(0 < g <= b for g, b in gaps)
    suff = sufficiency_information(P, enc, axis=1)
    sigma2 = lambda t: -np.expm1(-2 * t)  # noqa: E731
    assert gaps[1][1] == pytest.approx(4 * (1 / sigma2(0.01) - 1 / sigma2(5.0)) * suff)
    assert gaps[1][0] < 2 * gaps[0][0] and gaps[1][1] > 9 * gaps[0][1]
    assert diffusion_score_gap(P, u, np.arange(8), 0.01)[0] == pytest.approx(0.0, abs=1e-12)  # an injective code
    with pytest.raises(ValueError, match="delta must be below T"):
        diffusion_score_gap(P, u, enc, 6.0)


def test_zero_shot_experiment_quick():
    r = zero_shot(scale="quick")
    assert np.all(r.pushforward_kl <= r.suff + 1e-12)
    assert r.risk_infinite_M[-1] == pytest.approx(r.bayes_risk, abs=1e-12)
    assert np.all(r.risk[-1] >= r.bayes_risk - 1e-12) and r.risk[-1, 0] > r.risk[-1, -1]


@pytest.mark.parametrize("call, message", [
    (lambda: zero_shot_posterior(pmi(P), P, CHANNEL[:3]), "channel must have one row per text value"),
    (lambda: zero_shot_posterior(pmi(P), P, CHANNEL, np.zeros((2, 3), dtype=int)), "prompts must have shape"),
    (lambda: denoising_excess(P, np.zeros(3), np.arange(8)), "x_values must give one real value"),
    (lambda: fit_inverse_m([1], [0.3]), "at least two points"),
])
def test_bad_downstream_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
