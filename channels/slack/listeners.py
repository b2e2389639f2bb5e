"""The bolt app's listeners: every request is normalised and handed to `ingest`, nothing more.

The things that cannot wait for the worker happen here: opening a modal (`views.open`
needs the trigger within 3 s; the forms are `channels.slack.modals`), telling a person what
to fix in a form they submitted, and reading the message a ticket reaction points at and
who reacted (the event carries only ids; the ticket is to hold what the message said then,
and name who filed it). The 👀 on a help-channel post is added in the background, after
the post is stored. A listener that fails raises, and bolt lets the error out as it is (see
`build_app`): the route answers with it, and Slack delivers the event again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from channels.base import ChannelError, Ingest
from channels.conversation import Event, Message
from channels.slack.desk import SlackDesk
from channels.slack.forms import FormError
from channels.slack.forms_catalog import (
    CATALOG_FORM,
    ORDER_ACTION,
    field_errors,
    read_catalog_form,
    shown_fields,
    submitted_order,
)
from channels.slack.help import (
    TAKEN_REACTION,
    HelpSettings,
    TicketRequest,
    parse_help,
    ticket_action,
)
from channels.slack.ids import MESSAGE_SHORTCUT, NEW_TICKET, PLATFORM, TICKET_COMMAND
from channels.slack.markup import plain
from channels.slack.modals import Modals
from channels.slack.parse import bot_ids, parse_click, parse_event, parse_submission, permalink
from channels.slack.render import action_name
from channels.slack.send import describe

log = structlog.get_logger(__name__)

REACTOR_DEADLINE = 1.0
"""Seconds to wait for who reacted (`users.info`): Slack wants the event acknowledged in 3 s."""

Authorize = Callable[[], Awaitable[AuthorizeResult]]


async def _surface(error: Exception) -> None:
    raise error


class _ClientCarriesTheToken(logging.Filter):
    """Drops bolt's warning that `token` goes unused because a client was given.

    bolt reads SLACK_BOT_TOKEN from the environment whatever it is passed, so with the client
    we build (which carries that token) it warns at every start that the token is ignored:
    a warning that would send a person to check a token that works.
    """

    SAID = warning_client_prioritized_and_token_skipped()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.SAID


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("slack_bolt")
    if not any(isinstance(f, _ClientCarriesTheToken) for f in logger.filters):
        logger.addFilter(_ClientCarriesTheToken())
    return logger


def build_app(client: AsyncWebClient, listeners: Listeners, authorize: Authorize) -> AsyncApp:
    """One bolt app for the webhook and Socket Mode alike.

    The route verifies the signature itself, once, before the body is read, so bolt's own
    check is off. A listener's error is raised again by the error handler, so it leaves
    `async_dispatch` as what it is instead of a logged 500.
    """

    async def authorize_any(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return await authorize()

    app = AsyncApp(
        name="switchboard",
        client=client,
        authorize=authorize_any,
        # Not read from the environment: the route has checked the signature already.
        signing_secret="",
        request_verification_enabled=False,
        process_before_response=True,
        # Surfaces (as BoltUnhandledRequestError) instead of a 404 the callers turn into a 200.
        raise_error_for_unhandled_request=True,
        logger=_bolt_logger(),
    )
    app.error(_surface)
    app.event(re.compile(r".+"))(listeners.on_event)
    app.command(re.compile(r".+"))(listeners.on_command)
    app.shortcut(re.compile(r".+"))(listeners.on_shortcut)
    app.action(re.compile(r".+"))(listeners.on_click)
    app.view(re.compile(r".+"))(listeners.on_submission)
    app.view_closed(re.compile(r".+"))(listeners.on_closed)
    return app


class Listeners:
    """What each kind of request becomes; `ingest` is set when the routes are."""

    def __init__(
        self,
        web: AsyncWebClient,
        *,
        desk: SlackDesk | None = None,
        help: HelpSettings | None = None,
    ) -> None:
        self.web = web
        self._desk = desk or SlackDesk()
        self.ingest: Ingest | None = None
        self._modals = Modals(web, self._desk)
        self._help = help or HelpSettings()
        self._background: set[asyncio.Task[None]] = set()

    async def _hand_over(self, events: Sequence[Event]) -> None:
        ingest = self.ingest
        if ingest is None:
            raise ChannelError("no ingest callback", platform=PLATFORM)
        for event in events:
            await ingest(event)

    async def on_event(self, body: dict[str, Any], context: Any) -> None:
        """A DM, an @mention, a help-channel post, a reaction or an App Home visit.

        bolt acknowledges events itself, after this returns.
        """
        found: list[Event] | TicketRequest | None = None
        event_id = body.get("event_id")
        if body.get("type") == "event_callback" and isinstance(event_id, str) and event_id:
            ours = bot_ids(body, context.bot_user_id)
            found = parse_help(body, await self.help_settings(), ours)
        if isinstance(found, TicketRequest):
            await self._ticket_from_reaction(found)
            return
        if found is None:
            await self._hand_over(parse_event(body, bot_user_id=context.bot_user_id))
            return
        await self._hand_over(found)
        for event in found:
            if isinstance(event, Message) and event.address.thread == _ts(body):
                self._mark_taken(event.address.conversation, event.address.thread)

    def _mark_taken(self, channel: str, ts: str) -> None:
        """👀 on a post the desk has taken, without holding up Slack's acknowledgement."""
        task = asyncio.create_task(self._react(channel, ts, TAKEN_REACTION))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _react(self, channel: str, ts: str, name: str) -> None:
        try:
            await self.web.reactions_add(channel=channel, timestamp=ts, name=name)
        except SlackApiError as e:
            if _api_error(e) == "already_reacted":
                # A redelivered post: it was marked the first time round.
                return
            log.info("slack.reaction_failed", error=describe(e))
        except (aiohttp.ClientError, TimeoutError) as e:
            # A courtesy: the thread reply that follows says the same.
            log.info("slack.reaction_failed", error=describe(e))

    async def drain(self) -> None:
        """Wait for the reactions still being added (on shutdown)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _ticket_from_reaction(self, request: TicketRequest) -> None:
        """Read the reacted message and its permalink, and hand it over as a ticket to file.

        A message the bot cannot read (not a member) is skipped; any other failure raises,
        so Slack delivers the reaction again.
        """
        try:
            message = await self._message(request.channel, request.ts)
            if message is None:
                log.info("slack.reacted_message_gone")
                return
            link = await self.web.chat_getPermalink(channel=request.channel, message_ts=request.ts)
        except SlackApiError as e:
            if _api_error(e) in _CANNOT_READ:
                log.info("slack.reacted_message_unreadable", error=describe(e))
                return
            raise
        action = ticket_action(request, message, str(link.get("permalink") or ""))
        if action is None:
            return
        email = await self._email_of(request.reactor)
        if email:
            action = replace(action, params={**action.params, "filed_by_email": email})
        await self._hand_over([action])

    async def _email_of(self, user: str) -> str:
        """The workspace email of who reacted, so the desk can name them; "" when unknown.

        Only the author becomes the ticket's person (through the usual sender look-up); the
        reactor is a name on one event, not worth a redelivery when Slack cannot say.
        """
        try:
            async with asyncio.timeout(REACTOR_DEADLINE):
                found = await self.web.users_info(user=user)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as e:
            log.info("slack.reactor_unknown", error=describe(e))
            return ""
        person = found.get("user")
        if not isinstance(person, Mapping) or person.get("is_bot") or person.get("deleted"):
            return ""
        if person.get("is_email_confirmed") is False:
            return ""
        return _str(_dict(person, "profile"), "email")

    async def _message(self, channel: str, ts: str) -> Mapping[str, Any] | None:
        """The message at `ts`: a channel post, else a reply in a thread."""
        found = await self.web.conversations_history(
            channel=channel, latest=ts, inclusive=True, limit=1
        )
        for message in found.get("messages") or ():
            if isinstance(message, Mapping) and message.get("ts") == ts:
                return message
        found = await self.web.conversations_replies(
            channel=channel, ts=ts, latest=ts, inclusive=True, limit=1
        )
        for message in found.get("messages") or ():
            if isinstance(message, Mapping) and message.get("ts") == ts:
                return message
        return None

    async def help_settings(self) -> HelpSettings:
        """The help channels of the environment and, asked at most once a TTL, the desk's."""
        stored = await self._desk.stored_help_channels()
        if not stored:
            return self._help
        return HelpSettings(
            channels=self._help.channels | frozenset(stored),
            ticket_reaction=self._help.ticket_reaction,
        )

    async def on_click(self, body: dict[str, Any], ack: Any) -> None:
        """A button: a form to open now, or an action for the worker."""
        actions = [a for a in body.get("actions") or () if isinstance(a, Mapping)]
        first = actions[0] if actions else {}
        name = action_name(_str(first, "action_id"))
        if name == "add_note":
            if not await self._modals.note_form(body, _str(first, "value")):
                # No form: the click goes to the handler, which asks for the note in chat.
                await self._hand_over(parse_click(body))
        elif name == NEW_TICKET:
            await self._modals.ticket_form(body)
        elif name == ORDER_ACTION:
            if not await self._modals.catalog_form(body, _str(first, "value")):
                # No form: the click orders in chat, as on every other channel.
                await self._hand_over(parse_click(body))
        else:
            await self._hand_over(parse_click(body))
        await ack()

    async def on_submission(self, body: dict[str, Any], ack: Any) -> None:
        """A submitted form: stored, or sent back with what to correct."""
        if _str(_dict(body, "view"), "callback_id") == CATALOG_FORM:
            await self._catalog_submitted(body, ack)
            return
        try:
            event = parse_submission(body)
        except FormError as e:
            # The modal shows these next to the fields; nothing was stored.
            await ack(response_action="errors", errors=e.errors)
            return
        await self._hand_over([event] if event is not None else [])
        await ack()

    async def _catalog_submitted(self, body: dict[str, Any], ack: Any) -> None:
        """A catalog order: checked by the catalog's rules now, so the modal shows what to fix."""
        view = _dict(body, "view")
        try:
            item, answers = read_catalog_form(view)
            catalog = self._desk.catalog
            errors = await catalog.check(item, answers) if catalog else {}
            if errors:
                raise FormError(field_errors(errors, shown_fields(view)))
            event = submitted_order(body, item, answers)
        except FormError as e:
            await ack(response_action="errors", errors=e.errors)
            return
        await self._hand_over([event])
        await ack()

    async def on_closed(self, ack: Any) -> None:
        """A form closed without submitting: nothing to do."""
        await ack()

    async def on_command(self, body: dict[str, Any], ack: Any) -> None:
        """`/ticket [summary]` opens the ticket form."""
        if body.get("command") != TICKET_COMMAND:
            await ack(text=f"I only know {TICKET_COMMAND}. Or just send me a message.")
            return
        opened = await self._modals.ticket_form(body, summary=plain(_str(body, "text")))
        if opened:
            await ack()
        else:
            await ack(
                text="I couldn't open the form just now. Tell me what's wrong in a direct "
                "message and I'll log it."
            )

    async def on_shortcut(self, body: dict[str, Any], ack: Any) -> None:
        """The message shortcut (form filled from the message) or the global one."""
        await ack()
        if body.get("type") == "message_action" and body.get("callback_id") == MESSAGE_SHORTCUT:
            text = plain(_str(_dict(body, "message"), "text"))
            first = text.strip().splitlines()[0] if text.strip() else ""
            await self._modals.ticket_form(
                body, summary=first, description=text, link=permalink(body)
            )
            await self._ask_for_invite(body)
        elif body.get("callback_id") == NEW_TICKET:
            await self._modals.ticket_form(body)

    async def _ask_for_invite(self, body: Mapping[str, Any]) -> None:
        """Tell the person to invite the bot when it cannot read the message's thread.

        The form works from the message the shortcut carries, but following the thread (and
        answering there) needs the bot in the channel. The DM is the one place it can write.
        """
        channel = _str(_dict(body, "channel"), "id")
        message = _dict(body, "message")
        ts = _str(message, "thread_ts") or _str(message, "ts")
        user = _str(_dict(body, "user"), "id")
        if not (channel and ts and user) or channel.startswith("D"):
            return
        try:
            await self.web.conversations_replies(channel=channel, ts=ts, limit=1)
            return
        except SlackApiError as e:
            if _api_error(e) not in _CANNOT_READ:
                log.info("slack.thread_unreadable", error=describe(e))
                return
        except (aiohttp.ClientError, TimeoutError) as e:
            log.info("slack.thread_unreadable", error=describe(e))
            return
        try:
            await self.web.chat_postMessage(
                channel=user,
                text=f"I can't read that conversation, so I can't follow its thread. Invite me "
                f"to this channel (/invite @Switchboard in <#{channel}>) and I'll keep the "
                "ticket up to date there.",
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as e:
            log.info("slack.invite_hint_failed", error=describe(e))


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _dict(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _ts(body: Mapping[str, Any]) -> str:
    return _str(_dict(body, "event"), "ts")


# The bot is not in the conversation, or it is gone: nothing to read, nothing to retry.
_CANNOT_READ = frozenset({"not_in_channel", "channel_not_found", "missing_scope"})


def _api_error(e: SlackApiError) -> str:
    data = getattr(e.response, "data", None)
    return str(data.get("error") or "") if isinstance(data, Mapping) else ""
