"""Optional sign-in with the organisation's identity provider (OpenID Connect).

On when `OIDC_ISSUER`, `OIDC_CLIENT_ID` and `OIDC_CLIENT_SECRET` are set. The provider is
found through its discovery document; `/signin/oidc` sends the browser there with the
authorisation-code flow and PKCE (Authlib's client), and `/signin/oidc/callback` exchanges
the code and checks the ID token (signature from the provider's keys, issuer, audience,
expiry, nonce; joserfc). The person is the directory person with the token's email, which
the provider must mark verified; nobody new is created. The session that follows is the
same as a sign-in link's (a `sign_ins` row, the same cookie), so sign-out and roles work
alike. State, nonce and the PKCE verifier travel in a signed cookie that lives 10 minutes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.web.auth import (
    WebSession,
    container_of,
    safe_next,
    secure_cookies,
    set_session_cookie,
)
from bot.web.i18n import translator
from bot.web.render import language, page
from bot.web.urls import base_url
from store.types import utcnow

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import AsyncOAuth2Client

log = structlog.get_logger(__name__)

router = APIRouter(include_in_schema=False)

FLOW_COOKIE = "switchboard_oidc"
FLOW_SECONDS = 600
CALLBACK_PATH = "/signin/oidc/callback"
_SALT = "switchboard.oidc-flow"


class OidcSettings(BaseSettings):
    """The identity provider: on when issuer, client id and client secret are set."""

    model_config = SettingsConfigDict(env_prefix="OIDC_", env_file=".env", extra="ignore")

    issuer: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str = "openid email profile"
    timeout: float = 10.0

    @property
    def enabled(self) -> bool:
        """Whether the issuer, client id and client secret are all set."""
        return bool(self.issuer and self.client_id and self.client_secret)


class SignInFailed(Exception):
    """The provider's answer did not prove who the person is."""


@dataclass(frozen=True, slots=True)
class Provider:
    """The provider's endpoints and issuer, from its discovery document."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    issuer: str


def settings_of(request: Request) -> OidcSettings:
    """The app's OIDC settings; switched off when the app was built without them."""
    found = getattr(request.app.state, "oidc", None)
    return found if isinstance(found, OidcSettings) else OidcSettings(issuer=None)


async def discover(oidc: OidcSettings) -> Provider:
    """Read the issuer's discovery document; `SignInFailed` when it lacks an endpoint."""
    assert oidc.issuer is not None
    url = oidc.issuer.rstrip("/") + "/.well-known/openid-configuration"
    import httpx  # only a sign-in through the provider loads it

    async with httpx.AsyncClient(timeout=oidc.timeout) as client:
        res = await client.get(url)
        res.raise_for_status()
        meta = res.json()
    try:
        return Provider(
            authorization_endpoint=str(meta["authorization_endpoint"]),
            token_endpoint=str(meta["token_endpoint"]),
            jwks_uri=str(meta["jwks_uri"]),
            issuer=str(meta["issuer"]),
        )
    except (KeyError, TypeError) as e:
        raise SignInFailed("the provider's discovery document is incomplete") from e


def _client(oidc: OidcSettings, redirect_uri: str) -> AsyncOAuth2Client:
    # Authlib and its JOSE and cryptography stack load only where a provider is configured.
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    assert oidc.client_secret is not None
    return AsyncOAuth2Client(
        client_id=oidc.client_id,
        client_secret=oidc.client_secret.get_secret_value(),
        scope=oidc.scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=oidc.timeout,
    )


def _flow(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(container_of(request).webchat_secret(), salt=_SALT)


def _callback_url(request: Request) -> str:
    return base_url(container_of(request).settings) + CALLBACK_PATH


@router.get("/signin/oidc")
async def start(
    request: Request,
    next_: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    """Send the browser to the identity provider."""
    oidc = settings_of(request)
    if not oidc.enabled:
        return _failed(request, 404)
    provider = await discover(oidc)
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    async with _client(oidc, _callback_url(request)) as client:
        url, _ = client.create_authorization_url(
            provider.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce
        )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        _flow(request).dumps([state, nonce, verifier, safe_next(next_)]),
        max_age=FLOW_SECONDS,
        path="/signin/oidc",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(container_of(request).settings),
    )
    return response


@router.get(CALLBACK_PATH)
async def callback(
    request: Request,
    code: Annotated[str, Query(max_length=2000)] = "",
    state: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Check the provider's answer and start the session."""
    oidc = settings_of(request)
    if not oidc.enabled:
        return _failed(request, 404)
    try:
        expected, nonce, verifier, next_path = _flow(request).loads(
            request.cookies.get(FLOW_COOKIE, ""), max_age=FLOW_SECONDS
        )
    except (BadSignature, ValueError, TypeError):
        return _failed(request, 400)
    if not code or not secrets.compare_digest(str(expected), state):
        return _failed(request, 400)
    import httpx
    from joserfc.errors import JoseError

    try:
        claims = await _claims(request, oidc, code, str(verifier), str(nonce))
    except (SignInFailed, JoseError, httpx.HTTPError, ValueError) as e:
        log.warning("web.oidc_refused", reason=type(e).__name__)
        return _failed(request, 401)
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        log.info("web.oidc_refused", reason="email not verified")
        return _failed(request, 403)
    async with container_of(request).uow() as uow:
        person = await uow.people.by_email(email)
        if person is None or not person.active:
            log.info("web.oidc_refused", reason="not in the directory")
            return _failed(request, 403)
        row, _ = await uow.signins.issue(person, channel="oidc")
        row.used_at = utcnow()
        await uow.commit()
    response = RedirectResponse(safe_next(str(next_path)), status_code=303)
    response.delete_cookie(FLOW_COOKIE, path="/signin/oidc")
    set_session_cookie(response, request, WebSession.new(row.id, person.id))
    log.info("web.signed_in", person_id=person.id, sign_in=row.id, via="oidc")
    return response


async def _claims(
    request: Request, oidc: OidcSettings, code: str, verifier: str, nonce: str
) -> dict[str, Any]:
    from joserfc import jwt
    from joserfc.jwk import KeySet

    provider = await discover(oidc)
    async with _client(oidc, _callback_url(request)) as client:
        token = await client.fetch_token(provider.token_endpoint, code=code, code_verifier=verifier)
        keys = await client.get(provider.jwks_uri)
        keys.raise_for_status()
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignInFailed("no ID token in the provider's answer")
    decoded = jwt.decode(
        id_token, KeySet.import_key_set(keys.json()), algorithms=["RS256", "ES256"]
    )
    jwt.JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": oidc.client_id or ""},
        exp={"essential": True},
        nonce={"essential": True, "value": nonce},
    ).validate(decoded.claims)
    return dict(decoded.claims)


def _failed(request: Request, status_code: int) -> Response:
    t = translator(language(request, None))
    key = "signin.oidc.failed" if status_code != 404 else "signin.oidc.off"
    return page(
        request,
        "message.html",
        status_code=status_code,
        heading=t("signin.title"),
        lines=[t(key), t("signin.how")],
        alert=True,
    )
