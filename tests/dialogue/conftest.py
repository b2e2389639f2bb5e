"""Scripted conversations with the real NLU, the router and the handlers, turn by turn.

Each turn declares the ticket changes it means to cause; any other change of a ticket
(created, status, priority, assignee) is a wrong action. The count is printed at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.router import IntentRouter, Routed
from channels.conversation import Action, Address, Identity, Message, Reply
from handlers.context import HandlerContext, Outgoing
from handlers.registry import load
from nlu.types import Understander
from store.db import SessionFactory, create_engine, session_factory
from store.enums import PersonKind, Status, TicketKind
from store.migrate import upgrade_engine
from store.models import Ticket
from store.uow import UnitOfWork

WRONG_ACTIONS: list[str] = []
TURNS: list[int] = [0]

Snapshot = dict[str, tuple[str, str, str]]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TURNS[0]:
        terminalreporter.write_line(
            f"dialogue: {TURNS[0]} turns, wrong actions: {len(WRONG_ACTIONS)}"
            + (f" ({'; '.join(WRONG_ACTIONS)})" if WRONG_ACTIONS else "")
        )


@pytest.fixture
async def factory(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    from bot.demo import seed_demo

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/dialogue.db")
    await upgrade_engine(engine)
    f = session_factory(engine)
    async with UnitOfWork(f) as uow:
        await seed_demo(uow)
        await uow.commit()
    yield f
    await engine.dispose()


@dataclass
class Turn:
    """What one message did: the replies and the ticket changes it caused."""

    routed: Routed
    changes: set[str]
    outgoing: list[Outgoing] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.routed.replies)

    @property
    def replies(self) -> list[Reply]:
        return self.routed.replies


@dataclass
class Dialogue:
    """One person (or several) talking to the bot; state is kept per person."""

    factory: SessionFactory
    nlu: Understander
    router: IntentRouter = field(default_factory=lambda: IntentRouter(load()))
    states: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    channel: str = "console"

    def state(self, who: str = "alice@example.com") -> dict[str, Any] | None:
        return self.states.get(who)

    def pending(self, who: str = "alice@example.com") -> str | None:
        """The question waiting for an answer: the slot asked for, or "choice"."""
        state = self.states.get(who) or {}
        if state.get("expect"):
            return str(state["expect"]["slot"])
        return "choice" if state.get("choices") else None

    async def say(
        self, text: str, *, who: str = "alice@example.com", expect: Iterable[str] = ()
    ) -> Turn:
        """Send `text` as `who`; `expect` lists the changes meant ("+INC-1", "INC-1:status")."""
        msg = Message(event_id="e", address=self._address(who), sender=self._sender(who), text=text)
        return await self._send(msg, text, who, set(expect))

    async def click(
        self,
        name: str,
        value: str = "",
        *,
        who: str = "alice@example.com",
        expect: Iterable[str] = (),
    ) -> Turn:
        act = Action(
            event_id="a",
            address=self._address(who),
            sender=self._sender(who),
            name=name,
            value=value,
        )
        return await self._send(act, "", who, set(expect))

    async def ticket(self, ref: str) -> Ticket:
        async with UnitOfWork(self.factory) as uow:
            t = await uow.tickets.by_ref(ref)
            assert t is not None, ref
            return t

    async def tickets(self) -> list[Ticket]:
        async with UnitOfWork(self.factory) as uow:
            return list(await uow.session.scalars(select(Ticket).order_by(Ticket.id)))

    async def seed(
        self,
        title: str,
        *,
        who: str = "alice@example.com",
        kind: TicketKind = TicketKind.INCIDENT,
        service: str | None = None,
        status: Status = Status.NEW,
    ) -> str:
        """A ticket that exists before the conversation starts; its reference."""
        async with UnitOfWork(self.factory) as uow:
            person = await uow.people.by_email(who)
            assert person is not None
            svc = await uow.services.by_name(service) if service else None
            t = await uow.tickets.create(
                kind=kind,
                title=title,
                requester=person,
                description=title,
                status=status,
                service_id=svc.id if svc else None,
                updated_at=datetime.now(UTC),
            )
            await uow.commit()
            return t.ref

    async def customer(self, email: str, *, organisation: str | None = None) -> None:
        """A person outside the company: a contact, or someone with an organisation."""
        async with UnitOfWork(self.factory) as uow:
            kind = PersonKind.EMPLOYEE if organisation else PersonKind.CONTACT
            person = await uow.people.create(name="Casey Customer", email=email, kind=kind)
            person.organisation = organisation
            await uow.commit()

    async def _snapshot(self) -> Snapshot:
        return {
            t.ref: (
                t.status.value,
                t.priority.value if t.priority else "",
                str(t.assignee_id or ""),
            )
            for t in await self.tickets()
        }

    async def _send(self, event: Message | Action, text: str, who: str, meant: set[str]) -> Turn:
        before = await self._snapshot()
        nlu = self.nlu.parse(text) if text else self.nlu.parse("")
        async with UnitOfWork(self.factory) as uow:
            person = await uow.people.by_email(who)
            assert person is not None
            ctx = HandlerContext(
                uow=uow, person=person, address=event.address, now=datetime.now(UTC), text=text
            )
            routed = await self.router.dispatch(event, nlu, ctx, self.states.get(who))
            await uow.commit()
        if routed.dialogue.data is not None:
            self.states[who] = routed.dialogue.data
        elif routed.dialogue.clear:
            self.states[who] = None
        changes = _diff(before, await self._snapshot())
        TURNS[0] += 1
        unintended = changes - meant
        WRONG_ACTIONS.extend(f"{text or event}: {c}" for c in sorted(unintended))
        assert not unintended, f"{text!r} changed {sorted(unintended)}; replies: {routed.replies}"
        missing = meant - changes
        assert not missing, f"{text!r} did not change {sorted(missing)}; replies: {routed.replies}"
        return Turn(routed=routed, changes=changes, outgoing=list(ctx.outgoing))

    def _address(self, who: str) -> Address:
        return Address(channel=self.channel, conversation=who, user=who)

    def _sender(self, who: str) -> Identity:
        return Identity(platform=self.channel, external_id=who, email=who)


def _diff(before: Snapshot, after: Snapshot) -> set[str]:
    changes: set[str] = set()
    for ref, now in after.items():
        was = before.get(ref)
        if was is None:
            changes.add(f"+{ref}")
            continue
        for name, old, new in zip(("status", "priority", "assignee"), was, now, strict=True):
            if old != new:
                changes.add(f"{ref}:{name}")
    return changes


@pytest.fixture
def dialogue(factory: SessionFactory, understander: Understander) -> Dialogue:
    return Dialogue(factory=factory, nlu=understander)


Sent = list[tuple[int | None, Reply]]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Every message a handler sends to someone other than the person asking."""
    out: Sent = []
    original = HandlerContext.notify

    def notify(self: HandlerContext, person_id: int | None, reply: Reply) -> None:
        if person_id is not None and person_id != self.person.id:
            out.append((person_id, reply))
        original(self, person_id, reply)

    def notify_requester(self: HandlerContext, ticket: Ticket, reply: Reply) -> None:
        if ticket.requester_id != self.person.id:
            out.append((ticket.requester_id, reply))

    monkeypatch.setattr(HandlerContext, "notify", notify)
    monkeypatch.setattr(HandlerContext, "notify_requester", notify_requester)
    return out
