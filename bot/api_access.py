"""Who calls the REST API, which tickets they reach, and the caller as a handler context.

Every route of `/api` takes its caller from `Caller`: a person behind a token made with
`switchboard token create`. A requester reaches their own tickets only, and the same 404
answers a ticket that does not exist and one that is someone else's. A route that takes a
step runs the chat's handler on `caller_context` and hands what it said on with `finish`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.container import Container
from bot.delivery import add_outgoing
from channels.conversation import Address
from handlers.context import HandlerContext, Tally
from store.enums import Role
from store.models import Person, Ticket
from store.types import utcnow
from store.uow import UnitOfWork

bearer = HTTPBearer(auto_error=False, description="A token from `switchboard token create`.")


def container(request: Request) -> Container:
    """The application's container, which the lifespan put on the app's state."""
    return request.app.state.container  # type: ignore[no-any-return]


async def current_person(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Person:
    """The person behind the request's bearer token; 401 without a valid one."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token", challenge)
    async with container(request).reader() as uow:
        person = await uow.tokens.authenticate(credentials.credentials)
    if person is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token", challenge)
    return person


Caller = Annotated[Person, Depends(current_person)]


async def visible_ticket(c: Container, uow: UnitOfWork, ref: str, person: Person) -> Ticket:
    """The ticket `ref` names if the person may see it; 404 otherwise, 429 after many misses."""
    from handlers.tickets import MISS_LIMIT, MISS_WINDOW, can_see

    staff = person.has_role(Role.AGENT, Role.APPROVER)
    misses = f"ticket-misses:{person.id}"
    if not staff and await c.state.tally(misses, MISS_WINDOW, 0) >= MISS_LIMIT:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many lookups of tickets that do not exist; try again later",
            {"Retry-After": str(MISS_WINDOW)},
        )
    ticket = await uow.tickets.by_ref(ref)
    if ticket is None or not can_see(person, ticket):
        if not staff:
            await c.state.tally(misses, MISS_WINDOW, 1)
        # The same answer whether it does not exist or is someone else's.
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ref.upper()}")
    return ticket


async def acting_person(uow: UnitOfWork, person: Person) -> Person:
    """The caller as a person of this unit of work; 401 if they left the directory."""
    me = await uow.people.get(person.id)
    if me is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token")
    return me


def caller_context(
    uow: UnitOfWork,
    me: Person,
    *,
    channel: str = "api",
    counter: Tally | None = None,
    mail: bool = False,
) -> HandlerContext:
    """A step `me` takes outside chat, as the context the chat's handlers run on.

    Args:
        uow: The unit of work the step runs in.
        me: Who takes the step, loaded in `uow`.
        channel: Where they came in: `api`, `portal` or `console`. It names the
            conversation too, as there is no chat to answer in; ticket events record it.
        counter: Counts across workers (`Container.state.tally`); without one nothing is.
        mail: Whether mail is set up (`SMTP_URL`), for steps that write to suppliers.

    Returns:
        A context whose `outgoing` collects what the step tells other people.
    """
    return HandlerContext(
        uow=uow,
        person=me,
        address=Address(channel=channel, conversation=channel, user=str(me.id)),
        now=utcnow(),
        counter=counter,
        mail=mail,
    )


async def finish(request: Request, uow: UnitOfWork, ctx: HandlerContext) -> None:
    """Queue what the step said, commit, and hand the queued replies to the dispatcher."""
    c = container(request)
    rows = await add_outgoing(uow, ctx.outgoing, topics=c.topics, exclude=None, inbox_id=None)
    await uow.commit()
    if rows and c.dispatcher is not None:
        c.dispatcher.kick([r.id for r in rows])
