"""How a request's times are read and an answer's times written: one IANA zone per
request (``time_zone``), used for times given without an offset and for the answer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hiresync.services import validation
from hiresync.services.errors import InvalidInput


class RequestClock:
    """Reads times without an offset in the request's zone; writes answers in it."""

    def __init__(self, name: str | None, *, field: str = "time_zone") -> None:
        self.name = validation.time_zone(name, field=field) if name else "UTC"
        self.zone = ZoneInfo(self.name)
        self.named = name is not None

    def read(self, moment: datetime, field: str) -> datetime:
        if moment.tzinfo is not None:
            return moment
        if not self.named:
            raise InvalidInput(
                f"{field} has no UTC offset and no time_zone was given.",
                hint='Write it like 2026-11-23T09:00:00Z, or add "time_zone": "Europe/London".',
                field=field,
            )
        return moment.replace(tzinfo=self.zone)

    def write(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)
