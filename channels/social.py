"""X (Twitter): public mentions and direct messages, through tweepy's `AsyncClient`.

Mentions are polled (`GET /2/users/:id/mentions` from the stored `since_id`) and may also be
pushed by the Account Activity webhook at `/x/webhook`; direct messages arrive the same two
ways. Both paths produce the same event ids (`tweet:<id>`, `dm:<id>`), so the inbox keeps one
copy whichever arrives first.

Every X user has one conversation with us, `Address(conversation="dm:<user id>")`, whether
they wrote in public or by DM: a question asked after a public complaint goes by DM, and the
DM that answers it lands in the same dialogue. Replies go by DM. A public complaint gets one
short public reply, composed here from the ticket reference alone (never a name, email,
phone or the complaint's words): an accepted mention leaves a durable "awaiting a public
answer" mark for its author, and the first reply about a ticket within `public_window`
seconds answers that tweet in public and takes the mark. Later updates about the ticket go
by DM only, so a thread gets one public reply, not one per status change.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import html
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import structlog
import tweepy
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from tweepy.asynchronous import AsyncClient

from channels.base import (
    ConfigurationError,
    Cursors,
    Delivery,
    DeliveryError,
    Ingest,
    IngestOutcome,
    PayloadError,
    SignatureError,
)
from channels.conversation import Address, Identity, Message, Reply

log = structlog.get_logger(__name__)

PLATFORM = "x"
DEFAULT_API_URL = "https://api.twitter.com"
SIGNATURE_HEADER = "x-twitter-webhooks-signature"
TWEET_LIMIT = 280
DM_LIMIT = 10_000
MAX_CRC_TOKEN = 1_000
PUBLIC_TEXT = (
    "Thanks for telling us. We're tracking this as {ref} and have sent you the details by DM; "
    "if it didn't arrive, please send us a DM."
)

SINCE_KEY = "x.mentions.since_id"
MENTIONS_START_KEY = "x.mentions.start"
DM_LAST_KEY = "x.dm.last_id"
DM_START_KEY = "x.dm.start"

_ID = re.compile(r"[0-9]{1,25}")
_REF = re.compile(r"(?:INC|REQ|PRB|CHG)-[0-9]{1,9}")
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w{1,15}[,:]?)+(?:\s+|$)")
_TWEET_FIELDS = [
    "author_id",
    "conversation_id",
    "created_at",
    "entities",
    "in_reply_to_user_id",
    "referenced_tweets",
]
_DM_FIELDS = ["id", "event_type", "text", "sender_id", "dm_conversation_id", "created_at"]
_USER_FIELDS = ["username", "name"]


# -- signatures ---------------------------------------------------------------------------


def _hmac(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def crc_response(consumer_secret: str, crc_token: str) -> dict[str, str]:
    """The answer to X's challenge-response check (`GET /x/webhook?crc_token=...`)."""
    if not consumer_secret:
        raise SignatureError("no X consumer secret configured", platform=PLATFORM)
    return {"response_token": _hmac(consumer_secret, crc_token.encode())}


def verify(raw: bytes, headers: Mapping[str, str], consumer_secret: str) -> None:
    """Check `x-twitter-webhooks-signature` against the raw body; `SignatureError` if wrong.

    Fails closed: without a consumer secret no request is accepted.
    """
    if not consumer_secret:
        raise SignatureError("no X consumer secret configured", platform=PLATFORM)
    given = headers.get(SIGNATURE_HEADER)
    if not given:
        raise SignatureError("missing x-twitter-webhooks-signature", platform=PLATFORM)
    expected = _hmac(consumer_secret, raw)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise SignatureError("invalid x-twitter-webhooks-signature", platform=PLATFORM)


# -- parsing ------------------------------------------------------------------------------


def _id(value: Any) -> str | None:
    """A platform id as a string of digits, or None (ids arrive as numbers or strings)."""
    if isinstance(value, bool):
        return None
    text = str(value) if isinstance(value, int | str) else ""
    return text if _ID.fullmatch(text) else None


