"""Chinese readers get Chinese words on the last English-only paths: the desk-channel flag of
a public complaint, the home overview, supplier hand-offs, forms, the console's messages to
requesters and the help list."""

from __future__ import annotations

from datetime import UTC, datetime

from channels.conversation import Address
from handlers import console, forms, help_channels
from handlers.context import HandlerContext
from handlers.replies import group_language_key
from handlers.signin import signin
from handlers.social import flag_if_negative
from nlu.types import IntentName, Understanding
from store.models import Supplier
from store.uow import UnitOfWork

from .conftest import Dialogue, Sent
from .test_chinese_replies_more import prefer_chinese
from .test_public_complaints import ANGRY

BOB = "bob@example.com"
FORM = Understanding(text="", intent=IntentName.REPORT_INCIDENT, confidence=1.0)


def _ctx(uow: UnitOfWork, person: object, **params: str) -> HandlerContext:
    ctx = HandlerContext(
        uow=uow,
        person=person,  # type: ignore[arg-type]
        address=Address(channel="console", conversation="c", user="c"),
        now=datetime.now(UTC),
    )
    ctx.params = dict(params)
    return ctx


async def test_the_desk_is_told_of_a_public_complaint_in_its_language(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("charged twice")
    async with UnitOfWork(dialogue.factory) as uow:
        desk = await uow.desk.default_group()
        assert desk is not None
        desk.slack_channel = "C0DESK"
        await uow.cursors.set(group_language_key(desk.id), "zh")
        alice = await uow.people.by_email("alice@example.com")
        ctx = _ctx(uow, alice)
        assert await flag_if_negative(ctx, ANGRY, [ref], where="X")
        await uow.commit()
    [told] = ctx.outgoing
    assert told.reply.text == (
        f"⚠️ X 上有一条关于 {ref} 的负面公开消息：请尽快通过私信回复。charged twice"
    )


async def test_the_home_overview_reads_in_chinese(dialogue: Dialogue) -> None:
    await prefer_chinese(dialogue, BOB)
    home = await dialogue.click("home", who=BOB)
    [overview] = home.replies
    titles = [s.title for s in overview.sections]
    assert titles[:3] == ["你未关闭的工单", "分配给你的", "等待服务台人员"]
    assert overview.sections[0].empty == "没有未关闭的工单。出了故障或需要什么时，给我发消息。"
    assert overview.sections[1].empty == "你的队列是空的。"


async def test_supplier_hand_offs_are_explained_in_chinese(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("专线中断")
    await prefer_chinese(dialogue, "alice@example.com")
    await prefer_chinese(dialogue, BOB)
    async with UnitOfWork(dialogue.factory) as uow:
        uow.session.add(Supplier(name="NetCo", contact={"email": "noc@netco.example"}))
        await uow.commit()
    refused = await dialogue.say(f"hand {ref} to NetCo")
    assert refused.text == "只有服务台人员可以把工单转交给供应商。"
    unknown = await dialogue.say(f"hand {ref} to Nobody Ltd", who=BOB)
    assert unknown.text == "服务台里没有名为 'Nobody Ltd' 的供应商。"
    handed = await dialogue.say(f"hand {ref} to NetCo", who=BOB, expect=[f"{ref}:status"])
    assert handed.text.startswith(f"{ref} 已转交给 NetCo。")
    assert "这里没有配置邮件，所以什么也没有发出：请自己把以下内容转发给 noc@netco.example：" in (
        handed.text
    )
    # The mail itself stays English: a supplier has no language in the desk file.
    assert "Hello NetCo," in handed.text


async def test_a_form_filed_ticket_is_confirmed_in_chinese(dialogue: Dialogue) -> None:
    await prefer_chinese(dialogue, "alice@example.com")
    async with UnitOfWork(dialogue.factory) as uow:
        alice = await uow.people.by_email("alice@example.com")
        empty = await forms.file_ticket(FORM, _ctx(uow, alice, summary="  "))
        filed = await forms.file_ticket(FORM, _ctx(uow, alice, summary="打印机坏了"))
        await uow.commit()
    assert [r.text for r in empty] == ["表单没有填写摘要，所以我没有创建工单。"]
    [done] = filed
    assert done.ticket_ref is not None
    assert done.text.startswith(f"我已登记故障 {done.ticket_ref}")
    assert done.text.endswith("有进展会在这里告诉你。")


async def test_a_summary_written_in_chinese_is_answered_in_chinese(dialogue: Dialogue) -> None:
    async with UnitOfWork(dialogue.factory) as uow:
        alice = await uow.people.by_email("alice@example.com")
        [done] = await forms.file_ticket(FORM, _ctx(uow, alice, summary="我需要一台显示器"))
        await uow.commit()
    assert done.text.startswith("我已登记故障 ")


async def test_the_console_tells_the_requester_in_chinese(dialogue: Dialogue, sent: Sent) -> None:
    ref = await dialogue.seed("邮箱打不开")
    await prefer_chinese(dialogue, "alice@example.com")
    async with UnitOfWork(dialogue.factory) as uow:
        bob = await uow.people.by_email(BOB)
        assert bob is not None
        ticket = await uow.tickets.by_ref(ref)
        assert ticket is not None
        ctx = _ctx(uow, bob)
        console.answer(ticket, "请重启一下电脑", ctx)
        await console.put_on_hold(ticket, "等待供应商", ctx)
        await console.resume_work(ticket, ctx)
        console.resolve(ticket, "重置了邮箱配置", ctx)
        await uow.commit()
    texts = [reply.text for _, reply in sent]
    name = bob.name
    assert texts == [
        f"{name} 回复 {ref}：请重启一下电脑",
        f"{ref} 已挂起：等待供应商 回复即可继续。",
        f"{ref} 已由 {name} 解决：重置了邮箱配置 如果问题还在，请说“重新打开 {ref}”。",
    ]


async def test_the_chinese_help_has_no_english_lines(dialogue: Dialogue) -> None:
    await prefer_chinese(dialogue, BOB)
    helped = await dialogue.say("help", who=BOB)
    lines = [line for line in helped.text.splitlines() if line.startswith("• ")]
    assert lines
    english = [line for line in lines if line[2:3].isascii() and line[2:3].isalpha()]
    assert english == []
    assert "• 为已批准的变更排期：“schedule CHG-12 周六 22:00 到周日 02:00”。" in lines


async def test_impact_questions_are_answered_in_chinese(dialogue: Dialogue) -> None:
    await prefer_chinese(dialogue, BOB)
    leaf = await dialogue.say("what breaks if Intranet goes down", who=BOB)
    assert leaf.text == "没有任何服务依赖 Intranet。"
    unknown = await dialogue.say("what breaks if the moon goes down", who=BOB)
    assert unknown.text == "哪个配置项？例如“db-cluster-1 宕机会影响什么”。"


async def test_improvement_suggestions_are_refused_in_chinese(dialogue: Dialogue) -> None:
    await prefer_chinese(dialogue, "alice@example.com")
    refused = await dialogue.say("suggest improvements")
    assert refused.text == "只有服务台人员可以让我提出改进建议。"


async def test_a_sign_in_link_is_refused_and_given_in_chinese(dialogue: Dialogue) -> None:
    await prefer_chinese(dialogue, "alice@example.com")
    nlu = Understanding(text="sign in", intent=IntentName.SIGNIN, confidence=1.0)
    async with UnitOfWork(dialogue.factory) as uow:
        alice = await uow.people.by_email("alice@example.com")
        public = _ctx(uow, alice)
        public.address = Address(channel="slack", conversation="C0GENERAL", user="U1")
        [refused] = await signin(nlu, public)
        [given] = await signin(nlu, _ctx(uow, alice))
        await uow.commit()
    assert refused.text == "登录链接只在和我的私聊里发送：请直接私信我“登录”。"
    assert given.text.startswith("这是你的自助门户登录链接（只能用一次，")


async def test_a_marked_message_already_filed_is_named_in_chinese(dialogue: Dialogue) -> None:
    await prefer_chinese(dialogue, "alice@example.com")
    thread = Address(channel="slack", conversation="C0HELP", user="U1", thread="1.2")
    async with UnitOfWork(dialogue.factory) as uow:
        alice = await uow.people.by_email("alice@example.com")
        ctx = _ctx(uow, alice, summary="打印机坏了")
        ctx.address = thread
        await help_channels.file_from_message(FORM, ctx)
        again = _ctx(uow, alice, summary="打印机坏了")
        again.address = thread
        [told] = await help_channels.file_from_message(FORM, again)
        await uow.commit()
    assert told.text == f"这条消息已经是 {told.ticket_ref} 了。"
