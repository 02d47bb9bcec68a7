"""Finding a user's calendars from what they typed (RFC 6764, RFC 5397, RFC 4791 §6.2).

A user gives an e-mail address, a domain or a server URL; we go

1. to a *context path*: the URL as given, else ``https://{domain}/.well-known/caldav``
   (redirects followed with the same method: httpx would turn a 302 PROPFIND into a GET);
2. to the *principal*: ``DAV:current-user-principal`` of the context path;
3. to the *calendar home*: ``C:calendar-home-set`` of the principal;
4. to the *calendars*: a Depth 1 PROPFIND of the home, keeping members whose
   ``resourcetype`` says ``C:calendar``, with name, ``CS:getctag``, ``DAV:sync-token``,
   supported components, colour, and whether ``sync-collection`` is offered.

DNS SRV/TXT look-ups (RFC 6764 §3) need a resolver library hiresync does not carry; a
domain whose CalDAV server is elsewhere works through its ``.well-known`` redirect, and
the server URL can always be given directly (advanced settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import structlog

from hiresync.providers.errors import BadRequest, NotFound, ProviderError

from . import wire
from .client import PROVIDER, UNREADABLE, CalDavClient

log = structlog.get_logger(__name__)

WELL_KNOWN = "/.well-known/caldav"
CALENDAR_PROPS = (
    wire.RESOURCETYPE,
    wire.DISPLAYNAME,
    wire.GETCTAG,
    wire.SYNC_TOKEN,
    wire.SUPPORTED_COMPONENTS,
    wire.CALENDAR_COLOR,
    wire.SUPPORTED_REPORT_SET,
)


@dataclass(frozen=True, slots=True)
class CalendarInfo:
    """One calendar collection. ``href`` is a normalised path on the account's server;
    ``ctag``/``sync_token`` change whenever a member changes; ``supports_sync`` tells whether
    RFC 6578 ``sync-collection`` is offered (else the ctag/etag scan is used)."""

    href: str
    display_name: str
    ctag: str | None = None
    sync_token: str | None = None
    components: tuple[str, ...] = ("VEVENT",)
    color: str | None = None
    supports_sync: bool = True

    @property
    def has_events(self) -> bool:
        return "VEVENT" in self.components


@dataclass(frozen=True, slots=True)
class CalDavAccount:
    """Where discovery ended: absolute URLs of the principal and calendar home, and the
    calendars found there. ``server_url`` is the origin every href is relative to."""

    server_url: str
    principal_url: str
    home_url: str
    calendars: tuple[CalendarInfo, ...]


def start_urls(start: str) -> list[str]:
    """Context paths to try for what the user typed, best first."""
    start = start.strip()
    if "://" in start:
        parts = urlsplit(start)
        root = f"{parts.scheme}://{parts.netloc}"
        urls = [start] if parts.path not in ("", "/") else []
        return [*urls, root + WELL_KNOWN, root + "/"]
    domain = start.rsplit("@", 1)[-1].strip("/").lower()
    if not domain or "/" in domain or " " in domain:
        raise BadRequest(f"not an e-mail address, domain or URL: {start!r}", provider=PROVIDER)
    return [f"https://{domain}{WELL_KNOWN}"]


async def find_principal(client: CalDavClient, url: str) -> str | None:
    """The principal URL the context path ``url`` names for the authenticated user."""
    answer = await client.propfind(url, (wire.CURRENT_USER_PRINCIPAL,), follow=True)
    for response in answer.responses:
        hrefs = response.values(wire.CURRENT_USER_PRINCIPAL)
        if hrefs:
            return urljoin(answer.url, hrefs[0])
    return None


async def find_home(client: CalDavClient, principal_url: str) -> str:
    """The calendar home set of a principal (the first, when several are listed)."""
    answer = await client.propfind(principal_url, (wire.CALENDAR_HOME_SET,), follow=True)
    for response in answer.responses:
        hrefs = response.values(wire.CALENDAR_HOME_SET)
        if hrefs:
            return urljoin(answer.url, hrefs[0])
    raise NotFound("The server names no calendar home for this account.", provider=PROVIDER)


def calendar_info(response: wire.DavResponse) -> CalendarInfo | None:
    """A PROPFIND response as a calendar, or None when it is not one."""
    if wire.CALENDAR not in response.values(wire.RESOURCETYPE):
        return None
    reports = response.values(wire.SUPPORTED_REPORT_SET)
    token = response.text(wire.SYNC_TOKEN) or None
    # No supported-report-set at all: trust a sync-token, which only RFC 6578 servers have.
    supports_sync = wire.SYNC_COLLECTION in reports if reports else token is not None
    href = response.href
    return CalendarInfo(
        href=href if href.endswith("/") else href + "/",
        display_name=(response.text(wire.DISPLAYNAME) or "").strip()
        or href.rstrip("/").rsplit("/", 1)[-1],
        ctag=response.text(wire.GETCTAG) or None,
        sync_token=token,
        components=response.values(wire.SUPPORTED_COMPONENTS) or ("VEVENT", "VTODO"),
        color=(response.text(wire.CALENDAR_COLOR) or "").strip() or None,
        supports_sync=supports_sync,
    )


async def list_calendars(client: CalDavClient, home_url: str) -> list[CalendarInfo]:
    """The calendars in a calendar home (Depth 1), in the server's order."""
    answer = await client.propfind(home_url, CALENDAR_PROPS, depth="1")
    found = (calendar_info(response) for response in answer.responses)
    return [info for info in found if info is not None]


async def calendar(client: CalDavClient, href: str) -> CalendarInfo:
    """One calendar's properties (Depth 0): its ctag and sync-token as they are now."""
    answer = await client.propfind(href, CALENDAR_PROPS, depth="0")
    for response in answer.responses:
        info = calendar_info(response)
        if info is not None:
            return info
    raise NotFound(f"{href} is not a calendar.", provider=PROVIDER)


async def discover(client: CalDavClient, start: str | None = None) -> CalDavAccount:
    """From an e-mail address, a domain or a URL (default: the client's base URL) to the
    account's calendars. The client is rebased onto the calendar home's server."""
    principal: str | None = None
    tried: list[str] = []
    for url in start_urls(start or client.base_url):
        tried.append(url)
        try:
            principal = await find_principal(client, url)
        except ProviderError as exc:
            if not _worth_next(exc):
                raise
            log.info("caldav.discovery.miss", url=url, error=exc.message)
            continue
        if principal:
            break
    if not principal:
        raise NotFound(f"No CalDAV service found at {', '.join(tried)}.", provider=PROVIDER)
    home = await find_home(client, principal)
    client.rebase(home)
    calendars = await list_calendars(client, home)
    return CalDavAccount(client.base_url, principal, home, tuple(calendars))


def _worth_next(exc: ProviderError) -> bool:
    """A context path that is not a DAV endpoint (404, 405, a web page) means "try the next
    one"; refused credentials or a server that is down do not."""
    return type(exc) in (NotFound, BadRequest, ProviderError) or exc.code == UNREADABLE
