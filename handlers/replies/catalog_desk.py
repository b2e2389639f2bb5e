"""The desk's own pages and hand-offs.

The home overview, forms and marked messages, the console's messages to requesters, supplier
hand-offs, the desk-channel flag of a public complaint, sign-in links, improvement ideas,
impact questions and monitoring's outages.
"""

from __future__ import annotations

EN: dict[str, str] = {
    "social.negative": "⚠️ A negative public message on {where} about {ref}: "
    "answer it soon, by direct message. {title}",
    "home.mine": "Your open tickets",
    "home.mine_empty": "Nothing open. Message me when something breaks or you need something.",
    "home.assigned": "Assigned to you{more}",
    "home.assigned_empty": "Your queue is empty.",
    "home.waiting": "Waiting for an agent",
    "home.waiting_empty": "Every new ticket has someone on it.",
    "home.approvals": "Waiting for your approval",
    "home.approvals_empty": "No changes are waiting for you.",
    "home.hi": "Hi {name}. ",
    "home.count_one": "You have {n} open ticket.",
    "home.count_many": "You have {n} open tickets.",
    "home.title": "Your overview",
    "forms.no_summary": "The form arrived without a summary, so I didn't file anything.",
    "forms.filed": "I've logged {kind} {ref}{where} at priority {priority}. "
    "I'll keep you posted here.",
    "forms.for_service": " for {service}",
    "console.answer": "{name} on {ref}: {text}",
    "console.on_hold": "{ref} is on hold. Reply to continue.",
    "console.on_hold_why": "{ref} is on hold: {why} Reply to continue.",
    "console.resolved": '{ref} was resolved by {name}. If it\'s not fixed, say "reopen {ref}".',
    "console.resolved_why": "{ref} was resolved by {name}: {note} "
    'If it\'s not fixed, say "reopen {ref}".',
    "suppliers.agents_only": "Only agents can hand tickets to suppliers.",
    "suppliers.how": 'Say "hand INC-7 to NetCo" or "hand INC-7 to the supplier".',
    "suppliers.unknown": "There is no supplier called {name!r} in the desk.",
    "suppliers.none_behind": "{ref} has no supplier behind its service; name one: "
    '"hand {ref} to NetCo".',
    "suppliers.not_open": "{ref} is {status}; there is nothing to hand over.",
    "suppliers.awaiting_approval": "{ref} is awaiting approval; hand it over once it is approved.",
    "suppliers.handed": "{ref} is handed to {supplier}.{due} {how}\n\n{subject}\n\n{body}",
    "suppliers.due": " Their contract asks for a response by {response} and a "
    "resolution by {resolution}.",
    "suppliers.no_target_for": " Their contract has no target for {priority}.",
    "suppliers.no_target_any": " Their contract has no target for it.",
    "suppliers.no_time": "no target",
    "suppliers.mailed": "I've mailed {email}:",
    "suppliers.no_email": "{supplier} has no contact e-mail in the desk file; send them this:",
    "suppliers.no_mail": "Mail is not set up here, so nothing was sent: "
    "please forward this to {email} yourself:",
    "help_channels.already": "This is already {ref}.",
    "help_channels.internal_note": "Internal note added to {ref}.",
    "help_channels.added": "Added to {ref}.",
    "signin.private_only": "I'll only send a sign-in link in a private chat with me: write "
    '"sign in" to me directly.',
    "signin.link": "Here is your sign-in link for the {where} (it works once, for {minutes} "
    "minutes; don't share it): {link}",
    "signin.console": "console",
    "signin.portal": "portal",
    "improvements.ask": "What's your idea? Tell me in a sentence or two.",
    "improvements.added": "Thanks! I've added {ref} to the improvement register: {title}. "
    "The service desk's leads review it.",
    "improvements.agents_only": "Only agents can ask me for improvement suggestions.",
    "improvements.nothing_new": "Nothing new to suggest: the register already holds what I see.",
    "improvements.suggested": "I've added {n} suggestions to the register:\n{lines}",
    "improvements.weekly": "This week's improvement suggestions from the desk's data ({n}):\n"
    "{lines}\nReview them in the console's improvement register.",
    "impact.which": "Which configuration item? For example "
    '"what breaks if db-cluster-1 goes down".',
    "impact.none": "Nothing depends on {name}.",
    "impact.head": "If {name} goes down, {n} services are affected:",
    "impact.open": ", {n} open incidents",
    "impact.more": "…and {n} more.",
    "events.outage_over": "The outage behind {report} ({ref}) is over. If it still doesn't "
    'work for you, tell me here; else say "resolve {report}".',
    "events.cleared": "The {source} alert behind {ref} has cleared. It's yours to check and "
    "resolve.",
    "events.outage_found": "Monitoring has found the outage behind {report}: it is {ref}, "
    "and you will hear here when it is over.",
}

