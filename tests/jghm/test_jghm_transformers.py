"""The JGHM transformers and their training protocol, at tiny sizes (depth-2 trees, d = 32/40, 1-2 blocks)."""

import dataclasses

import numpy as np
import pytest
import torch

from mmtheory.jghm import (JGHM, DenoisingTransformer, NextTokenTransformer, Risk, TrainConfig,
    TreeEncoder, evaluate_clip, evaluate_denoiser, evaluate_next_token, evaluate_zero_shot,
    guidance_penalty, guidance_targets, leaves_given_root, train_clip, train_denoiser, train_next_token)
from mmtheory.jghm import training as jghm_training

S = 10
TINY = JGHM.paper(p=0.2, depth=2, branching=3, n_symbols=S)  # 9 leaves per tree
NET = dict(d=32, n_layers=1, n_heads=2)


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("MMTHEORY_PROGRESS", "0")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def leaves(n, k=9, seed=0):
    return torch.randint(0, S, (n, k), generator=torch.Generator().manual_seed(seed))


def test_networks_have_the_documented_shapes():
    torch.manual_seed(0)
    encoder = TreeEncoder(n_leaves=9, d=32, n_layers=2, n_heads=4, embed_dim=6)
    embedding, hidden = encoder(leaves(5), return_hidden=True)
    assert embedding.shape == (5, 6) and len(hidden) == 2 and hidden[0].shape == (5, 9, 32)
    z = torch.randn(5, 9)
    for condition, given in (("embedding", torch.randn(5, 6)), ("tokens", leaves(5, seed=1))):
        denoiser = DenoisingTransformer(n_leaves=9, condition=condition, embed_dim=6, **NET)
        assert denoiser(z, given).shape == (5, 9)
    for condition, given in (("embedding", torch.randn(5, 6)), ("tokens", leaves(5, k=4))):
        vlm = NextTokenTransformer(n_text=9, n_image=4, condition=condition, embed_dim=6, **NET)
        assert vlm(leaves(5), given).shape == (5, 8, S)


@pytest.mark.parametrize("condition", ["embedding", "tokens"])
def test_next_token_logits_do_not_see_later_text(condition):
    torch.manual_seed(0)
    vlm = NextTokenTransformer(n_text=9, n_image=9, condition=condition, d=32, n_layers=2, n_heads=2)
    image = torch.randn(4, 10) if condition == "embedding" else leaves(4, seed=1)
    text = leaves(4)
    with torch.no_grad():
        before = vlm(text, image)
        for j in (1, 4, 7):
            changed = text.clone()
            changed[:, j] = (changed[:, j] + 1) % S
            after = vlm(changed, image)
            torch.testing.assert_close(after[:, :j], before[:, :j], rtol=0, atol=1e-6)  # positions < j: unchanged
            assert (after[:, j] - before[:, j]).abs().max() > 1e-4  # position j reads leaf j


def test_the_image_prefix_never_sees_the_text():
    torch.manual_seed(0)
    vlm = NextTokenTransformer(n_text=9, n_image=9, condition="tokens", d=32, n_layers=2, n_heads=2)
    image = leaves(4, seed=1)
    with torch.no_grad():
        _, hidden = vlm(leaves(4, seed=2), image, return_hidden=True)
        _, other = vlm(leaves(4, seed=3), image, return_hidden=True)
    for a, b in zip(hidden, other):
        torch.testing.assert_close(a[:, :9], b[:, :9], rtol=0, atol=0)
        assert (a[:, 9:] - b[:, 9:]).abs().max() > 1e-4


