"""Request hardening in front of every route: what a stranger sends is bounded before parsing.

`Guards` is ASGI middleware. It refuses, with a JSON 4xx and before any route runs:
NUL bytes in the path or query string, integers beyond 64 bits in the path, the query
string or a JSON body, JSON nested deeper than `max_json_depth`, and bodies over
`max_body_bytes` (413 as soon as the limit is passed, chunked bodies included, without
reading the rest). `install_error_handlers` maps store failures to 409 (a concurrent
change won) and 503 (the database cannot answer now), and malformed data to 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_to_bytes

import structlog
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from channels.conversation import Event, event_from_dict
from store.errors import ConflictError

if TYPE_CHECKING:
    # The worker uses `storable_form` alone; FastAPI and Starlette stay in the web role, whose
    # responses import them where they are made.
    from fastapi import FastAPI, Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)

INT64_MAX = 2**63 - 1
DEFAULT_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
# An integer of 19 digits or more that is not part of a fraction or an exponent.
_LONG_INT = re.compile(rb"(?<![\d.eE+-])-?(\d{19,})(?![\d.eE])")
_LONG_DIGITS = re.compile(r"(?<![\d.])(\d{19,})(?![\d.])")
# Every digit to "9" and every other byte to a space: a run of 19 digits, the shortest that
# can leave 64 bits, is then a plain substring search.
_DIGIT_MASK = bytes(0x39 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_DIGIT_RUN = b"9" * 19
_JSON_TYPES = ("application/json", "+json")
# A request carries one signature; a second copy of the header is a forgery whatever it says.
SIGNATURE_HEADERS = frozenset(
    {
        "x-slack-signature",
        "x-slack-request-timestamp",
        "x-telegram-bot-api-secret-token",
        "x-twilio-signature",
        "x-twitter-webhooks-signature",
        "x-hub-signature-256",
        "x-switchboard-signature",
        "x-webchat-token",
    }
)
_FORM_TYPE = "application/x-www-form-urlencoded"


class Refused(Exception):
    """A request refused before routing, with the status and message to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_depth(raw: bytes, limit: int) -> int:
    """The nesting depth of a JSON text, counted up to `limit + 1` (strings skipped)."""
    return _depth(_JSON_STRING.sub(b'""', raw), limit)


def _depth(structure: bytes, limit: int) -> int:
    depth = deepest = 0
    for m in _BRACKETS.finditer(structure):
        if m.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        else:
            depth -= 1
    return deepest


def _beyond_64_bits(digits: str | bytes) -> bool:
    # Compared by length first: int() refuses strings of more than 4,300 digits.
    text = digits if isinstance(digits, str) else digits.decode("ascii", "replace")
    significant = text.lstrip("0")
    return len(significant) > 19 or int(significant or 0) > INT64_MAX


def _oversized_int_in_json(structure: bytes) -> bool:
    return any(_beyond_64_bits(m.group(1)) for m in _LONG_INT.finditer(structure))


def _oversized_int(text: str) -> bool:
    return any(_beyond_64_bits(m.group(1)) for m in _LONG_DIGITS.finditer(text))


def check_target(path: str, query: bytes) -> None:
    """Refuse NUL bytes and integers beyond 64 bits in the path and query string."""
    if "\x00" in path:
        raise Refused(400, "the path contains a NUL byte")
    if _oversized_int(path):
        raise Refused(400, "a number in the path is out of range")
    if not query:
        return
    decoded = unquote_to_bytes(query.replace(b"+", b" "))
    if b"\x00" in decoded:
        raise Refused(400, "the query string contains a NUL byte")
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if _oversized_int(value):
            raise Refused(400, f"query parameter {name[:40]!r} is out of range")


