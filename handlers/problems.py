"""Problems and known errors, from incidents to the cause and the workaround.

Opens a problem over incidents, records the cause and the workaround, answers new reports
that match a known error, and offers recurring incidents as a problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from channels.conversation import Button, ButtonStyle, Reply
from handlers.context import HandlerContext
from handlers.errors import HandlerError, Said, explain
from handlers.registry import registry
from handlers.replies import language, language_named, language_of, say
from handlers.rules import known_errors
from handlers.rules.known_errors import ProblemStageError, Report
from handlers.tickets import card, title_from
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Role, Status, TicketKind
from store.models import Service, Ticket
from store.problems import ProblemRecord, ProblemStage


class ProblemError(HandlerError):
    """A problem step that cannot be taken; `conflict` marks a lifecycle refusal (409)."""

    def __init__(self, message: Said | str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict


async def open_problem_for(
    ctx: HandlerContext,
    *,
    title: str,
    incidents: Sequence[Ticket],
    service: Service | None = None,
    description: str = "",
    how: str = "agent",
) -> tuple[Ticket, ProblemRecord]:
    """A new problem with `incidents` linked; its service is theirs unless given."""
    for inc in incidents:
        if inc.kind is not TicketKind.INCIDENT:
            raise ProblemError(Said("problem.not_incident", ref=inc.ref))
    if service is None:
        service = next((i.service for i in incidents if i.service is not None), None)
    problem = await ctx.uow.tickets.create(
        kind=TicketKind.PROBLEM,
        title=title,
        description=description or title,
        requester=ctx.person,
        status=Status.NEW,
        service_id=service.id if service else None,
        group_id=service.owner_group_id if service else None,
        origin=ctx.address.to_dict(),
        updated_at=ctx.now,
    )
    record = await ctx.uow.problems.record(problem)
    for inc in incidents:
        await ctx.uow.problems.link(problem, inc, how=how)
    ctx.log(problem, "created", incidents=[i.ref for i in incidents] or None, how=how)
    for inc in incidents:
        ctx.log(inc, "linked", problem=problem.ref)
    return problem, record


@dataclass(frozen=True, slots=True)
class Update:
    """What an agent records on a problem; None leaves a field as it is."""

    stage: ProblemStage | None = None
    root_cause: str | None = None
    workaround: str | None = None
    symptoms: tuple[str, ...] | None = None


async def update_problem(ctx: HandlerContext, problem: Ticket, change: Update) -> ProblemRecord:
    """Record cause, workaround and symptoms, and move the stage as the lifecycle allows."""
    if not ctx.person.has_role(Role.AGENT):
        raise ProblemError(Said("problem.agents_work"))
    record = await ctx.uow.problems.record(problem)
    if change.root_cause is not None:
        record.root_cause = change.root_cause
    if change.workaround is not None:
        record.workaround = change.workaround
    if change.symptoms is not None:
        record.symptoms = list(change.symptoms)
    if change.stage is not None and change.stage is not record.stage:
        try:
            record.stage = known_errors.move(
                problem.ref, record.stage, change.stage, workaround=record.workaround
            )
        except ProblemStageError as e:
            raise ProblemError(e.said or str(e), conflict=True) from e
        problem.status = known_errors.STATUS[record.stage]
        if record.stage is ProblemStage.KNOWN_ERROR:
            record.known_error_at = ctx.now
        if record.stage is ProblemStage.RESOLVED:
            problem.resolved_at = ctx.now
            await _tell_linked(ctx, problem)
        if record.stage is ProblemStage.CLOSED:
            problem.closed_at = ctx.now
    record.updated_at = ctx.now
    problem.updated_at = ctx.now
    ctx.log(
        problem,
        "problem_updated",
        stage=record.stage.value,
        root_cause=change.root_cause,
        workaround=change.workaround,
    )
    return record


async def _tell_linked(ctx: HandlerContext, problem: Ticket) -> None:
    """Every linked open incident's requester hears that the cause is fixed."""
    for inc in await ctx.uow.problems.incidents(problem):
        if inc.status in (Status.NEW, Status.IN_PROGRESS, Status.ON_HOLD):
            lang = language_of(inc.requester, inc)
            ctx.notify_requester(
                inc,
                Reply(
                    text=say(
                        lang,
                        "problem.cause_fixed",
                        ref=inc.ref,
                        problem=problem.ref,
                        title=problem.title,
                    ),
                    card=card(inc, lang=lang),
                    ticket_ref=inc.ref,
                ),
            )


