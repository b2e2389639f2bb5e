"""Changes, problems and releases answer Chinese speakers in Chinese."""

from __future__ import annotations

from store.enums import Status, TicketKind
from store.uow import UnitOfWork

from .conftest import Dialogue
from .test_releases import _on_slack

BOB, CAROL = "bob@example.com", "carol@example.com"


async def test_a_change_is_requested_in_chinese(dialogue: Dialogue) -> None:
    turn = await dialogue.say("申请变更：周六 22:00 重启邮件服务器", expect=["+CHG-1"])
    assert turn.text.startswith("我已提交 CHG-1（计划时间 ")
    assert turn.text.endswith(
        "UTC），并已发给审批人。无法联系到 Carol Approver、Frank Approver（没有关联的渠道）。"
        "有结果后我会告诉你。"
    )


async def test_a_change_is_decided_in_chinese(dialogue: Dialogue) -> None:
    change = await dialogue.seed(
        "重启邮件服务器", kind=TicketKind.CHANGE, status=Status.AWAITING_APPROVAL
    )
    refused = await dialogue.say(f"批准 {change}")
    assert refused.text == f"只有审批人可以决定 {change}。"
    which = await dialogue.say("我要批准", who=CAROL)
    assert which.text == f"你要批准哪个变更？等待审批的有：\n• {change} · 重启邮件服务器"
    assert [b.label for b in which.replies[0].buttons] == [f"批准 {change}"]
    done = await dialogue.say(f"批准 {change}", who=CAROL, expect=[f"{change}:status"])
    assert done.text == f"你批准了 {change}。当前状态：已批准。"
    # The requester described it in Chinese, so they hear the outcome in Chinese.
    told = [o.reply.text for o in done.outgoing]
    assert f"{change} 的审批结果：已批准（Carol Approver）。" in told
    again = await dialogue.say(f"驳回 {change}，季度结账期间不行", who=CAROL)
    assert again.text == f"{change} 已经是“已批准”状态（审批人：Carol Approver）。"


async def _prefer(dialogue: Dialogue, email: str, language: str) -> None:
    async with UnitOfWork(dialogue.factory) as uow:
        person = await uow.people.by_email(email)
        assert person is not None
        person.language = language
        await uow.commit()


async def test_a_problem_and_its_known_error_are_answered_in_chinese(dialogue: Dialogue) -> None:
    await _prefer(dialogue, BOB, "zh")
    one = await dialogue.seed("打印机卡纸", service="Printing")
    two = await dialogue.seed("打印机又卡纸", service="Printing")
    refused = await dialogue.say(f"为 {one} 和 {two} 开一个问题单")
    assert refused.text == "只有服务台人员可以开问题单；我可以帮你报告一个故障。"
    opened = await dialogue.say(f"为 {one} 和 {two} 开一个问题单", who=BOB, expect=["+PRB-1"])
    assert opened.text == f"我已开了 PRB-1（Printing），关联了 {one}、{two}。"
    known = await dialogue.say(
        "workaround PRB-1 重启打印后台服务; symptoms: 卡纸", who=BOB, expect=["PRB-1:status"]
    )
    assert known.text == (
        "PRB-1 已标记为已知错误。临时解决办法：重启打印后台服务。提到 卡纸 的报告会收到这个办法。"
    )


async def test_a_change_is_scheduled_implemented_and_completed_in_chinese(
    dialogue: Dialogue,
) -> None:
    await _prefer(dialogue, BOB, "zh")
    chg = await dialogue.seed(
        "给工资系统打补丁", kind=TicketKind.CHANGE, service="Payroll", status=Status.APPROVED
    )
    planned = await dialogue.say(f"schedule {chg} 2027-03-06 22:00 to 2027-03-07 02:00", who=BOB)
    assert planned.text == f"{chg} 已排期：2027-03-06 22:00 至 2027-03-07 02:00 UTC。风险：很高。"
    assert [b.label for b in planned.replies[0].buttons] == ["开始"]
    started = await dialogue.say(f"implement {chg}", who=BOB, expect=[f"{chg}:status"])
    assert started.text == f"{chg} 正在实施。结束后告诉我结果：成功、失败还是已回退。"
    assert [b.label for b in started.replies[0].buttons] == ["成功", "失败", "已回退"]
    done = await dialogue.say(f"complete {chg} successful", who=BOB, expect=[f"{chg}:status"])
    assert done.text == f"{chg} 已完成：成功。"
    # The requester described the change in Chinese and hears its end in Chinese.
    assert [o.reply.text for o in done.outgoing] == [f"{chg} 已完成：成功。"]
    listed = await dialogue.say("planned 2027-03-06 00:00 to 2027-03-08 00:00", who=BOB)
    assert listed.text == (
        "2027-03-06 00:00 至 2027-03-08 00:00 UTC 的计划：\n"
        f"• {chg} · 给工资系统打补丁 · 2027-03-06 22:00–02:00"
    )


async def test_a_release_is_created_asked_and_approved_in_chinese(dialogue: Dialogue) -> None:
    await _prefer(dialogue, BOB, "zh")
    await _prefer(dialogue, CAROL, "zh")
    await _on_slack(dialogue, CAROL, BOB)
    chg = await dialogue.seed(
        "升级邮件", kind=TicketKind.CHANGE, service="Email", status=Status.AWAITING_APPROVAL
    )
    window = "2027-03-06 22:00 至 2027-03-07 02:00 UTC"
    made = await dialogue.say(f"release R-12 for 2027-03-06 22:00 to 02:00 with {chg}", who=BOB)
    assert made.text == f"我已创建发布 R-12。发布 R-12 · {window} · 待审批 · {chg}（待审批）"
    assert [b.label for b in made.replies[0].buttons] == ["批准 R-12", "驳回 R-12"]
    assert [o.reply.text for o in made.outgoing] == [
        f"Bob Agent 请你审批发布 R-12（{window}）：{chg}。"
    ]
    approved = await dialogue.say("批准 R-12", who=CAROL, expect=[f"{chg}:status"])
    assert approved.text == (
        f"你批准了 {chg}。当前状态：已批准。\n发布 R-12 · {window} · 已批准 · {chg}（已批准）"
    )
    listed = await dialogue.say("release", who=BOB)
    assert listed.text == f"发布：\n• R-12 · {window} · 已批准"
