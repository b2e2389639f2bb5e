"""Notifications to a person reach them even when they never wrote to the bot."""

from __future__ import annotations

from bot.delivery import add_outgoing
from channels.conversation import Address, Reply
from handlers.context import Outgoing
from store.db import SessionFactory
from store.models import ChannelIdentity, Person
from store.uow import UnitOfWork

SEEN = Address(channel="telegram", conversation="77", user="77")


def no_topics(_topic: str) -> list[Address]:
    return []


async def _person(uow: UnitOfWork, email: str, identities: list[ChannelIdentity]) -> int:
    person = Person(name=email.split("@")[0], email=email)
    uow.session.add(person)
    await uow.flush()
    for identity in identities:
        identity.person_id = person.id
        uow.session.add(identity)
    await uow.flush()
    return person.id


async def test_where_a_notification_goes(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        wrote = await _person(
            uow,
            "wrote@example.com",
            [
                ChannelIdentity(platform="slack", external_id="U1"),
                ChannelIdentity(platform="telegram", external_id="77", last_address=SEEN.to_dict()),
            ],
        )
        slack = await _person(
            uow,
            "slack@example.com",
            [
                ChannelIdentity(platform="phone", external_id="+14155550101"),
                ChannelIdentity(platform="slack", external_id="U2"),
            ],
        )
        phone = await _person(
            uow,
            "phone@example.com",
            [ChannelIdentity(platform="phone", external_id="+14155550102")],
        )
        nowhere = await _person(uow, "nowhere@example.com", [])
        rows = await add_outgoing(
            uow,
            [Outgoing(reply=Reply(text="hi"), person_id=p) for p in (wrote, slack, phone, nowhere)],
            topics=no_topics,
            exclude=None,
            inbox_id=None,
        )
        sent_to = [(r.platform, r.address["conversation"]) for r in rows]
    assert sent_to == [("telegram", "77"), ("slack", "U2"), ("sms", "+14155550102")]
