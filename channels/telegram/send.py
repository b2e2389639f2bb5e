"""Bot API calls out, and what their errors mean for the outbox."""

from __future__ import annotations

import re
import warnings
from datetime import timedelta
from typing import Any

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from channels.base import Delivery, DeliveryError
from channels.telegram.constants import PLATFORM
from channels.telegram.render import Rendered

# Telegram says "Bad Request: message to edit not found" and the like; PTB drops the prefix.
_CANNOT_EDIT = ("message to edit not found", "message can't be edited", "message_id_invalid")
# A bot token (`123456:ABC...`) as it appears in request URLs and some error texts.
_TOKEN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")


def redact_token(text: str) -> str:
    """The text with any bot token in it replaced: error texts end up in logs and the outbox."""
    return _TOKEN.sub("[telegram-token]", text)


async def post(bot: Bot, chat_id: int, thread: int | None, rendered: Rendered) -> Any:
    """`sendMessage` of a rendered reply (HTML, no link previews)."""
    return await bot.send_message(
        chat_id,
        rendered.text,
        parse_mode=ParseMode.HTML,
        reply_markup=rendered.keyboard,
        message_thread_id=thread,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


async def edit(bot: Bot, chat_id: int, message_id: int, rendered: Rendered) -> Delivery | None:
    """`editMessageText` in place; None when the message is gone or too old to edit.

    Raises:
        DeliveryError: any other refusal.
    """
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


def retry_seconds(e: RetryAfter) -> float:
    """The wait flood control asked for, in seconds."""
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
    message = redact_token(str(e))
    if isinstance(e, RetryAfter):
        return DeliveryError(
            f"flood control: {message}", platform=PLATFORM, retry_after=retry_seconds(e)
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
