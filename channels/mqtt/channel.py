"""`MqttChannel`: subscribes to device topics on the worker leader and ingests alerts.

Events are ingested as they come; readings go to a judge (the application's thresholds)
that answers with the alerts a breach starts or ends, usually none, so a flood of readings
never reaches the inbox. A message that cannot be read is quarantined (kept in a short
ring, counted, logged sparingly) and the subscriber carries on. When the broker goes away
the subscriber reconnects after a back-off the application supplies, and resubscribes. An
alert the inbox refused (the database away) is kept and tried again with the next message and
every few seconds meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import ClassVar, Protocol
from urllib.parse import unquote, urlsplit

import aiomqtt
import structlog
from starlette.routing import BaseRoute

from channels.base import ConfigurationError, Delivery, Ingest, PayloadError
from channels.conversation import Address, Alert, Reply
from channels.mqtt.parse import PLATFORM, Reading, parse_message

log = structlog.get_logger(__name__)

Judge = Callable[[Reading], Awaitable[list[Alert]]]
"""A reading → the alerts it starts or ends."""

Quarantine = Callable[[str, str], None]
"""Told of each message set aside: its topic and why."""

MAX_QUEUED = 10_000
"""Messages the client buffers before it drops new ones (a flood the judge cannot keep up with)."""

KEPT = 100
"""Quarantined messages kept for inspection."""

_LOG_EVERY = 1000

RETRY_SECONDS = 5.0
"""How often alerts the inbox refused are tried again while no message arrives."""


class Backoff(Protocol):
    """How long to wait after a failed connection, and when the connection is back."""

    def failed(self, error: BaseException) -> float:
        """Record a failed connection; the seconds to wait before the next try."""
        ...

    def recovered(self) -> None:
        """Record that the connection is back."""
        ...


class _FixedBackoff:
    def __init__(self, seconds: float = 1.0) -> None:
        self.seconds = seconds

    def failed(self, error: BaseException) -> float:
        return self.seconds

    def recovered(self) -> None:
        return None


def broker(url: str) -> tuple[str, int, str | None, str | None, bool]:
    """`mqtt://[user:password@]host[:port]` (or `mqtts://`): host, port, user, password, TLS."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise ConfigurationError("MQTT_URL must look like mqtt://host:1883", platform=PLATFORM)
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as e:
        raise ConfigurationError("MQTT_URL has an invalid port", platform=PLATFORM) from e
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, port, user, password, tls


def topic_filters(raw: str) -> list[str]:
    """`MQTT_TOPICS`: comma-separated topic filters."""
    topics = [t.strip() for t in raw.split(",") if t.strip()]
    if not topics:
        raise ConfigurationError("MQTT_TOPICS names no topic", platform=PLATFORM)
    return topics


