"""Ordering from the service catalog in chat: the form as a dialogue, approval, fulfilment.

"I need a new laptop" finds the item, takes what the first message already answers, asks
each missing field in turn (an answer that does not fit is asked again with the reason),
shows a summary and asks to submit. The request then waits for the requester's manager or
the item's approval group, who are messaged with Approve / Reject; the requester never
decides their own. Once approved (or when the item needs no approval) the request goes to the
item's fulfilment group with the item's fulfilment target as its resolution clock.

The form's progress travels in the dialogue state (`ctx.expect` and `ctx.carry`), so a
worker restart between two answers loses nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from channels.conversation import Button, ButtonStyle, Reply
from handlers import fulfilment
from handlers.context import ANSWER_ACTION, HandlerContext
from handlers.errors import Said, explain
from handlers.registry import Declined, registry
from handlers.replies import date_text, language, language_of, say, status_label
from handlers.routing import tell_group
from handlers.rules import catalog_form as form
from handlers.rules import sla
from handlers.rules.calendar import ALWAYS, CalendarError, parse_duration
from handlers.service_levels import start_clock, store
from handlers.tickets import can_see, card, not_found, open_ticket
from nlu.types import EntityName, IntentName, Understanding
from store.catalog import CatalogItem, CatalogRequest
from store.enums import Decision, Level, Role, Status, TicketKind
from store.models import Person, Ticket
from store.uow import UnitOfWork

ITEM = "catalog_item"
ANSWERS = "catalog_answers"
FIELD = "catalog_field"
TEXT = "original_text"
OWNER = "catalog_owner"
SLOT = "answer"
SUBMIT, CANCEL, ORDER = "catalog_submit", "catalog_cancel", "catalog_order"
APPROVE, REJECT = "approve_request", "reject_request"
LISTED = 8
KEYBOARD_CHANNELS = frozenset({"telegram"})
"""Channels where a choice field's choices are offered as a keyboard as well."""

ORDER_INTENT = IntentName.REQUEST_CATALOG
"""The intent whose handler continues a form (`handlers.requests` serves it: stored items
through their form, anything else as a free-text request)."""

_LIST = re.compile(
    r"\b(what can i (order|request|get)|(show|list|see)( me)? the (service )?catalog(ue)?|"
    r"catalog(ue)?)\b|可以申请什么|服务目录",
    re.IGNORECASE,
)
_WORD = re.compile(r"[\w-]+")
_TYPED_DECISION = re.compile(
    r"^\W*/?(?P<verb>approve|reject)\s+(?P<ref>REQ-\d{1,9})\b[\s,.:;!-]*"
    r"(?:(?:because|as|since|reason:?)\s+)?(?P<note>.*)$",
    re.IGNORECASE | re.DOTALL,
)
# A CI answer is read as typed: the NLU's `service` entity knows services, not every CI,
# and would turn "payroll-db" into the Payroll service.
_ENTITY_OF = {form.FieldType.DATE: EntityName.DATETIME, form.FieldType.EMAIL: EntityName.EMAIL}


def asks_for_list(text: str) -> bool:
    """Whether a message asks what can be ordered ("What can I order?" and the like)."""
    return _LIST.search(text) is not None


async def item_for(nlu: Understanding, ctx: HandlerContext) -> CatalogItem | None:
    """The stored item a message names: by the NLU's entity, else a name or alias in the text."""
    for value in nlu.values(EntityName.CATALOG_ITEM):
        found = await ctx.uow.catalog.find(value)
        if found is not None:
            return found
    said = f" {_words(nlu.text)} "
    best: tuple[int, CatalogItem] | None = None
    for item in await ctx.uow.catalog.items():
        for name in (item.name, *(str(a) for a in item.aliases or ())):
            words = _words(name)
            hit = words and (f" {words} " in said or (not words.isascii() and words in said))
            if hit and (best is None or len(words) > best[0]):
                best = (len(words), item)
    return best[1] if best else None


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def _fields(item: CatalogItem) -> list[form.FormField]:
    return form.fields_of(item.fields or ())


