"""The words of the bot's replies, per language; keys are `<handler>.<what>`.

Each area of the desk keeps its words in its own module (`catalog_incidents.py`, ...); this
module joins them into one table per language. Placeholders are `str.format` fields; a
translation uses the same fields as the English.
"""

from __future__ import annotations

from types import ModuleType

from handlers.replies import (
    catalog_accounts,
    catalog_changes,
    catalog_channels,
    catalog_conversation,
    catalog_desk,
    catalog_incidents,
    catalog_problems,
    catalog_refusals,
    catalog_requests,
)

AREAS: tuple[ModuleType, ...] = (
    catalog_incidents,
    catalog_conversation,
    catalog_accounts,
    catalog_changes,
    catalog_problems,
    catalog_requests,
    catalog_channels,
    catalog_refusals,
    catalog_desk,
)


def _join(lang: str) -> dict[str, str]:
    joined: dict[str, str] = {}
    for area in AREAS:
        words: dict[str, str] = getattr(area, lang.upper())
        # Two areas claiming one key would silently hide a reply.
        clash = joined.keys() & words.keys()
        if clash:
            raise ValueError(f"reply keys defined twice: {sorted(clash)}")
        joined.update(words)
    return joined


MESSAGES: dict[str, dict[str, str]] = {lang: _join(lang) for lang in ("en", "zh")}

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

HELP: dict[str, dict[str, str]] = {
    "zh": {
        "report_incident": "报告故障：“整个办公室的 VPN 都连不上了”。",
        "request_service": "申请服务：“我需要一台新笔记本”、“请重置我的密码”。",
        "check_status": "查询工单或列出你的工单：“INC-42 的状态”、“INC-7 谁在处理？”、“我的工单”。",
        "add_info": "给工单补充信息：“INC-42：只有连 Wi-Fi 时才出现”。",
        "escalate": "升级需要尽快处理的工单：“这影响了整个团队”。",
        "resolve_ticket": "标记工单已解决：“又能用了，谢谢”。",
        "reopen_ticket": "重新打开已解决的工单：“又坏了”。",
        "request_change": "申请变更：“周六 22:00 重启邮件服务器”。",
        "approve": "批准等待你审批的变更：“批准 CHG-12”。",
        "reject": "驳回变更：“驳回 CHG-12，季度结账期间不行”。",
        "search_knowledge": "搜索知识库：“手机上怎么设置 VPN？”。",
        "assign": "分配工单：“把 INC-12 分给我”、“把 INC-3 给 erin”、“领下一个”。",
        "my_queue": "查看你的队列和你所在组未分配的工单：“我的队列里有什么？”（服务台人员）。",
        "pending_approvals": "查看等你审批的：“有什么等我审批？”（审批人）。",
        "put_on_hold": "挂起工单并说明原因：“把 INC-4 挂起，等待供应商”（服务台人员）。",
        "open_problem": "为多个故障创建问题单：“为 INC-4、INC-7 和 INC-9 开一个问题单”。",
        "query_impact": "某个系统宕机会影响什么：“db-cluster-1 宕机会影响什么？”。",
        "submit_idea": "提建议：“建议：在 Slack 里重置密码”。",
        "signin": "登录自助门户：说“登录”获取一次性链接。",
        "schedule": "为已批准的变更排期：“schedule CHG-12 周六 22:00 到周日 02:00”。",
        "implement": "开始实施已排期的变更：“implement CHG-12”。",
        "complete": "记录变更的结果：“complete CHG-12 successful”（或 failed、backed out）。",
        "close": "关闭已完成的变更：“close CHG-12”。",
        "standard": "提交预先批准的标准变更：“standard 重启邮件中继 周六 22:00”。",
        "planned": "查看计划中的变更：“planned changes”，或“planned 周六 00:00 到周一 00:00”。",
        "workaround": "把问题标为已知错误：“workaround PRB-3 重启打印服务；症状：打印机不出纸”。",
        "link": "关联你的另一个账号：说“link”获取验证码，或“link +14155550123”关联手机。",
        "unlink": "取消关联账号：在该账号里说“unlink”，或“unlink +14155550123”。",
        "release": "把变更打包成发布：“release R-12 for 周六 22:00-02:00 with CHG-4”。",
    },
}
"""Help lines by language, keyed by intent or command; English is each handler's own help."""
