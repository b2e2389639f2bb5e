"""`X-Hub-Signature-256` against known answers computed with openssl, forgeries, the handshake."""

from __future__ import annotations

import pytest

from channels.base import PayloadError, SignatureError
from channels.meta.verify import HandshakeRefused, handshake, signature, verify
from tests.payloads import load, raw

VECTORS = load("meta", "signature_test_vector.json")
SECRET = VECTORS["app_secret"]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: str(v["file"]))
def test_known_answers(vector: dict[str, str | None]) -> None:
    body = raw("meta", vector["file"]) if vector["file"] else str(vector["body"]).encode()
    assert signature(SECRET, body) == vector["header"]
    verify(body, [str(vector["header"])], SECRET)


def test_every_flipped_bit_of_a_signed_body_is_refused() -> None:
    body = raw("meta", "instagram_message.json")
    header = signature(SECRET, body)
    for i in range(len(body) * 8):
        flipped = bytearray(body)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(SignatureError):
            verify(bytes(flipped), [header], SECRET)


@pytest.mark.parametrize(
    ("headers", "secret", "reason"),
    [
        ([], SECRET, "missing"),
        (["sha256=" + "0" * 64], SECRET, "invalid"),
        (["sha1=abc"], SECRET, "invalid"),
        ([signature("another-secret", b"{}")], SECRET, "invalid"),
        ([signature(SECRET, b"{}"), signature(SECRET, b"{}")], SECRET, "more than one"),
        ([signature("", b"{}")], "", "META_APP_SECRET"),
    ],
)
def test_forged_missing_duplicated_and_unconfigured_signatures(
    headers: list[str], secret: str, reason: str
) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(b"{}", headers, secret)


def test_the_handshake_echoes_the_challenge_only_for_the_right_token() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert handshake(query, "tok") == "1158201444"
    with pytest.raises(HandshakeRefused):
        handshake(query, "other")
    with pytest.raises(HandshakeRefused):
        handshake(query, "")
    with pytest.raises(PayloadError, match="hub.mode"):
        handshake({**query, "hub.mode": "unsubscribe"}, "tok")
    with pytest.raises(PayloadError, match="hub.challenge"):
        handshake({**query, "hub.challenge": ""}, "tok")


def test_a_page_token_is_scrubbed_from_free_text_in_logs() -> None:
    from bot.logging import scrub

    token = "EAAtestpagetoken0123456789abcdef"
    for text in (f"token {token} expired", f"GET /me?access_token={token}"):
        assert token not in scrub(text)
