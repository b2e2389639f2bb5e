"""Article offers nobody answered: their tickets are filed when the answer time is over.

On the scheduler's leader, every `EVERY` seconds. Each offer is settled and filed in its own
transaction, with the replies to where it was offered; the settling update only succeeds
for an open offer, so an answer arriving at the same moment (or a second leader) never
files it twice. An offer whose filing fails stays open and is tried again next time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from bot import metrics
from bot.container import Container
from bot.delivery import add_outgoing
from channels.conversation import Address
from handlers import deflection
from handlers.context import HandlerContext, Outgoing, Tally
from store.db import SessionFactory
from store.types import utcnow
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

EVERY = 30.0
"""Seconds between looks for overdue offers."""

Topics = Callable[[str], Sequence[Address]]


@dataclass
class Filed:
    """What a look did: the tickets filed and the outbox rows of their replies."""

    refs: list[str] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)


async def file_overdue(
    factory: SessionFactory,
    now: datetime,
    *,
    topics: Topics,
    counter: Tally | None = None,
    limit: int = 50,
) -> Filed:
    """File the tickets of the offers overdue at `now`."""
    async with UnitOfWork(factory) as uow:
        ids = await uow.deflection_offers.overdue(now, limit=limit)
    done = Filed()
    for offer_id in ids:
        try:
            await _file_one(factory, offer_id, now, topics, counter, done)
        except Exception as e:
            log.warning("deflection.expiry_failed", offer_id=offer_id, error=type(e).__name__)
    return done


async def _file_one(
    factory: SessionFactory,
    offer_id: int,
    now: datetime,
    topics: Topics,
    counter: Tally | None,
    done: Filed,
) -> None:
    async with UnitOfWork(factory) as uow:
        if not await uow.deflection_offers.settle(offer_id, deflection.EXPIRED, now):
            return  # answered, or filed by another leader, since it was listed
        offer = await uow.deflection_offers.get(offer_id)
        person = await uow.people.get(offer.person_id) if offer is not None else None
        if offer is None or person is None or not person.active:
            await uow.commit()
            return
        address = Address.from_dict(offer.address)
        ctx = HandlerContext(uow=uow, person=person, address=address, now=now, counter=counter)
        replies = await deflection.file_unanswered(ctx, offer)
        outgoing = [Outgoing(reply=r, address=address) for r in replies] + ctx.outgoing
        rows = await add_outgoing(uow, outgoing, topics=topics, exclude=None, inbox_id=None)
        await uow.flush()
        ref = offer.ticket_ref
        await uow.commit()
    done.outbox_ids.extend(r.id for r in rows if r.id is not None)
    if ref:
        done.refs.append(ref)
    metrics.DEFLECTIONS.labels(deflection.EXPIRED).inc()
    log.info("deflection.expired", offer_id=offer_id, ticket=ref)


async def for_container(c: Container) -> Filed:
    """One look over a container's database; the replies are sent at once."""
    done = await file_overdue(c.factory, utcnow(), topics=c.topics, counter=c.state.tally)
    if done.outbox_ids and c.dispatcher is not None:
        c.dispatcher.kick(done.outbox_ids)
    return done
