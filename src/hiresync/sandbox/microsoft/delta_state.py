"""State tokens of ``calendarView/delta``: what a client was told, and what changed since.

Outlook keeps a *sync state* per token in a bounded cache (delta-query-overview.md, "Token
duration"); this module is that cache. A token stands for a :class:`Snapshot` of one calendar
view as the client holds it after a round: a fingerprint of every event of the mailbox (to see
changes *outside* the window, which Graph reports as ``@removed`` — event-delta.md) and of every
item the client was sent. A new round diffs the mailbox against that snapshot; the items it
must send are fixed when the round starts, so every ``$skiptoken`` of the round answers the
same page however often it is retried.

Which items a round sends, as Outlook does (each ⚠ is a ``Limits`` switch):

* single instances and exceptions in full; occurrences as stubs (``id``, ``type``,
  ``seriesMasterId``, ``start``, ``end`` — microsoft-graph-docs issues #7632, contrib #34);
  the series master in full with them ⚠;
* a series whose master changed is sent whole, and never split across pages ⚠ (docs PR #4501:
  "Series won't be split on multiple delta pages" — so a page may exceed ``maxpagesize``);
* a deleted or cancelled event, or one that left the window: ``@removed`` (reason ``deleted``);
  a single deleted occurrence of a series that is still shown: no indication ⚠ (PR #4501);
* an event outside the window that was added, changed or deleted: ``@removed`` too.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from .model import Calendar, Event, Limits, User
from .recurrence import MailboxIndex, Occurrence

RowKind = Literal["full", "master", "stub", "removed"]


@dataclass(frozen=True, slots=True)
class Row:
    """One item of a delta page: an instance, a series master, a stub or a removal."""

    kind: RowKind
    item_id: str
    occurrence: Occurrence | None = None
    master: Event | None = None


@dataclass(frozen=True)
class Snapshot:
    """What the holder of a token knows: ``masters`` every event of the mailbox by id,
    ``visible`` every item id in the window -> (master id, fingerprint)."""

    version: int
    masters: dict[str, int]
    visible: dict[str, tuple[str, int]]


@dataclass
class Round:
    """The items of one round, fixed when it starts, and the snapshot its deltaLink carries."""

    mailbox: str
    start: datetime
    end: datetime
    groups: list[list[Row]]
    snapshot: Snapshot
    links: dict[int, str] = field(default_factory=dict)  # offset -> token (-1: delta)

    def page(self, offset: int, size: int) -> tuple[list[Row], int]:
        """Rows from group ``offset`` until ``size`` is reached (whole groups), and the next
        offset; a first group larger than ``size`` is sent whole."""
        rows: list[Row] = []
        index = offset
        while index < len(self.groups) and (
            not rows or len(rows) + len(self.groups[index]) <= size
        ):
            rows.extend(self.groups[index])
            index += 1
        return rows, index


@dataclass
class Token:
    """A ``$deltatoken`` (``round`` None) or a ``$skiptoken`` (``round`` and ``offset``)."""

    mailbox: str
    issued: float
    start: datetime
    end: datetime
    snapshot: Snapshot | None = None
    round: Round | None = None
    offset: int = 0
    state: str = "live"  # live | expired | reset


class TokenGone(Exception):
    """The token is unknown, evicted, aged out or expired (``reset``: resyncRequired)."""

    def __init__(self, reset: bool, token: Token | None) -> None:
        super().__init__("reset" if reset else "expired")
        self.reset, self.token = reset, token


def fingerprint(event: Event) -> int:
    """A value that changes whenever anything Graph renders for ``event`` changes."""
    exceptions = tuple(
        sorted(
            (day, None if o is None else (o.start, o.end, o.subject, o.location, o.show_as))
            for day, o in event.exceptions.items()
        )
    )
    attendees = tuple(
        (a.address, a.name, a.type, a.response, a.response_time) for a in event.attendees
    )
    recurrence = json.dumps(event.recurrence, sort_keys=True) if event.recurrence else None
    return hash(
        (
            event.change_key,
            event.modified,
            event.subject,
            event.start,
            event.end,
            event.time_zone,
            event.location,
            event.show_as,
            event.sensitivity,
            event.is_all_day,
            event.is_cancelled,
            event.organizer,
            event.response,
            event.response_time,
            event.is_online_meeting,
            event.body,
            event.importance,
            tuple(event.categories),
            event.reminder_minutes,
            recurrence,
            exceptions,
            attendees,
        )
    )


def item_id(occurrence: Occurrence) -> str:
    """The id Graph gives an instance (the same rule as ``event_wire.render_event``)."""
    if occurrence.kind == "singleInstance" or occurrence.original_start is None:
        return occurrence.event.id
    return f"{occurrence.event.id}_{occurrence.original_start:%Y%m%d}"


def current_view(
    user: User | Calendar, index: MailboxIndex, start: datetime, end: datetime, limits: Limits
) -> tuple[list[list[Row]], Snapshot]:
    """The calendar view now (of ``user``'s default calendar, or of a ``Calendar``), grouped
    by series (in start order), and its snapshot."""
    masters = {event.id: fingerprint(event) for event in user.events}
    series: dict[str, list[Occurrence]] = {}
    for item in index.overlapping(start, end):
        if item.start < end and not item.event.is_cancelled:
            series.setdefault(item.event.id, []).append(item)
    groups: list[list[Row]] = []
    visible: dict[str, tuple[str, int]] = {}
    for master_id, items in series.items():
        event = items[0].event
        mark = masters.get(master_id, fingerprint(event))
        rows: list[Row] = []
        if event.recurrence is not None and limits.delta_series_master:
            rows.append(Row("master", master_id, master=event))
            visible[master_id] = (master_id, mark)
        for item in items:
            stub = item.kind == "occurrence" and limits.delta_occurrence_stubs
            rows.append(Row("stub" if stub else "full", item_id(item), occurrence=item))
            visible[item_id(item)] = (master_id, hash((mark, item.start, item.end)))
        groups.append(rows)
    return groups, Snapshot(user.version, masters, visible)


def changes(
    before: Snapshot, groups: list[list[Row]], now: Snapshot, limits: Limits
) -> list[list[Row]]:
    """What a client holding ``before`` must be sent: removals first, then new or changed
    items (a changed series whole)."""
    sent: list[list[Row]] = []
    for rows in groups:
        changed = [r for r in rows if before.visible.get(r.item_id) != now.visible[r.item_id]]
        if not changed:
            continue
        is_series = any(r.kind != "full" or _in_series(r) for r in rows)
        sent.append(rows if is_series else changed)
    return [[Row("removed", i)] for i in _removed(before, now, limits)] + sent


def _in_series(row: Row) -> bool:
    return row.occurrence is not None and row.occurrence.kind != "singleInstance"


def _removed(before: Snapshot, now: Snapshot, limits: Limits) -> list[str]:
    shown_series = {master for master, _ in now.visible.values()}
    removed: list[str] = []
    for item, (master, _) in before.visible.items():
        if item in now.visible:
            continue
        one_occurrence = item != master and master in shown_series
        if one_occurrence and not limits.delta_cancelled_occurrence_removed:
            continue  # PR #4501: "No indication is given for a deleted occurrence"
        removed.append(item)
    if limits.delta_out_of_window_removed:
        told = set(removed)
        for master in before.masters.keys() | now.masters.keys():
            outside = master not in shown_series and master not in before.visible
            if (
                outside
                and master not in told
                and before.masters.get(master) != now.masters.get(master)
            ):
                removed.append(master)
    return removed


class DeltaStore:
    """The sync-state cache: tokens by value, evicted oldest first per mailbox."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._order: dict[str, OrderedDict[str, None]] = {}
        self._lock = threading.Lock()

    def issue(self, token: Token, limits: Limits) -> str:
        value = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[value] = token
            order = self._order.setdefault(token.mailbox, OrderedDict())
            order[value] = None
            while len(order) > max(1, limits.delta_token_cache):
                old, _ = order.popitem(last=False)
                self._tokens.pop(old, None)
        return value

    def skip_link(self, round_: Round, offset: int, now: float, limits: Limits) -> str:
        """The ``$skiptoken`` for ``offset`` of ``round_`` (the same one when asked again)."""
        known = round_.links.get(offset)
        if known is not None and known in self._tokens:
            return known
        token = Token(round_.mailbox, now, round_.start, round_.end, round=round_, offset=offset)
        round_.links[offset] = self.issue(token, limits)
        return round_.links[offset]

    def delta_link(self, round_: Round, now: float, limits: Limits) -> str:
        """The ``$deltatoken`` that ends ``round_`` (the same one when asked again)."""
        known = round_.links.get(-1)
        if known is not None and known in self._tokens:
            return known
        token = Token(round_.mailbox, now, round_.start, round_.end, snapshot=round_.snapshot)
        round_.links[-1] = self.issue(token, limits)
        return round_.links[-1]

    def find(self, value: str, mailbox: str, now: float, limits: Limits) -> Token:
        """The live token ``value`` of ``mailbox``; raises :class:`TokenGone` otherwise."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None or token.mailbox != mailbox:
            raise TokenGone(False, None)
        if token.state == "reset":
            raise TokenGone(True, token)
        if token.state == "expired" or now - token.issued > limits.delta_token_lifetime:
            raise TokenGone(False, token)
        return token

    def expire(self, prefix: str, *, reset: bool = False) -> int:
        """Expire every token of mailboxes whose key starts with ``prefix`` (``tenant/`` or
        ``tenant/user``); ``reset`` makes them answer ``resyncRequired`` instead."""
        count = 0
        with self._lock:
            for token in self._tokens.values():
                if token.mailbox.startswith(prefix) and token.state == "live":
                    token.state = "reset" if reset else "expired"
                    count += 1
        return count
