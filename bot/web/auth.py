"""Web sign-in and sessions, shared by every server-rendered area (`/portal`, `/console`).

A person signs in by opening a one-time link (`switchboard signin-link --as EMAIL`, or the
bot's answer to "sign in" in a private chat). The link's row then stands for the session;
the browser holds a cookie signed with the deployment's secret (itsdangerous) that names it.
The cookie is HttpOnly, SameSite=Lax, Secure when `PUBLIC_URL` is https, and expires after
`IDLE` without a request (each request that finds it older than `RENEW_AFTER` renews it).

Routes use these dependencies:

- `current_person` (`Annotated[Person, Depends(current_person)]`, or the alias `SignedIn`):
  the signed-in person, read from the directory on every request, so a person who left or
  signed out elsewhere is refused at once. Not signed in: a page request (one that accepts
  HTML) is redirected to `/signin?next=<path>`; anything else gets 401.
- `require_role("agent")` (or several: the person needs one of them; `admin` passes every
  check): a dependency returning the person, 403 when they lack the role. Roles are read on
  every request, so a revoked role takes effect at the next page.
- `csrf_protect`: put it on every POST form route (`dependencies=[Depends(csrf_protect)]`);
  the form carries `<input type="hidden" name="csrf_token" value="{{ csrf_token }}">` (from
  `csrf_token(request)`), or a script sends the same value in the `X-CSRF-Token` header. A
  missing or wrong token is refused with 403.

`install(app)` adds the renewal middleware and the error pages; the app calls it once
(through `bot.web.mount.install_web`). Pages render with `bot.web.render.page(request,
"<area>/<name>.html", person=person, ...)`: templates extend `base.html` (landmarks, skip
link, navigation, sign-out form) and get `t` (the words in the person's language, from
`bot.web.i18n`), `csrf_token` and `static` (the assets' path). `container_of(request)` is
the process's container (`uow()`, `ingest`, settings).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Annotated

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings
from bot.container import Container
from store.enums import Role
from store.models import Person

log = structlog.get_logger(__name__)

SESSION_COOKIE = "switchboard_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
IDLE = timedelta(hours=8)
RENEW_AFTER = timedelta(minutes=5)
_SALT = "switchboard.web-session"
_UNREAD = object()


@dataclass(frozen=True, slots=True)
class WebSession:
    """What the session cookie says: which sign-in it belongs to and the form token."""

    sign_in_id: int
    person_id: int
    csrf: str

    @classmethod
    def new(cls, sign_in_id: int, person_id: int) -> WebSession:
        """A session for a fresh sign-in, with a new form token."""
        return cls(sign_in_id=sign_in_id, person_id=person_id, csrf=secrets.token_urlsafe(24))


class SignInRequired(Exception):
    """No valid session: redirect a page to the sign-in page, answer 401 otherwise."""


class Forbidden(Exception):
    """Signed in, but not allowed (a missing role, a missing or wrong form token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _serializer(secret: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def encode_session(secret: bytes, session: WebSession) -> str:
    """The signed cookie value of a session."""
    return _serializer(secret).dumps([session.sign_in_id, session.person_id, session.csrf])


def decode_session(secret: bytes, value: str) -> tuple[WebSession, float] | None:
    """The session and its age in seconds, or None when forged, malformed or idle too long."""
    if not value or len(value) > 500:
        return None
    serializer = _serializer(secret)
    try:
        data, signed_at = serializer.loads(
            value, max_age=int(IDLE.total_seconds()), return_timestamp=True
        )
    except BadSignature:  # forged, tampered, or idle too long (`SignatureExpired`)
        return None
    if (
        not isinstance(data, list)
        or len(data) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in data[:2])
        or not isinstance(data[2], str)
    ):
        return None
    # The signer's own clock, the one `max_age` was judged by.
    signer = serializer.make_signer()
    now = signer.get_timestamp() if isinstance(signer, TimestampSigner) else int(time.time())
    age = now - signed_at.timestamp()
    return WebSession(sign_in_id=data[0], person_id=data[1], csrf=data[2]), age


def container_of(request: Request | Scope) -> Container:
    """The container of the app serving this request."""
    app = request.app if isinstance(request, Request) else request["app"]
    container: Container = app.state.container
    return container


def _secret(request: Request | Scope) -> bytes:
    return container_of(request).webchat_secret()


def _settings(request: Request) -> Settings:
    return container_of(request).settings


def secure_cookies(settings: Settings) -> bool:
    """Whether cookies are marked Secure: when the public address is HTTPS."""
    return bool(settings.public_url and settings.public_url.startswith("https://"))


def set_session_cookie(response: Response, request: Request, session: WebSession) -> None:
    """Start (or replace) the browser's session."""
    response.set_cookie(
        SESSION_COOKIE,
        encode_session(_secret(request), session),
        max_age=int(IDLE.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(_settings(request)),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """End the browser's session (the sign-in itself is ended in the store)."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(_settings(request)),
    )


def session_of(request: Request) -> WebSession | None:
    """The session the request's cookie names (signature and idle time checked), if any."""
    found = getattr(request.state, "web_session", _UNREAD)
    if found is not _UNREAD:
        return found if isinstance(found, WebSession) else None
    raw = request.cookies.get(SESSION_COOKIE, "")
    decoded = decode_session(_secret(request), raw) if raw else None
    session = decoded[0] if decoded else None
    request.state.web_session = session
    return session


async def current_person(request: Request) -> Person:
    """The signed-in person, checked against the directory and the session's row."""
    cached = getattr(request.state, "web_person", None)
    if isinstance(cached, Person):
        return cached
    session = session_of(request)
    if session is None:
        raise SignInRequired
    async with container_of(request).uow() as uow:
        person = await uow.signins.session_person(session.sign_in_id)
    if person is None or person.id != session.person_id:
        raise SignInRequired
    request.state.web_person = person
    return person


SignedIn = Annotated[Person, Depends(current_person)]


def require_role(*roles: str) -> Callable[[Request], Awaitable[Person]]:
    """A dependency: the signed-in person when they hold one of `roles` (403 otherwise)."""
    wanted = tuple(Role(r) for r in roles)
    if not wanted:
        raise ValueError("require_role needs at least one role")

    async def dependency(request: Request) -> Person:
        person = await current_person(request)
        if not person.has_role(*wanted):
            raise Forbidden(f"this page is for {' or '.join(r.value for r in wanted)}s")
        return person

    return dependency


def csrf_token(request: Request) -> str:
    """The form token of the request's session ("" when not signed in)."""
    session = session_of(request)
    return session.csrf if session else ""


async def csrf_protect(request: Request) -> None:
    """Refuse a state-changing request whose form token does not match the session's."""
    session = session_of(request)
    if session is None:
        raise SignInRequired
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent, session.csrf):
        log.info("web.csrf_refused", path=request.url.path)
        raise Forbidden("the form was out of date or not sent from this site; reload and retry")


def wants_html(request: Request) -> bool:
    """Whether the client is a browser asking for a page; others are answered in JSON."""
    return "text/html" in request.headers.get("accept", "")


def safe_next(value: str | None, default: str = "/portal") -> str:
    """A local path to go to after signing in; anything else (another site) gives `default`."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ch in value for ch in "\r\n\t\\") or len(value) > 500:
        return default
    return value


# -- installation ----------------------------------------------------------------------------


class SessionRenewal:
    """Re-sign a session cookie that is older than `RENEW_AFTER`, so idle time is what expires.

    It does not look at the database: a cookie whose session has ended is renewed only until
    `current_person` refuses it, which it does on the same request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, adding the renewed cookie to its response when one is due."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        renewed = self._renewed(scope)
        if renewed is None:
            await self.app(scope, receive, send)
            return

        async def send_renewed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                already = any(
                    v.startswith(SESSION_COOKIE + "=") for v in headers.getlist("set-cookie")
                )
                if not already:
                    headers.append("set-cookie", renewed)
            await send(message)

        await self.app(scope, receive, send_renewed)

    @staticmethod
    def _renewed(scope: Scope) -> str | None:
        raw = _cookie(scope)
        if not raw:
            return None
        try:
            secret = _secret(scope)
        except Exception:
            return None  # the secret is not loaded yet; the route answers for itself
        decoded = decode_session(secret, raw)
        if decoded is None or decoded[1] < RENEW_AFTER.total_seconds():
            return None
        response = Response()
        container = container_of(scope)
        response.set_cookie(
            SESSION_COOKIE,
            encode_session(secret, decoded[0]),
            max_age=int(IDLE.total_seconds()),
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure_cookies(container.settings),
        )
        value: str = response.headers["set-cookie"]
        return value


def _cookie(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                return ""
            morsel = jar.get(SESSION_COOKIE)
            if morsel is not None:
                return morsel.value
    return ""


def install(app: FastAPI, *, error_page: Callable[[Request, int, str], Response]) -> None:
    """Add session renewal and the answers to `SignInRequired` and `Forbidden`."""
    app.add_middleware(SessionRenewal)

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        if wants_html(request) and request.method in ("GET", "HEAD"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response: Response = RedirectResponse(f"/signin?next={_quote(target)}", status_code=303)
        elif wants_html(request):
            # A form sent after the session ended: what it said is lost, the page says why.
            response = RedirectResponse("/signin", status_code=303)
        else:
            response = JSONResponse({"error": "sign in first"}, status_code=401)
        if SESSION_COOKIE in request.cookies:
            clear_session_cookie(response, request)
        return response

    async def forbidden(request: Request, exc: Exception) -> Response:
        reason = exc.reason if isinstance(exc, Forbidden) else "forbidden"
        if wants_html(request):
            return error_page(request, 403, reason)
        return JSONResponse({"error": reason}, status_code=403)

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(Forbidden, forbidden)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
