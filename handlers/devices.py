"""End-user devices: a report about "my laptop" lands on the laptop the directory lists."""

from __future__ import annotations

from handlers.context import HandlerContext
from handlers.rules import devices as rule
from store.models import Service


async def device_reported(ctx: HandlerContext, text: str) -> Service | None:
    """The configuration item a report about the person's own hardware is about.

    The person's `devices` (from the directory) first; when the directory lists none that
    fits, an item named for the device type ("Laptop") if the configuration database has one.
    """
    mentioned = rule.kinds_mentioned(text)
    if not mentioned:
        return None
    items: dict[str, Service] = {}
    for name in ctx.person.devices or ():
        item = await ctx.uow.services.by_name(str(name))
        if item is not None:
            items[item.name] = item
    chosen = rule.pick(
        [
            rule.Device(name=i.name, type=i.type, attributes=i.attributes or {})
            for i in items.values()
        ],
        mentioned,
    )
    if chosen is not None:
        return items[chosen.name]
    for kind in sorted(mentioned - {"any"}):
        item = await ctx.uow.services.by_name(kind)
        if item is not None and item.type == "device":
            return item
    return None
