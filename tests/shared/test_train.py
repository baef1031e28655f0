"""The shared training loop: schedule, clipping, records and callbacks, checkpoints, argument checks."""

import math

import numpy as np
import pytest
import torch

from mmtheory.io import load_checkpoint
from mmtheory.train import Optimisation, train


@pytest.fixture(autouse=True)
def no_bars(monkeypatch):
    monkeypatch.setenv("MMTHEORY_PROGRESS", "0")


def quadratic(seed=0):
    """A small least-squares problem on fresh Gaussian batches from a seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = torch.nn.Linear(3, 1, dtype=torch.float64)
    target = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)

    def loss(step):
        x = torch.randn(16, 3, generator=gen, dtype=torch.float64)
        return ((net(x)[:, 0] - x @ target) ** 2).mean()

    return net, loss, gen


def test_with_no_weight_decay_the_loop_is_adam_and_its_cosine_schedule_bit_for_bit():
    net, loss, _ = quadratic()
    history = train([net], loss, Optimisation(steps=25, lr=0.05))
    by_hand, hand_loss, _ = quadratic()
    opt = torch.optim.Adam(by_hand.parameters(), lr=0.05)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=25)
    values = []
    for step in range(25):
        value = hand_loss(step)
        opt.zero_grad()
        value.backward()
        opt.step()
        schedule.step()
        values.append(value.item())
    np.testing.assert_array_equal(history, values)
    for a, b in zip(net.parameters(), by_hand.parameters()):
        assert torch.equal(a, b)


def test_the_cosine_schedule_runs_from_lr_to_lr_min(tmp_path):
    # a linear loss has a constant gradient, so each Adam step moves a weight by the step size itself
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    seen = []
    steps, lr, lr_min = 40, 0.1, 0.01
    train([w], lambda step: w.sum(), Optimisation(steps, lr, lr_min), record_every=1,
          callback=lambda done: seen.append(w.item()), checkpoint=tmp_path / "run.pt")
    moves = -np.diff(seen)
    expected = lr_min + (lr - lr_min) * (1 + np.cos(np.pi * np.arange(steps) / steps)) / 2
    np.testing.assert_allclose(moves, expected, rtol=1e-6)
    assert load_checkpoint(tmp_path / "run.pt")["optimizer"]["param_groups"][0]["lr"] == pytest.approx(lr_min)
    constant = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    train([constant], lambda step: constant.sum(), Optimisation(10, lr, cosine=False))
    assert constant.item() == pytest.approx(-10 * lr, rel=1e-6)


def test_clipping_bounds_the_gradient_norm():
    def norms(clip_norm):
        w = torch.zeros(5, dtype=torch.float64, requires_grad=True)
        found = []
        train([w], lambda step: 1e3 * ((w - 7.0) ** 2).sum(), Optimisation(6, 0.1, clip_norm=clip_norm),
              record_every=1, callback=lambda done: found.append(float(w.grad.norm())) if done else None)
        return np.array(found)

    assert np.all(norms(None) > 1e4)
    assert np.all(norms(0.5) <= 0.5 * (1 + 1e-6))


def test_records_and_callbacks_happen_at_the_documented_steps():
    w = torch.ones(2, dtype=torch.float64, requires_grad=True)
    calls, values = [], []

    def loss(step):
        value = (w**2).sum()
        values.append(value.item())
        return value + 0.0 * w.sum(), value  # minimise one thing, record another

    history = train([w], loss, Optimisation(10, 0.01), record_every=4, callback=calls.append)
    assert calls == [0, 4, 8, 10]  # before any update, every record_every updates, and at the end
    assert history.dtype == np.float64 and history.shape == (10,)
    np.testing.assert_array_equal(history, values)


def test_a_non_finite_loss_raises():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(FloatingPointError, match="not finite by step 4"):
        train([w], lambda step: w.sum() * (math.nan if step == 2 else 1.0), Optimisation(10, 0.01), record_every=2)


class Interrupted(Exception):
    pass


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    settings = Optimisation(steps=9, lr=0.05, lr_min=1e-3, weight_decay=0.01, clip_norm=1.0)
    whole_net, loss, gen = quadratic(seed=3)
    whole = train([whole_net], loss, settings, record_every=2, generator=gen)

    path = tmp_path / "run.pt"
    kw = {"record_every": 2, "checkpoint": path, "checkpoint_every": 3, "identity": "quadratic"}
    net, loss, gen = quadratic(seed=3)
    calls = []

    def crashing(step):
        calls.append(step)
        if step == 7:  # after the checkpoint of step 6
            raise Interrupted
        return loss(step)

    with pytest.raises(Interrupted):
        train([net], crashing, settings, generator=gen, **kw)
    net, loss, gen = quadratic(seed=3)  # as in a fresh process: a new module and generator
    calls.clear()

    def counted(step):
        calls.append(step)
        return loss(step)

    resumed = train([net], counted, settings, generator=gen, **kw)
    assert calls == [6, 7, 8]  # resumed at step 6
    np.testing.assert_array_equal(resumed, whole)
    for a, b in zip(net.parameters(), whole_net.parameters()):
        assert torch.equal(a, b)
    again = train([net], counted, settings, generator=gen, **kw)  # finished: loaded, not retrained
    assert calls == [6, 7, 8]
    np.testing.assert_array_equal(again, whole)
    with pytest.raises(ValueError, match="checkpoint"):
        train([net], loss, Optimisation(steps=9, lr=0.1), generator=gen, **kw)
    with pytest.raises(ValueError, match="checkpoint"):
        train([net], loss, settings, generator=gen, **{**kw, "identity": "another task"})


def test_resuming_restores_leaf_tensors_and_their_values(tmp_path):
    def run(crash_at=None):
        w = torch.zeros(3, dtype=torch.float64, requires_grad=True)

        def loss(step):
            if step == crash_at:
                raise Interrupted
            return ((w - torch.arange(3.0, dtype=torch.float64)) ** 2).sum()

        return w, loss

    w, loss = run()
    whole = train([w], loss, Optimisation(6, 0.1))
    path = tmp_path / "tensor.pt"
    v, crashing = run(crash_at=4)
    with pytest.raises(Interrupted):
        train([v], crashing, Optimisation(6, 0.1), checkpoint=path, checkpoint_every=2)
    u, loss = run()
    resumed = train([u], loss, Optimisation(6, 0.1), checkpoint=path, checkpoint_every=2)
    np.testing.assert_array_equal(resumed, whole)
    assert torch.equal(u, w)


def test_module_modes_are_left_as_they_are():
    net, loss, _ = quadratic()
    net.eval()
    train([net], loss, Optimisation(2, 0.01))
    assert not net.training


def w0():
    return torch.zeros(2, requires_grad=True)


@pytest.mark.parametrize("make, name", [
    (lambda: Optimisation(0, 0.1), "steps"),
    (lambda: Optimisation(2.5, 0.1), "steps"),
    (lambda: Optimisation(5, 0.0), "lr"),
    (lambda: Optimisation(5, float("nan")), "lr"),
    (lambda: Optimisation(5, 0.1, lr_min=-1.0), "lr_min"),
    (lambda: Optimisation(5, 0.1, lr_min=0.2), "lr_min"),
    (lambda: Optimisation(5, 0.1, cosine="yes"), "cosine"),
    (lambda: Optimisation(5, 0.1, weight_decay=-0.1), "weight_decay"),
    (lambda: Optimisation(5, 0.1, clip_norm=0.0), "clip_norm"),
    (lambda: train([], lambda s: 0, Optimisation(2, 0.1)), "trained"),
    (lambda: train(w0(), lambda s: 0, Optimisation(2, 0.1)), "trained"),
    (lambda: train([w0() * 2], lambda s: 0, Optimisation(2, 0.1)), "trained"),
    (lambda: train([torch.zeros(2)], lambda s: 0, Optimisation(2, 0.1)), "trained"),
    (lambda: train([w0()], None, Optimisation(2, 0.1)), "loss"),
    (lambda: train([w0()], lambda s: 0, {"steps": 2, "lr": 0.1}), "settings"),
    (lambda: train([w0()], lambda s: 0, Optimisation(2, 0.1), desc=3), "desc"),
    (lambda: train([w0()], lambda s: 0, Optimisation(2, 0.1), callback=3), "callback"),
    (lambda: train([w0()], lambda s: 0, Optimisation(2, 0.1), generator=3), "generator"),
    (lambda: train([w0()], lambda s: 0, Optimisation(2, 0.1), checkpoint=3), "checkpoint"),
])
def test_bad_arguments_raise_a_value_error_naming_the_argument(make, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        make()
