"""The words of the bot's replies, per language; keys are `<handler>.<what>`.

Placeholders are `str.format` fields; a translation uses the same fields as the English.
Replies for other people (an assignee, a requester told of a change) stay with the handler
that sends them until the recipient's language is known there.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        # handlers/status.py
        "status.ticket": "{ref} is {status}.{last}",
        "status.last": " Last update: {what}{who}, {when}.",
        "status.by": " by {name}",
        "status.none": "You have no open tickets. Tell me if something's wrong.",
        "status.yours": "Your open tickets ({count}):",
        "status.none_own": "You have no open tickets of your own.",
        "status.assigned_to_you": "Assigned to you ({count}):",
        "event.created": "opened",
        "event.note": "note added",
        "event.assigned": "assigned",
        "event.escalated": "escalated",
        "event.resolved": "resolved",
        "event.reopened": "reopened",
        "event.approved": "approved",
        "event.rejected": "rejected",
        "event.status": "status changed",
        "who.assignee": "{ref} is with {name}{group}.",
        "who.in_group": " of {group}",
        "who.queue": "{ref} is not assigned to anyone yet; it is in the {group} queue.",
        "who.nobody": "{ref} is not assigned to anyone yet; the service desk will pick it up.",
        # handlers/incidents.py
        "incident.logged": "I've logged {ref}{where} at priority {priority}{why}.{known}",
        "incident.for_service": " for {service}",
        "incident.known_outage": " This is a known outage: {ref}.",
        "incident.ask_service": " So I can send it to the right team: which system is affected?",
        "incident.desk_picks": " The service desk will pick it up and I'll keep you posted here.",
        "incident.answer_noted": "Thanks, I've added that to {ref}; the desk will route it.",
        "incident.desk_sorts": "No problem; the desk will sort out {ref}.",
        "incident.filed": "Thanks, {ref} is now filed under {service} at priority {priority}. "
        "The service desk will pick it up.{known}",
        "note.ask": "What should I add to {ref}?",
        "note.added": "Added your note to {ref}.{resumed}",
        "note.resumed": " It's back in progress.",
        "escalate.closed": "{ref} is {status}, so there is nothing to escalate. "
        'Say "reopen" if the problem is back.',
        "escalate.done": "I've escalated {ref}.{changed} The team has been told it needs "
        "attention now.",
        "escalate.changed": " Priority {before} → {after}.",
        "resolve.cannot": "{ref} is {status}, so I can't resolve it.",
        "resolve.done": '{ref} is resolved. If the problem comes back, say "reopen {ref}".',
        "reopen.still_open": "{ref} is still open ({status}); I've left it as it is.",
        "reopen.cannot": "{ref} is {status} and can't be reopened. "
        "Tell me what's wrong and I'll log a new incident.",
        "reopen.done": "I've reopened {ref}; it's back with the team.",
        # handlers/requests.py
        "request.opened": "I've opened request {ref}{what}. I'll let you know here when it's done.",
        "request.for_item": " for {item}",
        # handlers/knowledge.py
        "kb.none": "I couldn't find an article about that. Tell me what's wrong and I'll "
        "log it for the service desk.",
        "kb.found": "Here's what I found:",
        "kb.no_help": "Didn't help? Describe the problem and I'll open a ticket.",
        "kb.sent_privately": "I've sent you the details (only you can see them).",
    },
    "zh": {
        "status.ticket": "{ref} 的状态：{status}。{last}",
        "status.last": "最近一次更新：{who}{what}，{when}。",
        "status.by": "{name} ",
        "status.none": "你没有未关闭的工单。有问题随时告诉我。",
        "status.yours": "你未关闭的工单（{count}）：",
        "status.none_own": "你自己没有未关闭的工单。",
        "status.assigned_to_you": "分配给你的（{count}）：",
        "event.created": "创建",
        "event.note": "添加备注",
        "event.assigned": "分配",
        "event.escalated": "升级",
        "event.resolved": "解决",
        "event.reopened": "重新打开",
        "event.approved": "批准",
        "event.rejected": "驳回",
        "event.status": "更改状态",
        "who.assignee": "{ref} 由{group}{name}处理。",
        "who.in_group": "{group}的",
        "who.queue": "{ref} 还没有分配给具体的人，目前在{group}的队列里。",
        "who.nobody": "{ref} 还没有分配给任何人，服务台会尽快处理。",
        "incident.logged": "我已登记 {ref}{where}，优先级 {priority}{why}。{known}",
        "incident.for_service": "（{service}）",
        "incident.known_outage": "这是已知故障：{ref}。",
        "incident.ask_service": "为了转给对应的团队：受影响的是哪个系统？",
        "incident.desk_picks": "服务台会跟进，进展我会在这里告诉你。",
        "incident.answer_noted": "谢谢，我已把这条信息加到 {ref}，服务台会分派。",
        "incident.desk_sorts": "没关系，服务台会处理 {ref}。",
        "incident.filed": "谢谢，{ref} 已归入 {service}，优先级 {priority}。服务台会跟进。{known}",
        "note.ask": "要在 {ref} 里补充什么？",
        "note.added": "已把你的补充加到 {ref}。{resumed}",
        "note.resumed": "工单已恢复处理。",
        "escalate.closed": "{ref} 的状态是{status}，无需升级。如果问题又出现了，请说“重新打开”。",
        "escalate.done": "我已升级 {ref}。{changed}已通知团队尽快处理。",
        "escalate.changed": "优先级 {before} → {after}。",
        "resolve.cannot": "{ref} 的状态是{status}，无法标记为已解决。",
        "resolve.done": "{ref} 已解决。如果问题再出现，请说“重新打开 {ref}”。",
        "reopen.still_open": "{ref} 仍在处理中（{status}），我没有改动它。",
        "reopen.cannot": "{ref} 的状态是{status}，无法重新打开。"
        "告诉我出了什么问题，我会登记新的故障。",
        "reopen.done": "我已重新打开 {ref}，团队会继续处理。",
        "request.opened": "我已创建请求 {ref}{what}。完成后我会在这里通知你。",
        "request.for_item": "（{item}）",
        "kb.none": "没有找到相关的文章。告诉我出了什么问题，我会为服务台登记。",
        "kb.found": "找到这些：",
        "kb.no_help": "没有帮助？描述一下问题，我会开一个工单。",
        "kb.sent_privately": "详情已私下发给你（只有你能看到）。",
    },
}

STATUS: dict[str, dict[str, str]] = {
    "zh": {
        "new": "新建",
        "in_progress": "处理中",
        "on_hold": "挂起",
        "awaiting_approval": "待审批",
        "approved": "已批准",
        "rejected": "已驳回",
        "resolved": "已解决",
        "closed": "已关闭",
        "cancelled": "已取消",
    },
}
"""Ticket states by language; English uses `Status.label`."""
