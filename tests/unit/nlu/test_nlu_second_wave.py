"""The intents of agents, approvers and the second wave are understood in both languages."""

from __future__ import annotations

import pytest

from nlu.dataset import builtin_test_files, builtin_train_files, read_file
from nlu.pipeline import SpacyUnderstander
from nlu.types import IntentName

SECOND_WAVE = [
    IntentName.ASSIGN,
    IntentName.MY_QUEUE,
    IntentName.PENDING_APPROVALS,
    IntentName.PUT_ON_HOLD,
    IntentName.OPEN_PROBLEM,
    IntentName.QUERY_IMPACT,
    IntentName.REQUEST_CATALOG,
    IntentName.DECLARE_MAJOR,
    IntentName.STATUS_UPDATE,
    IntentName.SUBMIT_IDEA,
    IntentName.SIGNIN,
]


@pytest.mark.parametrize("intent", list(IntentName))
def test_every_intent_is_trained_and_tested_in_both_languages(intent: IntentName) -> None:
    for files, least in ((builtin_train_files(), 10), (builtin_test_files(), 1)):
        for language in ("en", "zh"):
            [path] = [p for p in files if p.stem.endswith(language)]
            count = sum(1 for e in read_file(path) if e.intent == intent.value)
            assert count >= least, (path.name, intent.value, count)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("assign INC-12 to me", IntentName.ASSIGN),
        ("give INC-3 to erin", IntentName.ASSIGN),
        ("what's in my queue", IntentName.MY_QUEUE),
        ("show unassigned tickets", IntentName.MY_QUEUE),
        ("what's waiting for my approval?", IntentName.PENDING_APPROVALS),
        ("put INC-4 on hold until Monday, waiting for the vendor", IntentName.PUT_ON_HOLD),
        ("open a problem for the recurring VPN drops", IntentName.OPEN_PROBLEM),
        ("what breaks if the db-01 goes down", IntentName.QUERY_IMPACT),
        ("order a monitor", IntentName.REQUEST_CATALOG),
        ("declare a major incident for email", IntentName.DECLARE_MAJOR),
        ("post an update on INC-9: fix deployed, monitoring", IntentName.STATUS_UPDATE),
        ("idea: auto-reset passwords from Slack", IntentName.SUBMIT_IDEA),
        ("give me a login link", IntentName.SIGNIN),
        ("please reset my password", IntentName.REQUEST_SERVICE),
        ("I need access to the finance shared drive", IntentName.REQUEST_SERVICE),
        ("把INC-12分配给我", IntentName.ASSIGN),
        ("有什么等我审批的吗", IntentName.PENDING_APPROVALS),
        ("宣布邮件重大事件", IntentName.DECLARE_MAJOR),
    ],
)
def test_brief_examples(understander: SpacyUnderstander, text: str, intent: IntentName) -> None:
    result = understander.parse(text)
    assert result.intent is intent, result.ranked()[:3]
    assert result.is_confident
