"""The pure rules: form answers, who may order, when an article is offered and when it fits."""

from __future__ import annotations

import pytest

from handlers.rules import catalog_form as form
from handlers.rules import deflect
from handlers.rules.priority import Reach
from store.enums import Level, Role
from store.segment import terms

MODEL = form.FormField(
    name="model", label="Which model", type=form.FieldType.CHOICE, choices=("14-inch", "16-inch")
)
NEEDED = form.FormField(name="needed_by", label="Needed by", type=form.FieldType.DATE)
OWNER = form.FormField(name="owner", label="Owner", type=form.FieldType.EMAIL)
NOTES = form.FormField(name="notes", label="Anything else", required=False)


@pytest.mark.parametrize(
    ("field", "raw", "stored"),
    [
        (MODEL, "16-inch", "16-inch"),
        (MODEL, "16-INCH.", "16-inch"),
        (MODEL, "1", "14-inch"),
        (NEEDED, "2026-12-24", "2026-12-24"),
        (NEEDED, "2026-12-24T09:00:00+00:00", "2026-12-24"),
        (OWNER, " Owner@Example.com ", "owner@example.com"),
        (NOTES, "skip", ""),
        (NOTES, "  two   spaces ", "two spaces"),
    ],
)
def test_answers_that_fit(field: form.FormField, raw: str, stored: str) -> None:
    assert form.check(field, raw) == stored


@pytest.mark.parametrize(
    ("field", "raw", "reason"),
    [
        (MODEL, "3", "Which model must be one of: 14-inch, 16-inch."),
        (NEEDED, "next year", "Needed by must be a date, like 2026-12-24."),
        (OWNER, "owner at example", "'owner at example' is not an email address."),
        (form.FormField(name="x", label="Why"), "skip", "Why is required."),
        (form.FormField(name="x", label="Why"), "a\x00b", "Why may not contain NUL characters."),
        (form.FormField(name="x", label="Why"), "x" * 1001, "Why can be at most 1000 characters."),
    ],
)
def test_answers_that_do_not_fit_say_why(field: form.FormField, raw: str, reason: str) -> None:
    with pytest.raises(form.AnswerError) as caught:
        form.check(field, raw)
    assert str(caught.value) == reason


def test_check_all_names_every_problem_and_the_next_question_follows_the_form() -> None:
    fields = [MODEL, NEEDED, NOTES]
    values, errors = form.check_all(fields, {"model": "2", "colour": "red", "notes": 3})
    assert values == {"model": "16-inch"}
    assert errors == {
        "colour": "not a field of this form",
        "needed_by": "Needed by is required.",
        "notes": "must be text",
    }
    assert form.next_field(fields, {"model": "16-inch"}) == NEEDED
    assert form.next_field(fields, {"model": "x", "needed_by": "y", "notes": ""}) is None


def test_who_may_order() -> None:
    anyone = {"allowed_roles": [], "allowed_organisations": []}
    assert form.may_order(roles={Role.REQUESTER}, organisation=None, **anyone)
    agents = {"allowed_roles": ["agent"], "allowed_organisations": []}
    assert not form.may_order(roles={Role.REQUESTER}, organisation=None, **agents)
    assert form.may_order(roles={Role.AGENT}, organisation=None, **agents)
    assert form.may_order(roles={Role.ADMIN}, organisation=None, **agents)
    acme = {"allowed_roles": [], "allowed_organisations": ["Acme"]}
    assert form.may_order(roles={Role.REQUESTER}, organisation="acme", **acme)
    assert not form.may_order(roles={Role.REQUESTER}, organisation=None, **acme)


def test_an_outage_or_an_urgent_report_is_never_held_up() -> None:
    assert deflect.may_offer(Reach.ONE, Level.MEDIUM, incident=True)
    for reach in (Reach.TEAM, Reach.EVERYONE, Reach.OUTAGE, Reach.UNSTATED):
        assert not deflect.may_offer(reach, Level.MEDIUM, incident=True)
    assert not deflect.may_offer(Reach.ONE, Level.HIGH, incident=True)
    assert deflect.may_offer(Reach.UNSTATED, Level.LOW, incident=False)
    assert not deflect.may_offer(Reach.OUTAGE, Level.LOW, incident=False)


def _fits(message: str, title: str, body: str) -> bool:
    return deflect.fits(terms(message), terms(title), terms(body))


def test_an_article_fits_when_it_covers_the_message() -> None:
    title, body = "Reset your password", "Go to password.example.com and choose 'Forgot password'."
    assert _fits("I forgot my password", title, body)
    assert _fits("忘记密码了", "重置密码", "忘记密码时，打开 password.example.com。")
    # One shared word is too little; words only in the body do not say what it is about.
    assert not _fits("password", title, body)
    assert not _fits("my laptop screen is cracked and the password sticker fell off", title, body)
    assert not _fits("forgot example", title, body)
