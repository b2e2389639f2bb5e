"""Monitoring's notices reach people in their own language: an agent who reads Chinese hears
in Chinese that the alert behind their incident has cleared."""

from __future__ import annotations

from sqlalchemy import select

from bot.config import Settings
from channels.conversation import Address
from store.enums import Status
from store.models import ChannelIdentity, OutboxMessage
from store.uow import UnitOfWork
from tests.unit.bot.test_alert_batches import START, alert, batch, worker


async def test_a_cleared_alert_is_told_to_the_assignee_in_chinese(any_settings: Settings) -> None:
    bob_dm = Address(channel="slack", workspace="T1", conversation="D0BOB", user="U0BOB")
    async with worker(any_settings) as (w, _):
        await batch(w, [alert(0)])
        async with UnitOfWork(w.factory) as uow:
            ticket = await uow.tickets.by_ref("INC-1")
            bob = await uow.people.by_email("bob@example.com")
            assert ticket is not None
            assert bob is not None
            bob.language = "zh"
            ticket.assignee_id = bob.id
            ticket.status = Status.IN_PROGRESS
            uow.tickets.log(ticket, "assigned", actor=bob, channel="console")
            uow.session.add(
                ChannelIdentity(
                    person_id=bob.id,
                    platform="slack",
                    external_id="U0BOB",
                    last_address=bob_dm.to_dict(),
                    last_seen_at=START,
                )
            )
            await uow.commit()
        await batch(w, [alert(1), alert(2, "resolved")])
        async with UnitOfWork(w.factory) as uow:
            told = list(await uow.session.scalars(select(OutboxMessage)))
    [to_bob] = [m for m in told if m.conversation_key == bob_dm.key]
    text = str(to_bob.reply.get("text"))
    assert "INC-1 背后的 " in text
    assert text.endswith("告警已经解除。请你检查并解决。")
