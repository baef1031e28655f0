"""The Sphinx extension that keeps the site offline: its URL checks, and its errors when npm is missing."""

import sys

import pytest
from conftest import ROOT
from sphinx.errors import ExtensionError

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import offline_assets  # noqa: E402


@pytest.mark.parametrize("url, remote", [("https://cdn.x/y.js", True), ("//cdn.x/y.js", True),
                                         ("HTTP://x", True), ("../_static/a.js", False), ("data:image/png", False)])
def test_remote_url_detection(url, remote):
    assert offline_assets.is_remote(url) is remote


def test_remote_asset_scanner_sees_script_link_and_img_only():
    html = ('<script src="https://a/x.js"></script><link rel="stylesheet" href="//b/y.css">'
            '<img src="http://c/z.png"><a href="https://ok.org">link</a><script src="local.js"></script>')
    assert len(offline_assets.remote_assets(html)) == 3


def test_missing_npm_stops_the_build_with_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(offline_assets, "STAMP", tmp_path / "stamp")  # as on a fresh clone
    monkeypatch.setattr(offline_assets.shutil, "which", lambda name: None)
    with pytest.raises(ExtensionError, match="npm was not found.*apt-get install nodejs npm"):
        offline_assets.ensure_vendor_assets()


def test_up_to_date_assets_are_not_fetched_again(tmp_path, monkeypatch):
    stamp = tmp_path / "stamp"
    stamp.write_text(offline_assets._assets_hash())
    monkeypatch.setattr(offline_assets, "STAMP", stamp)
    monkeypatch.setattr(offline_assets.shutil, "which", lambda name: pytest.fail("npm should not be needed"))
    assert offline_assets.ensure_vendor_assets() is False


def test_execution_cache_is_cleared_when_the_library_changes(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    assert offline_assets.ensure_fresh_execution_cache(cache) is False  # nothing to clear yet
    (cache / "global.db").write_text("cached outputs")
    assert offline_assets.ensure_fresh_execution_cache(cache) is False  # same library: kept
    assert (cache / "global.db").exists()
    monkeypatch.setattr(offline_assets, "library_hash", lambda: "another library")
    assert offline_assets.ensure_fresh_execution_cache(cache) is True
    assert not (cache / "global.db").exists()


def test_clearing_the_cache_for_missing_claim_records_keeps_the_library_stamp(tmp_path):
    """Otherwise the next build (the student edition's) would take the cache for stale and execute it all again."""
    from claims_audit import clear_cache
    from offline_assets import LIBRARY_STAMP, ensure_fresh_execution_cache

    cache = tmp_path / "cache"
    ensure_fresh_execution_cache(cache)
    (cache / "executed").mkdir()
    (cache / "global.db").write_text("")
    clear_cache(cache)
    assert [p.name for p in cache.iterdir()] == [LIBRARY_STAMP]
    assert ensure_fresh_execution_cache(cache) is False  # the stamp still matches: nothing to clear
