"""Entities on the hard forms, with offsets into the original text."""

from datetime import datetime

import pytest

from nlu.pipeline import SpacyUnderstander
from nlu.types import CatalogEntry, Understanding


def ents(u: Understanding, label: str) -> list[tuple[str, str]]:
    """(value, text) of every entity with this label; also checks the offsets."""
    out = []
    for e in u.entities:
        assert u.text[e.start : e.end] == e.text
        if e.entity == label:
            out.append((e.value, e.text))
    return out


@pytest.mark.parametrize(
    ("text", "value", "surface"),
    [
        ("what's the status of INC-1042?", "INC-1042", "INC-1042"),
        ("any news on inc 1042", "INC-1042", "inc 1042"),
        ("update on inc1042 please", "INC-1042", "inc1042"),
        ("incident 1042 is still open", "INC-1042", "incident 1042"),
        ("incident #1042 is still open", "INC-1042", "incident #1042"),
        ("check REQ-2211", "REQ-2211", "REQ-2211"),
        ("approve chg 2031", "CHG-2031", "chg 2031"),
        ("problem PRB-7 again", "PRB-7", "PRB-7"),
        ("is #1042 fixed?", "#1042", "#1042"),
        ("ticket 4471 status", "#4471", "ticket 4471"),
        ("change no. 2031 approved", "CHG-2031", "change no. 2031"),
        ("工单1042的状态", "#1042", "工单1042"),
        ("变更 2031 批准了吗", "CHG-2031", "变更 2031"),
        ("批准 CHG-2031", "CHG-2031", "CHG-2031"),
        ("any news on case #100?", "#100", "case #100"),
        ("case no. 100 is still open", "#100", "case no. 100"),
    ],
)
def test_ticket_refs_in_every_form(
    understander: SpacyUnderstander, now: datetime, text: str, value: str, surface: str
) -> None:
    assert ents(understander.parse(text, now=now), "ticket_ref") == [(value, surface)]


@pytest.mark.parametrize(
    "text",
    [
        "please post it in #general",
        "ask in <#C024BE7LR|it-help> channel",
        "I need to change 2 servers",
        "request 3 licences for the team",
        "we are #1 in sales",
        "see https://example.com/issues/1042",
        "case 100 printers are broken",
        "in case 250 users can't log in, call me",
    ],
)
def test_no_ticket_ref_where_none_is_meant(
    understander: SpacyUnderstander, now: datetime, text: str
) -> None:
    assert ents(understander.parse(text, now=now), "ticket_ref") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("upgrade the firewall Saturday 22:00", "2026-11-28T22:00:00+00:00"),
        ("patch the servers tonight", "2026-11-26T20:00:00+00:00"),
        ("deploy tomorrow 9am", "2026-11-27T09:00:00+00:00"),
        ("restart the cluster next Monday at 6", "2026-11-30T18:00:00+00:00"),
        ("reboot at 22:00 on Friday", "2026-11-27T22:00:00+00:00"),
        ("window 2026-12-01 22:00", "2026-12-01T22:00:00+00:00"),
        ("network work on Dec 3 at 6pm", "2026-12-03T18:00:00+00:00"),
        ("周六晚上10点升级防火墙", "2026-11-28T22:00:00+00:00"),
        ("明天上午十点半发布", "2026-11-27T10:30:00+00:00"),
        ("下周一早上9点重启", "2026-11-30T09:00:00+00:00"),
        ("今晚打补丁", "2026-11-26T20:00:00+00:00"),
        ("12月5日晚上10点变更", "2026-12-05T22:00:00+00:00"),
        ("11月2号上午9点", "2027-11-02T09:00:00+00:00"),
        ("2027年1月3日下午3点", "2027-01-03T15:00:00+00:00"),
        ("两小时后重启", "2026-11-26T12:00:00+00:00"),
        ("30分钟后切换", "2026-11-26T10:30:00+00:00"),
        ("变更窗口2026-12-01 22:00", "2026-12-01T22:00:00+00:00"),
    ],
)
def test_datetimes_resolve_against_now(
    understander: SpacyUnderstander, now: datetime, text: str, expected: str
) -> None:
    assert [v for v, _ in ents(understander.parse(text, now=now), "datetime")] == [expected]


def test_datetime_uses_the_timezone_of_a_naive_now(model_root: object) -> None:
    from pathlib import Path

    from nlu.pipeline import load

    berlin = load(Path(str(model_root)), timezone="Europe/Berlin")
    result = berlin.parse("tomorrow 9am", now=datetime(2026, 11, 26, 10, 0))
    assert [e.value for e in result.entities if e.entity == "datetime"] == [
        "2026-11-27T09:00:00+01:00"
    ]


@pytest.mark.parametrize(
    "text",
    ["I sat down and the sun came out", "it's at 10 percent", "工单1042的状态", "13月40日"],
)
def test_no_datetime_in_ordinary_words(
    understander: SpacyUnderstander, now: datetime, text: str
) -> None:
    assert ents(understander.parse(text, now=now), "datetime") == []


