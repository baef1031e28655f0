import json
import subprocess
import sys

import pytest

from mmtheory.cli import main
from mmtheory.registry import experiments, get_experiment


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mmtheory", *args], capture_output=True, text=True)


def test_list_names_every_registered_experiment_with_its_part_summary_and_the_scales():
    done = run_cli("list")
    assert done.returncode == 0
    assert "quick, book, full" in done.stdout.splitlines()[0]
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert set(lines) == set(experiments())
    for name, exp in experiments().items():
        assert exp.part in ("sufficiency", "jghm", "contexture", "icl", "neighbours")
        assert exp.part in lines[name] and exp.summary and exp.summary in lines[name]


def test_run_writes_json_and_figure(tmp_path, monkeypatch):
    monkeypatch.setenv("MMTHEORY_PROGRESS", "0")
    assert main(["run", "pmi_recovery", "--scale", "quick", "--out", str(tmp_path), "--device", "cpu"]) == 0
    record = json.loads((tmp_path / "pmi_recovery.json").read_text())
    assert record["experiment"] == "pmi_recovery" and record["scale"] == "quick" and record["device"] == "cpu"
    assert len(record["result"]["rhos"]) == len(record["result"]["mi_lower_bound"])
    assert (tmp_path / "pmi_recovery.png").read_bytes()[:4] == b"\x89PNG"


def test_unknown_experiment_is_a_clear_error_with_nonzero_exit():
    done = run_cli("run", "no_such_thing", "--scale", "quick")
    assert done.returncode == 2
    assert "experiment must be one of" in done.stderr and "pmi_recovery" in done.stderr


@pytest.mark.parametrize("args", [["run", "pmi_recovery", "--scale", "huge"], ["run"], ["frobnicate"],
                                  ["run", "pmi_recovery", "--seed", "x"]])
def test_bad_arguments_exit_nonzero_with_usage(args):
    done = run_cli(*args)
    assert done.returncode == 2
    assert "usage:" in done.stderr


def test_bad_device_is_a_clear_error():
    done = run_cli("run", "pmi_recovery", "--scale", "quick", "--device", "tpu")
    assert done.returncode == 2 and "device must be" in done.stderr


def test_get_experiment_rejects_unknown_names():
    with pytest.raises(ValueError, match="experiment must be one of"):
        get_experiment("nope")


def test_negative_seed_is_a_clear_error():
    done = run_cli("run", "pmi_recovery", "--scale", "quick", "--seed", "-1")
    assert done.returncode == 2 and "seed must be an integer" in done.stderr
