"""hiresync's copy of an event of a synced calendar, in provider-neutral terms.

Each provider's sync side maps what its server holds (a CalDAV resource, a Graph event) to
an ``EventCopy``; the store keeps it, availability reads it, and the sync engine compares
copies by ``digest`` (a hash of the provider's normalised content, so the two sides of a
pair are compared in one representation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Origin(StrEnum):
    """Where an event of the local copy comes from, which decides whether it syncs out."""

    REMOTE = "remote"  # read from the person's calendar
    HIRESYNC = "hiresync"  # made in hiresync (an interview, an event created one by one)
    IMPORTED = "imported"  # brought into the platform from elsewhere: never synced out


@dataclass(frozen=True, slots=True)
class EventCopy:
    """One event (a whole recurring series, with its exceptions, counts as one).

    Times are UTC; an all-day event starts at midnight UTC of its date. A series has
    ``recurring`` set and ``ends_at`` None (it has no end the store could index); its rule
    and exceptions are in ``raw``. ``busy`` is False for transparent (free) and cancelled
    events. ``owned``: the person organizes it (or nobody does), so it may sync out."""

    uid: str
    digest: str
    summary: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    all_day: bool = False
    time_zone: str | None = None
    busy: bool = True
    status: str = "confirmed"
    recurring: bool = False
    owned: bool = True
    modified: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Something the server sent that could not be read: kept with its reason, shown to the
    person, never synced (neither applied nor deleted) until the server sends it readable."""

    uid: str
    ident: str
    reason: str
    raw: str | None = None
