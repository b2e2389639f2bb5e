"""Releases: changes deployed together in one window, created, approved and followed in chat.

"release R-12 for Saturday 22:00-02:00 with CHG-4 and CHG-7" creates one (agents); "release
R-12 add CHG-9" adds a change; "release R-12" shows it; "approve R-12" approves each of its
changes under the same policy as one by one (boards, never the requester, roles). The
release's window must contain its changes' windows, now and when they are scheduled later;
its status follows theirs (`handlers.rules.releases`). Chat and the REST API share these
functions; a refusal is a `ChangeError` whose kind the API turns into 400, 403 or 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from channels.conversation import Button, ButtonStyle, Reply
from handlers import changes
from handlers.approvers import reach as reach_person
from handlers.change_lifecycle import ChangeError, Refused, release_status, span_of
from handlers.change_steps import window_in
from handlers.context import HandlerContext, Outgoing
from handlers.errors import Said, explain
from handlers.registry import Declined, registry
from handlers.replies import language, language_of, say, status_label
from handlers.rules import quorum
from handlers.rules import releases as rules
from handlers.rules.freeze import Window
from nlu.types import EntityName, IntentName, Understanding
from store.enums import ChangeType, Decision, Role, Status, TicketKind
from store.models import Person, Ticket
from store.releases import Release, ReleaseStatus

CLOSED = (Status.REJECTED, Status.CANCELLED, Status.CLOSED)
_LISTED = 10


@dataclass(frozen=True, slots=True)
class Decided:
    """What one decision on a release did: the changes decided, and those it could not."""

    release: Release
    decided: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _at(value: datetime, lang: str = "en") -> str:
    at = value.astimezone(UTC)
    return f"{at:%a %d %b %H:%M}" if lang == "en" else f"{at:%Y-%m-%d %H:%M}"


def _state(status: ReleaseStatus, lang: str) -> str:
    return say(lang, f"release.status.{status.value}")


def describe(release: Release, tickets: Sequence[Ticket], lang: str = "en") -> str:
    """A release in one line: its name, window and changes with their status."""
    refs = say(lang, "change.list_sep").join(
        say(lang, "release.change", ref=t.ref, status=status_label(t.status, lang)) for t in tickets
    ) or say(lang, "release.no_changes")
    return say(
        lang,
        "release.line",
        name=release.name,
        start=_at(release.starts_at, lang),
        end=_at(release.ends_at, lang),
        status=_state(release.status, lang),
        refs=refs,
    )


def decision_buttons(release: Release, lang: str = "en") -> tuple[Button, ...]:
    """The Approve and Reject buttons of a release's approval card, in the reader's language."""
    return (
        Button(
            label=say(lang, "release.button_approve", name=release.name),
            action="release_approve",
            value=release.name,
            style=ButtonStyle.PRIMARY,
        ),
        Button(
            label=say(lang, "release.button_reject", name=release.name),
            action="release_reject",
            value=release.name,
            style=ButtonStyle.DANGER,
        ),
    )


async def _changes_named(ctx: HandlerContext, refs: Sequence[str]) -> list[Ticket]:
    found: list[Ticket] = []
    for ref in dict.fromkeys(r.strip().upper() for r in refs):
        ticket = await ctx.uow.tickets.by_ref(ref)
        if ticket is None or ticket.kind is not TicketKind.CHANGE:
            raise ChangeError(Refused.BAD_INPUT, Said("release.refused.no_change", ref=ref))
        found.append(ticket)
    return found


async def _may_join(ctx: HandlerContext, release: Release, tickets: Sequence[Ticket]) -> None:
    """Open changes not in another release, whose windows fit the release's."""
    within = Window(release.starts_at, release.ends_at)
    for t in tickets:
        if t.status in CLOSED:
            raise ChangeError(
                Refused.CONFLICT, Said("release.refused.closed", ref=t.ref, status=t.status)
            )
        other = await ctx.uow.releases.of_change(t.id)
        if other is not None and other.id != release.id:
            raise ChangeError(
                Refused.CONFLICT, Said("release.refused.elsewhere", ref=t.ref, name=other.name)
            )
        if rules.outside(within, t.planned_start, t.planned_end):
            assert t.planned_start is not None
            assert t.planned_end is not None
            raise ChangeError(
                Refused.CONFLICT,
                rules.outside_said(t.ref, t.planned_start, t.planned_end, within),
            )


def _agent(ctx: HandlerContext) -> None:
    if not ctx.person.has_role(Role.AGENT):
        raise ChangeError(Refused.FORBIDDEN, Said("release.refused.agents_only"))


