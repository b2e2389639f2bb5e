"""Who is behind a platform identity: a directory person, or a new requester contact."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

import structlog

from channels.base import ProfileSource
from channels.conversation import Address, Identity
from store.db import SessionFactory
from store.enums import PersonKind, Role
from store.models import Person
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

# Platforms whose profile email is verified by the platform itself (a workspace account) or
# by whoever runs the process (the console); a claimed email from anywhere else never binds
# a sender to a directory person.
TRUSTED_EMAIL = frozenset({"slack", "console"})


def contact_name(sender: Identity) -> str:
    """The name a new contact gets: the platform's display name, else the id's last digits."""
    if sender.display_name:
        return sender.display_name[:200]
    tail = sender.external_id[-4:]
    return f"{sender.platform.capitalize()} user …{tail}"


async def profiles_of_newcomers(
    factory: SessionFactory,
    senders: Iterable[Identity],
    sources: Mapping[str, ProfileSource],
) -> dict[tuple[str, str], Identity | Exception]:
    """Ask each platform about the senders it has not introduced yet (Slack `users.info`).

    Call it before opening the transaction that resolves the person and outside any lock:
    it is an outbound HTTP call. Only senders with a profile source, without an email and
    with no identity stored yet are asked; each answer is the enriched identity, or the
    error the look-up raised (the caller retries that event later rather than bind the
    identity to a new contact, which would separate an employee from their directory entry).
    """
    wanted = {
        (s.platform, s.external_id): s for s in senders if s.platform in sources and not s.email
    }
    if not wanted:
        return {}
    async with UnitOfWork(factory) as uow:
        await uow.people.prefetch_identities(list(wanted))
        unknown = [(k, s) for k, s in wanted.items() if await uow.people.identity(*k) is None]
    answers = await asyncio.gather(
        *(sources[key[0]].profile(sender) for key, sender in unknown), return_exceptions=True
    )
    found: dict[tuple[str, str], Identity | Exception] = {}
    for (key, _), answer in zip(unknown, answers, strict=True):
        if not isinstance(answer, Identity | Exception):
            raise answer  # cancellation and the like are not a failed look-up
        found[key] = answer
    return found


async def resolve_person(uow: UnitOfWork, sender: Identity, address: Address) -> Person:
    """The person a sender is, binding a new identity on first contact.

    Known identity → its person. Else, on platforms that vouch for emails, the directory
    person with that email (the sender as `profiles_of_newcomers` enriched it). Else a new
    requester contact, bound to this identity only.
    """
    ident = await uow.people.identity(sender.platform, sender.external_id, with_person=True)
    if ident is not None:
        await uow.people.touch_identity(ident, address.to_dict())
        return ident.person
    person = None
    if sender.email and sender.platform in TRUSTED_EMAIL:
        person = await uow.people.by_email(sender.email)
    if person is None:
        person = await uow.people.create(
            name=contact_name(sender),
            email=None,
            kind=PersonKind.CONTACT,
            roles=[Role.REQUESTER],
        )
        log.info("directory.contact_created", platform=sender.platform, person_id=person.id)
    await uow.people.bind_identity(
        person, sender.platform, sender.external_id, address=address.to_dict()
    )
    return person
