"""Sign-in by one-time link, and sign-out.

`GET /signin/{token}` uses the link and starts the session; `GET /signin` says how to get a
link; `POST /signout` ends the session. Link previewers (Slack, Telegram, WhatsApp, X and
Facebook fetch a URL posted in chat to draw a preview) get a page that does not use the link,
or the person's own click would find it spent.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from bot.web.auth import (
    SignInRequired,
    WebSession,
    clear_session_cookie,
    container_of,
    csrf_protect,
    current_person,
    safe_next,
    session_of,
    set_session_cookie,
)
from bot.web.i18n import translator
from bot.web.render import language, page
from store.signins import MAX_TOKEN_CHARS, Redemption

log = structlog.get_logger(__name__)

router = APIRouter(include_in_schema=False)

PREVIEWERS = (
    "slackbot",
    "telegrambot",
    "whatsapp",
    "twitterbot",
    "facebookexternalhit",
    "facebot",
    "discordbot",
    "linkedinbot",
    "skypeuripreview",
    "microsoftpreview",
)

_FAILURES = {
    Redemption.USED: (410, "signin.used"),
    Redemption.EXPIRED: (410, "signin.expired"),
    Redemption.UNKNOWN: (400, "signin.unknown"),
    Redemption.INACTIVE: (403, "signin.inactive"),
}


def _previewer(request: Request) -> bool:
    agent = request.headers.get("user-agent", "").lower()
    return any(name in agent for name in PREVIEWERS)


@router.get("/signin")
async def signin_help(
    request: Request,
    signed_out: Annotated[bool, Query(alias="signed_out")] = False,
) -> Response:
    """How to get a sign-in link (where a page sends someone who is not signed in)."""
    if not signed_out and session_of(request) is not None:
        try:
            await current_person(request)
            return RedirectResponse("/portal", status_code=303)
        except SignInRequired:
            pass  # an ended session: say how to sign in again
    t = translator(language(request, None))
    lines = [t("signin.signed_out")] if signed_out else []
    oidc = getattr(request.app.state, "oidc", None)
    action = (
        {"href": "/signin/oidc", "label": t("signin.oidc")}
        if oidc is not None and oidc.enabled
        else None
    )
    return page(
        request,
        "message.html",
        heading=t("signin.title"),
        lines=[*lines, t("signin.how")],
        action=action,
    )


@router.get("/signin/{token}")
async def signin(
    request: Request,
    token: Annotated[str, Path(max_length=MAX_TOKEN_CHARS)],
    next_: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    """Redeem a sign-in link and start a session; a link preview does not use it up."""
    t = translator(language(request, None))
    if _previewer(request) or request.method == "HEAD":
        return page(request, "message.html", heading=t("signin.title"), lines=[t("signin.preview")])
    async with container_of(request).uow() as uow:
        result = await uow.signins.redeem(token)
        await uow.commit()
    if result.sign_in is None or result.person is None:
        status_code, key = _FAILURES[result.outcome]
        log.info("web.signin_refused", outcome=result.outcome.value)
        return page(
            request,
            "message.html",
            status_code=status_code,
            heading=t("signin.title"),
            lines=[t(key), t("signin.again")],
            alert=True,
        )
    session = WebSession.new(result.sign_in.id, result.person.id)
    response = RedirectResponse(safe_next(next_), status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    set_session_cookie(response, request, session)
    log.info("web.signed_in", person_id=result.person.id, sign_in=result.sign_in.id)
    return response


@router.post("/signout", dependencies=[Depends(csrf_protect)])
async def signout(request: Request) -> Response:
    """End the session, in the store and in the browser."""
    session = session_of(request)
    if session is not None:
        async with container_of(request).uow() as uow:
            await uow.signins.end(session.sign_in_id)
            await uow.commit()
        log.info("web.signed_out", person_id=session.person_id, sign_in=session.sign_in_id)
    response = RedirectResponse("/signin?signed_out=true", status_code=303)
    clear_session_cookie(response, request)
    return response