async def create(
    ctx: HandlerContext,
    *,
    name: str | None,
    start: datetime | None,
    end: datetime | None,
    refs: Sequence[str],
    title: str = "",
) -> Release:
    """A new release over a window, with the changes `refs` (which must fit in it)."""
    _agent(ctx)
    span = span_of(start, end)
    if name is not None and rules.name_in(name) != name.strip().upper():
        raise ChangeError(Refused.BAD_INPUT, Said("release.refused.name", name=repr(name)))
    wanted = name.strip().upper() if name else await ctx.uow.releases.next_name()
    if await ctx.uow.releases.by_name(wanted) is not None:
        raise ChangeError(Refused.CONFLICT, Said("release.refused.exists", name=wanted))
    tickets = await _changes_named(ctx, refs)
    release = await ctx.uow.releases.create(
        name=wanted,
        title=title,
        starts_at=span.start,
        ends_at=span.end,
        requester=ctx.person,
        now=ctx.now,
    )
    await _may_join(ctx, release, tickets)
    await _join(ctx, release, tickets)
    return release


async def add(ctx: HandlerContext, release: Release, refs: Sequence[str]) -> list[Ticket]:
    """Put more changes into a release; their windows must fit in it."""
    _agent(ctx)
    tickets = await _changes_named(ctx, refs)
    present = {t.id for t in await ctx.uow.releases.changes(release)}
    new = [t for t in tickets if t.id not in present]
    await _may_join(ctx, release, new)
    await _join(ctx, release, new)
    return new


async def _join(ctx: HandlerContext, release: Release, tickets: Sequence[Ticket]) -> None:
    await ctx.uow.releases.add(release, tickets)
    for t in tickets:
        ctx.log(t, "added_to_release", release=release.name)
    release.status = await release_status(ctx, release)
    release.updated_at = ctx.now
    await _ask_deciders(ctx, release, tickets)


async def _ask_deciders(ctx: HandlerContext, release: Release, tickets: Sequence[Ticket]) -> None:
    """Send the release's Approve / Reject to whoever may decide its changes awaiting approval.

    They are its boards' members, else the approvers; never its creator.
    """
    waiting = [t for t in tickets if t.status is Status.AWAITING_APPROVAL]
    if not waiting:
        return
    people: dict[int, None] = {}
    for t in waiting:
        boards = await changes.boards_of(ctx.uow, t)
        if quorum.applies(t.change_type or ChangeType.NORMAL, boards):
            ids = sorted(frozenset().union(*(b.members for b in boards)))
        else:
            ids = [p.id for p in await ctx.uow.people.with_role(Role.APPROVER)]
        people.update(dict.fromkeys(i for i in ids if i != t.requester_id))
    people.pop(release.requester_id or 0, None)
    refs = ", ".join(t.ref for t in waiting)
    for pid in people:
        person = await ctx.uow.session.get(Person, pid)
        if pid == ctx.person.id or person is None:
            continue
        lang = language_of(person)
        ask = Reply(
            text=say(
                lang,
                "release.ask",
                who=ctx.person.name,
                name=release.name,
                start=_at(release.starts_at, lang),
                end=_at(release.ends_at, lang),
                refs=refs,
            ),
            buttons=decision_buttons(release, lang),
        )
        address = await reach_person(ctx.uow, pid)
        if address is not None:
            ctx.outgoing.append(Outgoing(reply=ask, address=address))


async def decide(
    ctx: HandlerContext,
    release: Release,
    decision: Decision,
    comment: str = "",
    *,
    lang: str = "en",
) -> Decided:
    """Approve or reject every change of the release that awaits a decision.

    Each is decided under the change approval policy. Refused when the person may decide none
    of them. `lang` is the language of the sentences (refusals, each change's outcome).
    """
    if release.requester_id == ctx.person.id:
        raise ChangeError(Refused.FORBIDDEN, say(lang, "release.own", name=release.name))
    waiting = [
        t for t in await ctx.uow.releases.changes(release) if t.status is Status.AWAITING_APPROVAL
    ]
    if not waiting:
        raise ChangeError(
            Refused.CONFLICT,
            say(
                lang,
                "release.nothing_waiting",
                name=release.name,
                status=_state(release.status, lang),
            ),
        )
    out = Decided(release)
    verb = "approve" if decision is Decision.APPROVED else "reject"
    handler = changes.approve if decision is Decision.APPROVED else changes.reject
    saved, via = ctx.params, ctx.via_action
    try:
        for t in waiting:
            why = await changes.decision_refusal(ctx, t)
            if why is not None:
                out.refused.append(say(lang, f"change.refusal.{why.value}", ref=t.ref))
                continue
            nlu = Understanding(
                text=f"{verb} {t.ref} {comment}".strip(),
                intent=IntentName.APPROVE if decision is Decision.APPROVED else IntentName.REJECT,
                confidence=1.0,
                language=lang,
            )
            ctx.params, ctx.via_action = {"ref": t.ref}, not comment
            replies = await handler(nlu, ctx)
            decided = replies[-1].text if replies else say(lang, "release.decided", ref=t.ref)
            out.decided.append(decided)
    finally:
        ctx.params, ctx.via_action = saved, via
    if not out.decided:
        raise ChangeError(
            Refused.FORBIDDEN,
            say(lang, "release.none_yours", name=release.name, refused=" ".join(out.refused)),
        )
    return out


