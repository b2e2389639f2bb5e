"""Notifications to a person reach them even when they never wrote to the bot."""

from __future__ import annotations

from datetime import timedelta

from bot.delivery import add_outgoing
from channels.conversation import Address, Reply
from handlers.context import Outgoing
from store.db import SessionFactory
from store.models import ChannelIdentity, Person
from store.types import utcnow
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


async def test_whatsapp_after_its_window_goes_to_another_linked_channel(
    factory: SessionFactory,
) -> None:
    def whatsapp(n: int) -> Address:
        return Address(channel="whatsapp", conversation=f"+1415555011{n}", user=f"+1415555011{n}")

    recent = utcnow() - timedelta(hours=2)
    stale = utcnow() - timedelta(hours=30)
    async with UnitOfWork(factory) as uow:
        people = []
        for n, seen in enumerate((recent, stale, stale)):
            identities = [
                ChannelIdentity(
                    platform="phone",
                    external_id=whatsapp(n).conversation,
                    last_address=whatsapp(n).to_dict(),
                    last_seen_at=seen,
                ),
            ]
            if n < 2:
                identities.append(ChannelIdentity(platform="slack", external_id=f"U{n}"))
            people.append(await _person(uow, f"wa{n}@example.com", identities))

        async def send(template: bool) -> list[tuple[str, str]]:
            rows = await add_outgoing(
                uow,
                [Outgoing(reply=Reply(text="hi"), person_id=p) for p in people],
                topics=no_topics,
                exclude=None,
                inbox_id=None,
                whatsapp_template=template,
            )
            return [(r.platform, r.address["conversation"]) for r in rows]

        without = await send(False)
        with_template = await send(True)
    # Within 24 hours WhatsApp takes free text; after it, Slack; with only the number, SMS.
    assert without == [
        ("whatsapp", "+14155550110"),
        ("slack", "U1"),
        ("sms", "+14155550112"),
    ]
    # An approved template opens the conversation again, so WhatsApp stays.
    assert with_template == [("whatsapp", f"+1415555011{n}") for n in range(3)]


async def test_an_empty_last_address_falls_back_to_a_linked_channel(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        person = await _person(
            uow,
            "blank@example.com",
            [
                ChannelIdentity(
                    platform="web", external_id="w1", last_address={}, last_seen_at=utcnow()
                ),
                ChannelIdentity(platform="slack", external_id="U9"),
            ],
        )
        rows = await add_outgoing(
            uow,
            [Outgoing(reply=Reply(text="hi"), person_id=person)],
            topics=no_topics,
            exclude=None,
            inbox_id=None,
        )
    assert [(r.platform, r.address["conversation"]) for r in rows] == [("slack", "U9")]
