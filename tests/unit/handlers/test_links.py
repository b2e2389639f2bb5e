"""Identity linking: codes that are single-use, hashed, short-lived, unguessable, private."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.identity import resolve_person
from channels.conversation import Address, Identity, Reply
from handlers.context import HandlerContext, Outgoing
from handlers.links import is_private, link, unlink
from handlers.registry import Declined, load
from nlu.types import IntentName, Understanding
from store.db import SessionFactory, create_engine, session_factory
from store.enums import PersonKind
from store.errors import ConflictError
from store.link_codes import use_secret
from store.link_tables import LinkAttempt
from store.models import ChannelIdentity, Ticket
from store.types import utcnow
from store.uow import UnitOfWork

DAN = "dan@example.com"
NUMBER = "+14155550123"


@pytest.fixture(autouse=True)
def link_secret() -> None:
    """What the composition root does with `SECRET_KEY`."""
    use_secret(b"test-secret-key-0123456789abcdef")


@pytest.fixture
async def factory(any_settings: Settings) -> AsyncIterator[SessionFactory]:
    engine = create_engine(
        any_settings.async_database_url, connect_args=any_settings.database_connect_args
    )
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Who:
    """Someone writing from one conversation."""

    sender: Identity
    address: Address


def console(email: str) -> Who:
    return Who(
        Identity(platform="console", external_id=email, email=email),
        Address(channel="console", conversation=email, user=email),
    )


def telegram(user_id: int, *, group: int | None = None) -> Who:
    chat = str(group if group is not None else user_id)
    return Who(
        Identity(platform="telegram", external_id=str(user_id), display_name=f"TG {user_id}"),
        Address(channel="telegram", conversation=chat, user=str(user_id)),
    )


def phone(number: str) -> Who:
    return Who(
        Identity(platform="phone", external_id=number),
        Address(channel="sms", conversation=number, user=number),
    )


@dataclass
class Said:
    text: str
    outgoing: list[Outgoing]


async def say(
    factory: SessionFactory,
    who: Who,
    text: str,
    *,
    now: datetime | None = None,
    intent: IntentName = IntentName.OUT_OF_SCOPE,
) -> Said:
    """One command through the handler, in its own unit of work, retried on a lost race."""
    handler = unlink if text.split()[0] == "unlink" else link
    for _ in range(5):
        try:
            async with UnitOfWork(factory) as uow:
                person = await resolve_person(uow, who.sender, who.address)
                ctx = HandlerContext(
                    uow=uow, person=person, address=who.address, now=now or utcnow(), text=text
                )
                nlu = Understanding(
                    text=text,
                    intent=intent,
                    confidence=0.0 if intent is IntentName.OUT_OF_SCOPE else 0.9,
                )
                replies: list[Reply] = await handler(nlu, ctx)
                await uow.commit()
            return Said(" ".join(r.text for r in replies), list(ctx.outgoing))
        except ConflictError:
            await asyncio.sleep(0.01)
    raise AssertionError("kept conflicting")


def sms_code(said: Said) -> str:
    [out] = said.outgoing
    assert out.address == Address(channel="sms", conversation=NUMBER, user=NUMBER)
    found = re.search(r"\b(\d{6})\b", out.reply.text)
    assert found, out.reply.text
    return found.group(1)


def pairing_code(said: Said) -> str:
    found = re.search(r"link code is ([A-Z0-9]{4}-[A-Z0-9]{6})", said.text)
    assert found, said.text
    return found.group(1)


async def owner_of(factory: SessionFactory, platform: str, external_id: str) -> str | None:
    async with UnitOfWork(factory) as uow:
        person = await uow.people.by_identity(platform, external_id)
        return person.email or person.name if person else None


async def attempts(factory: SessionFactory) -> list[LinkAttempt]:
    async with UnitOfWork(factory) as uow:
        return list(await uow.session.scalars(select(LinkAttempt).order_by(LinkAttempt.id)))


# -- texting a code to a number --------------------------------------------------------------


async def test_code_by_text_links_the_number_where_it_was_asked_for(
    factory: SessionFactory,
) -> None:
    asked = await say(factory, console(DAN), f"link {NUMBER}")
    assert "+*******0123" in asked.text
    code = sms_code(asked)
    [stored] = await attempts(factory)
    assert code not in (stored.code_hash, stored.salt, stored.target_external_id)
    assert len(stored.code_hash) == 64
    assert stored.expires_at - stored.created_at == timedelta(minutes=15)

    # Typed from the phone itself, the code means nothing: it goes back where it was asked.
    wrong_place = await say(factory, phone(NUMBER), f"link {code}")
    assert "isn't valid" in wrong_place.text
    done = await say(factory, console(DAN), f"link {code}")
    assert "Linked" in done.text
    assert await owner_of(factory, "phone", NUMBER) == DAN
    again = await say(factory, console(DAN), f"link {code}")
    assert "isn't valid" in again.text


async def test_five_wrong_codes_lock_the_attempt(factory: SessionFactory) -> None:
    code = sms_code(await say(factory, console(DAN), f"link {NUMBER}"))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    answers = [(await say(factory, console(DAN), f"link {wrong}")).text for _ in range(5)]
    assert "4 tries left" in answers[0]
    assert "1 tries left" in answers[3]
    assert "locked" in answers[4]
    late = await say(factory, console(DAN), f"link {code}")
    assert "Linked" not in late.text
    assert await owner_of(factory, "phone", NUMBER) is None
    [stored] = await attempts(factory)
    assert stored.closed_reason == "locked"
    assert stored.failures == 5


async def test_codes_expire_after_fifteen_minutes(factory: SessionFactory) -> None:
    code = sms_code(await say(factory, console(DAN), f"link {NUMBER}"))
    later = utcnow() + timedelta(minutes=15, seconds=1)
    expired = await say(factory, console(DAN), f"link {code}", now=later)
    assert "isn't valid" in expired.text
    assert await owner_of(factory, "phone", NUMBER) is None


async def test_a_new_code_replaces_the_old_one(factory: SessionFactory) -> None:
    first = sms_code(await say(factory, console(DAN), f"link {NUMBER}"))
    second = sms_code(await say(factory, console(DAN), f"link {NUMBER}"))
    if first != second:
        stale = await say(factory, console(DAN), f"link {first}")
        assert "not the code I sent" in stale.text
    assert "Linked" in (await say(factory, console(DAN), f"link {second}")).text


async def test_concurrent_redemptions_one_wins(factory: SessionFactory) -> None:
    code = sms_code(await say(factory, console(DAN), f"link {NUMBER}"))
    results = await asyncio.gather(*(say(factory, console(DAN), f"link {code}") for _ in range(4)))
    texts = [r.text for r in results]
    assert sum("Linked" in t for t in texts) == 1, texts
    [stored] = await attempts(factory)
    assert stored.redeemed_at is not None


# -- pairing codes ---------------------------------------------------------------------------


async def _contact_ticket(factory: SessionFactory, who: Who, title: str) -> str:
    async with UnitOfWork(factory) as uow:
        from store.enums import TicketKind

        person = await resolve_person(uow, who.sender, who.address)
        ticket = await uow.tickets.create(kind=TicketKind.INCIDENT, title=title, requester=person)
        await uow.commit()
        return ticket.ref


async def test_pairing_code_links_the_account_it_is_sent_from(factory: SessionFactory) -> None:
    ref = await _contact_ticket(factory, telegram(5550777), "Printer jammed")
    shown = await say(factory, console(DAN), "link")
    code = pairing_code(shown)
    assert shown.outgoing == []
    same_side = await say(factory, console(DAN), f"link {code}")
    assert "from the account you want to link" in same_side.text
    linked = await say(factory, telegram(5550777), f"link {code.lower().replace('-', ' ')}")
    assert "this Telegram account now belongs to Dan Requester" in linked.text
    assert "1 ticket(s)" in linked.text
    assert await owner_of(factory, "telegram", "5550777") == DAN
    async with UnitOfWork(factory) as uow:
        ticket = await uow.tickets.by_ref(ref)
        dan = await uow.people.by_email(DAN)
        assert ticket is not None
        assert dan is not None
        assert ticket.requester_id == dan.id
    reused = await say(factory, telegram(5550778), f"link {code}")
    assert "isn't valid" in reused.text


async def test_pairing_never_takes_another_directory_persons_account(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        bob = await uow.people.by_email("bob@example.com")
        assert bob is not None
        await uow.people.bind_identity(bob, "telegram", "5550102")
        await uow.commit()
    code = pairing_code(await say(factory, console(DAN), "link"))
    refused = await say(factory, telegram(5550102), f"link {code}")
    assert "belongs to someone else" in refused.text
    assert await owner_of(factory, "telegram", "5550102") == "bob@example.com"
    # The code is spent: nobody can use it after that.
    assert "isn't valid" in (await say(factory, telegram(5550999), f"link {code}")).text


async def test_guessing_pairing_codes_is_cut_off(factory: SessionFactory) -> None:
    code = pairing_code(await say(factory, console(DAN), "link"))
    guesser = telegram(5550666)
    for i in range(5):
        guess = await say(factory, guesser, f"link ZZZZ-ZZZZZ{i + 2}")
        assert "isn't valid" in guess.text
    blocked = await say(factory, guesser, f"link {code}")
    assert "Too many wrong codes" in blocked.text
    assert await owner_of(factory, "telegram", "5550666") != DAN
    # Someone else, with the right code, is not held back by the guesser.
    assert "Linked" in (await say(factory, telegram(5550667), f"link {code}")).text


def wrong_secret(code: str, i: int) -> str:
    """The code's lookup part with a secret part that is not its own."""
    lookup, secret = code.split("-")
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    guess = alphabet[(alphabet.index(secret[0]) + 1 + i) % len(alphabet)] + secret[1:]
    assert guess != secret
    return f"{lookup}-{guess}"


