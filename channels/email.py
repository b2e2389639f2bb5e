"""Outbound e-mail through an SMTP server (`SMTP_URL`): mail to suppliers.

Send-only: there are no inbound routes. An outbox row on platform `email` carries the
recipient as its conversation and the mail as its reply text: the first line is the
subject, the rest (after a blank line) the body. smtplib is blocking, so each mail is
sent in a worker thread; one connection per mail keeps it simple (supplier mail is rare).

`SMTP_URL` reads `smtp://user:password@host:port` (`?starttls=true` upgrades the
connection; `smtps://` is TLS from the start). The password is never logged and never
appears in an error.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from channels.base import ConfigurationError, Delivery, DeliveryError, Ingest
from channels.conversation import Address, Reply

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to connect, read from `SMTP_URL`."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    starttls: bool = False

    def __repr__(self) -> str:
        # The password stays out of reprs, and so out of logs and tracebacks.
        return f"SmtpServer(host={self.host!r}, port={self.port}, user={self.username!r})"

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """The server `SMTP_URL` names; the port defaults to 465, 587 or 25 by its TLS."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError(
                "SMTP_URL must look like smtp://user:password@host:587?starttls=true",
                platform="email",
            )
        query = parse_qs(parts.query)
        starttls = (query.get("starttls") or [""])[0].casefold() in _TRUE
        tls = parts.scheme == "smtps"
        try:
            port = parts.port or (465 if tls else 587 if starttls else 25)
        except ValueError as e:
            raise ConfigurationError("SMTP_URL has an invalid port", platform="email") from e
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            starttls=starttls and not tls,
        )


def compose(sender: str, address: Address, reply: Reply) -> EmailMessage:
    """The mail: the reply's first line as subject, the rest as the plain-text body."""
    subject, _, body = reply.text.partition("\n")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = address.conversation
    message["Subject"] = " ".join(subject.split())[:200]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    if reply.ticket_ref:
        message["X-Switchboard-Ticket"] = reply.ticket_ref
    message.set_content(body.lstrip("\n") or subject)
    return message


class EmailChannel:
    """Delivers `email` outbox rows through one SMTP server."""

    name: ClassVar[str] = "email"
    platforms: ClassVar[tuple[str, ...]] = ("email",)

    def __init__(self, server: SmtpServer, *, sender: str, timeout: float = 20.0) -> None:
        self.server = server
        self.sender = sender
        self.timeout = timeout

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        """None: mail is sent, never received."""
        return ()

    async def start(self) -> None:
        """Nothing to open: each mail opens its own connection."""

    async def aclose(self) -> None:
        """Nothing to close."""

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Mail the reply to the address's conversation; its Message-ID is the delivery's id."""
        if "@" not in address.conversation:
            raise DeliveryError("not an e-mail address", platform="email", permanent=True)
        message = compose(self.sender, address, reply)
        await asyncio.to_thread(self._send, message)
        return Delivery(external_id=str(message["Message-ID"]))

    def _send(self, message: EmailMessage) -> None:
        s = self.server
        try:
            smtp: smtplib.SMTP = (
                smtplib.SMTP_SSL(
                    s.host, s.port, timeout=self.timeout, context=ssl.create_default_context()
                )
                if s.tls
                else smtplib.SMTP(s.host, s.port, timeout=self.timeout)
            )
            with smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    smtp.login(s.username, s.password or "")
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as e:
            raise DeliveryError(
                f"the SMTP server refused the login ({e.smtp_code})", platform="email"
            ) from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError(
                "the SMTP server refused the recipient", platform="email", permanent=True
            ) from None
        except smtplib.SMTPResponseException as e:
            raise DeliveryError(
                f"the SMTP server answered {e.smtp_code}",
                platform="email",
                permanent=500 <= e.smtp_code < 600,
            ) from None
        except (smtplib.SMTPException, OSError) as e:
            raise DeliveryError(
                f"the SMTP server could not be reached ({type(e).__name__})", platform="email"
            ) from None
