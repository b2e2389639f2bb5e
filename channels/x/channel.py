"""`XChannel`: the X adapter joining verify, parse, render, send, polling and the public mark."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import ClassVar

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
    MemoryPlatformState,
    PayloadError,
    PlatformStateStore,
)
from channels.conversation import Address, Message, Reply
from channels.x.parse import PLATFORM, Account, as_mapping, parse_activity, snowflake, tweet_id
from channels.x.polling import Poller
from channels.x.public import Claim, PublicAnswers
from channels.x.render import render
from channels.x.send import (
    DEFAULT_API_URL,
    TRANSPORT_ERRORS,
    base_url_middleware,
    failed,
    is_duplicate,
    not_sent,
    open_client,
    refused,
)
from channels.x.verify import MAX_CRC_TOKEN, crc_response, verify

log = structlog.get_logger(__name__)


def missing_credentials(
    *,
    bearer_token: str | None,
    consumer_key: str | None,
    consumer_secret: str | None,
    access_token: str | None,
    access_token_secret: str | None,
) -> tuple[str, ...]:
    """Names of the variables still to set for X to send and poll (empty when complete).

    `ConfigurationError` for a half-set OAuth 1.0a key set, which no missing name explains.
    """
    if all([consumer_key, consumer_secret, access_token, access_token_secret]):
        return ()
    if bearer_token and not (access_token or access_token_secret):
        return ()
    if consumer_secret and not (bearer_token or access_token or access_token_secret):
        # The webhook secret alone: enough for X's CRC check, nothing else yet.
        wanted = {
            "X_CONSUMER_KEY": consumer_key,
            "X_ACCESS_TOKEN": access_token,
            "X_ACCESS_TOKEN_SECRET": access_token_secret,
        }
        return tuple(name for name, value in wanted.items() if not value)
    raise ConfigurationError(
        "X needs all four of X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN and "
        "X_ACCESS_TOKEN_SECRET, or an OAuth 2.0 user access token in X_BEARER_TOKEN",
        platform=PLATFORM,
    )


class XChannel:
    """Mentions and DMs in; DMs and one public reply per complaint out.

    Credentials are either the four OAuth 1.0a user-context keys, or an OAuth 2.0 user access
    token as `bearer_token`. The consumer secret also verifies the webhook; with it alone the
    channel answers X's CRC check and refuses events with 503 until the rest is configured.
    `platform_state` keeps the public-reply marks (in memory when not given; `cursors` is
    still read for marks older releases kept there).
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
        platform_state: PlatformStateStore | None = None,
    ) -> None:
        self.missing = missing_credentials(
            bearer_token=bearer_token,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
        )
        if self.missing:
            log.warning("x.webhook_only", missing=list(self.missing))
        self._user_auth = all([consumer_key, consumer_secret, access_token, access_token_secret])
        self._keys = (
            bearer_token,
            consumer_key,
            consumer_secret,
            access_token,
            access_token_secret,
        )
        self._webhook_secret = consumer_secret or ""
        base_url_middleware(api_url)  # refuses a bad URL now rather than at start()
        self._api_url = api_url
        self.cursors = cursors
        self.timeout = timeout
        self.public = PublicAnswers(
            cursors, public_window, store=platform_state or MemoryPlatformState()
        )
        self.poller = Poller(
            api=self._api,
            account=self.account,
            cursors=cursors,
            accept=self._ingest,
            user_auth=self._user_auth,
            poll_interval=poll_interval,
            dm_poll_interval=dm_poll_interval,
            max_backoff=max_backoff,
            backfill=backfill,
            page_size=max(5, min(page_size, 100)),
            max_pages=max_pages,
        )
        self._client: AsyncClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._account: Account | None = None
        self._account_lock = asyncio.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the one aiohttp session every tweepy call shares (inside the running loop)."""
        if self._session is not None or self.missing:
            return
        self._session, self._client = open_client(
            self._keys, api_url=self._api_url, timeout=self.timeout
        )

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
        self._session = None
        self._client = None

    def _api(self) -> AsyncClient:
        if self.missing:
            raise ConfigurationError(
                "X is not fully configured: set " + ", ".join(self.missing), platform=PLATFORM
            )
        if self._client is None:
            raise RuntimeError("XChannel used before start()")
        return self._client

    async def account(self) -> Account:
        """Our own account (`GET /2/users/me`), asked once and kept."""
        if self._account is not None:
            return self._account
        async with self._account_lock:
            if self._account is None:
                me = await self._api().get_me(user_auth=self._user_auth)
                found = as_mapping(me.get("data"))
                uid = snowflake(found.get("id"))
                if uid is None:
                    raise PayloadError("GET /2/users/me gave no user id", platform=PLATFORM)
                self._account = Account(id=uid, username=str(found.get("username") or ""))
                log.info("x.account", account_id=uid)
        return self._account

    # -- webhook ----------------------------------------------------------------------------

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        """The webhook routes: the CRC challenge and Account Activity events."""

        async def challenge(request: Request) -> Response:
            # Touches nothing but the secret, so X's hourly check passes while the store is down.
            token = request.query_params.get("crc_token", "")
            if not token or len(token) > MAX_CRC_TOKEN:
                raise PayloadError("crc_token is required", platform=PLATFORM)
            return JSONResponse(crc_response(self._webhook_secret, token))

        async def activity(request: Request) -> Response:
            raw = await request.body()
            verify(raw, request.headers, self._webhook_secret)
            if self.missing:
                # Signed by X but nothing could answer it: 503 so X delivers it again later.
                return JSONResponse(
                    {
                        "error": "the X channel is not fully configured",
                        "missing": list(self.missing),
                    },
                    status_code=503,
                    headers={"Retry-After": "300"},
                )
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
                await self.public.await_answer(event.address.user, tid)
            except Exception as e:
                log.warning("x.public_mark_failed", tweet_id=tid, error=repr(e))
        outcome = await ingest(event)
        log.info("x.event", event_id=event.event_id, outcome=outcome.value)
        return outcome

    # -- polling ----------------------------------------------------------------------------

    @property
    def polls(self) -> bool:
        """Whether mentions can be polled (every credential that needs is set)."""
        return not self.missing

    async def run(self, ingest: Ingest, stop: asyncio.Event) -> None:
        """Poll mentions (and DMs, when `dm_poll_interval` > 0) until `stop` is set."""
        await self.poller.run(ingest, stop)

    async def poll_mentions(self, ingest: Ingest) -> int:
        """One round of mention polling; the number of mentions ingested."""
        return await self.poller.poll_mentions(ingest)

    async def poll_direct_messages(self, ingest: Ingest) -> int:
        """One round of DM polling; the number of DMs ingested."""
        return await self.poller.poll_direct_messages(ingest)

    # -- sending ----------------------------------------------------------------------------

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Answer the person's tweet in public where the reply allows it, and DM the rest."""
        user = snowflake(address.user) or snowflake(address.conversation.partition(":")[2])
        if user is None:
            raise DeliveryError("no X user id to reply to", platform=PLATFORM, permanent=True)
        if self.missing:
            raise DeliveryError(
                "the X channel is not fully configured", platform=PLATFORM, retry_after=300.0
            )
        rendered = render(reply)
        posted: str | None = None
        if rendered.public is not None:
            claim = await self.public.claim(user)
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

    async def _post_public(self, user: str, claim: Claim, text: str, *, strict: bool) -> str | None:
        """Post the public reply; its id, "" when it may exist already, None when impossible.

        `strict` is for a reply that is only public: then a post that may have arrived is
        reported as ambiguous. Otherwise the DM still follows and the post is not retried.
        """
        try:
            answer = await self._api().create_tweet(
                text=text, in_reply_to_tweet_id=claim.tweet_id, user_auth=self._user_auth
            )
        except tweepy.Forbidden as e:
            if is_duplicate(e):
                log.info("x.public_duplicate", tweet_id=claim.tweet_id)
                return ""
            log.warning("x.public_refused", tweet_id=claim.tweet_id, status=403)
            return None
        except (tweepy.BadRequest, tweepy.NotFound) as e:
            log.warning("x.public_refused", tweet_id=claim.tweet_id, error=str(e)[:200])
            return None
        except tweepy.HTTPException as e:
            await self.public.release(user, claim)
            raise refused(e, "public reply") from e
        except TRANSPORT_ERRORS as e:
            if not_sent(e):
                await self.public.release(user, claim)
                raise failed(e, "public reply") from e
            if strict:
                raise failed(e, "public reply") from e
            log.warning("x.public_unknown", tweet_id=claim.tweet_id, error=type(e).__name__)
            return ""
        posted = str(as_mapping(answer.get("data")).get("id") or "")
        log.info("x.public_reply", in_reply_to=claim.tweet_id, tweet_id=posted)
        return posted

    async def _send_dm(self, user: str, text: str) -> str | None:
        try:
            answer = await self._api().create_direct_message(
                participant_id=user, text=text, user_auth=self._user_auth
            )
        except tweepy.HTTPException as e:
            raise refused(e, "direct message") from e
        except TRANSPORT_ERRORS as e:
            raise failed(e, "direct message") from e
        dm_id = as_mapping(answer.get("data")).get("dm_event_id")
        return str(dm_id) if dm_id else None
