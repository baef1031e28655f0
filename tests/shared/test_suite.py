"""The GPU suite, end to end at ``quick`` scale on the CPU: every piece runs, stores its JSON as it finishes, a
second window continues with what is missing, pieces that do not fit the budget are skipped, and the chapters'
display of the stored results shows device, date, commit and wall time."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from mmtheory import registry
from mmtheory.cli import main
from mmtheory.contexture import ContextureLearningChapter
from mmtheory.registry import experiments
from mmtheory.runtime import GPU_SCALE
from mmtheory.suite import (BUDGET, PIECES, STORED, WARM_UP, describe_stored, piece_names, run_suite, show_stored,
                            stored_record)

from test_scales import CHAPTERS, chapter_code, settings_classes_read_by


@pytest.fixture(scope="module")
def quick_suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    return out, run_suite(out, scale="quick", device="cpu")


def test_the_quick_suite_runs_and_stores_every_piece(quick_suite):
    out, log = quick_suite
    assert list(log) == list(piece_names())
    assert all(entry["status"] == "done" for entry in log.values()), log
    for name in piece_names():
        record = json.loads((out / f"{name}.json").read_text())
        assert record["experiment"] == name and record["scale"] == "quick" and record["device"] == "cpu"
        assert record["seconds"] > 0 and record["date"] and record["device_name"] and "commit" in record
        assert name == "jghm_throughput" or (out / f"{name}.png").exists()
    window = json.loads((out / "suite.json").read_text())["windows"][-1]
    assert window["pieces"] == log and window["scale"] == "quick"


def test_a_later_window_runs_only_what_is_missing(quick_suite):
    out, _ = quick_suite
    (out / "jghm_probe.json").unlink()
    log = run_suite(out, scale="quick", device="cpu", only=["jghm_probe", "icl_finite_context"])
    assert log["jghm_probe"]["status"] == "done" and log["icl_finite_context"]["status"] == "stored"
    assert (out / "jghm_probe.json").exists()
    assert len(json.loads((out / "suite.json").read_text())["windows"]) == 2


def test_pieces_that_do_not_fit_the_budget_are_skipped(tmp_path):
    log = run_suite(tmp_path, scale=GPU_SCALE, device="cpu", budget=1.0)
    assert all(entry["status"].startswith("skipped: needs about") for entry in log.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["suite.json"]


def test_the_chapters_display_shows_where_when_and_how_long(quick_suite, tmp_path):
    out, _ = quick_suite
    for name in piece_names():
        record = stored_record(name, out)
        text = describe_stored(name, out)
        for shown in (record["device_name"], record["date"], str(record["commit"]), "s wall time", "scale `quick`"):
            assert shown in text, (name, shown)
        assert describe_stored(name, tmp_path).startswith(f"**No GPU result of `{name}` is stored yet.**")
    assert "| sampling | cpu |" in describe_stored("jghm_throughput", out)
    assert show_stored("jghm_clip", out) == stored_record("jghm_clip", out)
    assert show_stored("jghm_clip", tmp_path) is None


def test_every_piece_is_shown_in_a_chapter():
    code = "\n".join(chapter_code(path) for path in CHAPTERS)
    for name in piece_names():
        assert f'show_stored("{name}")' in code, f"no chapter shows the stored result of {name}"


def test_the_plan_fits_one_window_and_every_experiment_has_a_gpu_size():
    assert WARM_UP + sum(piece.estimate for piece in PIECES) <= BUDGET
    known = experiments()
    for piece in PIECES:
        assert piece.basis and piece.estimate > 0
        if piece.name != "jghm_throughput":
            (cls,) = settings_classes_read_by(known[piece.name].run)
            assert isinstance(cls.for_scale(GPU_SCALE), cls), piece.name


def test_the_command_line_runs_pieces(tmp_path, capsys):
    assert main(["gpu-suite", "--scale", "quick", "--device", "cpu", "--out", str(tmp_path), "--only",
                 "jghm_probe"]) == 0
    assert "jghm_probe" in capsys.readouterr().out and (tmp_path / "jghm_probe.json").exists()
    assert main(["gpu-suite", "--only", "nothing", "--out", str(tmp_path)]) == 2


@pytest.mark.parametrize("call, name", [
    (lambda: run_suite("x", scale="full"), "scale"),
    (lambda: run_suite("x", scale="quick", only=["nothing"]), "only"),
    (lambda: run_suite("x", budget=0), "budget"),
    (lambda: run_suite("x", device="tpu"), "device"),
    (lambda: stored_record("nothing"), "name"),
    (lambda: ContextureLearningChapter.for_scale(GPU_SCALE), "scale 'gpu'"),
])
def test_bad_arguments_name_themselves(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_the_chapters_look_where_the_suite_stores():
    root = Path(__file__).resolve().parents[2]
    default = inspect.signature(run_suite).parameters["out"].default
    assert (root / "book" / "jghm" / STORED).resolve() == (root / default).resolve()


def test_a_copy_without_git_takes_its_commit_from_the_environment(monkeypatch):
    def no_git(*args, **kwargs):
        raise OSError("no git here")

    monkeypatch.setattr(registry.subprocess, "run", no_git)
    monkeypatch.delenv("MMTHEORY_COMMIT", raising=False)
    assert registry.provenance("cpu")["commit"] is None
    monkeypatch.setenv("MMTHEORY_COMMIT", "abc1234")
    assert registry.provenance("cpu")["commit"] == "abc1234"
