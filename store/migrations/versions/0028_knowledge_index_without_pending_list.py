"""knowledge search index without a pending list: new articles go straight into the GIN index

GIN's fast update parks new entries in a pending list that every search reads from end to
end until a vacuum merges it; after an import of a few thousand articles that list is
megabytes long and costs each search milliseconds. Articles are written far less often than
they are searched, so they are indexed as they are written.

Revision ID: 0028
Revises: 0026
Create Date: 2026-12-04 16:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_knowledge_articles_search_vector"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER INDEX {INDEX} SET (fastupdate = off)")
    # Turning it off does not merge what is pending already.
    op.execute(f"SELECT gin_clean_pending_list('{INDEX}'::regclass)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER INDEX {INDEX} RESET (fastupdate)")