def _newer(a: str | None, b: str | None) -> bool:
    """True when snowflake id `a` is newer than `b` (None is older than everything)."""
    if a is None:
        return False
    return b is None or int(a) > int(b)


def _clean(text: Any) -> str:
    """Tweet text for the NLU: entities unescaped, the leading run of @handles dropped."""
    if not isinstance(text, str):
        return ""
    return _LEADING_MENTIONS.sub("", html.unescape(text), count=1).strip()


def _time(value: Any) -> datetime:
    """v2 ISO times, v1.1 `Mon May 19 14:01:46 +0000 2025`, or epoch milliseconds."""
    with contextlib.suppress(TypeError, ValueError, OverflowError, OSError):
        if isinstance(value, str) and value.isdigit():
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        if isinstance(value, str) and "T" in value:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if isinstance(value, str):
            return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    return datetime.now(UTC)


def _message(
    *, event_id: str, user: str, handle: Any, text: str, at: datetime, attachments: Sequence[str]
) -> Message:
    name = f"@{handle}" if isinstance(handle, str) and handle else None
    return Message(
        event_id=event_id,
        address=Address(channel=PLATFORM, conversation=f"dm:{user}", user=user),
        sender=Identity(platform=PLATFORM, external_id=user, display_name=name),
        text=text,
        received_at=at,
        direct=True,
        attachments=tuple(attachments),
    )


