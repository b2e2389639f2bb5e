"""Slack: events, the `/ticket` command, shortcuts, buttons and forms in; Block Kit out.

One slack-bolt `AsyncApp` serves `POST /slack/events` (Events API, slash commands and
interactivity alike) and, when an app-level token is set, Socket Mode. Its listeners only
normalise a request into the conversation model and hand it to `ingest`; bolt answers Slack
after that returned (`process_before_response`), so a 200 means the event is durable. The
two things that cannot wait for the worker happen here: opening a modal (`views.open` needs
the trigger within 3 s) and telling a person what to fix in a form they submitted.

Outbound, replies become Block Kit messages in the conversation's thread, card updates
become `chat.update`, and the person's overview becomes their App Home tab.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import aiohttp
import structlog
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from channels.base import (
    ChannelError,
    Delivery,
    DeliveryError,
    Ingest,
    PayloadError,
    SignatureError,
)
from channels.conversation import Action, Address, Event, Identity, Message, Reply
from channels.slack_blocks import (
    NEW_TICKET,
    NOTE_FORM,
    TICKET_FORM,
    FormError,
    action_name,
    card_state,
    form_metadata,
    note_form,
    plain,
    read_note_form,
    read_ticket_form,
    render,
    render_home,
    shown_version,
    ticket_form,
)

log = structlog.get_logger(__name__)

PLATFORM = "slack"
REPLAY_WINDOW = 300
"""Seconds a signed request stays valid (Slack's own advice)."""
TICKET_COMMAND = "/ticket"
MESSAGE_SHORTCUT = "sb_ticket_from_message"
METADATA_EVENT = "switchboard_reply"
FORM_DEADLINE = 2.5
"""Seconds to wait for `views.open`: a trigger is valid for 3 s."""

# Message subtypes that are a person writing; everything else (edits, deletions, joins,
# other bots) is acknowledged and ignored.
_PERSON_SUBTYPES = (None, "file_share", "thread_broadcast")
_PERMANENT = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "msg_too_long",
        "no_text",
        "user_not_found",
        "restricted_action",
        "ekm_access_denied",
        "team_access_not_granted",
        "cannot_dm_bot",
    }
)
# Slack says these may have happened in part: the message can exist although we got an error.
_UNCERTAIN = frozenset({"internal_error", "fatal_error", "request_timeout", "service_unavailable"})
_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})

Services = Callable[[], Awaitable[list[str]]]


# -- verification ---------------------------------------------------------------------------


def verify(raw: bytes, headers: Mapping[str, str], *, secret: str, now: float) -> None:
    """Check Slack's request signature over the raw body; `SignatureError` when it fails.

    `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>` with the signing secret, and the
    timestamp within five minutes of `now`. Without a secret every request is refused.
    """
    if not secret:
        raise SignatureError("the Slack signing secret is not configured", platform=PLATFORM)
    stamps = _all(headers, "x-slack-request-timestamp")
    signatures = _all(headers, "x-slack-signature")
    if len(stamps) != 1 or len(signatures) != 1:
        raise SignatureError("missing or repeated signature headers", platform=PLATFORM)
    stamp, signature = stamps[0], signatures[0]
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError("malformed request timestamp", platform=PLATFORM)
    if abs(now - int(stamp)) > REPLAY_WINDOW:
        raise SignatureError("request timestamp outside the replay window", platform=PLATFORM)
    base = b"v0:" + stamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise SignatureError("signature mismatch", platform=PLATFORM)


def _all(headers: Mapping[str, str], name: str) -> list[str]:
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):
        return [str(v) for v in getlist(name)]
    value = headers.get(name)
    return [value] if value is not None else []


# -- parsing --------------------------------------------------------------------------------


_SHAPES: dict[str, tuple[type, ...]] = {
    "event": (dict,),
    "authorizations": (list,),
    "actions": (list,),
    "view": (dict,),
    "container": (dict,),
    "message": (dict,),
    "channel": (dict, str),
    "user": (dict, str),
    "team": (dict, str, type(None)),
    "enterprise": (dict, str, type(None)),
    "event_id": (str,),
    "type": (str,),
}


