"""A fake Twilio REST API, and signing for webhook requests as Twilio would send them.

The channel's Twilio client reaches it through `TWILIO_API_URL=<base_url>`, with Basic
auth; `Messages.json` answers 201 with a real-shaped message resource (a fresh `SM…` sid).
Scripted answers (`add_response`) come first, so a test can make a send answer 429.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any
from urllib.parse import parse_qsl, urlencode

from twilio.request_validator import RequestValidator

from tests.fakes.server import Call, Canned, FakeApi
from tests.payloads import raw

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-test-auth-token-0123456789"
FROM_NUMBER = "+14155550100"
WHATSAPP_FROM = "whatsapp:+14155238886"


class FakeTwilioApi(FakeApi):
    """Twilio's Messages resource for one account."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._sids = itertools.count(1)
        self.created: list[str] = []
        """The sid of every message the fake accepted, in order."""

    @property
    def messages_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def sent(self) -> list[dict[str, str]]:
        """The form of every message create call, in order."""
        return [c.form() for c in self.calls_to(self.messages_path)]

    def wait_sent(self, count: int = 1, timeout: float = 15.0) -> list[dict[str, str]]:
        self.wait_for(self.messages_path, count, timeout=timeout)
        return self.sent()

    def bodies_to(self, number: str) -> list[str]:
        return [m.get("Body", "") for m in self.sent() if m.get("To", "").endswith(number)]

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.created.clear()

    def respond(self, call: Call) -> Canned | None:
        if call.path != self.messages_path:
            return None
        with self._lock:
            if self._queued.get(call.path):
                return None  # a scripted answer comes first
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if call.headers.get("authorization") != f"Basic {expected}":
            return Canned(
                401,
                {"code": 20003, "message": "Authenticate", "status": 401, "more_info": ""},
            )
        form = call.form()
        sid = f"SM{next(self._sids):032x}"
        with self._lock:
            self.created.append(sid)
        return Canned(
            201,
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            },
        )


def too_many_requests(retry_after: int | None = None) -> dict[str, Any]:
    """`add_response` arguments for Twilio's 429 (error 20429)."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return {
        "status": 429,
        "json": {
            "code": 20429,
            "message": "Too Many Requests",
            "more_info": "https://www.twilio.com/docs/errors/20429",
            "status": 429,
        },
        "headers": headers,
    }


def sign(url: str, body: bytes, token: str = AUTH_TOKEN) -> str:
    """`X-Twilio-Signature` for a form body POSTed to `url`."""
    pairs = parse_qsl(body.decode(), keep_blank_values=True)
    params: dict[str, list[str]] = {}
    for k, v in pairs:
        params.setdefault(k, []).append(v)

    class _Multi(dict[str, list[str]]):
        def getlist(self, name: str) -> list[str]:
            return self[name]

    return RequestValidator(token).compute_signature(url, _Multi(params))


def form(name: str, **changes: str) -> bytes:
    """A recorded webhook body (`twilio/<name>.form.txt`) with some parameters replaced.

    Parameters keep their recorded order; new ones are appended.
    """
    pairs = parse_qsl(raw("twilio", f"{name}.form.txt").decode().strip(), keep_blank_values=True)
    seen = set()
    out = []
    for k, v in pairs:
        if k in changes:
            v = changes[k]
            seen.add(k)
        out.append((k, v))
    out += [(k, v) for k, v in changes.items() if k not in seen]
    return urlencode(out).encode()


def sms(text: str, sender: str, sid: str, *, to: str = FROM_NUMBER) -> bytes:
    """An inbound SMS in the shape of the recorded one."""
    return form(
        "sms_incoming_botbuilder",
        Body=text,
        From=sender,
        To=to,
        MessageSid=sid,
        SmsMessageSid=sid,
        SmsSid=sid,
        AccountSid=ACCOUNT_SID,
    )


def whatsapp(text: str, sender: str, sid: str) -> bytes:
    """An inbound WhatsApp message in the shape of the recorded one."""
    return form(
        "whatsapp_incoming",
        Body=text,
        From=f"whatsapp:{sender}",
        WaId=sender.lstrip("+"),
        MessageSid=sid,
        SmsMessageSid=sid,
        SmsSid=sid,
        AccountSid=ACCOUNT_SID,
    )


def message_sid(n: int) -> str:
    return f"SM{n:032x}"
