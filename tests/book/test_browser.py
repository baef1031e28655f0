"""The built site in headless Chromium with the network cut off: math is typeset, and every
kernel-free interactive figure changes what it shows when its control is moved.

Needs Debian's ``chromium`` (``apt-get install chromium``); Playwright drives it, with no browser download.
"""

import os
import shutil

import pytest

pytestmark = [pytest.mark.site, pytest.mark.browser]

CHROMIUM = os.environ.get("MMTHEORY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no chromium on PATH: install it with `sudo apt-get install chromium` (Debian/Ubuntu) "
                "or set MMTHEORY_CHROMIUM to a Chromium binary", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, built_site):
    """Open a page of the built site from disk; every request that is not a local file is refused."""
    contexts = []

    def open_(relative: str):
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.refused, page.failed = [], []
        page.on("requestfailed", lambda request: page.failed.append(request.url))

        def only_local(route):
            if route.request.url.startswith(("file:", "data:", "blob:")):
                route.continue_()
            else:
                page.refused.append(route.request.url)
                route.abort()

        page.route("**/*", only_local)
        page.goto((built_site / relative).as_uri())
        return page

    yield open_
    for context in contexts:
        context.close()


def interactive_pages(site):
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html")
                  if any(key in p.read_text() for key in ("widget-state+json", 'class="animation"')))


ALL_MATH_TYPESET = """() => {
    const math = document.querySelectorAll('.math');
    return math.length > 0 && [...math].every(el => el.querySelector('mjx-container') !== null);
}"""


@pytest.mark.parametrize("relative", ["book/preface.html", "book/prologue/two_views.html", "book/notation.html"])
def test_math_is_typeset_offline(open_page, relative):
    page = open_page(relative)
    page.wait_for_function(ALL_MATH_TYPESET, timeout=30_000)  # every .math element holds typeset output
    assert page.locator("mjx-container").count() >= page.locator(".math").count()
    assert page.refused == [] and page.failed == [], (page.refused, page.failed)


def test_there_are_interactive_figures_to_check(built_site):
    assert interactive_pages(built_site)


def shown_images(box) -> list[str]:
    """The sources of the images a widget shows now (each precomputed state is its own blob URL)."""
    return [img.get_attribute("src") for img in box.locator("img.widget-image").all() if img.is_visible()]


def widget_boxes(open_page, built_site, selector):
    """Yield ``(page name, page, box)`` for every widget box matching ``selector`` on every page with widgets."""
    for relative in interactive_pages(built_site):
        if "widget-state+json" not in (built_site / relative).read_text():
            continue
        page = open_page(relative)
        page.wait_for_selector(".widget-slider .noUi-handle", timeout=30_000)
        boxes = page.locator(selector)
        for k in range(boxes.count()):
            box = boxes.nth(k)
            box.scroll_into_view_if_needed()
            yield f"{relative} widget {k}", page, box
        assert page.refused == [] and page.failed == [], (relative, page.refused, page.failed)


def test_every_widget_slider_changes_its_figure(open_page, built_site):
    checked = 0
    for name, page, box in widget_boxes(open_page, built_site, ".widget-vbox:has(.widget-slider)"):
        for handle in box.locator(".noUi-handle").all():
            before = shown_images(box)
            handle.focus()
            handle.press("ArrowRight")
            page.wait_for_timeout(300)
            after = shown_images(box)
            assert len(after) == 1, f"{name} shows {len(after)} images, not one"
            assert after != before, f"{name} did not change its image when its slider moved"
            checked += 1
    assert checked > 0


def test_every_play_button_steps_its_figure(open_page, built_site):
    checked = 0
    for name, page, box in widget_boxes(open_page, built_site, ".widget-vbox:has(.widget-play)"):
        before = shown_images(box)
        box.locator(".widget-play button").first.click()  # the play button
        page.wait_for_timeout(1500)
        assert shown_images(box) != before, f"{name}: the play button did not step the figure"
        checked += 1
    assert checked > 0


def test_every_animation_slider_changes_its_frame(open_page, built_site):
    checked = 0
    for relative in interactive_pages(built_site):
        page = open_page(relative)
        animations = page.locator("div.animation")
        for k in range(animations.count()):
            animation = animations.nth(k)
            animation.scroll_into_view_if_needed()
            frame = animation.locator("img").first
            before = frame.get_attribute("src")
            slider = animation.locator("input[type=range]")
            slider.focus()
            slider.press("ArrowRight")
            page.wait_for_timeout(200)
            assert frame.get_attribute("src") != before, f"{relative}: animation {k} did not change frame"
            checked += 1
        assert page.refused == [] and page.failed == [], (relative, page.refused, page.failed)
    assert checked > 0