class MqttChannel:
    """Device telemetry and events from an MQTT broker; nothing is sent back."""

    name: ClassVar[str] = PLATFORM
    platforms: ClassVar[tuple[str, ...]] = (PLATFORM,)

    def __init__(
        self,
        *,
        url: str,
        topics: Sequence[str],
        judge: Judge,
        backoff: Backoff | None = None,
        quarantine: Quarantine | None = None,
        identifier: str | None = None,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.host, self.port, self._user, self._password, self._tls = broker(url)
        self.topics = list(topics)
        self._judge = judge
        self._backoff = backoff or _FixedBackoff()
        self._on_quarantine = quarantine
        self.identifier = identifier or f"switchboard-{socket.gethostname()}-{os.getpid()}"
        self.quarantined = 0
        self.kept: deque[tuple[str, str, bytes]] = deque(maxlen=KEPT)
        self.received = 0
        self.connected = asyncio.Event()
        # Alerts a failed ingest left behind: tried again before the next message's.
        self._unsent: deque[Alert] = deque(maxlen=1000)
        self._flushing = asyncio.Lock()
        self.retry_seconds = retry_seconds

    @property
    def polls(self) -> bool:
        """Always: messages arrive only through the subscription `run` holds."""
        return True

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        """None: the broker is subscribed to, never posted from."""
        return []

    async def start(self) -> None:
        """Nothing to open: `run` connects, and reconnects, by itself."""

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Devices take no replies; the reply is recorded as delivered."""
        return Delivery(detail="MQTT devices take no replies")

    async def aclose(self) -> None:
        """Nothing to close: the connection ends with `run`."""

    async def run(self, ingest: Ingest, stop: asyncio.Event) -> None:
        """Subscribe and ingest until `stop` is set, reconnecting whenever the broker goes."""
        while not stop.is_set():
            try:
                async with self._client() as client:
                    for topic in self.topics:
                        await client.subscribe(topic, qos=1)
                    self._backoff.recovered()
                    self.connected.set()
                    log.info("mqtt.subscribed", host=self.host, port=self.port, topics=self.topics)
                    await self._until_stopped(self._consume(client, ingest), stop)
            except aiomqtt.MqttError as e:
                self.connected.clear()
                await _sleep_or_stop(stop, self._backoff.failed(e))
            finally:
                self.connected.clear()

    def _client(self) -> aiomqtt.Client:
        tls = aiomqtt.TLSParameters() if self._tls else None
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self._user,
            password=self._password,
            identifier=self.identifier,
            keepalive=30,
            timeout=10,
            tls_params=tls,
            max_queued_incoming_messages=MAX_QUEUED,
        )

    async def _until_stopped(self, work: Awaitable[None], stop: asyncio.Event) -> None:
        consumer = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not consumer.done():
                consumer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer
        if consumer.done() and not consumer.cancelled():
            consumer.result()

    async def _consume(self, client: aiomqtt.Client, ingest: Ingest) -> None:
        retrying = asyncio.ensure_future(self.retry_unsent(ingest))
        try:
            async for message in client.messages:
                self.received += 1
                payload = message.payload
                body = payload if isinstance(payload, bytes) else str(payload or "").encode()
                await self.handle(message.topic.value, body, ingest)
        finally:
            retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retrying

    async def retry_unsent(self, ingest: Ingest) -> None:
        """Try the alerts the inbox refused again every `retry_seconds`.

        A breach raised just before the database went away is then not left waiting for the
        device's next message (a quiet sensor may send none for a long time).
        """
        while True:
            await asyncio.sleep(self.retry_seconds)
            if self._unsent:
                await self._flush("", b"", ingest)

    async def handle(self, topic: str, payload: bytes, ingest: Ingest) -> None:
        """One message: an event ingested, a reading judged, anything else quarantined."""
        try:
            item = parse_message(topic, payload, datetime.now(UTC))
        except PayloadError as e:
            self._quarantine(topic, str(e), payload)
            return
        alerts = [item] if isinstance(item, Alert) else await self._judge(item)
        self._unsent.extend(alerts)
        if self._unsent:
            await self._flush(topic, payload, ingest)

    async def _flush(self, topic: str, payload: bytes, ingest: Ingest) -> None:
        # One flush at a time, so the retry and a new message never ingest the same alert twice.
        async with self._flushing:
            while self._unsent:
                alert = self._unsent[0]
                try:
                    await ingest(alert)
                except PayloadError as e:
                    self._quarantine(topic or alert.source, str(e), payload)
                except Exception as e:
                    # The inbox is away: keep the alert for the next message or round.
                    log.warning("mqtt.ingest_failed", error=f"{type(e).__name__}: {e}"[:200])
                    return
                self._unsent.popleft()

    def _quarantine(self, topic: str, reason: str, payload: bytes) -> None:
        self.quarantined += 1
        self.kept.append((topic, reason, payload[:1024]))
        if self._on_quarantine is not None:
            self._on_quarantine(topic, reason)
        if self.quarantined % _LOG_EVERY == 1:
            log.warning(
                "mqtt.quarantined", topic=topic[:200], reason=reason, total=self.quarantined
            )


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
