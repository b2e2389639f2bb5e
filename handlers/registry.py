"""How handlers say what they match: an intent, the button actions that lead to it, and slots."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from channels.conversation import Reply
from handlers.context import HandlerContext
from nlu.types import IntentName, Understanding

HandlerFunc = Callable[[Understanding, HandlerContext], Awaitable[list[Reply]]]


class Declined(Exception):
    """A command handler's answer that the message is not its command after all.

    "schedule a meeting room" starts with a command word but names no change: the handler
    raises this before changing anything, and the router routes the message like any other,
    with the intent thresholds and the clarifying question.
    """


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """One handler: the intent it serves (if any), its help line and the actions it takes."""

    intent: IntentName | None
    func: HandlerFunc
    help: str
    actions: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    min_confidence: float | None = None
    listed: bool = True
    when: Callable[[str], bool] | None = None
    # Beginnings that stand for a command in a language written without spaces ("把这个…").
    starts: tuple[str, ...] = ()


@dataclass
class Registry:
    """Handlers in the order they were declared; the router reads it."""

    specs: list[HandlerSpec] = field(default_factory=list)
    # The help as of a number of specs: every message's context carries it.
    _help: tuple[int, list[tuple[str, str]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def intent(
        self,
        intent: IntentName,
        *,
        actions: Sequence[str] = (),
        min_confidence: float | None = None,
        listed: bool = True,
    ) -> Callable[[HandlerFunc], HandlerFunc]:
        """Register `func` for an intent (and the button actions that mean the same).

        The function's first docstring line becomes its entry in the help.
        """
        return self._register(intent, actions, min_confidence, listed)

    def action(self, *actions: str) -> Callable[[HandlerFunc], HandlerFunc]:
        """Register `func` for button actions that no message intent leads to."""
        return self._register(None, actions, None, False)

    def command(
        self,
        *words: str,
        listed: bool = True,
        when: Callable[[str], bool] | None = None,
        starts: Sequence[str] = (),
    ) -> Callable[[HandlerFunc], HandlerFunc]:
        """Register `func` for messages whose first word is one of `words` (`link`, `/link`).

        Commands are exact words a person types; they bypass the NLU. `when(text)`, if
        given, must also hold: a common first word ("rate limits are too low") then goes to
        the NLU unless the rest has the command's shape. A message beginning with one of
        `starts` is a candidate too (Chinese has no spaces to end a first word).
        """
        return self._register(
            None,
            (),
            None,
            listed,
            commands=tuple(w.lower() for w in words),
            when=when,
            starts=tuple(starts),
        )

    def _register(
        self,
        intent: IntentName | None,
        actions: Sequence[str],
        min_confidence: float | None,
        listed: bool,
        *,
        commands: tuple[str, ...] = (),
        when: Callable[[str], bool] | None = None,
        starts: tuple[str, ...] = (),
    ) -> Callable[[HandlerFunc], HandlerFunc]:
        def register(func: HandlerFunc) -> HandlerFunc:
            doc = inspect.getdoc(func) or func.__name__.replace("_", " ")
            self.specs.append(
                HandlerSpec(
                    intent=intent,
                    func=func,
                    help=doc.splitlines()[0].strip(),
                    actions=tuple(actions),
                    commands=commands,
                    min_confidence=min_confidence,
                    listed=listed,
                    when=when,
                    starts=starts,
                )
            )
            return func

        return register

    def for_intent(self, intent: IntentName) -> HandlerSpec | None:
        """The handler for an intent, if one is registered."""
        return next((s for s in self.specs if s.intent is intent), None)

    def help_entries(self) -> list[tuple[str, str]]:
        """(intent, help line) of every listed handler, in the order of `IntentName`."""
        if self._help is None or self._help[0] != len(self.specs):
            self._help = (len(self.specs), self._help_entries())
        return list(self._help[1])

    def _help_entries(self) -> list[tuple[str, str]]:
        order = list(IntentName)
        listed = [s for s in self.specs if s.listed and s.intent is not None]
        listed.sort(key=lambda s: order.index(s.intent))  # type: ignore[arg-type]
        entries = [(s.intent.value, s.help) for s in listed if s.intent is not None]
        entries += [(s.commands[0], s.help) for s in self.specs if s.listed and s.commands]
        return entries

    def shape(self, when: Callable[[str], bool]) -> Callable[[HandlerFunc], HandlerFunc]:
        """Register `func` for replies to what the bot asked outside a conversation.

        A reply is a message of a shape (`when(text)`), such as a bare "4" after the survey.

        The router tries it only when no question of the conversation is pending; a handler
        that finds nothing to answer returns no replies and the NLU reads the message.
        """
        return self._register(None, (), None, False, when=when)

    def for_shape(self, text: str) -> HandlerSpec | None:
        """The shape handler for this message, if any (`shape`)."""
        return next(
            (
                s
                for s in self.specs
                if s.when is not None and not s.commands and not s.actions and s.when(text)
            ),
            None,
        )

    def for_action(self, action: str) -> HandlerSpec | None:
        """The handler for a button's action, if one is registered."""
        return next((s for s in self.specs if action in s.actions), None)

    def for_command(self, text: str) -> HandlerSpec | None:
        """The command handler for a message starting with a command word, if any."""
        words = text.strip().split(maxsplit=1)
        if not words:
            return None
        word = words[0].lower().lstrip("/")
        begins = text.strip()
        return next(
            (
                s
                for s in self.specs
                if (word in s.commands or (s.starts and begins.startswith(s.starts)))
                and (s.when is None or s.when(text))
            ),
            None,
        )


registry = Registry()


def load() -> Registry:
    """Import every process module so their handlers are registered, and return them."""
    from handlers import (  # noqa: F401  (imported for their registrations)
        agent,
        approvers,
        cancellation,
        catalog,
        change_steps,
        changes,
        confirmations,
        deflection,
        forms,
        help_channels,
        holds,
        home,
        impact_query,
        improvements,
        incidents,
        knowledge,
        links,
        major_incidents,
        problems,
        queues,
        releases,
        requests,
        signin,
        smalltalk,
        status,
        suppliers,
        survey,
    )

    return registry
