"""`/docs`: Swagger UI served from the app's own assets, never from a CDN.

FastAPI's default page loads Swagger UI from a CDN (and its favicon from FastAPI's site), so
the API explorer broke offline and told a third party who opened it. The same page is built
here with the vendored copy in `bot/web/static/swagger/` (see its README).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse

from bot.web.render import STATIC_PATH

SWAGGER = f"{STATIC_PATH}/swagger"


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at `/docs` for the app's OpenAPI document, from the app's own assets.

    Create the app with `docs_url=None`, so FastAPI's CDN page is not registered first.
    """
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        )
