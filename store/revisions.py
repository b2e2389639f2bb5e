"""The schema revision of the database and of the code, read without loading Alembic.

`web` and `worker` check the two match before they serve; Alembic and the migration
scripts it imports would stay in memory for the life of the process, so the check reads the
version table with SQLAlchemy and the scripts' `revision` and `down_revision` as text. Where
that cannot give one answer (several heads, a script it cannot read), the caller asks
Alembic (`store.migrate`).
"""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

VERSIONS = Path(__file__).parent / "migrations" / "versions"
VERSION_TABLE = "alembic_version"


def _assigned(tree: ast.Module, name: str) -> object:
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.literal_eval(value)
    raise LookupError(name)


def shipped_head(versions: Path = VERSIONS) -> str | None:
    """The one revision no script builds on; None when that is not a single clear answer."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            revision = _assigned(tree, "revision")
            down = _assigned(tree, "down_revision")
        except (OSError, SyntaxError, ValueError, LookupError):
            return None
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        downs = down if isinstance(down, tuple | list) else (down,)
        parents.update(str(d) for d in downs if d is not None)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def database_revision(engine: AsyncEngine) -> tuple[str | None, bool]:
    """The revision the database is at (None if never migrated), and whether that is certain.

    Not certain when the version table holds several rows (a database on several heads).
    """

    def _read(connection: Connection) -> tuple[str | None, bool]:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None, True
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        if len(rows) > 1:
            return None, False
        return (str(rows[0][0]) if rows else None), True

    async with engine.connect() as conn:
        return await conn.run_sync(_read)