async def test_wrong_guesses_from_many_accounts_burn_the_code(factory: SessionFactory) -> None:
    code = pairing_code(await say(factory, console(DAN), "link"))
    # Each guesser stays under its own limit; together they reach the code's.
    for i in range(5):
        guess = await say(factory, telegram(5551000 + i), f"link {wrong_secret(code, i)}")
        assert "isn't valid" in guess.text
    [attempt] = await attempts(factory)
    assert attempt.failures == 5
    assert attempt.closed_reason == "locked"
    # The right code, from a fresh account, now finds nothing to redeem.
    late = await say(factory, telegram(5551999), f"link {code}")
    assert "isn't valid" in late.text
    assert await owner_of(factory, "telegram", "5551999") != DAN


async def test_four_wrong_guesses_leave_the_code_working(factory: SessionFactory) -> None:
    code = pairing_code(await say(factory, console(DAN), "link"))
    for i in range(4):
        await say(factory, telegram(5552000 + i), f"link {wrong_secret(code, i)}")
    assert "Linked" in (await say(factory, telegram(5552999), f"link {code}")).text


async def test_guesses_at_unknown_lookups_count_only_against_the_sender(
    factory: SessionFactory,
) -> None:
    code = pairing_code(await say(factory, console(DAN), "link"))
    lookup = code.split("-")[0]
    other = next(c for c in ("ZZZZ", "YYYY") if c != lookup)
    for i in range(10):
        await say(factory, telegram(5553000 + i), f"link {other}-{code.split('-')[1]}")
    [attempt] = await attempts(factory)
    assert attempt.failures == 0
    assert "Linked" in (await say(factory, telegram(5553999), f"link {code}")).text


