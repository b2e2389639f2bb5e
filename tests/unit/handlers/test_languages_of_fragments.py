"""Words inside other sentences, refusals and shared channels, in their reader's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.conversation import Reply, TicketCard
from channels.slack.render import card_blocks
from handlers.context import HandlerContext
from handlers.errors import explain
from handlers.registry import Registry
from handlers.replies import channel_language, date_text, written_language
from handlers.rules import catalog_form, change_stages, freeze, known_errors
from handlers.rules.catalog_form import AnswerError, FieldType, FormField
from handlers.rules.freeze import Freeze, Window, WindowError
from handlers.sla_state import span
from nlu.types import Understanding
from store.changes import ChangeStage
from store.db import SessionFactory
from store.enums import Status
from store.models import Group
from store.problems import ProblemStage
from store.uow import UnitOfWork
from tests.unit.desk.test_import import run
from tests.unit.desks import write

AT = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)


def test_time_left_runs_its_units_together_in_chinese() -> None:
    assert span(9_000) == "2h 30m"
    assert span(9_000, "zh") == "2小时30分钟"
    assert span(2 * 86_400 + 3 * 3_600, "zh") == "2天3小时"
    assert span(45, "zh") == "45秒"


def test_dates_keep_their_parts_in_chinese_order() -> None:
    assert date_text(AT, "en") == "Fri 04 Dec 14:30"
    assert date_text(AT, "zh") == "12月4日（周五） 14:30"
    assert date_text(AT, "zh", "%a %H:%M") == "周五 14:30"
    assert date_text(AT, "zh", "%d %b %H:%M UTC") == "12月4日 14:30 UTC"


def test_a_message_without_words_has_no_language_of_its_own() -> None:
    assert written_language("2") is None
    assert written_language("INC-42") is None
    assert written_language("") is None
    assert written_language("yes") == "en"
    assert written_language("好的") == "zh"


def test_change_stage_refusals_keep_their_english_and_have_chinese() -> None:
    with pytest.raises(change_stages.StageError) as refused:
        change_stages.after(
            "CHG-1", Status.APPROVED, ChangeStage.SCHEDULED, change_stages.Step.CLOSE
        )
    assert str(refused.value) == (
        "CHG-1 is scheduled; it cannot close now. Allowed: schedule, implement"
    )
    assert explain(refused.value, "zh") == "CHG-1 处于已排期阶段，现在不能关闭。可以：排期、实施。"
    with pytest.raises(change_stages.StageError) as closed:
        change_stages.after("CHG-1", Status.CLOSED, ChangeStage.CLOSED, change_stages.Step.CLOSE)
    assert str(closed.value) == (
        "CHG-1 is closed; it cannot close now. Allowed: nothing (it is closed)"
    )


def test_problem_stage_refusals_keep_their_english_and_have_chinese() -> None:
    with pytest.raises(known_errors.ProblemStageError) as refused:
        known_errors.move("PRB-1", ProblemStage.NEW, ProblemStage.RESOLVED, workaround="")
    assert str(refused.value) == (
        "PRB-1 is new; it cannot become resolved. Allowed: investigating, known error, closed"
    )
    assert explain(refused.value, "zh") == (
        "PRB-1 处于新建阶段，不能变为已解决。可以：调查中、已知错误、已关闭。"
    )
    with pytest.raises(known_errors.ProblemStageError) as bare:
        known_errors.move("PRB-1", ProblemStage.NEW, ProblemStage.KNOWN_ERROR, workaround=" ")
    assert str(bare.value) == "PRB-1 needs a workaround to become a known error"


def test_freeze_refusals_keep_their_english_and_have_chinese() -> None:
    hit = Freeze(
        name="Year end",
        span=Window(AT, AT + timedelta(days=2)),
        items=frozenset({"payroll"}),
    )
    english = freeze.refusal("CHG-3", [hit], unscoped=True)
    assert english == (
        "CHG-3 falls in the freeze Year end (2026-12-04 14:30 to 2026-12-06 14:30 UTC); only an "
        "emergency change may, with an extra approver. CHG-3 names no configuration item, so "
        "every freeze in its window applies; name the items it touches if they are not frozen."
    )
    said = freeze.refusal_said("CHG-3", [hit]).text("zh")
    assert said.startswith("CHG-3 落在冻结期 Year end（2026-12-04 14:30 至 2026-12-06 14:30 UTC）")
    with pytest.raises(WindowError) as backwards:
        freeze.window(AT, AT - timedelta(hours=1))
    assert str(backwards.value).startswith("the window ends (2026-12-04T13:30:00+00:00) before")
    assert explain(backwards.value, "zh").startswith("时间窗口的结束时间")


def test_form_answers_are_refused_in_the_persons_language() -> None:
    field = FormField(
        name="model",
        label="Which model",
        label_zh="型号",
        type=FieldType.CHOICE,
        choices=("14-inch", "16-inch"),
    )
    with pytest.raises(AnswerError) as refused:
        catalog_form.check(field, "32-inch")
    assert str(refused.value) == "Which model must be one of: 14-inch, 16-inch."
    assert explain(refused.value, "zh") == "型号只能是以下之一：14-inch, 16-inch。"
    assert field.question == "Which model? 1) 14-inch  2) 16-inch"
    assert field.question_in("zh") == "型号？ 1) 14-inch  2) 16-inch"
    assert FormField.from_dict(field.to_dict()) == field
    plain = FormField(name="notes", label="Anything else", required=False)
    assert plain.question_in("zh") == "Anything else？（也可以回复“跳过”）"
    assert "label_zh" not in plain.to_dict()


def test_a_card_carries_its_labels_to_every_channel() -> None:
    card = TicketCard(
        ref="INC-1",
        title="VPN down",
        kind="incident",
        status="新建",
        priority="P2",
        labels=(("Status", "状态"), ("Priority", "优先级")),
    )
    assert TicketCard.from_dict(card.to_dict()) == card
    assert card.lines()[1] == "状态: 新建 · 优先级: P2"
    fields = [f["text"] for f in card_blocks(card)[0]["fields"]]
    assert fields[0].startswith("*状态*")
    english = TicketCard(ref="INC-1", title="VPN down", kind="incident", status="new")
    assert "labels" not in english.to_dict()
    assert english.lines()[1] == "Status: new"


def test_a_command_can_begin_without_a_space() -> None:
    registry = Registry()

    @registry.command("save", starts=("把",), when=lambda text: "保存" in text or "save" in text)
    async def save(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
        return []

    assert registry.for_command("把这个保存为文章") is not None
    assert registry.for_command("把 INC-4 挂起") is None
    assert registry.for_command("save this as an article") is not None


async def test_a_groups_language_comes_from_the_desk_file(
    factory: SessionFactory, tmp_path: Path
) -> None:
    desk = write(
        tmp_path,
        "groups:\n"
        "  - {name: service-desk, default: true, language: zh}\n"
        "  - {name: network, language: en}\n"
        "  - {name: facilities}\n",
    )
    changes = await run(factory, desk)
    assert {c.name: c.action for c in changes if c.section == "groups"} == {
        "service-desk": "create",
        "network": "create",
        "facilities": "create",
    }
    async with UnitOfWork(factory) as uow:
        named = {
            g: await uow.desk.named(Group, g) for g in ("service-desk", "network", "facilities")
        }
        assert await channel_language(uow, named["network"]) == "en"
        # Without a language of its own a group reads in the service desk's.
        assert await channel_language(uow, named["facilities"]) == "zh"
        assert await channel_language(uow) == "zh"
    again = await run(factory, desk)
    assert {c.action for c in again if c.section == "groups"} == {"unchanged"}
    changed = await run(
        factory, write(tmp_path, "groups:\n  - {name: service-desk, default: true}\n", "b.yml")
    )
    [desk_change] = [c for c in changed if c.section == "groups"]
    assert desk_change.fields == ("language",)
    async with UnitOfWork(factory) as uow:
        assert await channel_language(uow) == "en"


def test_each_area_of_the_reply_catalog_stays_readable_and_claims_its_own_keys() -> None:
    from handlers.replies import catalog

    seen: set[str] = set()
    for area in catalog.AREAS:
        assert area.__file__ is not None
        assert len(Path(area.__file__).read_text("utf-8").splitlines()) <= 400, area.__name__
        assert set(area.EN) == set(area.ZH), area.__name__
        assert not seen & set(area.EN), area.__name__
        seen |= set(area.EN)
    assert seen == set(catalog.MESSAGES["en"])
