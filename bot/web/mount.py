"""Put the web pages on the app: sessions, sign-in, the portal, their assets."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bot.container import Container
from bot.web import auth
from bot.web.console import router as console_router
from bot.web.console_actions import router as console_actions_router
from bot.web.console_boards import router as boards_router
from bot.web.console_improvements import router as improvements_router
from bot.web.console_live import router as live_router
from bot.web.door import identify
from bot.web.oidc import OidcSettings
from bot.web.oidc import router as oidc_router
from bot.web.portal import router as portal_router
from bot.web.portal_catalog import router as catalog_router
from bot.web.portal_knowledge import router as knowledge_router
from bot.web.portal_status import router as status_router
from bot.web.render import STATIC_DIR, STATIC_PATH, error_page
from bot.web.signin import router as signin_router
from channels.webchat import WebChatChannel


def install_web(app: FastAPI) -> None:
    """Mount sign-in, the portal, the console and their assets, session renewal, error pages."""
    auth.install(app, error_page=error_page)
    app.state.oidc = OidcSettings()
    # Before the link route, which would take "oidc" for a token.
    app.include_router(oidc_router)
    app.include_router(signin_router)
    app.include_router(catalog_router)
    app.include_router(portal_router)
    app.include_router(knowledge_router)
    app.include_router(status_router)
    app.include_router(console_router)
    app.include_router(console_actions_router)
    app.include_router(live_router)
    app.include_router(improvements_router)
    app.include_router(boards_router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="web-assets")
    container: Container = app.state.container
    webchat = container.channel_for("webchat")
    if isinstance(webchat, WebChatChannel):
        # Someone signed in to the portal chats as themselves: their tickets are their own.
        webchat.use_identify(identify)
