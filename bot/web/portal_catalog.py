"""`/portal/catalog`: the items a person may order, each with its form, as in chat.

The form is built from the item's field definitions, the answers are checked by the same
rules as the chat's form and the REST API (`bot.catalog_orders`), and a placed order goes
to approval or fulfilment exactly as one placed in chat.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response

from bot import catalog_orders as orders
from bot.web.auth import SignedIn, container_of, csrf_protect
from bot.web.i18n import translator
from bot.web.render import error_page, language, page
from handlers.rules import catalog_form as form
from store.catalog import CatalogItem
from store.models import Person

router = APIRouter(prefix="/portal/catalog", include_in_schema=False)

ItemName = Annotated[str, Path(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")]
MAX_ANSWER = 500
MAX_NOTE = 2000
_NOT_ANSWERS = {"csrf_token", "note"}


@router.get("")
async def catalog(request: Request, person: SignedIn) -> Response:
    """The items the person may order."""
    items = await orders.orderable(container_of(request), person.id)
    return page(request, "portal/catalog.html", person=person, section="catalog", items=items)


@router.get("/{name}")
async def order_form(request: Request, person: SignedIn, name: ItemName) -> Response:
    """An item's order form; 404 for an item the person may not order."""
    item = await _orderable(request, person, name)
    if item is None:
        return error_page(request, 404, "", person=person)
    return _form(request, person, item)


@router.post("/{name}", dependencies=[Depends(csrf_protect)])
async def order(request: Request, person: SignedIn, name: ItemName) -> Response:
    """Place the order; a form whose answers do not fit comes back with the reasons."""
    item = await _orderable(request, person, name)
    if item is None:
        return error_page(request, 404, "", person=person)
    sent = await request.form()
    answers = {
        str(k): str(v)[:MAX_ANSWER]
        for k, v in sent.items()
        if k not in _NOT_ANSWERS and isinstance(v, str) and v.strip()
    }
    note = str(sent.get("note") or "")[:MAX_NOTE]
    try:
        placed = await orders.place(
            container_of(request), person.id, item.name, answers, note, channel="portal"
        )
    except orders.OrderRefused as e:
        if e.status == 400:
            t = translator(language(request, person))
            return _form(
                request,
                person,
                item,
                answers=answers,
                note=note,
                errors=e.fields,
                problem=t("catalog.invalid"),
                status_code=400,
            )
        return error_page(request, e.status, e.message, person=person)
    return RedirectResponse(f"/portal/tickets/{placed.ref}", status_code=303)


async def _orderable(request: Request, person: Person, name: str) -> CatalogItem | None:
    for item in await orders.orderable(container_of(request), person.id):
        if name.lower() in (item.name.lower(), *(str(a).lower() for a in item.aliases or ())):
            return item
    return None


def _form(
    request: Request,
    person: Person,
    item: CatalogItem,
    *,
    answers: dict[str, str] | None = None,
    note: str = "",
    errors: dict[str, str] | None = None,
    problem: str = "",
    status_code: int = 200,
) -> Response:
    t = translator(language(request, person))
    approval = {
        "none": t("catalog.approval.none"),
        "manager": t("catalog.approval.manager"),
    }.get(
        item.approval,
        t("catalog.approval.group", group=item.approval_group.name if item.approval_group else ""),
    )
    context: dict[str, Any] = {
        "item": item,
        "fields": form.fields_of(item.fields or ()),
        "approval": approval,
        "answers": answers or {},
        "note": note,
        "errors": errors or {},
        "problem": problem,
    }
    return page(
        request,
        "portal/order.html",
        person=person,
        section="catalog",
        status_code=status_code,
        **context,
    )
