"""The directory file: the contract's YAML example, CSV, and errors a person can act on."""

from __future__ import annotations

import pytest

from bot.directory import DirectoryError, import_people, parse
from store.db import create_engine, session_factory
from store.enums import Role
from store.migrate import upgrade_engine
from store.uow import UnitOfWork

EXAMPLE = """
people:
  - {name: Alice Example, email: alice@example.com, roles: [requester], identities: {slack: U0ALICE, phone: "+14155550101"}}
  - {name: Bob Agent, email: bob@example.com, roles: [agent], groups: [service-desk], skills: [network, windows], identities: {slack: U0BOB, telegram: 5550102}}
  - {name: Carol Approver, email: carol@example.com, roles: [approver, agent], groups: [change-board], identities: {slack: U0CAROL}}
"""


def test_yaml_example_of_the_contract() -> None:
    records = parse(EXAMPLE, fmt="yaml")
    assert [r.email for r in records] == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    assert records[1].roles == (Role.AGENT,)
    assert records[1].identities == {"slack": "U0BOB", "telegram": "5550102"}
    assert records[2].roles == (Role.APPROVER, Role.AGENT)
    assert records[1].skills == ("network", "windows")


def test_csv() -> None:
    text = (
        "name,email,roles,groups,skills,slack,telegram,phone,x\n"
        "Dee,dee@example.com,agent;approver,desk|cab,linux,U0DEE,,+1 (415) 555-0199,\n"
    )
    [r] = parse(text, fmt="csv")
    assert r.roles == (Role.AGENT, Role.APPROVER)
    assert r.groups == ("desk", "cab")
    assert r.identities == {"slack": "U0DEE", "phone": "+14155550199"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("people: [{name: A, email: nope}]", "person 1: `email`"),
        ("people: [{email: a@example.com}]", "`name` is required"),
        ("people: [{name: A, email: a@example.com, roles: [wizard]}]", "unknown role"),
        ("people: [{name: A, email: a@example.com, identities: {icq: 1}}]", "unknown identity"),
        ("people: [{name: A, email: a@example.com, identities: {phone: '555'}}]", "E.164"),
        ("nobody: here", "people:"),
        ("people: [{name: A, email: a@example.com}, {name: B, email: a@example.com}]", "twice"),
        (
            "people: [{name: A, email: a@x.com, slack: U1}, {name: B, email: b@x.com, slack: U1}]",
            "two people",
        ),
        ("people: [", "not valid YAML"),
    ],
)
def test_errors_say_where_and_why(text: str, message: str) -> None:
    with pytest.raises(DirectoryError, match=message):
        parse(text, fmt="yaml")


async def test_import_is_idempotent_and_moves_identities(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/d.db")
    await upgrade_engine(engine)
    factory = session_factory(engine)
    try:
        for _ in range(2):
            async with UnitOfWork(factory) as uow:
                await import_people(uow, parse(EXAMPLE, fmt="yaml"))
                await uow.commit()
        moved = EXAMPLE.replace("identities: {slack: U0CAROL}", "identities: {slack: U0ALICE}")
        moved = moved.replace("identities: {slack: U0ALICE, phone", "identities: {phone")
        async with UnitOfWork(factory) as uow:
            result = await import_people(uow, parse(moved, fmt="yaml"))
            await uow.commit()
        assert (result.created, result.updated) == (0, 3)
        async with UnitOfWork(factory) as uow:
            assert await uow.people.count() == 3
            owner = await uow.people.by_identity("slack", "U0ALICE")
            assert owner is not None
            assert owner.email == "carol@example.com"
            found = await uow.people.by_email("carol@example.com")
            assert found is not None
            carol = await uow.people.get_full(found.id)
            assert carol is not None
            assert carol.role_set == {Role.APPROVER, Role.AGENT}
            assert [m.group.name for m in carol.memberships] == ["change-board"]
    finally:
        await engine.dispose()
