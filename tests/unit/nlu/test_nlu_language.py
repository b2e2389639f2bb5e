"""Both languages: detection, Chinese intents and entities."""

import pytest

from nlu.language import detect_language
from nlu.pipeline import SpacyUnderstander
from nlu.types import IntentName


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("my laptop will not start", "en"),
        ("VPN连不上", "zh"),
        ("批准 CHG-2031", "zh"),
        ("thanks, 谢谢 for fixing the VPN so fast", "en"),
        ("", "en"),
        ("🔥🔥", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("批准 CHG-2031", IntentName.APPROVE),
        ("驳回这个变更", IntentName.REJECT),
        ("邮箱打不开了，整个部门都没法工作", IntentName.REPORT_INCIDENT),
        ("帮我重置一下密码", IntentName.REQUEST_SERVICE),
        ("我的工单处理到哪了", IntentName.CHECK_STATUS),
        ("谢谢", IntentName.THANKS),
        ("周六晚上10点升级防火墙，请提变更", IntentName.REQUEST_CHANGE),
    ],
)
def test_chinese_intents(understander: SpacyUnderstander, text: str, intent: IntentName) -> None:
    result = understander.parse(text)
    assert result.language == "zh"
    assert result.intent == intent


def test_chinese_entities_share_the_english_labels(understander: SpacyUnderstander) -> None:
    result = understander.parse("VPN又断了，整个公司都没法工作，很急！！")
    assert result.values("service") == ["VPN"]
    assert "high" in result.values("impact")
    assert result.values("urgency") == ["high"]


def test_english_reaches_the_same_intent(understander: SpacyUnderstander) -> None:
    assert understander.parse("approve CHG-2031").intent == IntentName.APPROVE
    assert understander.parse("approve CHG-2031").language == "en"
