"""Approvals in chat: only approvers decide, never their own change, and once."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import pytest

from bot.config import Settings
from bot.console_session import ConsoleSession
from bot.container import ALL_ROLES, Container, Overrides, build_container
from bot.runtime import Background
from channels.console import ConsoleChannel
from channels.conversation import Action, Address, Identity, Reply
from nlu.types import Understander
from store.enums import InboxStatus, Status
from store.queue import InProcessQueue
from store.uow import UnitOfWork


async def request_change(settings: Settings, understander: Understander, who: str) -> str:
    async with ConsoleSession(settings, who, understander=understander) as s:
        replies = await s.say("please restart the mail server on Saturday at 22:00")
    [reply] = replies
    assert reply.ticket_ref is not None
    assert reply.ticket_ref.startswith("CHG-")
    return reply.ticket_ref


async def decisions(settings: Settings, ref: str) -> tuple[Status, list[str], int]:
    from store.db import create_engine, session_factory

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            t = await uow.tickets.by_ref(ref)
            assert t is not None
            events = [e.action for e in await uow.tickets.events(t.id)]
            approvals = len(await uow.tickets.approvals(t.id))
            return t.status, events, approvals
    finally:
        await engine.dispose()


async def test_requester_cannot_approve_own_change(
    any_settings: Settings, understander: Understander
) -> None:
    ref = await request_change(any_settings, understander, "carol@example.com")
    async with ConsoleSession(any_settings, "carol@example.com", understander=understander) as s:
        [reply] = await s.click("approve", ref)
    assert "someone else has to approve" in reply.text
    status, events, approvals = await decisions(any_settings, ref)
    assert status is Status.AWAITING_APPROVAL
    assert approvals == 0
    assert "approved" not in events


@pytest.mark.parametrize("who", ["alice@example.com", "bob@example.com"])
async def test_non_approvers_cannot_decide(
    demo_settings: Settings, understander: Understander, who: str
) -> None:
    ref = await request_change(demo_settings, understander, "dan@example.com")
    async with ConsoleSession(demo_settings, who, understander=understander) as s:
        [reply] = await s.click("approve", ref)
    # A requester cannot even see someone else's change; an agent is told who may decide.
    assert "Only approvers" in reply.text or "couldn't find" in reply.text
    status, _, approvals = await decisions(demo_settings, ref)
    assert status is Status.AWAITING_APPROVAL
    assert approvals == 0


async def test_approver_approves_and_requester_is_told(
    any_settings: Settings, understander: Understander
) -> None:
    ref = await request_change(any_settings, understander, "alice@example.com")
    async with ConsoleSession(any_settings, "frank@example.com", understander=understander) as s:
        [reply] = await s.say(f"approve {ref}")
    assert f"You approved {ref}" in reply.text
    async with ConsoleSession(any_settings, "alice@example.com", understander=understander) as s:
        await s.say("my tickets")
        told = [r.text for r in s.replies]
    assert any(f"{ref} was approved by Frank Approver" in t for t in told)
    status, events, approvals = await decisions(any_settings, ref)
    assert status is Status.APPROVED
    assert events.count("approved") == 1
    assert approvals == 1


def click(channel: ConsoleChannel, who: str, name: str, ref: str) -> Action:
    return Action(
        event_id=uuid.uuid4().hex,
        address=Address(channel="console", conversation=f"{who}:{uuid.uuid4().hex[:6]}", user=who),
        sender=Identity(platform="console", external_id=who, email=who),
        name=name,
        value=ref,
    )


async def run_clicks(
    settings: Settings, understander: Understander, clicks: list[Action]
) -> Container:
    sent: list[Reply] = []

    async def write(_address: Address, reply: Reply) -> None:
        sent.append(reply)

    channel = ConsoleChannel(write)
    container = build_container(
        settings,
        roles=ALL_ROLES,
        overrides=Overrides(queue=InProcessQueue(), understander=understander, channels=[channel]),
    )
    async with container:
        # All clicks are stored before the worker starts, so it takes them in one batch.
        await asyncio.gather(*(container.ingress(c) for c in clicks))
        async with Background(container):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                async with container.uow() as uow:
                    counts = await uow.inbox.counts()
                if counts.get(InboxStatus.PENDING.value, 0) == 0:
                    break
                await asyncio.sleep(0.05)
    return container


@pytest.mark.parametrize(
    "deciders",
    [
        ["carol@example.com", "frank@example.com"],
        ["frank@example.com"] * 6,
        ["carol@example.com", "frank@example.com"] * 4,
    ],
    ids=["two-approvers", "same-approver-six-clicks", "eight-mixed"],
)
async def test_simultaneous_approvals_make_one_transition(
    any_settings: Settings, understander: Understander, deciders: list[str]
) -> None:
    ref = await request_change(any_settings, understander, "alice@example.com")
    channel = ConsoleChannel(lambda a, r: asyncio.sleep(0))  # type: ignore[arg-type,return-value]
    clicks = [click(channel, who, "approve", ref) for who in deciders]
    await run_clicks(any_settings, understander, clicks)
    status, events, approvals = await decisions(any_settings, ref)
    assert status is Status.APPROVED
    assert events.count("approved") == 1
    assert approvals == 1


async def test_approve_racing_reject_decides_once(
    any_settings: Settings, understander: Understander
) -> None:
    ref = await request_change(any_settings, understander, "alice@example.com")
    channel = ConsoleChannel(lambda a, r: asyncio.sleep(0))  # type: ignore[arg-type,return-value]
    clicks = [
        click(channel, "carol@example.com", "approve", ref),
        click(channel, "frank@example.com", "reject", ref),
    ]
    await run_clicks(any_settings, understander, clicks)
    status, events, approvals = await decisions(any_settings, ref)
    assert status in (Status.APPROVED, Status.REJECTED)
    assert events.count("approved") + events.count("rejected") == 1
    assert approvals == 1


async def test_change_windows_are_read_in_the_configured_timezone(demo_settings: Settings) -> None:
    berlin = demo_settings.model_copy(update={"timezone": "Europe/Berlin"})
    async with ConsoleSession(berlin, "alice@example.com") as s:
        [reply] = await s.say("please restart the mail server on Saturday at 22:00")
    assert reply.ticket_ref is not None
    assert "22:00 UTC+01:00" in reply.text
    from store.db import create_engine, session_factory

    engine = create_engine(berlin.async_database_url)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            ticket = await uow.tickets.by_ref(reply.ticket_ref)
            assert ticket is not None
            assert ticket.planned_start is not None
            assert ticket.planned_start.hour == 21  # stored in UTC
    finally:
        await engine.dispose()


def card_click(who: str, ref: str, *, shared: bool) -> Action:
    """A click on the approval card: one channel card everyone sees, or each approver's DM."""
    conversation = "approvals" if shared else f"dm-{who}"
    return Action(
        event_id=uuid.uuid4().hex,
        address=Address(channel="console", conversation=conversation, user=who),
        sender=Identity(platform="console", external_id=who, email=who),
        name="approve",
        value=ref,
        message_id=f"card-{conversation}",
    )


