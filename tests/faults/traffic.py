"""Steady web chat traffic from a background thread, counting every answer it gets."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import httpx

from tests.integration.load import TEXT


class Traffic(threading.Thread):
    """New visitors each sending one message, `rate` per second, until `halt()`.

    `answers` counts the status of every message post (or the transport error's name);
    `accepted` is how many the web role acknowledged.
    """

    def __init__(self, base_url: str, *, rate: float) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.interval = 1.0 / rate
        self.answers: Counter[int | str] = Counter()
        self._halt = threading.Event()
        self._lock = threading.Lock()

    @property
    def accepted(self) -> int:
        with self._lock:
            return self.answers[202]

    def snapshot(self) -> Counter[int | str]:
        with self._lock:
            return Counter(self.answers)

    def _count(self, key: int | str) -> None:
        with self._lock:
            self.answers[key] += 1

    def run(self) -> None:
        sent = 0
        next_at = time.monotonic()
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while not self._halt.is_set():
                try:
                    token = client.post("/webchat/session").json()["token"]
                    res = client.post(
                        "/webchat/messages",
                        json={"id": uuid.uuid4().hex, "text": f"{TEXT} ({sent})"},
                        headers={"X-Webchat-Token": token},
                    )
                    self._count(res.status_code)
                except (httpx.HTTPError, ValueError, KeyError) as e:
                    self._count(type(e).__name__)
                sent += 1
                next_at += self.interval
                self._halt.wait(max(0.0, next_at - time.monotonic()))

    def halt(self) -> None:
        self._halt.set()
        self.join(timeout=30)
