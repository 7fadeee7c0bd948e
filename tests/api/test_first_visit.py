"""What a newcomer opens first: `/` leads to the portal, and the API docs load with no
internet (their scripts and styles come from this service, never from a CDN)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_root_redirects_to_the_portal(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)

    assert response.status_code == 307
    assert response.headers["location"] == "/portal/"


def test_docs_and_redoc_load_every_asset_from_this_service(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200, page
        sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        sources += re.findall(r"url: '([^']+)'", response.text)
        assert sources, page
        for source in sources:
            assert source.startswith("/"), (page, source)  # nothing from another host
            assert client.get(source).status_code == 200, (page, source)
