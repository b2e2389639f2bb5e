"""`switchboard telegram`: webhook registration and checks for the Telegram channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from rich.console import Console

from bot.config import Settings, load_settings
from bot.logging import scrub

app = typer.Typer(no_args_is_help=True)
out = Console()
err = Console(stderr=True)

WEBHOOK_PATH = "/telegram/webhook"


def _settings() -> Settings:
    try:
        return load_settings()
    except Exception as e:  # pydantic's message names the variable at fault
        err.print(f"[red]Configuration error:[/red] {e}")
        raise typer.Exit(2) from e


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(code)


def _run(settings: Settings, *, needs_secret: bool, job: Callable[[Any], Awaitable[Any]]) -> Any:
    from channels.base import ChannelError
    from channels.telegram.channel import TelegramChannel

    cfg = settings.telegram
    if cfg.bot_token is None or not cfg.bot_token.get_secret_value():
        raise _fail("TELEGRAM_BOT_TOKEN is not set.")
    secret = cfg.secret_token.get_secret_value() if cfg.secret_token is not None else None
    if needs_secret and not secret:
        raise _fail(
            "TELEGRAM_SECRET_TOKEN is not set. Telegram sends it with every update so the "
            "webhook can tell them from forgeries; generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
        )

    async def main() -> Any:
        channel = TelegramChannel(
            token=cfg.bot_token.get_secret_value() if cfg.bot_token else "",
            secret_token=secret,
            api_url=cfg.api_url,
            webhook=False,
        )
        await channel.start()
        try:
            return await job(channel)
        finally:
            await channel.aclose()

    try:
        return asyncio.run(main())
    except ChannelError as e:
        raise _fail(str(e), 1) from None
    except Exception as e:  # the Bot API's own errors; scrubbed, in case one quotes a URL
        raise _fail(f"Telegram refused: {type(e).__name__}: {scrub(str(e))}", 1) from None


@app.command("set-webhook")
def set_webhook(
    drop_pending: Annotated[
        bool, typer.Option("--drop-pending", help="Discard updates queued while offline.")
    ] = False,
) -> None:
    """Register PUBLIC_URL/telegram/webhook with Telegram, with the secret token."""
    settings = _settings()
    if not settings.public_url:
        raise _fail(
            "PUBLIC_URL is not set: Telegram needs the public HTTPS address of the web "
            "process (e.g. PUBLIC_URL=https://switchboard.example.com). Without it the "
            "channel long-polls instead and needs no webhook."
        )
    url = settings.public_url.rstrip("/") + WEBHOOK_PATH

    async def job(channel: Any) -> None:
        await channel.register_webhook(url, drop_pending=drop_pending)

    _run(settings, needs_secret=True, job=job)
    out.print(f"Webhook set: {url} (updates: message, callback_query)")


@app.command("delete-webhook")
def delete_webhook() -> None:
    """Remove the webhook (the channel then long-polls when PUBLIC_URL is unset)."""
    settings = _settings()

    async def job(channel: Any) -> None:
        await channel.remove_webhook()

    _run(settings, needs_secret=False, job=job)
    out.print("Webhook removed.")


@app.command("info")
def info(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show what Telegram knows about the webhook: URL, pending updates, last error."""
    settings = _settings()

    async def job(channel: Any) -> dict[str, Any]:
        data: dict[str, Any] = await channel.webhook_info()
        data["bot"] = channel.me.username if channel.me else None
        return data

    data = _run(settings, needs_secret=False, job=job)
    if as_json:
        out.print_json(json.dumps(data))
        return
    out.print(f"Bot: @{data['bot']}")
    out.print(f"Webhook: {data['url'] or '(none: long polling)'}")
    out.print(f"Pending updates: {data['pending_update_count']}")
    if data.get("last_error_message"):
        out.print(f"Last error: {data['last_error_message']}")
