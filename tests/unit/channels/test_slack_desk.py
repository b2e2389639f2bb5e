"""`SlackDesk`: the desk's lists asked for at most once a TTL, the last good one kept."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from channels.slack.desk import SlackDesk
from channels.slack.help import HelpSettings
from channels.slack.listeners import Listeners


class Source:
    """A desk list that counts its asks and fails when told to."""

    def __init__(self, *answers: list[str] | Exception) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def __call__(self) -> list[str]:
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_a_list_is_asked_for_once_within_its_ttl() -> None:
    services = Source(["email", "vpn"], ["other"])
    desk = SlackDesk(services=services, ttl=3600.0)
    assert await desk.service_names() == ["email", "vpn"]
    assert await desk.service_names() == ["email", "vpn"]
    assert services.asked == 1


async def test_a_failed_ask_keeps_the_last_good_list() -> None:
    services = Source(["email"], RuntimeError("desk down"), ["email", "vpn"])
    desk = SlackDesk(services=services, ttl=0.0)
    assert await desk.service_names() == ["email"]
    assert await desk.service_names() == ["email"]
    assert await desk.service_names() == ["email", "vpn"]
    assert services.asked == 3


async def test_services_and_help_channels_are_kept_apart() -> None:
    desk = SlackDesk(services=Source(["email"]), help_channels=Source(["C0HELP"]))
    assert await desk.service_names() == ["email"]
    assert await desk.stored_help_channels() == ["C0HELP"]
    assert await SlackDesk().service_names() == []


async def test_listeners_add_the_desk_help_channels_to_the_environment() -> None:
    web = AsyncWebClient(base_url="http://127.0.0.1:9/api/")
    env = HelpSettings(channels=frozenset({"C0ENV"}), ticket_reaction="ticket")
    listeners = Listeners(web, desk=SlackDesk(help_channels=Source(["C0DESK"])), help=env)
    assert (await listeners.help_settings()).channels == {"C0ENV", "C0DESK"}
    failing = SlackDesk(help_channels=Source(RuntimeError("store down")))
    assert await Listeners(web, desk=failing, help=env).help_settings() == env
