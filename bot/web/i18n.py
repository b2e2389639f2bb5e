"""The words of the web pages in English and Chinese, and which language a request gets.

A dict per language rather than gettext catalogs: two languages and a few dozen strings,
with no compile step. A key missing in Chinese falls back to English.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LANGUAGES = ("en", "zh")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "site": "IT service desk",
        "skip": "Skip to content",
        "nav.tickets": "My tickets",
        "nav.new": "New request",
        "nav.knowledge": "Knowledge",
        "nav.console": "Console",
        "signout": "Sign out",
        "signed_in_as": "Signed in as {name}",
        "signin.title": "Sign in",
        "signin.how": "To sign in, ask the service desk bot for a link: type “sign in” in a "
        "private chat with it (Slack direct message, Telegram, SMS or WhatsApp). The link "
        "works once, for 15 minutes.",
        "signin.signed_out": "You have signed out.",
        "signin.preview": "Open this link in your browser to sign in.",
        "signin.continue": "Continue",
        "signin.used": "This sign-in link has already been used.",
        "signin.expired": "This sign-in link has expired.",
        "signin.unknown": "This sign-in link is not valid.",
        "signin.inactive": "This account is no longer active.",
        "signin.again": "Ask the bot for a new link: type “sign in” in a private chat with it.",
        "signin.oidc": "Sign in with your organisation account",
        "signin.oidc.failed": "Signing in with your organisation account did not work.",
        "signin.oidc.off": "Signing in with an organisation account is not set up here.",
        "error.title": "Something is not right",
        "error.403": "You may not do that: {reason}.",
        "error.404": "There is no such page, or it is not yours to see.",
        "error.back": "Back to my tickets",
        "tickets.title": "My tickets",
        "tickets.none": "You have no tickets yet.",
        "tickets.open": "Open",
        "tickets.closed": "Resolved and closed",
        "tickets.count": "{count} tickets",
        "tickets.count.some": "The latest {shown} of your {count} tickets",
        "col.ref": "Ticket",
        "col.title": "Subject",
        "col.status": "Status",
        "col.priority": "Priority",
        "col.sla": "Service level",
        "col.updated": "Updated",
        "ticket.title": "{ref}: {title}",
        "ticket.details": "Details",
        "ticket.timeline": "Conversation and history",
        "ticket.comment": "Add a comment",
        "ticket.comment.label": "Your comment",
        "ticket.comment.send": "Send comment",
        "ticket.comment.added": "Your comment was added.",
        "ticket.comment.pending": "Your comment was received and will appear here in a moment.",
        "ticket.comment.empty": "Write something before sending.",
        "ticket.assignee": "Assigned to",
        "ticket.unassigned": "Not assigned yet",
        "ticket.service": "Service",
        "ticket.created": "Opened",
        "ticket.via": "via {channel}",
        "new.title": "New request",
        "new.kind": "What do you need?",
        "new.kind.incident": "Something is broken (incident)",
        "new.kind.request": "I need something (service request)",
        "new.subject": "Subject",
        "new.subject.hint": "A few words: we look for articles that may already answer it.",
        "new.description": "Description",
        "new.submit": "Submit",
        "new.suggestions": "Articles that may help",
        "new.subject.empty": "Give a subject of 3 to 300 characters.",
        "new.received": "Thank you: your request has been received and will appear here in "
        "a moment.",
        "kb.title": "Knowledge",
        "kb.search": "Search articles",
        "kb.search.button": "Search",
        "kb.none": "No article matches.",
        "kb.helped": "Did this article solve it? Then you need no ticket.",
        "sla.ok": "On track",
        "sla.warning": "At risk",
        "sla.breached": "Breached",
        "sla.paused": "Paused",
        "sla.met": "Met",
        "sla.none": "None",
        "status.new": "New",
        "status.in_progress": "In progress",
        "status.on_hold": "On hold",
        "status.resolved": "Resolved",
        "status.closed": "Closed",
        "status.awaiting_approval": "Waiting for approval",
        "status.approved": "Approved",
        "status.rejected": "Rejected",
        "status.cancelled": "Cancelled",
        "kb.solved": "Glad that helped: no ticket was needed.",
        "kb.solved.button": "Yes, this solved it",
        "kb.back": "No, back to my request",
        "kb.opened_from": "Suggested for your new request",
        "kind.incident": "Incident",
        "kind.request": "Service request",
        "kind.problem": "Problem",
        "kind.change": "Change",
        "event.system": "Service desk",
        "event.created": "Opened",
        "event.note": "Comment",
        "event.status": "Status changed",
        "event.assigned": "Assigned",
        "event.escalated": "Escalated",
        "event.resolved": "Resolved",
        "event.reopened": "Reopened",
        "event.approved": "Approved",
        "event.rejected": "Rejected",
        "event.reply": "Reply",
        "event.routed": "Sent to a team",
        "event.sla": "Service level",
        "event.linked": "Linked",
    },
    "zh": {
        "site": "IT 服务台",
        "skip": "跳到正文",
        "nav.tickets": "我的工单",
        "nav.new": "新建请求",
        "nav.knowledge": "知识库",
        "nav.console": "控制台",
        "signout": "退出登录",
        "signed_in_as": "已登录：{name}",
        "signin.title": "登录",
        "signin.how": "请向服务台机器人索取登录链接：在与它的私聊中（Slack 私信、Telegram、短信或 "
        "WhatsApp）输入“登录”。链接仅可使用一次，15 分钟内有效。",
        "signin.signed_out": "您已退出登录。",
        "signin.preview": "请在浏览器中打开此链接以登录。",
        "signin.continue": "继续",
        "signin.used": "此登录链接已被使用。",
        "signin.expired": "此登录链接已过期。",
        "signin.unknown": "此登录链接无效。",
        "signin.inactive": "此账户已停用。",
        "signin.again": "请向机器人索取新链接：在私聊中输入“登录”。",
        "signin.oidc": "使用组织账户登录",
        "signin.oidc.failed": "使用组织账户登录未成功。",
        "signin.oidc.off": "此处未设置组织账户登录。",
        "error.title": "出了点问题",
        "error.403": "您无权执行此操作：{reason}。",
        "error.404": "页面不存在，或您无权查看。",
        "error.back": "返回我的工单",
        "tickets.title": "我的工单",
        "tickets.none": "您还没有工单。",
        "tickets.open": "处理中",
        "tickets.closed": "已解决和已关闭",
        "tickets.count": "共 {count} 个工单",
        "tickets.count.some": "您共有 {count} 个工单，显示最近的 {shown} 个",
        "col.ref": "工单",
        "col.title": "主题",
        "col.status": "状态",
        "col.priority": "优先级",
        "col.sla": "服务级别",
        "col.updated": "更新时间",
        "ticket.title": "{ref}：{title}",
        "ticket.details": "详情",
        "ticket.timeline": "对话与历史",
        "ticket.comment": "添加评论",
        "ticket.comment.label": "您的评论",
        "ticket.comment.send": "发送评论",
        "ticket.comment.added": "评论已添加。",
        "ticket.comment.pending": "评论已收到，稍后会显示在这里。",
        "ticket.comment.empty": "请先输入内容再发送。",
        "ticket.assignee": "处理人",
        "ticket.unassigned": "尚未分配",
        "ticket.service": "服务",
        "ticket.created": "创建时间",
        "ticket.via": "来自 {channel}",
        "new.title": "新建请求",
        "new.kind": "您需要什么？",
        "new.kind.incident": "有东西坏了（故障）",
        "new.kind.request": "我需要某样东西（服务请求）",
        "new.subject": "主题",
        "new.subject.hint": "简单几个词：我们会查找可能已有答案的文章。",
        "new.description": "描述",
        "new.submit": "提交",
        "new.suggestions": "可能有帮助的文章",
        "new.subject.empty": "主题须为 3 到 300 个字符。",
        "new.received": "谢谢：您的请求已收到，稍后会显示在这里。",
        "kb.title": "知识库",
        "kb.search": "搜索文章",
        "kb.search.button": "搜索",
        "kb.none": "没有匹配的文章。",
        "kb.helped": "这篇文章解决了您的问题吗？那就不需要提交工单了。",
        "sla.ok": "正常",
        "sla.warning": "有风险",
        "sla.breached": "已违约",
        "sla.paused": "已暂停",
        "sla.met": "已达成",
        "sla.none": "无",
        "status.new": "新建",
        "status.in_progress": "处理中",
        "status.on_hold": "挂起",
        "status.resolved": "已解决",
        "status.closed": "已关闭",
        "status.awaiting_approval": "等待审批",
        "status.approved": "已批准",
        "status.rejected": "已拒绝",
        "status.cancelled": "已取消",
        "kb.solved": "很高兴能帮上忙：无需提交工单。",
        "kb.solved.button": "是的，问题解决了",
        "kb.back": "没有，返回我的请求",
        "kb.opened_from": "为您的新请求推荐",
        "kind.incident": "故障",
        "kind.request": "服务请求",
        "kind.problem": "问题",
        "kind.change": "变更",
        "event.system": "服务台",
        "event.created": "已创建",
        "event.note": "评论",
        "event.status": "状态变更",
        "event.assigned": "已分配",
        "event.escalated": "已升级",
        "event.resolved": "已解决",
        "event.reopened": "已重新打开",
        "event.approved": "已批准",
        "event.rejected": "已拒绝",
        "event.reply": "回复",
        "event.routed": "已转给团队",
        "event.sla": "服务级别",
        "event.linked": "已关联",
    },
}

Translate = Callable[..., str]


def translator(language: str) -> Translate:
    """`t(key, **values)` in `language`, falling back to English, then to the key itself."""
    table = MESSAGES.get(language, MESSAGES["en"])
    fallback = MESSAGES["en"]

    def t(key: str, **values: Any) -> str:
        text = table.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return t


def negotiate(preferred: str | None, accept_language: str | None) -> str:
    """The person's own language when set, else the best of `Accept-Language`, else English."""
    if preferred:
        base = preferred.split("-")[0].lower()
        if base in LANGUAGES:
            return base
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        base = tag.split("-")[0].lower()
        if base in LANGUAGES and quality > 0:
            ranked.append((-quality, i, base))
    return sorted(ranked)[0][2] if ranked else "en"
