"""Refusals of the change, release and problem rules, in the person's language.

Their English is also the REST API's error detail, so it stays word for word.
"""

from __future__ import annotations

EN: dict[str, str] = {
    "change.refused.not_approved": "{ref} is {status}; it can be scheduled once it is approved",
    "change.refused.step": "{ref} is {stage}; it cannot {step} now. Allowed: {steps}",
    "change.stage.planned": "planned",
    "change.stage.scheduled": "scheduled",
    "change.stage.implementing": "implementing",
    "change.stage.review": "review",
    "change.stage.closed": "closed",
    "change.step.schedule": "schedule",
    "change.step.implement": "implement",
    "change.step.review": "review",
    "change.step.close": "close",
    "change.step.nothing": "nothing (it is closed)",
    "change.refused.no_zone": "a window needs a time zone",
    "change.refused.backwards": "the window ends ({end}) before it starts ({start})",
    "change.refused.not_change": "{ref} is not a change",
    "change.refused.not_yours": "only the requester or an agent can move {ref} on",
    "change.refused.no_window": "a window needs a start and an end",
    "change.refused.unknown_ci": "unknown configuration item {name}",
    "change.refused.freeze": "{ref} falls in the freeze {named}; only an emergency change may, "
    "with an extra approver.{unscoped}",
    "change.freeze_named": "{name} ({start} to {end} UTC)",
    "change.refused.freeze_unscoped": " {ref} names no configuration item, so every freeze in "
    "its window applies; name the items it touches if they are not frozen.",
    "change.refused.freeze_second": "{ref} falls in the freeze {names}; an emergency change "
    "enters it only when a second approver, not its requester, schedules it",
    "change.refused.in_release": "{ref} is in release {name}: {why}",
    "change.refused.outside_release": "{ref} runs {start} to {end} UTC, outside the release "
    "window {release_start} to {release_end} UTC",
    "release.refused.no_change": "no change {ref}",
    "release.refused.closed": "{ref} is {status}; only open changes join a release",
    "release.refused.elsewhere": "{ref} is already in release {name}",
    "release.refused.agents_only": "only agents create and change releases",
    "release.refused.name": "a release is named like R-12, not {name}",
    "release.refused.exists": "release {name} exists already",
    "problem.refused.stage": "{ref} is {stage}; it cannot become {target}. Allowed: {names}",
    "problem.refused.no_workaround": "{ref} needs a workaround to become a known error",
    "problem.stage.new": "new",
    "problem.stage.investigating": "investigating",
    "problem.stage.known_error": "known error",
    "problem.stage.resolved": "resolved",
    "problem.stage.closed": "closed",
    "problem.stage.none": "none (it is closed)",
}

ZH: dict[str, str] = {
    "change.refused.not_approved": "{ref} 的状态是{status}；批准后才能排期。",
    "change.refused.step": "{ref} 处于{stage}阶段，现在不能{step}。可以：{steps}。",
    "change.stage.planned": "已计划",
    "change.stage.scheduled": "已排期",
    "change.stage.implementing": "实施中",
    "change.stage.review": "复核",
    "change.stage.closed": "已关闭",
    "change.step.schedule": "排期",
    "change.step.implement": "实施",
    "change.step.review": "复核",
    "change.step.close": "关闭",
    "change.step.nothing": "无（已关闭）",
    "change.refused.no_zone": "时间窗口需要时区。",
    "change.refused.backwards": "时间窗口的结束时间（{end}）早于开始时间（{start}）。",
    "change.refused.not_change": "{ref} 不是变更单。",
    "change.refused.not_yours": "只有申请人或服务台人员才能推进 {ref}。",
    "change.refused.no_window": "时间窗口需要开始和结束时间。",
    "change.refused.unknown_ci": "未知的配置项 {name}。",
    "change.refused.freeze": "{ref} 落在冻结期 {named} 内；只有紧急变更在额外审批人同意后才可以。"
    "{unscoped}",
    "change.freeze_named": "{name}（{start} 至 {end} UTC）",
    "change.refused.freeze_unscoped": "{ref} 没有指明配置项，所以窗口内的所有冻结期都适用；"
    "如果它涉及的配置项未被冻结，请指明这些配置项。",
    "change.refused.freeze_second": "{ref} 落在冻结期 {names} 内；紧急变更只有由第二位审批人"
    "（不是申请人）排期时才能进入。",
    "change.refused.in_release": "{ref} 属于发布 {name}：{why}",
    "change.refused.outside_release": "{ref} 的时间是 {start} 至 {end} UTC，超出了发布窗口 "
    "{release_start} 至 {release_end} UTC。",
    "release.refused.no_change": "没有变更 {ref}。",
    "release.refused.closed": "{ref} 的状态是{status}；只有未关闭的变更才能加入发布。",
    "release.refused.elsewhere": "{ref} 已经在发布 {name} 中。",
    "release.refused.agents_only": "只有服务台人员可以创建和修改发布。",
    "release.refused.name": "发布的名称应类似 R-12，而不是 {name}。",
    "release.refused.exists": "发布 {name} 已存在。",
    "problem.refused.stage": "{ref} 处于{stage}阶段，不能变为{target}。可以：{names}。",
    "problem.refused.no_workaround": "{ref} 需要先有临时解决方案才能成为已知错误。",
    "problem.stage.new": "新建",
    "problem.stage.investigating": "调查中",
    "problem.stage.known_error": "已知错误",
    "problem.stage.resolved": "已解决",
    "problem.stage.closed": "已关闭",
    "problem.stage.none": "无（已关闭）",
}
