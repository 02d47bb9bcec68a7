"""CalDAV (RFC 4791) accounts: a server URL, a user name and an app password.

``client`` speaks WebDAV/CalDAV over httpx (retries, Basic auth, error mapping), ``wire``
writes the XML bodies and reads multistatus answers as they stream in, ``parse`` turns
iCalendar text into light event records without icalendar's object model, ``discovery``
goes from an e-mail address or URL to the calendars (RFC 6764), and ``adapter`` offers the
sync operations: list calendars, read all, read changes (RFC 6578 sync-collection, or a
ctag/etag scan), create, update, delete with etag preconditions.
"""

from .adapter import CalDavCalendars, ReadPage, ReadResult, WriteResult, resource_name
from .client import CalDavClient, RetryPolicy
from .discovery import CalDavAccount, CalendarInfo, discover
from .parse import CalendarItem, IcsEvent, Party, parse_item
from .recurrence import expand

__all__ = [
    "CalDavAccount",
    "CalDavCalendars",
    "CalDavClient",
    "CalendarInfo",
    "CalendarItem",
    "IcsEvent",
    "Party",
    "ReadPage",
    "ReadResult",
    "RetryPolicy",
    "WriteResult",
    "discover",
    "expand",
    "parse_item",
    "resource_name",
]
