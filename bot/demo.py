"""Demo data: people in every role, a dozen services, a few knowledge articles."""

from __future__ import annotations

from dataclasses import dataclass

from bot.directory import PersonRecord, import_people
from store.enums import Criticality, Role
from store.uow import UnitOfWork

PEOPLE = [
    PersonRecord(
        name="Alice Example",
        email="alice@example.com",
        roles=(Role.REQUESTER,),
        groups=("finance",),
        identities={"phone": "+14155550101"},
    ),
    PersonRecord(
        name="Dan Requester", email="dan@example.com", roles=(Role.REQUESTER,), groups=("sales",)
    ),
    PersonRecord(
        name="Bob Agent",
        email="bob@example.com",
        roles=(Role.AGENT,),
        groups=("service-desk",),
        skills=("network", "windows"),
    ),
    PersonRecord(
        name="Erin Agent",
        email="erin@example.com",
        roles=(Role.AGENT,),
        groups=("service-desk", "infrastructure"),
        skills=("linux", "email"),
    ),
    PersonRecord(
        name="Carol Approver",
        email="carol@example.com",
        roles=(Role.APPROVER, Role.AGENT),
        groups=("change-board",),
    ),
    PersonRecord(
        name="Frank Approver",
        email="frank@example.com",
        roles=(Role.APPROVER,),
        groups=("change-board",),
    ),
    PersonRecord(
        name="Grace Admin",
        email="grace@example.com",
        roles=(Role.ADMIN,),
        groups=("it-management",),
    ),
]


@dataclass(frozen=True, slots=True)
class DemoService:
    """A service of the demo data, with its support group and the words people call it by."""

    name: str
    criticality: Criticality
    group: str
    aliases: tuple[str, ...]
    description: str


SERVICES = [
    DemoService(
        "VPN",
        Criticality.CRITICAL,
        "infrastructure",
        ("vpn", "remote access", "globalprotect", "anyconnect"),
        "Remote access to the corporate network.",
    ),
    DemoService(
        "Email",
        Criticality.CRITICAL,
        "infrastructure",
        ("email", "mail", "outlook", "exchange", "mailbox", "邮件", "邮箱"),
        "Corporate email and calendars.",
    ),
    DemoService(
        "Wi-Fi",
        Criticality.HIGH,
        "infrastructure",
        ("wifi", "wi-fi", "wireless", "wlan", "无线网"),
        "Office wireless network.",
    ),
    DemoService(
        "Payroll",
        Criticality.CRITICAL,
        "business-apps",
        ("payroll", "salary system", "workday payroll"),
        "Salary processing.",
    ),
    DemoService(
        "CRM",
        Criticality.HIGH,
        "business-apps",
        ("crm", "salesforce"),
        "Customer relationship management.",
    ),
    DemoService(
        "Intranet",
        Criticality.MEDIUM,
        "business-apps",
        ("intranet", "wiki", "confluence"),
        "Internal news and documentation.",
    ),
    DemoService(
        "Printing",
        Criticality.LOW,
        "service-desk",
        ("printer", "printing", "print", "打印机"),
        "Office printers.",
    ),
    DemoService(
        "Laptops",
        Criticality.MEDIUM,
        "service-desk",
        ("laptop", "notebook", "macbook", "thinkpad", "电脑", "笔记本"),
        "Company laptops and desktops.",
    ),
    DemoService(
        "Phone system",
        Criticality.HIGH,
        "infrastructure",
        ("phone system", "telephony", "desk phone", "softphone"),
        "Voice calls.",
    ),
    DemoService(
        "File shares",
        Criticality.MEDIUM,
        "infrastructure",
        ("file share", "shared drive", "network drive", "s drive"),
        "Team file storage.",
    ),
    DemoService(
        "Video conferencing",
        Criticality.HIGH,
        "infrastructure",
        ("zoom", "teams", "video call", "meeting room"),
        "Meetings and calls.",
    ),
    DemoService(
        "ERP", Criticality.CRITICAL, "business-apps", ("erp", "sap"), "Orders, invoicing and stock."
    ),
]

ARTICLES = [
    (
        "vpn-setup",
        "Set up the VPN on a laptop or phone",
        "Install GlobalProtect from the software centre, sign in with your work email and "
        "approve the prompt on your phone.\nOn a phone, install the GlobalProtect app and use "
        "the portal vpn.example.com.",
        ["vpn", "remote", "phone", "laptop"],
        "VPN",
    ),
    (
        "password-reset",
        "Reset your password",
        "Go to password.example.com, choose 'Forgot password' and follow the code sent to your "
        "phone.\nIf your account is locked, ask the service desk to unlock it.",
        ["password", "account", "locked", "reset"],
        None,
    ),
    (
        "printer-jam",
        "Clear a printer jam",
        "Open the front panel, remove the paper tray and pull jammed sheets gently towards "
        "you.\nIf the display still shows a jam, switch the printer off and on.",
        ["printer", "jam", "paper"],
        "Printing",
    ),
    (
        "email-mobile",
        "Read work email on your phone",
        "Install Outlook for iOS or Android and sign in with your work email.\nYour phone will "
        "ask you to enrol in device management; accept it.",
        ["email", "outlook", "phone"],
        "Email",
    ),
    (
        "wifi-guest",
        "Connect a guest to Wi-Fi",
        "Guests use the network Example-Guest. Request a day code at reception.",
        ["wifi", "guest", "wireless"],
        "Wi-Fi",
    ),
]


async def seed_demo(uow: UnitOfWork) -> dict[str, int]:
    """Load the demo directory, services and articles (idempotent)."""
    people = await import_people(uow, PEOPLE)
    for svc in SERVICES:
        group = await uow.people.group(svc.group, create=True)
        await uow.services.upsert(
            svc.name,
            criticality=svc.criticality,
            aliases=list(svc.aliases),
            description=svc.description,
            owner_group_id=group.id if group else None,
        )
    for slug, title, body, tags, service in ARTICLES:
        service_row = await uow.services.by_name(service) if service else None
        await uow.knowledge.upsert(
            slug,
            title=title,
            body=body,
            tags=tags,
            service_id=service_row.id if service_row else None,
        )
    return {
        "people": people.created + people.updated,
        "services": len(SERVICES),
        "articles": len(ARTICLES),
    }
