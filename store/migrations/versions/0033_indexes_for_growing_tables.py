"""indexes for the questions asked of growing tables

A person's channels, a group's members, a person by e-mail ignoring case, expired dialogue
state, a ticket's replies, links and alerts by the linked ticket, the recurrence check's
recent offers of a service, tickets opened in a period and the ticket filed from a chat
thread were each answered by reading the whole table. The last gets a column of its own,
`tickets.origin_thread`, written here for the tickets already filed from a thread.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 04:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PLAIN = (
    ("ix_channel_identities_person", "channel_identities", ["person_id"]),
    ("ix_group_members_group", "group_members", ["group_id"]),
    ("ix_dialogue_state_expires_at", "dialogue_state", ["expires_at"]),
    ("ix_outbox_ticket_ref", "outbox", ["ticket_ref"]),
    ("ix_tickets_created_at", "tickets", ["created_at"]),
    ("ix_alert_incidents_ticket", "alert_incidents", ["ticket_id"]),
    ("ix_ticket_links_linked", "ticket_links", ["linked_id"]),
    ("ix_recurrence_offers_service", "recurrence_offers", ["service_id", "offered_at"]),
)


# `store.tickets.thread_key` of the stored origin, for tickets filed from a chat thread.
_THREAD_KEY = {
    "sqlite": (
        "coalesce(json_extract(origin, '$.channel'), '') || ':' ||"
        " coalesce(json_extract(origin, '$.conversation'), '') || ':' ||"
        " json_extract(origin, '$.thread')",
        "json_extract(origin, '$.thread')",
    ),
    "postgresql": (
        "coalesce(origin->>'channel', '') || ':' || coalesce(origin->>'conversation', '')"
        " || ':' || (origin->>'thread')",
        "origin->>'thread'",
    ),
}


def upgrade() -> None:
    for name, table, columns in _PLAIN:
        op.create_index(name, table, columns)
    op.create_index("ix_people_email_lower", "people", [sa.text("lower(email)")])
    op.add_column("tickets", sa.Column("origin_thread", sa.Text(), nullable=True))
    key, thread = _THREAD_KEY[op.get_bind().dialect.name]
    op.execute(
        f"UPDATE tickets SET origin_thread = {key}"  # noqa: S608
        f" WHERE {thread} IS NOT NULL AND {thread} <> ''"
    )
    op.create_index("ix_tickets_origin_thread", "tickets", ["origin_thread"])


def downgrade() -> None:
    op.drop_index("ix_tickets_origin_thread", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("origin_thread")
    op.drop_index("ix_people_email_lower", table_name="people")
    for name, table, _columns in reversed(_PLAIN):
        op.drop_index(name, table_name=table)
