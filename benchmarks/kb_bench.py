"""Knowledge search latency over generated articles, beside a lookup by slug in the same run.

The articles are made from a fixed vocabulary of IT words and Chinese phrases with a seeded
random generator, so every run indexes the same text. Each query is timed alone through the
repository in an open transaction, exactly as a handler calls it; the reference is the same
number of primary-key-like lookups by slug, timed the same way, so the ratio says what full
text costs on this machine and database whatever their speed.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from store.db import create_engine, normalise_database_url, session_factory
from store.knowledge import ArticleInput
from store.migrate import upgrade_engine
from store.uow import UnitOfWork

EN = """access account adapter alert antivirus app approval archive audio authenticator backup
badge battery bitlocker bluetooth booking browser cable calendar camera certificate chrome
citrix cloud cluster compliance computer conference contract crm dashboard database desk
device disk display dns docking domain download driver drive email encryption error excel
expenses explorer file finance firewall firmware folder gateway guest hardware headset
helpdesk hotspot identity inbox installer intranet invoice ip keyboard laptop licence linux
login mac mailbox malware meeting memory mfa microphone migration mobile monitor mouse
network notebook office onboarding onedrive outlook password patch payroll pdf permission
phishing phone policy portal powerpoint printer privilege profile projector proxy quota
recovery remote reset restore router salary scanner screen security server sharepoint
shortcut signature sim slack software spam sso storage subscription sync tablet teams
ticket token toner update upgrade usb user vpn webcam wifi windows wireless word zoom""".split()
ZH = """电脑 打印机 密码 账号 邮箱 邮件 网络 无线 软件 安装 更新 手机 会议 耳机 麦克风 门禁卡
工资 报销 服务器 数据库 权限 共享 文件 备份 恢复 登录 锁定 证书 驱动 显示器 键盘 鼠标
病毒 安全 远程 连接 断开 访客 许可证 存储 同步 云盘 日历 预订 工位 设备 故障 申请""".split()
VOCABULARY = 4000
VERBS = "how to fix set up request reset install connect restore check".split()


@dataclass(frozen=True, slots=True)
class KbFigures:
    """One run's search and slug lookup latencies, the corpus size and the mean hits per query."""

    database: str
    articles: int
    queries: int
    index_seconds: float
    search_p50_ms: float
    search_p95_ms: float
    slug_p50_ms: float
    slug_p95_ms: float
    mean_hits: float

    @property
    def ratio(self) -> float:
        """How many times a slug lookup's p95 a search takes at p95 (NaN without lookups)."""
        return self.search_p95_ms / self.slug_p95_ms if self.slug_p95_ms else float("nan")

    def as_dict(self) -> dict[str, object]:
        """The figures by field name with the p95 ratio, for `--json`."""
        row: dict[str, object] = asdict(self)
        row["ratio_p95"] = round(self.ratio, 2)
        return row


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _vocabulary(rng: random.Random) -> tuple[list[str], list[str]]:
    """Words in order of frequency: the IT words first, then made-up product and site names.

    Real articles draw on thousands of words with a few very common (Zipf's law); a corpus
    of a couple of hundred words spread evenly would make every query match most articles.
    """
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    made = {"".join(rng.sample(syllables, 3)) for _ in range(VOCABULARY)}
    en = EN + sorted(made - set(EN))
    common = (
        "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研"
        ""
    )
    zh = sorted({"".join(rng.sample(common, 2)) for _ in range(VOCABULARY // 4)})
    return en, ZH + [w for w in zh if w not in ZH]


def _zipf(rng: random.Random, words: list[str], k: int) -> list[str]:
    weights = [1 / (rank + 10) for rank in range(len(words))]
    return rng.choices(words, weights=weights, k=k)


def articles(n: int, seed: int = 7) -> list[ArticleInput]:
    """`n` articles, a fifth of them in Chinese, each about one or two of 40 services."""
    rng = random.Random(seed)
    en, zh = _vocabulary(random.Random(0))
    services = [f"service-{i}" for i in range(40)]
    out = []
    for i in range(n):
        if i % 5 == 4:
            title = "".join(_zipf(rng, zh, 3))
            body = "。".join("".join(_zipf(rng, zh, 6)) for _ in range(8)) + "。"
            lang = "zh"
        else:
            title = " ".join([rng.choice(VERBS), *_zipf(rng, en, 3)])
            body = ". ".join(" ".join(_zipf(rng, en + VERBS, 12)) for _ in range(6)) + "."
            lang = "en"
        out.append(
            ArticleInput(
                slug=f"article-{i}",
                title=title,
                body=body,
                language=lang,
                tags=_zipf(rng, en, 3),
                services=rng.sample(services, rng.randint(1, 2)),
            )
        )
    return out


def queries(n: int, seed: int = 11) -> list[str]:
    """Two to four words each, drawn with the articles' frequencies; a fifth in Chinese."""
    rng = random.Random(seed)
    en, zh = _vocabulary(random.Random(0))
    return [
        "".join(_zipf(rng, zh, 2)) if i % 5 == 4 else " ".join(_zipf(rng, en, rng.randint(2, 4)))
        for i in range(n)
    ]


async def _measure(
    url: str, n_articles: int, n_queries: int, progress: Callable[[str], None]
) -> KbFigures:
    db_url, args = normalise_database_url(url)
    engine = create_engine(db_url, connect_args=args)
    try:
        await upgrade_engine(engine)
        factory = session_factory(engine)
        progress(f"indexing {n_articles:,} articles")
        started = time.perf_counter()
        batch = 1000
        made = articles(n_articles)
        for lo in range(0, len(made), batch):
            async with UnitOfWork(factory) as uow:
                await uow.knowledge.save_many(made[lo : lo + batch])
                await uow.commit()
            progress(f"indexed {min(lo + batch, len(made)):,} of {n_articles:,}")
        index_seconds = time.perf_counter() - started

        progress(f"searching {n_queries} queries")
        search_ms: list[float] = []
        slug_ms: list[float] = []
        hits = 0
        rng = random.Random(3)
        async with UnitOfWork(factory) as uow:
            for q in queries(20):  # warm the caches and the connection
                await uow.knowledge.search_text(q)
            for q in queries(n_queries):
                t0 = time.perf_counter()
                found = await uow.knowledge.search_text(q, limit=5)
                search_ms.append((time.perf_counter() - t0) * 1000)
                hits += len(found)
                slug = f"article-{rng.randrange(n_articles)}"
                t0 = time.perf_counter()
                await uow.knowledge.by_slug(slug)
                slug_ms.append((time.perf_counter() - t0) * 1000)
        return KbFigures(
            database=engine.dialect.name,
            articles=n_articles,
            queries=n_queries,
            index_seconds=round(index_seconds, 1),
            search_p50_ms=round(_pct(search_ms, 50), 2),
            search_p95_ms=round(_pct(search_ms, 95), 2),
            slug_p50_ms=round(_pct(slug_ms, 50), 3),
            slug_p95_ms=round(_pct(slug_ms, 95), 3),
            mean_hits=round(hits / n_queries, 2),
        )
    finally:
        await engine.dispose()


async def _pg_admin(admin_url: str, sql: str) -> None:
    import asyncpg

    parts = urlsplit(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    conn = await asyncio.wait_for(asyncpg.connect(urlunsplit(parts)), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run(
    *,
    n_articles: int = 10_000,
    n_queries: int = 1000,
    postgres: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> KbFigures:
    """Measure on a throw-away SQLite file, or a throw-away database on the server `postgres`."""
    if postgres is None:
        with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'kb.db'}"
            return asyncio.run(_measure(url, n_articles, n_queries, progress))
    name = f"sb_kbbench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(postgres, f'CREATE DATABASE "{name}"'))
    try:
        url = urlunsplit(urlsplit(postgres)._replace(path=f"/{name}"))
        return asyncio.run(_measure(url, n_articles, n_queries, progress))
    finally:
        asyncio.run(_pg_admin(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
