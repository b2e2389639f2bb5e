"""Sign-in with the organisation's identity provider: a verified email of the directory,
the nonce and state it was asked with, the provider's own signature, or no session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from pydantic import SecretStr

from bot.app import create_app
from bot.config import Settings
from bot.container import Role
from bot.web.auth import SESSION_COOKIE
from bot.web.oidc import OidcSettings
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeOidcProvider

HTML = {"Accept": "text/html"}


@pytest.fixture
def provider() -> Iterator[FakeOidcProvider]:
    with FakeOidcProvider() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def client(demo_settings: Settings, provider: FakeOidcProvider) -> Iterator[TestClient]:
    app = create_app(demo_settings, roles=frozenset({Role.WEB}))
    app.state.oidc = OidcSettings(
        issuer=provider.base_url, client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET)
    )
    with TestClient(app) as c:
        yield c


def authorise(client: TestClient) -> dict[str, str]:
    """Start the flow; the authorisation request's parameters, as the provider sees them."""
    res = client.get("/signin/oidc", params={"next": "/portal/knowledge"}, follow_redirects=False)
    assert res.status_code == 303
    url = urlsplit(res.headers["location"])
    assert url.path == "/authorize"
    return {k: v[-1] for k, v in parse_qs(url.query).items()}


def finish(
    client: TestClient, provider: FakeOidcProvider, asked: dict[str, str], **claims: Any
) -> Any:
    claims.setdefault("nonce", asked["nonce"])
    provider.sign_in_as("code-1", asked["code_challenge"], **claims)
    return client.get(
        "/signin/oidc/callback",
        params={"code": "code-1", "state": asked["state"]},
        headers=HTML,
        follow_redirects=False,
    )


def test_a_verified_directory_email_signs_in(
    client: TestClient, provider: FakeOidcProvider
) -> None:
    signin = client.get("/signin", headers=HTML)
    assert 'href="/signin/oidc"' in signin.text
    asked = authorise(client)
    assert asked["client_id"] == CLIENT_ID
    assert asked["code_challenge_method"] == "S256"
    assert asked["redirect_uri"].endswith("/signin/oidc/callback")
    res = finish(client, provider, asked, email="bob@example.com", email_verified=True)
    assert res.status_code == 303
    assert res.headers["location"] == "/portal/knowledge"
    assert SESSION_COOKIE in client.cookies
    assert client.get("/portal", headers=HTML).status_code == 200


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"email": "bob@example.com", "email_verified": False}, 403),
        ({"email": "stranger@example.com", "email_verified": True}, 403),
        ({"email": "bob@example.com", "email_verified": True, "nonce": "replayed"}, 401),
        ({"email": "bob@example.com", "email_verified": True, "aud": "someone-else"}, 401),
    ],
)
def test_what_does_not_prove_a_person_gets_no_session(
    client: TestClient, provider: FakeOidcProvider, claims: dict[str, Any], status: int
) -> None:
    res = finish(client, provider, authorise(client), **claims)
    assert res.status_code == status
    assert SESSION_COOKIE not in client.cookies


def test_state_and_signature_are_checked(client: TestClient, provider: FakeOidcProvider) -> None:
    asked = authorise(client)
    forged_state = client.get(
        "/signin/oidc/callback", params={"code": "code-1", "state": "forged"}, headers=HTML
    )
    assert forged_state.status_code == 400
    # An ID token signed with a key that is not the provider's, under the provider's key id.
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
    forged = finish(client, provider, asked, email="bob@example.com", email_verified=True)
    assert forged.status_code == 401
    assert SESSION_COOKIE not in client.cookies


def test_off_without_configuration(demo_settings: Settings) -> None:
    with TestClient(create_app(demo_settings, roles=frozenset({Role.WEB}))) as c:
        assert c.get("/signin/oidc", headers=HTML).status_code == 404
        assert 'href="/signin/oidc"' not in c.get("/signin", headers=HTML).text