def check_body(raw: bytes, content_type: str, max_depth: int) -> None:
    """Refuse JSON (also inside a form's `payload` field) too deep or with huge integers."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    texts: list[bytes] = []
    if ctype.endswith(_JSON_TYPES) or (not ctype and raw.lstrip()[:1] in (b"{", b"[")):
        texts.append(raw)
    elif ctype == _FORM_TYPE and any(m in raw.upper() for m in (b"%7B", b"%5B", b"{", b"[")):
        for _name, value in parse_qsl(
            raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1"
        ):
            if value.lstrip()[:1] in ("{", "["):
                texts.append(value.encode("latin-1"))
    for text in texts:
        # Bounds read off the raw bytes first, at C speed: with no more opening brackets than
        # the limit nothing nests deeper, and without 19 digits in a row no integer leaves 64
        # bits. Most bodies pass both, and emptying their strings would cost ten times more.
        deep = text.count(b"{") + text.count(b"[") > max_depth
        long = _DIGIT_RUN in text.translate(_DIGIT_MASK)
        if not (deep or long):
            continue
        # Strings emptied once for both checks: brackets and digits in text count for neither.
        structure = _JSON_STRING.sub(b'""', text)
        if deep and _depth(structure, max_depth) > max_depth:
            raise Refused(400, f"JSON nested deeper than {max_depth} levels")
        if long and _oversized_int_in_json(structure):
            raise Refused(400, "a number in the body is out of range")


class Guards:
    """ASGI middleware applying the checks above to every HTTP request.

    Also refuses (401) a request carrying any signature header more than once.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_json_depth: int = DEFAULT_JSON_DEPTH
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI request within the limits."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_target(scope.get("path", ""), scope.get("query_string", b""))
            headers = _headers(scope)
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                raise Refused(413, f"the body is larger than {self.max_body_bytes} bytes")
            body, closed = await self._read(receive)
            check_body(body, headers.get("content-type", ""), self.max_json_depth)
        except Refused as e:
            await _refuse(scope, send, e)
            return
        if closed:
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> tuple[bytes, bool]:
        """The whole body, bounded as it streams in; and whether the client went away."""
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"", True
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_body_bytes:
                raise Refused(413, f"the body is larger than {self.max_body_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name; a repeated signature header is refused."""
    found: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        name = k.decode("latin-1").lower()
        if name in found and name in SIGNATURE_HEADERS:
            raise Refused(401, f"repeated {name} header")
        found[name] = v.decode("latin-1")
    return found


async def _refuse(scope: Scope, send: Send, refused: Refused) -> None:
    log.info(
        "request.refused",
        status=refused.status,
        reason=refused.message,
        path=scope.get("path", "")[:200].replace("\x00", "\\0"),
    )
    from starlette.responses import JSONResponse

    response = JSONResponse({"error": refused.message}, status_code=refused.status)
    if refused.status == 413:
        response.headers["Connection"] = "close"

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)


# -- text that cannot be stored -------------------------------------------------------------


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from a JSON "\ud800" escape
        return True
    return False