async def resolve_by_change(ctx: HandlerContext, change: Ticket) -> list[Ticket]:
    """Problems a successful change fixes: those its description names (`PRB-n`).

    Its request also records them as `fixes` in its history.
    """
    refs = {w.strip(".,;:()").upper() for w in change.description.split()}
    done = []
    for ref in sorted(r for r in refs if r.startswith("PRB-")):
        problem = await ctx.uow.tickets.by_ref(ref)
        if problem is None or problem.kind is not TicketKind.PROBLEM:
            continue
        record = await ctx.uow.problems.record(problem)
        if ProblemStage.RESOLVED not in known_errors.allowed(record.stage):
            continue
        record.stage = ProblemStage.RESOLVED
        record.updated_at = ctx.now
        problem.status = Status.RESOLVED
        problem.resolved_at = ctx.now
        problem.updated_at = ctx.now
        ctx.log(problem, "problem_updated", stage=record.stage.value, change=change.ref)
        await _tell_linked(ctx, problem)
        done.append(problem)
    return done


async def on_new_incident(ctx: HandlerContext, incident: Ticket) -> str:
    """What a new incident adds to its reply: a known error's workaround, if one matches.

    Also checks whether incidents on the service recur, and offers them as a problem to the
    service's owner group. Called by the incident handler right after it logs the report.
    """
    if incident.service_id is None:
        return ""
    said = f"{incident.title} {incident.description}"
    text = ""
    for known in await ctx.uow.problems.known_errors(incident.service_id):
        if not known_errors.matches(said, known.symptoms):
            continue
        problem = await ctx.uow.tickets.get(known.problem_id)
        if problem is None:
            continue
        await ctx.uow.problems.link(problem, incident, how="known_error")
        ctx.log(incident, "linked", problem=known.ref, known_error=True)
        text = say(
            language(ctx),
            "problem.known_error_match",
            ref=known.ref,
            workaround=known.workaround,
        )
        break
    if not text:
        await offer_recurring(ctx, incident.service_id)
    return text


async def offer_recurring(ctx: HandlerContext, service_id: int) -> list[str]:
    """Offer a cluster of recurring incidents on a service to its owner group, once.

    The references of the incidents offered; none when no new cluster was offered.
    """
    since = ctx.now - known_errors.RECUR_WINDOW
    # Incidents linked to a problem or offered already are left out by the query itself.
    recent = await ctx.uow.problems.recurrence_candidates(service_id, since)
    # The report that triggers the check was stamped by the database after this message's
    # clock was read: counting up to it keeps the newest report in its own cluster.
    now = max([ctx.now, *(at for _, at, _, _, _ in recent)])
    cluster = known_errors.recurring(
        [Report(i, at, f"{title} {text}") for i, at, title, text, _ in recent],
        now,
    )
    if not cluster:
        return []
    service = await ctx.uow.session.get(Service, service_id)
    if service is None:
        return []
    key = f"{service_id}:" + ",".join(str(r.id) for r in cluster)
    offer = await ctx.uow.problems.offer(
        key,
        service_id=service_id,
        group_id=service.owner_group_id,
        incident_ids=[r.id for r in cluster],
    )
    if offer is None:
        return []
    ref_of = {i: ref for i, _, _, _, ref in recent}
    found = [ref_of[r.id] for r in sorted(cluster, key=lambda r: r.id)]
    refs = ", ".join(found)
    for person_id, preferred in await _owners(ctx, service.owner_group_id):
        lang = language_named(preferred)
        ask = Reply(
            text=say(lang, "problem.offer", count=len(found), service=service.name, refs=refs),
            buttons=(
                Button(
                    label=say(lang, "problem.offer_button"),
                    action="accept_problem",
                    value=f"offer-{offer.id}",
                    style=ButtonStyle.PRIMARY,
                ),
            ),
        )
        ctx.notify(person_id, ask)
    return found


async def _owners(ctx: HandlerContext, group_id: int | None) -> list[tuple[int, str | None]]:
    """The group's lead and members with their languages, the lead first."""
    if group_id is None:
        return []
    group = await ctx.uow.desk.group(group_id)
    lead_id = group.lead_id if group is not None else None
    return await ctx.uow.problems.owners(group_id, lead_id)


