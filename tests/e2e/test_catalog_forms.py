"""Catalog forms on Slack (a modal) and Telegram (a keyboard), through the whole pipeline.

Slack: "what can I order?" lists the catalog, a click on an item opens its form with
`views.open`, a submission the catalog's rules refuse comes back as `response_action=errors`
next to the field, and a good one opens the request. Telegram: a choice field's choices come
as an inline keyboard, and a press answers the question as typing it would. Requests are the
vendored payloads, signed like the platforms sign them; replies are read from the local fakes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from nlu.types import Understander
from store.enums import Status
from tests.e2e.conftest import post_json, post_payload, run, settle
from tests.e2e.test_catalog_console import setup
from tests.e2e.test_slack import (
    USERS,
    click,
    dm,
    inbox_rows,
    status_of,
    submission,
    with_slack,
)
from tests.e2e.test_telegram_webhook import bind, post, with_telegram
from tests.e2e.test_telegram_webhook import settle as settle_telegram
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramApi, callback_update, private_update


@pytest.fixture
def slack_api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(USERS) as api:
        yield api


def answers_of(client: TestClient, ref: str) -> dict[str, str]:
    async def query(uow: Any) -> dict[str, str]:
        ticket = await uow.tickets.by_ref(ref)
        assert ticket is not None, ref
        request = await uow.catalog.request_of(ticket.id)
        assert request is not None, ref
        return dict(request.answers or {})

    return dict(run(client, query))


def test_slack_orders_from_the_catalog_through_a_modal(
    demo_settings: Settings,
    slack_api: FakeSlackApi,
    understander: Understander,
    tmp_path: Path,
) -> None:
    asyncio.run(setup(demo_settings, tmp_path))
    app = create_app(
        with_slack(demo_settings, slack_api), overrides=Overrides(understander=understander)
    )
    with TestClient(app) as client:
        assert post_json(client, dm("what can I order?", "U0ALICE", n=1)).status_code == 200
        settle(client)
        [listed] = slack_api.in_channel("D0ALICE")
        assert "New laptop" in listed.text

        assert (
            post_payload(client, click(listed, "catalog_order", "U0ALICE", n=2)).status_code == 200
        )
        [opened] = slack_api.sent("views.open")
        view = opened["view"]
        assert view["callback_id"] == "sb_catalog_form"
        blocks = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
        assert list(blocks) == ["field_model", "field_needed_by"]
        model = blocks["field_model"]["element"]
        assert model["type"] == "static_select"
        assert [o["value"] for o in model["options"]] == ["14-inch", "16-inch"]
        assert blocks["field_needed_by"]["element"]["type"] == "datepicker"
        # The click opened the form instead of starting the order in chat.
        settle(client)
        assert len(slack_api.in_channel("D0ALICE")) == 1

        # A value the form never offered (a forged payload) is refused next to its field.
        forged = {
            "field_model": {"field_model": {"selected_option": {"value": "32-inch"}}},
            "field_needed_by": {"field_needed_by": {"selected_date": "2026-12-24"}},
        }
        res = post_payload(client, submission(view, "U0ALICE", forged))
        assert res.status_code == 200
        body = res.json()
        assert body["response_action"] == "errors"
        assert set(body["errors"]) == {"field_model"}
        assert "must be one of: 14-inch, 16-inch" in body["errors"]["field_model"]
        missing = {"field_model": {"field_model": {"selected_option": {"value": "16-inch"}}}}
        res = post_payload(client, submission(view, "U0ALICE", missing))
        assert res.json()["errors"] == {"field_needed_by": "Needed by is required."}
        assert (
            inbox_rows(client) == 1
        )  # the DM: the click opened a form, refused forms store nothing

        good = {
            "field_model": {"field_model": {"selected_option": {"value": "16-inch"}}},
            "field_needed_by": {
                "field_needed_by": {"type": "datepicker", "selected_date": "2026-12-24"}
            },
        }
        res = post_payload(client, submission(view, "U0ALICE", good))
        assert res.status_code == 200
        assert res.content in (b"", b"{}")
        settle(client)
        answer = slack_api.in_channel("D0ALICE")[-1]
        assert "I've opened REQ-1 for New laptop" in answer.text
        assert "waiting for approval by Dan Requester" in answer.text
        assert status_of(client, "REQ-1") is Status.AWAITING_APPROVAL
        assert answers_of(client, "REQ-1") == {"model": "16-inch", "needed_by": "2026-12-24"}
        # Submitting the same modal twice (a double click) orders once.
        assert post_payload(client, submission(view, "U0ALICE", good)).status_code == 200
        settle(client)
        assert inbox_rows(client) == 2


ALICE_TELEGRAM = 5550101


@pytest.fixture
def telegram_api() -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi() as api:
        yield api


def test_telegram_offers_a_choice_field_as_a_keyboard(
    demo_settings: Settings,
    telegram_api: FakeTelegramApi,
    understander: Understander,
    tmp_path: Path,
) -> None:
    asyncio.run(setup(demo_settings, tmp_path))
    asyncio.run(bind(demo_settings, "alice@example.com", "telegram", str(ALICE_TELEGRAM)))
    settings = with_telegram(demo_settings, telegram_api)
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        said = private_update(1, "I need a new laptop", user_id=ALICE_TELEGRAM)
        assert post(client, said).status_code == 200
        settle_telegram(client, settings)
        asked = telegram_api.posted_to(ALICE_TELEGRAM)[-1]
        assert "Which model?" in asked["text"]
        keys = [b for row in asked["reply_markup"]["inline_keyboard"] for b in row]
        assert [b["text"] for b in keys] == ["14-inch", "16-inch"]

        pressed = callback_update(
            2, keys[1]["callback_data"], message=asked, user_id=ALICE_TELEGRAM
        )
        assert post(client, pressed).status_code == 200
        settle_telegram(client, settings)
        asked = telegram_api.posted_to(ALICE_TELEGRAM)[-1]
        assert "Needed by?" in asked["text"]
        assert "reply_markup" not in asked  # a date is typed, not chosen

        assert (
            post(client, private_update(3, "2026-12-24", user_id=ALICE_TELEGRAM)).status_code == 200
        )
        settle_telegram(client, settings)
        summary = telegram_api.posted_to(ALICE_TELEGRAM)[-1]["text"]
        assert "Which model: 16-inch" in summary
        assert "Needed by: 2026-12-24" in summary
