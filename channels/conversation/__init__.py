"""The one conversation model every platform is normalised into.

Standard library only: importing this module must never load a platform SDK. Every value is
a frozen dataclass that round-trips through plain JSON (`to_dict` / `from_dict`), which is
how events travel through the inbox and replies through the outbox.

The model is a package of a few modules (`parties`, `events`, `replies`, `phones`); every
name is imported from here, `channels.conversation`, never from the module that defines it.
"""

from channels.conversation.events import Action, Alert, Event, Message, event_from_dict
from channels.conversation.parties import Address, Identity
from channels.conversation.phones import mask_phone, phone_candidate
from channels.conversation.replies import Button, ButtonStyle, Reply, Section, TicketCard

__all__ = [
    "Action",
    "Address",
    "Alert",
    "Button",
    "ButtonStyle",
    "Event",
    "Identity",
    "Message",
    "Reply",
    "Section",
    "TicketCard",
    "event_from_dict",
    "mask_phone",
    "phone_candidate",
]
