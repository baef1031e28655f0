"""Print the built site to one PDF with headless Chromium: a title page, the contents, then every page of
``_toc.yml`` in reading order, with the math typeset and each widget in its first state.

    python book/_ext/print_pdf.py                    # _build/html -> _build/pdf/book.pdf
    python book/_ext/print_pdf.py --site _build/student/_build/html --out _build/pdf/book-student.pdf

Needs the built site, Chromium (``MMTHEORY_CHROMIUM`` or ``chromium`` on the PATH; Playwright drives it
and downloads nothing) and ``pypdf`` (the ``book`` extra). Requests that leave the site are refused, as in
the browser tests, so the PDF shows what the offline site shows. Each page becomes a bookmark of the PDF.
"""

from __future__ import annotations

import argparse
import html
import io
import os
import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
MATH_TYPESET = """() => [...document.querySelectorAll('.math')].every(el => el.querySelector('mjx-container'))"""
PRINT = {"format": "A4", "print_background": True, "display_header_footer": False,
         "margin": {"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"}}


def reading_order(root: Path) -> list[tuple[str, str]]:
    """``(part caption, page)`` for every page of ``_toc.yml``, the root first."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages = [("", toc["root"])]
    for part in toc.get("parts", []):
        pages += [(part.get("caption", ""), chapter["file"]) for chapter in part.get("chapters", [])]
    return pages


def page_title(page_html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", page_html, re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>|¶|#", "", match.group(1))).strip() if match else ""


def front_matter(title: str, author: str, entries: list[tuple[str, str]]) -> str:
    """The title page and the contents, as one HTML document."""
    rows, caption = [], None
    for part, name in entries:
        if part != caption:
            rows.append(f"<h3>{html.escape(part)}</h3>")
            caption = part
        rows.append(f"<p>{html.escape(name)}</p>")
    return (f"<html><body style='font-family: serif'><div style='height: 250mm; text-align: center'>"
            f"<h1 style='margin-top: 80mm; font-size: 28pt'>{html.escape(title)}</h1><p>{html.escape(author)}</p>"
            f"</div><h2>Contents</h2>{''.join(rows)}</body></html>")


def print_site(site: Path, out: Path, chromium: str) -> list[str]:
    """Print ``site`` to ``out``; return the titles of the pages printed, in order."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader, PdfWriter

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    order = reading_order(ROOT)
    missing = [p for _, p in order if not (site / f"{p}.html").exists()]
    if missing:
        sys.exit(f"the site {site} has no page for {missing}: build the book first")
    titles = [page_title((site / f"{p}.html").read_text(encoding="utf-8")) for _, p in order]
    writer = PdfWriter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_context().new_page()
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:", "blob:"))
                   else r.abort())
        page.set_content(front_matter(config["title"], config["author"],
                                      [(part, t) for (part, _), t in zip(order, titles, strict=True)]))
        writer.append(PdfReader(io.BytesIO(page.pdf(**PRINT))))
        for (_, name), title in zip(order, titles, strict=True):
            page.goto((site / f"{name}.html").as_uri(), wait_until="load")
            page.wait_for_function(MATH_TYPESET, timeout=60_000)
            page.wait_for_timeout(300)  # let the widget manager draw the first state
            start = len(writer.pages)
            writer.append(PdfReader(io.BytesIO(page.pdf(**PRINT))))
            writer.add_outline_item(title=title or name, page_number=start)
        browser.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        writer.write(handle)
    return titles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf")
    args = parser.parse_args()
    chromium = os.environ.get("MMTHEORY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("no chromium on PATH: install it (Debian/Ubuntu: sudo apt-get install chromium) "
                 "or set MMTHEORY_CHROMIUM to a Chromium binary")
    titles = print_site(args.site, args.out, chromium)
    print(f"{args.out}: {len(titles)} pages of the site, {args.out.stat().st_size / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
