"""The composition root: one object per process holding settings, database, keys, the
job app and the provider implementations, built once by whichever door starts first
(server, worker, CLI) and handed to services and tasks."""

from __future__ import annotations

from dataclasses import dataclass, field

import procrastinate
import structlog

from hiresync.config import Settings
from hiresync.providers.base import CompanyCalendar, MeetingAccounts
from hiresync.services.tokens import TokenMemo
from hiresync.store.crypto import (
    Keyring,
    load_or_create_keyring,
    load_or_create_secret,
    parse_keyring,
)
from hiresync.store.db import Database, resolve_database_uri

log = structlog.get_logger(__name__)


def load_keyring(settings: Settings) -> Keyring:
    if settings.encryption_keys:
        return parse_keyring(settings.encryption_keys)
    return load_or_create_keyring(settings.keys_dir)


def session_secret(settings: Settings) -> str:
    return settings.session_secret or load_or_create_secret(settings.keys_dir, "session.secret")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keyring: Keyring
    jobs: procrastinate.App
    calendars: dict[str, CompanyCalendar] = field(default_factory=dict)
    meeting_accounts: dict[str, MeetingAccounts] = field(default_factory=dict)
    tokens: TokenMemo = field(default_factory=dict)  # access tokens read, by connection

    @classmethod
    def build(cls, settings: Settings, *, uri: str | None = None) -> Runtime:
        """Everything but network connections: those open in ``start``."""
        from hiresync.jobs.engine import build_job_app
        from hiresync.providers.microsoft.company import MicrosoftCompanyCalendar
        from hiresync.providers.zoom import ZoomAccounts

        uri = uri or resolve_database_uri(settings)
        runtime = cls(
            settings=settings,
            db=Database.connect(uri),
            keyring=load_keyring(settings),
            jobs=build_job_app(uri),
        )
        runtime.calendars["microsoft"] = MicrosoftCompanyCalendar.from_settings(settings)
        runtime.meeting_accounts["zoom"] = ZoomAccounts.from_settings(settings)
        return runtime

    def calendar(self, provider: str) -> CompanyCalendar:
        return self.calendars[provider]

    def meeting_provider(self, provider: str) -> MeetingAccounts:
        return self.meeting_accounts[provider]

    async def start(self) -> None:
        await self.jobs.open_async()

    async def close(self) -> None:
        for calendar in self.calendars.values():
            await calendar.aclose()
        for accounts in self.meeting_accounts.values():
            await accounts.aclose()
        await self.jobs.close_async()
        await self.db.dispose()
