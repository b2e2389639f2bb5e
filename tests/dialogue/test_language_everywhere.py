"""Every reply in its reader's language: shared channels, refusals, cards, form questions,
fragments inside sentences, and the step after a click or a bare answer."""

from __future__ import annotations

import re
from pathlib import Path

from bot.desk.apply import apply
from bot.desk.files import read
from handlers.replies import group_language_key
from store.enums import Status, TicketKind
from store.models import Group
from store.uow import UnitOfWork

from .conftest import Dialogue
from .test_kb_drafts import resolve

BOB = "bob@example.com"


async def _group(
    dialogue: Dialogue,
    name: str,
    *,
    language: str | None = None,
    slack: str | None = None,
    default: bool = False,
) -> None:
    async with UnitOfWork(dialogue.factory) as uow:
        group = await uow.desk.named(Group, name)
        assert group is not None
        group.slack_channel = slack
        group.is_default = default
        if language:
            await uow.cursors.set(group_language_key(group.id), language)
        await uow.commit()


async def _prefer(dialogue: Dialogue, email: str, language: str) -> None:
    async with UnitOfWork(dialogue.factory) as uow:
        person = await uow.people.by_email(email)
        assert person is not None
        person.language = language
        await uow.commit()


async def test_a_groups_channel_reads_in_the_groups_language(dialogue: Dialogue) -> None:
    await _group(dialogue, "infrastructure", language="zh", slack="C0INFRA")
    turn = await dialogue.say("my laptop can't connect to the VPN", expect=["+INC-1"])
    assert "I've logged INC-1" in turn.text
    [posted] = [o.reply for o in turn.outgoing if o.address and o.address.conversation == "C0INFRA"]
    assert posted.text.startswith("新故障 INC-1")
    assert posted.card is not None
    assert posted.card.label("Status") == "状态"
    assert posted.card.status == "新建"
    assert [b.label for b in posted.buttons] == ["分配给我", "解决", "添加备注"]


async def test_the_desks_language_serves_group_and_approvals_channels(
    dialogue: Dialogue,
) -> None:
    await _group(dialogue, "service-desk", language="zh", default=True)
    await _group(dialogue, "infrastructure", slack="C0INFRA")
    turn = await dialogue.say("my laptop can't connect to the VPN", expect=["+INC-1"])
    [posted] = [o.reply for o in turn.outgoing if o.address and o.address.conversation == "C0INFRA"]
    assert posted.text.startswith("新故障 INC-1")
    change = await dialogue.say(
        "please restart the mail server on Saturday at 22:00", expect=["+CHG-1"]
    )
    assert "CHG-1" in change.text
    [card] = [o.reply for o in change.outgoing if o.topic == "approvals"]
    assert card.text.startswith("Alice Example 申请 CHG-1：")
    assert card.text.endswith("批准还是驳回？")
    assert [b.label for b in card.buttons] == ["批准", "驳回"]
    decided = await dialogue.click(
        "approve", "CHG-1", who="carol@example.com", expect=["CHG-1:status"]
    )
    [redrawn] = [o.reply for o in decided.outgoing if o.topic == "approvals"]
    assert redrawn.text == "CHG-1：已批准（Carol Approver）。"


async def test_a_change_refusal_is_said_in_the_persons_language(dialogue: Dialogue) -> None:
    await _prefer(dialogue, BOB, "zh")
    ref = await dialogue.seed(
        "重启邮件服务器", kind=TicketKind.CHANGE, status=Status.AWAITING_APPROVAL
    )
    turn = await dialogue.say(f"implement {ref}", who=BOB)
    assert turn.text == f"{ref} 的状态是待审批；批准后才能排期。"


