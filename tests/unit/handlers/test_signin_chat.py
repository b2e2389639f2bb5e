"""Asking for a sign-in link in chat: a working link in private, nothing where others read."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from bot.identity import resolve_person
from channels.conversation import Address, Identity, Reply
from handlers.context import HandlerContext
from handlers.signin import signin, use_base_url
from nlu.types import IntentName, Understanding
from store.db import SessionFactory, create_engine, session_factory
from store.signins import Redemption
from store.types import utcnow
from store.uow import UnitOfWork

LINK = re.compile(r"https://desk\.example\.com/signin/([A-Za-z0-9_-]{20,})")


@pytest.fixture
async def factory(demo_settings: Settings) -> AsyncIterator[SessionFactory]:
    use_base_url("https://desk.example.com/")
    engine = create_engine(
        demo_settings.async_database_url, connect_args=demo_settings.database_connect_args
    )
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def ask(factory: SessionFactory, sender: Identity, address: Address) -> list[Reply]:
    async with UnitOfWork(factory) as uow:
        person = await resolve_person(uow, sender, address)
        ctx = HandlerContext(uow=uow, person=person, address=address, now=utcnow(), text="sign in")
        nlu = Understanding(text="sign in", intent=IntentName.HELP, confidence=0.9)
        replies = await signin(nlu, ctx)
        await uow.commit()
    return replies


async def test_private_chat_gets_a_link_that_signs_in_once(factory: SessionFactory) -> None:
    number = "+14155550101"
    [reply] = await ask(
        factory,
        Identity(platform="phone", external_id=number),
        Address(channel="sms", conversation=number, user=number),
    )
    found = LINK.search(reply.text)
    assert found, reply.text
    assert reply.sensitive  # the token is not kept in the outbox once sent
    async with UnitOfWork(factory) as uow:
        first = await uow.signins.redeem(found.group(1))
        await uow.commit()
    assert first.outcome is Redemption.SIGNED_IN
    assert first.person is not None
    assert first.person.email == "alice@example.com"
    async with UnitOfWork(factory) as uow:
        second = await uow.signins.redeem(found.group(1))
    assert second.outcome is Redemption.USED


@pytest.mark.parametrize(
    "address",
    [
        Address(channel="telegram", conversation="-100200", user="5550102"),  # a group
        Address(channel="slack", conversation="C0HELP", user="U0BOB"),  # a public channel
        Address(channel="x", conversation="1790000000000000000", user="5550102"),  # a reply
    ],
)
async def test_shared_conversations_get_no_link(factory: SessionFactory, address: Address) -> None:
    sender = Identity(platform=address.channel, external_id=address.user)
    [reply] = await ask(factory, sender, address)
    assert "/signin/" not in reply.text
    assert "private chat" in reply.text
