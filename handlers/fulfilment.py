"""Fulfilment tasks of an approved catalog request, and the automation that runs one.

An item may list tasks, each for a group (or for the item's automation), done in order or
all at once. When the request is approved (or needs no approval) its tasks are created; the
first (or every) task opens and its group is told, with a Done button. Completing a task
opens the next; when every task is done the request is resolved and the requester told.

An automation task posts the request as signed JSON to the item's webhook. The post leaves
through the outbox (platform `webhook`), so it is retried with back-off by the dispatcher
and never holds up a worker; the channel feeds the service's answer back through the inbox
as an `automation_result` action, which completes or fails the task here. A failed task
stays with the item's fulfilment group: an agent does the work and completes it by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from channels.conversation import Address, Button, ButtonStyle, Reply
from handlers.context import HandlerContext, Outgoing
from handlers.registry import Declined, registry
from handlers.replies import channel_language, language_of, say
from handlers.rules import lifecycle
from handlers.service_levels import advance
from handlers.tickets import card, not_found
from nlu.types import Understanding
from store.catalog import CatalogItem, FulfilmentTask
from store.enums import Role, Status, TicketKind
from store.models import Group, Ticket

COMPLETE = "complete_task"
AUTOMATION_RESULT = "automation_result"
WEBHOOK = "webhook"
"""The outbox platform (and channel) that posts automations."""

WAITING, OPEN, DONE, FAILED = "waiting", "open", "done", "failed"
# A task that was still to do when its request ended some other way: nobody need do it now.
DROPPED = "dropped"
_REF = re.compile(r"^\s*((?:REQ)-\d+)/(\d{1,3})\s*$", re.IGNORECASE)
_TYPED_DONE = re.compile(
    r"^\W*/?done\s+(?P<ref>REQ-\d{1,9}/\d{1,3})\b[\s,.:;!-]*(?P<note>.*)$",
    re.IGNORECASE | re.DOTALL,
)


class TaskError(Exception):
    """Why a task cannot be completed; `status` is the HTTP status that says it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def task_ref(ticket: Ticket, task: FulfilmentTask) -> str:
    """`REQ-4/2`: the request's reference and the task's place in it."""
    return f"{ticket.ref}/{task.position}"


def parse_ref(text: str) -> tuple[str, int] | None:
    """`("REQ-4", 2)` from `REQ-4/2`; None when it is not a task reference."""
    m = _REF.match(text)
    return (m.group(1).upper(), int(m.group(2))) if m else None


async def start(ctx: HandlerContext, ticket: Ticket, item: CatalogItem) -> list[FulfilmentTask]:
    """Create an approved request's tasks and open the first (in order) or all (in parallel)."""
    if not item.tasks:
        return []
    for position, raw in enumerate(item.tasks, start=1):
        await ctx.uow.catalog.add_task(
            ticket_id=ticket.id,
            position=position,
            name=str(raw.get("name") or f"Task {position}")[:200],
            group_id=raw.get("group_id") or item.fulfilment_group_id,
            automation=bool(raw.get("automation")),
        )
    tasks = await ctx.uow.catalog.tasks(ticket.id)
    ctx.log(
        ticket,
        "tasks_created",
        tasks=[t.name for t in tasks],
        order="parallel" if item.tasks_parallel else "sequence",
    )
    for task in tasks if item.tasks_parallel else tasks[:1]:
        await _open(ctx, ticket, item, task)
    return tasks


async def _open(
    ctx: HandlerContext, ticket: Ticket, item: CatalogItem | None, task: FulfilmentTask
) -> None:
    task.status = OPEN
    task.opened_at = ctx.now
    ref = task_ref(ticket, task)
    ctx.log(ticket, "task_opened", task=ref, name=task.name, automation=task.automation)
    if task.automation:
        await _post(ctx, ticket, item, task)
        return
    await _tell(
        ctx,
        task.group,
        lambda lang: Reply(
            text=say(lang, "task.posted", ref=ref, title=ticket.title, name=task.name),
            card=card(ticket, lang=lang),
            buttons=(
                Button(
                    label=say(lang, "button.done"),
                    action=COMPLETE,
                    value=ref,
                    style=ButtonStyle.PRIMARY,
                ),
            ),
            ticket_ref=ticket.ref,
        ),
    )


