"""Values the NLU hands to the rest of Switchboard; standard library only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class IntentName(StrEnum):
    """The one list of intents shared by training data, router and handlers."""

    GREET = "greet"
    HELP = "help"
    THANKS = "thanks"
    REPORT_INCIDENT = "report_incident"
    REQUEST_SERVICE = "request_service"
    CHECK_STATUS = "check_status"
    ADD_INFO = "add_info"
    ESCALATE = "escalate"
    RESOLVE_TICKET = "resolve_ticket"
    REOPEN_TICKET = "reopen_ticket"
    REQUEST_CHANGE = "request_change"
    APPROVE = "approve"
    REJECT = "reject"
    SEARCH_KNOWLEDGE = "search_knowledge"
    AFFIRM = "affirm"
    DENY = "deny"
    CANCEL = "cancel"
    OUT_OF_SCOPE = "out_of_scope"
    ASSIGN = "assign"
    MY_QUEUE = "my_queue"
    PENDING_APPROVALS = "pending_approvals"
    PUT_ON_HOLD = "put_on_hold"
    OPEN_PROBLEM = "open_problem"
    QUERY_IMPACT = "query_impact"
    REQUEST_CATALOG = "request_catalog"
    DECLARE_MAJOR = "declare_major"
    STATUS_UPDATE = "status_update"
    SUBMIT_IDEA = "submit_idea"
    SIGNIN = "signin"


class EntityName(StrEnum):
    """Entity labels the NLU emits."""

    TICKET_REF = "ticket_ref"
    URGENCY = "urgency"
    CATALOG_ITEM = "catalog_item"
    SERVICE = "service"
    DATETIME = "datetime"
    EMAIL = "email"
    PHONE = "phone"
    IMPACT = "impact"


@dataclass(frozen=True, slots=True, kw_only=True)
class Entity:
    """One entity found in a text.

    `value` is normalised: `INC-1042` for a ticket reference (`#1042` when the kind is
    unknown), `high`/`medium`/`low` for urgency and impact, the canonical service or catalog
    item name, an ISO 8601 timestamp with offset for a datetime, a lower-cased email, an
    E.164 phone number. `start` and `end` are character offsets into the parsed text.
    """

    entity: str
    value: str
    start: int
    end: int
    text: str = ""

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict of every field."""
        return {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Understanding:
    """What the NLU made of one text: the best intent, its rivals and the entities."""

    text: str
    intent: IntentName
    confidence: float
    alternatives: tuple[tuple[IntentName, float], ...] = ()
    entities: tuple[Entity, ...] = ()
    language: str = "en"
    threshold: float = 0.0

    @property
    def is_confident(self) -> bool:
        """True when the top intent clears the model's calibrated threshold."""
        return self.confidence >= self.threshold

    def first(self, name: str) -> Entity | None:
        """The first entity with this label, or None."""
        return next((e for e in self.entities if e.entity == name), None)

    def values(self, name: str) -> list[str]:
        """Every value of this label, in order of appearance, without repeats."""
        seen: list[str] = []
        for e in self.entities:
            if e.entity == name and e.value not in seen:
                seen.append(e.value)
        return seen

    def ranked(self) -> list[tuple[IntentName, float]]:
        """The top intent followed by the alternatives, best first."""
        return [(self.intent, self.confidence), *self.alternatives]

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict, confidences rounded to four places; the threshold is left out."""
        return {
            "text": self.text,
            "intent": self.intent.value,
            "confidence": round(self.confidence, 4),
            "alternatives": [
                {"intent": i.value, "confidence": round(c, 4)} for i, c in self.alternatives
            ],
            "entities": [e.to_dict() for e in self.entities],
            "language": self.language,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogEntry:
    """A name the NLU should recognise, with its aliases (services, catalog items)."""

    name: str
    aliases: tuple[str, ...] = field(default_factory=tuple)


class Understander(Protocol):
    """Anything that turns text into an `Understanding`."""

    @property
    def threshold(self) -> float:
        """Confidence below which the router should ask rather than act."""

    def parse(self, text: str, *, now: datetime | None = None) -> Understanding:
        """Understand one message; odd input (empty, binary, huge) never raises."""

    def parse_many(
        self, texts: Sequence[str], *, now: datetime | None = None
    ) -> list[Understanding]:
        """Understand many messages at once, in the order given."""

    def set_services(self, entries: Iterable[CatalogEntry]) -> None:
        """Replace the services recognised as `service` entities, without retraining."""
