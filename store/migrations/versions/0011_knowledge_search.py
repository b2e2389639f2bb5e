"""knowledge search: versions, services, feedback, FTS5 on SQLite, tsvector on PostgreSQL

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-03 14:50:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import store.types  # noqa: F401  (UTCDateTime columns)
from store.segment import fts5_row, tsvector_literal

revision: str = "0011"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The SQLite index: one row per article (rowid = article id), terms made by store.segment.
FTS5 = (
    "CREATE VIRTUAL TABLE knowledge_fts USING fts5("
    "title, tags, body, tokenize = 'unicode61 remove_diacritics 0')"
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("knowledge_articles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), nullable=False, server_default="en")
        )
        batch_op.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column(
                "search_vector",
                sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"),
                nullable=True,
            )
        )
        batch_op.create_index(
            "ix_knowledge_articles_search_vector",
            ["search_vector"],
            unique=False,
            postgresql_using="gin",
        )
    op.create_table(
        "knowledge_article_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_knowledge_article_versions_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_article_versions")),
        sa.UniqueConstraint(
            "article_id", "version", name=op.f("uq_knowledge_article_versions_article_id_version")
        ),
    )
    op.create_table(
        "knowledge_article_services",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_knowledge_article_services_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "article_id", "service", name=op.f("pk_knowledge_article_services")
        ),
    )
    op.create_index(
        "ix_knowledge_article_services_service",
        "knowledge_article_services",
        ["service"],
        unique=False,
    )
    op.create_table(
        "knowledge_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_knowledge_feedback_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_knowledge_feedback_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_feedback")),
    )
    op.create_index(
        "ix_knowledge_feedback_article", "knowledge_feedback", ["article_id"], unique=False
    )
    if sqlite:
        op.execute(FTS5)
    # Articles already stored get their first version row and their index entry.
    op.execute(
        "INSERT INTO knowledge_article_versions (article_id, version, title, body, created_at) "
        "SELECT id, 1, title, body, updated_at FROM knowledge_articles"
    )
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, title, tags, body FROM knowledge_articles")).all()
    for article_id, title, tags, body in rows:
        tag_list = [str(t) for t in (json.loads(tags) if isinstance(tags, str) else tags or [])]
        if sqlite:
            bind.execute(
                sa.text(
                    "INSERT INTO knowledge_fts (rowid, title, tags, body)"
                    " VALUES (:id, :title, :tags, :body)"
                ),
                {"id": article_id, **fts5_row(title, tag_list, body)},
            )
        else:
            bind.execute(
                sa.text(
                    "UPDATE knowledge_articles SET search_vector = CAST(:v AS tsvector)"
                    " WHERE id = :id"
                ),
                {"id": article_id, "v": tsvector_literal(title, tag_list, body)},
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    op.drop_index("ix_knowledge_feedback_article", table_name="knowledge_feedback")
    op.drop_table("knowledge_feedback")
    op.drop_index(
        "ix_knowledge_article_services_service", table_name="knowledge_article_services"
    )
    op.drop_table("knowledge_article_services")
    op.drop_table("knowledge_article_versions")
    with op.batch_alter_table("knowledge_articles", schema=None) as batch_op:
        batch_op.drop_index("ix_knowledge_articles_search_vector", postgresql_using="gin")
        batch_op.drop_column("search_vector")
        batch_op.drop_column("version")
        batch_op.drop_column("language")
