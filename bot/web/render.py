"""Server-rendered pages: one Jinja2 environment, the page's language, its security headers."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from bot.web.auth import csrf_token
from bot.web.i18n import negotiate, translator
from store.enums import Role
from store.models import Person

if TYPE_CHECKING:
    from jinja2 import Environment

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_PATH = "/assets"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


@cache
def environment() -> Environment:
    """The pages' Jinja environment (autoescaped), built once per process.

    Jinja is imported with the first page: a web process that serves only webhooks, the
    web chat and the REST API never renders one (about 1.5 MB).
    """
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def language(request: Request, person: Person | None) -> str:
    """The page's language: the person's own, else the browser's best, else English."""
    return negotiate(
        person.language if person is not None else None, request.headers.get("accept-language")
    )


def page(
    request: Request,
    template: str,
    *,
    person: Person | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render `template` for this request, in the person's language."""
    lang = language(request, person)
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            person=person,
            lang=lang,
            t=translator(lang),
            csrf_token=csrf_token(request) if person is not None else "",
            static=STATIC_PATH,
            is_agent=person is not None and person.has_role(Role.AGENT),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def error_page(
    request: Request, status_code: int, reason: str, *, person: Person | None = None
) -> HTMLResponse:
    """The page for a refusal (403) or a missing page (404), in the request's language."""
    return page(
        request,
        "error.html",
        person=person,
        status_code=status_code,
        code=status_code,
        reason=reason,
    )
