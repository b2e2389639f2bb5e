"""A `Reply` as Telegram takes it: HTML text (everything escaped) and an inline keyboard."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from channels.conversation import Button, Reply, Section, TicketCard
from channels.telegram.callback_data import encode_callback
from channels.telegram.constants import MAX_BUTTONS, MAX_TEXT


def escape(text: str) -> str:
    """Text safe for `parse_mode=HTML`: every `<`, `>` and `&` the person or we wrote."""
    return html.escape(text, quote=False)


def _card(card: TicketCard) -> tuple[str, str]:
    """(visible text, HTML) of a card: the reference in bold, then its facts."""
    lines = card.lines()
    head, *rest = lines
    ref, sep, title = head.partition(" · ")
    first = f"<b>{escape(ref)}</b>{escape(sep + title)}"
    return "\n".join(lines), "\n".join([first, *(escape(line) for line in rest)])


def _section(section: Section) -> tuple[str, str]:
    title, *rest = section.lines()
    plain = "\n".join([title, *rest])
    return plain, "\n".join([f"<b>{escape(title)}</b>", *(escape(line) for line in rest)])


@dataclass(frozen=True, slots=True)
class Rendered:
    """A reply as Telegram takes it: HTML text and an optional inline keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None
    callback_data: tuple[str, ...] = field(default=())


def render(reply: Reply) -> Rendered:
    """HTML text (user text escaped), cards in bold-headed lines, buttons as a keyboard.

    Telegram counts its 4096-character limit on the visible text, so the budget is taken
    before escaping: the reply's own text gives way to the card, then trailing sections go.
    """
    blocks: list[tuple[str, str]] = []
    if reply.card is not None:
        blocks.append(_card(reply.card))
    blocks += [_section(s) for s in reply.sections]
    while blocks and sum(len(plain) + 2 for plain, _ in blocks) > MAX_TEXT - 200:
        blocks.pop()
    budget = MAX_TEXT - sum(len(plain) + 2 for plain, _ in blocks)
    body = reply.text
    if len(body) > budget:
        body = body[: budget - 1] + "…"
    parts = ([escape(body)] if body else []) + [markup for _, markup in blocks]
    text = "\n\n".join(parts) or "…"
    offered = _buttons(reply)
    if not offered:
        return Rendered(text=text)
    datas = []
    buttons = []
    for i, (label, b, version) in enumerate(offered, start=1):
        data = encode_callback(b.action, b.value, i, version)
        datas.append(data)
        buttons.append(InlineKeyboardButton(label[:64], callback_data=data))
    width = 2 if all(len(label) <= 18 for label, _, _ in offered) else 1
    rows = [buttons[i : i + width] for i in range(0, len(buttons), width)]
    return Rendered(text=text, keyboard=InlineKeyboardMarkup(rows), callback_data=tuple(datas))


def _buttons(reply: Reply) -> list[tuple[str, Button, int | None]]:
    """(label, button, card version) of every button, the reply's then its sections'."""
    versions = {reply.card.ref: reply.card.version} if reply.card is not None else {}
    out = [(b.label, b, versions.get(b.value)) for b in reply.buttons]
    for section in reply.sections:
        shown = {c.ref: c.version for c in section.cards}
        for b in section.buttons:
            # Beside a list of tickets, "Approve" alone would not say which one.
            label = b.label if b.value.upper() in b.label.upper() else f"{b.label} {b.value}"
            out.append((label, b, shown.get(b.value)))
    return out[:MAX_BUTTONS]
