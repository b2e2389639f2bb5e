"""Block Kit rendering: cards, buttons, the App Home, forms, and escaping of hostile text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from channels.conversation import Button, ButtonStyle, Reply, Section, TicketCard
from channels.slack.forms import FormError, read_ticket_form, ticket_form
from channels.slack.ids import NEW_TICKET, TICKET_FORM
from channels.slack.markup import escape, mention, plain
from channels.slack.render import action_name, card_state, render, render_home, shown_version

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

HOSTILE = [
    "<!channel> the VPN is down",
    "<!here|here> wake up",
    "<!everyone>",
    "<@U0ADMIN> please approve",
    "<@U0ADMIN|admin>",
    "<#C0GENERAL>",
    "<!subteam^S123|@oncall> page them",
    "<https://evil.example/login|https://sso.example.com>",
    "click <http://evil.example>",
    "<mailto:x@evil.example|support@example.com>",
    "&lt;!channel&gt; pre-escaped",
    "a > b < c & d",
    "\u202eexe.doc\u202c invoice",
    "<<!channel>>",
    "<!date^0^{date}|today>",
]


WRAPS = [
    "{}",
    "x{}y",
    "*{}*",
    "`{}`",
    "```{}```",
    "> {}",
    "{}{}",
    "&{}",
    "<{}",
    "{}>",
    "\n{}\n",
    "\u202e{}",
    "{}\u2066",
    "INC-1 {} CHG-2",
]
GENERATED = [w.replace("{}", h) for h in HOSTILE for w in WRAPS]


def test_there_are_enough_hostile_strings() -> None:
    assert len(set(GENERATED)) >= 200


@pytest.mark.parametrize("hostile", GENERATED)
def test_generated_hostile_text_stays_inert(hostile: str) -> None:
    card = TicketCard(ref="INC-1", title=hostile, kind="incident", status="new")
    body = render(Reply(text=hostile, card=card), now=NOW)
    assert markup(body["text"]) == []
    for t in mrkdwn_texts(body["blocks"]):
        assert markup(t["text"]) == []
        assert "\u202e" not in t["text"]
        assert "\u2066" not in t["text"]


def mrkdwn_texts(obj: Any) -> list[dict[str, Any]]:
    """Every mrkdwn text object in a Block Kit structure."""
    found: list[dict[str, Any]] = []
    if isinstance(obj, dict):
        if obj.get("type") == "mrkdwn":
            found.append(obj)
        for v in obj.values():
            found.extend(mrkdwn_texts(v))
    elif isinstance(obj, list):
        for v in obj:
            found.extend(mrkdwn_texts(v))
    return found


def markup(text: str) -> list[str]:
    """The `<...>` constructs Slack would interpret in a mrkdwn string."""
    return re.findall(r"<[^<>]*>", text)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_escaped_text_cannot_form_markup(hostile: str) -> None:
    out = escape(hostile)
    assert markup(out) == []
    assert "<" not in out
    assert ">" not in out
    assert "\u202e" not in out
    assert re.sub(r"&(amp|lt|gt);", "", out).count("&") == 0


@pytest.mark.parametrize("hostile", HOSTILE)
def test_rendered_reply_never_carries_user_markup(hostile: str) -> None:
    card = TicketCard(
        ref="INC-7",
        title=hostile,
        kind="incident",
        status="new",
        priority="P2",
        service=hostile,
        requester=hostile,
        fields=(("Details", hostile),),
    )
    reply = Reply(
        text=f"I've logged INC-7: {hostile}",
        card=card,
        buttons=(Button(label=hostile, action="assign_me", value="INC-7"),),
    )
    body = render(reply, now=NOW)
    assert markup(body["text"]) == []
    texts = mrkdwn_texts(body["blocks"])
    assert texts
    for t in texts:
        assert t["verbatim"] is True
        assert markup(t["text"]) == [], t["text"]


def test_an_edit_in_a_channel_says_who_changed_it_and_when() -> None:
    card = TicketCard(ref="CHG-2", title="Restart mail", kind="change", status="approved")
    reply = Reply(text="You approved CHG-2.", card=card, ticket_ref="CHG-2", edit_id="171.2")
    body = render(reply, now=NOW, editor="U0CAROL", shared=True)
    first = body["blocks"][0]["text"]["text"]
    assert first == "CHG-2 is approved."
    context = body["blocks"][-1]
    assert context["type"] == "context"
    stamp = context["elements"][0]["text"]
    assert stamp.startswith("Updated by <@U0CAROL> · <!date^1772443800^")
    assert stamp.endswith("|2026-03-02 09:30 UTC>")
    assert not any(b["type"] == "actions" for b in body["blocks"])
    in_dm = render(reply, now=NOW, editor="U0CAROL", shared=False)
    assert in_dm["blocks"][0]["text"]["text"] == "You approved CHG-2."


def test_only_real_user_ids_become_mentions() -> None:
    assert mention("U0CAROL") == "<@U0CAROL>"
    assert mention("W123ABC") == "<@W123ABC>"
    for bad in ("", "U0>|x", "!channel", "u0carol", "C0GENERAL"):
        assert mention(bad) == ""


def test_buttons_carry_action_value_and_card_version() -> None:
    card = TicketCard(ref="CHG-4", title="t", kind="change", status="awaiting approval", version=3)
    buttons = (
        Button(label="Approve", action="approve", value="CHG-4", style=ButtonStyle.PRIMARY),
        Button(label="Reject", action="reject", value="CHG-4", style=ButtonStyle.DANGER),
    )
    [actions] = [
        b
        for b in render(Reply(text="", card=card, buttons=buttons), now=NOW)["blocks"]
        if b["type"] == "actions"
    ]
    approve, reject = actions["elements"]
    assert shown_version(actions["block_id"]) == "3"
    assert (action_name(approve["action_id"]), approve["value"], approve["style"]) == (
        "approve",
        "CHG-4",
        "primary",
    )
    assert action_name(reject["action_id"]) == "reject"
    assert reject["confirm"]["confirm"]["text"] == "Reject"
    assert approve["action_id"] != reject["action_id"]
    assert action_name("plain") == "plain"
    assert shown_version("b.0") is None


def test_card_state_ignores_text_but_not_status() -> None:
    card = TicketCard(ref="CHG-4", title="t", kind="change", status="approved", version=2)
    a = Reply(text="You approved CHG-4.", card=card)
    b = Reply(text="CHG-4 was approved by Carol.", card=card)
    c = Reply(text="x", card=TicketCard(ref="CHG-4", title="t", kind="change", status="rejected"))
    assert card_state(a) == card_state(b)
    assert card_state(a) != card_state(c)
    assert card_state(Reply(text="no card")) is None


def test_overview_becomes_the_home_tab() -> None:
    mine = TicketCard(ref="INC-1", title="VPN <!here>", kind="incident", status="new", version=1)
    change = TicketCard(
        ref="CHG-2", title="Patch", kind="change", status="awaiting approval", version=4
    )
    reply = Reply(
        text="Hi Carol.",
        overview=True,
        sections=(
            Section(title="Your open tickets", cards=(mine,)),
            Section(
                title="Waiting for your approval",
                cards=(change,),
                buttons=(
                    Button(label="Approve", action="approve", value="CHG-2"),
                    Button(label="Reject", action="reject", value="CHG-2"),
                    Button(label="Approve", action="approve", value="CHG-9"),
                ),
            ),
            Section(title="Assigned to you", empty="Your queue is empty."),
        ),
    )
    view = render_home(reply, now=NOW)
    assert view["type"] == "home"
    blocks = view["blocks"]
    rows = [b for b in blocks if b["type"] == "actions"]
    assert action_name(rows[0]["elements"][0]["action_id"]) == NEW_TICKET
    [decide] = [r for r in rows if r["block_id"] != "home.tools"]
    assert [e["value"] for e in decide["elements"]] == ["CHG-2", "CHG-2"]
    assert shown_version(decide["block_id"]) == "4"
    assert len({b.get("block_id") for b in rows}) == len(rows)
    dumped = json.dumps(blocks)
    assert "<!here>" not in dumped
    assert "Your queue is empty." in dumped


def test_overview_round_trips_and_reads_as_text_elsewhere() -> None:
    reply = Reply(
        text="Overview",
        overview=True,
        human=True,
        sections=(
            Section(
                title="Yours",
                cards=(TicketCard(ref="INC-1", title="VPN", kind="incident", status="new"),),
                buttons=(Button(label="Resolve", action="resolve", value="INC-1"),),
            ),
        ),
    )
    assert Reply.from_dict(json.loads(json.dumps(reply.to_dict()))) == reply
    assert "• INC-1 · VPN (new)" in reply.fallback_text()
    assert Reply.from_dict({"text": "old row"}).sections == ()


def form_values(view: dict[str, Any], **chosen: str) -> dict[str, Any]:
    """`view.state.values` as Slack would send them for the given answers."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        bid = block["block_id"]
        element = block["element"]
        if bid not in chosen:
            continue
        if element["type"] in ("static_select", "radio_buttons"):
            values[bid] = {
                bid: {"type": element["type"], "selected_option": {"value": chosen[bid]}}
            }
        else:
            values[bid] = {bid: {"type": element["type"], "value": chosen[bid]}}
    return values


