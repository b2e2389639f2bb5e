"""A fake Graph API Send API over real HTTP, and webhook bodies built from Meta's examples.

`FakeMetaApi` answers `POST /v21.0/me/messages` as the Graph API does: the page token in the
`Authorization: Bearer` header (or the `access_token` query), a JSON body with `recipient`,
`messaging_type` and `message`, and `{"recipient_id", "message_id"}` back. A `recipient`
holding `comment_id` is a private reply: accepted once per comment, refused after that, as
Meta allows one. Public answers to comments (`POST /v21.0/{comment-id}/comments` on
Facebook, `/replies` on Instagram) get `{"id"}` back. Answers scripted with `add_response`
(a throttle, a closed window) win over the dynamic one.

`body()` copies a documented payload from `tests/data/payloads/meta/` with only the sender,
text, message id and time replaced, `comment()` does the same for a comment notification,
and `signed_headers()` signs it as Meta does.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import time
from typing import Any

from tests.fakes.server import Call, Canned, FakeApi
from tests.payloads import load

APP_SECRET = "test-meta-app-secret-0123456789"
VERIFY_TOKEN = "test-meta-verify-token"
PAGE_TOKEN = "EAAtestpagetoken0123456789abcdef"
VERSION = "v21.0"
SEND_PATH = f"/{VERSION}/me/messages"
PAGE_ID = "682498302938465"
PSID = "6789012345678901"
IG_ACCOUNT = "17841400000000000"
IGSID = "1234567890123456"

MESSENGER_TEXT = "messenger_message_reply_to.json"
MESSENGER_POSTBACK = "messenger_postback.json"
INSTAGRAM_TEXT = "instagram_message.json"
FEED_COMMENT = "messenger_feed_comment.json"
FEED_COMMENT_EDITED = "messenger_feed_comment_edited.json"
FEED_REACTION = "messenger_feed_reaction.json"
FEED_COMMENT_BY_PAGE = "messenger_feed_comment_by_page.json"
INSTAGRAM_COMMENT = "instagram_comment.json"
# The page of the recorded feed deliveries.
FEED_PAGE_ID = "137542570280222"

_mids = itertools.count(1)
_comment_ids = itertools.count(1)


def graph_error(code: int, subcode: int | None = None, message: str = "") -> dict[str, Any]:
    """A Graph API error body."""
    error: dict[str, Any] = {
        "message": message or f"(#{code}) refused",
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGhIjK",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


WINDOW_CLOSED = graph_error(10, 2018278, "(#10) This message is sent outside of allowed window.")


class FakeMetaApi(FakeApi):
    """The Send API, keeping what was sent."""

    def __init__(self, *, page_token: str = PAGE_TOKEN) -> None:
        super().__init__()
        self.page_token = page_token
        self._answered: set[str] = set()

    @property
    def api_url(self) -> str:
        """What `META_API_URL` is set to: the base URL with the Graph API version."""
        return f"{self.base_url}/{VERSION}"

    def sent(self, recipient: str | None = None) -> list[dict[str, Any]]:
        """The JSON bodies of the messages accepted, optionally to one recipient."""
        bodies = [c.json() for c in self.calls_to(SEND_PATH)]
        return [b for b in bodies if recipient is None or b["recipient"].get("id") == recipient]

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._answered.clear()

    def private_replies(self) -> list[dict[str, Any]]:
        """The bodies of every private reply asked for (accepted or refused)."""
        return [b for b in (c.json() for c in self.calls_to(SEND_PATH)) if _comment_of(b)]

    def public_replies(self) -> list[Call]:
        """Every public answer posted under a comment."""
        return [
            c
            for c in self.calls
            if c.method == "POST" and c.path.rsplit("/", 1)[-1] in ("comments", "replies")
        ]

    def respond(self, call: Call) -> Canned | None:
        if call.method != "POST" or not call.path.startswith(f"/{VERSION}/"):
            return None
        with self._lock:
            if self._queued.get(call.path):
                return None
        given = call.headers.get("authorization", "")
        query_token = call.query.get("access_token", [""])[-1]
        if given != f"Bearer {self.page_token}" and query_token != self.page_token:
            return Canned(400, graph_error(190, message="Invalid OAuth access token."))
        if call.path != SEND_PATH:
            return self._public_reply(call)
        body = call.json()
        recipient = body.get("recipient") if isinstance(body, dict) else None
        if not isinstance(recipient, dict) or not ({"id", "comment_id"} & recipient.keys()):
            return Canned(400, graph_error(100, message="(#100) param recipient must be set"))
        mid = f"m_fake{next(_mids)}_{int(time.time() * 1000)}"
        cid = _comment_of(body)
        if cid is None:
            return Canned(200, {"recipient_id": recipient["id"], "message_id": mid})
        with self._lock:
            if cid in self._answered:
                return Canned(
                    400, graph_error(10, 2018278, "(#10) This comment was already answered.")
                )
            self._answered.add(cid)
        return Canned(200, {"recipient_id": f"9{next(_mids):015d}", "message_id": mid})

    @staticmethod
    def _public_reply(call: Call) -> Canned | None:
        parts = call.path.strip("/").split("/")
        if len(parts) != 3 or parts[2] not in ("comments", "replies"):
            return None
        body = call.json()
        if not isinstance(body, dict) or not str(body.get("message") or "").strip():
            return Canned(400, graph_error(100, message="(#100) message is required"))
        return Canned(200, {"id": f"{parts[1]}_9{next(_comment_ids):09d}"})


def _comment_of(body: Any) -> str | None:
    recipient = body.get("recipient") if isinstance(body, dict) else None
    cid = recipient.get("comment_id") if isinstance(recipient, dict) else None
    return str(cid) if cid else None


def body(
    name: str,
    *,
    text: str | None = None,
    mid: str | None = None,
    sender: str | None = None,
    timestamp: int | None = None,
    payload: str | None = None,
) -> bytes:
    """A documented webhook body with its first event's fields replaced, as JSON bytes."""
    data = copy.deepcopy(load("meta", name))
    item = data["entry"][0]["messaging"][0]
    inner = item.get("message") or item.get("postback")
    if text is not None:
        inner["text" if "message" in item else "title"] = text
    if mid is not None:
        inner["mid"] = mid
    if payload is not None:
        if "message" in item:
            inner["quick_reply"] = {"payload": payload}
        else:
            inner["payload"] = payload
    if sender is not None:
        item["sender"]["id"] = sender
    if timestamp is not None:
        item["timestamp"] = timestamp
        data["entry"][0]["time"] = timestamp
    return json.dumps(data).encode()


def comment(
    name: str,
    *,
    text: str | None = None,
    comment_id: str | None = None,
    sender: str | None = None,
    created: int | None = None,
) -> bytes:
    """A documented comment notification with its first change's fields replaced, as JSON.

    `created` is epoch seconds; it replaces Facebook's `created_time` and the entry's time.
    """
    data = copy.deepcopy(load("meta", name))
    entry = data["entry"][0]
    value = entry["changes"][0]["value"]
    facebook = data["object"] == "page"
    if text is not None:
        value["message" if facebook else "text"] = text
    if comment_id is not None:
        value["comment_id" if facebook else "id"] = comment_id
    if sender is not None:
        value["from"]["id"] = sender
    if created is not None:
        entry["time"] = created
        if facebook:
            value["created_time"] = created
    return json.dumps(data).encode()


def now_ms() -> int:
    return int(time.time() * 1000)


def sign(raw: bytes, secret: str = APP_SECRET) -> str:
    """`X-Hub-Signature-256` for a body."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def signed_headers(raw: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, secret)}