# -- chat ----------------------------------------------------------------------------------


def _refs(nlu: Understanding) -> list[str]:
    return [
        e.value.upper()
        for e in nlu.entities
        if e.entity == EntityName.TICKET_REF and e.value.upper().startswith("CHG-")
    ]


@registry.command("release")
async def release_command(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Bundle changes into a release: "release R-12 for Saturday 22:00-02:00 with CHG-4"."""
    name = rules.name_in(nlu.text)
    lang = language(ctx, nlu)
    refs = _refs(nlu)
    when = window_in(nlu)
    if name is None and not refs:
        if len(nlu.text.split()) > 1:
            # "release the hold on INC-4 tomorrow" names neither a release nor a change.
            raise Declined
        return await _list(ctx, lang)
    release = await ctx.uow.releases.by_name(name) if name else None
    try:
        if when is not None and release is None:
            start, end = when
            made = await create(ctx, name=name, start=start, end=end, refs=refs)
            lead = say(lang, "release.created", name=made.name)
            return [await _shown(ctx, made, lead, lang)]
        if release is None:
            return [Reply(text=say(lang, "release.unknown_create", name=name, how=_HOW))]
        if refs:
            new = await add(ctx, release, refs)
            added = ", ".join(t.ref for t in new)
            said = say(lang, "release.added", refs=added) if new else say(lang, "release.no_new")
            return [await _shown(ctx, release, said, lang)]
    except ChangeError as e:
        return [Reply(text=explain(e, lang))]
    return [await _shown(ctx, release, "", lang)]


_HOW = '"release R-12 for Saturday 22:00-02:00 with CHG-4 and CHG-7".'


async def _shown(ctx: HandlerContext, release: Release, lead: str, lang: str = "en") -> Reply:
    tickets = await ctx.uow.releases.changes(release)
    gap = " " if lang == "en" else ""
    text = f"{lead}{gap}{describe(release, tickets, lang)}".strip()
    waiting = any(t.status is Status.AWAITING_APPROVAL for t in tickets)
    return Reply(text=text, buttons=decision_buttons(release, lang) if waiting else ())


async def _list(ctx: HandlerContext, lang: str = "en") -> list[Reply]:
    found = await ctx.uow.releases.listed(limit=_LISTED)
    if not found:
        return [Reply(text=say(lang, "release.none", how=_HOW))]
    lines = [say(lang, "release.listed")]
    lines += [
        say(
            lang,
            "release.item",
            name=r.name,
            start=_at(r.starts_at, lang),
            end=_at(r.ends_at, lang),
            status=_state(r.status, lang),
        )
        for r in found
    ]
    return [Reply(text="\n".join(lines))]


async def decide_in_chat(
    nlu: Understanding, ctx: HandlerContext, decision: Decision, name: str
) -> list[Reply]:
    """Decide a release: "approve R-12" in chat, or its button."""
    lang = language(ctx, nlu)
    release = await ctx.uow.releases.by_name(name)
    if release is None:
        return [Reply(text=say(lang, "release.unknown", name=name))]
    if not ctx.person.has_role(Role.APPROVER):
        which = say(lang, "release.named", name=release.name)
        return [Reply(text=say(lang, "change.refusal.not_approver", ref=which))]
    words = nlu.text.split(maxsplit=2)
    said = words[2] if len(words) > 2 and not ctx.via_action else ""
    try:
        done = await decide(ctx, release, decision, said[:1000], lang=lang)
    except ChangeError as e:
        return [Reply(text=explain(e, lang), ephemeral=ctx.via_action)]
    lines = [*done.decided, *(say(lang, "release.not_decided", why=r) for r in done.refused)]
    lines.append(describe(release, await ctx.uow.releases.changes(release), lang))
    return [Reply(text="\n".join(lines), replaces=ctx.via_action)]


@registry.action("release_approve")
async def approve_clicked(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Approve every change of a release."""
    return await decide_in_chat(nlu, ctx, Decision.APPROVED, ctx.params.get("ref", ""))


@registry.action("release_reject")
async def reject_clicked(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Reject a release's changes."""
    return await decide_in_chat(nlu, ctx, Decision.REJECTED, ctx.params.get("ref", ""))
