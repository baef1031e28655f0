import numpy as np
import pytest
import torch

from mmtheory import runtime
from mmtheory.runtime import get_device, progress, resolve_scale, seed_everything


def test_scale_argument_wins_over_environment(monkeypatch):
    monkeypatch.setenv("MMTHEORY_SCALE", "full")
    assert resolve_scale("quick") == "quick"


def test_scale_defaults_to_environment_then_book(monkeypatch):
    monkeypatch.setenv("MMTHEORY_SCALE", "quick")
    assert resolve_scale() == "quick"
    monkeypatch.delenv("MMTHEORY_SCALE")
    assert resolve_scale() == "book"


@pytest.mark.parametrize("bad", ["fast", "", "QUICK", 3])
def test_invalid_scale_argument_names_the_argument(bad):
    with pytest.raises(ValueError, match="scale must be one of"):
        resolve_scale(bad)


def test_invalid_scale_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("MMTHEORY_SCALE", "huge")
    with pytest.raises(ValueError, match="MMTHEORY_SCALE"):
        resolve_scale()


def test_device_defaults_to_cuda_only_when_available(monkeypatch):
    monkeypatch.delenv("MMTHEORY_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device().type == expected


def test_device_override_by_argument_and_environment(monkeypatch):
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("MMTHEORY_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


@pytest.mark.parametrize("bad", ["gpu", "tpu", "cuda:x", 7.5])
def test_invalid_device_names_the_argument(bad):
    with pytest.raises(ValueError, match="device"):
        get_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_cuda_without_a_gpu_is_an_error():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        get_device("cuda")


def test_same_seed_gives_same_numbers_on_cpu():
    def draw(seed):
        rng = seed_everything(seed)
        return rng.standard_normal(5), np.random.rand(3), torch.randn(4).numpy()

    first, again, other = draw(11), draw(11), draw(12)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[2], other[2])


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "3", True])
def test_invalid_seed_names_the_argument(bad):
    with pytest.raises(ValueError, match="seed must be an integer"):
        seed_everything(bad)


def test_progress_yields_every_item_and_can_be_switched_off(monkeypatch):
    assert list(progress(range(5), desc="x")) == [0, 1, 2, 3, 4]
    monkeypatch.setenv("MMTHEORY_PROGRESS", "0")
    assert not runtime.progress_enabled()
    bar = progress(range(3))
    assert bar.disable
    monkeypatch.setenv("MMTHEORY_PROGRESS", "1")
    assert runtime.progress_enabled()
