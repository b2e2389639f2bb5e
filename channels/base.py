"""The protocol every platform module implements, and the errors channels raise."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Protocol, runtime_checkable

from starlette.routing import BaseRoute

from channels.conversation import Address, Event, Identity, Reply


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
