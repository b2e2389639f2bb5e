"""ORM classes: the directory, the configuration database, tickets, inbox and outbox.

Over 400 lines: every table Alembic compares lives in one declarative metadata, and these
classes are declarations with no logic to split out.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store.enums import (
    ChangeType,
    Criticality,
    Decision,
    InboxStatus,
    Level,
    OutboxStatus,
    PersonKind,
    Priority,
    Role,
    Status,
    TicketKind,
)
from store.types import JSONType, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def enum_column(enum: type[StrEnum], length: int = 24) -> Enum:
    """A VARCHAR with a check constraint: no PostgreSQL `CREATE TYPE` to migrate."""
    return Enum(
        enum,
        native_enum=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(AsyncAttrs, DeclarativeBase):
    """The one metadata of every table, with constraint names Alembic can compare."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONType, list[Any]: JSONType, datetime: UTCDateTime}


class Person(Base):
    """Someone the desk knows: imported from the directory, or a contact who wrote in."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    kind: Mapped[PersonKind] = mapped_column(enum_column(PersonKind), default=PersonKind.EMPLOYEE)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    organisation: Mapped[str | None] = mapped_column(String(120), default=None)
    devices: Mapped[list[Any]] = mapped_column(default=list)

    roles: Mapped[list[PersonRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    # Loaded on request only (`PeopleRepository.get_full`): a message needs roles, not these.
    skills: Mapped[list[PersonSkill]] = relationship(cascade="all, delete-orphan", lazy="raise")
    memberships: Mapped[list[GroupMember]] = relationship(
        cascade="all, delete-orphan", lazy="raise"
    )
    identities: Mapped[list[ChannelIdentity]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="raise"
    )

    @property
    def role_set(self) -> frozenset[Role]:
        """The roles the person holds, for membership tests."""
        return frozenset(r.role for r in self.roles)

    def has_role(self, *roles: Role) -> bool:
        """Whether the person holds any of `roles`; an admin holds them all."""
        mine = self.role_set
        return Role.ADMIN in mine or any(r in mine for r in roles)


# A person is looked up by e-mail ignoring case (a newcomer on Slack, sign-in, assignment).
Index("ix_people_email_lower", func.lower(Person.email))


class PersonRole(Base):
    """One role a person holds; a person may hold several."""

    __tablename__ = "person_roles"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(enum_column(Role), primary_key=True)


class PersonSkill(Base):
    """One skill of an agent, matched against a service's skills when assigning tickets."""

    __tablename__ = "person_skills"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[str] = mapped_column(String(80), primary_key=True)


class Group(Base):
    """A support group: who works its tickets, where it is told of them, who is on call."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    slack_channel: Mapped[str | None] = mapped_column(String(40), default=None)
    telegram_chat: Mapped[str | None] = mapped_column(String(40), default=None)
    # New tickets go to a person of the group by skill and load, not only to the group.
    auto_assign: Mapped[bool] = mapped_column(Boolean, default=False)
    # The service desk: tickets whose service has no owner group land here.
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    oncall: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class GroupMember(Base):
    """A person's membership of a group."""

    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_group", "group_id"),)

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    group: Mapped[Group] = relationship(lazy="selectin")