@registry.action("accept_problem")
async def accept_offer(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Open the problem offered for recurring incidents."""
    value = ctx.params.get("ref", "")
    lang = language(ctx, nlu)
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text=say(lang, "problem.agents_only"))]
    offer_id = value.removeprefix("offer-")
    offer = await ctx.uow.problems.offer_by_id(int(offer_id)) if offer_id.isdigit() else None
    if offer is None:
        return [Reply(text=say(lang, "problem.offer_gone"))]
    if offer.problem_id is not None:
        done = await ctx.uow.tickets.get(offer.problem_id)
        which = done.ref if done else say(lang, "problem.a_problem")
        return [Reply(text=say(lang, "problem.already_opened", ref=which))]
    incidents = [t for i in offer.incident_ids if (t := await ctx.uow.tickets.get(int(i)))]
    service = await ctx.uow.session.get(Service, offer.service_id) if offer.service_id else None
    title = f"Recurring incidents on {service.name}" if service else "Recurring incidents"
    problem, _ = await open_problem_for(
        ctx, title=title, incidents=incidents, service=service, how="recurrence"
    )
    offer.problem_id = problem.id
    refs = say(lang, "change.list_sep").join(i.ref for i in incidents)
    return [
        Reply(
            text=say(lang, "problem.opened", ref=problem.ref, where="", linked=refs),
            card=card(problem, lang=lang),
            ticket_ref=problem.ref,
        )
    ]


@registry.intent(IntentName.OPEN_PROBLEM)
async def open_problem(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Open a problem over incidents: "open a problem for INC-4, INC-7 and INC-9"."""
    lang = language(ctx, nlu)
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text=say(lang, "problem.agents_only_log"))]
    refs = [e.value for e in nlu.entities if e.entity == EntityName.TICKET_REF]
    incidents = []
    for ref in dict.fromkeys(refs):
        found = await ctx.uow.tickets.by_ref(ref)
        if found is None:
            return [Reply(text=say(lang, "problem.not_found", ref=ref))]
        if found.kind is not TicketKind.INCIDENT:
            return [Reply(text=say(lang, "problem.not_incident", ref=found.ref))]
        incidents.append(found)
    if not incidents:
        return [Reply(text=say(lang, "problem.which_incidents"))]
    try:
        problem, _ = await open_problem_for(
            ctx,
            title=_title(nlu, incidents),
            incidents=incidents,
            description=nlu.text,
        )
    except ProblemError as e:
        return [Reply(text=explain(e, lang))]
    linked = say(lang, "change.list_sep").join(i.ref for i in incidents)
    where = say(lang, "problem.on", service=problem.service.name) if problem.service else ""
    return [
        Reply(
            text=say(lang, "problem.opened", ref=problem.ref, where=where, linked=linked),
            card=card(problem, lang=lang),
            ticket_ref=problem.ref,
        )
    ]


def _title(nlu: Understanding, incidents: Sequence[Ticket]) -> str:
    first = incidents[0]
    if len(incidents) == 1:
        return f"Problem behind {first.ref}: {first.title}"[:300]
    return title_from(f"Problem behind {len(incidents)} incidents: {first.title}")


@registry.command("workaround")
async def record_workaround(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Make a problem a known error from its workaround and symptoms.

    "workaround PRB-3 restart the spooler; symptoms: printer offline, spooler crash".
    """
    lang = language(ctx, nlu)
    refs = [e for e in nlu.entities if e.entity == EntityName.TICKET_REF]
    problem = await ctx.uow.tickets.by_ref(refs[0].value) if refs else None
    if problem is None or problem.kind is not TicketKind.PROBLEM:
        return [Reply(text=say(lang, "problem.which_problem"))]
    rest = nlu.text[refs[0].end :].strip(" :,-")
    said, _, symptoms = rest.partition("symptoms:")
    workaround = said.strip(" ;,.")
    if not workaround:
        return [
            Reply(text=say(lang, "problem.ask_workaround", ref=problem.ref), ticket_ref=problem.ref)
        ]
    found = tuple(s.strip() for s in symptoms.replace(";", ",").split(",") if s.strip())
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text=say(lang, "problem.agents_work"), ticket_ref=problem.ref)]
    try:
        record = await update_problem(
            ctx,
            problem,
            Update(
                stage=ProblemStage.KNOWN_ERROR,
                workaround=workaround[:5000],
                symptoms=found or None,
            ),
        )
    except ProblemError as e:
        return [Reply(text=explain(e, lang), ticket_ref=problem.ref)]
    matched = say(lang, "problem.matched", symptoms=", ".join(found)) if found else ""
    return [
        Reply(
            text=say(
                lang,
                "problem.known_error",
                ref=problem.ref,
                workaround=record.workaround,
                matched=matched,
            ),
            card=card(problem, lang=lang),
            ticket_ref=problem.ref,
        )
    ]
