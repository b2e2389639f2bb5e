"""Telegram: Bot API updates in (webhook, or long polling without a public URL), HTML out.

python-telegram-bot is used as a typed client and parser only: Starlette owns the route and
the application's router owns the conversation. Buttons become inline keyboards whose
`callback_data` carries the action, the value and the card version; a click comes back as
an `Action` with the clicked message's id, so the reply edits that message in place.

Updates we do not handle (edits, inline queries, stickers, member changes) are answered
200 and ignored; an update PTB cannot parse is answered 200 and quarantined (logged and
counted), since Telegram would otherwise retry it for a day and hold back that chat's later
updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import json
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MessageEntity,
    Update,
)
from telegram import Message as TgMessage
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from channels.base import (
    ConfigurationError,
    Cursors,
    Delivery,
    DeliveryError,
    Ingest,
    MemoryCursors,
    PayloadError,
    Reject,
    SignatureError,
)
from channels.conversation import (
    Action,
    Address,
    Button,
    Event,
    Identity,
    Message,
    Reply,
    Section,
    TicketCard,
)

log = structlog.get_logger(__name__)

PLATFORM = "telegram"
PATH = "/telegram/webhook"
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)
ALLOWED_UPDATES = ("message", "callback_query")
MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64
_SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_OFFSET_KEY = "telegram.offset"
# Telegram says "Bad Request: message to edit not found" and the like; PTB drops the prefix.
_CANNOT_EDIT = ("message to edit not found", "message can't be edited", "message_id_invalid")


# -- who we are ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BotInfo:
    """The bot's own id and username (from `getMe`), to recognise mentions in groups."""

    id: int
    username: str


# -- verify ----------------------------------------------------------------------------------


def verify(headers: Mapping[str, str], secret: str | None) -> None:
    """Check `X-Telegram-Bot-Api-Secret-Token` against the secret given to `setWebhook`.

    Raises:
        SignatureError: the header is missing, repeated or wrong, or no secret is configured.
    """
    if not secret:
        raise SignatureError("TELEGRAM_SECRET_TOKEN is not configured", platform=PLATFORM)
    getlist = getattr(headers, "getlist", None)
    found = list(getlist(SECRET_HEADER)) if getlist else [headers.get(SECRET_HEADER)]
    values: list[str] = [str(v) for v in found if v is not None]
    if len(values) != 1:
        raise SignatureError("missing or repeated secret token header", platform=PLATFORM)
    if not hmac.compare_digest(values[0].encode(), secret.encode()):
        raise SignatureError("wrong secret token", platform=PLATFORM)


# -- parse -----------------------------------------------------------------------------------


class MalformedUpdate(ValueError):
    """JSON that is not an update PTB can read."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """What an update holds for us: events to ingest, a click to acknowledge, or nothing."""

    events: tuple[Event, ...] = ()
    callback_query_id: str | None = None
    ignored: str | None = None


def decode(body: bytes) -> dict[str, Any]:
    """The JSON object of a webhook body.

    Raises:
        PayloadError: the body is not JSON at all.
        MalformedUpdate: it is JSON, but not an object.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise PayloadError("body is not JSON", platform=PLATFORM) from e
    if not isinstance(data, dict):
        raise MalformedUpdate("an update must be a JSON object")
    return data


_USER_KEYS = frozenset({"from", "forward_from", "user", "via_bot", "sender_user"})


def _with_is_bot(value: Any, key: str = "") -> Any:
    # Updates from before Bot API 3.0 (still the examples in Telegram's own docs) have no
    # `is_bot`; PTB insists on it. Only bots have ever been marked, so absent means a person.
    if isinstance(value, dict):
        fixed = {k: _with_is_bot(v, k) for k, v in value.items()}
        if key in _USER_KEYS and "id" in fixed and "is_bot" not in fixed:
            fixed["is_bot"] = False
        return fixed
    if isinstance(value, list):
        return [_with_is_bot(v, key) for v in value]
    return value


def to_update(data: Mapping[str, Any]) -> Update:
    """A PTB `Update` from its JSON object.

    Raises:
        MalformedUpdate: PTB cannot read it (missing or mistyped fields).
    """
    if not isinstance(data.get("update_id"), int):
        raise MalformedUpdate("update_id missing or not an integer")
    try:
        update = Update.de_json(_with_is_bot(dict(data)), None)
    except Exception as e:  # PTB raises TypeError/KeyError/ValueError on bad shapes
        raise MalformedUpdate(f"{type(e).__name__} while reading the update") from e
    if update is None:
        raise MalformedUpdate("empty update")
    return update


