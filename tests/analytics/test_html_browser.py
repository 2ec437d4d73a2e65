"""The HTML report in a real headless Chromium (Playwright), at desktop and phone width.

Asserts: nothing is fetched from outside the page, every chart image loads, the page never
scrolls sideways at 390 px (tables and charts scroll in their own box), chart text keeps a
legible size on the phone, and axe-core (vendored: tests/analytics/fixtures/axe.min.js, MPL-2.0)
finds no serious or critical WCAG 2.1 A/AA violation.

Skipped, with the reason, where the `playwright` package or a Chromium binary is missing:
install them with `pip install -e '.[test]'` and `apt-get install chromium-headless-shell`
(or set STATEOF_CHROMIUM to a Chromium/Chrome binary). No browser is downloaded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from analytics.html import html_report
from tests.analytics.test_charts import make_summary

AXE = Path(__file__).parent / "fixtures" / "axe.min.js"
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _chromium() -> str | None:
    configured = os.environ.get("STATEOF_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (pip install -e '.[test]')")
CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=(
    "no Chromium binary (apt-get install chromium-headless-shell, or set STATEOF_CHROMIUM)"))


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "summary.html"
    path.write_text(html_report(make_summary()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _open(browser, report_file: Path, viewport: dict, phone: bool):
    context = browser.new_context(viewport=viewport, device_scale_factor=3 if phone else 1,
                                  is_mobile=phone, has_touch=phone)
    page = context.new_page()
    outside: list[str] = []

    def record(request) -> None:
        if not request.url.startswith(("file://", "data:")):
            outside.append(request.url)

    page.on("request", record)
    page.route("http*://**/*", lambda route: route.abort())
    page.goto(report_file.as_uri(), wait_until="load")
    return context, page, outside


def _serious_violations(page) -> list[str]:
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => await axe.run(document, {
        runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
        resultTypes: ['violations']})""")
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("viewport,phone", [(DESKTOP, False), (PHONE, True)], ids=["desktop", "phone"])
def test_report_in_chromium(browser, report_file: Path, viewport: dict, phone: bool) -> None:
    context, page, outside = _open(browser, report_file, viewport, phone)
    try:
        assert outside == []
        images = page.evaluate("""() => [...document.images].map(i => ({
            ok: i.complete && i.naturalWidth > 0, shown: i.getBoundingClientRect().width,
            drawn: i.naturalWidth, alt: i.alt}))""")
        assert len(images) == 7 and all(i["ok"] for i in images), images
        assert all("%" in i["alt"] or "median" in i["alt"] for i in images), images
        # text in a chart is drawn 9.5 pt at the image's natural size: shown at >= 80% of it
        assert all(i["shown"] >= 0.8 * i["drawn"] for i in images), images
        # on a phone the layout viewport grows to fit a page that is too wide: compare with 390
        widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert max(widths) <= viewport["width"], f"the page is wider than the screen: {widths}"
        assert page.locator("nav a").count() >= 10
        assert page.locator("table caption").count() == page.locator("table").count() > 0
        assert _serious_violations(page) == []
    finally:
        context.close()


def test_phone_scrolls_tables_in_their_box(browser, report_file: Path) -> None:
    context, page, _ = _open(browser, report_file, PHONE, True)
    try:
        boxes = page.evaluate("""() => [...document.querySelectorAll('.scroll')].map(b => ({
            box: b.getBoundingClientRect().right, inner: b.scrollWidth, width: b.clientWidth}))""")
        assert boxes and all(b["box"] <= PHONE["width"] for b in boxes), boxes
        assert any(b["inner"] > b["width"] for b in boxes)  # something does scroll, inside its box
    finally:
        context.close()
