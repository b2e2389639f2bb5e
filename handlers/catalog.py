"""Ordering from the service catalog in chat: the form as a dialogue, approval, fulfilment.

"I need a new laptop" finds the item, takes what the first message already answers, asks
each missing field in turn (an answer that does not fit is asked again with the reason),
shows a summary and asks to submit. The request then waits for the requester's manager or
the item's approval group, who are messaged with Approve / Reject; the requester never
decides their own. Once approved (or when the item needs no approval) the request goes to the
item's fulfilment group with the item's fulfilment target as its resolution clock.

The form's progress travels in the dialogue state (`ctx.expect` and `ctx.carry`), so a
worker restart between two answers loses nothing.

The parts live beside this module: the items and their forms (`handlers.catalog_items`),
the form as a dialogue (`handlers.catalog_dialogue`), the approval chain
(`handlers.catalog_chain`), placing and fulfilling an order (`handlers.catalog_placing`) and
deciding a request (`handlers.catalog_decisions`). Callers read every name from here.
"""

from handlers.catalog_chain import (
    APPROVE,
    REJECT,
    approvers,
    first_step,
    step_words,
)
from handlers.catalog_decisions import approve_request, reject_request, typed_decision
from handlers.catalog_dialogue import (
    ANSWERS,
    CANCEL,
    FIELD,
    ITEM,
    KEYBOARD_CHANNELS,
    LISTED,
    ORDER,
    ORDER_INTENT,
    OWNER,
    SLOT,
    SUBMIT,
    TEXT,
    cancel_order,
    continue_order,
    list_items,
    order_item,
    start_order,
)
from handlers.catalog_items import asks_for_list, check_known, item_for, known, public_fields
from handlers.catalog_placing import fulfil, place_order, submit

__all__ = [
    "ANSWERS",
    "APPROVE",
    "CANCEL",
    "FIELD",
    "ITEM",
    "KEYBOARD_CHANNELS",
    "LISTED",
    "ORDER",
    "ORDER_INTENT",
    "OWNER",
    "REJECT",
    "SLOT",
    "SUBMIT",
    "TEXT",
    "approve_request",
    "approvers",
    "asks_for_list",
    "cancel_order",
    "check_known",
    "continue_order",
    "first_step",
    "fulfil",
    "item_for",
    "known",
    "list_items",
    "order_item",
    "place_order",
    "public_fields",
    "reject_request",
    "start_order",
    "step_words",
    "submit",
    "typed_decision",
]