def test_default_services_work_before_set_services(understander: SpacyUnderstander) -> None:
    result = understander.parse("VPN's dead for the whole Berlin office, nobody can work!!")
    assert ents(result, "service") == [("VPN", "VPN")]
    assert result.values("urgency") == ["high"]
    assert result.values("impact") == ["high"]


def test_set_services_with_aliases_and_refresh_without_retraining(
    fresh: SpacyUnderstander,
) -> None:
    version = fresh.version
    fresh.set_services([CatalogEntry(name="Payroll Portal", aliases=("paycheck site", "工资系统"))])
    assert ents(fresh.parse("the paycheck site is down"), "service") == [
        ("Payroll Portal", "paycheck site")
    ]
    assert ents(fresh.parse("工资系统打不开"), "service") == [("Payroll Portal", "工资系统")]
    assert ents(fresh.parse("vpn is down"), "service") == []
    fresh.set_services([CatalogEntry(name="GlobalConnect VPN", aliases=("vpn",))])
    assert ents(fresh.parse("VPN连不上"), "service") == [("GlobalConnect VPN", "VPN")]
    assert ents(fresh.parse("the paycheck site is down"), "service") == []
    assert fresh.version == version


def test_set_catalog_replaces_items(fresh: SpacyUnderstander) -> None:
    assert ents(fresh.parse("please reset my password"), "catalog_item") == [
        ("password reset", "reset my password")
    ]
    fresh.set_catalog([CatalogEntry(name="ergonomic chair", aliases=("new chair",))])
    assert ents(fresh.parse("can I get a new chair"), "catalog_item") == [
        ("ergonomic chair", "new chair")
    ]
    assert ents(fresh.parse("please reset my password"), "catalog_item") == []


@pytest.mark.parametrize(
    ("text", "urgency"),
    [
        ("need this asap", "high"),
        ("URGENT: printer down", "high"),
        ("the app is broken!!!", "high"),
        ("<@U0SWITCH> :fire: prod db down", "high"),
        ("checkout is failing 🚨", "high"),
        ("fix it whenever you can, no rush", "low"),
        ("not urgent, when you get a chance", "low"),
        ("could you look at it by end of day", "medium"),
        ("很急，马上处理", "high"),
        ("不急，有空再弄", "low"),
    ],
)
def test_urgency_from_words_and_tone(
    understander: SpacyUnderstander, text: str, urgency: str
) -> None:
    assert understander.parse(text).values("urgency") == [urgency]


@pytest.mark.parametrize(
    ("text", "impact"),
    [
        ("email is down for everyone", "high"),
        ("all users in the Paris office are affected", "high"),
        ("the whole sales team can't log in", "high"),
        ("it's just me, my laptop only", "low"),
        ("a few people on my team see it", "medium"),
        ("整个公司都上不了网", "high"),
        ("只有我这样", "low"),
    ],
)
def test_impact_from_how_many_people(
    understander: SpacyUnderstander, text: str, impact: str
) -> None:
    assert impact in understander.parse(text).values("impact")


def test_emails_are_lower_cased(understander: SpacyUnderstander) -> None:
    result = understander.parse("the affected user is John.Smith@Example.com, not me")
    assert ents(result, "email") == [("john.smith@example.com", "John.Smith@Example.com")]


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("call me at +44 20 7946 0958", "+442079460958"),
        ("my number is (415) 555-0101", "+14155550101"),
        ("text 415.555.0101 when done", "+14155550101"),
        ("ring 0049 30 1234567 please", "+49301234567"),
        ("我的手机号是13800138000", "+8613800138000"),
    ],
)
def test_phones_normalised_to_e164(understander: SpacyUnderstander, text: str, e164: str) -> None:
    assert [v for v, _ in ents(understander.parse(text), "phone")] == [e164]


@pytest.mark.parametrize(
    "text", ["INC-1042 since 2026-11-20", "error 0x80070005 at 10:30", "v16.2"]
)
def test_no_phone_in_refs_dates_and_codes(understander: SpacyUnderstander, text: str) -> None:
    assert ents(understander.parse(text), "phone") == []


def test_entities_are_spacy_spans_on_the_doc(understander: SpacyUnderstander) -> None:
    from nlu.entities import SPAN_KEY

    text = "VPN is down for everyone, see INC-1042 asap"
    doc = understander.nlp(text)
    ((_, entities, _),) = understander.analyse([doc], texts=[text])
    assert [(s.label_, s.kb_id_, s.text) for s in doc.spans[SPAN_KEY]] == [
        (e.entity, e.value, e.text) for e in entities
    ]
    assert ("ticket_ref", "INC-1042") in [(s.label_, s.kb_id_) for s in doc.ents]
    assert ("service", "VPN") in [(s.label_, s.kb_id_) for s in doc.ents]


def test_a_doc_without_entities_gets_no_spans(understander: SpacyUnderstander) -> None:
    from nlu.entities import SPAN_KEY

    doc = understander.nlp("hello there")
    ((_, entities, _),) = understander.analyse([doc], texts=["hello there"])
    assert entities == []
    assert SPAN_KEY not in doc.spans
    assert list(doc.ents) == []
