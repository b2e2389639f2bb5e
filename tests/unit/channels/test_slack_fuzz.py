"""Whatever a signed Slack body holds, the channel answers with events or `PayloadError`.

Three layers are driven with arbitrary and with mutated real payloads: reading the raw
body, the envelope check together with the parsers, and bolt's own dispatch of a body that
passed the check (its context extraction and listener matching index into the body, so a
list where an object belongs would otherwise be a 500). No network: the bolt app's
authorisation is answered locally and forms are not opened.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from channels.base import IngestOutcome, PayloadError, SignatureError
from channels.conversation import Event
from channels.slack.envelope import check, read_body
from channels.slack.help import HelpSettings, TicketRequest, parse_help
from channels.slack.listeners import Listeners, build_app
from channels.slack.parse import parse
from channels.slack.verify import verify
from tests.payloads import load, raw
from tests.unit.channels.fuzzing import assert_survives_the_inbox, json_values, mutate

NOW = 1_531_420_618
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON = json_values(SCALARS, max_leaves=20)
FIELDS = st.sampled_from(
    [
        "type", "event", "event_id", "actions", "action_id", "block_id", "value", "view",
        "callback_id", "state", "values", "private_metadata", "user", "id", "team", "channel",
        "container", "message", "text", "ts", "thread_ts", "event_ts", "authorizations",
        "user_id", "is_bot", "files", "subtype", "channel_type", "bot_id", "command",
        "trigger_id", "challenge", "enterprise", "response_urls", "tab", "blocks", "element",
        "options", "selected_option", "team_id", "channel_id", "message_ts", "action_ts",
        "is_ext_shared_channel",
    ]
)  # fmt: skip
TYPES = st.sampled_from(
    [
        "event_callback", "block_actions", "view_submission", "view_closed", "shortcut",
        "message_action", "url_verification", "block_suggestion", "interactive_message",
        "dialog_submission", "app_rate_limited", "", "other",
    ]
)  # fmt: skip


def _form(name: str) -> dict[str, Any]:
    fields = dict(parse_qsl(raw("slack", name).decode(), keep_blank_values=True))
    return json.loads(fields["payload"]) if "payload" in fields else fields


BASES = [
    load("slack", "events_api_app_mention.json"),
    load("slack", "events_api_message_im.json"),
    load("slack", "events_api_message_changed.json"),
    load("slack", "events_api_message_file_share.json"),
    load("slack", "events_api_url_verification.json"),
    load("slack", "interactivity_block_actions_button.json"),
    load("slack", "interactivity_view_submission.json"),
    load("slack", "socket_mode_envelope_interactive_shortcut.json")["payload"],
    _form("slash_command.form.txt"),
    {**load("slack", "events_api_reaction_added.json")},
    load("slack", "events_api_message_channel.json"),
]
BASES[-2]["event"] = {**BASES[-2]["event"], "reaction": "ticket"}
HELP = HelpSettings(channels=frozenset({"C111", "C123ABC456"}))


def _parsed(body: Any) -> list[Event]:
    """The envelope check and the parsers: events, or `PayloadError` and nothing else.

    The parsers are also run on objects the check refused: they must not rely on it.
    """
    try:
        check(body)
    except PayloadError:
        if not isinstance(body, dict):
            return []
    try:
        events = parse(body, bot_user_id="U0BOT")
    except PayloadError:
        return []
    helped = parse_help(body, HELP, {"U0BOT"})
    if isinstance(helped, list):
        events = [*events, *helped]
    for event in events:
        assert_survives_the_inbox(event)
    return events


class _Quiet(Listeners):
    """Listeners that store into a list and never open a form (no network)."""

    def __init__(self) -> None:
        super().__init__(AsyncWebClient(base_url="http://127.0.0.1:9/api/"), help=HELP)
        self.stored: list[Event] = []
        self.reacted: list[TicketRequest] = []

        async def ingest(event: Event) -> IngestOutcome:
            self.stored.append(event)
            return IngestOutcome.ACCEPTED

        self.ingest = ingest

    async def _open(self, body: Any, view: dict[str, Any]) -> bool:
        return False

    async def _ask_for_invite(self, body: Any) -> None:
        return None

    async def _ticket_from_reaction(self, request: TicketRequest) -> None:
        self.reacted.append(request)

    def _mark_taken(self, channel: str, ts: str) -> None:
        return None


async def _authorize() -> AuthorizeResult:
    return AuthorizeResult(
        enterprise_id=None, team_id="T111", bot_user_id="U0BOT", bot_id="B0BOT", bot_token=""
    )


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as r:
        yield r


def _dispatch(runner: asyncio.Runner, body: Any) -> None:
    """A body the check passed goes through bolt to a 200, to `PayloadError`, or to
    bolt's unhandled-request error (which the route answers with a 200)."""
    try:
        check(body)
    except PayloadError:
        return
    listeners = _Quiet()
    app = build_app(AsyncWebClient(base_url="http://127.0.0.1:9/api/"), listeners, _authorize)
    request = AsyncBoltRequest(body=body, mode="socket_mode")
    try:
        answer = runner.run(app.async_dispatch(request))
    except (PayloadError, BoltUnhandledRequestError):
        assert listeners.stored == []
        return
    assert answer.status == 200, answer.body


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSON)
def test_arbitrary_json_parses_or_is_a_payload_error(body: Any) -> None:
    _parsed(body)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(BASES),
    path=st.lists(FIELDS, min_size=1, max_size=4),
    value=JSON | TYPES,
    kind=st.none() | TYPES,
)
def test_real_payloads_with_one_field_changed(
    base: Any, path: list[str], value: Any, kind: str | None
) -> None:
    body = mutate(base, path, value)
    if kind is not None and isinstance(body, dict):
        body["type"] = kind
    _parsed(body)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_body=st.binary(max_size=64) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_read_as_an_object_or_a_payload_error(raw_body: bytes) -> None:
    for content_type in ("application/json", "application/x-www-form-urlencoded"):
        try:
            body = read_body(raw_body, content_type)
        except PayloadError:
            continue
        assert isinstance(body, dict)


# bolt's whole dispatch (context, middleware, listener matching) per example costs about
# ten times a parse, so this one runs fewer examples than the parsers' 10,000.
@settings(
    max_examples=2_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    base=st.sampled_from(BASES),
    path=st.lists(FIELDS, min_size=1, max_size=4),
    value=JSON | TYPES,
    kind=st.none() | TYPES,
)
def test_bolt_dispatches_what_the_check_lets_through(
    runner: asyncio.Runner, base: Any, path: list[str], value: Any, kind: str | None
) -> None:
    body = mutate(base, path, value)
    if kind is not None and isinstance(body, dict):
        body["type"] = kind
    _dispatch(runner, body)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw_body=st.binary(max_size=64),
    stamp=st.text(max_size=14) | st.integers(0, 2 * NOW).map(str),
    signature=st.text(max_size=70),
    secret=st.text(max_size=8),
)
def test_verify_refuses_with_signature_errors_only(
    raw_body: bytes, stamp: str, signature: str, secret: str
) -> None:
    headers = {"x-slack-request-timestamp": stamp, "x-slack-signature": signature}
    with pytest.raises(SignatureError):
        verify(raw_body, headers, secret=secret, now=NOW)


@pytest.mark.parametrize("base", BASES, ids=lambda b: str(b.get("type") or "command"))
def test_every_recorded_payload_passes_the_check(base: dict[str, Any]) -> None:
    check(base)
