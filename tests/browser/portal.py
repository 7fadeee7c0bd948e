"""The portal as a test drives it: sign in, open a page, read its figures and tables,
take screenshots; and the money format the page uses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.browser.site import Site

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def usd(minor: int) -> str:
    """Minor units as the portal shows US dollars: "$1,234.50", "-$5.75"."""
    sign = "-" if minor < 0 else ""
    return f"{sign}${abs(minor) / 100:,.2f}"


@dataclass
class PortalPage:
    page: Any  # playwright.sync_api.Page
    site: Site
    scratch: Path
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @classmethod
    def watching(cls, page: Any, site: Site, *, scratch: Path) -> PortalPage:
        """Wraps `page`, recording its console errors, uncaught errors and requests."""
        portal = cls(page=page, site=site, scratch=scratch)
        page.on("console", lambda m: m.type == "error" and portal.console_errors.append(m.text))
        page.on("pageerror", lambda e: portal.console_errors.append(str(e)))
        page.on("request", lambda r: portal.requests.append(r.url))
        return portal

    # -- signing in ------------------------------------------------------------------

    def submit_sign_in(self, token: str, partner_id: str | None = None) -> None:
        self.page.goto(f"{self.site.base}/portal/")
        self.page.fill("#partner-id", partner_id or self.site.partner_id)
        self.page.fill("#api-key", token)
        self.page.click("#signin-submit")

    def sign_in(self, token: str, partner_id: str | None = None) -> PortalPage:
        self.submit_sign_in(token, partner_id)
        self.page.wait_for_selector("body[data-signed-in=true]")
        self.wait_ready()
        return self

    def sign_in_error(self) -> str:
        self.page.wait_for_selector("#signin-error:not([hidden])")
        return str(self.page.inner_text("#signin-error"))

    # -- pages -----------------------------------------------------------------------

    @property
    def render(self) -> int:
        return int(self.page.get_attribute("#view", "data-render") or 0)

    def wait_ready(self, view: str | None = None, *, after: int = -1) -> None:
        """Waits for a render after `after` to finish; fails with the page's message if
        the view shows an error."""
        self.page.wait_for_function(
            "([after]) => { const v = document.getElementById('view');"
            " return Number(v.dataset.render || 0) > after"
            " && ['ready', 'error'].includes(v.dataset.state); }", arg=[after])
        state = self.page.get_attribute("#view", "data-state")
        assert state == "ready", self.page.inner_text("#view")
        if view is not None:
            assert self.page.get_attribute("#view", "data-view") == view

    def open(self, view: str, **query: str) -> None:
        """Opens a page by its address (as a bookmark would), with `as_of` etc."""
        suffix = "&".join(f"{k}={v}" for k, v in query.items())
        before = self.render
        self.page.evaluate("h => { window.location.hash = h; }",
                           f"#/{view}{'?' + suffix if suffix else ''}")
        self.wait_ready(view if "/" not in view else None, after=before)

    def click_nav(self, view: str) -> None:
        before = self.render
        self.page.click(f'#nav a[data-page="{view}"]')
        self.wait_ready(view, after=before)

    def rerendered(self, action: Any, view: str | None = None) -> None:
        """Runs `action` (which changes the address) and waits for the new render."""
        before = self.render
        action()
        self.wait_ready(view, after=before)

    def set_as_of(self, day: str) -> None:
        self.rerendered(lambda: self.page.fill("#as-of", day))

    # -- reading ---------------------------------------------------------------------

    def figure(self, key: str) -> str:
        return str(self.page.inner_text(f'#view [data-figure="{key}"] .value')).strip()

    def row_ids(self, table: str) -> list[str]:
        return list(self.page.eval_on_selector_all(
            f"#{table} tbody tr", "rows => rows.map(r => r.dataset.id)"))

    def column(self, table: str, col: str) -> list[str]:
        return [t.strip() for t in self.page.eval_on_selector_all(
            f'#{table} tbody td[data-col="{col}"]', "cells => cells.map(c => c.innerText)")]

    def cell(self, table: str, row: str, col: str) -> str:
        return str(self.page.inner_text(
            f'#{table} tbody tr[data-id="{row}"] td[data-col="{col}"]')).strip()

    def total(self, table: str, key: str) -> str:
        return str(self.page.inner_text(f'#{table} tfoot tr[data-total="{key}"] td.num')).strip()

    def nav(self) -> list[str]:
        return list(self.page.eval_on_selector_all(
            "#nav a", "links => links.map(a => a.dataset.page)"))

    def text(self) -> str:
        return str(self.page.inner_text("body"))

    # -- screenshots -----------------------------------------------------------------

    def screenshot(self, name: str) -> Path:
        """Saves a screenshot to docs/screenshots/<name>.png when it is missing there or
        UPDATE_SCREENSHOTS=1; otherwise to the test's temporary folder, so that a test
        run leaves the committed pictures alone (ids differ from run to run)."""
        target = SCREENSHOTS / f"{name}.png"
        if target.exists() and os.environ.get("UPDATE_SCREENSHOTS") != "1":
            target = self.scratch / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(target))
        return target
