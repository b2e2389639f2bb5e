"""Changes, problems and releases answer Chinese speakers in Chinese."""

from __future__ import annotations

from store.enums import Status, TicketKind

from .conftest import Dialogue

CAROL = "carol@example.com"


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
