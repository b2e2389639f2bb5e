"""Handing a ticket to a supplier: their contact is mailed and their contract's clock starts.

"hand INC-7 to NetCo" (or "hand INC-7 to the supplier", the supplier of the ticket's
service or of a service it depends on) records a hand-off with the supplier's own due
times, moves a new ticket into progress and writes the mail to the outbox's `email`
channel (sent through `SMTP_URL`). Without mail set up (`HandlerContext.mail`) nothing is
queued and the agent is told so; they always see the mail's text, to forward it
themselves. The supplier's clock warns at 75 % of a target, like ours, and reports a missed
target apart from our own breach.

Replies by mail are not read: the supplier's contact answers the agent (the mail asks them
to quote the ticket's reference), and the agent records the answer on the ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from channels.conversation import Address, Reply
from handlers.context import HandlerContext, Outgoing
from handlers.errors import HandlerError, Said, explain
from handlers.registry import registry
from handlers.replies import date_text, language, say
from handlers.rules import lifecycle, sla
from handlers.rules.calendar import CalendarError
from handlers.service_levels import responded, supplier_policy
from handlers.tickets import card, find_ticket
from nlu.types import Understanding
from store.enums import Role, Status
from store.models import Supplier, SupplierHandoff, Ticket

MAIL_CHANNEL = "email"
"""The outbox platform of mail; its conversation is the recipient's address."""

_TO = re.compile(r"\bto\s+(?:the\s+)?(?P<name>.+?)\s*$", re.IGNORECASE)
_ANY = {"supplier", "vendor", "supplier's noc", "their supplier"}


class HandOffError(HandlerError):
    """The ticket cannot be handed over (no such supplier, closed ticket)."""


@dataclass(frozen=True, slots=True)
class HandOff:
    """What a hand-off did: the record, the mail's text and whether it was queued.

    `mailed` is False without a contact address or without mail set up here.
    """

    handoff: SupplierHandoff
    subject: str
    body: str
    mailed: bool


def instants(handoff: SupplierHandoff) -> list[tuple[str, datetime | None, datetime | None]]:
    """Per target of the supplier's clock: (word, 75 % warning, due time)."""
    return [
        ("response", handoff.response_warn_at, handoff.response_due_at),
        ("resolution", handoff.resolve_warn_at, handoff.resolve_due_at),
    ]


def next_due(handoff: SupplierHandoff, after: datetime) -> datetime | None:
    """The supplier's next warning or due time after `after`; the watcher reports it once passed."""
    ahead = [
        t for _, warn, due in instants(handoff) for t in (warn, due) if t is not None and t > after
    ]
    return min(ahead, default=None)


def _hhmm(at: datetime | None, lang: str) -> str:
    return date_text(at, lang, "%a %H:%M UTC") if at is not None else say(lang, "suppliers.no_time")


async def find_supplier(ctx: HandlerContext, ticket: Ticket, name: str | None) -> Supplier:
    """The named supplier, else the supplier behind the ticket's service."""
    if name and name.strip().casefold() not in _ANY:
        found = await ctx.uow.desk.named(Supplier, name.strip())
        if found is None:
            raise HandOffError(Said("suppliers.unknown", name=name.strip()[:80]))
        return found
    found = await ctx.uow.desk.supplier_of(ticket.service_id) if ticket.service_id else None
    if found is None:
        raise HandOffError(Said("suppliers.none_behind", ref=ticket.ref))
    return found


def mail_text(
    ticket: Ticket, supplier: Supplier, handoff: SupplierHandoff, by: str, note: str | None
) -> tuple[str, str]:
    """The subject and body of the mail to the supplier (nothing internal beyond the ticket).

    Always English: the desk file gives a supplier no language to write to them in.
    """
    contract = f" under {supplier.contract}" if supplier.contract else ""
    prio = f"{ticket.priority.value} " if ticket.priority else ""
    subject = f"[{ticket.ref}] {prio}{ticket.kind.value} for {supplier.name}: {ticket.title}"
    lines = [
        f"Hello {supplier.name},",
        "",
        f"We are handing {ticket.ref} to you{contract}.",
        "",
        f"Title: {ticket.title}",
        f"Priority: {ticket.priority.value if ticket.priority else 'not set'}",
        f"Service: {ticket.service.name if ticket.service else 'not named'}",
    ]
    if handoff.response_due_at is not None:
        lines.append(f"Response due: {handoff.response_due_at:%Y-%m-%d %H:%M} UTC")
    if handoff.resolve_due_at is not None:
        lines.append(f"Resolution due: {handoff.resolve_due_at:%Y-%m-%d %H:%M} UTC")
    lines += ["", ticket.description[:4000] or ticket.title]
    if note:
        lines += ["", f"Note from {by}: {note[:2000]}"]
    lines += ["", f"Please quote {ticket.ref} in your reply.", "", f"{by}, service desk"]
    return subject, "\n".join(lines)


