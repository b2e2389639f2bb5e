"""Chinese conversations get Chinese answers: knowledge drafts, deflection, links, escalation,
hand-over, approvers, major incidents and the catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.desk.apply import apply
from bot.desk.files import read
from handlers.escalation import close_if_quiet
from store.enums import Status, TicketKind
from store.link_codes import use_secret
from store.uow import UnitOfWork

from .conftest import Dialogue, Sent
from .test_catalog import CATALOG
from .test_kb_drafts import resolve

BOB = "bob@example.com"


async def prefer_chinese(d: Dialogue, email: str) -> None:
    """`email` set to read Chinese in the directory, whatever language they write in."""
    async with UnitOfWork(d.factory) as uow:
        person = await uow.people.by_email(email)
        assert person is not None
        person.language = "zh"
        await uow.commit()


async def test_an_agent_saves_a_knowledge_draft_in_chinese(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("打印机卡纸")
    await prefer_chinese(dialogue, "alice@example.com")
    await prefer_chinese(dialogue, BOB)
    refused = await dialogue.say(f"save {ref} as an article")
    assert refused.text == "只有服务台人员可以把工单保存为知识文章。"
    early = await dialogue.say(f"save {ref} as an article", who=BOB)
    assert early.text == f"{ref} 还没有解决。等它解决后再保存，文章才能写明是怎么修好的。"
    await resolve(dialogue, ref, "取出卡住的纸，清洁了进纸辊。")
    saved = await dialogue.say(f"save {ref} as an article", who=BOB)
    assert saved.text.startswith(f"我已把 {ref} 保存为知识草稿：打印机卡纸（")
    again = await dialogue.say(f"save {ref} as an article", who=BOB)
    assert again.text.startswith(f"{ref} 已经保存过了，草稿是 ")


async def test_an_article_is_offered_and_answered_in_chinese(dialogue: Dialogue) -> None:
    await prefer_chinese(dialogue, "alice@example.com")
    offered = await dialogue.say("I forgot my password, how do I reset it?")
    assert offered.text.startswith("这篇文章也许能解答：\nReset your password")
    assert "问题解决了吗？（如果 " in offered.text
    assert [b.label for b in offered.replies[0].buttons] == ["是", "否"]
    glad = await dialogue.click("deflect_yes")
    assert glad.text == "有帮助就好。我没有创建工单；还有其他问题随时告诉我。"
    assert await dialogue.tickets() == []


async def test_linking_is_explained_in_chinese(dialogue: Dialogue) -> None:
    use_secret(b"test-secret-key-0123456789abcdef")
    await prefer_chinese(dialogue, "alice@example.com")
    none = await dialogue.say("link cancel")
    assert none.text == "你没有未使用的关联码。"
    nothing = await dialogue.say("unlink +14155550123")
    assert nothing.text == "它没有关联到你，无需解除关联。"
    texted = await dialogue.say("link +14155550123")
    assert texted.text.startswith("我已向 ")
    [sms] = [o.reply.text for o in texted.outgoing]
    assert sms.startswith("你的 Switchboard 验证码是 ")
    wrong = await dialogue.say("link 000000")
    assert wrong.text.startswith("这不是我发送的验证码。还可以再试 ")


async def test_a_chinese_requester_hears_of_the_auto_close_in_chinese(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("打印机卡纸", status=Status.RESOLVED)
    now = datetime.now(UTC)
    async with UnitOfWork(dialogue.factory) as uow:
        ticket = await uow.tickets.by_ref(ref)
        assert ticket is not None
        ticket.resolved_at = now - timedelta(days=30)
        [told] = await close_if_quiet(uow, ticket, now)
        assert ticket.status is Status.CLOSED
    assert told.reply.text == (
        f"{ref} 已关闭：它解决后一直没有新消息。如果问题又出现了，告诉我，我会登记新的工单。"
    )


async def test_a_hand_over_to_the_desk_is_told_in_chinese(dialogue: Dialogue) -> None:
    await prefer_chinese(dialogue, "alice@example.com")
    for text in ("asdf qwerty", "blorp"):
        await dialogue.say(text)
    turn = await dialogue.say("zzz zzz", expect=["+INC-1"])
    assert turn.text.startswith("我没能理解清楚，所以把这件事转给服务台：INC-1 附上了我们的对话")


async def test_an_approver_sees_what_waits_in_chinese(dialogue: Dialogue) -> None:
    carol = "carol@example.com"
    await prefer_chinese(dialogue, carol)
    await prefer_chinese(dialogue, "alice@example.com")
    refused = await dialogue.say("what's waiting for my approval?")
    assert refused.text == "只有审批人才有待审批的事项。说“我的工单”可以查看你的工单。"
    none = await dialogue.say("what's waiting for my approval?", who=carol)
    assert none.text == "没有等你审批的事项。"
    change = await dialogue.seed(
        "重启邮件服务器", kind=TicketKind.CHANGE, status=Status.AWAITING_APPROVAL
    )
    turn = await dialogue.say("what's waiting for my approval?", who=carol)
    assert turn.text.startswith(f"等你审批的：1\n• {change}“重启邮件服务器”，申请人 Alice")
    assert [b.label for b in turn.replies[1].buttons] == ["批准", "驳回"]


async def test_a_major_incident_is_declared_and_broadcast_in_chinese(
    dialogue: Dialogue,
) -> None:
    await prefer_chinese(dialogue, BOB)
    await prefer_chinese(dialogue, "alice@example.com")
    first = await dialogue.seed("邮件发不出去", service="Email")
    second = await dialogue.seed("邮箱打不开", service="Email")
    refused = await dialogue.say(f"major {first}")
    assert refused.text == "只有服务台人员可以宣布重大事件和发布进展。"
    declared = await dialogue.say(f"major {first}", who=BOB)
    assert declared.text.startswith(f"{first} 现在是重大事件，由你负责。关联了 1 个报告。")
    told = [o.reply.text for o in declared.outgoing]
    assert (
        f"你的 {second} 属于重大事件 {first}：邮件发不出去。团队正在处理，进展会在这里通知你。"
        in told
    )
    again = await dialogue.say(f"major {first}", who=BOB)
    assert again.text == f"{first} 已经是重大事件了。"
    sent = await dialogue.say(f"broadcast {first}: 正在切换到备用服务器", who=BOB)
    assert sent.text == "已发送给 2 位报告人。"
    updates = [o.reply.text for o in sent.outgoing]
    assert f"{first} 的进展（你的 {second}）：正在切换到备用服务器" in updates
    assert f"{first} 的进展：正在切换到备用服务器" in updates


async def test_an_order_from_the_catalog_in_chinese(dialogue: Dialogue, tmp_path: Path) -> None:
    path = tmp_path / "catalog.yml"
    path.write_text(CATALOG, "utf-8")
    async with UnitOfWork(dialogue.factory) as uow:
        await apply(uow, read([path]))
        await uow.commit()
    await prefer_chinese(dialogue, "alice@example.com")
    listed = await dialogue.say("what can I order?")
    assert listed.text.startswith("你可以订购这些：\n")
    assert listed.text.endswith("告诉我你需要什么，比如“我需要一台新笔记本”。")
    refused = await dialogue.say("I need server access please")
    assert refused.text == "你的账号不能订购 Server access。它仅供拥有 agent 角色的人订购。"
    asked = await dialogue.say("I need a headset")
    assert asked.text.startswith("我们来订购 Headset。这是你的 Headset 申请：")
    assert asked.text.endswith("要提交吗？")
    assert [b.label for b in asked.replies[0].buttons] == ["是", "否"]
    opened = await dialogue.click("catalog_submit", expect=["+REQ-1"])
    assert opened.text == "我已为 Headset 创建了 REQ-1，hardware 会处理。"


async def test_a_catalog_request_is_decided_in_chinese(
    dialogue: Dialogue, tmp_path: Path, sent: Sent
) -> None:
    path = tmp_path / "catalog.yml"
    path.write_text(CATALOG, "utf-8")
    async with UnitOfWork(dialogue.factory) as uow:
        await apply(uow, read([path]))
        await uow.commit()
    frank = "frank@example.com"
    await prefer_chinese(dialogue, "alice@example.com")
    await prefer_chinese(dialogue, frank)
    await dialogue.say("I need finance share access")
    summary = await dialogue.say("owner@example.com")
    assert "审批人：finance-approvers 组。" in summary.text
    await dialogue.click("catalog_submit", expect=["+REQ-1"])
    [(_, asked)] = sent
    assert asked.text.startswith("Alice Example 申请 Finance share access（REQ-1）：\n• ")
    assert asked.text.endswith("\n批准还是驳回？")
    assert [b.label for b in asked.buttons] == ["批准", "驳回"]
    own = await dialogue.click("approve_request", "REQ-1")
    assert own.text == "REQ-1 是你提交的，需要由其他人审批。"
    done = await dialogue.click("approve_request", "REQ-1", who=frank, expect=["REQ-1:status"])
    assert done.text == "你批准了 REQ-1。"
    again = await dialogue.click("approve_request", "REQ-1", who=frank)
    assert again.text.startswith("REQ-1 不在等待审批（当前状态：")
