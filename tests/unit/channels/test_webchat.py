"""The web chat parser and token check under arbitrary input: a clear error or an event."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous.timed import TimestampSigner

from channels.base import IngestOutcome, PayloadError, SignatureError
from channels.conversation import Action, Button, Message, Reply, TicketCard, event_from_dict
from channels.webchat import WebChatChannel, render

SECRET = b"0123456789abcdef0123456789abcdef"


@contextmanager
def later(seconds: int) -> Iterator[None]:
    """Tokens are judged as if `seconds` had passed."""
    now = int(time.time()) + seconds
    with patch.object(TimestampSigner, "get_timestamp", return_value=now):
        yield


async def _no_history(_key: str, _after: int) -> list[tuple[int, Reply]]:
    return []


channel = WebChatChannel(secret=SECRET, history=_no_history)


@settings(deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_parse_or_fail_clearly(body: bytes) -> None:
    try:
        event = channel.parse(body, "v_abc", channel.address("v_abc"))
    except PayloadError:
        return
    assert isinstance(event, Message | Action)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "text", "action", "value", "x"]), json_values))
def test_any_json_object_parses_or_fails_clearly(data: dict[str, object]) -> None:
    body = json.dumps(data).encode()
    try:
        event = channel.parse(body, "v_abc", channel.address("v_abc"))
    except PayloadError:
        return
    # What passed is well-formed and survives the inbox round trip.
    assert event_from_dict(event.to_dict()) == event


@settings(deadline=None)
@given(st.text(max_size=300))
def test_forged_tokens_are_refused(token: str) -> None:
    with pytest.raises(SignatureError):
        channel.verify(token)


def test_issued_tokens_verify_and_name_their_visitor() -> None:
    visitor, token = channel.issue()
    assert channel.verify(token) == visitor
    other = WebChatChannel(secret=b"another-secret-of-32-bytes-long!", history=_no_history)
    with pytest.raises(SignatureError):
        other.verify(token)


def test_render_keeps_buttons_and_card() -> None:
    reply = Reply(
        text="Approve?",
        buttons=(Button(label="Approve", action="approve", value="CHG-1"),),
        card=TicketCard(ref="CHG-1", title="t", kind="change", status="awaiting approval"),
        ticket_ref="CHG-1",
    )
    drawn = render(reply)
    assert drawn["buttons"] == [
        {"label": "Approve", "action": "approve", "value": "CHG-1", "style": "default"}
    ]
    assert drawn["card"]["ref"] == "CHG-1"


def test_tokens_expire_and_are_renewed_on_use() -> None:
    from channels.webchat import ExpiredTokenError

    short = WebChatChannel(secret=SECRET, history=_no_history, token_max_age=60)
    visitor, token = short.issue()
    with later(61):
        with pytest.raises(ExpiredTokenError):
            short.verify(token)
        renewed = short.token_for(visitor)
        assert short.verify(renewed) == visitor
    # A token never names a signed-in person's conversation, whatever it is signed with.
    with pytest.raises(SignatureError):
        short.verify(short.token_for("u_1"))


def test_expired_token_gets_a_clear_401() -> None:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    async def ingest(event: object) -> IngestOutcome:
        return IngestOutcome.ACCEPTED

    short = WebChatChannel(secret=SECRET, history=_no_history, token_max_age=60)
    app = Starlette(routes=list(short.routes(ingest)))
    _, token = short.issue()
    with TestClient(app) as client:
        ok = client.post(
            "/webchat/messages", json={"id": "1", "text": "hi"}, headers={"X-Webchat-Token": token}
        )
        assert ok.status_code == 202
        assert short.verify(ok.headers["X-Webchat-Token"]).startswith("v_")
        with later(61):
            late = client.get("/webchat/replies?wait=0", headers={"X-Webchat-Token": token})
        assert late.status_code == 401
        assert late.json()["expired"] is True


def test_a_checked_token_still_expires_on_time() -> None:
    from channels.webchat import ExpiredTokenError

    short = WebChatChannel(secret=SECRET, history=_no_history, token_max_age=60)
    visitor, token = short.issue()
    assert short.verify(token) == visitor  # checked once, then remembered
    with later(61), pytest.raises(ExpiredTokenError):
        short.verify(token)
    with later(-5), pytest.raises(ExpiredTokenError):
        short.verify(token)


def test_young_tokens_are_answered_with_themselves_and_old_ones_renewed() -> None:
    from channels.webchat import RENEW_AFTER

    kept = WebChatChannel(secret=SECRET, history=_no_history)
    visitor, token = kept.issue()
    kept.verify(token)
    assert kept.renewed(visitor, token) == token
    with later(RENEW_AFTER + 1):
        fresh = kept.renewed(visitor, token)
        assert fresh != token
        assert kept.verify(fresh) == visitor
    # A token that names someone else is never handed back as theirs.
    other, _ = kept.issue()
    assert kept.renewed(other, token) != token


def test_a_new_secret_refuses_tokens_checked_under_the_old_one() -> None:
    secrets = [SECRET]
    rotating = WebChatChannel(secret=lambda: secrets[0], history=_no_history)
    _, token = rotating.issue()
    rotating.verify(token)
    secrets[0] = b"another-secret-of-enough-length"
    with pytest.raises(SignatureError):
        rotating.verify(token)