async def flood(settings: Settings, understander: Understander, clicks: list[Action]) -> None:
    """Two workers (each with its own queue, both recovering everything) take the clicks."""
    containers = [
        build_container(
            settings,
            roles=ALL_ROLES,
            overrides=Overrides(
                queue=InProcessQueue(),
                understander=understander,
                channels=[ConsoleChannel(lambda a, r: asyncio.sleep(0))],  # type: ignore[arg-type,return-value]
            ),
        )
        for _ in range(2)
    ]
    async with contextlib.AsyncExitStack() as stack:
        for c in containers:
            await stack.enter_async_context(c)
        await asyncio.gather(*(containers[i % 2].ingress(c) for i, c in enumerate(clicks)))
        async with Background(containers[0]), Background(containers[1]):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                async with containers[0].uow() as uow:
                    inbox = await uow.inbox.counts()
                    outbox = await uow.outbox.counts()
                busy = outbox.get("pending", 0) + outbox.get("sending", 0)
                if inbox.get(InboxStatus.PENDING.value, 0) == 0 and busy == 0:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"clicks not settled: {inbox} {outbox}")


async def replies_about(settings: Settings, ref: str) -> list[tuple[dict[str, str], Reply, str]]:
    from sqlalchemy import select

    from store.db import create_engine, session_factory
    from store.models import OutboxMessage

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            rows = await uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.ticket_ref == ref)
                .order_by(OutboxMessage.id)
            )
            return [(r.address, Reply.from_dict(r.reply), str(r.status)) for r in rows]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("shared", [True, False], ids=["channel-card", "dm-cards"])
async def test_a_flood_of_clicks_makes_one_decision_one_edit_one_notice_each(
    any_settings: Settings, understander: Understander, shared: bool
) -> None:
    ref = await request_change(any_settings, understander, "alice@example.com")
    before = len(await replies_about(any_settings, ref))
    deciders = ["carol@example.com", "frank@example.com"] * 25
    await flood(any_settings, understander, [card_click(w, ref, shared=shared) for w in deciders])
    status, events, approvals = await decisions(any_settings, ref)
    assert status is Status.APPROVED
    assert events.count("approved") == 1
    assert approvals == 1
    produced = (await replies_about(any_settings, ref))[before:]
    edits = [r for _, r, _ in produced if r.replaces]
    notices = [(a["user"], r) for a, r, _ in produced if r.ephemeral]
    assert len(edits) == 1
    assert edits[0].card is not None
    assert edits[0].card.status == Status.APPROVED.label or "approved" in edits[0].text
    # Every clicker clicked more than once, so each is told once that it is decided.
    assert sorted(user for user, _ in notices) == sorted(set(deciders))
    assert all("already approved" in r.text for _, r in notices)
    # Nothing else is posted where others read: no public "already approved".
    public = [r for _, r, _ in produced if not r.replaces and not r.ephemeral]
    assert all("already" not in r.text for r in public)
    assert all(s == "sent" for _, _, s in produced)
