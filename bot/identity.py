"""Who is behind a platform identity: a directory person, or a new requester contact."""

from __future__ import annotations

import structlog

from channels.base import ProfileSource
from channels.conversation import Address, Identity
from store.enums import PersonKind, Role
from store.models import Person
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

# Platforms whose profile email is verified by the platform itself (a workspace account) or
# by whoever runs the process (the console); a claimed email from anywhere else never binds
# a sender to a directory person.
TRUSTED_EMAIL = frozenset({"slack", "console"})


def contact_name(sender: Identity) -> str:
    if sender.display_name:
        return sender.display_name[:200]
    tail = sender.external_id[-4:]
    return f"{sender.platform.capitalize()} user …{tail}"


async def resolve_person(
    uow: UnitOfWork,
    sender: Identity,
    address: Address,
    *,
    profile: ProfileSource | None = None,
) -> Person:
    """The person a sender is, binding a new identity on first contact.

    Known identity → its person. Else, on platforms that vouch for emails, the directory
    person with that email (asking the platform's profile once, e.g. Slack `users.info`).
    Else a new requester contact, bound to this identity only.
    """
    ident = await uow.people.identity(sender.platform, sender.external_id, with_person=True)
    if ident is not None:
        await uow.people.touch_identity(ident, address.to_dict())
        return ident.person
    if profile is not None and not sender.email:
        # A failure here propagates: binding the identity to a new contact on a passing
        # error would separate an employee from their directory entry for good.
        sender = await profile.profile(sender)
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
