"""MQTT through the whole app: readings over a threshold on the real Mosquitto become one
incident, recovery resolves it, junk is quarantined; a restarted broker is reconnected to.

The shared broker is Mosquitto on 127.0.0.1:1883 (anonymous); every test uses a topic prefix
of its own. Without a broker the tests skip (or fail under SWITCHBOARD_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from paho.mqtt import publish
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from bot.factories.mqtt import THRESHOLDS_KEY
from channels.base import IngestOutcome
from channels.conversation import Alert, Event
from channels.mqtt.channel import MqttChannel
from channels.mqtt.parse import Reading
from nlu.types import Understander
from store.enums import Status
from store.models import InboxEvent
from store.uow import UnitOfWork
from tests.conftest import missing_service
from tests.e2e.test_alerts import in_db, incidents, nothing_pending, settle

HOST, PORT = "127.0.0.1", 1883


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def prefix() -> str:
    if not reachable(HOST, PORT):
        missing_service(f"Mosquitto at {HOST}:{PORT}")
    return f"sbtest/{uuid.uuid4().hex[:10]}"


def mqtt_settings(settings: Settings, prefix: str) -> Settings:
    return settings.model_copy(
        update={
            "mqtt": settings.mqtt.model_copy(
                update={"url": f"mqtt://{HOST}:{PORT}", "topics": f"{prefix}/#"}
            )
        }
    )


def store_thresholds(settings: Settings, rules: list[dict[str, object]]) -> None:
    async def put(uow: UnitOfWork) -> None:
        await uow.cursors.set(THRESHOLDS_KEY, json.dumps(rules))

    in_db(settings, put)


def test_readings_over_a_threshold_are_one_incident_and_recovery_resolves_it(
    demo_settings: Settings, understander: Understander, prefix: str
) -> None:
    settings = mqtt_settings(demo_settings, prefix)
    store_thresholds(
        settings,
        [{"ci": "VPN", "metric": "latency_ms", "above": 500, "for": "1m", "severity": "critical"}],
    )
    app = create_app(settings, overrides=Overrides(understander=understander))
    topic = f"{prefix}/vpn-gw-1/latency"
    start = datetime.now(UTC) - timedelta(hours=1)
    with TestClient(app) as client:
        channel = app.state.container.channels["mqtt"]
        assert isinstance(channel, MqttChannel)
        deadline = time.monotonic() + 30
        while not channel.connected.is_set():
            assert time.monotonic() < deadline, "the subscriber did not connect"
            time.sleep(0.05)
        # Ten minutes of readings, one a second: a breach from minute 2, far beyond `for`.
        msgs = []
        for second in range(600):
            value = 800 if second >= 120 else 90
            body = {"ci": "VPN", "metric": "latency_ms", "value": value}
            body["at"] = (start + timedelta(seconds=second)).isoformat()
            msgs.append({"topic": topic, "payload": json.dumps(body), "qos": 1})
        msgs.append({"topic": topic, "payload": b"\x00junk", "qos": 1})
        publish.multiple(msgs, hostname=HOST, port=PORT)
        settle(settings, _incident_count(1))
        settle(settings, nothing_pending)
        [incident] = in_db(settings, incidents)
        assert incident.service is not None
        assert incident.service.name == "VPN"
        assert incident.priority is not None
        assert incident.priority.value == "P1"
        assert "latency_ms above 500 for 1m" in incident.title

        recovered = {"ci": "VPN", "metric": "latency_ms", "value": 80}
        recovered["at"] = (start + timedelta(seconds=601)).isoformat()
        publish.single(topic, json.dumps(recovered), qos=1, hostname=HOST, port=PORT)
        settle(settings, _status_of(incident.ref, Status.RESOLVED))
        assert len(in_db(settings, incidents)) == 1
        wait_for(lambda: channel.quarantined == 1)
        assert channel.received >= 602
        assert client.get("/healthz").status_code == 200


def test_an_event_over_mqtt_opens_an_incident_like_api_alerts(
    demo_settings: Settings, understander: Understander, prefix: str
) -> None:
    settings = mqtt_settings(demo_settings, prefix)
    app = create_app(settings, overrides=Overrides(understander=understander))
    event = {
        "source": "plc",
        "ci": "Email",
        "severity": "warning",
        "status": "firing",
        "fingerprint": f"{prefix}-mail",
        "summary": "Mail relay queue stuck",
    }
    with TestClient(app):
        channel = app.state.container.channels["mqtt"]
        wait_for(channel.connected.is_set)
        for _ in range(3):
            publish.single(f"{prefix}/plc", json.dumps(event), qos=1, hostname=HOST, port=PORT)
        settle(settings, _incident_count(1))
        settle(settings, nothing_pending)
        [incident] = in_db(settings, incidents)
        assert incident.title == "Mail relay queue stuck"


FLOOD_PER_SECOND = 1000
FLOOD_SECONDS = 60


def test_a_minute_of_a_thousand_readings_a_second_is_one_inbox_event(
    demo_settings: Settings, understander: Understander, prefix: str
) -> None:
    """The issue's flood: 60,000 readings on one topic, stamped a millisecond apart, all over
    the threshold. The judge absorbs them: the durable inbox gets one event (the breach),
    nothing is dropped or quarantined. Each second's thousand goes out when the subscriber
    has read the previous one, so the client buffer is never what absorbs them."""
    settings = mqtt_settings(demo_settings, prefix)
    store_thresholds(
        settings,
        [{"ci": "VPN", "metric": "latency_ms", "above": 500, "for": "30s", "severity": "warning"}],
    )
    app = create_app(settings, overrides=Overrides(understander=understander))
    topic = f"{prefix}/vpn-gw-1/latency"
    start = datetime.now(UTC) - timedelta(hours=1)
    with TestClient(app):
        channel = app.state.container.channels["mqtt"]
        assert isinstance(channel, MqttChannel)
        wait_for(channel.connected.is_set)
        before = in_db(settings, _inbox_count)
        sent = 0
        for second in range(FLOOD_SECONDS):
            msgs: list[tuple[str, str, int, bool]] = []
            for ms in range(FLOOD_PER_SECOND):
                at = start + timedelta(seconds=second, milliseconds=ms)
                body = {"ci": "VPN", "metric": "latency_ms", "value": 800, "at": at.isoformat()}
                msgs.append((topic, json.dumps(body), 0, False))
            publish.multiple(msgs, hostname=HOST, port=PORT)
            sent += len(msgs)
            wait_for(lambda n=sent: channel.received >= n)  # type: ignore[misc]
        assert channel.received == sent == FLOOD_SECONDS * FLOOD_PER_SECOND
        assert channel.quarantined == 0
        settle(settings, _incident_count(1))
        settle(settings, nothing_pending)
        assert in_db(settings, _inbox_count) - before == 1
        [incident] = in_db(settings, incidents)
        assert "latency_ms above 500 for 30s" in incident.title


async def _inbox_count(uow: UnitOfWork) -> int:
    stmt = select(func.count(InboxEvent.id))
    return int((await uow.session.execute(stmt)).scalar_one())


def wait_for(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _incident_count(n: int) -> Callable[[UnitOfWork], Awaitable[bool]]:
    async def check(uow: UnitOfWork) -> bool:
        return len(await incidents(uow)) >= n

    return check


def _status_of(ref: str, status: Status) -> Callable[[UnitOfWork], Awaitable[bool]]:
    async def check(uow: UnitOfWork) -> bool:
        ticket = await uow.tickets.by_ref(ref)
        return ticket is not None and ticket.status is status

    return check


# -- a private broker that goes away and comes back ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """A Mosquitto of our own on a free port, to stop and start again."""

    def __init__(self, binary: str, conf: Path) -> None:
        self.port = _free_port()
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        self.argv = [binary, "-c", str(conf)]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(lambda: reachable("127.0.0.1", self.port), 10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[Broker]:
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if binary is None:
        pytest.skip("no mosquitto binary")
    broker = Broker(binary, tmp_path / "mosquitto.conf")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_subscriber_reconnects_when_the_broker_restarts(private_broker: Broker) -> None:
    port, start, stop = private_broker.port, private_broker.start, private_broker.stop
    got: list[str] = []
    waits: list[float] = []

    class Backoff:
        def failed(self, error: BaseException) -> float:
            waits.append(0.2)
            return 0.2

        def recovered(self) -> None:
            return None

    async def judge(reading: Reading) -> list[Alert]:
        return []

    async def ingest(event: Event) -> IngestOutcome:
        got.append(event.event_id)
        return IngestOutcome.ACCEPTED

    channel = MqttChannel(
        url=f"mqtt://127.0.0.1:{port}", topics=["dev/#"], judge=judge, backoff=Backoff()
    )

    def event(n: int) -> str:
        return json.dumps({"status": "firing", "fingerprint": f"fp{n}", "ci": "x"})

    async def scenario() -> None:
        stop_event = asyncio.Event()
        task = asyncio.create_task(channel.run(ingest, stop_event))
        await _until(channel.connected.is_set)
        await asyncio.to_thread(publish.single, "dev/a", event(1), hostname="127.0.0.1", port=port)
        await _until(lambda: len(got) == 1)
        stop()
        await _until(lambda: not channel.connected.is_set())
        await asyncio.sleep(0.5)  # a few failed reconnects while the broker is away
        assert not task.done()
        start()
        await _until(channel.connected.is_set)
        await asyncio.to_thread(publish.single, "dev/a", event(2), hostname="127.0.0.1", port=port)
        await _until(lambda: len(got) == 2)
        stop_event.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    assert [g.split(":")[0] for g in got] == ["fp1", "fp2"]
    assert waits, "no back-off was asked for while the broker was away"


async def _until(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
