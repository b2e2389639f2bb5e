"""The forms the desk opens in Slack: a new ticket, a note on one, a catalog order.

A modal must be opened while its trigger is valid (3 s), so each is opened here, in the
listener, under a deadline; a form that cannot open answers False and the person goes on
in chat instead. The service picker's names and the catalog's forms come from the
`SlackDesk` the listeners share.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from channels.slack.desk import SlackDesk
from channels.slack.forms import note_form, ticket_form
from channels.slack.forms_catalog import catalog_modal
from channels.slack.send import describe

log = structlog.get_logger(__name__)

FORM_DEADLINE = 2.5
"""Seconds to wait for `views.open`: a trigger is valid for 3 s."""


class Modals:
    """Opens the desk's forms as modals on a click, command or shortcut."""

    def __init__(self, web: AsyncWebClient, desk: SlackDesk | None = None) -> None:
        self.web = web
        self._desk = desk or SlackDesk()

    async def catalog_form(self, body: Mapping[str, Any], item: str) -> bool:
        """The item's form as a modal; False (order in chat) when it has none or cannot open."""
        catalog = self._desk.catalog
        if catalog is None or not item:
            return False
        try:
            found = await catalog.form(item)
        except Exception as e:  # the order goes on in chat
            log.warning("slack.catalog_form_failed", error=type(e).__name__)
            return False
        if found is None or not found.fields:
            return False
        container = _dict(body, "container")
        meta = {"channel": _str(container, "channel_id") or _str(_dict(body, "channel"), "id")}
        return await self._open(body, catalog_modal(found, meta=meta))

    async def ticket_form(
        self, body: Mapping[str, Any], *, summary: str = "", description: str = "", link: str = ""
    ) -> bool:
        """The new-ticket form, filled in with what is known; False if it cannot open."""
        meta = {"link": link} if link else {}
        view = ticket_form(
            services=await self._desk.service_names(),
            summary=summary,
            description=description,
            meta=meta,
        )
        return await self._open(body, view)

    async def note_form(self, body: Mapping[str, Any], ref: str) -> bool:
        """The form for a note on ticket `ref`, answered where it was asked; False if not open."""
        container = _dict(body, "container")
        meta = {"channel": _str(container, "channel_id") or _str(_dict(body, "channel"), "id")}
        thread = _str(container, "thread_ts") or _str(_dict(body, "message"), "thread_ts")
        if thread:
            meta["thread"] = thread
        return await self._open(body, note_form(ref, meta={k: v for k, v in meta.items() if v}))

    async def _open(self, body: Mapping[str, Any], view: dict[str, Any]) -> bool:
        trigger = _str(body, "trigger_id")
        if not trigger:
            return False
        try:
            # The trigger expires after 3 s, and Slack stops waiting for our answer then too.
            async with asyncio.timeout(FORM_DEADLINE):
                await self.web.views_open(trigger_id=trigger, view=view)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as e:
            log.warning("slack.form_failed", error=describe(e))
            return False
        return True


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _dict(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}
