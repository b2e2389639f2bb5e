"""Linking a platform account to a directory person with a one-time code.

Nothing is ever merged by name, email hint or number: an account joins a person only when a
code proves that whoever controls one side also controls the other.

- ``link +14155550123`` (from an account already bound to a directory person): a 6-digit
  code goes by text message to that number; typing ``link <code>`` back in the same chat
  binds the number. The code proves the number, the chat proves the person.
- ``link`` (same): a code like ``ABCD-EFGH23`` is shown in the chat; sending ``link <code>``
  from the account to be linked (Telegram, WhatsApp, a text message) binds that account.
  Seeing the code proves the person, sending it proves the account. Its first part finds
  the code, so wrong guesses at the rest count against it, from whichever accounts.

Codes work once, expire after 15 minutes, are kept only as hashes, die after five wrong
guesses, and are refused (and voided) in group chats, where others would see them.
"""

from __future__ import annotations

import re
from dataclasses import replace

import structlog

from channels.conversation import Address, Reply, mask_phone, phone_candidate
from handlers.context import HandlerContext, Outgoing
from handlers.registry import Declined, registry
from handlers.replies import language, normalise, say
from nlu.types import Understanding
from store.enums import PersonKind
from store.links import (
    CODE_TTL,
    LEGACY_PAIRING_LENGTH,
    MAX_FAILURES,
    PAIRING_ALPHABET,
    Adoption,
    LinkAttempt,
    LinkMethod,
    normalise_code,
    show_pairing,
    split_pairing,
)
from store.models import ChannelIdentity, Person

log = structlog.get_logger(__name__)

MAX_CODES_PER_HOUR = 5
# Accounts bound through an email the platform vouches for: unlinking them is pointless,
# the next message binds them again.
_EMAIL_BOUND = frozenset({"slack", "console"})
_PHONE_CHANNELS = frozenset({"sms", "whatsapp"})
_SMS_CODE = re.compile(r"^\d{6}$")
_PLATFORM_WORDS = {
    "telegram": "telegram",
    "phone": "phone",
    "sms": "phone",
    "text": "phone",
    "whatsapp": "phone",
}


def is_private(address: Address) -> bool:
    """Whether only the person and the bot read this conversation.

    Slack direct messages have their own channel id (`D…`, threads in them included);
    everywhere else a one-to-one chat is keyed by the person's own id (a Telegram private
    chat has the user's id, a text-message conversation is the number, the console and web
    chat are the visitor).
    """
    if address.channel == "slack" and address.conversation.startswith("D"):
        return True
    return address.conversation == address.user


def _origin(address: Address) -> str:
    """The chat a code was asked for in, whichever thread of it the answer comes in."""
    return replace(address, thread=None).key


def _sender(ctx: HandlerContext, identities: list[ChannelIdentity]) -> tuple[str, str]:
    """The (platform, external id) of the account this message came from."""
    here = ctx.address.to_dict()
    for ident in identities:
        if ident.last_address == here:
            return ident.platform, ident.external_id
    platform = "phone" if ctx.address.channel in _PHONE_CHANNELS else ctx.address.channel
    return platform, ctx.address.user


def _describe(platform: str, external_id: str) -> str:
    if platform == "phone":
        return f"the number {mask_phone(external_id)}"
    if platform == "telegram":
        return "this Telegram account"
    return f"this {platform.capitalize()} account"


def _args(ctx: HandlerContext, nlu: Understanding) -> list[str]:
    words = (ctx.text or nlu.text).split()
    return words[1:]


