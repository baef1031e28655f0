import dataclasses
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from mmtheory.io import atomic_path, load_checkpoint, save_checkpoint, save_figure, to_jsonable, write_json


@dataclasses.dataclass
class Result:
    values: np.ndarray
    count: int
    tensor: torch.Tensor


def test_write_json_round_trips_dataclasses_arrays_and_non_finite(tmp_path):
    path = write_json(tmp_path / "sub" / "r.json", {"r": Result(np.array([1.5, np.inf]), 3, torch.ones(2)),
                                                    "nan": float("nan")})
    data = json.loads(path.read_text())
    assert data == {"r": {"values": [1.5, "inf"], "count": 3, "tensor": [1.0, 1.0]}, "nan": "nan"}


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_atomic_path_refuses_a_folder(tmp_path):
    with pytest.raises(ValueError, match="path must name a file"):
        with atomic_path(tmp_path):
            pass


def test_to_jsonable_rejects_unknown_objects():
    with pytest.raises(TypeError, match="cannot write an object of type object"):
        to_jsonable(object())


def test_save_figure_writes_a_png(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = save_figure(fig, tmp_path / "f.png")
    plt.close(fig)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_checkpoint_round_trip_and_missing(tmp_path):
    assert load_checkpoint(tmp_path / "none.pt") is None
    save_checkpoint(tmp_path / "c.pt", {"step": 7, "w": torch.arange(3)})
    state = load_checkpoint(tmp_path / "c.pt")
    assert state["step"] == 7 and torch.equal(state["w"], torch.arange(3))
    with pytest.raises(TypeError, match="state must be a dict"):
        save_checkpoint(tmp_path / "c.pt", [1])
