"""Chinese conversations get Chinese answers: look-ups, confirmations, holds, cancels, small talk."""

from __future__ import annotations

from store.enums import Priority, Status

from .conftest import Dialogue
from .test_agents import _queue

BOB = "bob@example.com"


async def test_an_unknown_reference_is_not_found_in_chinese(dialogue: Dialogue) -> None:
    turn = await dialogue.say("INC-99 现在什么状态")
    assert "找不到 INC-99" in turn.text
    assert dialogue.pending() is None


async def test_which_ticket_is_asked_in_chinese_and_none_changes_nothing(
    dialogue: Dialogue,
) -> None:
    printer = await dialogue.seed("打印机卡纸")
    vpn = await dialogue.seed("VPN 断线", service="VPN")
    turn = await dialogue.say("问题解决了，可以关掉了")
    assert turn.text.startswith("要把哪个工单标记为已解决？")
    assert f"• {printer}“打印机卡纸”（新建）" in turn.text
    assert f"• {vpn}“VPN 断线”（新建）" in turn.text
    assert [b.label for b in turn.replies[0].buttons][-1] == "都不是"
    assert dialogue.pending() == "choice"
    kept = await dialogue.say("都不是")
    assert kept.text == "好的，什么都没有改动。"
    assert dialogue.pending() is None


async def test_a_chinese_no_to_a_confirmation_keeps_the_ticket(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    asked = await dialogue.say("VPN又好了，谢谢")
    assert asked.text == f"要把 {ref}“VPN drops from home”标记为已解决吗？"
    kept = await dialogue.say("否")
    assert kept.text == f"好的，{ref} 保持不变。"
    assert (await dialogue.ticket(ref)).status is Status.NEW


async def test_a_chinese_cancel_asks_first_and_the_chinese_yes_cancels(
    dialogue: Dialogue,
) -> None:
    ref = await dialogue.seed("打印机卡纸")
    asked = await dialogue.say(f"取消 {ref}，不需要了")
    assert asked.text == f"要取消 {ref}“打印机卡纸”吗？取消后就没有人会处理它了。"
    assert [b.label for b in asked.replies[0].buttons] == ["是", "否"]
    done = await dialogue.say("是", expect=[f"{ref}:status"])
    assert done.text == f"{ref} 已取消。"
    assert (await dialogue.ticket(ref)).status is Status.CANCELLED
    again = await dialogue.say(f"取消 {ref}")
    assert again.text == f"{ref} 的状态是已取消，不能取消。"


async def test_an_agent_holds_in_chinese_and_the_requester_is_told_in_chinese(
    dialogue: Dialogue,
) -> None:
    ref = await dialogue.seed("打印机卡纸")
    refused = await dialogue.say(f"把 {ref} 挂起，等客户回复")
    assert refused.text == "只有服务台人员可以挂起工单。"
    asked = await dialogue.say(f"把 {ref} 挂起", who=BOB)
    assert asked.text == f"{ref} 在等什么？（客户、供应商、备件……）"
    assert dialogue.pending(BOB) == "reason"
    held = await dialogue.say("等待供应商发货", who=BOB, expect=[f"{ref}:status"])
    assert held.text == f"{ref} 已挂起：等待供应商发货。SLA 计时已暂停。"
    assert [o.reply.text for o in held.outgoing] == [
        f"{ref} 已挂起：等待供应商发货。恢复处理前计时暂停。"
    ]
    again = await dialogue.say(f"把 {ref} 挂起，等供应商", who=BOB)
    assert again.text == f"{ref} 已经是挂起状态。"


async def test_an_agent_works_the_queue_in_chinese(dialogue: Dialogue) -> None:
    low = await dialogue.seed("打印机碳粉不足")
    high = await dialogue.seed("工资系统宕机")
    await _queue(dialogue, low, priority=Priority.P4, due_hours=2)
    await _queue(dialogue, high, priority=Priority.P1, due_hours=4)
    refused = await dialogue.say("我的队列里有什么")
    assert refused.text.startswith("队列只对服务台人员开放")
    queue = await dialogue.say("我的队列里有什么", who=BOB)
    assert queue.text.startswith("没有分配给你的工单。\nservice-desk 未分配的（2）：")
    assert f"• {high} P1“工资系统宕机”（新建，截止 " in queue.text
    assert [b.label for b in queue.replies[0].buttons] == [f"领取 {high}", f"领取 {low}"]
    asked = await dialogue.say(f"{low} 交给谁处理", who=BOB)
    assert asked.text == f"{low} 交给谁？请说“把 {low} 分给我”或“把 {low} 分给 erin”。"
    given = await dialogue.say(f"把 {low} 分给 dan", who=BOB)
    assert given.text == f"Dan Requester 不是服务台人员，不能把 {low} 交给他们。"
    assert (await dialogue.ticket(low)).assignee is None


async def test_small_talk_in_chinese(dialogue: Dialogue) -> None:
    assert (await dialogue.say("你好")).text.startswith("你好 Alice！我是 Switchboard")
    helped = await dialogue.say("帮助")
    assert helped.text.startswith("我可以帮你：")
    assert "• 报告故障" in helped.text
    assert helped.text.endswith("随时说“取消”可以放下我问的问题。")
    assert (await dialogue.say("谢谢")).text.startswith("不客气！")
    assert (await dialogue.say("今天天气怎么样")).text.startswith("抱歉，我只能处理 IT")
    assert (await dialogue.say("好的")).text == "好的。还有什么可以帮你？"
    assert (await dialogue.say("不用了")).text.startswith("好的。需要帮忙时")
    assert await dialogue.tickets() == []


async def test_the_same_turns_in_english_stay_english(dialogue: Dialogue) -> None:
    assert (await dialogue.say("hello")).text.startswith("Hi Alice! I'm Switchboard")
    assert "couldn't find INC-99" in (await dialogue.say("status of INC-99")).text
    ref = await dialogue.seed("Printer jammed")
    asked = await dialogue.say(f"cancel {ref}, I don't need it any more")
    assert asked.text == f"Cancel {ref} 'Printer jammed'? Nobody will work on it after that."
    kept = await dialogue.say("no")
    assert kept.text == f"OK, I've left {ref} as it is."


async def test_a_chinese_requester_is_surveyed_in_chinese(dialogue: Dialogue) -> None:
    from handlers.survey import ask
    from store.uow import UnitOfWork

    ref = await dialogue.seed("打印机卡纸", status=Status.RESOLVED)
    async with UnitOfWork(dialogue.factory) as uow:
        ticket = await uow.tickets.by_ref(ref)
        assert ticket is not None
        (out,) = await ask(uow, ticket, ticket.updated_at)
        await uow.commit()
    assert out.reply.text.startswith(
        f"{ref}（打印机卡纸）已解决。你对这次处理满意吗？1 表示很不满意"
    )
    again = await dialogue.say(f"rate {ref} 9")
    assert again.text.startswith(f"抱歉，{ref} 需要一个 1 到 5 的分数。")
    rated = await dialogue.say("4")
    assert rated.text == f"谢谢：已记下 {ref} 的评分 4/5。"


async def test_a_priority_override_in_chinese_tells_the_requester_in_chinese(
    dialogue: Dialogue,
) -> None:
    ref = await dialogue.seed("工资系统宕机")
    turn = await dialogue.say(
        f"priority {ref} P1 因为今天必须发工资", who=BOB, expect=[f"{ref}:priority"]
    )
    assert turn.text == f"{ref} 现在是 P1：因为今天必须发工资"
    assert [o.reply.text for o in turn.outgoing] == [f"Bob Agent 更新了 {ref}（优先级）。"]
