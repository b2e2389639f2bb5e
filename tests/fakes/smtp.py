"""A small SMTP server on 127.0.0.1:0 that keeps what it is sent, for smtplib clients in tests.

It speaks enough of RFC 5321 for `smtplib.SMTP.send_message`: EHLO/HELO, AUTH PLAIN and
LOGIN, MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP and QUIT. It runs an asyncio
server on its own thread and loop, so sync and async tests use it alike. (The standard
library's smtpd is gone, and warnings are errors in the suite.)
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Self


@dataclass
class Received:
    """One mail as the server took it."""

    mail_from: str
    rcpt_to: list[str]
    data: bytes
    login: tuple[str, str] | None = None

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Session:
    login: tuple[str, str] | None = None
    mail_from: str | None = None
    rcpt_to: list[str] = field(default_factory=list)


def _address(arg: str) -> str:
    _, _, rest = arg.partition(":")
    return rest.strip().split(" ")[0].strip("<>")


def _plain(encoded: str) -> tuple[str, str]:
    _authzid, user, password = base64.b64decode(encoded).decode().split("\0")
    return user, password


class FakeSmtpServer:
    """`with FakeSmtpServer() as smtp:` then `smtp.url(...)`, and read `smtp.received`."""

    def __init__(self, *, refuse: set[str] | None = None) -> None:
        self.received: list[Received] = []
        self.refuse = {r.casefold() for r in refuse or set()}
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def url(self, user: str | None = None, password: str | None = None) -> str:
        who = f"{user}:{password}@" if user else ""
        return f"smtp://{who}127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        ).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *_exc: object) -> None:
        server = self._server
        if server is not None:

            async def close() -> None:
                server.close()
                await server.wait_closed()

            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until `count` mails arrived (or fail after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} mails arrived, wanted {count}")
            time.sleep(0.02)
        return list(self.received)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        async def read() -> str:
            return (await reader.readline()).decode(errors="replace").rstrip("\r\n")

        s = _Session()
        try:
            await say("220 fake.smtp ESMTP ready")
            while True:
                line = await read()
                if not line and reader.at_eof():
                    return
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if verb == "EHLO":
                    await say("250-fake.smtp")
                    await say("250-8BITMIME")
                    await say("250 AUTH PLAIN LOGIN")
                elif verb == "HELO":
                    await say("250 fake.smtp")
                elif verb == "AUTH":
                    mechanism, _, initial = arg.partition(" ")
                    if mechanism.upper() == "PLAIN":
                        if not initial:
                            await say("334 ")
                            initial = await read()
                        s.login = _plain(initial)
                    else:
                        await say("334 VXNlcm5hbWU6")
                        user = base64.b64decode(initial or await read()).decode()
                        await say("334 UGFzc3dvcmQ6")
                        s.login = (user, base64.b64decode(await read()).decode())
                    await say("235 2.7.0 authenticated")
                elif verb == "MAIL":
                    s.mail_from, s.rcpt_to = _address(arg), []
                    await say("250 OK")
                elif verb == "RCPT":
                    to = _address(arg)
                    if to.casefold() in self.refuse:
                        await say("550 5.1.1 no such mailbox")
                        continue
                    s.rcpt_to.append(to)
                    await say("250 OK")
                elif verb == "DATA":
                    await say("354 end with <CRLF>.<CRLF>")
                    lines: list[bytes] = []
                    while True:
                        raw = await reader.readline()
                        if raw in (b".\r\n", b".\n", b""):
                            break
                        lines.append(raw[1:] if raw.startswith(b"..") else raw)
                    self.received.append(
                        Received(s.mail_from or "", list(s.rcpt_to), b"".join(lines), s.login)
                    )
                    await say("250 OK queued")
                elif verb == "RSET":
                    s.mail_from, s.rcpt_to = None, []
                    await say("250 OK")
                elif verb == "NOOP":
                    await say("250 OK")
                elif verb == "QUIT":
                    await say("221 bye")
                    return
                else:
                    await say("502 command not implemented")
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