async def known(uow: UnitOfWork, field: form.FormField, value: str) -> str:
    """A person or CI answer as the directory or CMDB spells it; `AnswerError` if unknown.

    Any other answer, and an empty one (an optional field skipped), is returned as it is.
    """
    if not value or field.type not in (form.FieldType.PERSON, form.FieldType.CI):
        return value
    if field.type is form.FieldType.CI:
        ci = await uow.services.by_name(value)
        if ci is None:
            raise form.AnswerError(Said("form.refused.no_ci", value=repr(value[:80])))
        return ci.name
    person = await uow.people.by_email(value) if "@" in value else None
    if person is None:
        wanted = value.casefold()
        named = [p for p in await uow.people.everyone() if p.active and p.name.casefold() == wanted]
        person = named[0] if len(named) == 1 else None
        if len(named) > 1:
            raise form.AnswerError(Said("form.refused.several", value=repr(value[:80])))
    if person is None or not person.active:
        raise form.AnswerError(Said("form.refused.nobody", value=repr(value[:80])))
    return person.email or person.name


async def check_known(
    uow: UnitOfWork, fields: list[form.FormField], answers: dict[str, str]
) -> dict[str, str]:
    """Replace person and CI answers by their stored spelling; the reasons of those unknown."""
    errors: dict[str, str] = {}
    for f in fields:
        if not answers.get(f.name):
            continue
        try:
            answers[f.name] = await known(uow, f, answers[f.name])
        except form.AnswerError as e:
            errors[f.name] = str(e)
    return errors


def _may_order(item: CatalogItem, person: Person) -> bool:
    return form.may_order(
        roles=person.role_set,
        organisation=person.organisation,
        allowed_roles=[str(r) for r in item.roles or ()],
        allowed_organisations=[str(o) for o in item.organisations or ()],
    )


def _prefill(item: CatalogItem, nlu: Understanding) -> dict[str, str]:
    """Answers the first message already gives: an email, a date, one of a field's choices."""
    answers: dict[str, str] = {}
    said = nlu.text.casefold()
    for f in _fields(item):
        raw: str | None = None
        entity = _ENTITY_OF.get(f.type)
        if entity is not None:
            found = nlu.first(entity)
            raw = found.value if found else None
        elif f.type is form.FieldType.CHOICE:
            named = [
                c for c in f.choices if re.search(rf"(?<!\w){re.escape(c.casefold())}(?!\w)", said)
            ]
            raw = named[0] if len(named) == 1 else None
        if raw is None:
            continue
        try:
            answers[f.name] = form.check(f, raw)
        except form.AnswerError:
            continue
    return answers


def _state(item: CatalogItem, answers: Mapping[str, str], text: str, owner: int) -> dict[str, str]:
    return {
        ITEM: item.name,
        ANSWERS: json.dumps(dict(answers)),
        TEXT: text[:2000],
        OWNER: str(owner),
    }


def _owner(ctx: HandlerContext) -> int:
    """Whose form this is: the person who started it (a shared channel has several people)."""
    raw = ctx.params.get(OWNER, "")
    return int(raw) if raw.isdigit() else ctx.person.id


def _someone_else(ctx: HandlerContext) -> bool:
    return _owner(ctx) != ctx.person.id


def _answers(params: Mapping[str, str]) -> dict[str, str]:
    try:
        loaded = json.loads(params.get(ANSWERS) or "{}")
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(k): str(v) for k, v in loaded.items()}


def _intent(nlu: Understanding) -> str:
    if nlu.intent in (IntentName.REQUEST_SERVICE, ORDER_INTENT):
        return nlu.intent.value
    return ORDER_INTENT.value


async def start_order(nlu: Understanding, ctx: HandlerContext, item: CatalogItem) -> list[Reply]:
    """Begin filling an item's form from the first message."""
    lang = language(ctx, nlu)
    if not _may_order(item, ctx.person):
        who = _who_may(item, lang)
        return [Reply(text=say(lang, "catalog.not_for_you", item=item.name, who=who))]
    answers = _prefill(item, nlu)
    cost = f" ({item.cost})" if item.cost else ""
    intro = say(lang, "catalog.lets_order", item=item.name, cost=cost)
    return _ask_or_summarise(
        ctx, item, answers, ctx.text, intent=_intent(nlu), intro=intro, lang=lang
    )


