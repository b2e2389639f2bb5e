"""A fake X API v2 over real HTTP, and Account Activity webhook bodies built from real payloads.

`FakeXApi` answers what the X channel calls through tweepy's `AsyncClient`:
`GET /2/users/me`, `GET /2/users/:id/mentions` (honouring `since_id`, `start_time`,
`max_results` and `pagination_token`), `POST /2/tweets`,
`POST /2/dm_conversations/with/:id/messages` and `GET /2/dm_events`. Answers scripted with
`add_response` (a 429, a 503, a slow answer) win over the dynamic ones.

Tweets, users and DM events are copies of the documented shapes in
`tests/data/payloads/twitter/` with only ids, texts and times replaced. `Inbox`,
`MemoryCursors` and `started` stand in for the application when a test drives the channel
alone.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

from channels.base import IngestOutcome
from channels.conversation import Event
from channels.x.channel import XChannel
from tests.fakes.server import Call, Canned, FakeApi
from tests.payloads import load, raw

# Our account: the user object of the documented reply payload (@TwitterDev).
ACCOUNT = {
    k: v
    for k, v in load("twitter", "docs_v2_tweet_reply_with_includes.json")["includes"]["users"][
        0
    ].items()
    if k in ("id", "name", "username")
}
WEBHOOK_SECRET = "test-consumer-secret-0123456789"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeXApi(FakeApi):
    """X API v2 with mentions and DM events kept in memory."""

    def __init__(self, *, account: dict[str, str] | None = None) -> None:
        super().__init__()
        self.account = dict(account or ACCOUNT)
        self.mentions: list[dict[str, Any]] = []
        self.dm_events: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.honour_since_id = True
        self.wall: list[tuple[str, float]] = []
        self.faults: dict[tuple[str, int], Canned] = {}
        self._ids = 1_900_000_000_000_000_000
        self._id_lock = threading.Lock()

    def reset(self) -> None:
        """Forget calls, scripted answers and content (one server can serve many tests)."""
        super().reset()
        with self._lock:
            self.mentions.clear()
            self.dm_events.clear()
            self.users.clear()
            self.faults.clear()
            self.wall.clear()
        self.honour_since_id = True

    # -- building content ------------------------------------------------------------------

    def next_id(self) -> str:
        with self._id_lock:
            self._ids += 1
            return str(self._ids)

    def add_user(self, user_id: str, username: str) -> dict[str, Any]:
        user = copy.deepcopy(
            load("twitter", "docs_v2_user_mentions_response.json")["includes"]["users"][0]
        )
        user.update(id=user_id, username=username, name=username.title())
        self.users[user_id] = user
        return user

    def add_mention(
        self,
        text: str,
        *,
        author_id: str,
        username: str,
        tweet_id: str | None = None,
        created_at: str | None = None,
        retweet: bool = False,
    ) -> str:
        """A tweet mentioning us, shaped like the documented mentions response."""
        tweet = copy.deepcopy(load("twitter", "docs_v2_user_mentions_response.json")["data"][0])
        tid = tweet_id or self.next_id()
        handle = f"@{self.account['username']}"
        tweet.update(
            id=tid,
            text=text if handle in text else f"{handle} {text}",
            author_id=author_id,
            created_at=created_at or now_iso(),
            conversation_id=tid,
            edit_history_tweet_ids=[tid],
            entities={
                "mentions": [
                    {
                        "start": 0,
                        "end": len(handle),
                        "username": self.account["username"],
                        "id": self.account["id"],
                    }
                ]
            },
        )
        if retweet:
            tweet["referenced_tweets"] = [{"type": "retweeted", "id": self.next_id()}]
        self.add_user(author_id, username)
        with self._lock:
            self.mentions.append(tweet)
        return tid

    def add_dm(
        self, text: str, *, sender_id: str, username: str, event_id: str | None = None
    ) -> str:
        """A one-to-one DM event, shaped like the documented `MessageCreate` event."""
        event = copy.deepcopy(load("twitter", "docs_v2_dm_event_message_create.json"))
        eid = event_id or self.next_id()
        pair = sorted([sender_id, self.account["id"]], key=int)
        event.update(
            id=eid,
            text=text,
            sender_id=sender_id,
            dm_conversation_id="-".join(pair),
            created_at=now_iso(),
        )
        if sender_id != self.account["id"]:
            self.add_user(sender_id, username)
        with self._lock:
            self.dm_events.append(event)
        return eid

    def fail_call(
        self, path: str, number: int, *, status: int, json: Any = None, **kw: Any
    ) -> None:
        """Answer the `number`-th call to `path` (counting from 1) like this, once."""
        self.faults[(path, number)] = Canned(status, json, None, dict(kw.get("headers") or {}))

    # -- what arrived ----------------------------------------------------------------------

    def tweets(self) -> list[dict[str, Any]]:
        return [c.json() for c in self.calls_to("/2/tweets")]

    def dms(self, user_id: str) -> list[str]:
        return [c.json()["text"] for c in self.calls_to(dm_path(user_id))]

    def wall_times(self, path: str) -> list[float]:
        """Wall-clock times (time.time()) of the calls to `path`, to compare with resets."""
        with self._lock:
            return [t for p, t in self.wall if p == path]

    # -- answering -------------------------------------------------------------------------

    def respond(self, call: Call) -> Canned | None:
        with self._lock:
            self.wall.append((call.path, time.time()))
            scripted = bool(self._queued.get(call.path))
            number = sum(1 for c in self.calls if c.path == call.path)
            fault = self.faults.pop((call.path, number), None)
        if fault is not None:
            return fault
        if scripted:
            return None
        if call.path == "/2/users/me":
            return Canned(200, {"data": self.account})
        if re.fullmatch(r"/2/users/\d+/mentions", call.path):
            return self._mentions(call)
        if call.path == "/2/tweets" and call.method == "POST":
            new = self.next_id()
            return Canned(
                201,
                {
                    "data": {
                        "id": new,
                        "text": call.json().get("text"),
                        "edit_history_tweet_ids": [new],
                    }
                },
            )
        if m := re.fullmatch(r"/2/dm_conversations/with/(\d+)/messages", call.path):
            pair = sorted([m.group(1), self.account["id"]], key=int)
            return Canned(
                201, {"data": {"dm_conversation_id": "-".join(pair), "dm_event_id": self.next_id()}}
            )
        if call.path == "/2/dm_events":
            return self._dm_events(call)
        return None

    @staticmethod
    def _param(call: Call, name: str) -> str | None:
        values = call.query.get(name)
        return values[-1] if values else None

    def _page(self, call: Call, items: list[dict[str, Any]], users: list[str]) -> dict[str, Any]:
        size = int(self._param(call, "max_results") or 10)
        offset = int(self._param(call, "pagination_token") or "0")
        page = items[offset : offset + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if offset + size < len(items):
            meta["next_token"] = str(offset + size)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = page
            wanted = {u for u in users if u in self.users}
            body["includes"] = {"users": [self.users[u] for u in sorted(wanted)]}
        return body

    def _mentions(self, call: Call) -> Canned:
        since = self._param(call, "since_id")
        start = self._param(call, "start_time")
        with self._lock:
            items = sorted(self.mentions, key=lambda t: int(t["id"]), reverse=True)
        if since and self.honour_since_id:
            items = [t for t in items if int(t["id"]) > int(since)]
        if start:
            items = [t for t in items if t["created_at"][:19] >= start[:19]]
        return Canned(200, self._page(call, items, [t["author_id"] for t in items]))

    def _dm_events(self, call: Call) -> Canned:
        with self._lock:
            items = sorted(self.dm_events, key=lambda e: int(e["id"]), reverse=True)
        return Canned(200, self._page(call, items, [e["sender_id"] for e in items]))


def dm_path(user_id: str) -> str:
    return f"/2/dm_conversations/with/{user_id}/messages"


def rate_limited(reset: int) -> dict[str, Any]:
    """`add_response` arguments for the documented 429 with an `x-rate-limit-reset`."""
    doc = load("twitter", "docs_v2_429_rate_limit_response.json")
    headers = dict(doc["headers_example"], **{"x-rate-limit-reset": str(reset)})
    return {"status": doc["status"], "json": doc["body"], "headers": headers}


# -- Account Activity webhook bodies ---------------------------------------------------------


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def signed_headers(body: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {"x-twitter-webhooks-signature": sign(body, secret), "content-type": "application/json"}


def activity_dm(
    text: str, *, sender_id: str, screen_name: str, for_user_id: str, event_id: str
) -> bytes:
    """`direct_message_events` as documented, from `sender_id` to the subscribed account."""
    body = load("twitter", "docs_aaa_direct_message_events.json")
    [event] = body["direct_message_events"]
    event["id"] = event_id
    event["created_timestamp"] = str(int(time.time() * 1000))
    event["message_create"]["sender_id"] = sender_id
    event["message_create"]["target"]["recipient_id"] = for_user_id
    event["message_create"]["message_data"]["text"] = text
    sender = dict(next(iter(body["users"].values())), id=sender_id, screen_name=screen_name)
    us = dict(list(body["users"].values())[-1], id=for_user_id)
    body["for_user_id"] = for_user_id
    body["users"] = {sender_id: sender, for_user_id: us}
    return json.dumps(body).encode()


def v1_tweet(
    text: str,
    *,
    tweet_id: str,
    author_id: str,
    screen_name: str,
    mentions: list[tuple[str, str]],
    retweet: bool = False,
) -> dict[str, Any]:
    """A v1.1 tweet as Account Activity sends it: the documented long-form tweet, filled in.

    The documentation elides its `user` object (`"user": { ... }`); the user here takes the
    shape of the users in the documented DM payload.
    """
    source = raw("twitter", "docs_aaa_tweet_create_events_longform.txt").decode()
    user_doc = next(iter(load("twitter", "docs_aaa_direct_message_events.json")["users"].values()))
    user = dict(user_doc, id=int(author_id), id_str=author_id, screen_name=screen_name)
    filled = source.replace('"user": { ... }', '"user": ' + json.dumps(user))
    [tweet] = json.loads(filled)["tweet_create_events"]
    user_mentions = [
        {
            "screen_name": name,
            "name": name,
            "id": int(uid),
            "id_str": uid,
            "indices": [0, len(name) + 1],
        }
        for uid, name in mentions
    ]
    tweet.update(id=int(tweet_id), id_str=tweet_id, text=text[:140], truncated=len(text) > 140)
    tweet["extended_tweet"]["full_text"] = text
    tweet["extended_tweet"]["entities"]["user_mentions"] = user_mentions
    tweet["entities"]["user_mentions"] = user_mentions if len(text) <= 140 else []
    if retweet:
        tweet["retweeted_status"] = copy.deepcopy(tweet)
    return tweet


def activity_tweets(*tweets: dict[str, Any], for_user_id: str, blocked: bool = False) -> bytes:
    """The documented mentions envelope (`user_has_blocked`) around v1.1 tweets."""
    source = raw("twitter", "docs_aaa_tweet_create_events_envelope_mentions.txt").decode()
    filled = re.sub(r"\{\s*<Tweet Object>\s*\}", lambda _: json.dumps(tweets[0]), source)
    body = json.loads(filled)
    body["tweet_create_events"] = list(tweets)
    body["for_user_id"] = for_user_id
    body["user_has_blocked"] = "true" if blocked else "false"
    return json.dumps(body).encode()


class MemoryCursors:
    """The `Cursors` the application keeps in its database, in a dict (for channel tests)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.fail = False

    async def get(self, key: str) -> str | None:
        if self.fail:
            raise OSError("database unavailable")
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        if self.fail:
            raise OSError("database unavailable")
        self.values[key] = value


