"""`slack_help_channels` in the desk file: checked, stored, and read by the Slack channel."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.desk.apply_settings import help_channel_warnings
from bot.desk.files import DeskError, read
from bot.factories.slack import stored_help_channels
from bot.platforms import DatabaseCursors
from store.db import SessionFactory
from store.uow import UnitOfWork
from tests.unit.desk.test_cli_import import database  # noqa: F401  (fixture)
from tests.unit.desk.test_import import run
from tests.unit.desks import write


async def test_the_list_is_stored_and_read_back(factory: SessionFactory, tmp_path: Path) -> None:
    desk = write(tmp_path, "slack_help_channels: [C0ITHELP, G0PRIVATE, C0ITHELP]\n")
    [change] = await run(factory, desk)
    assert (change.section, change.name, change.action) == (
        "slack_help_channels",
        "C0ITHELP,G0PRIVATE",
        "create",
    )
    cursors = DatabaseCursors(factory)
    assert await stored_help_channels(cursors)() == ["C0ITHELP", "G0PRIVATE"]
    [again] = await run(factory, desk)
    assert again.action == "unchanged"
    [emptied] = await run(factory, write(tmp_path, "slack_help_channels: []\n", "none.yml"))
    assert emptied.action == "update"
    assert await stored_help_channels(cursors)() == []


def test_something_that_is_no_channel_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeskError, match="#2: 'it-help' is not a Slack channel id"):
        read([write(tmp_path, "slack_help_channels: [C0ITHELP, it-help]\n")])


def test_a_groups_own_channel_cannot_be_a_help_channel(tmp_path: Path) -> None:
    text = "groups: [{name: network, slack_channel: C0NET}]\nslack_help_channels: [C0NET]\n"
    with pytest.raises(DeskError, match=r"groups #1 \(network\): slack_channel C0NET is one of"):
        read([write(tmp_path, text)])


async def test_nor_the_channel_of_a_group_imported_before(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await run(factory, write(tmp_path, "groups: [{name: network, slack_channel: C0NET}]\n"))
    with pytest.raises(DeskError, match=r"groups \(network\): its slack_channel"):
        await run(factory, write(tmp_path, "slack_help_channels: [C0NET]\n", "help.yml"))


async def test_a_groups_channel_that_is_a_help_channel_anyway_is_warned_about(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await run(factory, write(tmp_path, "slack_help_channels: [C0ITHELP]\n"))
    groups = (
        "groups:\n"
        "  - {name: network, slack_channel: C0NET}\n"
        "  - {name: service-desk, slack_channel: C0ITHELP}\n"
        "  - {name: facilities, slack_channel: C0FAC}\n"
    )
    # The stored list came first: the groups are imported, and warned about.
    await run(factory, write(tmp_path, groups, "groups.yml"))
    async with UnitOfWork(factory) as uow:
        warned = await help_channel_warnings(uow, ["C0NET", "C0ELSEWHERE"])
    assert warned == [
        "groups (network): slack_channel C0NET is also a help channel (SLACK_HELP_CHANNELS); "
        "every post there will be taken as a request to the desk. Give the group another "
        "channel.",
        "groups (service-desk): slack_channel C0ITHELP is also a help channel "
        "(slack_help_channels); every post there will be taken as a request to the desk. "
        "Give the group another channel.",
    ]


@pytest.mark.usefixtures("database")
def test_the_import_warns_about_a_card_channel_in_slack_help_channels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_HELP_CHANNELS", "C0ITHELP, C0NET")
    desk = write(tmp_path, "groups: [{name: network, slack_channel: C0NET}]\n")
    result = CliRunner().invoke(app, ["import", str(desk)])
    assert result.exit_code == 0, result.output
    assert "groups (network): slack_channel C0NET is also a help channel" in result.output