def _who_may(item: CatalogItem, lang: str = "en") -> str:
    parts = []
    either = say(lang, "catalog.or")
    if item.roles:
        roles = either.join(str(r) for r in item.roles)
        parts.append(say(lang, "catalog.role_people", roles=roles))
    if item.organisations:
        orgs = either.join(str(o) for o in item.organisations)
        parts.append(say(lang, "catalog.org_people", orgs=orgs))
    both = say(lang, "catalog.and")
    return say(lang, "catalog.for_whom", parts=both.join(parts)) if parts else ""


async def continue_order(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """The answer to the question asked last: checked, kept, and the next question asked."""
    lang = language(ctx, nlu)
    item = await ctx.uow.catalog.named(ctx.params.get(ITEM, ""))
    if item is None or not item.active:
        return [Reply(text=say(lang, "catalog.item_gone_stopped"))]
    answers = _answers(ctx.params)
    text = ctx.params.get(TEXT, "")
    fields = {f.name: f for f in _fields(item)}
    asked = fields.get(ctx.params.get(FIELD, ""))
    if _someone_else(ctx):
        # In a shared conversation the question stays open for the person who ordered.
        if asked is not None:
            _expect(ctx, item, answers, text, asked, intent=_intent(nlu))
        return [Reply(text=say(lang, "catalog.waiting_owner"))]
    if asked is not None:
        try:
            checked = form.check(asked, ctx.params.get(SLOT, ""))
            answers[asked.name] = await known(ctx.uow, asked, checked)
        except form.AnswerError as e:
            _expect(ctx, item, answers, text, asked, intent=_intent(nlu))
            return [Reply(text=f"{explain(e, lang)} {asked.question_in(lang)}")]
    return _ask_or_summarise(ctx, item, answers, text, intent=_intent(nlu), lang=lang)


def _expect(
    ctx: HandlerContext,
    item: CatalogItem,
    answers: Mapping[str, str],
    text: str,
    field: form.FormField,
    *,
    intent: str,
) -> None:
    entity = _ENTITY_OF.get(field.type)
    ctx.expect(
        SLOT,
        intent=intent,
        entity=entity.value if entity else None,
        params={**_state(item, answers, text, _owner(ctx)), FIELD: field.name},
    )


def _ask_or_summarise(
    ctx: HandlerContext,
    item: CatalogItem,
    answers: dict[str, str],
    text: str,
    *,
    intent: str,
    intro: str = "",
    lang: str = "en",
) -> list[Reply]:
    fields = _fields(item)
    pending = form.next_field(fields, answers)
    # Chinese sentences run on without a space after the full stop.
    lead = f"{intro} " if intro and not intro.endswith("。") else intro
    if pending is not None:
        # Choices are numbered in the text on every channel; where a keyboard is the custom
        # (Telegram) they are buttons too, which answer the same question as typing them.
        _expect(ctx, item, answers, text, pending, intent=intent)
        keys: tuple[Button, ...] = ()
        if pending.type is form.FieldType.CHOICE and ctx.channel in KEYBOARD_CHANNELS:
            keys = tuple(
                Button(label=c, action=ANSWER_ACTION, value=str(i))
                for i, c in enumerate(pending.choices, start=1)
            )
        return [Reply(text=f"{lead}{pending.question_in(lang)}", buttons=keys)]
    ctx.carry = _state(item, answers, text, _owner(ctx))
    lines = [say(lang, "catalog.summary", lead=lead, item=item.name)]
    none = say(lang, "catalog.no_answer")
    lines += [f"• {f.label_in(lang)}: {answers.get(f.name) or none}" for f in fields]
    if _steps(item):
        lines.append(say(lang, "catalog.needs_approval", who=_approver_words(item, lang)))
    lines.append(say(lang, "catalog.submit_it"))
    return [
        Reply(
            text="\n".join(lines),
            buttons=(
                Button(label=say(lang, "confirm.yes"), action=SUBMIT, style=ButtonStyle.PRIMARY),
                Button(label=say(lang, "confirm.no"), action=CANCEL),
            ),
        )
    ]


def _approver_words(item: CatalogItem, lang: str = "en") -> str:
    return say(lang, "catalog.step.then").join(_step_words(step, lang) for step in _steps(item))


def _step_words(step: dict[str, Any], lang: str = "en") -> str:
    quorum = int(step.get("quorum") or 1)
    if step.get("by") == "manager":
        return say(lang, "catalog.step.manager")
    if step.get("by") == "ci_owner":
        field = step.get("field") or say(lang, "catalog.step.ci")
        return say(lang, "catalog.step.ci_owner", field=field)
    group = (
        say(lang, "catalog.step.group", group=step["group"])
        if step.get("group")
        else say(lang, "catalog.step.approver")
    )
    return say(lang, "catalog.step.quorum", quorum=quorum, group=group) if quorum > 1 else group


def _steps(item: CatalogItem) -> list[dict[str, Any]]:
    """The item's approval chain; an item stored before chains has `approval` as one step."""
    if item.approvals:
        return [dict(s) for s in item.approvals]
    if item.approval == "manager":
        return [{"by": "manager", "quorum": 1}]
    if item.approval == "group":
        group = item.approval_group.name if item.approval_group else None
        return [{"by": "group", "group_id": item.approval_group_id, "group": group, "quorum": 1}]
    return []


async def _resolve_chain(
    ctx: HandlerContext, item: CatalogItem, answers: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each step with the people who may decide it and how many must approve.

    Resolved when the order is placed. The requester is never an approver; a step nobody
    it names can decide (no manager in the directory, an empty group, an unknown CI) goes
    to the desk's approvers, so the request does not wait forever.
    """
    chain: list[dict[str, Any]] = []
    for step in _steps(item):
        ids: list[int] = []
        label = _step_words(step)
        by = step.get("by")
        if by == "manager" and ctx.person.manager_id is not None:
            ids = [ctx.person.manager_id]
            manager = await ctx.uow.people.get(ctx.person.manager_id)
            label = manager.name if manager is not None else label
        elif by == "group" and step.get("group_id"):
            ids = await ctx.uow.catalog.group_member_ids(int(step["group_id"]))
        elif by == "ci_owner":
            named = answers.get(str(step.get("field") or ""), "")
            ci = await ctx.uow.services.by_name(named) if named else None
            if ci is not None and ci.owner_group_id is not None:
                ids = await ctx.uow.catalog.group_member_ids(ci.owner_group_id)
                label = f"the owners of {ci.name}"
        people = [p for p in [await ctx.uow.people.get(i) for i in ids] if p is not None]
        people = [p for p in people if p.active and p.id != ctx.person.id]
        if not people:
            people = [
                p
                for p in await ctx.uow.people.with_role(Role.APPROVER)
                if p.active and p.id != ctx.person.id
            ]
            label = "the desk's approvers"
        quorum = max(1, min(int(step.get("quorum") or 1), len(people) or 1))
        chain.append(
            {"by": by, "label": label, "approvers": [p.id for p in people], "quorum": quorum}
        )
    return chain


@registry.action(ORDER)
async def order_item(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """A click on an item in the catalog list."""
    item = await ctx.uow.catalog.find(ctx.params.get("ref", ""))
    if item is None:
        return [Reply(text=say(language(ctx, nlu), "catalog.item_gone"))]
    ctx.text = ""
    return await start_order(nlu, ctx, item)


@registry.action(CANCEL)
async def cancel_order(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """The person decided not to submit the order."""
    lang = language(ctx, nlu)
    if _someone_else(ctx):
        return [Reply(text=say(lang, "catalog.cancel_owner_only"))]
    what = ctx.params.get(ITEM) or say(lang, "catalog.the_order")
    return [Reply(text=say(lang, "catalog.dropped", what=what), replaces=True)]


async def list_items(ctx: HandlerContext) -> list[Reply]:
    """The items this person may order, by category, for "What can I order?"."""
    items = [i for i in await ctx.uow.catalog.items() if _may_order(i, ctx.person)]
    lang = language(ctx)
    if not items:
        return [Reply(text=say(lang, "catalog.nothing"))]
    lines = [say(lang, "catalog.list")]
    category = None
    for i in items:
        if i.category != category and i.category:
            lines.append(f"{i.category}:")
        category = i.category
        about = f": {i.description.splitlines()[0][:120]}" if i.description else ""
        lines.append(f"• {i.name}{about}")
    lines.append(say(lang, "catalog.list_hint"))
    buttons = tuple(Button(label=i.name, action=ORDER, value=i.name) for i in items[:LISTED])
    return [Reply(text="\n".join(lines), buttons=buttons)]


# -- submitting, approving, fulfilling -------------------------------------------------------


@registry.action(SUBMIT)
async def submit(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Submit a filled-in form: the request is opened and goes to approval or fulfilment."""
    lang = language(ctx, nlu)
    item = await ctx.uow.catalog.named(ctx.params.get(ITEM, ""))
    if item is None or not item.active:
        return [Reply(text=say(lang, "catalog.expired"))]
    if _someone_else(ctx):
        return [Reply(text=say(lang, "catalog.submit_owner_only"))]
    if not _may_order(item, ctx.person):
        return [Reply(text=say(lang, "catalog.not_for_you_short", item=item.name))]
    answers, errors = form.check_all(_fields(item), _answers(ctx.params))
    errors = errors or await check_known(ctx.uow, _fields(item), answers)
    if errors:
        return [Reply(text=say(lang, "catalog.incomplete"))]
    ticket = await place_order(ctx, item, answers, ctx.params.get(TEXT, ""))
    request = await ctx.uow.catalog.request_of(ticket.id)
    if ticket.status is Status.AWAITING_APPROVAL and request is not None:
        names = [p.name for p in await approvers(ctx, request)]
        who = ", ".join(names) if names else say(lang, "catalog.an_approver")
        text = say(lang, "catalog.opened_approval", ref=ticket.ref, item=item.name, who=who)
    else:
        group = (
            item.fulfilment_group.name if item.fulfilment_group else say(lang, "catalog.the_desk")
        )
        text = say(lang, "catalog.opened", ref=ticket.ref, item=item.name, group=group)
    return [Reply(text=text, card=card(ticket, lang=lang), ticket_ref=ticket.ref, replaces=True)]


async def place_order(
    ctx: HandlerContext, item: CatalogItem, answers: Mapping[str, str], text: str
) -> Ticket:
    """Open the request for checked answers, then ask for approval or start fulfilment.

    Shared by chat and the API, so an order means the same wherever it was placed.
    """
    fields = _fields(item)
    lines = [f"{f.label}: {answers.get(f.name) or '-'}" for f in fields]
    description = "\n".join(([text.strip(), ""] if text.strip() else []) + lines)
    needs = bool(_steps(item))
    ticket = await open_ticket(
        ctx,
        kind=TicketKind.REQUEST,
        title=f"{item.name} for {ctx.person.name}",
        description=description[:4000],
        service=None,
        impact=Level.LOW,
        urgency=Level.LOW,
        status=Status.AWAITING_APPROVAL if needs else Status.NEW,
        catalog_item=item.name,
        log={"catalog_item": item.name, "answers": dict(answers)},
    )
    chain = await _resolve_chain(ctx, item, answers)
    manager = None
    if item.approval == "manager" and ctx.person.manager_id is not None:
        manager = await ctx.uow.people.get(ctx.person.manager_id)
    request = await ctx.uow.catalog.add_request(
        ticket_id=ticket.id,
        item=item,
        answers=dict(answers),
        approval=str(chain[0]["by"]) if chain else "none",
        approver=manager,
        approval_group_id=item.approval_group_id if item.approval == "group" else None,
    )
    request.chain = chain
    request.step = 0
    if not needs:
        await fulfil(ctx, ticket, item)
        return ticket
    await _ask_step(ctx, ticket, request, ctx.person.name)
    return ticket


async def _ask_step(
    ctx: HandlerContext, ticket: Ticket, request: CatalogRequest, requester: str
) -> None:
    """Send the current step's approvers the request with Approve / Reject."""
    item = request.item
    answers = request.answers or {}
    fields = _fields(item) if item is not None else []
    chain = request.chain or []

    def ask(lang: str) -> Reply:
        lines = [f"{f.label_in(lang)}: {answers.get(f.name) or '-'}" for f in fields]
        of = (
            say(lang, "catalog.ask_of", step=request.step + 1, steps=len(chain))
            if len(chain) > 1
            else ""
        )
        return Reply(
            text=say(
                lang,
                "catalog.ask",
                requester=requester,
                item=item.name if item else ticket.title,
                ref=ticket.ref,
                of=of,
                lines="\n".join(f"• {line}" for line in lines),
            ),
            card=card(ticket, lang=lang),
            buttons=(
                Button(
                    label=say(lang, "approvers.approve"),
                    action=APPROVE,
                    value=ticket.ref,
                    style=ButtonStyle.PRIMARY,
                ),
                Button(
                    label=say(lang, "approvers.reject"),
                    action=REJECT,
                    value=ticket.ref,
                    style=ButtonStyle.DANGER,
                ),
            ),
            ticket_ref=ticket.ref,
        )

    for approver in await approvers(ctx, request):
        ctx.notify(approver.id, ask(language_of(approver)))


async def approvers(ctx: HandlerContext, request: CatalogRequest) -> list[Person]:
    """Who may decide the current step (a request placed before chains: its one approver).

    The requester is never among them.
    """
    ticket = await ctx.uow.tickets.get(request.ticket_id)
    requester = ticket.requester_id if ticket else None
    if request.chain:
        step = request.chain[min(request.step, len(request.chain) - 1)]
        found = [await ctx.uow.people.get(int(i)) for i in step.get("approvers") or ()]
        return [p for p in found if p is not None and p.active and p.id != requester]
    return await _legacy_approvers(ctx, request, requester)


async def _legacy_approvers(
    ctx: HandlerContext, request: CatalogRequest, requester: int | None
) -> list[Person]:
    ids: list[int] = []
    if request.approval == "manager" and request.approver_id is not None:
        ids = [request.approver_id]
    elif request.approval == "group" and request.approval_group_id is not None:
        ids = await ctx.uow.catalog.group_member_ids(request.approval_group_id)
    people = [p for p in [await ctx.uow.people.get(i) for i in ids] if p is not None]
    if not people:
        # Nobody the item names can decide (no manager in the directory, an empty group):
        # the approvers of the desk do, so the request does not wait forever.
        people = await ctx.uow.people.with_role(Role.APPROVER)
    return [p for p in people if p.id != requester and p.active]


async def fulfil(ctx: HandlerContext, ticket: Ticket, item: CatalogItem) -> None:
    """Hand the request to the fulfilment group, with the item's target as its clock."""
    group = item.fulfilment_group or await ctx.uow.desk.default_group()
    if group is not None:
        ticket.group_id = group.id
        ticket.group = group
        ctx.log(ticket, "routed", group=group.name, previous_group_id=None)
    clock = _fulfilment_clock(item, ticket, ctx)
    if clock is None:
        await start_clock(ctx, ticket)
    else:
        store(ticket, clock, ctx.now)
        ctx.log(
            ticket,
            "sla",
            name=clock.policy,
            response_due_at=None,
            resolve_due_at=clock.resolve_due_at.isoformat() if clock.resolve_due_at else None,
        )
    if group is not None:
        await tell_group(ctx, ticket, group)
    await fulfilment.start(ctx, ticket, item)


def _fulfilment_clock(item: CatalogItem, ticket: Ticket, ctx: HandlerContext) -> sla.Clock | None:
    if not item.fulfilment_target or ticket.priority is None:
        return None
    try:
        target = parse_duration(item.fulfilment_target)
    except CalendarError:
        return None
    policy = sla.Policy(
        name=f"catalog: {item.name}"[:120],
        applies_to=sla.AppliesTo(),
        calendar=ALWAYS,
        targets={ticket.priority: sla.Targets(resolve=target)},
    )
    # The fulfilment clock starts when the work may start: at approval, or at once.
    return sla.start(policy, ticket.priority, ctx.now)


@registry.command("approve", "reject", listed=False)
async def typed_decision(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Decide a request sent to you: "approve REQ-4" or "reject REQ-4 not in this budget"."""
    said = _TYPED_DECISION.match(ctx.text or nlu.text)
    if said is None:
        # "approve CHG-12", or "reject" that names no request: the change approvals (and
        # the NLU) read it as they would without this command.
        raise Declined
    ctx.params = {"ref": said.group("ref").upper(), "note": said.group("note").strip()}
    verdict = Decision.APPROVED if said.group("verb").lower() == "approve" else Decision.REJECTED
    # A typed message has no card of its own to edit: the answer is a new message.
    return [replace(r, replaces=False) for r in await _decide(ctx, verdict)]


@registry.action(APPROVE)
async def approve_request(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Approve a catalog request sent to you."""
    return await _decide(ctx, Decision.APPROVED)


@registry.action(REJECT)
async def reject_request(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Reject a catalog request sent to you."""
    return await _decide(ctx, Decision.REJECTED)


async def _decide(ctx: HandlerContext, decision: Decision) -> list[Reply]:
    ref = ctx.params.get("ref", "").upper()
    ticket = await ctx.uow.tickets.by_ref(ref) if ref else None
    request = await ctx.uow.catalog.lock_request(ticket.id) if ticket else None
    if ticket is None or request is None or ticket.kind is not TicketKind.REQUEST:
        return [not_found(ref or "that request")]
    lang = language(ctx)
    if ticket.requester_id == ctx.person.id:
        return [
            Reply(
                text=say(lang, "catalog.own_request", ref=ticket.ref),
                ticket_ref=ticket.ref,
                ephemeral=True,
            )
        ]
    deciders = await approvers(ctx, request)
    if ctx.person.id not in {p.id for p in deciders}:
        in_chain = any(ctx.person.id in (s.get("approvers") or ()) for s in request.chain or ())
        if not can_see(ctx.person, ticket) and not in_chain:
            # Outside the chain and not staff: the same answer as for a request that
            # does not exist, so references cannot be probed for who approves what.
            return [not_found(ticket.ref)]
        who = ", ".join(p.name for p in deciders) or say(lang, "catalog.an_approver")
        return [
            Reply(
                text=say(lang, "catalog.only_who", who=who, ref=ticket.ref),
                ticket_ref=ticket.ref,
                ephemeral=True,
            )
        ]
    if ticket.status is not Status.AWAITING_APPROVAL:
        return [
            Reply(
                text=say(
                    lang,
                    "catalog.not_waiting",
                    ref=ticket.ref,
                    status=status_label(ticket.status, lang),
                ),
                card=card(ticket, lang=lang),
                ticket_ref=ticket.ref,
                ephemeral=True,
            )
        ]
    comment = ctx.params.get("note", "")[:1000]
    step = request.step if request.chain else 0
    if any(d.person_id == ctx.person.id for d in await ctx.uow.catalog.decisions(ticket.id, step)):
        return [
            Reply(
                text=say(lang, "catalog.decided_already", ref=ticket.ref),
                ticket_ref=ticket.ref,
                ephemeral=True,
            )
        ]
    await ctx.uow.catalog.decide(
        ticket_id=ticket.id,
        step=step,
        person_id=ctx.person.id,
        decision=decision.value,
        comment=comment,
        channel=ctx.channel,
    )
    if not await ctx.uow.catalog.has_approval(ticket.id, ctx.person.id):
        await ctx.uow.tickets.add_approval(
            ticket, ctx.person, decision, comment=comment, channel=ctx.channel
        )
    ticket.updated_at = ctx.now
    chain = request.chain or []
    if decision is Decision.APPROVED:
        approved = [
            d
            for d in await ctx.uow.catalog.decisions(ticket.id, step)
            if d.decision == Decision.APPROVED.value
        ]
        quorum = int(chain[step].get("quorum") or 1) if chain else 1
        ctx.log(
            ticket,
            "approval",
            step=step + 1,
            decision="approved",
            approvals=len(approved),
            quorum=quorum,
            comment=comment or None,
        )
        if len(approved) < quorum:
            return [
                Reply(
                    text=say(
                        lang, "catalog.more_needed", ref=ticket.ref, count=quorum - len(approved)
                    ),
                    card=card(ticket, lang=lang),
                    ticket_ref=ticket.ref,
                    replaces=True,
                )
            ]
        if step + 1 < len(chain):
            request.step = step + 1
            requester = await ctx.uow.people.get(ticket.requester_id)
            await _ask_step(ctx, ticket, request, requester.name if requester else "Someone")
            label = str(chain[step + 1].get("label") or "the next approver")
            ctx.notify_requester(
                ticket,
                Reply(
                    text=say(
                        language_of(ticket.requester, ticket),
                        "catalog.approved_next_told",
                        ref=ticket.ref,
                        name=ctx.person.name,
                        label=label,
                    ),
                    ticket_ref=ticket.ref,
                ),
            )
            return [
                Reply(
                    text=say(lang, "catalog.approved_next", ref=ticket.ref, label=label),
                    card=card(ticket, lang=lang),
                    ticket_ref=ticket.ref,
                    replaces=True,
                )
            ]
    request.decided_at = ctx.now
    item = request.item
    told_lang = language_of(ticket.requester, ticket)
    if decision is Decision.APPROVED:
        ticket.status = Status.NEW
        ctx.log(ticket, Decision.APPROVED.value, comment=comment or None, outcome="approved")
        if item is not None:
            await fulfil(ctx, ticket, item)
        due = (
            say(told_lang, "catalog.due", when=date_text(ticket.resolve_due_at, told_lang))
            if ticket.resolve_due_at
            else ""
        )
        group = (
            say(told_lang, "catalog.group_takes", group=ticket.group.name) if ticket.group else ""
        )
        told = say(
            told_lang,
            "catalog.approved_told",
            ref=ticket.ref,
            name=ctx.person.name,
            group=group,
            due=due,
        )
    else:
        ticket.status = Status.REJECTED
        ctx.log(ticket, Decision.REJECTED.value, comment=comment or None, outcome="rejected")
        reason = say(told_lang, "catalog.reason", comment=comment) if comment else ""
        told = say(
            told_lang, "catalog.rejected_told", ref=ticket.ref, name=ctx.person.name, reason=reason
        )
    ctx.notify_requester(
        ticket, Reply(text=told, card=card(ticket, lang=lang), ticket_ref=ticket.ref)
    )
    done = "catalog.you_approved" if decision is Decision.APPROVED else "catalog.you_rejected"
    return [
        Reply(
            text=say(lang, done, ref=ticket.ref),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
            replaces=True,
        )
    ]


def first_step(item: CatalogItem) -> str:
    """Who approves first: `none`, `manager`, `group` or `ci_owner`."""
    steps = _steps(item)
    return str(steps[0]["by"]) if steps else "none"


def step_words(item: CatalogItem) -> list[str]:
    """Each approval step in words, as the API lists them."""
    words = []
    for step in _steps(item):
        quorum = int(step.get("quorum") or 1)
        if step.get("by") == "group":
            words.append(
                f"{quorum} of {step.get('group')}" if quorum > 1 else str(step.get("group"))
            )
        elif step.get("by") == "ci_owner":
            words.append(f"owners of the CI in `{step.get('field')}`")
        else:
            words.append("manager")
    return words


def public_fields(item: CatalogItem) -> list[dict[str, Any]]:
    """The form as people filling it in see it (API, portal)."""
    return [f.to_dict() for f in _fields(item)]
