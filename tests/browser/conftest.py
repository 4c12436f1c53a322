"""A real browser for the console: Debian's headless chromium, driven through its chromedriver by selenium.

`.ci/run` installs `chromium` and `chromium-driver` with apt-get when they are missing. Where
neither can be had, every browser test is skipped, saying so. Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("IMAGEBOT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("IMAGEBOT_CHROMEDRIVER", "/usr/bin/chromedriver")
# The README's screenshots are retaken only when asked (IMAGEBOT_SCREENSHOTS=1): a test run
# leaves the checkout as it was, its screenshots in pytest's temporary folder.
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTH, HEIGHT = 1366, 900  # the screen the change lists must fit


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() or shutil.which(path)):
            return f"no browser: {path} is missing (apt-get install chromium chromium-driver; .ci/run does)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "no browser: selenium is not installed (requirements-dev.txt)"
    return None


@pytest.fixture(scope="session")
def browser(live_server):
    """Asks for the live server first, so the server outlives the browser's keep-alive connections."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    except Exception as exc:  # a browser that cannot start here (no display libraries, say)
        pytest.skip(f"no browser: chromium did not start ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
    driver.set_window_size(WIDTH, HEIGHT)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


@pytest.fixture
def screenshot(browser, tmp_path_factory):
    """Save the whole page as <name>.png: in docs/screenshots/ with IMAGEBOT_SCREENSHOTS=1, else in a temporary folder."""
    folder = DOCS_SCREENSHOTS if os.environ.get("IMAGEBOT_SCREENSHOTS") == "1" else tmp_path_factory.mktemp("screenshots")

    def take(name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        height = browser.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
        browser.set_window_size(WIDTH, min(max(int(height), HEIGHT), 4000))
        path = folder / f"{name}.png"
        browser.save_screenshot(str(path))
        browser.set_window_size(WIDTH, HEIGHT)
        return path

    return take