async def test_a_card_names_its_facts_in_the_readers_language(dialogue: Dialogue) -> None:
    logged = await dialogue.say("打印机卡纸了，整个部门都打不了", expect=["+INC-1"])
    status = await dialogue.say("INC-1 现在什么状态")
    card = status.replies[0].card or logged.replies[0].card
    assert card is not None
    lines = card.lines()
    assert lines[1].startswith("状态: ")
    assert "优先级: " in lines[1]
    names = [name for name, _ in card.fields]
    assert "服务级别" in names
    [(_, sla)] = [f for f in card.fields if f[0] == "服务级别"]
    assert re.search("[\u4e00-\u9fff]", sla)
    assert not re.search("[a-z]{2,}", sla)


FORM = """
groups:
  - {name: hardware, members: [bob@example.com]}
catalog:
  - name: New laptop
    aliases: [laptop, notebook, 笔记本]
    fields:
      - {name: model, label: Which model, label_zh: 型号, type: choice, choices: [14-inch, 16-inch]}
      - {name: needed_by, label: Needed by, label_zh: 需要日期, type: date}
    fulfilment: {group: hardware}
"""


async def test_catalog_form_questions_use_their_chinese_labels(
    dialogue: Dialogue, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yml"
    path.write_text(FORM, "utf-8")
    async with UnitOfWork(dialogue.factory) as uow:
        await apply(uow, read([path]))
        await uow.commit()
    await _prefer(dialogue, "alice@example.com", "zh")
    asked = await dialogue.say("I need a new laptop")
    assert "型号？ 1) 14-inch  2) 16-inch" in asked.text
    wrong = await dialogue.say("32-inch")
    assert wrong.text.startswith("型号只能是以下之一：14-inch, 16-inch。")
    date = await dialogue.say("2")
    assert "需要日期？（日期，例如 2026-12-24 或“下周一”）" in date.text
    bad = await dialogue.say("someday")
    assert bad.text.startswith("需要日期必须是日期")
    summary = await dialogue.say("2026-12-24")
    assert "• 型号: 16-inch" in summary.text
    assert "• 需要日期: 2026-12-24" in summary.text


async def test_a_bare_answer_is_answered_in_the_language_of_the_order(
    dialogue: Dialogue, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yml"
    path.write_text(FORM, "utf-8")
    async with UnitOfWork(dialogue.factory) as uow:
        await apply(uow, read([path]))
        await uow.commit()
    asked = await dialogue.say("我需要一台新的笔记本电脑")
    assert "型号？ 1) 14-inch  2) 16-inch" in asked.text
    date = await dialogue.say("2")
    assert "需要日期？" in date.text
    summary = await dialogue.say("2026-12-24")
    assert summary.text.endswith("要提交吗？")
    # "1" picks the first button and has no words of its own: the order's language goes on.
    opened = await dialogue.say("1", expect=["+REQ-1"])
    assert opened.text == "我已为 New laptop 创建了 REQ-1，hardware 会处理。"


async def test_an_agent_saves_a_ticket_as_an_article_in_chinese(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Outlook asks for the password every hour", service="Email")
    await resolve(dialogue, ref, "Removed the stale credential from Windows Credential Manager.")
    turn = await dialogue.say("把这个保存为文章", who=BOB)
    assert turn.text.startswith(f"我已把 {ref} 保存为知识草稿")
    again = await dialogue.say(f"把 {ref} 保存为知识库文章", who=BOB)
    assert f"{ref} 已经保存过" in again.text or "inc-1-" in again.text
    which = await dialogue.say("保存为知识库文章", who="erin@example.com")
    assert "把 INC-12 保存为文章" in which.text


async def test_a_click_after_chinese_words_is_answered_in_chinese(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    noted = await dialogue.say(f"给 {ref} 补充：五楼也有这个问题")
    assert f"已把你的补充加到 {ref}" in noted.text
    # No directory preference: the words written before decide the button's answer.
    resolved = await dialogue.click("resolve", ref, expect=[f"{ref}:status"])
    assert f"{ref} 已解决" in resolved.text
    await dialogue.say("thanks")
    reopened = await dialogue.click("reopen", ref, expect=[f"{ref}:status"])
    assert f"I've reopened {ref}" in reopened.text