def parse(update: Update, me: BotInfo | None = None) -> Parsed:
    """Normalise an update: a message for us, a button click, or an update we ignore.

    In private chats every text is for us; in groups only commands, mentions of the bot and
    replies to it are. `me` is the bot itself (None when `getMe` has not answered yet: then
    only plain commands count in groups).
    """
    if update.callback_query is not None:
        return _callback(update, update.callback_query)
    msg = update.message
    if msg is None:
        return Parsed(ignored=_kind(update))
    user = msg.from_user
    if user is None or user.is_bot:
        return Parsed(ignored="not from a person")
    text = msg.text if msg.text is not None else msg.caption
    if not text or not text.strip():
        # Stickers, voice notes, photos without a caption, service messages: nothing to read.
        return Parsed(ignored="no text")
    private = msg.chat.type == "private"
    if not private:
        addressed, text = _addressed(msg, text, me)
        if not addressed:
            return Parsed(ignored="group message not for the bot")
    command = _command(text, me)
    if command is None:
        return Parsed(ignored="command for another bot")
    address = _address(msg, user.id)
    return Parsed(
        events=(
            Message(
                event_id=str(update.update_id),
                address=address,
                sender=_identity(user),
                text=command,
                received_at=_when(msg.date),
                direct=True,
                attachments=_attachments(msg),
            ),
        )
    )


def _kind(update: Update) -> str:
    for name in ("edited_message", "channel_post", "inline_query", "my_chat_member"):
        if getattr(update, name, None) is not None:
            return name
    return "unhandled update"


