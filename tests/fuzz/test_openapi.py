"""schemathesis over every route in the OpenAPI document, webhooks and web chat included.

The app runs in process (schemathesis's ASGI transport, lifespan started) with every
platform on against the local fakes; requests carry a valid API token of an agent. No
response may be a 5xx and no exception may escape the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python import asgi

from bot.app import create_app
from bot.container import Overrides, Role
from nlu.types import Understander
from tests.conftest import Scoreboard
from tests.e2e.test_api import report, token_for
from tests.fakes.server import FakeApi
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramApi
from tests.fakes.twilio_api import FakeTwilioApi
from tests.fakes.x_api import FakeXApi
from tests.security.harness import USERS, all_platforms, module_database

# Each example is a request through the app and its database; about fifteen operations at
# this count take a minute or two, whatever the hypothesis profile.
EXAMPLES = 60


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, FakeApi]]:
    with (
        FakeSlackApi(USERS) as slack,
        FakeTelegramApi() as telegram,
        FakeTwilioApi() as twilio,
        FakeXApi() as x,
    ):
        yield {"slack": slack, "telegram": telegram, "twilio": twilio, "x": x}


@pytest.fixture(scope="module")
def token_and_app(
    tmp_path_factory: pytest.TempPathFactory,
    model_root: Path,
    loaded_understander: Understander,
    fakes: dict[str, FakeApi],
) -> Iterator[tuple[str, Any]]:
    with module_database(tmp_path_factory.mktemp("openapi"), model_root) as s:
        asyncio.run(
            report(s, loaded_understander, "alice@example.com", "my laptop screen flickers")
        )
        token = asyncio.run(token_for(s, "bob@example.com"))
        app = create_app(
            all_platforms(s, fakes),
            roles=frozenset({Role.WEB}),
            overrides=Overrides(understander=loaded_understander),
        )
        yield token, app
        asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(token_and_app: tuple[str, Any]) -> Any:
    _token, app = token_and_app
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_the_document_lists_every_route_a_stranger_reaches(api_schema: Any) -> None:
    paths = set(api_schema.raw_schema["paths"])
    for path in (
        "/slack/events",
        "/telegram/webhook",
        "/twilio/messages",
        "/x/webhook",
        "/webchat/session",
        "/webchat/messages",
        "/webchat/replies",
        "/api/tickets",
        "/api/tickets/{ref}",
    ):
        assert path in paths


def _operations(api_schema: Any) -> list[Any]:
    return [result.ok() for result in api_schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_5xx_anywhere(
    api_schema: Any, token_and_app: tuple[str, Any], scoreboard: Scoreboard, mode: Any
) -> None:
    token, _app = token_and_app
    operations = _operations(api_schema)
    assert len(operations) >= 12
    failures: list[str] = []

    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            scoreboard.record("5xx", probes=1, failures=int(response.status_code >= 500))
            assert response.status_code < 500, (case.method, case.path, response.text[:300])

        try:
            check()
        except Unsatisfiable:
            # Nothing to break in an operation without parameters or body.
            assert mode is GenerationMode.NEGATIVE
        except AssertionError as e:
            failures.append(str(e)[:500])
    assert failures == []