async def _tell(ctx: HandlerContext, group: Group | None, reply: Callable[[str], Reply]) -> None:
    """The group's channels, else each of its members personally; each in its own language."""
    if group is None:
        return
    chats = [c for c in (("slack", group.slack_channel), ("telegram", group.telegram_chat)) if c[1]]
    if chats:
        posted = reply(await channel_language(ctx.uow, group))
        for platform, chat in chats:
            ctx.outgoing.append(
                Outgoing(
                    reply=posted,
                    address=Address(channel=platform, conversation=chat or "", user=""),
                )
            )
        return
    for member in await ctx.uow.catalog.group_member_ids(group.id):
        ctx.notify(member, reply(language_of(await ctx.uow.people.get(member))))


async def _post(
    ctx: HandlerContext, ticket: Ticket, item: CatalogItem | None, task: FulfilmentTask
) -> None:
    """Queue the signed POST of the request to the item's webhook (sent by the outbox)."""
    url = str((item.automation or {}).get("url") or "") if item else ""
    if not url:
        await finish(ctx, ticket, task, ok=False, note="the item names no automation URL")
        return
    request = await ctx.uow.catalog.request_of(ticket.id)
    requester = ticket.requester
    body: dict[str, Any] = {
        "request": ticket.ref,
        "task": task_ref(ticket, task),
        "task_name": task.name,
        "item": item.name if item else None,
        "requester": {"name": requester.name, "email": requester.email} if requester else None,
        "answers": dict(request.answers) if request else {},
        "approved_at": request.decided_at.isoformat() if request and request.decided_at else None,
    }
    ctx.outgoing.append(
        Outgoing(
            # The answers may be personal: the outbox forgets the body once it is delivered.
            reply=Reply(
                text=json.dumps(body, sort_keys=True, ensure_ascii=False),
                ticket_ref=ticket.ref,
                sensitive=True,
            ),
            address=Address(channel=WEBHOOK, conversation=url, user=task_ref(ticket, task)),
        )
    )
    ctx.log(ticket, "automation_sent", task=task_ref(ticket, task), url=url)


async def finish(
    ctx: HandlerContext, ticket: Ticket, task: FulfilmentTask, *, ok: bool, note: str
) -> None:
    """A task ends: done (the next opens; the last resolves the request) or failed."""
    ref = task_ref(ticket, task)
    task.status = DONE if ok else FAILED
    task.done_at = ctx.now
    task.done_by_id = ctx.person.id
    task.result = note[:2000]
    ticket.updated_at = ctx.now
    ctx.log(ticket, "task_done" if ok else "task_failed", task=ref, name=task.name, note=note)
    request = await ctx.uow.catalog.request_of(ticket.id)
    item = request.item if request else None
    if not ok:
        # Never silent: the item's group hears, and an agent completes it by hand.
        group = (item.fulfilment_group if item else None) or task.group
        await _tell(
            ctx,
            group,
            lambda lang: Reply(
                text=say(lang, "task.failed", ref=ref, name=task.name, note=note),
                card=card(ticket, lang=lang),
                buttons=(Button(label=say(lang, "button.done"), action=COMPLETE, value=ref),),
                ticket_ref=ticket.ref,
            ),
        )
        return
    tasks = await ctx.uow.catalog.tasks(ticket.id)
    if all(t.status == DONE for t in tasks):
        _resolve(ctx, ticket, tasks)
        return
    if lifecycle.can_move(ticket.kind, ticket.status, Status.IN_PROGRESS) and (
        ticket.status is Status.NEW
    ):
        ticket.status = Status.IN_PROGRESS
        ctx.log(ticket, "status", **{"from": Status.NEW.value, "to": Status.IN_PROGRESS.value})
    if item is not None and item.tasks_parallel:
        return
    following = next((t for t in tasks if t.status == WAITING), None)
    earlier = [t for t in tasks if following is not None and t.position < following.position]
    if following is not None and all(t.status == DONE for t in earlier):
        await _open(ctx, ticket, item, following)