def test_guidance_targets_are_the_upward_messages_of_each_leafs_ancestors():
    # 3 symbols, so that P(leaves | node) can be enumerated (3^9 configurations under the root)
    model = JGHM.paper(p=0.3, depth=2, branching=3, n_symbols=3)
    x = torch.randint(0, 3, (2, 9), generator=torch.Generator().manual_seed(0))
    targets = guidance_targets(model.image, x, n_layers=5)
    assert len(targets) == 2 and all(t.shape == (2, 9, 3) for t in targets)  # min(n_layers, L) blocks
    leaves_ = x[1].tolist()

    def log_message(layers, values):  # log P(leaves below | node), max-normalised, by enumeration
        index = sum(v * 3 ** (len(values) - 1 - i) for i, v in enumerate(values))
        message = np.log(leaves_given_root(layers)[:, index])
        return message - message.max()

    root = log_message(model.image, leaves_)
    parents = [log_message((model.image[1],), leaves_[3 * j:3 * j + 3]) for j in range(3)]
    for leaf in range(9):
        np.testing.assert_allclose(targets[0][1, leaf].numpy(), parents[leaf // 3], atol=1e-10)  # block 1: depth 1
        np.testing.assert_allclose(targets[1][1, leaf].numpy(), root, atol=1e-10)  # block 2: the root


def test_guidance_targets_are_floored_where_a_message_is_minus_infinity():
    model = JGHM.paper(p=0.0, depth=2, branching=3, n_symbols=S)  # deterministic trees
    targets = guidance_targets(model.image, model.sample(3, 0).image, n_layers=2)
    assert all(torch.isfinite(t).all() and t.min() == -30 for t in targets)


def test_guidance_penalty_reads_a_new_channel_slot_at_each_block():
    targets = [torch.randn(3, 9, S, dtype=torch.float64) for _ in range(2)]
    hidden = [torch.zeros(3, 9, 32) for _ in range(2)]
    hidden[0][..., :S] = targets[0].float()
    hidden[1][..., S:2 * S] = targets[1].float()
    assert guidance_penalty(hidden, targets).item() == pytest.approx(0.0, abs=1e-8)
    stale = [hidden[0], torch.zeros(3, 9, 32)]
    stale[1][..., :S] = targets[1].float()  # the official code's slot, never advanced
    expected = float((targets[1] ** 2).sum((1, 2)).mean())
    assert guidance_penalty(stale, targets).item() == pytest.approx(expected, rel=1e-5)


def test_guidance_penalty_needs_a_channel_slot_per_guided_block():
    targets = [torch.zeros(2, 9, S, dtype=torch.float64)] * 2
    with pytest.raises(ValueError, match="d must be >= "):
        guidance_penalty([torch.zeros(2, 9, 16)] * 2, targets)
    with pytest.raises(ValueError, match="d must be >= "):
        train_clip(TINY, TrainConfig(steps=1, batch=4, guidance=1e-3), device="cpu", d=16, n_layers=2, n_heads=2)


def test_clip_training_lowers_the_clip_loss():
    run = train_clip(TINY, TrainConfig(steps=60, batch=64, lr_max=1e-2, lr_min=1e-3), device="cpu", **NET)
    assert run.history.shape == (60,) and run.final == pytest.approx(run.history[-60:].mean())
    assert run.history[-20:].mean() < run.history[:20].mean() - 0.5  # from 2 log 4 ~ 2.8 at the start
    risk = evaluate_clip(run, TINY, n=300)
    assert isinstance(risk, Risk) and risk.n == 300 and 0 < risk.mean < run.history[:20].mean()
    zero_shot = evaluate_zero_shot(run.image_encoder, run.text_encoder, TINY, n=200, M=5)
    assert zero_shot.n == 200 and 0 < zero_shot.mean < 5


def test_in_batch_negatives_are_the_k_way_loss_at_k_equal_to_the_batch():
    """The in-batch loss is the K-way CLIP loss with K = n, each pair's negatives the other pairs, and trains too."""
    run = train_clip(TINY, TrainConfig(steps=40, batch=32, lr_max=1e-2, lr_min=1e-3, negatives="in_batch"),
                     device="cpu", **NET)
    assert run.history[-10:].mean() < run.history[:10].mean() - 0.5  # from 2 log 32 ~ 6.9 at the start
    pairs = TINY.sample(5, 3, "cpu")
    with torch.no_grad():
        image, text = run.image_encoder(pairs.image), run.text_encoder(pairs.text)
        scores = image @ text.T
        expected = [torch.logsumexp(scores[i], 0) + torch.logsumexp(scores[:, i], 0) - 2 * scores[i, i]
                    for i in range(5)]
        torch.testing.assert_close(jghm_training._in_batch_losses(run.image_encoder, run.text_encoder, TINY, pairs,
                                                                  False)[0], torch.stack(expected))
    with pytest.raises(ValueError, match="negatives must be one of"):
        TrainConfig(negatives="hard")
    with pytest.raises(ValueError, match="batch must be >= 2"):
        TrainConfig(batch=1, negatives="in_batch")


class Interrupted(Exception):
    pass


def test_a_resumed_run_matches_an_uninterrupted_one(tmp_path, monkeypatch):
    config = TrainConfig(steps=7, batch=8, lr_max=1e-2, lr_min=1e-4, record_every=3, guidance=1e-3)
    kw = dict(device="cpu", d=40, n_layers=2, n_heads=2)
    whole = train_clip(TINY, config, **kw)

    real, calls = jghm_training.clip_batch, []

    def counted(*args):  # one call per training step; a crash in step 6, after the checkpoint of step 4
        calls.append(1)
        if len(calls) == 6:
            raise Interrupted
        return real(*args)

    resumable = dataclasses.replace(config, checkpoint=tmp_path / "clip.pt", checkpoint_every=2)
    monkeypatch.setattr(jghm_training, "clip_batch", counted)
    with pytest.raises(Interrupted):
        train_clip(TINY, resumable, **kw)
    resumed = train_clip(TINY, resumable, **kw)
    assert len(calls) == 6 + 3  # resumed at step 4: steps 5 to 7 only
    np.testing.assert_array_equal(resumed.history, whole.history)
    for a, b in ((resumed.image_encoder, whole.image_encoder), (resumed.text_encoder, whole.text_encoder)):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(x, y), name
    again = train_clip(TINY, resumable, **kw)  # finished: loaded, not retrained
    assert len(calls) == 9
    np.testing.assert_array_equal(again.history, whole.history)
    with pytest.raises(ValueError, match="checkpoint"):
        train_clip(TINY, dataclasses.replace(resumable, lr_max=2e-2), **kw)
    with pytest.raises(ValueError, match="checkpoint"):
        train_clip(JGHM.paper(p=0.3, depth=2, branching=3, n_symbols=S), resumable, **kw)


def test_downstream_networks_train_on_a_frozen_encoder_and_jointly():
    config = TrainConfig(steps=3, batch=8)
    encoder = TreeEncoder(n_leaves=9, d=32, n_layers=1, n_heads=2)
    frozen = {name: p.clone() for name, p in encoder.state_dict().items()}
    for text_encoder in (encoder, None):
        run = train_denoiser(TINY, config, text_encoder=text_encoder, sigma=1.0, device="cpu", **NET)
        assert run.history.shape == (3,)
        assert run.denoiser.condition == ("tokens" if text_encoder is None else "embedding")
        assert np.isfinite(evaluate_denoiser(run, TINY, n=20).mean)
    for image_encoder in (encoder, None):
        run = train_next_token(TINY, config, image_encoder=image_encoder, device="cpu", **NET)
        assert run.history.shape == (3,)
        risk = evaluate_next_token(run, TINY, n=20)
        assert 0 < risk.mean < 2 * np.log(S)
    assert all(torch.equal(p, frozen[name]) for name, p in encoder.state_dict().items())


@pytest.mark.parametrize("build, name", [
    (lambda: TreeEncoder(d=30, n_heads=4), "d"),
    (lambda: TreeEncoder(n_layers=0), "n_layers"),
    (lambda: TreeEncoder(n_symbols=1), "n_symbols"),
    (lambda: DenoisingTransformer(condition="text"), "condition"),
    (lambda: DenoisingTransformer(d=8, n_heads=2), "d"),
    (lambda: NextTokenTransformer(d=8, n_heads=2, embed_dim=10), "embed_dim"),
    (lambda: NextTokenTransformer(n_text=1), "n_text"),
    (lambda: TrainConfig(steps=0), "steps"),
    (lambda: TrainConfig(lr_max=1e-3, lr_min=1e-2), "lr_min"),
    (lambda: TrainConfig(K=1), "K"),
    (lambda: TrainConfig(guidance=-1.0), "guidance"),
    (lambda: TrainConfig(checkpoint=3), "checkpoint"),
])
def test_bad_arguments_raise_naming_the_argument(build, name):
    with pytest.raises(ValueError, match=name):
        build()


def test_bad_inputs_raise_naming_the_argument():
    encoder = TreeEncoder(n_leaves=9, **NET)
    with pytest.raises(ValueError, match="leaves"):
        encoder(leaves(2, k=8))
    with pytest.raises(ValueError, match=r"leaves symbols must be in \[0, 9\]"):
        encoder(leaves(2) + 5)
    with pytest.raises(ValueError, match="leaves"):
        encoder(leaves(2).float())
    denoiser = DenoisingTransformer(n_leaves=9, **NET)
    with pytest.raises(ValueError, match="z"):
        denoiser(leaves(2), torch.randn(2, 10))
    with pytest.raises(ValueError, match="condition"):
        denoiser(torch.randn(2, 9), torch.randn(3, 10))
    vlm = NextTokenTransformer(n_text=9, n_image=9, condition="tokens", **NET)
    with pytest.raises(ValueError, match="condition"):
        vlm(leaves(2), leaves(2) - 1)
    with pytest.raises(ValueError, match="text"):
        vlm(leaves(2, k=5), leaves(2))
    with pytest.raises(ValueError, match="guidance"):
        train_denoiser(TINY, TrainConfig(steps=1, guidance=0.1), device="cpu", **NET)
    with pytest.raises(ValueError, match="text_encoder"):
        train_denoiser(TINY, TrainConfig(steps=1), text_encoder=TreeEncoder(n_leaves=81, **NET), device="cpu", **NET)
    with pytest.raises(ValueError, match="condition"):
        train_next_token(TINY, TrainConfig(steps=1), condition="tokens", device="cpu", **NET)