def test_ticket_form_offers_services_and_reads_back() -> None:
    view = ticket_form(services=["VPN", "Email", "VPN"], summary="VPN drops", meta={"a": "b"})
    assert view["callback_id"] == TICKET_FORM
    service = next(b for b in view["blocks"] if b["block_id"] == "service")
    assert [o["value"] for o in service["element"]["options"]] == ["VPN", "Email"]
    summary = next(b for b in view["blocks"] if b["block_id"] == "summary")
    assert summary["element"]["initial_value"] == "VPN drops"
    view["state"] = {
        "values": form_values(
            view, kind="incident", summary="VPN drops", service="VPN", urgency="high"
        )
    }
    assert read_ticket_form(view) == {
        "kind": "incident",
        "summary": "VPN drops",
        "service": "VPN",
        "urgency": "high",
    }


def test_ticket_form_without_services_has_no_picker() -> None:
    view = ticket_form(services=[])
    assert "service" not in {b["block_id"] for b in view["blocks"]}


@pytest.mark.parametrize(
    ("answers", "wrong"),
    [
        ({"kind": "incident", "urgency": "low"}, {"summary"}),
        ({"kind": "incident", "summary": "   ", "urgency": "low"}, {"summary"}),
        ({"kind": "incident", "summary": "x" * 151, "urgency": "low"}, {"summary"}),
        ({"kind": "other", "summary": "ok", "urgency": "low"}, {"kind"}),
        ({"kind": "incident", "summary": "ok", "urgency": "now!"}, {"urgency"}),
        ({"kind": "incident", "summary": "ok", "urgency": "low", "service": "Nope"}, {"service"}),
        ({}, {"summary", "kind", "urgency"}),
    ],
)
def test_ticket_form_errors_name_the_fields(answers: dict[str, str], wrong: set[str]) -> None:
    view = ticket_form(services=["VPN"])
    values = {}
    for bid, value in answers.items():
        key = "selected_option" if bid in ("kind", "urgency", "service") else "value"
        values[bid] = {bid: {key: {"value": value} if key == "selected_option" else value}}
    view["state"] = {"values": values}
    with pytest.raises(FormError) as caught:
        read_ticket_form(view)
    assert set(caught.value.errors) == wrong


def test_plain_flattens_markup() -> None:
    assert plain(
        "<!here> <@U1|ann> <@U2> <#C1|gen> <https://a.example|A> <mailto:b@c.d|b@c.d>"
    ) == ("@here @ann @U2 #gen A (https://a.example) b@c.d")
    assert plain("<@UBOT> hi", drop=["UBOT"]) == "hi"
    assert plain("1 &lt; 2 &amp;&amp; 3 &gt; 2") == "1 < 2 && 3 > 2"


def test_long_text_is_split_into_sections_not_cut() -> None:
    lines = [f"• INC-{i} · printer number {i} is jammed again" for i in range(300)]
    body = render(Reply(text="\n".join(lines)), now=NOW)
    sections = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
    assert len(sections) > 1
    assert all(len(s) <= 3000 for s in sections)
    assert "\n".join(sections) == "\n".join(lines)