async def settle(ctx: HandlerContext, ticket: Ticket) -> list[FulfilmentTask]:
    """Drop the tasks left when a request ends without them (resolved by hand, cancelled).

    Every door that changes a ticket's status calls this after the change, so a task's group
    is never left with work for a request that is over; the tasks dropped.
    """
    if ticket.kind is not TicketKind.REQUEST or lifecycle.is_open(ticket.status):
        return []
    left = [
        t for t in await ctx.uow.catalog.tasks(ticket.id) if t.status in (WAITING, OPEN, FAILED)
    ]
    for task in left:
        task.status = DROPPED
        task.done_at = ctx.now
        ctx.log(
            ticket,
            "task_dropped",
            task=task_ref(ticket, task),
            name=task.name,
            reason=f"{ticket.ref} is {ticket.status.label}",
        )
    return left


def _resolve(ctx: HandlerContext, ticket: Ticket, tasks: list[FulfilmentTask]) -> None:
    if not lifecycle.is_open(ticket.status):
        return
    ticket.status = Status.RESOLVED
    ticket.resolved_at = ctx.now
    advance(ticket, ctx.now)
    ctx.log(ticket, "resolved", note=f"All {len(tasks)} tasks are done.")
    told = language_of(ticket.requester, ticket)
    ctx.notify_requester(
        ticket,
        Reply(
            text=say(told, "task.all_done", ref=ticket.ref, names=", ".join(t.name for t in tasks)),
            card=card(ticket, lang=told),
            ticket_ref=ticket.ref,
        ),
    )


async def complete(ctx: HandlerContext, ref: str, note: str = "") -> tuple[Ticket, FulfilmentTask]:
    """An agent completes a task (`REQ-4/2`); `TaskError` says why not.

    Members of the task's group may, and admins; a task already done is a 409.
    """
    parsed = parse_ref(ref)
    ticket = await ctx.uow.tickets.by_ref(parsed[0]) if parsed else None
    if ticket is not None:
        await ctx.uow.catalog.lock_request(ticket.id)
    task = await ctx.uow.catalog.task(ticket.id, parsed[1]) if ticket and parsed else None
    if ticket is None or task is None or ticket.kind is not TicketKind.REQUEST:
        raise TaskError(404, f"There is no task {ref.strip()[:40]}.")
    me = ctx.person
    allowed = me.has_role(Role.ADMIN) or (
        me.has_role(Role.AGENT)
        and (task.group_id is None or await ctx.uow.catalog.is_member(task.group_id, me.id))
    )
    if not allowed:
        if not me.has_role(Role.AGENT, Role.APPROVER) and ticket.requester_id != me.id:
            raise TaskError(404, f"There is no task {ref.strip()[:40]}.")
        group = task.group.name if task.group else "the service desk"
        raise TaskError(403, f"Only agents of {group} can complete {task_ref(ticket, task)}.")
    if ticket.status in (Status.CANCELLED, Status.REJECTED, Status.CLOSED):
        raise TaskError(409, f"{ticket.ref} is {ticket.status.label}; its tasks are over.")
    if task.status not in (OPEN, FAILED):
        said = "waiting for an earlier task" if task.status == WAITING else task.status
        raise TaskError(409, f"{task_ref(ticket, task)} is {said}.")
    await finish(
        ctx,
        ticket,
        task,
        ok=True,
        note=note.strip() or say(language_of(me), "task.done_by", name=me.name),
    )
    return ticket, task


