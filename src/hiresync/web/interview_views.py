"""How an interview's state reads on its pages: each calendar's state, and the history in
words. Pure functions of the rows (no routes, no queries), kept apart from the page
handlers so each module stays readable."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hiresync.domain.interviews import INTERNAL_FIELDS
from hiresync.services import interviews
from hiresync.store.tables import CalendarLink, Interview, InterviewHistory, User

# fmt: off
ACTION_WORDS = {  # the others read well as they are: created, rescheduled, …
    "confirmed": "Confirmed and sent", "calendar_synced": "Calendar updated",
    "calendar_failed": "Calendar write failed", "meeting_not_created": "Meeting not created",
    "relinked": "Calendar event re-linked", "edited": "Edited",
}
# fmt: on


@dataclass(frozen=True)
class CalendarRow:
    """One calendar the interview goes to: pending, written or failed, and why."""

    mailbox: str
    state: str
    error: str | None = None


def _span(start: datetime, end: datetime, zone_name: str) -> str:
    zone = ZoneInfo(zone_name)
    a, b = start.astimezone(zone), end.astimezone(zone)
    tail = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%a %d %b %Y %H:%M}"
    return f"{a:%a %d %b %Y %H:%M}–{tail} ({zone.key})"


def _instant(value: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _link_state(link: CalendarLink, sequence: int, retrying: bool = False) -> str:
    if link.state == "failed" and not retrying:
        return "failed"
    if link.state == "synced" and link.synced_sequence >= sequence:
        return "written"
    return "pending"


def _retrying(history: list[InterviewHistory]) -> bool:
    """Whether a change was sent after the calendar's last answer, so a failed write is
    being tried again with it (an edit of internal notes alone sends nothing)."""
    for entry in reversed(history):
        if entry.action in ("calendar_failed", "calendar_synced"):
            return False
        if entry.action in ("confirmed", "rescheduled", "cancelled"):
            return True
        if (
            entry.action == "edited"
            and set((entry.details or {}).get("after", ())) - INTERNAL_FIELDS
        ):
            return True
    return False


def _calendars(
    interview: Interview, links: list[CalendarLink], sent: bool, retrying: bool = False
) -> list[CalendarRow]:
    """One row per calendar; a sent interview whose job has not started yet is pending,
    and so is a failed write that a later change is trying again."""
    rows = [
        CalendarRow(link.mailbox, _link_state(link, interview.sequence, retrying), link.last_error)
        for link in links
    ]
    if not rows and sent:
        rows.append(CalendarRow(interview.organizer_mailbox, "pending"))
    return rows


def _summary(rows: list[CalendarRow]) -> str:
    if not rows:
        return "not sent"
    counts = Counter(r.state for r in rows)
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def _shown(value: Any) -> str:
    """One field's value in a history line: short, lists and meetings flattened."""
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "—"
    if isinstance(value, dict):  # a meeting: its type first (JSONB keeps no key order)
        kind = str(value.get("type", "")).replace("_", " ")
        return " ".join([kind, *(str(v) for k, v in value.items() if k != "type")]).strip()
    text = " ".join(str(value).split())
    return text if len(text) <= 80 else text[:79] + "…"


def _edited(before: dict[str, Any], after: dict[str, Any], zone: str) -> str:
    """An edit as "field: from → to", a move as the spans it went between."""
    parts = []
    if {"start", "end"} <= after.keys():
        moved = _details("rescheduled", {"before": before, "after": after}, zone)
        parts.append(f"When: {moved[0].lower()}{moved[1:]}")
    for name, value in after.items():
        if name not in ("start", "end"):
            label = name.replace("_", " ").capitalize()
            parts.append(f"{label}: {_shown(before.get(name))} → {_shown(value)}")
    return "; ".join(parts)


def _details(action: str, details: dict[str, Any], zone: str) -> str:
    """A history entry's details in words; a reschedule as from -> to, an edit field by
    field."""
    if action == "edited" and {"before", "after"} <= details.keys():
        return _edited(details["before"], details["after"], zone)
    if action == "rescheduled" and {"before", "after"} <= details.keys():
        spans = []
        for moment in (details["before"], details["after"]):
            start, end = _instant(moment.get("start")), _instant(moment.get("end"))
            spans.append(_span(start, end, zone) if start and end else str(moment))
        return f"From {spans[0]} to {spans[1]}"
    if action == "calendar_synced" and "result" in details:
        return f"{str(details['result']).capitalize()} of {details.get('mailbox', '')}"
    return "; ".join(f"{k.replace('_', ' ').capitalize()}: {v}" for k, v in details.items())


def _history(view: interviews.InterviewView, user: User) -> list[dict[str, str]]:
    zone = ZoneInfo(user.time_zone)
    return [
        {
            "action": h.action,
            "label": ACTION_WORDS.get(h.action, h.action.replace("_", " ").capitalize()),
            "actor": h.actor,
            "at": f"{h.at.astimezone(zone):%d %b %Y %H:%M:%S}",
            "details": _details(h.action, h.details or {}, view.interview.time_zone),
        }
        for h in view.history
    ]
