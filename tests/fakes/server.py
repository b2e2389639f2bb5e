"""A real HTTP server on 127.0.0.1:0 that plays a platform's API in tests.

Real SDK clients reach it through their base-URL setting. Each test scripts answers with
`add_response` (queued per path, then the default) and inspects what arrived with `calls`.
Runs in its own thread, so it serves sync and async tests alike.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def data(self) -> dict[str, Any]:
        """The body as a dict, whether it was sent as JSON or as a form."""
        ctype = self.headers.get("content-type", "")
        if "json" in ctype:
            loaded = self.json()
            return loaded if isinstance(loaded, dict) else {}
        return dict(self.form())


@dataclass
class Canned:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # Close the connection without answering (after doing whatever the request asked).
    drop: bool = False


@dataclass
class Throttle:
    """Answer `refusal` to requests that come sooner than `interval` after the last accepted
    one with the same key (a platform's per-channel rate limit)."""

    interval: float
    key: Callable[[Call], str]
    refusal: Canned
    last: dict[str, float] = field(default_factory=dict)


Responder = Callable[[Call], Canned | None]


class FakeApi:
    """Subclass and override `respond` for dynamic answers; script fixed ones with add_response."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[Canned]] = defaultdict(deque)
        self._defaults: dict[str, Canned] = {}
        self._faults: dict[str, deque[tuple[str, float]]] = defaultdict(deque)
        self._throttles: dict[str, Throttle] = {}
        self.refused: list[Call] = []
        self._lock = threading.Lock()
        self.calls: list[Call] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -----------------------------------------------------------------------

    def add_response(
        self,
        path: str,
        *,
        status: int = 200,
        json: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Answer the next `times` requests to `path` like this."""
        canned = Canned(status, json, body, dict(headers or {}), delay)
        with self._lock:
            for _ in range(times):
                self._queued[path].append(canned)

    def set_default(
        self,
        path: str,
        *,
        status: int = 200,
        json: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._defaults[path] = Canned(status, json, body, dict(headers or {}))

    def add_fault(self, path: str, kind: str, *, seconds: float = 0.0, times: int = 1) -> None:
        """Misbehave on the next `times` requests to `path`, after acting on them.

        `hang` answers only after `seconds` (past the client's timeout); `drop` closes the
        connection without an answer. Either way the request took effect, as when a
        platform posts a message and the answer is lost on the way back.
        """
        if kind not in ("hang", "drop"):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            for _ in range(times):
                self._faults[path].append((kind, seconds))

    def throttle(
        self,
        path: str,
        *,
        per_second: float,
        key: Callable[[Call], str] = lambda call: "",
        status: int = 429,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Refuse requests to `path` beyond `per_second` per `key` with the given answer."""
        refusal = Canned(status, json, None, dict(headers or {}))
        self._throttles[path] = Throttle(1.0 / per_second, key, refusal)

    def respond(self, call: Call) -> Canned | None:
        """Dynamic answers; None falls back to the scripted ones."""
        return None

    def calls_to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def last(self, path: str) -> Call:
        calls = self.calls_to(path)
        assert calls, f"no call to {path}; got {[c.path for c in self.calls]}"
        return calls[-1]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until `count` calls reached `path` (the pipeline sends asynchronously)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls_to(path)
            if len(calls) >= count:
                return calls
            time.sleep(0.01)
        raise AssertionError(
            f"expected {count} call(s) to {path}, got {len(self.calls_to(path))}: "
            f"{[c.path for c in self.calls]}"
        )

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._queued.clear()
            self._faults.clear()
            self.refused.clear()

    # -- serving -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _answer(self, call: Call) -> Canned:
        throttle = self._throttles.get(call.path)
        if throttle is not None:
            key, now = throttle.key(call), time.monotonic()
            with self._lock:
                if now - throttle.last.get(key, float("-inf")) < throttle.interval:
                    self.refused.append(call)
                    return throttle.refusal
                throttle.last[key] = now
        with self._lock:
            faults = self._faults.get(call.path)
            fault = faults.popleft() if faults else None
        canned = self._normal_answer(call)
        if fault is None:
            return canned
        kind, seconds = fault
        return replace(canned, delay=seconds if kind == "hang" else 0.0, drop=kind == "drop")

    def _normal_answer(self, call: Call) -> Canned:
        dynamic = self.respond(call)
        if dynamic is not None:
            return dynamic
        with self._lock:
            queue = self._queued.get(call.path)
            if queue:
                return queue.popleft()
        if call.path in self._defaults:
            return self._defaults[call.path]
        return Canned(404, {"error": f"no answer scripted for {call.path}"})

    def start(self) -> FakeApi:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                call = Call(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with fake._lock:
                    fake.calls.append(call)
                canned = fake._answer(call)
                if canned.delay:
                    time.sleep(canned.delay)
                if canned.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                payload = canned.body
                ctype = canned.headers.get("Content-Type", "application/json")
                if payload is None:
                    payload = json.dumps(canned.json if canned.json is not None else {}).encode()
                self.send_response(canned.status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                for k, v in canned.headers.items():
                    if k.lower() not in {"content-type", "content-length"}:
                        self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
