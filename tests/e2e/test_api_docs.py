"""`/docs` works offline: Swagger UI and its assets come from the app, nothing from a CDN."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from nlu.types import Understander


def test_docs_load_only_from_the_app(demo_settings: Settings, understander: Understander) -> None:
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        urls += re.findall(r"""url: ?["']([^"']+)["']""", page.text)
        assert urls, page.text
        assert not [u for u in urls if "//" in u], urls  # no other host, no CDN
        for url in urls:
            assert client.get(url).status_code == 200, url
        assert "swagger-ui-bundle.js" in page.text
        assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN
