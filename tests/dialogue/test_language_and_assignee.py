"""Replies in the person's language, and "who has INC-7?" for agents and requesters."""

from __future__ import annotations

from store.uow import UnitOfWork

from .conftest import Dialogue

BOB = "bob@example.com"
ERIN = "erin@example.com"
DAN = "dan@example.com"
FRANK = "frank@example.com"


async def _prefer(dialogue: Dialogue, email: str, language: str) -> None:
    async with UnitOfWork(dialogue.factory) as uow:
        person = await uow.people.by_email(email)
        assert person is not None
        person.language = language
        await uow.commit()


async def test_a_chinese_report_and_its_status_are_answered_in_chinese(dialogue: Dialogue) -> None:
    logged = await dialogue.say("打印机卡纸了，整个部门都打不了", expect=["+INC-1"])
    assert "我已登记 INC-1" in logged.text
    status = await dialogue.say("INC-1 现在什么状态")
    assert "INC-1 的状态" in status.text
    listed = await dialogue.say("查一下我的工单")
    assert "你未关闭的工单（1）" in listed.text


async def test_a_chinese_note_and_the_buttons_after_it_are_answered_in_chinese(
    dialogue: Dialogue,
) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    noted = await dialogue.say(f"给 {ref} 补充：五楼也有这个问题")
    assert f"已把你的补充加到 {ref}" in noted.text
    # A click carries no words: the person's preference decides.
    await _prefer(dialogue, "alice@example.com", "zh")
    resolved = await dialogue.click("resolve", ref, expect=[f"{ref}:status"])
    assert f"{ref} 已解决" in resolved.text
    reopened = await dialogue.click("reopen", ref, expect=[f"{ref}:status"])
    assert f"我已重新打开 {ref}" in reopened.text
    again = await dialogue.click("reopen", ref)
    assert f"{ref} 仍在处理中（处理中）" in again.text


async def test_the_directory_preference_wins_over_the_message_language(
    dialogue: Dialogue,
) -> None:
    await _prefer(dialogue, "alice@example.com", "zh-CN")
    turn = await dialogue.say("the printer on floor 3 is jammed", expect=["+INC-1"])
    assert "我已登记 INC-1" in turn.text
    await _prefer(dialogue, "alice@example.com", "en")
    status = await dialogue.say("INC-1 现在什么状态")
    assert "INC-1 is " in status.text


async def test_who_has_a_ticket_agents_see_any_requesters_only_their_own(
    dialogue: Dialogue,
) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    await dialogue.say(f"assign {ref} to me", who=BOB, expect=[f"{ref}:assignee", f"{ref}:status"])
    mine = await dialogue.say(f"who has {ref}?")
    assert f"{ref} is with Bob" in mine.text
    agent = await dialogue.say(f"who is working on {ref}", who=ERIN)
    assert f"{ref} is with Bob" in agent.text
    other = await dialogue.say(f"who has {ref}?", who=DAN)
    assert "couldn't find" in other.text
    assert "Bob" not in other.text
    approver = await dialogue.say(f"who has {ref}?", who=FRANK)
    assert "Bob" not in approver.text
    chinese = await dialogue.say(f"{ref} 是谁在处理")
    assert f"{ref} 由" in chinese.text
    assert "Bob" in chinese.text


async def test_who_has_an_unassigned_ticket_names_its_queue(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    async with UnitOfWork(dialogue.factory) as uow:
        t = await uow.tickets.by_ref(ref)
        group = await uow.people.group("service-desk")
        assert t is not None
        assert group is not None
        t.group_id, t.assignee_id = group.id, None
        await uow.commit()
    turn = await dialogue.say(f"who has {ref}?", who=ERIN)
    assert "not assigned to anyone yet" in turn.text
    assert "service-desk" in turn.text
    own = await dialogue.say("who is handling my ticket?")
    assert f"{ref} is not assigned" in own.text


async def test_the_pending_question_and_its_answers_are_in_chinese(dialogue: Dialogue) -> None:
    logged = await dialogue.say("我的屏幕一直在闪", expect=["+INC-1"])
    assert "受影响的是哪个系统" in logged.text
    assert dialogue.pending() == "service"
    paused = await dialogue.say("让我想想")
    assert "不着急" in paused.text
    assert dialogue.pending() == "service"
    dropped = await dialogue.say("算了")
    assert "这个问题不问了。INC-1 仍由服务台跟进。" in dropped.text
    assert dialogue.pending() is None


async def test_people_told_of_a_change_hear_it_in_their_own_language(dialogue: Dialogue) -> None:
    logged = await dialogue.say("打印机卡纸了，整个部门都打不了", expect=["+INC-1"])
    assert "INC-1" in logged.text
    taken = await dialogue.click(
        "assign_me", "INC-1", who=BOB, expect=["INC-1:assignee", "INC-1:status"]
    )
    assert taken.text.startswith("INC-1 is assigned to you")
    # The requester described it in Chinese, so she is told in Chinese.
    assert [o.reply.text for o in taken.outgoing] == ["Bob Agent 正在处理 INC-1。"]
    resolved = await dialogue.click("resolve", "INC-1", who=BOB, expect=["INC-1:status"])
    told = [o.reply.text for o in resolved.outgoing]
    assert any(t.startswith("Bob Agent 已将 INC-1 标记为已解决") for t in told), told
