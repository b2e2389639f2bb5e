"""`TelegramChannel`: the webhook route or long polling in, Bot API calls out."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import Bot, Update
from telegram.error import ChatMigrated, InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from channels.base import (
    ConfigurationError,
    Cursors,
    Delivery,
    DeliveryError,
    Ingest,
    MemoryCursors,
    PayloadError,
    Reject,
)
from channels.conversation import Address, Reply
from channels.sdk_logs import TELEGRAM_LOGGERS, protect
from channels.telegram.constants import ALLOWED_UPDATES, PATH, PLATFORM
from channels.telegram.parse import BotInfo, MalformedUpdate, Parsed, parse, read_update
from channels.telegram.polling import VettingRequest, sleep_or_stop, unless_stopped
from channels.telegram.render import render
from channels.telegram.send import delivery_error, edit, post, retry_seconds
from channels.telegram.verify import SECRET_FORMAT, verify

log = structlog.get_logger(__name__)

_OFFSET_KEY = "telegram.offset"
_UPDATE_ID = re.compile(rb'"update_id"\s*:\s*(\d{1,15})')


def _update_id(body: bytes) -> int | None:
    """The update id of a body we could not read, for the quarantine log line."""
    found = _UPDATE_ID.search(body[:4096])
    return int(found.group(1)) if found else None


class TelegramChannel:
    """A Telegram bot: webhook route or long polling in, Bot API calls out.

    Args:
        token: the bot token from @BotFather.
        secret_token: the secret `setWebhook` was given; required in webhook mode.
        api_url: the Bot API base, ending in `/bot` (the token is appended).
        webhook: True when `PUBLIC_URL` is set: updates arrive at `/telegram/webhook`.
            False: `run()` long-polls `getUpdates`, keeping its offset in `cursors`.
        cursors: where the polling offset survives restarts.
        on_drop: counts updates answered without an event: `(platform, "ignored" |
            "quarantined")`.
    """

    name: ClassVar[str] = PLATFORM
    platforms: ClassVar[tuple[str, ...]] = (PLATFORM,)

    def __init__(
        self,
        *,
        token: str,
        secret_token: str | None,
        api_url: str = "https://api.telegram.org/bot",
        webhook: bool = True,
        cursors: Cursors | None = None,
        on_drop: Reject | None = None,
        poll_timeout: float = 25.0,
        idle_delay: float = 0.5,
        request_timeout: float = 10.0,
    ) -> None:
        if not token:
            raise ConfigurationError("TELEGRAM_BOT_TOKEN is empty", platform=PLATFORM)
        if secret_token and not SECRET_FORMAT.fullmatch(secret_token):
            raise ConfigurationError(
                "TELEGRAM_SECRET_TOKEN must be 1-256 characters of A-Z a-z 0-9 _ -",
                platform=PLATFORM,
            )
        if webhook and not secret_token:
            raise ConfigurationError(
                "PUBLIC_URL is set, so Telegram runs in webhook mode, which needs "
                "TELEGRAM_SECRET_TOKEN (1-256 characters of A-Z a-z 0-9 _ -, e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`); "
                "or unset PUBLIC_URL to long-poll instead",
                platform=PLATFORM,
            )
        # Before any client exists: PTB logs its token-bearing URL as soon as it is built.
        protect(TELEGRAM_LOGGERS, token, *([secret_token] if secret_token else []))
        self._token = token
        self._secret = secret_token or None
        self.api_url = api_url
        self.webhook = webhook
        self._cursors: Cursors = cursors or MemoryCursors()
        self._on_drop = on_drop
        self.poll_timeout = poll_timeout
        self.idle_delay = idle_delay
        self.request_timeout = request_timeout
        self._bot: Bot | None = None
        self.me: BotInfo | None = None

    def __repr__(self) -> str:
        return f"TelegramChannel(api_url={self.api_url!r}, webhook={self.webhook})"

    # -- lifecycle ------------------------------------------------------------------------

    def _file_url(self) -> str:
        base = self.api_url
        return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base

    def _build_bot(self) -> Bot:
        timeout = self.request_timeout
        request = HTTPXRequest(
            connection_pool_size=16,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )
        polling = VettingRequest(
            self._quarantined,
            connection_pool_size=1,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )
        return Bot(
            self._token,
            base_url=self.api_url,
            base_file_url=self._file_url(),
            request=request,
            get_updates_request=polling,
        )

    async def start(self) -> None:
        """Open the HTTP client and ask `getMe` who we are.

        Raises:
            ConfigurationError: Telegram rejected the token (the token is not in the message).
        """
        bot = self._build_bot()
        try:
            await bot.initialize()
        except InvalidToken:
            await bot.shutdown()
            # `from None`: PTB's message carries the token itself.
            raise ConfigurationError(
                "TELEGRAM_BOT_TOKEN was rejected by the Telegram Bot API (getMe)",
                platform=PLATFORM,
            ) from None
        except TelegramError as e:
            log.warning("telegram.get_me_failed", error=type(e).__name__)
        else:
            self.me = BotInfo(id=bot.id, username=bot.username)
        self._bot = bot
        log.info(
            "telegram.started", webhook=self.webhook, bot=self.me.username if self.me else None
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._bot is not None:
            await self._bot.shutdown()
            self._bot = None

    def _require_bot(self) -> Bot:
        if self._bot is None:
            raise DeliveryError("the Telegram channel is not started", platform=PLATFORM)
        return self._bot

    # -- inbound --------------------------------------------------------------------------

    def verify(self, headers: Mapping[str, str]) -> None:
        """Check the webhook's secret token header; `SignatureError` if it is wrong."""
        verify(headers, self._secret)

    def _dropped(self, reason: str) -> None:
        if self._on_drop is not None:
            self._on_drop(PLATFORM, reason)

    def _quarantined(self, update_id: Any, error: str) -> None:
        log.warning(
            "telegram.quarantined",
            update_id=update_id if isinstance(update_id, int) else None,
            error=error,
        )
        self._dropped("quarantined")

    def read(self, body: bytes) -> Parsed:
        """Decode and normalise a webhook body.

        An update we cannot read is quarantined (logged, counted, answered 200): Telegram
        would otherwise retry it for a day and hold back that chat's later updates.

        Raises:
            PayloadError: the body is not JSON at all (400).
        """
        try:
            return read_update(body, self.me)
        except MalformedUpdate as e:
            error = str(e)
        except PayloadError:
            raise
        except Exception as e:  # a last guard: whatever it was, the chat must not stall
            error = f"{type(e).__name__} while normalising"
        self._quarantined(_update_id(body), error)
        return Parsed(ignored="quarantined")

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        """The webhook route, handing each update to `ingest`."""

        async def webhook(request: Request) -> Response:
            self.verify(request.headers)
            parsed = self.read(await request.body())
            await self._ingest(parsed, ingest)
            if parsed.callback_query_id:
                # Answered in the webhook response itself: no outbound call on the ack path.
                return JSONResponse(
                    {"method": "answerCallbackQuery", "callback_query_id": parsed.callback_query_id}
                )
            return Response(status_code=200)

        return [Route(PATH, webhook, methods=["POST"], name="telegram-webhook")]

    async def _ingest(self, parsed: Parsed, ingest: Ingest) -> None:
        if parsed.ignored and parsed.ignored != "quarantined":
            log.info("telegram.ignored", reason=parsed.ignored)
            self._dropped("ignored")
        for event in parsed.events:
            await ingest(event)

    # -- long polling ---------------------------------------------------------------------

    @property
    def polls(self) -> bool:
        """Whether updates are fetched by polling rather than by webhook."""
        return not self.webhook

    async def run(self, ingest: Ingest, stop: asyncio.Event) -> None:
        """Long-poll `getUpdates` until `stop` (webhook mode: nothing to do).

        The offset is saved after the batch is in the inbox, so a restart neither skips an
        update (the offset moves only after the durable write) nor handles one twice (the
        inbox recognises a repeated `update_id`).
        """
        if self.webhook:
            return
        bot = self._require_bot()
        key = f"{_OFFSET_KEY}:{self.me.id}" if self.me else _OFFSET_KEY
        stored = await self._cursors.get(key)
        offset = int(stored) if stored and stored.lstrip("-").isdigit() else None
        with contextlib.suppress(TelegramError):
            # getUpdates answers 409 while a webhook is set; polling means we want none.
            await bot.delete_webhook(drop_pending_updates=False)
        log.info("telegram.polling", offset=offset)
        delay = 0.0
        while not stop.is_set():
            if delay:
                await sleep_or_stop(stop, delay)
                if stop.is_set():
                    break
            try:
                updates = await unless_stopped(
                    stop,
                    bot.get_updates(
                        offset=offset,
                        timeout=int(self.poll_timeout),
                        allowed_updates=list(ALLOWED_UPDATES),
                    ),
                )
            except RetryAfter as e:
                delay = retry_seconds(e)
                continue
            except InvalidToken:
                log.error("telegram.poll_failed", error="the bot token was rejected")
                delay = 60.0
                continue
            except TelegramError as e:
                log.warning("telegram.poll_failed", error=type(e).__name__, detail=str(e))
                delay = min(max(delay * 2, 1.0), 30.0)
                continue
            if updates is None:
                break
            delay = 0.0 if updates else self.idle_delay
            reached = offset
            try:
                for update in updates:
                    parsed = self._normalise(update)
                    await self._ingest(parsed, ingest)
                    if parsed.callback_query_id:
                        await self._answer(parsed.callback_query_id)
                    reached = update.update_id + 1
            except Exception as e:
                # Not stored: poll the same updates again once the store is back.
                log.warning("telegram.ingest_failed", error=type(e).__name__)
                delay = 2.0
            if reached != offset:
                offset = reached
                try:
                    await self._cursors.set(key, str(offset))
                except Exception as e:  # Telegram keeps the offset too; the inbox dedups
                    log.warning("telegram.offset_save_failed", error=type(e).__name__)

    def _normalise(self, update: Update) -> Parsed:
        try:
            return parse(update, self.me)
        except Exception as e:
            self._quarantined(update.update_id, f"{type(e).__name__} while normalising")
            return Parsed(ignored="quarantined")

    async def _answer(self, callback_query_id: str) -> None:
        try:
            await self._require_bot().answer_callback_query(callback_query_id)
        except (TelegramError, DeliveryError) as e:
            # The spinner stops by itself after a while; the click itself is in the inbox.
            log.info("telegram.answer_failed", error=type(e).__name__)

    # -- outbound -------------------------------------------------------------------------

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Post the reply, or edit the message `reply.edit_id` (a decided approval card)."""
        bot = self._require_bot()
        rendered = render(reply)
        try:
            chat_id = int(address.conversation)
            thread = int(address.thread) if address.thread else None
        except ValueError:
            raise DeliveryError(
                "not a Telegram chat id", platform=PLATFORM, permanent=True
            ) from None
        if reply.edit_id and reply.edit_id.isdigit():
            edited = await edit(bot, chat_id, int(reply.edit_id), rendered)
            if edited is not None:
                return edited
        try:
            try:
                sent = await post(bot, chat_id, thread, rendered)
            except ChatMigrated as e:
                # A group became a supergroup: same conversation, new id.
                sent = await post(bot, e.new_chat_id, None, rendered)
        except TelegramError as e:
            raise delivery_error(e) from None
        return Delivery(external_id=str(sent.message_id))

    # -- webhook registration -------------------------------------------------------------

    async def register_webhook(self, url: str, *, drop_pending: bool = False) -> None:
        """`setWebhook` with our secret and the update types we handle."""
        if not self._secret:
            raise ConfigurationError("TELEGRAM_SECRET_TOKEN is not set", platform=PLATFORM)
        await self._require_bot().set_webhook(
            url,
            secret_token=self._secret,
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=drop_pending,
        )

    async def remove_webhook(self) -> None:
        """Tell Telegram to stop calling the webhook."""
        await self._require_bot().delete_webhook(drop_pending_updates=False)

    async def webhook_info(self) -> dict[str, Any]:
        """What Telegram knows of our webhook (URL, pending updates, last error)."""
        info = await self._require_bot().get_webhook_info()
        return {
            "url": info.url,
            "pending_update_count": info.pending_update_count,
            "last_error_message": info.last_error_message,
            "allowed_updates": list(info.allowed_updates or ()),
        }