def tweet_id(message: Message) -> str | None:
    """The tweet behind a mention event (None for a direct message)."""
    kind, _, value = message.event_id.partition(":")
    return value if kind == "tweet" else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _v1_mentions(tweet: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for source in (tweet, _mapping(tweet.get("extended_tweet"))):
        for m in _items(_mapping(source.get("entities")).get("user_mentions")):
            if (uid := _id(m.get("id_str") or m.get("id"))) is not None:
                found.add(uid)
    return found


def _v1_tweet(tweet: Mapping[str, Any], account_id: str) -> Message | None:
    tid = _id(tweet.get("id_str") or tweet.get("id"))
    user = _mapping(tweet.get("user"))
    author = _id(user.get("id_str") or user.get("id"))
    if tid is None or author is None or author == account_id:
        return None
    if "retweeted_status" in tweet:
        return None
    replying_to_us = _id(tweet.get("in_reply_to_user_id_str")) == account_id
    if account_id not in _v1_mentions(tweet) and not replying_to_us:
        return None
    extended = _mapping(tweet.get("extended_tweet"))
    text = extended.get("full_text") if tweet.get("truncated") else tweet.get("text")
    return _message(
        event_id=f"tweet:{tid}",
        user=author,
        handle=user.get("screen_name"),
        text=_clean(text or tweet.get("text")),
        at=_time(tweet.get("created_at")),
        attachments=(),
    )


def _v1_direct_message(
    event: Mapping[str, Any], account_id: str, users: Mapping[str, Any]
) -> Message | None:
    if event.get("type") != "message_create":
        return None
    eid = _id(event.get("id"))
    create = _mapping(event.get("message_create"))
    sender = _id(create.get("sender_id"))
    if eid is None or sender is None or sender == account_id:
        return None
    data = _mapping(create.get("message_data"))
    return _message(
        event_id=f"dm:{eid}",
        user=sender,
        handle=_mapping(users.get(sender)).get("screen_name"),
        text=html.unescape(str(data.get("text") or "")).strip(),
        at=_time(event.get("created_timestamp")),
        attachments=(),
    )


def parse_activity(payload: Any, *, account_id: str | None = None) -> list[Message]:
    """Mentions and direct messages in an Account Activity webhook body.

    Events of another subscribed account than `account_id` (when known), our own tweets and
    DMs, retweets, tweets that do not mention us and mentions by people the account blocked
    are left out; so are typing indicators, read receipts and deletions.
    """
    if not isinstance(payload, Mapping):
        raise PayloadError("the webhook body must be a JSON object", platform=PLATFORM)
    owner = _id(payload.get("for_user_id"))
    if owner is None or (account_id is not None and owner != account_id):
        return []
    events: list[Message] = []
    if str(payload.get("user_has_blocked", "false")).lower() != "true":
        for tweet in _items(payload.get("tweet_create_events")):
            if (msg := _v1_tweet(tweet, owner)) is not None:
                events.append(msg)
    users = _mapping(payload.get("users"))
    for event in _items(payload.get("direct_message_events")):
        if (msg := _v1_direct_message(event, owner, users)) is not None:
            events.append(msg)
    return events


def _users(page: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    users = _items(_mapping(page.get("includes")).get("users"))
    return {str(u.get("id")): u for u in users}


def parse_mentions(page: Mapping[str, Any], *, account_id: str) -> list[Message]:
    """Mentions in a `GET /2/users/:id/mentions` page (our own tweets and retweets left out)."""
    if not isinstance(page, Mapping):
        raise PayloadError("a mentions page must be a JSON object", platform=PLATFORM)
    users = _users(page)
    events: list[Message] = []
    for tweet in _items(page.get("data")):
        tid, author = _id(tweet.get("id")), _id(tweet.get("author_id"))
        if tid is None or author is None or author == account_id:
            continue
        refs = _items(tweet.get("referenced_tweets"))
        if any(r.get("type") == "retweeted" for r in refs):
            continue
        events.append(
            _message(
                event_id=f"tweet:{tid}",
                user=author,
                handle=_mapping(users.get(author)).get("username"),
                text=_clean(tweet.get("text")),
                at=_time(tweet.get("created_at")),
                attachments=(),
            )
        )
    return events


def parse_dm_events(page: Mapping[str, Any], *, account_id: str) -> list[Message]:
    """Messages people sent us in a `GET /2/dm_events` page (one-to-one conversations only)."""
    if not isinstance(page, Mapping):
        raise PayloadError("a DM events page must be a JSON object", platform=PLATFORM)
    users = _users(page)
    events: list[Message] = []
    for event in _items(page.get("data")):
        if event.get("event_type") != "MessageCreate":
            continue
        eid, sender = _id(event.get("id")), _id(event.get("sender_id"))
        conversation = str(event.get("dm_conversation_id") or "")
        if eid is None or sender is None or sender == account_id:
            continue
        # One-to-one conversation ids are "<id>-<id>"; a group chat is not where we help.
        if sorted(conversation.split("-")) != sorted([sender, account_id]):
            continue
        events.append(
            _message(
                event_id=f"dm:{eid}",
                user=sender,
                handle=_mapping(users.get(sender)).get("username"),
                text=html.unescape(str(event.get("text") or "")).strip(),
                at=_time(event.get("created_at")),
                attachments=(),
            )
        )
    return events


# -- rendering ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    """A reply as X shows it: at most one public reply to the person's tweet, and a DM.

    `public` is the text of the public reply, when the reply may have one; `direct` the DM.
    With `direct_always` false the DM is only the fallback for when there is no tweet to
    answer in public (a reply a handler wrote for the public).
    """

    public: str | None
    direct: str
    direct_always: bool = True


def tweet_length(text: str) -> int:
    """X's weighted length: Latin and common punctuation count 1, everything else 2."""
    return sum(
        1
        if o <= 0x10FF or 0x2000 <= o <= 0x200D or 0x2010 <= o <= 0x201F or 0x2032 <= o <= 0x2037
        else 2
        for o in map(ord, text)
    )


def clip_tweet(text: str, limit: int = TWEET_LIMIT) -> str:
    """`text` shortened to fit one tweet, ending in an ellipsis when cut."""
    text = text.strip()
    if tweet_length(text) <= limit:
        return text
    out: list[str] = []
    used = tweet_length("…")
    for ch in text:
        used += tweet_length(ch)
        if used > limit:
            break
        out.append(ch)
    return "".join(out).rstrip() + "…"


def public_text(ticket_ref: str) -> str | None:
    """The public reply about a ticket: its reference and an invitation to DM, nothing else."""
    ref = ticket_ref.strip().upper()
    return PUBLIC_TEXT.format(ref=ref) if _REF.fullmatch(ref) else None


def render(reply: Reply) -> Rendered:
    """Split a reply into what may be said in public and what goes by DM.

    Buttons become numbered choices in the DM (X's API v2 DMs have no buttons); a person
    answers by typing the number or keyword.
    """
    direct = reply.fallback_text().strip()
    if len(direct) > DM_LIMIT:
        direct = direct[: DM_LIMIT - 1].rstrip() + "…"
    if reply.public and reply.text.strip():
        return Rendered(public=clip_tweet(reply.text), direct=direct, direct_always=False)
    if reply.ticket_ref and (public := public_text(reply.ticket_ref)) is not None:
        return Rendered(public=public, direct=direct)
    return Rendered(public=None, direct=direct)


# -- the base URL ---------------------------------------------------------------------------


def base_url_middleware(api_url: str) -> aiohttp.ClientMiddlewareType:
    """An aiohttp middleware sending tweepy's `https://api.twitter.com` requests to `api_url`.

    tweepy hard-codes the host; the path, query and OAuth signature stay as tweepy made them,
    so a proxy that forwards to X keeps the signature valid.
    """
    target = urlsplit(api_url)
    if target.scheme not in ("http", "https") or not target.hostname:
        raise ConfigurationError(f"X_API_URL must be an http(s) URL, not {api_url!r}")
    scheme, host, port = target.scheme, target.hostname, target.port
    source = urlsplit(DEFAULT_API_URL).hostname

    async def rebase(
        req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if req.url.host == source:
            req.url = req.url.with_scheme(scheme).with_host(host).with_port(port)
            req.headers["Host"] = req.url.host_port_subcomponent or host
        return await handler(req)

    return rebase


# -- polling schedule -----------------------------------------------------------------------


def poll_delay(
    *,
    interval: float,
    failures: int,
    reset_time: float | None = None,
    rate_limited: bool = False,
    now: float | None = None,
    cap: float = 900.0,
) -> float:
    """Seconds until the next poll.

    After a 429, until the advertised reset plus a second (X's clock counts whole seconds),
    or exponential back-off when no reset was given; after other failures, exponential
    back-off from the interval. Always at least the interval, never more than `cap`.
    """
    backoff = interval * 2 ** max(failures - 1, 0) if failures else interval
    if rate_limited and reset_time is not None:
        now = time.time() if now is None else now
        wait = max(reset_time - now + 1.0, interval)
    else:
        wait = backoff
    return min(max(wait, interval), max(cap, interval))


# -- errors ---------------------------------------------------------------------------------


def reset_time(error: tweepy.TooManyRequests) -> int | None:
    """When X's rate-limit window ends (Unix seconds), from tweepy or the response header."""
    if error.reset_time is not None:
        return int(error.reset_time)
    with contextlib.suppress(TypeError, ValueError, AttributeError, KeyError):
        return int(error.response.headers["x-rate-limit-reset"])
    return None


def _reset_after(error: tweepy.TooManyRequests) -> float:
    reset = reset_time(error)
    if reset is None:
        return 60.0
    return max(reset - time.time(), 0.0) + 1.0


def _not_sent(error: BaseException) -> bool:
    """True when the request never left (refused connection, connect timeout)."""
    return isinstance(error, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError)


def _is_duplicate(error: tweepy.HTTPException) -> bool:
    said = " ".join(str(m) for m in (*error.api_messages, str(error))).lower()
    return "duplicate" in said or 187 in error.api_codes


def _refused(error: tweepy.HTTPException, what: str) -> DeliveryError:
    """A platform answer that is not a success, as the dispatcher's retry instruction."""
    status = getattr(error.response, "status", None)
    detail = f"{what} refused with HTTP {status}"
    if isinstance(error, tweepy.TooManyRequests):
        return DeliveryError(detail, platform=PLATFORM, retry_after=_reset_after(error))
    if isinstance(error, tweepy.Forbidden | tweepy.BadRequest | tweepy.NotFound):
        # DMs closed, blocked, duplicate content, no such user: resending cannot help.
        return DeliveryError(detail, platform=PLATFORM, permanent=True)
    return DeliveryError(detail, platform=PLATFORM)


def _failed(error: BaseException, what: str) -> DeliveryError:
    """A transport failure: retry if the request never left, else it may have arrived."""
    if _not_sent(error):
        return DeliveryError(f"{what} not sent: {type(error).__name__}", platform=PLATFORM)
    return DeliveryError(
        f"{what} may have been sent: {type(error).__name__}", platform=PLATFORM, ambiguous=True
    )


_TRANSPORT = (aiohttp.ClientError, TimeoutError)


# -- the channel ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Account:
    """The X account the bot speaks as."""

    id: str
    username: str


@dataclass(frozen=True, slots=True)
class _Claim:
    tweet_id: str
    previous: str


@dataclass
class _Source:
    name: str
    interval: float
    poll: Callable[[Ingest], Awaitable[int]]
    due: float = 0.0
    failures: int = 0


class XChannel:
    """Mentions and DMs in; DMs and one public reply per complaint out.

    Credentials are either the four OAuth 1.0a user-context keys, or an OAuth 2.0 user access
    token as `bearer_token`. The consumer secret also verifies the webhook.
    """

    name: ClassVar[str] = PLATFORM
    platforms: ClassVar[tuple[str, ...]] = (PLATFORM,)

    def __init__(
        self,
        *,
        cursors: Cursors,
        bearer_token: str | None = None,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        access_token: str | None = None,
        access_token_secret: str | None = None,
        api_url: str = DEFAULT_API_URL,
        poll_interval: float = 60.0,
        dm_poll_interval: float = 60.0,
        timeout: float = 20.0,
        max_backoff: float = 900.0,
        public_window: float = 86_400.0,
        backfill: float = 900.0,
        page_size: int = 100,
        max_pages: int = 50,
    ) -> None:
        self._user_auth = all([consumer_key, consumer_secret, access_token, access_token_secret])
        if not self._user_auth and (access_token or access_token_secret or not bearer_token):
            raise ConfigurationError(
                "X needs all four of X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN and "
                "X_ACCESS_TOKEN_SECRET, or an OAuth 2.0 user access token in X_BEARER_TOKEN",
                platform=PLATFORM,
            )
        self._keys = (
            bearer_token,
            consumer_key,
            consumer_secret,
            access_token,
            access_token_secret,
        )
        self._webhook_secret = consumer_secret or ""
        self._middleware = base_url_middleware(api_url)
        self._rebased = api_url.rstrip("/") != DEFAULT_API_URL
        self.cursors = cursors
        self.poll_interval = poll_interval
        self.dm_poll_interval = dm_poll_interval
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.public_window = public_window
        self.backfill = backfill
        self.page_size = max(5, min(page_size, 100))
        self.max_pages = max_pages
        self._client: AsyncClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._account: Account | None = None
        self._account_lock = asyncio.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the one aiohttp session every tweepy call shares (inside the running loop)."""
        if self._session is not None:
            return
        self._session = aiohttp.ClientSession(
            middlewares=(self._middleware,) if self._rebased else (),
            timeout=aiohttp.ClientTimeout(total=self.timeout, connect=min(self.timeout, 10.0)),
        )
        bearer, ck, cs, at, ats = self._keys
        client = AsyncClient(
            bearer_token=bearer,
            consumer_key=ck,
            consumer_secret=cs,
            access_token=at,
            access_token_secret=ats,
            return_type=dict,
            wait_on_rate_limit=False,
        )
        client.session = self._session
        self._client = client

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None
        self._client = None

    def _api(self) -> AsyncClient:
        if self._client is None:
            raise RuntimeError("XChannel used before start()")
        return self._client

    async def account(self) -> Account:
        """Our own account (`GET /2/users/me`), asked once and kept."""
        if self._account is not None:
            return self._account
        async with self._account_lock:
            if self._account is None:
                found = _mapping((await self._api().get_me(user_auth=self._user_auth)).get("data"))
                uid = _id(found.get("id"))
                if uid is None:
                    raise PayloadError("GET /2/users/me gave no user id", platform=PLATFORM)
                self._account = Account(id=uid, username=str(found.get("username") or ""))
                log.info("x.account", account_id=uid)
        return self._account

    # -- webhook ----------------------------------------------------------------------------

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        async def challenge(request: Request) -> Response:
            # Touches nothing but the secret, so X's hourly check passes while the store is down.
            token = request.query_params.get("crc_token", "")
            if not token or len(token) > MAX_CRC_TOKEN:
                raise PayloadError("crc_token is required", platform=PLATFORM)
            return JSONResponse(crc_response(self._webhook_secret, token))

        async def activity(request: Request) -> Response:
            raw = await request.body()
            verify(raw, request.headers, self._webhook_secret)
            try:
                payload = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as e:
                raise PayloadError("the webhook body is not JSON", platform=PLATFORM) from e
            known = self._account.id if self._account is not None else None
            counts = {"accepted": 0, "duplicate": 0}
            for event in parse_activity(payload, account_id=known):
                outcome = await self._ingest(ingest, event)
                counts[outcome.value] += 1
            return JSONResponse(counts)

        return [
            Route("/x/webhook", challenge, methods=["GET"], name="x-crc"),
            Route("/x/webhook", activity, methods=["POST"], name="x-webhook"),
        ]

    async def _ingest(self, ingest: Ingest, event: Message) -> IngestOutcome:
        tid = tweet_id(event)
        if tid is not None:
            # Marked before the inbox has it, so the reply cannot overtake the mark.
            try:
                await self._await_public_answer(event.address.user, tid)
            except Exception as e:
                log.warning("x.public_mark_failed", tweet_id=tid, error=repr(e))
        outcome = await ingest(event)
        log.info("x.event", event_id=event.event_id, outcome=outcome.value)
        return outcome

    # -- polling ----------------------------------------------------------------------------

    @property
    def polls(self) -> bool:
        return True

    async def run(self, ingest: Ingest, stop: asyncio.Event) -> None:
        """Poll mentions (and DMs, when `dm_poll_interval` > 0) until `stop` is set.

        A 429 waits for the advertised reset, other failures back off exponentially, both
        capped at `max_backoff`; a failed poll never moves a cursor, so nothing is skipped.
        """
        sources = [_Source("mentions", self.poll_interval, self.poll_mentions)]
        if self.dm_poll_interval > 0:
            sources.append(_Source("dms", self.dm_poll_interval, self.poll_direct_messages))
        log.info("x.polling", sources=[s.name for s in sources])
        while not stop.is_set():
            for source in sources:
                if time.monotonic() >= source.due and not stop.is_set():
                    source.due = time.monotonic() + await self._poll_once(source, ingest)
            wait = min(s.due for s in sources) - time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.01))

    async def _poll_once(self, source: _Source, ingest: Ingest) -> float:
        try:
            count = await source.poll(ingest)
        except tweepy.TooManyRequests as e:
            source.failures += 1
            delay = poll_delay(
                interval=source.interval,
                failures=source.failures,
                reset_time=reset_time(e),
                rate_limited=True,
                cap=self.max_backoff,
            )
            log.warning("x.poll_rate_limited", source=source.name, retry_in=round(delay, 1))
            return delay
        except Exception as e:
            source.failures += 1
            delay = poll_delay(
                interval=source.interval, failures=source.failures, cap=self.max_backoff
            )
            log.warning(
                "x.poll_failed", source=source.name, error=repr(e), retry_in=round(delay, 1)
            )
            return delay
        source.failures = 0
        if count:
            log.info("x.polled", source=source.name, count=count)
        return source.interval

    async def _start_time(self, key: str) -> str:
        """Where the first poll starts: `backfill` seconds before the channel first ran.

        Older mentions and DMs predate the deployment and are not answered; the short
        backfill covers what arrived while the first release was rolling out.
        """
        found = await self.cursors.get(key)
        if found:
            return found
        start = datetime.fromtimestamp(int(time.time() - self.backfill), UTC)
        value = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        await self.cursors.set(key, value)
        return value

    async def poll_mentions(self, ingest: Ingest) -> int:
        """Ingest every mention newer than the stored `since_id`, then move it.

        All pages are fetched and every mention ingested before `since_id` moves; a failure
        on the way leaves it where it was, and the inbox drops what is seen again.
        """
        me = await self.account()
        since = await self.cursors.get(SINCE_KEY)
        params: dict[str, Any] = {
            "max_results": self.page_size,
            "expansions": ["author_id"],
            "tweet_fields": _TWEET_FIELDS,
            "user_fields": _USER_FIELDS,
            "user_auth": self._user_auth,
        }
        if since:
            params["since_id"] = since
        else:
            params["start_time"] = await self._start_time(MENTIONS_START_KEY)
        newest: str | None = None
        found: list[Message] = []
        token: str | None = None
        for _ in range(self.max_pages):
            page = await self._api().get_users_mentions(me.id, pagination_token=token, **params)
            meta = _mapping(page.get("meta"))
            newest = newest or _id(meta.get("newest_id"))
            found.extend(parse_mentions(page, account_id=me.id))
            token = meta.get("next_token") or None
            if token is None:
                break
        else:
            raise RuntimeError(f"mentions still paging after {self.max_pages} pages")
        for event in sorted(found, key=lambda m: int(tweet_id(m) or 0)):
            await self._ingest(ingest, event)
        if _newer(newest, since):
            await self.cursors.set(SINCE_KEY, newest or "")
        return len(found)

    async def poll_direct_messages(self, ingest: Ingest) -> int:
        """Ingest DMs people sent since the last one seen (`GET /2/dm_events`, newest first)."""
        me = await self.account()
        last = await self.cursors.get(DM_LAST_KEY)
        start = None if last else _time(await self._start_time(DM_START_KEY))
        newest: str | None = None
        found: list[Message] = []
        token: str | None = None
        for _ in range(self.max_pages):
            page = await self._api().get_direct_message_events(
                event_types="MessageCreate",
                dm_event_fields=_DM_FIELDS,
                expansions=["sender_id"],
                user_fields=_USER_FIELDS,
                max_results=self.page_size,
                pagination_token=token,
                user_auth=self._user_auth,
            )
            data = _items(page.get("data"))
            ids = [i for i in (_id(d.get("id")) for d in data) if i is not None]
            for i in ids:
                if _newer(i, newest):
                    newest = i
            found.extend(parse_dm_events(page, account_id=me.id))
            older = [_time(d.get("created_at")) for d in data]
            reached = (last is not None and any(not _newer(i, last) for i in ids)) or (
                start is not None and any(t < start for t in older)
            )
            token = _mapping(page.get("meta")).get("next_token") or None
            if reached or token is None:
                break
        fresh = [
            m
            for m in found
            if _newer(m.event_id.partition(":")[2], last)
            and (start is None or m.received_at >= start)
        ]
        for event in sorted(fresh, key=lambda m: int(m.event_id.partition(":")[2])):
            await self._ingest(ingest, event)
        if _newer(newest, last):
            await self.cursors.set(DM_LAST_KEY, newest or "")
        return len(fresh)

    # -- the public answer mark ---------------------------------------------------------------

    @staticmethod
    def _pending_key(user: str) -> str:
        return f"x.public.{user}"

    @staticmethod
    def _answered_key(user: str) -> str:
        return f"x.answered.{user}"

    async def _await_public_answer(self, user: str, tid: str) -> None:
        current = await self.cursors.get(self._pending_key(user))
        if current and not _newer(tid, current.partition(" ")[0]):
            return
        await self.cursors.set(self._pending_key(user), f"{tid} {int(time.time())}")

    async def _claim_public(self, user: str) -> _Claim | None:
        """Take the person's tweet awaiting a public answer, if one is recent enough."""
        pending = await self.cursors.get(self._pending_key(user))
        if not pending:
            return None
        tid, _, seen = pending.partition(" ")
        answered = await self.cursors.get(self._answered_key(user)) or ""
        if _id(tid) is None or not _newer(tid, answered or None):
            return None
        try:
            age = time.time() - float(seen)
        except ValueError:
            return None
        if age > self.public_window:
            return None
        # Taken before posting: a crash after the post can cost the answer, never repeat it.
        await self.cursors.set(self._answered_key(user), tid)
        return _Claim(tweet_id=tid, previous=answered)

    async def _release(self, user: str, claim: _Claim) -> None:
        try:
            await self.cursors.set(self._answered_key(user), claim.previous)
        except Exception as e:
            log.warning("x.public_release_failed", tweet_id=claim.tweet_id, error=repr(e))

    # -- sending ----------------------------------------------------------------------------

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Answer the person's tweet in public where the reply allows it, and DM the rest."""
        user = _id(address.user) or _id(address.conversation.partition(":")[2])
        if user is None:
            raise DeliveryError("no X user id to reply to", platform=PLATFORM, permanent=True)
        rendered = render(reply)
        posted: str | None = None
        if rendered.public is not None:
            claim = await self._claim_public(user)
            if claim is not None:
                posted = await self._post_public(
                    user, claim, rendered.public, strict=not rendered.direct_always
                )
        if posted is not None and not rendered.direct_always:
            return Delivery(external_id=posted or None, detail="public")
        if not rendered.direct:
            return Delivery(detail="public" if posted is not None else "empty")
        dm_id = await self._send_dm(user, rendered.direct)
        return Delivery(external_id=dm_id, detail="public+dm" if posted is not None else "dm")

    async def _post_public(
        self, user: str, claim: _Claim, text: str, *, strict: bool
    ) -> str | None:
        """Post the public reply; its id, "" when it may exist already, None when impossible.

        `strict` is for a reply that is only public: then a post that may have arrived is
        reported as ambiguous. Otherwise the DM still follows and the post is not retried.
        """
        try:
            answer = await self._api().create_tweet(
                text=text, in_reply_to_tweet_id=claim.tweet_id, user_auth=self._user_auth
            )
        except tweepy.Forbidden as e:
            if _is_duplicate(e):
                log.info("x.public_duplicate", tweet_id=claim.tweet_id)
                return ""
            log.warning("x.public_refused", tweet_id=claim.tweet_id, status=403)
            return None
        except (tweepy.BadRequest, tweepy.NotFound) as e:
            log.warning("x.public_refused", tweet_id=claim.tweet_id, error=str(e)[:200])
            return None
        except tweepy.HTTPException as e:
            await self._release(user, claim)
            raise _refused(e, "public reply") from e
        except _TRANSPORT as e:
            if _not_sent(e):
                await self._release(user, claim)
                raise _failed(e, "public reply") from e
            if strict:
                raise _failed(e, "public reply") from e
            log.warning("x.public_unknown", tweet_id=claim.tweet_id, error=type(e).__name__)
            return ""
        posted = str(_mapping(answer.get("data")).get("id") or "")
        log.info("x.public_reply", in_reply_to=claim.tweet_id, tweet_id=posted)
        return posted

    async def _send_dm(self, user: str, text: str) -> str | None:
        try:
            answer = await self._api().create_direct_message(
                participant_id=user, text=text, user_auth=self._user_auth
            )
        except tweepy.HTTPException as e:
            raise _refused(e, "direct message") from e
        except _TRANSPORT as e:
            raise _failed(e, "direct message") from e
        dm_id = _mapping(answer.get("data")).get("dm_event_id")
        return str(dm_id) if dm_id else None
