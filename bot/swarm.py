"""Swarm channels: a Slack channel for each declared major incident, on the leader.

Handlers never call a platform, so declaring a major incident only records it; this job
then creates `#inc-<n>-major` (`conversations.create`), invites the owner group, the on-call
person and whoever declared it (`conversations.invite`), posts the incident and pins it
(`chat.postMessage`, `pins.add`), and records the channel so that status updates reach it.
Without a Slack bot token there is nothing to create and the job stays idle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from bot.config import Settings
from channels.conversation import TicketCard
from channels.slack.render import card_blocks
from handlers.routing import on_call
from store.db import SessionFactory
from store.types import utcnow
from store.uow import UnitOfWork

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Plan:
    """A major incident's swarm channel: what the incident is and who is invited in."""

    major_id: int
    ref: str
    title: str
    priority: str
    service: str
    members: tuple[str, ...]


def channel_name(ref: str, attempt: int = 0) -> str:
    """`inc-9-major`, then `inc-9-major-2` when the name is taken."""
    base = re.sub(r"[^a-z0-9-]", "", ref.lower()) + "-major"
    return base if attempt == 0 else f"{base}-{attempt + 1}"


def pinned_text(plan: Plan) -> str:
    """The pinned message as plain text: notifications and clients without blocks."""
    where = f" on {plan.service}" if plan.service else ""
    return (
        f"Major incident {plan.ref} ({plan.priority}){where}: {plan.title}. "
        f'Updates: "broadcast {plan.ref}: <update>".'
    )


def pinned_blocks(plan: Plan) -> list[dict[str, object]]:
    """The pinned message as a ticket card, with how to post updates beneath it."""
    card = TicketCard(
        ref=plan.ref,
        title=plan.title,
        kind="incident",
        status="major incident",
        priority=plan.priority or None,
        service=plan.service or None,
    )
    how = {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": f"Post updates with `broadcast {plan.ref}: <update>`; "
                "every linked reporter hears them on their own channel.",
            }
        ],
    }
    header = {
        "type": "header",
        "text": {"type": "plain_text", "text": f"Major incident {plan.ref}"[:150]},
    }
    return [header, *card_blocks(card), how]


class Swarms:
    """Creates the missing swarm channels; `run_once` is called on the leader's ticks."""

    def __init__(self, settings: Settings, factory: SessionFactory) -> None:
        self.factory = factory
        slack = settings.slack
        token = slack.bot_token.get_secret_value() if slack.bot_token else ""
        self.client: AsyncWebClient | None = None
        if token:
            # slack-sdk and aiohttp load only in a deployment that has Slack.
            from slack_sdk.web.async_client import AsyncWebClient

            self.client = AsyncWebClient(token=token, base_url=slack.api_url)

    async def run_once(self) -> int:
        """Create the swarm channel of every open major incident without one; how many."""
        if self.client is None:
            return 0
        made = 0
        for plan in await self._plans():
            channel = await self._create(self.client, plan)
            if channel is None:
                continue
            async with UnitOfWork(self.factory) as uow:
                row = await uow.major_incidents.get(plan.major_id)
                if row is not None:
                    uow.major_incidents.set_swarm(row, channel, utcnow())
                    uow.tickets.log(row.ticket, "swarm_created", actor=None, channel="slack")
                    await uow.commit()
            made += 1
            log.info("swarm.created", ref=plan.ref, channel=channel, members=len(plan.members))
        return made

    async def _plans(self) -> list[Plan]:
        async with UnitOfWork(self.factory) as uow:
            plans = []
            for row in await uow.major_incidents.without_swarm():
                ticket = row.ticket
                people = {p for p in (row.declared_by_id, row.lead_id) if p is not None}
                group = ticket.group
                if group is None and ticket.service is not None:
                    owner = ticket.service.owner_group_id
                    group = await uow.desk.group(owner) if owner is not None else None
                if group is not None:
                    people.update(m.person_id for m in await uow.desk.members(group.id))
                    if group.lead_id is not None:
                        people.add(group.lead_id)
                    email = on_call(group.oncall, utcnow()) if group.oncall else None
                    person = await uow.people.by_email(email) if email else None
                    if person is not None:
                        people.add(person.id)
                plans.append(
                    Plan(
                        major_id=row.id,
                        ref=ticket.ref,
                        title=ticket.title,
                        priority=ticket.priority.value if ticket.priority else "",
                        service=ticket.service.name if ticket.service else "",
                        members=tuple(await uow.major_incidents.slack_ids(sorted(people))),
                    )
                )
            return plans

    async def _create(self, client: AsyncWebClient, plan: Plan) -> str | None:
        from slack_sdk.errors import SlackApiError

        channel: str | None = None
        try:
            for attempt in range(5):
                try:
                    made = await client.conversations_create(name=channel_name(plan.ref, attempt))
                except SlackApiError as e:
                    if e.response.get("error") == "name_taken":
                        continue
                    raise
                channel = str(made["channel"]["id"])
                break
            if channel is None:
                return None
            if plan.members:
                await client.conversations_invite(channel=channel, users=",".join(plan.members))
            posted = await client.chat_postMessage(
                channel=channel, text=pinned_text(plan), blocks=pinned_blocks(plan)
            )
            await client.pins_add(channel=channel, timestamp=str(posted["ts"]))
        except SlackApiError as e:
            log.warning("swarm.failed", ref=plan.ref, error=str(e.response.get("error")))
            # A channel made but not completed is still the swarm's: record it.
            return channel
        return channel
