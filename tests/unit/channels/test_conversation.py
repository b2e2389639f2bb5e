"""The conversation model: a click answered as an edit of the message clicked."""

from __future__ import annotations

from channels.conversation import Action, Address, Identity, Reply, event_from_dict

ADDRESS = Address(channel="telegram", conversation="12345", user="12345")
SENDER = Identity(platform="telegram", external_id="12345")


def click(message_id: str | None) -> Action:
    return Action(
        event_id="1",
        address=ADDRESS,
        sender=SENDER,
        name="approve",
        value="CHG-1",
        message_id=message_id,
    )


def test_a_reply_that_replaces_a_card_edits_the_message_clicked() -> None:
    answered = click("4242").answer(Reply(text="Approved", replaces=True))
    assert answered.edit_id == "4242"


def test_other_replies_are_left_as_they_are() -> None:
    plain = Reply(text="Thanks")
    assert click("4242").answer(plain) is plain
    card = Reply(text="Approved", replaces=True)
    assert click(None).answer(card) is card


def test_the_clicked_message_survives_the_inbox() -> None:
    stored = click("4242").to_dict()
    again = event_from_dict(stored)
    assert isinstance(again, Action)
    assert again.message_id == "4242"


def test_events_stored_with_the_id_among_their_params_still_name_it() -> None:
    stored = click(None).to_dict()
    stored.pop("message_id")
    stored["params"] = {"message_id": "111.222", "version": "3"}
    again = event_from_dict(stored)
    assert isinstance(again, Action)
    assert again.message_id == "111.222"
    assert again.answer(Reply(text="Approved", replaces=True)).edit_id == "111.222"