# -- channel tests ---------------------------------------------------------------------------

KEYS = {
    "consumer_key": "test-consumer-key",
    "consumer_secret": WEBHOOK_SECRET,
    "access_token": "1111-test-access-token",
    "access_token_secret": "test-access-token-secret",
}


class Inbox:
    """Stands in for the application's inbox: keeps events, deduplicated on their event id."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.outcomes: list[IngestOutcome] = []
        self.fail = False
        self.fail_after: int | None = None
        self.refused = 0

    async def __call__(self, event: Event) -> IngestOutcome:
        if self.fail or (self.fail_after is not None and len(self.outcomes) >= self.fail_after):
            self.refused += 1
            raise OSError("database unavailable")
        if any(e.event_id == event.event_id for e in self.events):
            outcome = IngestOutcome.DUPLICATE
        else:
            self.events.append(event)
            outcome = IngestOutcome.ACCEPTED
        self.outcomes.append(outcome)
        return outcome

    @property
    def ids(self) -> list[str]:
        return [e.event_id for e in self.events]


async def started(fake: FakeXApi, cursors: MemoryCursors, **kw: object) -> XChannel:
    options: dict[str, object] = {"poll_interval": 1.0, "dm_poll_interval": 1.0, "page_size": 5}
    options.update(kw)
    channel = XChannel(cursors=cursors, api_url=fake.base_url, **{**KEYS, **options})  # type: ignore[arg-type]
    await channel.start()
    return channel
