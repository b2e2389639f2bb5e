"""A local Slack Web API: answers the methods Switchboard calls the way Slack does.

Real `slack_sdk` clients reach it through `SLACK_API_URL` (`fake.api_url`). It keeps the
messages it was sent, so `conversations.history` can find them (with their metadata) and
tests can read what a person would see. Answers scripted with `add_response` win over
the built-in behaviour, which is how tests make Slack rate-limit or fail.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import Call, Canned, FakeApi

BOT_USER = "U0SWITCH"
BOT_ID = "B0SWITCH"
TEAM = "T111"


@dataclass
class Posted:
    """A message as the fake stored it."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)
    shown_to: str | None = None
    """For an ephemeral message, the one user who sees it."""
    user: str = BOT_USER
    """Who wrote it: the bot, unless a test had a person write it (`FakeSlackApi.say`)."""

    def as_slack(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "blocks": self.blocks,
        }
        if self.user == BOT_USER:
            out["bot_id"] = BOT_ID
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.metadata:
            out["metadata"] = self.metadata
        return out


class FakeSlackApi(FakeApi):
    """`auth.test`, `chat.*`, `users.info`, `views.*` and `conversations.*` like Slack.

    `users` maps a user id to `{"email": ..., "real_name": ...}`. Ephemeral messages are
    kept apart in `ephemeral`: they never appear in a conversation's history. `members`,
    when set, maps a channel to the users in it; `chat.postEphemeral` to anyone else fails
    with `user_not_in_channel`, as on Slack.
    """

    def __init__(self, users: dict[str, dict[str, str]] | None = None) -> None:
        super().__init__()
        self.users = dict(users or {})
        self.posted: list[Posted] = []
        self.ephemeral: list[Posted] = []
        self.members: dict[str, set[str]] = {}
        self.reactions: list[tuple[str, str, str]] = []
        """`(channel, ts, name)` of every reaction the bot added."""
        self.created: dict[str, str] = {}
        """Channels the bot created (`conversations.create`): name → id."""
        self.pins: list[tuple[str, str]] = []
        """`(channel, ts)` of every message the bot pinned."""
        self._ts = itertools.count(1)
        self._store = threading.Lock()

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    # -- inspection ----------------------------------------------------------------------

    def args(self, call: Call) -> dict[str, Any]:
        """A call's arguments, from the query string and a JSON or form body alike."""
        merged: dict[str, Any] = {k: v[-1] for k, v in call.query.items()}
        if call.body:
            merged.update(call.data())
        return merged

    def sent(self, method: str) -> list[dict[str, Any]]:
        return [self.args(c) for c in self.calls_to(f"/api/{method}")]

    def in_channel(self, channel: str) -> list[Posted]:
        with self._store:
            return [p for p in self.posted if p.channel == channel]

    def say(self, channel: str, user: str, text: str, *, thread_ts: str | None = None) -> str:
        """A person's message in a channel (as if written in Slack); its ts."""
        posted = Posted(
            channel=channel,
            ts=self._next_ts(),
            text=text,
            blocks=[],
            thread_ts=thread_ts,
            user=user,
        )
        with self._store:
            self.posted.append(posted)
        return posted.ts

    def by_bot(self, channel: str) -> list[Posted]:
        """What the bot posted in a channel (people's messages left out)."""
        return [p for p in self.in_channel(channel) if p.user == BOT_USER]

    # -- answers -------------------------------------------------------------------------

    def respond(self, call: Call) -> Canned | None:
        with self._lock:
            if self._queued.get(call.path):
                return None  # a scripted answer goes first
        method = call.path.rsplit("/", 1)[-1]
        answer = getattr(self, "_" + method.replace(".", "_"), None)
        if answer is None:
            return None
        return Canned(200, {"ok": True, **answer(self.args(call))})

    def _next_ts(self) -> str:
        n = next(self._ts)
        return f"{1700000000 + n}.{n:06d}"

    @staticmethod
    def _dm(channel: str) -> str:
        # Posting to a user id lands in the bot's DM with them.
        return "D" + channel[1:] if channel[:1] in ("U", "W") else channel

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://example.slack.com/",
            "team": "Example",
            "user": "switchboard",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
        }

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._dm(str(args["channel"]))
        posted = Posted(
            channel=channel,
            ts=self._next_ts(),
            text=str(args.get("text") or ""),
            blocks=list(args.get("blocks") or []),
            thread_ts=args.get("thread_ts"),
            metadata=args.get("metadata"),
        )
        with self._store:
            self.posted.append(posted)
        return {"channel": channel, "ts": posted.ts, "message": posted.as_slack()}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, user = str(args["channel"]), str(args["user"])
        members = self.members.get(channel)
        if members is not None and user not in members:
            return {"ok": False, "error": "user_not_in_channel"}
        shown = Posted(
            channel=channel,
            ts=self._next_ts(),
            text=str(args.get("text") or ""),
            blocks=list(args.get("blocks") or []),
            thread_ts=args.get("thread_ts"),
            shown_to=user,
        )
        with self._store:
            self.ephemeral.append(shown)
        return {"message_ts": shown.ts}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args["channel"]), str(args["ts"])
        with self._store:
            for p in self.posted:
                if p.channel == channel and p.ts == ts:
                    p.updates.append(args)
                    p.text = str(args.get("text") or p.text)
                    p.blocks = list(args.get("blocks") or p.blocks)
        return {"channel": channel, "ts": ts, "text": args.get("text")}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args["channel"])
        with self._store:
            found = [
                p
                for p in reversed(self.posted)
                if p.channel == channel and (p.thread_ts is None or p.thread_ts == p.ts)
            ]
        latest = args.get("latest")
        if latest:
            inclusive = str(args.get("inclusive")).lower() in ("1", "true")
            found = [
                p
                for p in found
                if float(p.ts) < float(latest) or (inclusive and p.ts == str(latest))
            ]
        limit = int(args.get("limit") or 100)
        return {"messages": [p.as_slack() for p in found[:limit]], "has_more": False}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args["channel"]), str(args["ts"])
        with self._store:
            found = [
                p.as_slack()
                for p in self.posted
                if p.channel == channel and (p.thread_ts == ts or p.ts == ts)
            ]
        return {"messages": found, "has_more": False}

    def _chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args["channel"]), str(args["message_ts"])
        return {
            "channel": channel,
            "permalink": f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (str(args["channel"]), str(args["timestamp"]), str(args["name"]))
        with self._store:
            if key in self.reactions:
                return {"ok": False, "error": "already_reacted"}
            self.reactions.append(key)
        return {}

    def _conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name") or "")
        with self._store:
            if not name or name in self.created:
                return {"ok": False, "error": "name_taken" if name else "invalid_name_required"}
            channel = f"C{len(self.created) + 1:03d}{name.upper().replace('-', '')[:12]}"
            self.created[name] = channel
            self.members[channel] = {BOT_USER}
        return {"channel": {"id": channel, "name": name, "is_channel": True}}

    def _conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args["channel"])
        users = [u for u in str(args.get("users") or "").split(",") if u]
        with self._store:
            self.members.setdefault(channel, set()).update(users)
        return {"channel": {"id": channel}}

    def _pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._store:
            self.pins.append((str(args["channel"]), str(args["timestamp"])))
        return {}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": {"id": self._dm(str(args["users"]).split(",")[0])}}

    def _conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": {"id": args["channel"]}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any] | None:
        user = str(args.get("user") or "")
        known = self.users.get(user)
        if known is None:
            return {"user": {"id": user, "name": user.lower(), "profile": {}}}
        return {
            "user": {
                "id": user,
                "team_id": TEAM,
                "name": known.get("email", "").split("@")[0],
                "deleted": False,
                "is_bot": False,
                "profile": {
                    "real_name": known.get("real_name", ""),
                    "display_name": known.get("real_name", ""),
                    "email": known.get("email"),
                },
            }
        }

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"view": {"id": f"V{next(self._ts):06d}", **(args.get("view") or {})}}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"view": {"id": f"V{next(self._ts):06d}", **(args.get("view") or {})}}