def read_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """The request as bolt will read it, refusing what bolt could not (`PayloadError`).

    Events come as JSON, slash commands as a form, interactivity as a form whose `payload`
    field is JSON; a signed body of another shape must get a 400, not a crash.
    """
    try:
        text = raw.decode("utf-8")
        if content_type.startswith("application/json") or text.startswith("{"):
            body: Any = json.loads(text)
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True))
            body = json.loads(fields["payload"]) if "payload" in fields else fields
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise PayloadError(f"unreadable body: {type(e).__name__}", platform=PLATFORM) from e
    if not isinstance(body, dict):
        raise PayloadError("the body is not an object", platform=PLATFORM)
    for key, types in _SHAPES.items():
        if key in body and not isinstance(body[key], types):
            raise PayloadError(f"`{key}` has the wrong type", platform=PLATFORM)
    for key in ("actions", "authorizations"):
        if any(not isinstance(x, dict) for x in body.get(key) or ()):
            raise PayloadError(f"`{key}` must hold objects", platform=PLATFORM)
    return body


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _dict(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _when(ts: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def bot_ids(body: Mapping[str, Any], known: str | None = None) -> set[str]:
    """Ids under which the bot itself appears in a request."""
    found = {known} if known else set()
    for auth in body.get("authorizations") or ():
        if (
            isinstance(auth, Mapping)
            and auth.get("is_bot")
            and isinstance(auth.get("user_id"), str)
        ):
            found.add(auth["user_id"])
    return found


def parse_event(body: Mapping[str, Any], *, bot_user_id: str | None = None) -> list[Event]:
    """An Events API delivery as events: a DM or an @mention, or an App Home visit.

    Slack's `event_id` is the event id, so a retried delivery is recognised by the inbox.
    Anything else (edits, bots, the bot itself, other event types) yields nothing.
    """
    if body.get("type") != "event_callback":
        return []
    event = body.get("event")
    event_id = body.get("event_id")
    if not isinstance(event, Mapping) or not isinstance(event_id, str) or not event_id:
        raise PayloadError("event_callback without an event or an event_id", platform=PLATFORM)
    kind = event.get("type")
    team = _str(body, "team_id") or _str(event, "team")
    user = _str(event, "user")
    ours = bot_ids(body, bot_user_id)
    if kind == "app_home_opened":
        if event.get("tab") != "home" or not user:
            return []
        address = Address(
            channel=PLATFORM, workspace=team, conversation=_str(event, "channel") or user, user=user
        )
        return [
            Action(
                event_id=event_id,
                address=address,
                sender=Identity(platform=PLATFORM, external_id=user),
                name="home",
                received_at=_when(_str(event, "event_ts")),
            )
        ]
    if kind not in ("message", "app_mention"):
        return []
    if event.get("subtype") not in _PERSON_SUBTYPES or event.get("bot_id") or user in ours:
        return []
    channel, ts = _str(event, "channel"), _str(event, "ts")
    if kind == "message" and event.get("channel_type") != "im":
        # Channel messages reach us as `app_mention` when they are meant for the bot.
        return []
    if kind == "app_mention" and channel.startswith("D"):
        # A mention inside a DM is also a `message.im` event: take that one only.
        return []
    if not user or not channel or not ts:
        return []
    raw_text = event.get("text")
    text = plain(raw_text if isinstance(raw_text, str) else "", drop=sorted(ours))
    if kind == "app_mention" and not ours:
        text = re.sub(r"^@\S+\s*", "", text)
    files = [f for f in event.get("files") or () if isinstance(f, Mapping)]
    attachments = tuple(_str(f, "permalink") or _str(f, "name") for f in files[:10])
    return [
        Message(
            event_id=event_id,
            address=Address(
                channel=PLATFORM,
                workspace=team,
                conversation=channel,
                thread=_str(event, "thread_ts") or ts,
                user=user,
            ),
            sender=Identity(platform=PLATFORM, external_id=user),
            text=text,
            received_at=_when(_str(event, "event_ts") or ts),
            direct=True,
            attachments=tuple(a for a in attachments if a),
        )
    ]


def _clicker(body: Mapping[str, Any]) -> tuple[str, str]:
    user = _dict(body, "user")
    user_id = _str(user, "id")
    if not user_id:
        raise PayloadError("interaction without a user", platform=PLATFORM)
    team = _str(_dict(body, "team"), "id") or _str(user, "team_id")
    return user_id, team


def parse_click(body: Mapping[str, Any]) -> list[Action]:
    """A button click (`block_actions`) as an action.

    A click on a message carries its `ts` as `params["message_id"]` (so the answer can
    update that card) and the card version from the block id as `params["version"]`. A
    click in the App Home is answered in the person's DM and refreshes their Home.
    """
    actions = [a for a in body.get("actions") or () if isinstance(a, Mapping)]
    if not actions:
        return []
    clicked = actions[0]
    user, team = _clicker(body)
    name = action_name(_str(clicked, "action_id"))
    if not name:
        raise PayloadError("button without an action_id", platform=PLATFORM)
    value = _str(clicked, "value") or _str(_dict(clicked, "selected_option"), "value")
    params: dict[str, str] = {}
    version = shown_version(_str(clicked, "block_id"))
    if version is not None:
        params["version"] = version
    container = _dict(body, "container")
    message = _dict(body, "message")
    home = container.get("type") == "view" or _dict(body, "view").get("type") == "home"
    if container.get("type") == "message" or message:
        channel = _str(container, "channel_id") or _str(_dict(body, "channel"), "id")
        if not channel:
            raise PayloadError("message click without a channel", platform=PLATFORM)
        message_ts = _str(container, "message_ts") or _str(message, "ts")
        if message_ts:
            params["message_id"] = message_ts
        thread = _str(container, "thread_ts") or _str(message, "thread_ts") or None
        address = Address(
            channel=PLATFORM, workspace=team, conversation=channel, thread=thread, user=user
        )
    else:
        address = Address(channel=PLATFORM, workspace=team, conversation=user, user=user)
    trigger = _str(body, "trigger_id") or f"{user}:{_str(clicked, 'action_ts')}"
    event_id = f"click:{trigger}"
    sender = Identity(platform=PLATFORM, external_id=user)
    when = _when(_str(clicked, "action_ts"))
    out = [
        Action(
            event_id=event_id,
            address=address,
            sender=sender,
            name=name,
            value=value[:200],
            params=params,
            received_at=when,
        )
    ]
    if home:
        out.append(
            Action(
                event_id=event_id + ":home",
                address=address,
                sender=sender,
                name="home",
                received_at=when,
            )
        )
    return out


def parse_submission(body: Mapping[str, Any]) -> Action | None:
    """A submitted form as an action; `FormError` says what the person must correct.

    The ticket form becomes `file_ticket` (answered in the person's DM); the note form
    `add_note` about the ticket whose card it was opened from, in that card's place.
    """
    view = _dict(body, "view")
    callback = _str(view, "callback_id")
    if callback not in (TICKET_FORM, NOTE_FORM):
        return None
    user, team = _clicker(body)
    view_id = _str(view, "id")
    if not view_id:
        raise PayloadError("view_submission without a view id", platform=PLATFORM)
    sender = Identity(platform=PLATFORM, external_id=user)
    dm = Address(channel=PLATFORM, workspace=team, conversation=user, user=user)
    if callback == TICKET_FORM:
        return Action(
            event_id=f"form:{view_id}",
            address=dm,
            sender=sender,
            name="file_ticket",
            params=read_ticket_form(view),
        )
    note = read_note_form(view)
    meta = form_metadata(view)
    ref = meta.get("ref", "")
    if not ref:
        raise PayloadError("note form without a ticket reference", platform=PLATFORM)
    address = dm
    if meta.get("channel"):
        address = Address(
            channel=PLATFORM,
            workspace=team,
            conversation=meta["channel"],
            thread=meta.get("thread") or None,
            user=user,
        )
    return Action(
        event_id=f"form:{view_id}",
        address=address,
        sender=sender,
        name="add_note",
        value=ref,
        params={"note": note},
    )


def permalink(body: Mapping[str, Any]) -> str:
    """A link back to the message a shortcut was used on, built from the payload alone."""
    domain = _str(_dict(body, "team"), "domain")
    channel = _str(_dict(body, "channel"), "id")
    ts = _str(_dict(body, "message"), "ts")
    if not (domain and channel and ts) or not re.fullmatch(r"[a-z0-9-]+", domain):
        return ""
    return f"https://{domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"


def is_shared(conversation: str) -> bool:
    """A channel others read (public `C…`, private `G…`), as opposed to a DM."""
    return conversation[:1] in ("C", "G")


# -- the channel ----------------------------------------------------------------------------


class SlackUnavailableError(ChannelError):
    """Slack could not be asked something the request needs (auth.test); Slack retries."""


class SlackChannel:
    """Slack through one bolt app: webhook route, Socket Mode, and a Web API client.

    The client is opened in `start()` with slack-sdk's own retries switched off: the
    outbox dispatcher owns retries, waits and the shared rate limit.
    """

    name: ClassVar[str] = PLATFORM
    platforms: ClassVar[tuple[str, ...]] = (PLATFORM,)

    def __init__(
        self,
        *,
        bot_token: str,
        signing_secret: str = "",
        app_token: str = "",
        api_url: str = "https://slack.com/api/",
        services: Services | None = None,
        timeout: float = 10.0,
        profile_ttl: float = 3600.0,
        services_ttl: float = 60.0,
    ) -> None:
        self._bot_token = bot_token
        self._signing_secret = signing_secret
        self._app_token = app_token
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self._services = services
        self.timeout = timeout
        self.profile_ttl = profile_ttl
        self.services_ttl = services_ttl
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._bolt: AsyncApp | None = None
        self._handler: AsyncSlackRequestHandler | None = None
        self._ingest: Ingest | None = None
        self._auth: AuthorizeResult | None = None
        self._auth_lock = asyncio.Lock()
        self._profiles: dict[str, tuple[float, Identity]] = {}
        self._service_cache: tuple[float, list[str]] = (0.0, [])
        self._uncertain: OrderedDict[str, None] = OrderedDict()
        self._shown: OrderedDict[tuple[str, str], tuple[str, ...]] = OrderedDict()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._client is not None:
            return
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._client = AsyncWebClient(
            token=self._bot_token,
            base_url=self.api_url,
            timeout=max(1, int(self.timeout)),
            session=self._session,
            retry_handlers=[],
            logger=logging.getLogger("slack_sdk.web"),
        )
        # bolt gets the token through `authorize`, so its own client carries none.
        bolt_client = AsyncWebClient(
            base_url=self.api_url,
            timeout=max(1, int(self.timeout)),
            session=self._session,
            retry_handlers=[],
            logger=logging.getLogger("slack_sdk.web"),
        )
        self._bolt = self._build_app(bolt_client)
        self._handler = AsyncSlackRequestHandler(self._bolt)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._client = self._bolt = self._handler = None

    def _web(self) -> AsyncWebClient:
        if self._client is None:
            raise ChannelError("the Slack channel is not started", platform=PLATFORM)
        return self._client

    def _build_app(self, client: AsyncWebClient) -> AsyncApp:
        async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            return await self._authorize()

        app = AsyncApp(
            name="switchboard",
            client=client,
            # Without a secret the route refuses everything before bolt; bolt's own check
            # gets a key nobody knows rather than an empty one.
            signing_secret=self._signing_secret or secrets.token_hex(32),
            authorize=authorize,
            process_before_response=True,
            raise_error_for_unhandled_request=False,
            logger=logging.getLogger("slack_bolt"),
        )
        app.event(re.compile(r".+"))(self._on_event)
        app.command(re.compile(r".+"))(self._on_command)
        app.shortcut(re.compile(r".+"))(self._on_shortcut)
        app.action(re.compile(r".+"))(self._on_click)
        app.view(re.compile(r".+"))(self._on_submission)
        app.view_closed(re.compile(r".+"))(self._on_closed)
        return app

    async def _authorize(self) -> AuthorizeResult:
        """Who the bot is (`auth.test`, asked once); raising makes Slack deliver again."""
        if self._auth is not None:
            return self._auth
        async with self._auth_lock:
            if self._auth is None:
                try:
                    found = await self._web().auth_test()
                except (SlackApiError, aiohttp.ClientError, TimeoutError) as e:
                    # An AuthorizeResult of None would make bolt answer 200 and drop the event.
                    raise SlackUnavailableError(
                        f"auth.test failed: {type(e).__name__}", platform=PLATFORM
                    ) from e
                self._auth = AuthorizeResult.from_auth_test_response(
                    bot_token=self._bot_token, auth_test_response=found
                )
                log.info("slack.authorized", team=self._auth.team_id, bot=self._auth.bot_user_id)
        return self._auth

    # -- inbound --------------------------------------------------------------------------

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        self._ingest = ingest

        async def events(request: Request) -> Response:
            raw = await request.body()
            verify(raw, request.headers, secret=self._signing_secret, now=time.time())
            read_body(raw, request.headers.get("content-type", ""))
            handler = self._handler
            if handler is None:
                return JSONResponse({"error": "not started"}, status_code=503)
            failures: list[BaseException] = []
            try:
                response = await handler.handle(request, {"sb_failures": failures})
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                raise PayloadError(
                    f"unreadable Slack request: {type(e).__name__}", platform=PLATFORM
                ) from e
            if failures:
                # The event is not stored: answer with the error so Slack delivers it again.
                raise failures[0]
            return response

        return [Route("/slack/events", events, methods=["POST"], name="slack-events")]

    async def _hand_over(
        self, parse: Callable[[], Sequence[Event]], context: Mapping[str, Any]
    ) -> None:
        """Parse and ingest; a failure is also left for the route, which answers with it."""
        try:
            events = parse()
            ingest = self._ingest
            if ingest is None:
                raise ChannelError("no ingest callback", platform=PLATFORM)
            for event in events:
                await ingest(event)
        except FormError:
            raise
        except Exception as e:
            failures = context.get("sb_failures")
            if isinstance(failures, list):
                failures.append(e)
            raise

    async def _on_event(self, body: dict[str, Any], context: Any) -> None:
        bot = context.bot_user_id
        await self._hand_over(lambda: parse_event(body, bot_user_id=bot), context)

    async def _on_click(self, body: dict[str, Any], ack: Any, context: Any) -> None:
        actions = [a for a in body.get("actions") or () if isinstance(a, Mapping)]
        name = action_name(_str(actions[0], "action_id")) if actions else ""
        if name == "add_note":
            if not await self._open_note_form(body, _str(actions[0], "value")):
                # No form: the click goes to the handler, which asks for the note in chat.
                await self._hand_over(lambda: parse_click(body), context)
        elif name == NEW_TICKET:
            await self._open_ticket_form(body)
        else:
            await self._hand_over(lambda: parse_click(body), context)
        await ack()

    async def _on_submission(self, body: dict[str, Any], ack: Any, context: Any) -> None:
        def parse() -> list[Event]:
            event = parse_submission(body)
            return [event] if event is not None else []

        try:
            await self._hand_over(parse, context)
        except FormError as e:
            # The modal shows these next to the fields; nothing was stored.
            await ack(response_action="errors", errors=e.errors)
            return
        await ack()

    async def _on_closed(self, ack: Any) -> None:
        await ack()

    async def _on_command(self, body: dict[str, Any], ack: Any) -> None:
        if body.get("command") != TICKET_COMMAND:
            await ack(text=f"I only know {TICKET_COMMAND}. Or just send me a message.")
            return
        summary = plain(_str(body, "text"))
        opened = await self._open_ticket_form(body, summary=summary)
        if opened:
            await ack()
        else:
            await ack(
                text="I couldn't open the form just now. Tell me what's wrong in a direct "
                "message and I'll log it."
            )

    async def _on_shortcut(self, body: dict[str, Any], ack: Any) -> None:
        await ack()
        if body.get("type") == "message_action" and body.get("callback_id") == MESSAGE_SHORTCUT:
            raw = _str(_dict(body, "message"), "text")
            text = plain(raw)
            first = text.strip().splitlines()[0] if text.strip() else ""
            await self._open_ticket_form(
                body, summary=first, description=text, link=permalink(body)
            )
        elif body.get("callback_id") == NEW_TICKET:
            await self._open_ticket_form(body)

    async def _open_ticket_form(
        self, body: Mapping[str, Any], *, summary: str = "", description: str = "", link: str = ""
    ) -> bool:
        meta = {"link": link} if link else {}
        view = ticket_form(
            services=await self._service_names(),
            summary=summary,
            description=description,
            meta=meta,
        )
        return await self._open(body, view)

    async def _open_note_form(self, body: Mapping[str, Any], ref: str) -> bool:
        container = _dict(body, "container")
        meta = {"channel": _str(container, "channel_id") or _str(_dict(body, "channel"), "id")}
        thread = _str(container, "thread_ts") or _str(_dict(body, "message"), "thread_ts")
        if thread:
            meta["thread"] = thread
        return await self._open(body, note_form(ref, meta={k: v for k, v in meta.items() if v}))

    async def _open(self, body: Mapping[str, Any], view: dict[str, Any]) -> bool:
        trigger = _str(body, "trigger_id")
        if not trigger:
            return False
        try:
            # The trigger expires after 3 s, and Slack stops waiting for our answer then too.
            async with asyncio.timeout(FORM_DEADLINE):
                await self._web().views_open(trigger_id=trigger, view=view)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as e:
            log.warning("slack.form_failed", error=_describe(e))
            return False
        return True

    async def _service_names(self) -> list[str]:
        expires, names = self._service_cache
        if self._services is None or time.monotonic() < expires:
            return names
        try:
            names = await self._services()
        except Exception as e:  # the form works without a service picker
            log.warning("slack.services_failed", error=type(e).__name__)
            return names
        self._service_cache = (time.monotonic() + self.services_ttl, names)
        return names

    # -- Socket Mode ----------------------------------------------------------------------

    @property
    def polls(self) -> bool:
        return bool(self._app_token)

    async def run(self, ingest: Ingest, stop: asyncio.Event) -> None:
        """Receive events over Socket Mode until `stop` is set (only with an app token)."""
        if not self._app_token:
            return
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        self._ingest = ingest
        if self._bolt is None:
            await self.start()
        assert self._bolt is not None
        delay = 1.0
        while not stop.is_set():
            handler = AsyncSocketModeHandler(
                self._bolt, app_token=self._app_token, web_client=self._client
            )
            try:
                await handler.connect_async()  # type: ignore[no-untyped-call]
                log.info("slack.socket_connected")
                delay = 1.0
                await stop.wait()
            except Exception as e:
                log.warning("slack.socket_failed", error=_describe(e), retry_in=delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(delay * 2, 60.0)
            finally:
                with contextlib.suppress(Exception):
                    await handler.close_async()  # type: ignore[no-untyped-call]
        log.info("slack.socket_closed")

    # -- profiles -------------------------------------------------------------------------

    async def profile(self, identity: Identity) -> Identity:
        """The sender with their workspace email and name (`users.info`, cached)."""
        if identity.platform != PLATFORM:
            return identity
        now = time.monotonic()
        cached = self._profiles.get(identity.external_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self._web().users_info(user=identity.external_id)
        user = found.get("user") or {}
        prof = user.get("profile") or {}
        email = prof.get("email") if isinstance(prof.get("email"), str) else None
        if user.get("is_bot") or user.get("deleted") or user.get("is_email_confirmed") is False:
            email = None
        name = next(
            (
                v
                for v in (prof.get("real_name"), prof.get("display_name"), user.get("name"))
                if isinstance(v, str) and v.strip()
            ),
            None,
        )
        known = replace(
            identity,
            email=email or identity.email,
            display_name=name or identity.display_name,
        )
        self._profiles[identity.external_id] = (now + self.profile_ttl, known)
        if len(self._profiles) > 10_000:
            self._profiles.pop(next(iter(self._profiles)))
        return known

    # -- outbound -------------------------------------------------------------------------

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Post, update or publish one reply; `DeliveryError` says how to retry."""
        if reply.overview:
            return await self._publish_home(address, reply)
        channel, thread = address.conversation, address.thread
        shared = is_shared(channel)
        if shared and thread is None and address.user and reply.edit_id is None:
            # An answer to a click on a channel card is the clicker's business: their DM.
            channel = address.user
        body = render(reply, now=datetime.now(UTC), editor=address.user or None, shared=shared)
        if reply.edit_id:
            return await self._update(channel, thread, reply, body)
        return await self._post(channel, thread, reply.delivery_key, body)

    async def _publish_home(self, address: Address, reply: Reply) -> Delivery:
        if not address.user:
            raise DeliveryError("an overview needs a user", platform=PLATFORM, permanent=True)
        view = render_home(reply, now=datetime.now(UTC))
        try:
            found = await self._web().views_publish(user_id=address.user, view=view)
        except SlackApiError as e:
            raise self._refused(e, "views.publish") from e
        except (aiohttp.ClientError, TimeoutError) as e:
            # Publishing is idempotent: a repeat only draws the same Home again.
            raise DeliveryError(_describe(e), platform=PLATFORM) from e
        return Delivery(external_id=str((found.get("view") or {}).get("id") or ""))

    async def _update(
        self, channel: str, thread: str | None, reply: Reply, body: dict[str, Any]
    ) -> Delivery:
        target, _, ts = (reply.edit_id or "").rpartition(":")
        if not ts:
            raise DeliveryError("nothing to update", platform=PLATFORM, permanent=True)
        target = target or channel
        key = (target, ts)
        state = card_state(reply)
        if state is not None and self._shown.get(key) == state:
            # Another reply already drew this very card state here (the approver's answer
            # and the approvals announcement both update one channel card).
            return Delivery(external_id=f"{target}:{ts}", detail="unchanged")
        if state is not None:
            self._remember_shown(key, state)
        try:
            await self._web().chat_update(channel=target, ts=ts, **body)
        except SlackApiError as e:
            self._shown.pop(key, None)
            if _error(e) in _GONE:
                log.info("slack.update_gone", error=_error(e))
                return await self._post(channel, thread, reply.delivery_key, body)
            raise self._refused(e, "chat.update") from e
        except (aiohttp.ClientError, TimeoutError) as e:
            self._shown.pop(key, None)
            # Updating is idempotent, so a plain retry is safe.
            raise DeliveryError(_describe(e), platform=PLATFORM) from e
        return Delivery(external_id=f"{target}:{ts}")

    def _remember_shown(self, key: tuple[str, str], state: tuple[str, ...]) -> None:
        self._shown[key] = state
        self._shown.move_to_end(key)
        while len(self._shown) > 2000:
            self._shown.popitem(last=False)

    async def _post(
        self, channel: str, thread: str | None, key: str | None, body: dict[str, Any]
    ) -> Delivery:
        if key and key in self._uncertain:
            earlier = await self._find_posted(channel, thread, key)
            if earlier is not None:
                self._uncertain.pop(key, None)
                return Delivery(external_id=earlier, detail="found after an uncertain attempt")
        args: dict[str, Any] = {
            "channel": channel,
            "unfurl_links": False,
            "unfurl_media": False,
            **body,
        }
        if thread:
            args["thread_ts"] = thread
        if key:
            args["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"key": key}}
        try:
            try:
                posted = await self._web().chat_postMessage(**args)
            except SlackApiError as e:
                if _error(e) != "not_in_channel" or not channel.startswith("C"):
                    raise
                # Announcement channels: join once (public channels only) and post again.
                await self._web().conversations_join(channel=channel)
                posted = await self._web().chat_postMessage(**args)
        except SlackApiError as e:
            if _status(e) >= 500 or _error(e) in _UNCERTAIN:
                return await self._settle(channel, thread, key, e)
            raise self._refused(e, "chat.postMessage") from e
        except aiohttp.ClientConnectorError as e:
            # No connection was made, so nothing was posted.
            raise DeliveryError(_describe(e), platform=PLATFORM) from e
        except (aiohttp.ClientError, TimeoutError) as e:
            return await self._settle(channel, thread, key, e)
        if key:
            self._uncertain.pop(key, None)
        return Delivery(external_id=f"{posted.get('channel') or channel}:{posted.get('ts')}")

    async def _settle(
        self, channel: str, thread: str | None, key: str | None, error: BaseException
    ) -> Delivery:
        """After an attempt that may have posted: find it, or retry only if it did not."""
        log.warning("slack.post_uncertain", error=_describe(error))
        if not key:
            raise DeliveryError(_describe(error), platform=PLATFORM, ambiguous=True) from error
        earlier = await self._find_posted(channel, thread, key)
        if earlier is not None:
            return Delivery(external_id=earlier, detail="found after an uncertain attempt")
        self._uncertain[key] = None
        while len(self._uncertain) > 10_000:
            self._uncertain.popitem(last=False)
        # Not there (yet): the next attempt looks again before posting.
        raise DeliveryError(_describe(error), platform=PLATFORM) from error

    async def _find_posted(self, channel: str, thread: str | None, key: str) -> str | None:
        """Our message carrying `key` in the conversation's recent history, if any.

        When the history cannot be read, the reply is marked ambiguous rather than posted
        a second time.
        """
        web = self._web()
        oldest = f"{time.time() - 900:.6f}"
        try:
            if channel[:1] in ("U", "W"):
                opened = await web.conversations_open(users=channel)
                channel = str((opened.get("channel") or {}).get("id") or channel)
            if thread:
                found = await web.conversations_replies(
                    channel=channel, ts=thread, oldest=oldest, limit=200, include_all_metadata=True
                )
            else:
                found = await web.conversations_history(
                    channel=channel, oldest=oldest, limit=100, include_all_metadata=True
                )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as e:
            raise DeliveryError(
                f"cannot tell whether an uncertain post arrived: {_describe(e)}",
                platform=PLATFORM,
                ambiguous=True,
            ) from e
        for message in found.get("messages") or ():
            meta = message.get("metadata") or {}
            if (meta.get("event_payload") or {}).get("key") == key:
                return f"{channel}:{message.get('ts')}"
        return None

    def _refused(self, e: SlackApiError, method: str) -> DeliveryError:
        error, status = _error(e), _status(e)
        if status == 429 or error == "ratelimited":
            headers = getattr(e.response, "headers", None) or {}
            retry_after = _retry_after(headers.get("Retry-After") or headers.get("retry-after"))
            return DeliveryError(
                f"{method}: rate limited", platform=PLATFORM, retry_after=retry_after
            )
        permanent = error in _PERMANENT or status in (400, 401, 403, 404)
        return DeliveryError(f"{method}: {error or status}", platform=PLATFORM, permanent=permanent)


def _error(e: SlackApiError) -> str:
    data = getattr(e.response, "data", None)
    return str(data.get("error") or "") if isinstance(data, Mapping) else ""


def _status(e: SlackApiError) -> int:
    status = getattr(e.response, "status_code", 0)
    return status if isinstance(status, int) else 0


def _retry_after(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 1.0
    return min(max(seconds, 1.0), 3600.0)


def _describe(e: BaseException) -> str:
    if isinstance(e, SlackApiError):
        return f"SlackApiError({_error(e) or _status(e)})"
    return type(e).__name__