@registry.command("done", listed=False)
async def typed_done(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Complete a fulfilment task, as its Done button does: "done REQ-4/2 laptop imaged"."""
    said = _TYPED_DONE.match(ctx.text or nlu.text)
    if said is None:
        # "done with the printer, thanks": not a task, so the NLU reads it.
        raise Declined
    ctx.params = {"ref": said.group("ref").upper(), "note": said.group("note").strip()}
    replies = await complete_task(nlu, ctx)
    # A typed message has no task card to edit: the answer is a new message.
    return [replace(r, replaces=False) for r in replies]


@registry.action(COMPLETE)
async def complete_task(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """The Done button of a task."""
    ref = ctx.params.get("ref", "")
    try:
        ticket, task = await complete(ctx, ref, ctx.params.get("note", "")[:1000])
    except TaskError as e:
        if e.status == 404:
            return [not_found(ref.strip()[:40] or "that task")]
        return [Reply(text=e.message, ephemeral=True)]
    tasks = await ctx.uow.catalog.tasks(ticket.id)
    left = [t for t in tasks if t.status != DONE]
    # The clicked message is edited for everyone in the group's chat: its language.
    lang = await channel_language(ctx.uow, task.group)
    more = (
        say(lang, "task.left", n=len(left)) if left else say(lang, "task.resolved", ref=ticket.ref)
    )
    # The clicked task message is edited in place for everyone in the group's chat, and
    # carries the tasks this opened: a message for the conversation the click came from is
    # folded into this reply, so the next task's Done button must be in it.
    opened = [t for t in tasks if t.status == OPEN and t.opened_at == ctx.now and not t.automation]
    lines = [say(lang, "task.next", ref=task_ref(ticket, t), name=t.name) for t in opened]
    did = say(
        lang, "task.completed", name=ctx.person.name, ref=task_ref(ticket, task), task=task.name
    )
    did += more
    return [
        Reply(
            # No card: an edited card in a shared channel shows only the ticket's state, and
            # this message must say what was done and what is next.
            text=" ".join([did, *lines]),
            buttons=tuple(
                Button(
                    label=say(lang, "button.done")
                    if len(opened) == 1
                    else say(lang, "button.done_ref", ref=task_ref(ticket, t)),
                    action=COMPLETE,
                    value=task_ref(ticket, t),
                )
                for t in opened
            ),
            ticket_ref=ticket.ref,
            replaces=True,
        )
    ]


@registry.action(AUTOMATION_RESULT)
async def automation_result(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """What the automation's webhook answered (fed back by the webhook channel only)."""
    if ctx.channel != WEBHOOK:
        # Only the webhook channel makes these; a click elsewhere is not one of them.
        return [not_found("that task")]
    parsed = parse_ref(ctx.params.get("task", ""))
    ticket = await ctx.uow.tickets.by_ref(parsed[0]) if parsed else None
    if ticket is not None:
        await ctx.uow.catalog.lock_request(ticket.id)
    task = await ctx.uow.catalog.task(ticket.id, parsed[1]) if ticket and parsed else None
    if ticket is None or task is None or task.status != OPEN or not task.automation:
        return []
    ok = ctx.params.get("outcome") == DONE
    await finish(ctx, ticket, task, ok=ok, note=ctx.params.get("detail", "")[:2000])
    return []


async def progress(ctx: HandlerContext, ticket: Ticket) -> list[dict[str, Any]]:
    """A request's tasks as the API shows them."""
    return [
        {
            "ref": task_ref(ticket, t),
            "name": t.name,
            "group": t.group.name if t.group else None,
            "automation": t.automation,
            "status": t.status,
            "result": t.result,
            "done_at": t.done_at.isoformat() if t.done_at else None,
        }
        for t in await ctx.uow.catalog.tasks(ticket.id)
    ]