async def hand_off(
    ctx: HandlerContext, ticket: Ticket, supplier: Supplier, note: str | None = None
) -> HandOff:
    """Hand the ticket to the supplier: record, clock, event, and the mail in the outbox."""
    if not lifecycle.is_open(ticket.status):
        raise HandOffError(Said("suppliers.not_open", ref=ticket.ref, status=ticket.status))
    if ticket.status is Status.AWAITING_APPROVAL:
        # Handing it over would start the work its approvers have not allowed yet.
        raise HandOffError(Said("suppliers.awaiting_approval", ref=ticket.ref))
    try:
        clock = sla.start(supplier_policy(supplier), ticket.priority, ctx.now)
    except CalendarError:
        clock = None
    contact = supplier.contact or {}
    email = str(contact.get("email") or "") or None
    handoff = SupplierHandoff(
        ticket_id=ticket.id,
        supplier_id=supplier.id,
        supplier=supplier.name,
        contract=supplier.contract,
        email=email,
        by_id=ctx.person.id,
        handed_at=ctx.now,
        response_due_at=clock.response_due_at if clock else None,
        resolve_due_at=clock.resolve_due_at if clock else None,
        response_warn_at=clock.response_warn_at if clock else None,
        resolve_warn_at=clock.resolve_warn_at if clock else None,
    )
    handoff.next_at = next_due(handoff, ctx.now)
    ctx.uow.desk.hand_off(handoff)
    mailed = email is not None and ctx.mail
    if ticket.status is Status.NEW:
        ticket.status = Status.IN_PROGRESS
    if ctx.person.id != ticket.requester_id:
        responded(ticket, ctx.now)
    ticket.updated_at = ctx.now
    ctx.log(
        ticket,
        "supplier",
        supplier=supplier.name,
        contract=supplier.contract,
        mailed=mailed,
        response_due_at=handoff.response_due_at.isoformat() if handoff.response_due_at else None,
        resolve_due_at=handoff.resolve_due_at.isoformat() if handoff.resolve_due_at else None,
        note=note[:1000] if note else None,
    )
    subject, body = mail_text(ticket, supplier, handoff, ctx.person.name, note)
    if mailed and email is not None:
        ctx.outgoing.append(
            Outgoing(
                reply=Reply(text=f"{subject}\n\n{body}", ticket_ref=ticket.ref),
                address=Address(channel=MAIL_CHANNEL, conversation=email, user=email),
            )
        )
    return HandOff(handoff=handoff, subject=subject, body=body, mailed=mailed)


_REF = re.compile(r"\b(?:INC|REQ|PRB|CHG)-\d+\b", re.IGNORECASE)
_HAND = re.compile(r"^\W*hand\s+(?:over\s+)?(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)


def _names_ticket(text: str) -> bool:
    # "hand me a new mouse" is a request for the NLU, not a hand-off.
    return _REF.search(text) is not None


@registry.command("hand", listed=False, when=_names_ticket)
async def hand_command(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Hand a ticket to its supplier: "hand INC-7 to NetCo" (agents)."""
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text=say(language(ctx, nlu), "suppliers.agents_only"))]
    named_ref = _REF.search(ctx.text)
    if named_ref and not ctx.params.get("ref"):
        ctx.params = {**ctx.params, "ref": named_ref.group(0).upper()}
    lang = language(ctx, nlu)
    ticket, problem = await find_ticket(nlu, ctx, fallback=None)
    if ticket is None:
        return [problem or Reply(text=say(lang, "suppliers.how"))]
    said = _HAND.match(ctx.text)
    rest = re.sub(
        r"\b(?:INC|REQ|PRB|CHG)-\d+\b", " ", said.group("rest") if said else "", flags=re.I
    )
    named = _TO.search(rest.strip())
    try:
        supplier = await find_supplier(ctx, ticket, named.group("name") if named else None)
        done = await hand_off(ctx, ticket, supplier)
    except HandOffError as e:
        return [Reply(text=explain(e, lang), ticket_ref=ticket.ref)]
    h = done.handoff
    if h.response_due_at or h.resolve_due_at:
        due = say(
            lang,
            "suppliers.due",
            response=_hhmm(h.response_due_at, lang),
            resolution=_hhmm(h.resolve_due_at, lang),
        )
    elif ticket.priority:
        due = say(lang, "suppliers.no_target_for", priority=ticket.priority.value)
    else:
        due = say(lang, "suppliers.no_target_any")
    if done.mailed:
        how = say(lang, "suppliers.mailed", email=h.email)
    elif h.email is None:
        how = say(lang, "suppliers.no_email", supplier=supplier.name)
    else:
        how = say(lang, "suppliers.no_mail", email=h.email)
    return [
        Reply(
            text=say(
                lang,
                "suppliers.handed",
                ref=ticket.ref,
                supplier=supplier.name,
                due=due,
                how=how,
                subject=done.subject,
                body=done.body,
            ),
            card=card(ticket, ctx.now, lang=lang),
            ticket_ref=ticket.ref,
        )
    ]
