"""The unit of work: one transaction per message, holding every repository."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as DBInterfaceError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.exc import StaleDataError

from store.alerts import AlertRepository, IntegrationRepository
from store.catalog import CatalogRepository
from store.changes import ChangeRepository
from store.cmdb import CmdbRepository
from store.config_memo import CarriedConfig, settle_carried
from store.console import ConsoleRepository
from store.db import SessionFactory
from store.deflections import DeflectionOfferRepository
from store.desk import DeskRepository
from store.errors import ConflictError, UnavailableError
from store.improvements import ImprovementRepository
from store.inbox import InboxRepository
from store.knowledge import KnowledgeRepository
from store.knowledge_drafts import KnowledgeDraftRepository
from store.links import LinkRepository
from store.major_incidents import MajorIncidentRepository
from store.outbox import OutboxRepository
from store.people import PeopleRepository
from store.problems import ProblemRepository
from store.queues import QueueRepository
from store.releases import ReleaseRepository
from store.reports import ReportRepository
from store.repositories import (
    CursorRepository,
    DialogueRepository,
    ServiceRepository,
    TokenRepository,
)
from store.signins import SignInRepository
from store.surveys import SurveyRepository
from store.tickets import TicketRepository

# The mappers are configured at import rather than by the first ORM query, which would take
# some 150 ms longer for it: in a web role, that query may be an API call during a burst.
configure_mappers()

CONFLICTS = (StaleDataError, IntegrityError, ConflictError)
UNAVAILABLE = (OperationalError, DBInterfaceError, OSError, UnavailableError)


class UnitOfWork:
    """`async with UnitOfWork(factory) as uow:` opens a transaction; `commit()` ends it.

    Leaving the block without committing rolls back. A lost race on a row (another worker
    changed the same ticket first, or inserted the same unique key) surfaces as
    `ConflictError`, so the caller can retry the whole unit against the new state.

    With `carry`, the configuration the unit of work reads starts from what earlier units of
    work of the same batch read, and what it reads is handed on once it commits
    (`store.config_memo.CarriedConfig`).
    """

    session: AsyncSession
    people: PeopleRepository
    tickets: TicketRepository
    services: ServiceRepository
    knowledge: KnowledgeRepository
    inbox: InboxRepository
    outbox: OutboxRepository
    tokens: TokenRepository
    dialogue: DialogueRepository
    cursors: CursorRepository
    links: LinkRepository
    desk: DeskRepository
    alerts: AlertRepository
    integrations: IntegrationRepository
    cmdb: CmdbRepository
    queues: QueueRepository
    surveys: SurveyRepository
    changes: ChangeRepository
    problems: ProblemRepository
    major_incidents: MajorIncidentRepository
    reports: ReportRepository
    console: ConsoleRepository
    improvements: ImprovementRepository
    catalog: CatalogRepository
    signins: SignInRepository
    deflection_offers: DeflectionOfferRepository
    knowledge_drafts: KnowledgeDraftRepository
    releases: ReleaseRepository

    def __init__(self, factory: SessionFactory, *, carry: CarriedConfig | None = None) -> None:
        self._factory = factory
        self._carry = carry
        self._committed = False

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._factory()
        try:
            await self.session.begin()
        except Exception:
            await self.session.close()
            raise
        if self._carry is not None:
            self._carry.join(self.session)
        self.people = PeopleRepository(self.session)
        self.tickets = TicketRepository(self.session)
        self.services = ServiceRepository(self.session)
        self.knowledge = KnowledgeRepository(self.session)
        self.inbox = InboxRepository(self.session)
        self.outbox = OutboxRepository(self.session)
        self.tokens = TokenRepository(self.session)
        self.dialogue = DialogueRepository(self.session)
        self.cursors = CursorRepository(self.session)
        self.links = LinkRepository(self.session)
        self.desk = DeskRepository(self.session)
        self.queues = QueueRepository(self.session)
        self.alerts = AlertRepository(self.session)
        self.integrations = IntegrationRepository(self.session)
        self.cmdb = CmdbRepository(self.session)
        self.surveys = SurveyRepository(self.session)
        self.changes = ChangeRepository(self.session)
        self.problems = ProblemRepository(self.session)
        self.major_incidents = MajorIncidentRepository(self.session)
        self.reports = ReportRepository(self.session)
        self.console = ConsoleRepository(self.session)
        self.improvements = ImprovementRepository(self.session)
        self.catalog = CatalogRepository(self.session)
        self.signins = SignInRepository(self.session)
        self.deflection_offers = DeflectionOfferRepository(self.session)
        self.knowledge_drafts = KnowledgeDraftRepository(self.session)
        self.releases = ReleaseRepository(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back an uncommitted transaction without expiring what was loaded,
        # so values read inside the block stay readable after it.
        await self.session.close()

    async def flush(self) -> None:
        """Write pending changes without committing; a concurrent change raises `ConflictError`."""
        try:
            await self.session.flush()
            await self.outbox.flush_keyed()
        except CONFLICTS as e:
            raise ConflictError(str(e)) from e

    async def commit(self) -> None:
        """Commit the work; a concurrent change raises `ConflictError`."""
        try:
            await self.outbox.flush_keyed()
            await self.session.commit()
        except CONFLICTS as e:
            raise ConflictError(str(e)) from e
        self._committed = True
        settle_carried(self.session)

    async def rollback(self) -> None:
        """Discard the work."""
        await self.session.rollback()
