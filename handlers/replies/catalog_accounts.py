"""Linking accounts, the agent's own commands and queues."""

from __future__ import annotations

EN: dict[str, str] = {
    "link.private_only": "For your safety, link accounts only in a private chat with me.",
    "link.code": "Your link code is {code}\n"
    "From the account you want to link (Telegram, WhatsApp, or a text message to our "
    'number), send "link {code}". The code works once, for 15 minutes. Never share '
    "it: whoever sends it links their account to you.",
    "link.texted": 'I\'ve texted a 6-digit code to {number}. Type "link <code>" here '
    "within 15 minutes to finish.",
    "link.invalid": "That code isn't valid. It may have expired or been used already.",
    "link.linked": "Linked: {what} now belongs to {name}. You'll see the same tickets "
    "from every linked account.{moved}",
    "queue.assign_agents_only": "Only agents can assign tickets. I can tell you who has yours.",
    "queue.assign_which": 'Which ticket? Say "assign INC-42 to me" or "take the next one".',
    "queue.closed": "{ref} is {status}.",
    "queue.assign_who": 'Who should have {ref}? Say "assign {ref} to me" or '
    '"assign {ref} to erin".',
    "queue.already_yours": "{ref} is already yours.",
    "queue.not_an_agent": "{name} is not an agent, so I can't give them {ref}.",
    "queue.already_with": "{ref} is already with {name}.",
    "queue.given": "{ref} is assigned to {name}; I've told them.",
    "queue.unknown_name": "I don't know an agent or a group called {name}.",
    "queue.to_group": "{ref} is in the {group} queue now.",
    "queue.nothing_waiting": "Nothing is waiting in your groups' queues.",
    "queue.agents_only": 'Queues are for agents. Say "my tickets" to see the ones you raised.',
    "queue.assigned": "Assigned to you ({count}):",
    "queue.none_assigned": "Nothing is assigned to you.",
    "queue.unassigned": "Unassigned in {where} ({count}):",
    "queue.none_unassigned": "Nothing unassigned in {where}.",
    "queue.your_groups": "your groups",
    "queue.line": "• {ref}{priority} '{title}' ({status}{due})",
    "queue.due": ", due {when}",
    "queue.take": "Take {ref}",
    "agent.assigned_to_you": "{ref} was assigned to you.",
    "agent.updated_by": "{ref} was updated by {name} ({what}).",
    "agent.changed.status": "status",
    "agent.changed.priority": "priority",
    "agent.changed.assignee": "assignee",
    "agent.changed.note": "note",
    "agent.priority_agents_only": "Only agents can change a priority.",
    "agent.priority_usage": 'Say "priority INC-42 P2 because <reason>".',
    "agent.priority_why": 'Why should {ref} be {priority}? Say "priority {ref} {priority} '
    'because <reason>".',
    "agent.priority_already": "{ref} is already {priority}.",
    "agent.priority_set": "{ref} is now {priority}{was}: {reason}",
    "agent.priority_was": " (was {priority})",
    "link.cancelled": "I've cancelled your link code.",
    "link.none_open": "You have no link code open.",
    "link.country_code": 'Give the number with its country code, like "link +14155550123".',
    "link.private_chat": "Do that in a private chat with me.",
    "link.unlink_how": 'Say "unlink" from the account to unlink, or "unlink +1415…".',
    "link.email_bound": "This account is recognised by your work email, so it can't be "
    "unlinked. Unlink a phone number or Telegram account instead.",
    "link.not_yours": "That isn't linked to you, so there's nothing to unlink.",
    "link.unlinked": "Unlinked {names}. Messages from there no longer reach your tickets; "
    'say "link" if you want it back.',
    "link.directory_only": "Linking connects another account to someone in the company "
    "directory. Start it from Slack or another account the service desk knows you by.",
    "link.too_many_codes": "You've asked for several codes in the last hour. Try again later.",
    "link.number_already_yours": "{number} is already linked to you.",
    "link.sms": "Your Switchboard code is {code}. Someone asked to link this number "
    "to their IT service desk account; if it wasn't you, ignore this message. "
    "It expires in 15 minutes.",
    "link.private_codes": "Link codes only work in a private chat with me.{voided}",
    "link.voided": " That code is now void; ask for a new one.",
    "link.locked_out": "Too many wrong codes. Wait 15 minutes, then ask for a new code.",
    "link.legacy": 'That link code is from before an update and no longer works. Say "link" '
    "where you got it to get a new one.",
    "link.not_a_code": 'That isn\'t a link code. Say "link" to get one, or '
    '"link +14155550123" to link a phone number.',
    "link.code_locked": "Too many wrong codes: that code is locked. Ask for a new one.",
    "link.wrong_code": "That's not the code I sent. {left} tries left.",
    "link.from_other": "Send this code from the account you want to link, not from one "
    "that is already yours.",
    "link.taken": "That account belongs to someone else in the directory, so I can't link "
    "it. Ask the service desk if it should be yours.",
    "link.used": "That code has already been used.",
    "link.already_linked": "{what} was already linked to you.",
    "link.moved": " The {count} ticket(s) raised from it are now yours too.",
}