async def test_the_secret_part_is_stored_only_as_a_salted_hash(factory: SessionFactory) -> None:
    code = pairing_code(await say(factory, console(DAN), "link"))
    lookup, secret = code.split("-")
    [attempt] = await attempts(factory)
    assert attempt.lookup == lookup
    assert attempt.salt
    for column in (attempt.code_hash, attempt.salt, attempt.origin_key):
        assert secret not in column


async def test_codes_of_the_old_shape_are_explained(factory: SessionFactory) -> None:
    old = await say(factory, telegram(5554000), "link MD8G-WAHN")
    assert "from before an update" in old.text
    assert "link" in old.text


async def test_concurrent_pairing_from_two_accounts_one_wins(factory: SessionFactory) -> None:
    code = pairing_code(await say(factory, console(DAN), "link"))
    a, b = await asyncio.gather(
        say(factory, telegram(5550401), f"link {code}"),
        say(factory, telegram(5550402), f"link {code}"),
    )
    assert sorted(["Linked" in a.text, "Linked" in b.text]) == [False, True], (a.text, b.text)
    owners = [await owner_of(factory, "telegram", i) for i in ("5550401", "5550402")]
    assert owners.count(DAN) == 1


# -- where and who ---------------------------------------------------------------------------


async def test_group_chats_are_refused_and_a_code_shown_there_is_void(
    factory: SessionFactory,
) -> None:
    in_group = telegram(5550500, group=-1001000000001)
    assert not is_private(in_group.address)
    assert is_private(telegram(5550500).address)
    slack_dm = Address(channel="slack", workspace="T1", conversation="D1", user="U1", thread="1.2")
    slack_channel = Address(channel="slack", workspace="T1", conversation="C1", user="U1")
    assert is_private(slack_dm)
    assert not is_private(slack_channel)
    start = await say(factory, in_group, "link")
    assert "private chat" in start.text
    code = pairing_code(await say(factory, console(DAN), "link"))
    leaked = await say(factory, in_group, f"link {code}")
    assert "private chat" in leaked.text
    assert "void" in leaked.text
    assert "isn't valid" in (await say(factory, telegram(5550500), f"link {code}")).text
    assert await owner_of(factory, "telegram", "5550500") != DAN