def _when(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _identity(user: Any) -> Identity:
    return Identity(
        platform=PLATFORM,
        external_id=str(user.id),
        display_name=(user.full_name or user.username or None),
    )


def _address(msg: TgMessage, user_id: int) -> Address:
    thread = str(msg.message_thread_id) if msg.is_topic_message and msg.message_thread_id else None
    return Address(
        channel=PLATFORM, conversation=str(msg.chat.id), user=str(user_id), thread=thread
    )


def _attachments(msg: TgMessage) -> tuple[str, ...]:
    found: list[str] = []
    if msg.photo:
        found.append(f"telegram:file:{msg.photo[-1].file_id}")
    for media in (msg.document, msg.voice, msg.audio, msg.video):
        if media is not None:
            found.append(f"telegram:file:{media.file_id}")
    return tuple(found)


def _addressed(msg: TgMessage, text: str, me: BotInfo | None) -> tuple[bool, str]:
    """Whether a group message is for the bot, and its text without the mention."""
    if text.startswith("/"):
        return True, text
    if me is None:
        return False, text
    entities = msg.parse_entities() if msg.text is not None else msg.parse_caption_entities()
    for entity, value in entities.items():
        mentioned = (
            entity.type == MessageEntity.MENTION
            and value.lstrip("@").casefold() == me.username.casefold()
        ) or (
            entity.type == MessageEntity.TEXT_MENTION
            and entity.user is not None
            and entity.user.id == me.id
        )
        if mentioned:
            return True, " ".join(text.replace(value, " ", 1).split())
    replied = msg.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == me.id:
        return True, text
    return False, text


def _command(text: str, me: BotInfo | None) -> str | None:
    """`/cmd@bot args` as `cmd args` (None when addressed to another bot)."""
    if not text.startswith("/"):
        return text
    head, _, rest = text.partition(" ")
    word, _, target = head[1:].partition("@")
    if target and me is not None and target.casefold() != me.username.casefold():
        return None
    word = word.lower()
    if word == "start":
        # Every private chat opens with /start: greet rather than puzzle the NLU.
        return "hi"
    return f"{word} {rest.strip()}".strip()


def _callback(update: Update, cq: CallbackQuery) -> Parsed:
    message = cq.message
    if not isinstance(message, TgMessage) or cq.from_user is None or cq.from_user.is_bot:
        return Parsed(callback_query_id=cq.id, ignored="click on a message we cannot see")
    decoded = decode_callback(cq.data or "")
    if decoded is None:
        return Parsed(callback_query_id=cq.id, ignored="button data not ours")
    address = _address(message, cq.from_user.id)
    sender = _identity(cq.from_user)
    event_id = str(update.update_id)
    if isinstance(decoded, int):
        # A button whose data did not fit in 64 bytes: its number picks it, as on SMS.
        event: Event = Message(event_id=event_id, address=address, sender=sender, text=str(decoded))
    else:
        name, value, version = decoded
        params = {"message_id": str(message.message_id)}
        if version:
            params["version"] = version
        event = Action(
            event_id=event_id,
            address=address,
            sender=sender,
            name=name,
            value=value,
            params=params,
        )
    return Parsed(events=(event,), callback_query_id=cq.id)


# -- callback data ---------------------------------------------------------------------------


def encode_callback(action: str, value: str, index: int, version: int | None = None) -> str:
    """`action|version|value`, at most 64 bytes; else `#<index>` (the button's number)."""
    data = f"{action}|{version if version else ''}|{value}"
    if _ACTION_NAME.match(action) and len(data.encode()) <= MAX_CALLBACK_BYTES:
        return data
    return f"#{index}"


def decode_callback(data: str) -> tuple[str, str, str] | int | None:
    """(action, value, version) or a button number from `callback_data`; None if not ours."""
    if data.startswith("#") and data[1:].isdigit():
        return int(data[1:])
    parts = data.split("|", 2)
    if len(parts) != 3:
        return None
    action, version, value = parts
    if not _ACTION_NAME.match(action) or (version and not version.isdigit()):
        return None
    return action, value, version


# -- render ----------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text safe for `parse_mode=HTML`: every `<`, `>` and `&` the person or we wrote."""
    return html.escape(text, quote=False)


def _card(card: TicketCard) -> tuple[str, str]:
    """(visible text, HTML) of a card: the reference in bold, then its facts."""
    lines = card.lines()
    head, *rest = lines
    ref, sep, title = head.partition(" · ")
    first = f"<b>{escape(ref)}</b>{escape(sep + title)}"
    return "\n".join(lines), "\n".join([first, *(escape(line) for line in rest)])


def _section(section: Section) -> tuple[str, str]:
    title, *rest = section.lines()
    plain = "\n".join([title, *rest])
    return plain, "\n".join([f"<b>{escape(title)}</b>", *(escape(line) for line in rest)])


@dataclass(frozen=True, slots=True)
class Rendered:
    """A reply as Telegram takes it: HTML text and an optional inline keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None
    callback_data: tuple[str, ...] = field(default=())


MAX_BUTTONS = 30


def render(reply: Reply) -> Rendered:
    """HTML text (user text escaped), cards in bold-headed lines, buttons as a keyboard.

    Telegram counts its 4096-character limit on the visible text, so the budget is taken
    before escaping: the reply's own text gives way to the card, then trailing sections go.
    """
    blocks: list[tuple[str, str]] = []
    if reply.card is not None:
        blocks.append(_card(reply.card))
    blocks += [_section(s) for s in reply.sections]
    while blocks and sum(len(plain) + 2 for plain, _ in blocks) > MAX_TEXT - 200:
        blocks.pop()
    budget = MAX_TEXT - sum(len(plain) + 2 for plain, _ in blocks)
    body = reply.text
    if len(body) > budget:
        body = body[: budget - 1] + "…"
    parts = ([escape(body)] if body else []) + [markup for _, markup in blocks]
    text = "\n\n".join(parts) or "…"
    offered = _buttons(reply)
    if not offered:
        return Rendered(text=text)
    datas = []
    buttons = []
    for i, (label, b, version) in enumerate(offered, start=1):
        data = encode_callback(b.action, b.value, i, version)
        datas.append(data)
        buttons.append(InlineKeyboardButton(label[:64], callback_data=data))
    width = 2 if all(len(label) <= 18 for label, _, _ in offered) else 1
    rows = [buttons[i : i + width] for i in range(0, len(buttons), width)]
    return Rendered(text=text, keyboard=InlineKeyboardMarkup(rows), callback_data=tuple(datas))


def _buttons(reply: Reply) -> list[tuple[str, Button, int | None]]:
    """(label, button, card version) of every button, the reply's then its sections'."""
    versions = {reply.card.ref: reply.card.version} if reply.card is not None else {}
    out = [(b.label, b, versions.get(b.value)) for b in reply.buttons]
    for section in reply.sections:
        shown = {c.ref: c.version for c in section.cards}
        for b in section.buttons:
            # Beside a list of tickets, "Approve" alone would not say which one.
            label = b.label if b.value.upper() in b.label.upper() else f"{b.label} {b.value}"
            out.append((label, b, shown.get(b.value)))
    return out[:MAX_BUTTONS]


# -- errors ----------------------------------------------------------------------------------


def _seconds(e: RetryAfter) -> float:
    with warnings.catch_warnings():
        # The int-or-timedelta transition of `retry_after`; both are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = e.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _never_sent(e: BaseException) -> bool:
    """The request did not leave: no connection, or no free connection in the pool."""
    cause = e.__cause__
    return cause is not None and type(cause).__name__ in {
        "ConnectError",
        "ConnectTimeout",
        "PoolTimeout",
    }


def delivery_error(e: TelegramError, *, idempotent: bool = False) -> DeliveryError:
    """How the outbox should treat a Bot API error (`idempotent` for edits)."""
    message = str(e)
    if isinstance(e, RetryAfter):
        return DeliveryError(
            f"flood control: {message}", platform=PLATFORM, retry_after=_seconds(e)
        )
    if isinstance(e, Forbidden):
        # "bot was blocked by the user", "bot was kicked from the group chat"
        return DeliveryError(message, platform=PLATFORM, permanent=True)
    if isinstance(e, BadRequest):
        # "Chat not found", "Can't parse entities": sending the same again cannot succeed.
        return DeliveryError(message, platform=PLATFORM, permanent=True)
    if isinstance(e, InvalidToken):
        return DeliveryError("the bot token was rejected", platform=PLATFORM)
    # A timeout or a broken connection after the request went out: it may have been posted,
    # and sendMessage has no idempotency key. An HTTP 5xx answer was not.
    sent_maybe = isinstance(e, TimedOut) or e.__cause__ is not None
    if isinstance(e, NetworkError) and sent_maybe and not idempotent and not _never_sent(e):
        return DeliveryError(message, platform=PLATFORM, ambiguous=True)
    return DeliveryError(message, platform=PLATFORM)


# -- the channel -----------------------------------------------------------------------------


class _VettingRequest(HTTPXRequest):
    """The `getUpdates` transport: an update PTB cannot read is set aside, not fatal.

    PTB parses a whole batch at once, so one bad update would fail every poll forever;
    here it is replaced by an empty update with the same id, which is then skipped.
    """

    def __init__(self, quarantine: Callable[[Any, str], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._quarantine = quarantine

    # PTB declares it static but always calls it on the instance, and documents overriding it.
    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        data = super().parse_json_payload(payload)
        result = data.get("result")
        if data.get("ok") is True and isinstance(result, list):
            data["result"] = [self._vet(item) for item in result]
        return data

    def _vet(self, item: Any) -> Any:
        raw = item if isinstance(item, dict) else {}
        try:
            to_update(raw)
        except MalformedUpdate as e:
            update_id = raw.get("update_id")
            self._quarantine(update_id, str(e))
            return {"update_id": update_id if isinstance(update_id, int) else 0}
        return _with_is_bot(raw)


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
        if secret_token and not _SECRET_FORMAT.match(secret_token):
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
        polling = _VettingRequest(
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
        if self._bot is not None:
            await self._bot.shutdown()
            self._bot = None

    def _require_bot(self) -> Bot:
        if self._bot is None:
            raise DeliveryError("the Telegram channel is not started", platform=PLATFORM)
        return self._bot

    # -- inbound --------------------------------------------------------------------------

    def verify(self, headers: Mapping[str, str]) -> None:
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
        """Decode and normalise a webhook body (`PayloadError` only when it is not JSON)."""
        data: Any = None
        try:
            data = decode(body)
            return parse(to_update(data), self.me)
        except PayloadError:
            raise
        except MalformedUpdate as e:
            error = str(e)
        except Exception as e:  # a shape PTB read but we could not: same as unreadable
            error = f"{type(e).__name__} while normalising"
        self._quarantined(data.get("update_id") if isinstance(data, dict) else None, error)
        return Parsed(ignored="quarantined")

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
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
                await _sleep_or_stop(stop, delay)
                if stop.is_set():
                    break
            try:
                updates = await _unless_stopped(
                    stop,
                    bot.get_updates(
                        offset=offset,
                        timeout=int(self.poll_timeout),
                        allowed_updates=list(ALLOWED_UPDATES),
                    ),
                )
            except RetryAfter as e:
                delay = _seconds(e)
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
            edited = await self._edit(bot, chat_id, int(reply.edit_id), rendered)
            if edited is not None:
                return edited
        try:
            try:
                sent = await self._post(bot, chat_id, thread, rendered)
            except ChatMigrated as e:
                # A group became a supergroup: same conversation, new id.
                sent = await self._post(bot, e.new_chat_id, None, rendered)
        except TelegramError as e:
            raise delivery_error(e) from None
        return Delivery(external_id=str(sent.message_id))

    @staticmethod
    async def _post(bot: Bot, chat_id: int, thread: int | None, rendered: Rendered) -> Any:
        return await bot.send_message(
            chat_id,
            rendered.text,
            parse_mode=ParseMode.HTML,
            reply_markup=rendered.keyboard,
            message_thread_id=thread,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    @staticmethod
    async def _edit(bot: Bot, chat_id: int, message_id: int, rendered: Rendered) -> Delivery | None:
        try:
            await bot.edit_message_text(
                rendered.text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=rendered.keyboard,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except BadRequest as e:
            detail = str(e).lower()
            if "not modified" in detail:
                return Delivery(external_id=str(message_id), detail="unchanged")
            if any(s in detail for s in _CANNOT_EDIT):
                return None  # gone or too old: post a new message instead
            raise delivery_error(e, idempotent=True) from None
        except TelegramError as e:
            raise delivery_error(e, idempotent=True) from None
        return Delivery(external_id=str(message_id), detail="edited")

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


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _unless_stopped(stop: asyncio.Event, call: Any) -> Any:
    """Await `call` unless `stop` is set first (then cancel it and return None)."""
    task = asyncio.ensure_future(call)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, TelegramError):
        await task
    return None
