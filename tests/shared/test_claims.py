"""Claim checks: a false claim names itself and its numbers; a true one is recorded; quoted numbers have a source."""

import json

import pytest

from mmtheory import claims
from mmtheory.paper_values import paper_value, paper_values


@pytest.fixture(autouse=True)
def chapter(tmp_path, monkeypatch):
    monkeypatch.setenv(claims.CLAIMS_ENV, str(tmp_path))
    monkeypatch.setenv("MMTHEORY_SCALE", "book")
    claims.begin("part/chapter")
    return tmp_path


def test_a_false_claim_raises_naming_the_chapter_the_claim_and_the_values():
    with pytest.raises(claims.ClaimError) as err:
        claims.check_less(0.52, 0.50, "the guided risk is below the standard one")
    text = str(err.value)
    assert "part/chapter" in text and "the guided risk is below the standard one" in text
    assert "0.52" in text and "0.5" in text and "book" in text


def test_a_true_claim_is_recorded_with_its_values_in_the_chapter_file(chapter):
    claims.check_close(1.0, 1.05, 0.1, "the two risks agree")
    claims.check_indistinguishable(0.40, 0.43, 0.02, "indistinguishable at this budget")
    saved = json.loads((chapter / "part--chapter.json").read_text())
    assert saved["chapter"] == "part/chapter"
    assert [c["claim"] for c in saved["claims"]] == ["the two risks agree", "indistinguishable at this budget"]
    assert saved["claims"][0]["measured"] == {"a": 1.0, "b": 1.05} and saved["claims"][0]["status"] == "holds"
    assert saved["claims"][1]["rule"] == "|a - b| <= 2 se"


def test_indistinguishable_fails_beyond_the_stated_error():
    with pytest.raises(claims.ClaimError, match="2 se"):
        claims.check_indistinguishable(0.40, 0.45, 0.02, "indistinguishable at this budget")


def test_a_claim_that_needs_book_scale_is_skipped_loudly_at_quick(monkeypatch, capsys):
    monkeypatch.setenv("MMTHEORY_SCALE", "quick")
    record = claims.check(False, "only true at book scale", needs="book", a=1)
    assert record["status"] == "skipped" and "not tested at scale 'quick'" in capsys.readouterr().out
    with pytest.raises(claims.ClaimError):
        claims.check(False, "tested at book scale", needs="book", scale="book")


def test_begin_starts_afresh():
    claims.check(True, "one")
    claims.begin("part/chapter")
    assert claims.records() == []


@pytest.mark.parametrize("call, name", [
    (lambda: claims.begin(""), "chapter"),
    (lambda: claims.check(True, ""), "claim"),
    (lambda: claims.check(True, "x", needs="huge"), "needs"),
    (lambda: claims.check_close(1, 1, -1, "x"), "tolerance"),
    (lambda: claims.check_indistinguishable(1, 1, -1, "x"), "se"),
])
def test_bad_arguments_name_themselves(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_every_quoted_number_has_a_source():
    entries = paper_values()
    assert entries, "the file of quoted numbers is empty"
    for key, entry in entries.items():
        assert entry.source.strip(), f"{key} has no source"
        values = entry.value.values() if isinstance(entry.value, dict) else [entry.value]
        assert all(isinstance(v, (int, float)) for v in values), key


def test_an_unknown_quoted_number_is_a_clear_error():
    with pytest.raises(ValueError, match="key must be one of"):
        paper_value("no.such.entry")


def test_glue_number_glues_a_plain_float(monkeypatch):
    seen = {}
    import myst_nb

    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display: seen.update({key: (value, display)}))
    import numpy as np

    assert claims.glue_number("gap", np.float64(0.25)) == 0.25
    assert seen == {"gap": (0.25, False)} and type(seen["gap"][0]) is float


def test_measured_values_of_any_shape_are_recorded(chapter):
    import numpy as np

    claims.check(True, "nested values", risks={"a": np.array([0.1, 0.2]), "b": (np.float64(0.3), float("nan"))})
    saved = json.loads((chapter / "part--chapter.json").read_text())
    assert saved["claims"][0]["measured"] == {"risks": {"a": [0.1, 0.2], "b": [0.3, "nan"]}}
