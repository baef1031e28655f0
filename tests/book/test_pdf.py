"""The printable PDF: printed from the built site by headless Chromium, a bookmark per page of the table of
contents, the title page first, and no raw TeX in its text layer (the math was typeset before printing)."""

import os
import re
import shutil
import sys

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.site, pytest.mark.browser]

CHROMIUM = os.environ.get("MMTHEORY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no chromium on PATH: install it with `sudo apt-get install chromium` (Debian/Ubuntu) "
                "or set MMTHEORY_CHROMIUM to a Chromium binary", allow_module_level=True)

sys.path.insert(0, str(ROOT / "book" / "_ext"))
from print_pdf import print_site, reading_order  # noqa: E402
from pypdf import PdfReader  # noqa: E402

RAW_TEX = re.compile(r"\$\$|\\(frac|mathbb|mathcal|mathrm|langle|operatorname|sum|int)\b")


@pytest.fixture(scope="module")
def pdf(built_site, tmp_path_factory):
    out = tmp_path_factory.mktemp("pdf") / "book.pdf"
    titles = print_site(built_site, out, CHROMIUM)
    return PdfReader(out), titles


def test_every_page_of_the_toc_is_a_bookmark_in_reading_order(pdf):
    reader, titles = pdf
    assert all(titles) and len(titles) == len(reading_order(ROOT))
    assert [item.title for item in reader.outline] == titles


def test_the_title_page_comes_first(pdf):
    reader, _ = pdf
    assert "statistical theory, executable" in reader.pages[0].extract_text().replace("\n", " ")


def test_no_raw_tex_reaches_the_text_layer(pdf):
    reader, titles = pdf
    found = {}
    for number, page in enumerate(reader.pages):
        hits = RAW_TEX.findall(page.extract_text())
        if hits:
            found[number + 1] = hits[:5]
    assert not found, f"raw TeX on PDF pages {found}: math the site did not typeset"