@registry.command("link")
async def link(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Link another account to you: "link" for a code, "link +14155550123" for a phone."""
    args = _args(ctx, nlu)
    if not args or (len(args) == 1 and args[0].lower() in _PLATFORM_WORDS):
        started = await _start_pairing(ctx)
        if started.ephemeral:
            # The thread others read only hears that the code was sent.
            return [started, Reply(text=say(language(ctx, nlu), "kb.sent_privately"))]
        return [started]
    if len(args) == 1 and args[0].lower() in {"cancel", "stop"}:
        closed = await ctx.uow.links.close_open(ctx.person.id, "cancelled", ctx.now)
        text = say(language(ctx, nlu), "link.cancelled" if closed else "link.none_open")
        return [Reply(text=text)]
    joined = "".join(args)
    if _SMS_CODE.match(joined):
        return [await _redeem(ctx, joined)]
    if joined.startswith(("+", "00")) or (joined.isdigit() and len(joined) > 6):
        number = phone_candidate(" ".join(args))
        if number is None:
            return [Reply(text=say(language(ctx, nlu), "link.country_code"))]
        return [await _start_sms(ctx, number)]
    if len(args) > 2:
        # "link these incidents to a new problem" is a sentence, not a code: counting it as a
        # wrong code would burn the person's tries, so the router routes it by its meaning.
        raise Declined
    return [await _redeem(ctx, " ".join(args))]


@registry.command("unlink")
async def unlink(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Unlink an account: "unlink" from it, or "unlink +14155550123"."""
    lang = language(ctx, nlu)
    if not is_private(ctx.address):
        return [Reply(text=say(lang, "link.private_chat"))]
    identities = await ctx.uow.links.identities(ctx.person.id)
    args = _args(ctx, nlu)
    if not args:
        platform, external_id = _sender(ctx, identities)
        targets = [(platform, external_id)]
    elif len(args) == 1 and args[0].lower() in _PLATFORM_WORDS:
        wanted = _PLATFORM_WORDS[args[0].lower()]
        targets = [(i.platform, i.external_id) for i in identities if i.platform == wanted]
    else:
        number = phone_candidate(" ".join(args))
        if number is None:
            return [Reply(text=say(lang, "link.unlink_how"))]
        targets = [("phone", number)]
    mine = {(i.platform, i.external_id) for i in identities}
    targets = [t for t in targets if t in mine]
    if any(p in _EMAIL_BOUND for p, _ in targets):
        return [Reply(text=say(lang, "link.email_bound"))]
    if not targets:
        return [Reply(text=say(lang, "link.not_yours"))]
    for platform, external_id in targets:
        await ctx.uow.people.unbind_identity(platform, external_id)
    log.info("link.unlinked", person_id=ctx.person.id, count=len(targets))
    names = ", ".join(_describe(p, e) for p, e in targets)
    return [Reply(text=say(lang, "link.unlinked", names=names))]


def shown_alone(address: Address) -> bool:
    """A Slack thread in a channel, where an ephemeral reply is seen by the person alone."""
    shared = address.conversation[:1] in ("C", "G")
    return address.channel == "slack" and shared and bool(address.thread and address.user)


async def _may_start(ctx: HandlerContext, *, in_place: bool = False) -> Reply | None:
    if not is_private(ctx.address) and not (in_place and shown_alone(ctx.address)):
        return Reply(text=say(language(ctx), "link.private_only"))
    if ctx.person.kind is not PersonKind.EMPLOYEE:
        return Reply(text=say(language(ctx), "link.directory_only"))
    recent = await ctx.uow.links.issued_since(ctx.person.id, ctx.now - 4 * CODE_TTL)
    if recent >= MAX_CODES_PER_HOUR:
        return Reply(text=say(language(ctx), "link.too_many_codes"))
    return None


async def _start_pairing(ctx: HandlerContext) -> Reply:
    refusal = await _may_start(ctx, in_place=True)
    if refusal is not None:
        return refusal
    # In a channel thread the code goes to the person alone (see `link`).
    in_public = not is_private(ctx.address)
    attempt, code = await ctx.uow.links.issue(
        ctx.person, LinkMethod.PAIRING, origin_key=_origin(ctx.address), now=ctx.now
    )
    log.info("link.issued", person_id=ctx.person.id, method="pairing", attempt_id=attempt.id)
    shown = show_pairing(code)
    return Reply(
        sensitive=True,
        ephemeral=in_public,
        text=say(language(ctx), "link.code", code=shown),
    )


async def _start_sms(ctx: HandlerContext, number: str) -> Reply:
    refusal = await _may_start(ctx)
    if refusal is not None:
        return refusal
    existing = await ctx.uow.people.identity("phone", number)
    if existing is not None and existing.person_id == ctx.person.id:
        return Reply(
            text=say(language(ctx), "link.number_already_yours", number=mask_phone(number))
        )
    attempt, code = await ctx.uow.links.issue(
        ctx.person,
        LinkMethod.SMS,
        origin_key=_origin(ctx.address),
        target=("phone", number),
        now=ctx.now,
    )
    log.info("link.issued", person_id=ctx.person.id, method="sms", attempt_id=attempt.id)
    ctx.outgoing.append(
        Outgoing(
            reply=Reply(
                sensitive=True,
                # Asked for by the person now writing, for their own phone: their language.
                text=say(language(ctx), "link.sms", code=code),
            ),
            address=Address(channel="sms", conversation=number, user=number),
        )
    )
    return Reply(text=say(language(ctx), "link.texted", number=mask_phone(number)))


async def _redeem(ctx: HandlerContext, typed: str) -> Reply:
    code = normalise_code(typed)
    links = ctx.uow.links
    if not is_private(ctx.address):
        voided = await _void_exposed(ctx, code)
        tail = say(language(ctx), "link.voided") if voided else ""
        return Reply(text=say(language(ctx), "link.private_codes", voided=tail))
    identities = await links.identities(ctx.person.id)
    platform, external_id = _sender(ctx, identities)
    if await links.guard_failures(platform, external_id, ctx.now) >= MAX_FAILURES:
        return Reply(text=say(language(ctx), "link.locked_out"))
    if _SMS_CODE.match(code):
        attempt = await links.open_sms_attempt(ctx.person.id, _origin(ctx.address), ctx.now)
        if attempt is not None:
            return await _redeem_sms(ctx, attempt, code, (platform, external_id))
    elif (parts := split_pairing(code)) is not None:
        attempt = await links.by_lookup(parts[0], ctx.now)
        if attempt is not None:
            return await _redeem_pairing(ctx, attempt, code, (platform, external_id))
    elif len(code) == LEGACY_PAIRING_LENGTH and set(code) <= set(PAIRING_ALPHABET):
        await links.guard_fail(platform, external_id, ctx.now)
        log.info("link.failed", person_id=ctx.person.id, reason="legacy_code")
        return Reply(text=say(language(ctx), "link.legacy"))
    else:
        return Reply(text=say(language(ctx), "link.not_a_code"))
    await links.guard_fail(platform, external_id, ctx.now)
    log.info("link.failed", person_id=ctx.person.id, reason="unknown_code")
    return Reply(text=say(language(ctx), "link.invalid"))


async def _redeem_sms(
    ctx: HandlerContext, attempt: LinkAttempt, code: str, sender: tuple[str, str]
) -> Reply:
    links = ctx.uow.links
    if not links.matches(attempt, code):
        failures = await links.fail(attempt, ctx.now)
        await links.guard_fail(*sender, ctx.now)
        log.info("link.failed", person_id=ctx.person.id, reason="wrong_code", failures=failures)
        if failures >= MAX_FAILURES:
            return Reply(text=say(language(ctx), "link.code_locked"))
        left = MAX_FAILURES - failures
        return Reply(text=say(language(ctx), "link.wrong_code", left=left))
    target = (attempt.target_platform or "phone", attempt.target_external_id or "")
    return await _bind(ctx, attempt, ctx.person, target, sender)


async def _redeem_pairing(
    ctx: HandlerContext, attempt: LinkAttempt, code: str, sender: tuple[str, str]
) -> Reply:
    links = ctx.uow.links
    if not links.matches(attempt, code):
        # The lookup part is public: the guess counts against the code, whoever sends it.
        failures = await links.fail(attempt, ctx.now)
        await links.guard_fail(*sender, ctx.now)
        log.info("link.failed", person_id=ctx.person.id, reason="wrong_code", failures=failures)
        # Same answer as for an unknown code: a guesser learns nothing of which lookups exist.
        return Reply(text=say(language(ctx), "link.invalid"))
    if attempt.person_id == ctx.person.id:
        return Reply(text=say(language(ctx), "link.from_other"))
    owner = await ctx.uow.people.get(attempt.person_id)
    if owner is None or not owner.active:
        return Reply(text=say(language(ctx), "link.invalid"))
    return await _bind(ctx, attempt, owner, sender, sender)


async def _bind(
    ctx: HandlerContext,
    attempt: LinkAttempt,
    owner: Person,
    target: tuple[str, str],
    sender: tuple[str, str],
) -> Reply:
    links = ctx.uow.links
    current = await ctx.uow.people.identity(*target)
    if current is not None and current.person_id != owner.id:
        holder = await ctx.uow.people.get(current.person_id)
        if holder is not None and holder.kind is not PersonKind.CONTACT:
            await links.close(attempt, "taken", ctx.now)
            log.info("link.refused", person_id=owner.id, reason="belongs_to_directory_person")
            return Reply(text=say(language(ctx), "link.taken"))
    # The compare-and-set: of two people sending the same code at once, one gets here.
    if not await links.redeem(attempt, sender[0], sender[1], ctx.now):
        return Reply(text=say(language(ctx), "link.used"))
    result = await links.adopt(owner, *target)
    await links.guard_clear(*sender)
    log.info(
        "link.linked",
        person_id=owner.id,
        attempt_id=attempt.id,
        outcome=result.outcome.value,
        tickets_moved=result.tickets_moved,
    )
    what = _describe(*target)
    # The account just linked is the owner's now: their preference decides.
    lang = normalise(owner.language) or language(ctx)
    if result.outcome is Adoption.ALREADY:
        return Reply(text=say(lang, "link.already_linked", what=f"{what[0].upper()}{what[1:]}"))
    moved = say(lang, "link.moved", count=result.tickets_moved) if result.tickets_moved else ""
    return Reply(text=say(lang, "link.linked", what=what, name=owner.name, moved=moved))


async def _void_exposed(ctx: HandlerContext, code: str) -> bool:
    """A code typed where others can read it is burnt, whoever it belongs to."""
    links = ctx.uow.links
    if (parts := split_pairing(code)) is not None:
        attempt = await links.by_lookup(parts[0], ctx.now)
        if attempt is not None and links.matches(attempt, code):
            await links.close(attempt, "exposed", ctx.now)
            return True
        return False
    if _SMS_CODE.match(code):
        closed = False
        for attempt in await links.open_sms_attempts(ctx.person.id, ctx.now):
            if links.matches(attempt, code):
                await links.close(attempt, "exposed", ctx.now)
                closed = True
        return closed
    return False
