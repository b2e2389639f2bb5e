"""`switchboard kb`: knowledge articles imported from files, and drafts saved in chat.

`kb import DIR|FILE` reads articles from Markdown with YAML front matter; `kb drafts` and
`kb publish SLUG` list and publish the drafts agents saved from tickets in chat.

Every file is read and checked before anything is written; one bad file refuses the whole
import with every problem named by file and field. The articles are then upserted by slug in
one transaction (their search index with them), so an import is all or nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import typer
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bot.cli_common import database_uow, err, fail, out, settings_or_exit
from bot.config import Settings
from store.knowledge import ArticleInput, Outcome
from store.types import utcnow

app = typer.Typer(no_args_is_help=True, help="The knowledge base.")

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)
_BATCH = 100  # articles per bulk write: the progress bar moves, the round trips stay few
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,119}$")


class FrontMatter(BaseModel):
    """What an article's front matter may say."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    title: str = Field(min_length=1, max_length=300)
    slug: str | None = Field(default=None, alias="id")
    language: Literal["en", "zh"] = "en"
    tags: list[str] = []
    services: list[str] = []

    @field_validator("slug", mode="before")
    @classmethod
    def _slug_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) else v

    @field_validator("slug")
    @classmethod
    def _slug_form(cls, v: str | None) -> str | None:
        if v is not None and not _SLUG.match(v):
            raise ValueError("lower-case letters, digits and hyphens, at most 120")
        return v


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in an article file, and the front-matter field it concerns (if one)."""

    path: Path
    field: str
    message: str

    def __str__(self) -> str:
        where = f"`{self.field}`: " if self.field else ""
        return f"{self.path}: {where}{self.message}"


def _slug_from(path: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:120]


def parse_article(path: Path, raw: str) -> tuple[ArticleInput | None, list[Problem]]:
    """One Markdown file as an article, or the problems that stop it."""
    m = _FRONT.match(raw.lstrip("\ufeff"))
    if not m:
        return None, [Problem(path, "", "no front matter (a `---` block at the top)")]
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" at line {mark.line + 2}" if mark is not None else ""
        return None, [Problem(path, "", f"front matter is not valid YAML{line}")]
    if not isinstance(data, dict):
        return None, [Problem(path, "", "front matter must be a mapping of fields")]
    try:
        fm = FrontMatter.model_validate(data)
    except ValidationError as e:
        return None, [
            Problem(path, ".".join(str(p) for p in d["loc"]) or "", d["msg"]) for d in e.errors()
        ]
    body = m.group(2).strip()
    if not body:
        return None, [Problem(path, "body", "the article has no text after the front matter")]
    slug = fm.slug or _slug_from(path)
    if not _SLUG.match(slug):
        return None, [Problem(path, "slug", "cannot make a slug from the file name; set `slug`")]
    return (
        ArticleInput(
            slug=slug,
            title=fm.title.strip(),
            body=body,
            language=fm.language,
            tags=[t.strip() for t in fm.tags if t.strip()],
            services=[s.strip() for s in fm.services if s.strip()],
        ),
        [],
    )


def collect(paths: list[Path]) -> list[Path]:
    """The Markdown files named, directories searched recursively, in a stable order."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*") if q.suffix in (".md", ".markdown")))
        else:
            files.append(p)
    return files


def read_all(files: list[Path]) -> tuple[list[ArticleInput], list[Problem]]:
    """Parse every file; a slug claimed by two files is a problem of both."""
    articles: list[tuple[Path, ArticleInput]] = []
    problems: list[Problem] = []
    for f in files:
        try:
            raw = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(f, "", "not UTF-8 text"))
            continue
        except OSError as e:
            problems.append(Problem(f, "", f"cannot read: {e.strerror or e}"))
            continue
        art, found = parse_article(f, raw)
        problems.extend(found)
        if art is not None:
            articles.append((f, art))
    seen = Counter(a.slug for _, a in articles)
    for f, a in articles:
        if seen[a.slug] > 1:
            others = ", ".join(str(g) for g, b in articles if b.slug == a.slug and g != f)
            problems.append(Problem(f, "slug", f"'{a.slug}' is also the slug of {others}"))
    return [a for _, a in articles], problems


@app.command("import")
def kb_import(
    paths: Annotated[
        list[Path], typer.Argument(help="Markdown files, or directories of them.", exists=True)
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count the changes; write nothing.")
    ] = False,
) -> None:
    """Import knowledge articles: Markdown with front matter (title, tags, services, language).

    Articles are matched by `slug` (front matter `slug` or `id`, else the file name). A changed
    body becomes a new version; earlier versions are kept.
    """
    files = collect(paths)
    if not files:
        raise fail("No Markdown files (.md) found.", 2)
    articles, problems = read_all(files)
    if problems:
        for p in problems:
            err.print(str(p), markup=False, highlight=False, soft_wrap=True)
        raise fail(f"Nothing was imported; {len(problems)} problem(s).", 2)
    settings = settings_or_exit()
    counts = asyncio.run(_apply(settings, articles, dry_run))
    summary = ", ".join(f"{counts[o]} {o.value}" for o in Outcome)
    verb = "Would import" if dry_run else "Imported"
    out.print(f"{verb} {len(articles)} article(s): {summary}.", highlight=False)


async def _apply(
    settings: Settings, articles: list[ArticleInput], dry_run: bool
) -> Counter[Outcome]:
    counts: Counter[Outcome] = Counter()
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    async with database_uow(settings) as uow:
        with progress:
            task = progress.add_task("importing", total=len(articles))
            for lo in range(0, len(articles), _BATCH):
                chunk = articles[lo : lo + _BATCH]
                counts.update(await uow.knowledge.save_many(chunk))
                progress.advance(task, len(chunk))
        if not dry_run:
            await uow.commit()
    return counts


@app.command("drafts")
def kb_drafts() -> None:
    """List the drafts agents saved from resolved tickets ("save this as an article")."""
    settings = settings_or_exit()
    rows = asyncio.run(_drafts(settings))
    if not rows:
        out.print("No drafts waiting.", highlight=False)
    for slug, ref, title in rows:
        out.print(f"{slug}  {ref}  {title}", highlight=False, markup=False, soft_wrap=True)


async def _drafts(settings: Settings) -> list[tuple[str, str, str]]:
    async with database_uow(settings) as uow:
        return [
            (d.slug, d.ticket_ref or "-", d.title) for d in await uow.knowledge_drafts.unpublished()
        ]


@app.command("publish")
def kb_publish(slug: Annotated[str, typer.Argument(help="The draft's slug.")]) -> None:
    """Publish a draft: it becomes a searchable article (version 1, or a new version)."""
    settings = settings_or_exit()
    outcome = asyncio.run(_publish(settings, slug))
    if outcome is None:
        raise fail(f"No unpublished draft {slug!r}; `switchboard kb drafts` lists them.", 2)
    out.print(f"Published {slug} ({outcome.value}).", highlight=False)


async def _publish(settings: Settings, slug: str) -> Outcome | None:
    async with database_uow(settings) as uow:
        draft = await uow.knowledge_drafts.by_slug(slug.strip())
        if draft is None or draft.published_at is not None:
            return None
        outcome = await uow.knowledge.save(
            ArticleInput(
                slug=draft.slug,
                title=draft.title,
                body=draft.body,
                language=draft.language,
                tags=[str(t) for t in draft.tags or ()],
                services=[str(s) for s in draft.services or ()],
            )
        )
        draft.published_at = utcnow()
        await uow.commit()
        return outcome
