"""A fake Telegram Bot API: real HTTP on 127.0.0.1, answering the methods the channel calls.

PTB reaches it through `TELEGRAM_API_URL=<base_url>/bot`, so calls arrive as
`/bot<token>/<method>`. A wrong token gets the 401 Telegram gives. Scripted answers
(`add_response`) win over the built-in ones, so a test can make `sendMessage` answer 429.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

from tests.fakes.server import Call, Canned, FakeApi

TOKEN = "123456789:AAHfakeTOKENforTESTSonly_abcdefghijkl"
BOT_ID = 123456789
USERNAME = "SwitchboardTestBot"


class FakeTelegramApi(FakeApi):
    """`sendMessage` answers with a real-shaped Message (ids counting up from 1000)."""

    def __init__(self, token: str = TOKEN, *, bot_id: int = BOT_ID, username: str = USERNAME):
        super().__init__()
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self._ids = itertools.count(1000)
        self._updates: list[dict[str, Any]] = []
        self._updates_lock = threading.Lock()
        self.poll_wait = 0.2
        self.messages: list[dict[str, Any]] = []
        """Every message the bot posted, as the API returned it (ids included)."""

    @property
    def api_url(self) -> str:
        """The value for `TELEGRAM_API_URL`."""
        return f"{self.base_url}/bot"

    def path(self, method: str) -> str:
        return f"/bot{self.token}/{method}"

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        """Parameters of every call to `method`, decoded (reply_markup as JSON)."""
        out = []
        for call in self.calls_to(self.path(method)):
            data = call.data()
            if isinstance(data.get("reply_markup"), str):
                data["reply_markup"] = json.loads(data["reply_markup"])
            out.append(data)
        return out

    def wait_sent(self, count: int = 1, method: str = "sendMessage") -> list[dict[str, Any]]:
        self.wait_for(self.path(method), count)
        return self.sent(method)

    def reset(self) -> None:
        super().reset()
        with self._updates_lock:
            self._updates.clear()
            self.messages.clear()

    def posted_to(self, chat_id: int) -> list[dict[str, Any]]:
        """Messages the bot posted in one chat, oldest first."""
        with self._updates_lock:
            return [m for m in self.messages if m["chat"]["id"] == chat_id]

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for `getUpdates`."""
        with self._updates_lock:
            self._updates.append(update)

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Switchboard",
            "username": self.username,
        }

    def respond(self, call: Call) -> Canned | None:
        if not call.path.startswith("/bot"):
            return None
        with self._lock:
            if self._queued.get(call.path):
                return None  # a scripted answer comes first
        token, _, method = call.path[len("/bot") :].partition("/")
        if token != self.token:
            return Canned(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        data = call.data()
        handler = getattr(self, f"_on_{method}", None)
        if handler is None:
            return None
        return Canned(200, {"ok": True, "result": handler(data)})

    # -- methods --------------------------------------------------------------------------

    def _message(self, data: dict[str, Any], message_id: int) -> dict[str, Any]:
        chat_id = int(data["chat_id"])
        chat_type = "private" if chat_id > 0 else "supergroup"
        result = {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": {"id": chat_id, "type": chat_type},
            "date": int(time.time()),
            "text": data.get("text", ""),
        }
        markup = data.get("reply_markup")
        if markup:
            result["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
        return result

    def _on_getMe(self, data: dict[str, Any]) -> Any:
        return self.bot_user

    def _on_sendMessage(self, data: dict[str, Any]) -> Any:
        message = self._message(data, next(self._ids))
        with self._updates_lock:
            self.messages.append(message)
        return message

    def _on_editMessageText(self, data: dict[str, Any]) -> Any:
        return self._message(data, int(data["message_id"]))

    def _on_answerCallbackQuery(self, data: dict[str, Any]) -> Any:
        return True

    def _on_setWebhook(self, data: dict[str, Any]) -> Any:
        return True

    def _on_deleteWebhook(self, data: dict[str, Any]) -> Any:
        return True

    def _on_getWebhookInfo(self, data: dict[str, Any]) -> Any:
        calls = self.calls_to(self.path("setWebhook"))
        url = calls[-1].data().get("url", "") if calls else ""
        return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}

    def _on_getUpdates(self, data: dict[str, Any]) -> Any:
        offset = int(data.get("offset") or 0)
        with self._updates_lock:
            # Asking from `offset` confirms everything before it, as Telegram does.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            ready = list(self._updates[:100])
        if not ready:
            time.sleep(self.poll_wait)
        return ready


def private_update(
    update_id: int, text: str, *, user_id: int = 111111111, name: str = "Test User"
) -> dict[str, Any]:
    """The recorded private-chat text update (teloxide's capture) with our values in it."""
    from tests.payloads import load

    data = load("telegram", "teloxide_update_message_text_private.json")
    data["update_id"] = update_id
    msg = data["message"]
    msg["message_id"] = update_id % 100000
    msg["text"] = text
    msg["from"]["id"] = user_id
    msg["from"]["first_name"] = name
    msg["chat"]["id"] = user_id
    msg["chat"]["first_name"] = name
    return data


def callback_update(
    update_id: int, data: str, *, message: dict[str, Any], user_id: int = 111111111
) -> dict[str, Any]:
    """A button click on a message the bot sent: teloxide's recorded `CallbackQuery` fields
    with the message variant Telegram sends for ordinary (non-inline) messages."""
    from tests.payloads import load

    cq = load("telegram", "teloxide_callback_query_inline.callback_query.json")
    cq.pop("inline_message_id", None)
    cq.pop("game_short_name", None)
    cq["id"] = f"cb{update_id}"
    cq["from"]["id"] = user_id
    cq["data"] = data
    cq["message"] = message
    return {"update_id": update_id, "callback_query": cq}
