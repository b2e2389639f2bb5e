"""What Slack's listeners and forms ask of the desk: services, help channels, catalog forms.

The adapter builds one `SlackDesk` and hands it to the listeners, which hand it to the
forms, so each list is asked for at most once a TTL whoever needs it. A failed ask keeps
the last good answer: the ticket form still opens without its service picker, and the help
channels from the environment still work.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from channels.catalog_forms import CatalogForms

log = structlog.get_logger(__name__)

Names = Callable[[], Awaitable[list[str]]]
"""Asks the desk for a list of names (its services, the help channels of its desk file)."""


@dataclass(slots=True)
class _Kept:
    """The last good answer of one ask, and until when it stands."""

    expires: float = 0.0
    names: list[str] = field(default_factory=list)

    async def names_from(self, ask: Names | None, ttl: float, failed: str) -> list[str]:
        if ask is None or time.monotonic() < self.expires:
            return self.names
        try:
            names = await ask()
        except Exception as e:  # the last good list (or none) serves until the next ask
            log.warning(failed, error=type(e).__name__)
            return self.names
        self.expires, self.names = time.monotonic() + ttl, names
        return names


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackDesk:
    """The desk's lists as Slack's listeners and forms need them, each kept for `ttl` seconds.

    Attributes:
        services: The service names the ticket form offers; no picker without them.
        help_channels: The help channels the desk file adds to the environment's.
        catalog: The catalog's forms, for the order modal and the check of what it submits.
        ttl: Seconds a list is kept before the desk is asked again.
    """

    services: Names | None = None
    help_channels: Names | None = None
    catalog: CatalogForms | None = None
    ttl: float = 60.0
    _services_kept: _Kept = field(default_factory=_Kept, init=False, repr=False, compare=False)
    _help_kept: _Kept = field(default_factory=_Kept, init=False, repr=False, compare=False)

    async def service_names(self) -> list[str]:
        """The services for the ticket form's picker; [] when the desk has none to give."""
        return await self._services_kept.names_from(
            self.services, self.ttl, "slack.services_failed"
        )

    async def stored_help_channels(self) -> list[str]:
        """The help channels of the desk file; [] when it gives none."""
        return await self._help_kept.names_from(
            self.help_channels, self.ttl, "slack.help_channels_failed"
        )
