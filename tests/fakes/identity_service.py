"""An identity service for catalog automations: checks each POST's signature, answers by path.

`/reset` works, `/refuse` answers 422, `/flaky` fails once with 503 and then works, and any
other path answers too late for the automation's timeout.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "automation-test-secret"
"""The `WEBHOOK_SECRET` the app signs automation calls with in these tests."""


class FakeIdentityService:
    """Records every POST (path, headers, body) and answers by path."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake.lock:
                    fake.calls.append((self.path, dict(self.headers.items()), body))
                    seen = sum(1 for p, _, _ in fake.calls if p == self.path)
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(
                    self.headers.get("X-Switchboard-Signature", ""), expected
                ):
                    self._answer(401, {"detail": "bad signature"})
                elif self.path == "/reset":
                    self._answer(200, {"message": "reset link sent"})
                elif self.path == "/refuse":
                    self._answer(422, {"detail": "unknown user"})
                elif self.path == "/flaky":
                    self._answer(503 if seen == 1 else 200, {"message": f"try {seen}"})
                else:
                    time.sleep(1.5)
                    self._answer(200, {"message": "too late"})

            def _answer(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the caller gave up waiting (the slow path)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def posts(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for p, h, b in self.calls if p == path]

    def __enter__(self) -> FakeIdentityService:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
