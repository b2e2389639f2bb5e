"""Whether a message answers the pending question: one case per rule."""

from __future__ import annotations

import pytest

from bot.answers import Verdict, answer_verdict
from nlu.types import Entity, IntentName, Understanding

WHICH_SYSTEM = {"intent": "report_incident", "slot": "service", "entity": "service"}
WHAT_TO_ADD = {"intent": "add_info", "slot": "note", "entity": None}


def said(
    text: str, intent: IntentName = IntentName.OUT_OF_SCOPE, confidence: float = 0.2, *ents: str
) -> Understanding:
    entities = tuple(
        Entity(entity=e.split("=")[0], value=e.split("=")[1], start=0, end=1) for e in ents
    )
    return Understanding(text=text, intent=intent, confidence=confidence, entities=entities)


@pytest.mark.parametrize(
    ("expect", "nlu", "verdict"),
    [
        (
            WHICH_SYSTEM,
            said(
                "INC-5: it only happens on Wi-Fi",
                IntentName.ADD_INFO,
                0.9,
                "ticket_ref=INC-5",
                "service=Wi-Fi",
            ),
            Verdict.NEW_REQUEST,
        ),
        (WHICH_SYSTEM, said("hmm let me think", IntentName.ADD_INFO, 0.26), Verdict.HESITATION),
        (
            WHICH_SYSTEM,
            said("wait, the printer is on fire and smoking now", IntentName.REPORT_INCIDENT, 0.9),
            Verdict.NEW_REQUEST,
        ),
        (WHICH_SYSTEM, said("laptop", IntentName.AFFIRM, 0.19, "service=Laptops"), Verdict.ANSWER),
        (WHICH_SYSTEM, said("the thing in room 4", IntentName.ADD_INFO, 0.43), Verdict.ANSWER),
        (
            WHICH_SYSTEM,
            said("I need a new laptop", IntentName.REQUEST_SERVICE, 0.94),
            Verdict.NEW_REQUEST,
        ),
        (
            WHICH_SYSTEM,
            said("could you tell me how to set up my out of office reply?"),
            Verdict.NEW_REQUEST,
        ),
        (WHICH_SYSTEM, said("never mind", IntentName.CANCEL, 0.9), Verdict.ANSWER),
        (
            WHICH_SYSTEM,
            said("无线网", IntentName.REPORT_INCIDENT, 0.3, "service=Wi-Fi"),
            Verdict.ANSWER,
        ),
        (WHICH_SYSTEM, said("我也不知道到底是哪个系统出了问题"), Verdict.NEW_REQUEST),
        (
            WHAT_TO_ADD,
            said("it started after the update yesterday and only on the second screen"),
            Verdict.ANSWER,
        ),
    ],
)
def test_answer_verdict(expect: dict[str, object], nlu: Understanding, verdict: Verdict) -> None:
    assert answer_verdict(expect, nlu) is verdict