ZH: dict[str, str] = {
    "social.negative": "⚠️ {where} 上有一条关于 {ref} 的负面公开消息：请尽快通过私信回复。{title}",
    "home.mine": "你未关闭的工单",
    "home.mine_empty": "没有未关闭的工单。出了故障或需要什么时，给我发消息。",
    "home.assigned": "分配给你的{more}",
    "home.assigned_empty": "你的队列是空的。",
    "home.waiting": "等待服务台人员",
    "home.waiting_empty": "每个新工单都有人在处理。",
    "home.approvals": "等你审批的",
    "home.approvals_empty": "没有等你审批的变更。",
    "home.hi": "{name}，你好。",
    "home.count_one": "你有 {n} 个未关闭的工单。",
    "home.count_many": "你有 {n} 个未关闭的工单。",
    "home.title": "你的概览",
    "forms.no_summary": "表单没有填写摘要，所以我没有创建工单。",
    "forms.filed": "我已登记{kind} {ref}{where}，优先级 {priority}。有进展会在这里告诉你。",
    "forms.for_service": "（{service}）",
    "console.answer": "{name} 回复 {ref}：{text}",
    "console.on_hold": "{ref} 已挂起。回复即可继续。",
    "console.on_hold_why": "{ref} 已挂起：{why} 回复即可继续。",
    "console.resolved": "{ref} 已由 {name} 解决。如果问题还在，请说“重新打开 {ref}”。",
    "console.resolved_why": "{ref} 已由 {name} 解决：{note} 如果问题还在，请说“重新打开 {ref}”。",
    "suppliers.agents_only": "只有服务台人员可以把工单转交给供应商。",
    "suppliers.how": "请说“hand INC-7 to NetCo”或“hand INC-7 to the supplier”。",
    "suppliers.unknown": "服务台里没有名为 {name!r} 的供应商。",
    "suppliers.none_behind": "{ref} 的服务没有对应的供应商；请指明一个：“hand {ref} to NetCo”。",
    "suppliers.not_open": "{ref} {status}，没有可转交的内容。",
    "suppliers.awaiting_approval": "{ref} 正在等待审批；批准后再转交。",
    "suppliers.handed": "{ref} 已转交给 {supplier}。{due}{how}\n\n{subject}\n\n{body}",
    "suppliers.due": "按合同，他们应在 {response} 前响应，在 {resolution} 前解决。",
    "suppliers.no_target_for": "他们的合同对 {priority} 没有目标时间。",
    "suppliers.no_target_any": "他们的合同对此没有目标时间。",
    "suppliers.no_time": "无目标时间",
    "suppliers.mailed": "我已发邮件给 {email}：",
    "suppliers.no_email": "服务台文件里没有 {supplier} 的联系邮箱；请把以下内容发给他们：",
    "suppliers.no_mail": "这里没有配置邮件，所以什么也没有发出：请自己把以下内容转发给 {email}：",
    "help_channels.already": "这条消息已经是 {ref} 了。",
    "help_channels.internal_note": "已在 {ref} 添加内部备注。",
    "help_channels.added": "已补充到 {ref}。",
    "signin.private_only": "登录链接只在和我的私聊里发送：请直接私信我“登录”。",
    "signin.link": "这是你的{where}登录链接（只能用一次，{minutes} 分钟内有效；请勿分享）：{link}",
    "signin.console": "控制台",
    "signin.portal": "自助门户",
    "improvements.ask": "你的建议是什么？用一两句话告诉我。",
    "improvements.added": "谢谢！我已把 {ref} 加入改进登记册：{title}。服务台负责人会审阅。",
    "improvements.agents_only": "只有服务台人员可以让我提出改进建议。",
    "improvements.nothing_new": "没有新的建议：我看到的都已在登记册里了。",
    "improvements.suggested": "我已向登记册添加了 {n} 条建议：\n{lines}",
    "improvements.weekly": "本周根据服务台数据得出的改进建议（{n} 条）：\n{lines}\n"
    "请在控制台的改进登记册中查看。",
    "impact.which": "哪个配置项？例如“db-cluster-1 宕机会影响什么”。",
    "impact.none": "没有任何服务依赖 {name}。",
    "impact.head": "如果 {name} 宕机，会影响 {n} 个服务：",
    "impact.open": "，{n} 个未关闭的故障",
    "impact.more": "……还有 {n} 个。",
    "events.outage_over": "导致 {report} 的故障（{ref}）已经结束。如果你那边仍然不行，"
    "请在这里告诉我；否则说“解决 {report}”。",
    "events.cleared": "{ref} 背后的 {source} 告警已经解除。请你检查并解决。",
    "events.outage_found": "监控已发现 {report} 背后的故障：就是 {ref}，结束时会在这里通知你。",
}