ZH: dict[str, str] = {
    "link.private_only": "为了安全，请只在和我的私聊中关联账号。",
    "link.code": "你的关联码是 {code}\n"
    "请在要关联的账号（Telegram、WhatsApp，或发短信到我们的号码）上发送“link {code}”。"
    "关联码只能用一次，15 分钟内有效。不要告诉别人：谁发送它，谁的账号就会关联到你。",
    "link.texted": "我已向 {number} 发送了 6 位验证码。"
    "请在 15 分钟内在这里输入“link <验证码>”完成关联。",
    "link.invalid": "这个关联码无效，可能已过期或已被使用。",
    "link.linked": "已关联：{what} 现在属于 {name}。你在所有关联账号上都能看到同样的工单。{moved}",
    "queue.assign_agents_only": "只有服务台人员可以分配工单。我可以告诉你谁在处理你的工单。",
    "queue.assign_which": "哪个工单？请说“把 INC-42 分给我”或“领下一个”。",
    "queue.closed": "{ref} 的状态：{status}。",
    "queue.assign_who": "{ref} 交给谁？请说“把 {ref} 分给我”或“把 {ref} 分给 erin”。",
    "queue.already_yours": "{ref} 已经是你的了。",
    "queue.not_an_agent": "{name} 不是服务台人员，不能把 {ref} 交给他们。",
    "queue.already_with": "{ref} 已经在 {name} 那里。",
    "queue.given": "{ref} 已分配给 {name}，我已通知对方。",
    "queue.unknown_name": "我不知道叫 {name} 的服务台人员或小组。",
    "queue.to_group": "{ref} 现在在 {group} 的队列里。",
    "queue.nothing_waiting": "你所在组的队列里没有待处理的工单。",
    "queue.agents_only": "队列只对服务台人员开放。说“我的工单”可以查看你提交的工单。",
    "queue.assigned": "分配给你的（{count}）：",
    "queue.none_assigned": "没有分配给你的工单。",
    "queue.unassigned": "{where} 未分配的（{count}）：",
    "queue.none_unassigned": "{where} 没有未分配的工单。",
    "queue.your_groups": "你所在的组",
    "queue.line": "• {ref}{priority}“{title}”（{status}{due}）",
    "queue.due": "，截止 {when}",
    "queue.take": "领取 {ref}",
    "agent.assigned_to_you": "{ref} 已分配给你。",
    "agent.updated_by": "{name} 更新了 {ref}（{what}）。",
    "agent.changed.status": "状态",
    "agent.changed.priority": "优先级",
    "agent.changed.assignee": "处理人",
    "agent.changed.note": "备注",
    "agent.priority_agents_only": "只有服务台人员可以更改优先级。",
    "agent.priority_usage": "请说“priority INC-42 P2 because <原因>”。",
    "agent.priority_why": "{ref} 为什么要改为 {priority}？请说“priority {ref} {priority} "
    "because <原因>”。",
    "agent.priority_already": "{ref} 已经是 {priority}。",
    "agent.priority_set": "{ref} 现在是 {priority}{was}：{reason}",
    "agent.priority_was": "（原为 {priority}）",
    "link.cancelled": "已取消你的关联码。",
    "link.none_open": "你没有未使用的关联码。",
    "link.country_code": "请带上国家区号，比如“link +14155550123”。",
    "link.private_chat": "请在和我的私聊中操作。",
    "link.unlink_how": "请在要解除关联的账号上说“unlink”，或者说“unlink +1415…”。",
    "link.email_bound": "这个账号是通过你的工作邮箱识别的，不能解除关联。"
    "你可以解除关联手机号或 Telegram 账号。",
    "link.not_yours": "它没有关联到你，无需解除关联。",
    "link.unlinked": "已解除关联：{names}。从那里发来的消息不会再进入你的工单；"
    "想恢复的话请说“link”。",
    "link.directory_only": "关联是把另一个账号连接到公司通讯录中的某个人。"
    "请从 Slack 或服务台认识你的其他账号发起。",
    "link.too_many_codes": "你在过去一小时内已经申请了好几个关联码，请稍后再试。",
    "link.number_already_yours": "{number} 已经关联到你了。",
    "link.sms": "你的 Switchboard 验证码是 {code}。"
    "有人申请把这个号码关联到他们的 IT 服务台账号；"
    "如果不是你本人，请忽略此消息。验证码 15 分钟内有效。",
    "link.private_codes": "关联码只能在和我的私聊中使用。{voided}",
    "link.voided": "这个关联码已作废，请重新申请。",
    "link.locked_out": "错误次数太多。请等 15 分钟后再申请新的关联码。",
    "link.legacy": "这个关联码是系统更新前的，已经不能用了。请在获取它的地方说“link”重新获取。",
    "link.not_a_code": "这不是关联码。说“link”获取一个，或说“link +14155550123”关联手机号。",
    "link.code_locked": "错误次数太多，这个验证码已锁定。请重新申请。",
    "link.wrong_code": "这不是我发送的验证码。还可以再试 {left} 次。",
    "link.from_other": "请在要关联的账号上发送这个关联码，而不是在已经属于你的账号上。",
    "link.taken": "这个账号属于通讯录中的其他人，我不能关联它。如果它应该是你的，请联系服务台。",
    "link.used": "这个关联码已经被使用过了。",
    "link.already_linked": "{what}已经关联到你了。",
    "link.moved": "从它提交的 {count} 个工单现在也归你了。",
}
