"""The NLU's `catalog_item` entity comes from the stored catalog, refreshed without retraining."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.container import NO_ROLES, Overrides, build_container
from bot.desk.apply import apply
from bot.desk.files import read
from nlu.pipeline import load
from tests.conftest import prepare_database

DESK = """
groups: [{name: facilities}]
catalog:
  - {name: Standing desk, aliases: [sit-stand desk, 升降桌], fulfilment: {group: facilities}}
  - {name: Password reset, aliases: [reset my password], fulfilment: {group: facilities}}
"""


async def test_stored_items_reach_the_nlu_and_built_in_phrases_stay(
    settings: Settings, model_root: Path, tmp_path: Path
) -> None:
    await prepare_database(settings)
    understander = load(model_root)
    container = build_container(
        settings, roles=NO_ROLES, overrides=Overrides(understander=understander)
    )
    try:
        assert understander.parse("I'd like a sit-stand desk").values("catalog_item") == []
        path = tmp_path / "catalog.yml"
        path.write_text(DESK, "utf-8")
        async with container.uow() as uow:
            await apply(uow, read([path]))
            await uow.commit()
        await container.refresh_services()
        assert understander.parse("I'd like a sit-stand desk").values("catalog_item") == [
            "Standing desk"
        ]
        assert understander.parse("我想要一张升降桌").values("catalog_item") == ["Standing desk"]
        # A stored item replaces the built-in entry of its name; other built-ins stay.
        assert understander.parse("please reset my password").values("catalog_item") == [
            "Password reset"
        ]
        assert understander.parse("I need a new monitor").values("catalog_item") == ["new monitor"]
    finally:
        await container.aclose()
