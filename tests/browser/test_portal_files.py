"""The portal's files as the service serves them, without a browser: the page, its script
and style, plotly's bundle from the installed package, and nothing from elsewhere."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.api.app import create_app
from service.portal.web import STATIC, plotly_bundle
from tests.conftest import start_ledger

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    ledger = start_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with TestClient(create_app(ledger, run_scheduler=False)) as c:
        yield c
    ledger.close()


def test_the_portal_page_and_its_files_are_served_under_portal(client: TestClient) -> None:
    page = client.get("/portal/")
    script = client.get("/portal/app.js")
    style = client.get("/portal/app.css")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="app.js"' in page.text
    assert script.status_code == 200 and "sessionStorage" in script.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.status_code == 200
    assert client.get("/portal", follow_redirects=False).headers["location"] == "/portal/"


def test_plotly_is_served_from_the_installed_package(client: TestClient) -> None:
    bundle = plotly_bundle()
    assert bundle is not None
    assert bundle.parts[-3:] == ("plotly", "package_data", "plotly.min.js")

    response = client.get("/portal/vendor/plotly.min.js")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.content == bundle.read_bytes()
    assert not (STATIC / "vendor").exists(), "third-party code is not copied into the repo"


def test_the_portal_fetches_nothing_from_another_host() -> None:
    for file in (f for f in STATIC.rglob("*") if f.is_file()):
        text = file.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), file.name
        assert not re.search(r"fetch\(\s*[\"'`]https?://", text), file.name
