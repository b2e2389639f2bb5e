"""The protocol every platform module implements, and the errors channels raise."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from channels.conversation import Address, Event, Identity, Reply

if TYPE_CHECKING:
    # Only the web role, which serves the routes, loads Starlette; a worker only sends.
    from starlette.routing import BaseRoute


class IngestOutcome(StrEnum):
    """What the inbox made of an event."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


Ingest = Callable[[Event], Awaitable[IngestOutcome]]
"""Hands a normalised event to the durable inbox; returns once it is stored."""

Reject = Callable[[str, str], None]
"""Counts an inbound request a channel refused: `(platform, reason)`."""


class ChannelError(Exception):
    """Root of every error a channel raises."""

    def __init__(self, message: str, *, platform: str = "") -> None:
        super().__init__(message)
        self.platform = platform


class SignatureError(ChannelError):
    """The request is not signed by the platform (forged, replayed or unsigned): HTTP 401."""


class PayloadError(ChannelError):
    """The request is signed but its body cannot be understood: HTTP 400."""


class ConfigurationError(ChannelError):
    """The channel cannot run with the settings it was given."""


class DeliveryError(ChannelError):
    """The platform did not take a reply.

    `retry_after` is the wait the platform asked for (seconds), `permanent` means retrying
    cannot help (unknown chat, blocked bot, opted out), and `ambiguous` means the request may
    have reached the platform (a timeout after sending), so resending could post twice.
    `hold` means the reply waits on the person, not the platform (Meta's messaging window is
    closed until they write again): only this reply is tried again after `retry_after`, the
    wait pauses nothing else and does not count as a failed attempt.
    """

    def __init__(
        self,
        message: str,
        *,
        platform: str = "",
        retry_after: float | None = None,
        permanent: bool = False,
        ambiguous: bool = False,
        hold: bool = False,
    ) -> None:
        super().__init__(message, platform=platform)
        self.retry_after = retry_after
        self.permanent = permanent
        self.ambiguous = ambiguous
        self.hold = hold


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """A reply the platform accepted: its id there, so later updates can edit it."""

    external_id: str | None = None
    detail: str = ""


@runtime_checkable
class Channel(Protocol):
    """One platform: inbound routes that verify and normalise, outbound delivery of replies.

    `platforms` lists the `Address.channel` values this module delivers to (Twilio serves
    both `sms` and `whatsapp`).
    """

    name: ClassVar[str]
    platforms: ClassVar[tuple[str, ...]]

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        """Starlette routes of the ack path: verify, parse, `ingest`, answer.

        No NLU and no slow work; a platform may still need one quick call of its own before
        it can answer (Slack's `auth.test` on the first event, `views.open` within 3 s).
        """
        ...

    async def start(self) -> None:
        """Open clients (inside the running event loop)."""
        ...

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Deliver one reply, raising `DeliveryError` when the platform refuses it."""
        ...

    async def aclose(self) -> None:
        """Close clients."""
        ...


class Cursors(Protocol):
    """Small durable values a channel keeps between runs (a polling position), kept by the app."""

    async def get(self, key: str) -> str | None:
        """The value kept under `key`, or None before the first `set`."""
        ...

    async def set(self, key: str, value: str) -> None:
        """Keep `value` under `key`, replacing the last one."""
        ...


class MemoryCursors:
    """`Cursors` kept in memory, for a channel run without the application's store."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        """The value kept under `key` in this process, or None."""
        return self._values.get(key)

    async def set(self, key: str, value: str) -> None:
        """Keep `value` under `key` until the process ends."""
        self._values[key] = value


class StateEntry(Protocol):
    """One stored value of `PlatformStateStore` and its version, which every write raises."""

    @property
    def value(self) -> str:
        """The stored text; empty means nothing stored."""
        ...

    @property
    def version(self) -> int:
        """How many times the value was written."""
        ...

    @property
    def updated_at(self) -> datetime:
        """When the value was last written."""
        ...


