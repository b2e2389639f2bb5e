"""`switchboard kb import`: front matter checked per file and field, upsert by slug, versions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.cli_kb import parse_article, read_all
from store.db import create_engine, session_factory
from store.migrate import upgrade_engine
from store.uow import UnitOfWork
from tests.unit.kb.conftest import KB_DATA

runner = CliRunner()

ARTICLE = """---
title: Reset your password
slug: password-reset
language: en
tags: [password, account]
services: [Identity]
---

Go to password.example.com and choose Forgot password.
"""


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/kb-cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/kb-cli.db")
    monkeypatch.chdir(tmp_path)  # settings read ./.env: there is none here

    async def migrate() -> None:
        engine = create_engine(url)
        try:
            await upgrade_engine(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    return url


def state(url: str, slug: str) -> tuple[int, int, str] | None:
    """(article version, version rows, body) of one article."""

    async def read() -> tuple[int, int, str] | None:
        engine = create_engine(url)
        try:
            async with UnitOfWork(session_factory(engine)) as uow:
                art = await uow.knowledge.by_slug(slug)
                if art is None:
                    return None
                return art.version, len(await uow.knowledge.versions(art.id)), art.body
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_problems_name_the_file_and_the_field(tmp_path: Path) -> None:
    p = tmp_path / "a.md"
    cases = {
        "---\nslug: x\n---\nbody\n": "a.md: `title`: Field required",
        "---\ntitle: T\nlanguage: fr\n---\nbody\n": "a.md: `language`: Input should be 'en' or 'zh'",
        "---\ntitle: T\nauthor: me\n---\nbody\n": "a.md: `author`: Extra inputs are not permitted",
        "---\ntitle: T\ntags: vpn\n---\nbody\n": "a.md: `tags`: Input should be a valid list",
        "---\ntitle: T\nslug: Not A Slug\n---\nbody\n": "a.md: `slug`: Value error",
        "---\ntitle: T\n---\n\n": "a.md: `body`: the article has no text",
        "no front matter\n": "a.md: no front matter",
        "---\ntitle: [unclosed\n---\nbody\n": "a.md: front matter is not valid YAML",
    }
    for raw, expected in cases.items():
        art, problems = parse_article(p, raw)
        assert art is None
        assert problems, raw
        assert str(problems[0]).startswith(str(tmp_path / expected.split(":")[0])), raw
        assert expected.split(": ", 1)[1] in str(problems[0]), (raw, str(problems[0]))


def test_the_slug_comes_from_the_file_name_when_front_matter_has_none(tmp_path: Path) -> None:
    art, problems = parse_article(tmp_path / "VPN Setup.md", "---\ntitle: VPN\nid: 42\n---\nx\n")
    assert not problems
    assert art is not None
    assert art.slug == "42"
    art, _ = parse_article(tmp_path / "VPN Setup.md", "---\ntitle: VPN\n---\nx\n")
    assert art is not None
    assert art.slug == "vpn-setup"


def test_two_files_with_one_slug_are_both_refused(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(ARTICLE)
    (tmp_path / "b.md").write_text(ARTICLE)
    _, problems = read_all([tmp_path / "a.md", tmp_path / "b.md"])
    assert [p.path.name for p in problems] == ["a.md", "b.md"]
    assert "'password-reset' is also the slug of" in str(problems[0])


def test_dry_run_then_import_then_a_new_body_makes_a_new_version(
    database: str, tmp_path: Path
) -> None:
    src = tmp_path / "kb"
    src.mkdir()
    (src / "password.md").write_text(ARTICLE)

    dry = runner.invoke(app, ["kb", "import", str(src), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would import 1 article(s): 1 created" in dry.output
    assert state(database, "password-reset") is None

    first = runner.invoke(app, ["kb", "import", str(src)])
    assert first.exit_code == 0, first.output
    assert state(database, "password-reset") == (
        1,
        1,
        "Go to password.example.com and choose Forgot password.",
    )

    same = runner.invoke(app, ["kb", "import", str(src)])
    assert "1 unchanged" in same.output

    (src / "password.md").write_text(ARTICLE.replace("tags: [password, account]", "tags: [pw]"))
    retagged = runner.invoke(app, ["kb", "import", str(src)])
    assert "1 updated" in retagged.output
    assert state(database, "password-reset") == (1, 1, ARTICLE.rsplit("\n\n", 1)[1].strip())

    (src / "password.md").write_text(ARTICLE.replace("choose Forgot", "click Forgot"))
    changed = runner.invoke(app, ["kb", "import", str(src)])
    assert changed.exit_code == 0, changed.output
    assert "1 new version" in changed.output
    assert state(database, "password-reset") == (
        2,
        2,
        "Go to password.example.com and click Forgot password.",
    )


def test_a_bad_file_stops_the_whole_import(database: str, tmp_path: Path) -> None:
    src = tmp_path / "kb"
    src.mkdir()
    (src / "good.md").write_text(ARTICLE)
    (src / "bad.md").write_text("---\ntitle: T\nlanguage: de\n---\nbody\n")
    result = runner.invoke(app, ["kb", "import", str(src)])
    assert result.exit_code == 2
    assert "bad.md: `language`:" in result.output
    assert "Nothing was imported; 1 problem(s)." in result.output
    assert state(database, "password-reset") is None


def test_the_evaluation_set_imports_cleanly(database: str) -> None:
    result = runner.invoke(app, ["kb", "import", str(KB_DATA / "articles")])
    assert result.exit_code == 0, result.output
    assert "Imported 50 article(s): 50 created" in result.output