def _clean(text: str) -> str:
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return _clean(value) if _unstorable(value) else value
    if isinstance(value, Mapping):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return _unstorable(value)
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _may_hold_nul(data: Any) -> bool:
    # One C-encoded text, not a walk: JSON escapes NUL, UTF-8 refuses a lone surrogate.
    try:
        text = json.dumps(data, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (TypeError, ValueError):
        return _has_nul(data)
    return "\\u0000" in text and _has_nul(data)


def storable_form(event: Event) -> tuple[Event, dict[str, Any]]:
    """The event without NUL characters or lone surrogates, and its JSON form.

    Every inbound event passes through this before the inbox: a NUL from any platform is
    dropped rather than failing the insert (and, with it, the platform's delivery). The JSON
    form is the inbox row's payload, built once for the check and the row.
    """
    data = event.to_dict()
    if not _may_hold_nul(data):
        return event, data
    clean = _without_nul(data)
    return event_from_dict(clean), clean


def without_nul(text: str) -> str:
    """`text` without NUL characters or lone surrogates."""
    return _clean(text) if _unstorable(text) else text


# -- errors from the store ------------------------------------------------------------------

_UNAVAILABLE_STATES = ("08", "57P", "53")  # connection exceptions, shutdown, out of resources


def _sqlstate(exc: BaseException) -> str:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state:
            return state
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return ""


def store_unavailable(exc: DBAPIError) -> bool:
    """Whether a database error means "cannot answer now" rather than a bad statement."""
    if exc.connection_invalidated:
        return True
    state = _sqlstate(exc)
    if state.startswith(_UNAVAILABLE_STATES):
        return True
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return any(
        phrase in text
        for phrase in ("shutting down", "connection is closed", "connection was closed")
    )


def _unavailable_response() -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse(
        {"error": "temporarily unavailable, retry shortly"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def _conflict_response() -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse(
        {"error": "the record changed meanwhile; read it again and retry"}, status_code=409
    )


# Raised by parsers handed a payload of an unexpected shape (a list where a string was due).
_PARSER_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, UnicodeError)
# Routes whose input FastAPI validates: such an error there is ours, not the sender's.
_TRUSTED_PREFIXES = ("/api/", "/healthz", "/metrics")
_OURS = frozenset({"bot", "channels", "handlers", "store", "nlu"})


def _origin_of(exc: BaseException) -> str:
    """`module:function` of our deepest frame it passed through (no traceback in the log)."""
    tb = exc.__traceback__
    where = "?"
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", "?"))
        if module.split(".", 1)[0] in _OURS or where == "?":
            where = f"{module}:{tb.tb_frame.f_code.co_name}"
        tb = tb.tb_next
    return where


def install_error_handlers(app: FastAPI) -> None:
    """Map store conflicts to 409, an unavailable database to 503, bad data to 400."""
    from starlette.responses import JSONResponse

    async def conflict(request: Request, exc: Exception) -> Response:
        log.info("request.conflict", path=request.url.path)
        return _conflict_response()

    async def database(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DBAPIError)
        if isinstance(exc, IntegrityError):
            return await conflict(request, exc)
        if store_unavailable(exc):
            log.warning("app.unavailable", error=type(exc.orig).__name__, path=request.url.path)
            return _unavailable_response()
        if _sqlstate(exc).startswith("22"):
            log.info("request.bad_data", path=request.url.path, sqlstate=_sqlstate(exc))
            return JSONResponse({"error": "the request holds data that cannot be stored"}, 400)
        log.error("app.database_error", error=type(exc.orig).__name__, path=request.url.path)
        return JSONResponse({"error": "internal error"}, status_code=500)

    async def too_deep(request: Request, exc: Exception) -> Response:
        log.info("request.too_deep", path=request.url.path)
        return JSONResponse({"error": "the request is nested too deeply"}, status_code=400)

    async def bad_json(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "the body is not valid JSON"}, status_code=400)

    async def unreadable(request: Request, exc: Exception) -> Response:
        where = _origin_of(exc)
        if request.url.path.startswith(_TRUSTED_PREFIXES):
            log.error("app.error", error=type(exc).__name__, where=where, path=request.url.path)
            return JSONResponse({"error": "internal error"}, status_code=500)
        # A webhook parser tripped over a payload it did not expect: the sender's fault, and
        # a parser to fix (the log says where), but never a 5xx for a stranger's bytes.
        log.error(
            "ingress.unreadable", error=type(exc).__name__, where=where, path=request.url.path
        )
        return JSONResponse({"error": "the payload could not be read"}, status_code=400)

    for exc_type in _PARSER_ERRORS:
        app.add_exception_handler(exc_type, unreadable)
    app.add_exception_handler(ConflictError, conflict)
    app.add_exception_handler(StaleDataError, conflict)
    app.add_exception_handler(DBAPIError, database)
    app.add_exception_handler(RecursionError, too_deep)
    app.add_exception_handler(json.JSONDecodeError, bad_json)