async def test_contacts_cannot_start_a_link(factory: SessionFactory) -> None:
    stranger = await say(factory, telegram(5550600), f"link {NUMBER}")
    assert "company directory" in stranger.text
    assert stranger.outgoing == []
    async with UnitOfWork(factory) as uow:
        person = await uow.people.by_identity("telegram", "5550600")
        assert person is not None
        assert person.kind is PersonKind.CONTACT


async def test_texts_are_limited_per_hour(factory: SessionFactory) -> None:
    for _ in range(5):
        assert (await say(factory, console(DAN), f"link {NUMBER}")).outgoing
    sixth = await say(factory, console(DAN), f"link {NUMBER}")
    assert sixth.outgoing == []
    assert "Try again later" in sixth.text


async def test_unlink(factory: SessionFactory) -> None:
    code = sms_code(await say(factory, console(DAN), f"link {NUMBER}"))
    await say(factory, console(DAN), f"link {code}")
    refused = await say(factory, console(DAN), "unlink")
    assert "work email" in refused.text
    assert "nothing to unlink" in (await say(factory, console(DAN), "unlink +14155550999")).text
    done = await say(factory, console(DAN), f"unlink {NUMBER}")
    assert "Unlinked the number +*******0123" in done.text
    assert await owner_of(factory, "phone", NUMBER) is None
    async with UnitOfWork(factory) as uow:
        left = await uow.session.scalars(
            select(ChannelIdentity).where(ChannelIdentity.external_id == NUMBER)
        )
        assert list(left) == []
        assert await uow.session.scalar(select(Ticket.id).limit(1)) is None


def test_link_and_unlink_are_commands_that_bypass_the_nlu() -> None:
    registry = load()
    spec = registry.for_command("link 123456")
    assert spec is not None
    assert spec.func is link
    assert registry.for_command("/unlink") is not None
    assert registry.for_command("linked in") is None


async def test_a_code_typed_in_another_thread_of_the_same_dm_counts(
    factory: SessionFactory,
) -> None:
    # Slack answers each DM message in its own thread; the DM is still where it was asked.
    async with UnitOfWork(factory) as uow:
        dan = await uow.people.by_email(DAN)
        assert dan is not None
        await uow.people.bind_identity(dan, "slack", "U0DAN")
        await uow.commit()

    def dm(ts: str) -> Who:
        return Who(
            Identity(platform="slack", external_id="U0DAN"),
            Address(channel="slack", workspace="T1", conversation="D0DAN", user="U0DAN", thread=ts),
        )

    code = sms_code(await say(factory, dm("1700000000.000100"), f"link {NUMBER}"))
    linked = await say(factory, dm("1700000099.000200"), f"link {code}")
    assert "Linked" in linked.text


def test_codes_are_hashed_with_a_key_from_the_deployment_secret() -> None:
    from store.link_codes import digest as _digest

    use_secret(b"one deployment's secret")
    first = _digest("ABCD2345", "")
    assert _digest("abcd-2345", "") == first
    use_secret(b"another deployment's secret")
    assert _digest("ABCD2345", "") != first
    # The hash is keyed: the code alone (or with the old fixed key) does not reproduce it.
    import hashlib
    import hmac

    for key in (b"switchboard-link", b""):
        assert hmac.new(key, b"ABCD2345", hashlib.sha256).hexdigest() != first
    with pytest.raises(ValueError, match="empty"):
        use_secret(b"")


async def test_a_sentence_after_link_is_declined_not_taken_for_a_code(
    factory: SessionFactory,
) -> None:
    load()
    code = pairing_code(await say(factory, console(DAN), "link"))
    # The router then routes it by its meaning (tests/unit/bot/test_router.py).
    with pytest.raises(Declined):
        await say(factory, console(DAN), "link these incidents to a new problem")
    [attempt] = await attempts(factory)
    assert attempt.failures == 0
    assert "Linked" in (await say(factory, telegram(5554999), f"link {code}")).text


async def test_the_link_code_comes_in_the_language_the_person_prefers(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        person = await uow.people.by_email(DAN)
        assert person is not None
        person.language = "zh"
        await uow.commit()
    said = await say(factory, console(DAN), "link")
    assert said.text.startswith("你的关联码是 ")
    code = said.text.split()[1]
    assert "已关联" in (await say(factory, telegram(5554999), f"link {code}")).text
