"""Fixtures of the browser tests: one seeded service and one headless Chromium for the
session, a fresh browser context (so a fresh sessionStorage) for each test.

Chromium is Debian's `/usr/bin/chromium`, driven by Python Playwright; nothing is
downloaded. Without it the tests skip, unless REQUIRE_BROWSER=1, when they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.portal import CHROMIUM, PortalPage
from tests.browser.site import Site, seeded_site

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 860}


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(f"{reason}: the browser tests need Debian's chromium "
                "(apt-get install chromium); set REQUIRE_BROWSER=1 to fail instead")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def site(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    # Depends on the browser so that without Chromium nothing is seeded either.
    with seeded_site(tmp_path_factory.mktemp("portal")) as running:
        yield running


@pytest.fixture
def portal(browser: Any, site: Site, tmp_path: Path) -> Iterator[PortalPage]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield PortalPage.watching(page, site, scratch=tmp_path)
    context.close()