class PlatformStateStore(Protocol):
    """What a platform's messaging rules remember per address, kept by the app.

    Opt-outs, a messaging window's last customer message, the choices a text offered, a
    claim on the one public reply: each is a text `value` under `(kind, channel, address)`
    with a `version`. Every operation is one statement in its own transaction, durable when
    it returns and atomic across processes, so two workers can never both win a claim or
    lose each other's update. An empty value means the same as no value.
    """

    async def get(self, kind: str, channel: str, address: str) -> StateEntry | None:
        """The stored value and its version, or None."""
        ...

    async def put(self, kind: str, channel: str, address: str, value: str) -> StateEntry:
        """Store `value` whatever was there (one upsert); the entry as written."""
        ...

    async def compare_and_set(
        self, kind: str, channel: str, address: str, expected: int | None, value: str
    ) -> StateEntry | None:
        """Store `value` only if the version is still `expected` (None: nothing stored yet).

        Returns the entry as written, or None when another writer got there first: of
        several callers expecting the same version, exactly one succeeds.
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredState:
    """A `StateEntry` held in memory."""

    value: str
    version: int
    updated_at: datetime


class MemoryPlatformState:
    """`PlatformStateStore` kept in memory, for a channel run without the application's store.

    No await falls between a check and its write, so operations are atomic within the loop.
    """

    def __init__(self) -> None:
        self.values: dict[tuple[str, str, str], StoredState] = {}

    async def get(self, kind: str, channel: str, address: str) -> StoredState | None:
        """The stored value and its version, or None."""
        return self.values.get((kind, channel, address))

    async def put(self, kind: str, channel: str, address: str, value: str) -> StoredState:
        """Store `value` whatever was there; the entry as written."""
        key = (kind, channel, address)
        current = self.values.get(key)
        entry = StoredState(
            value=value,
            version=current.version + 1 if current else 1,
            updated_at=datetime.now(UTC),
        )
        self.values[key] = entry
        return entry

    async def compare_and_set(
        self, kind: str, channel: str, address: str, expected: int | None, value: str
    ) -> StoredState | None:
        """Store `value` only if the version is still `expected`; None when it is not."""
        current = self.values.get((kind, channel, address))
        if (current.version if current else None) != expected:
            return None
        return await self.put(kind, channel, address, value)


class StateConflictError(ChannelError):
    """A stored value kept changing under a read-modify-write; nothing was written."""


LegacyKey = Callable[[str, str, str], str]
"""The `Cursors` key older releases kept a `(kind, channel, address)` value under."""


class RuleState:
    """A `PlatformStateStore` as a channel's rules use it.

    `update` is read-modify-write through compare-and-set, retried while other writers win.
    With `legacy`, a value not in the store yet is read once from where older releases kept
    it (`Cursors` under `legacy_key`) and copied over, so nothing stored before an upgrade
    (an opt-out above all) is forgotten; an absent one is stored as "" so the old place is
    asked only once per address.
    """

    ATTEMPTS = 20

    def __init__(
        self,
        store: PlatformStateStore,
        *,
        legacy: Cursors | None = None,
        legacy_key: LegacyKey | None = None,
    ) -> None:
        self.store = store
        self._legacy = legacy if legacy_key is not None else None
        self._legacy_key = legacy_key

    async def get(self, kind: str, channel: str, address: str) -> StateEntry | None:
        """The stored entry, after the one-time look in the legacy place."""
        entry = await self.store.get(kind, channel, address)
        if entry is not None or self._legacy is None or self._legacy_key is None:
            return entry
        old = await self._legacy.get(self._legacy_key(kind, channel, address))
        copied = await self.store.compare_and_set(kind, channel, address, None, old or "")
        return copied or await self.store.get(kind, channel, address)

    async def value(self, kind: str, channel: str, address: str) -> str:
        """The stored value, "" when there is none."""
        entry = await self.get(kind, channel, address)
        return entry.value if entry is not None else ""

    async def put(self, kind: str, channel: str, address: str, value: str) -> StateEntry:
        """Store `value` whatever was there."""
        return await self.store.put(kind, channel, address, value)

    async def compare_and_set(
        self, kind: str, channel: str, address: str, expected: int | None, value: str
    ) -> StateEntry | None:
        """See `PlatformStateStore.compare_and_set`."""
        return await self.store.compare_and_set(kind, channel, address, expected, value)

    async def update(
        self, kind: str, channel: str, address: str, change: Callable[[str], str | None]
    ) -> tuple[str, StateEntry] | None:
        """Replace the value with `change(current)` unless it returns None.

        Returns the value replaced and the entry written, or None when `change` declined;
        `change` is asked again with the newer value whenever another writer came first.
        """
        for _ in range(self.ATTEMPTS):
            current = await self.get(kind, channel, address)
            before = current.value if current is not None else ""
            after = change(before)
            if after is None:
                return None
            expected = current.version if current is not None else None
            written = await self.store.compare_and_set(kind, channel, address, expected, after)
            if written is not None:
                return before, written
        raise StateConflictError(f"{kind} state of {channel} kept changing", platform=channel)


@runtime_checkable
class ProfileSource(Protocol):
    """A channel that can tell more about a sender than the event carried (Slack `users.info`).

    The worker asks once, when a platform identity is seen for the first time.
    """

    async def profile(self, identity: Identity) -> Identity:
        """The identity with whatever the platform knows added (email, display name)."""
        ...


@runtime_checkable
class PollingChannel(Channel, Protocol):
    """A channel that also pulls events (mentions polling, long polling, Socket Mode)."""

    @property
    def polls(self) -> bool:
        """Whether `run` has anything to pull with this configuration (else it is never started)."""
        ...

    async def run(self, ingest: Ingest, stop: asyncio.Event) -> None:
        """Pull events and ingest them until `stop` is set."""
        ...
