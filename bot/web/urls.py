"""Where people reach the web process, and the sign-in links that point there."""

from __future__ import annotations

from bot.config import Settings


def base_url(settings: Settings) -> str:
    """`PUBLIC_URL`, else `http://HOST:PORT` (a wildcard listening address as 127.0.0.1)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104  (a listening address is no place to visit)
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def signin_url(base: str, token: str) -> str:
    """The one-time sign-in link for `token`, under the web process's address `base`."""
    return f"{base.rstrip('/')}/signin/{token}"