class ChannelIdentity(Base):
    """A platform account bound to a person; `last_address` is where they last wrote from."""

    __tablename__ = "channel_identities"
    __table_args__ = (
        UniqueConstraint("platform", "external_id"),
        # A person's channels (replies, notifications, the directory) are asked by person.
        Index("ix_channel_identities_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(200))
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    last_address: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)

    person: Mapped[Person] = relationship(back_populates="identities", lazy="raise")


class Service(Base):
    """A configuration item: a service people use, or a part of one."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    criticality: Mapped[Criticality] = mapped_column(
        enum_column(Criticality), default=Criticality.MEDIUM
    )
    description: Mapped[str] = mapped_column(Text, default="")
    owner_group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(40), default="service")
    supplier_id: Mapped[int | None] = mapped_column(
        ForeignKey("suppliers.id", ondelete="SET NULL"), default=None
    )
    skills: Mapped[list[Any]] = mapped_column(default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)

    owner_group: Mapped[Group | None] = relationship(lazy="raise")


class TicketCounter(Base):
    """The last number handed out per ticket kind, so references run INC-1, INC-2, ..."""

    __tablename__ = "ticket_counters"

    kind: Mapped[TicketKind] = mapped_column(enum_column(TicketKind), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    """An incident, request, problem or change: its state, people, service and SLA clock."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("kind", "number"),
        Index("ix_tickets_requester_status", "requester_id", "status"),
        Index("ix_tickets_status_priority", "status", "priority"),
        Index("ix_tickets_sla_next_at", "sla_next_at"),
        Index("ix_tickets_response_due_at", "response_due_at"),
        Index("ix_tickets_resolve_due_at", "resolve_due_at"),
        # Reports and the recurrence window ask for tickets opened in a period; reports of
        # one kind (incidents by service, changes) through the second.
        Index("ix_tickets_created_at", "created_at"),
        Index("ix_tickets_kind_created_at", "kind", "created_at"),
        Index("ix_tickets_origin_thread", "origin_thread"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TicketKind] = mapped_column(enum_column(TicketKind))
    number: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str] = mapped_column(String(24), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[Status] = mapped_column(enum_column(Status), default=Status.NEW)
    priority: Mapped[Priority | None] = mapped_column(enum_column(Priority, 4), default=None)
    impact: Mapped[Level | None] = mapped_column(enum_column(Level, 8), default=None)
    urgency: Mapped[Level | None] = mapped_column(enum_column(Level, 8), default=None)
    change_type: Mapped[ChangeType | None] = mapped_column(
        enum_column(ChangeType, 12), default=None
    )
    catalog_item: Mapped[str | None] = mapped_column(String(120), default=None)
    requester_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), default=None)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"), default=None)
    origin: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # The chat thread the ticket was filed from as one indexed key (`store.tickets.thread_key`):
    # a later event in that thread finds its ticket without reading every ticket's origin.
    origin_thread: Mapped[str | None] = mapped_column(Text, default=None)
    planned_start: Mapped[datetime | None] = mapped_column(default=None)
    planned_end: Mapped[datetime | None] = mapped_column(default=None)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Service level: the agreement's name and its instants (`handlers.rules.sla.Clock`).
    # `sla_next_at` is the next warning or breach still to act on, None when there is none
    # (no agreement, paused, met): the scheduler's one indexed question.
    sla_name: Mapped[str | None] = mapped_column(String(120), default=None)
    response_warn_at: Mapped[datetime | None] = mapped_column(default=None)
    response_due_at: Mapped[datetime | None] = mapped_column(default=None)
    resolve_warn_at: Mapped[datetime | None] = mapped_column(default=None)
    resolve_due_at: Mapped[datetime | None] = mapped_column(default=None)
    responded_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_paused_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    sla_next_at: Mapped[datetime | None] = mapped_column(default=None)

    requester: Mapped[Person] = relationship(foreign_keys=[requester_id], lazy="joined")
    assignee: Mapped[Person | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    group: Mapped[Group | None] = relationship(lazy="joined")
    service: Mapped[Service | None] = relationship(lazy="joined")

    # Every UPDATE carries `WHERE version = <seen>`: two workers changing one ticket at
    # once cannot both win; the loser retries its unit of work against the new state.
    __mapper_args__ = {"version_id_col": version}


class TicketEvent(Base):
    """The audit trail: every change of a ticket, who made it, when, through which channel."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channel: Mapped[str] = mapped_column(String(32), default="")
    external_user: Mapped[str | None] = mapped_column(String(200), default=None)
    inbox_id: Mapped[int | None] = mapped_column(default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[Person | None] = relationship(lazy="selectin")


class Approval(Base):
    """One approver's decision on a ticket; a person decides once per ticket."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("ticket_id", "approver_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    approver_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    decision: Mapped[Decision] = mapped_column(enum_column(Decision, 12))
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(32), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    approver: Mapped[Person] = relationship(lazy="selectin")


class KnowledgeArticle(Base):
    """The current version of an article; `search_vector` is PostgreSQL's index of it."""

    __tablename__ = "knowledge_articles"
    __table_args__ = (
        Index(
            "ix_knowledge_articles_search_vector",
            "search_vector",
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), default=None
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    language: Mapped[str] = mapped_column(String(8), default="en")
    version: Mapped[int] = mapped_column(Integer, default=1)
    # SQLite keeps its index in the FTS5 table `knowledge_fts` instead and leaves this empty.
    search_vector: Mapped[str | None] = mapped_column(
        Text().with_variant(TSVECTOR(), "postgresql"), default=None, deferred=True
    )


class InboxEvent(Base):
    """Every event a platform was told we received; (platform, event_id) is the dedup key."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "event_id"),
        Index("ix_inbox_status_id", "status", "id"),
        # The messages handled in a period, by intent (the desk's report).
        Index("ix_inbox_status_received_at", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(200))
    conversation_key: Mapped[str] = mapped_column(String(400), default="")
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[InboxStatus] = mapped_column(
        enum_column(InboxStatus, 12), default=InboxStatus.PENDING
    )
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    intent: Mapped[str | None] = mapped_column(String(40), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)


class OutboxMessage(Base):
    """A reply committed with the change that caused it; the dispatcher sends it once."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_due", "status", "next_attempt_at"),
        Index("ix_outbox_conversation", "platform", "conversation_key", "id"),
        Index("ix_outbox_inbox", "inbox_id"),
        Index("ix_outbox_external", "platform", "external_id"),
        Index("ix_outbox_dedup_key", "dedup_key", unique=True),
        Index("ix_outbox_ticket_ref", "ticket_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int | None] = mapped_column(default=None)
    platform: Mapped[str] = mapped_column(String(32))
    conversation_key: Mapped[str] = mapped_column(String(400))
    address: Mapped[dict[str, Any]] = mapped_column()
    reply: Mapped[dict[str, Any]] = mapped_column()
    ticket_ref: Mapped[str | None] = mapped_column(String(24), default=None)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus, 12), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # What the platform reported after accepting it (Twilio: delivered, failed, ...).
    delivery_status: Mapped[str | None] = mapped_column(String(32), default=None)
    delivery_updated_at: Mapped[datetime | None] = mapped_column(default=None)
    # One row per key ever: a card edit per card state, a notice per person and state.
    dedup_key: Mapped[str | None] = mapped_column(String(300), default=None)


class ApiToken(Base):
    """A bearer token for the REST API; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    person: Mapped[Person] = relationship(lazy="selectin")


class DialogueState(Base):
    """Slot-filling state per conversation in the embedded mode (Redis holds it when scaled)."""

    __tablename__ = "dialogue_state"
    __table_args__ = (Index("ix_dialogue_state_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


class Cursor(Base):
    """Small durable values: polling positions (X `since_id`) and the like."""

    __tablename__ = "cursors"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- the desk configuration (`switchboard import`) ---------------------------------------------


class BusinessCalendar(Base):
    """Working hours (`Mon-Fri 08:00-18:00` lines) in a time zone, and holidays (ISO dates)."""

    __tablename__ = "calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    hours: Mapped[list[Any]] = mapped_column(default=list)
    holidays: Mapped[list[Any]] = mapped_column(default=list)


class ServiceLevel(Base):
    """An agreement: which tickets (`applies_to`), on which calendar, targets per priority.

    `targets` maps a priority to `{"response": "15m", "resolve": "4h"}`; no calendar means
    round the clock.
    """

    __tablename__ = "service_levels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    organisation: Mapped[str | None] = mapped_column(String(120), default=None)
    kind: Mapped[TicketKind | None] = mapped_column(enum_column(TicketKind), default=None)
    service: Mapped[str | None] = mapped_column(String(120), default=None)
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("calendars.id", ondelete="RESTRICT"), default=None
    )
    targets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    close_after: Mapped[str | None] = mapped_column(String(24), default=None)

    calendar: Mapped[BusinessCalendar | None] = relationship(lazy="selectin")


class Supplier(Base):
    """An outside supplier and the targets of its underpinning contract."""

    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    contract: Mapped[str | None] = mapped_column(String(120), default=None)
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("calendars.id", ondelete="RESTRICT"), default=None
    )
    targets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    contact: Mapped[dict[str, Any]] = mapped_column(default=dict)

    calendar: Mapped[BusinessCalendar | None] = relationship(lazy="selectin")


class ServiceLink(Base):
    """A relation between services: `depends_on` or `runs_on` (`part_of` is `parent_id`)."""

    __tablename__ = "service_links"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    target_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    relation: Mapped[str] = mapped_column(String(16), primary_key=True)


# Tables defined in their own modules join the metadata here, where Alembic looks for it.
import store.links  # noqa: E402, F401


class Integration(Base):
    """A monitoring source allowed to post alerts: a bearer token (hashed) and/or a secret.

    The signing secret is kept as given, because checking an HMAC needs it; the token is
    kept only as its SHA-256, like `ApiToken`.
    """

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    prefix: Mapped[str] = mapped_column(String(16), default="")
    signing_secret: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AlertIncident(Base):
    """The incident an alert fingerprint opened, and how often and when it was last seen."""

    __tablename__ = "alert_incidents"
    __table_args__ = (
        Index("ix_alert_incidents_service_open", "service_id", "open"),
        Index("ix_alert_incidents_ticket", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(200), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), default=None
    )
    source: Mapped[str] = mapped_column(String(120), default="")
    count: Mapped[int] = mapped_column(Integer, default=1)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(lazy="joined")


class TicketLink(Base):
    """Two tickets that belong together: a person's report and the outage it is part of."""

    __tablename__ = "ticket_links"
    __table_args__ = (
        UniqueConstraint("ticket_id", "linked_id"),
        Index("ix_ticket_links_linked", "linked_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    linked_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32), default="known_outage")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeArticleVersion(Base):
    """Every body an article has had; a new row each time an import changes the body."""

    __tablename__ = "knowledge_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("knowledge_articles.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeArticleService(Base):
    """A service an article is about, by its case-folded name (the service may come later)."""

    __tablename__ = "knowledge_article_services"
    __table_args__ = (Index("ix_knowledge_article_services_service", "service"),)

    article_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_articles.id", ondelete="CASCADE"), primary_key=True
    )
    service: Mapped[str] = mapped_column(String(200), primary_key=True)


class KnowledgeFeedback(Base):
    """One person's verdict on one article: helpful or not."""

    __tablename__ = "knowledge_feedback"
    __table_args__ = (Index("ix_knowledge_feedback_article", "article_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("knowledge_articles.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(32), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SupplierHandoff(Base):
    """A ticket handed to a supplier: when, to whom, and the underpinning contract's clock.

    The supplier's instants are kept apart from the ticket's own, so a breach by the
    supplier is visible separately from ours. A ticket handed again gets a new row.
    """

    __tablename__ = "supplier_handoffs"
    __table_args__ = (
        Index("ix_supplier_handoffs_ticket", "ticket_id"),
        Index("ix_supplier_handoffs_next_at", "next_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    supplier_id: Mapped[int | None] = mapped_column(
        ForeignKey("suppliers.id", ondelete="SET NULL"), default=None
    )
    supplier: Mapped[str] = mapped_column(String(120))
    contract: Mapped[str | None] = mapped_column(String(120), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    handed_at: Mapped[datetime] = mapped_column(default=utcnow)
    response_due_at: Mapped[datetime | None] = mapped_column(default=None)
    resolve_due_at: Mapped[datetime | None] = mapped_column(default=None)
    # The next warning or due time the watcher has still to report; None when none is left.
    next_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    # 75 % of each target on the supplier's calendar, as the ticket's own clock warns.
    response_warn_at: Mapped[datetime | None] = mapped_column(default=None)
    resolve_warn_at: Mapped[datetime | None] = mapped_column(default=None)


class SurveyAnswer(Base):
    """The satisfaction survey of one resolved ticket: asked once, answered 1 to 5.

    `group_id`, `agent_id` and `channel` are copied when the survey is asked, so reports
    read one table (`store.surveys.satisfaction`).
    """

    __tablename__ = "survey_answers"
    __table_args__ = (
        UniqueConstraint("ticket_id"),
        Index("ix_survey_answers_answered_at", "answered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL"), default=None
    )
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    channel: Mapped[str] = mapped_column(String(32), default="")
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    reasked: Mapped[bool] = mapped_column(Boolean, default=False)
    rating: Mapped[int | None] = mapped_column(Integer, default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(default=None)


# The configuration database's history and traversal indexes (`store.cmdb`).
import store.cmdb  # noqa: E402, F401


class SignIn(Base):
    """A one-time sign-in link and, once used, the web session it opened.

    Only a SHA-256 of the link's token is stored. `used_at` is set once, by the first
    opening; `ended_at` when the person signs out (or the session is revoked).
    """

    __tablename__ = "sign_ins"
    __table_args__ = (Index("ix_sign_ins_person", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


# The service catalog, its orders and knowledge deflections (`store.catalog`).
import store.catalog  # noqa: E402, F401  # isort: skip

# Changes after approval, the change calendar, problems and known errors.
import store.changes  # noqa: E402, F401  # isort: skip
import store.problems  # noqa: E402, F401  # isort: skip


class MajorIncident(Base):
    """An incident declared major: who declared it, its lead, its swarm channel, its news."""

    __tablename__ = "major_incidents"
    __table_args__ = (Index("ix_major_incidents_open", "open"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), unique=True
    )
    declared_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    swarm_channel: Mapped[str | None] = mapped_column(String(64), default=None)
    """The Slack channel of the swarm, once created."""
    last_update: Mapped[str] = mapped_column(Text, default="")
    updates: Mapped[int] = mapped_column(Integer, default=0)
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(lazy="joined")


# The console's queue reads open tickets by group and assignee, ordered by the nearest due
# time and priority: all of it from this index, without touching the rows (`store.console`).
Index(
    "ix_tickets_queue",
    Ticket.status,
    Ticket.group_id,
    Ticket.assignee_id,
    Ticket.priority,
    Ticket.response_due_at,
    Ticket.resolve_due_at,
)


# The continual improvement register (`store.improvements`).
import store.improvements  # noqa: E402, F401  # isort: skip

# Article offers waiting for an answer (`store.deflections`).
import store.deflections  # noqa: E402, F401  # isort: skip

# Articles saved from resolved tickets, waiting to be published (`store.knowledge_drafts`).
import store.knowledge_drafts  # noqa: E402, F401  # isort: skip

# The intent the model guessed when the bot asked or fell back instead (`store.nlu_misses`).
import store.nlu_misses  # noqa: E402, F401  # isort: skip

# What platforms' messaging rules remember per address (`store.platform_state`).
import store.platform_state  # noqa: E402, F401  # isort: skip
