"""The WebDAV/CalDAV XML we send (request bodies) and read (multistatus, error bodies).

Request bodies are small fixed templates, written out as text rather than built as trees:
they are the protocol's examples (RFC 4791 §7.9, RFC 6578 §3.8) and a reader can hold them
against the RFCs; every value put into them is escaped.

Answers are read by :class:`MultistatusReader`, which is fed the body chunk by chunk as it
arrives and hands out each ``<D:response>`` as soon as its end tag is seen, then drops the
element: a 5,000-event ``calendar-multiget`` answer (~8 MB of XML) is never held as a whole
tree, and parsing overlaps the download. It uses the standard library's C ``XMLPullParser``
(expat): defusedxml is not a runtime dependency of hiresync, and it is not needed here —
``xml.etree`` never fetches external entities or DTDs, and expat ≥ 2.4.1 (2.5 on Python
3.11) refuses billion-laughs and quadratic-blowup entity expansion (see the ``xml``
module's "XML vulnerabilities" table).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree as ET  # safe with expat ≥ 2.4.1, see above
from xml.sax.saxutils import escape

DAV: Final = "DAV:"
CALDAV: Final = "urn:ietf:params:xml:ns:caldav"
CS: Final = "http://calendarserver.org/ns/"  # getctag: a CalendarServer extension
ICAL: Final = "http://apple.com/ns/ical/"  # calendar-color: an Apple extension


def clark(namespace: str, name: str) -> str:
    """The ``{namespace}name`` form ElementTree uses for a qualified name."""
    return f"{{{namespace}}}{name}"


# Properties, in Clark notation, as keys of ``DavResponse.props``.
RESOURCETYPE: Final = clark(DAV, "resourcetype")
DISPLAYNAME: Final = clark(DAV, "displayname")
GETETAG: Final = clark(DAV, "getetag")
SYNC_TOKEN: Final = clark(DAV, "sync-token")
CURRENT_USER_PRINCIPAL: Final = clark(DAV, "current-user-principal")
SUPPORTED_REPORT_SET: Final = clark(DAV, "supported-report-set")
CALENDAR_HOME_SET: Final = clark(CALDAV, "calendar-home-set")
CALENDAR_DATA: Final = clark(CALDAV, "calendar-data")
SUPPORTED_COMPONENTS: Final = clark(CALDAV, "supported-calendar-component-set")
GETCTAG: Final = clark(CS, "getctag")
CALENDAR_COLOR: Final = clark(ICAL, "calendar-color")
# Values met inside properties and error bodies.
MULTISTATUS: Final = clark(DAV, "multistatus")
COLLECTION: Final = clark(DAV, "collection")
CALENDAR: Final = clark(CALDAV, "calendar")
SYNC_COLLECTION: Final = clark(DAV, "sync-collection")
VALID_SYNC_TOKEN: Final = clark(DAV, "valid-sync-token")

_RESPONSE = clark(DAV, "response")
_HREF = clark(DAV, "href")
_STATUS = clark(DAV, "status")
_PROPSTAT = clark(DAV, "propstat")
_PROP = clark(DAV, "prop")
_COMP = clark(CALDAV, "comp")
_REPORT = clark(DAV, "report")
_PREFIXES = {DAV: "d", CALDAV: "c", CS: "cs", ICAL: "ical"}
_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'
_XMLNS = (
    'xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" '
    'xmlns:cs="http://calendarserver.org/ns/" xmlns:ical="http://apple.com/ns/ical/"'
)
_HREF_SAFE = "/@:+$,;=!~*'()&"
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9/@:+$,;=!~*'()&._-]*")


# -- request bodies ------------------------------------------------------------------------


def _prop_tags(props: Iterable[str]) -> str:
    """``<d:prop>`` children for Clark names of the four namespaces we use."""
    tags = []
    for name in props:
        namespace, local = name[1:].split("}", 1)
        tags.append(f"<{_PREFIXES[namespace]}:{local}/>")
    return "".join(tags)


def propfind_body(props: Iterable[str]) -> bytes:
    return f"{_HEAD}<d:propfind {_XMLNS}><d:prop>{_prop_tags(props)}</d:prop></d:propfind>".encode()


def sync_collection_body(
    token: str | None, props: Iterable[str], limit: int | None = None
) -> bytes:
    """RFC 6578 §3.2: an empty ``sync-token`` asks for every member (the initial sync)."""
    token_tag = f"<d:sync-token>{escape(token)}</d:sync-token>" if token else "<d:sync-token/>"
    limit_tag = f"<d:limit><d:nresults>{int(limit)}</d:nresults></d:limit>" if limit else ""
    return (
        f"{_HEAD}<d:sync-collection {_XMLNS}>{token_tag}<d:sync-level>1</d:sync-level>"
        f"{limit_tag}<d:prop>{_prop_tags(props)}</d:prop></d:sync-collection>"
    ).encode()


def multiget_body(hrefs: Iterable[str]) -> bytes:
    """RFC 4791 §7.9: the etag and the full text of each member named."""
    listed = "".join(f"<d:href>{escape(href)}</d:href>" for href in hrefs)
    return (
        f"{_HEAD}<c:calendar-multiget {_XMLNS}><d:prop><d:getetag/><c:calendar-data/>"
        f"</d:prop>{listed}</c:calendar-multiget>"
    ).encode()


def mkcalendar_body(display_name: str, color: str | None, components: Iterable[str]) -> bytes:
    """RFC 4791 §5.3.1: a calendar with a name, an optional colour and its component types."""
    comps = "".join(f'<c:comp name="{escape(c, {chr(34): "&quot;"})}"/>' for c in components)
    color_tag = f"<ical:calendar-color>{escape(color)}</ical:calendar-color>" if color else ""
    return (
        f"{_HEAD}<c:mkcalendar {_XMLNS}><d:set><d:prop>"
        f"<d:displayname>{escape(display_name)}</d:displayname>{color_tag}"
        f"<c:supported-calendar-component-set>{comps}</c:supported-calendar-component-set>"
        f"</d:prop></d:set></c:mkcalendar>"
    ).encode()


# -- answers ----------------------------------------------------------------------------------

PropValue = str | tuple[str, ...]
R = TypeVar("R")


@dataclass(slots=True)
class DavResponse:
    """One ``<D:response>``: its href, the response-level status (sync-collection's 404 for a
    removed member, 507 for a truncated answer) and the properties found (200 propstat).

    Property values are text, or for structured properties a tuple: the hrefs of
    ``current-user-principal``/``calendar-home-set``, the component names of
    ``supported-calendar-component-set``, the reports of ``supported-report-set``, the child
    element names of anything else (``resourcetype``)."""

    href: str
    status: int | None = None
    props: dict[str, PropValue] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)

    def text(self, name: str) -> str | None:
        value = self.props.get(name)
        return value if isinstance(value, str) else None

    def values(self, name: str) -> tuple[str, ...]:
        value = self.props.get(name)
        return value if isinstance(value, tuple) else ()


@dataclass(slots=True)
class Multistatus(Generic[R]):
    """A 207 answer: its responses (as read, or as converted while streaming), the report's
    own sync-token (RFC 6578), and the URL that answered (after redirects)."""

    responses: list[R]
    sync_token: str | None = None
    url: str = ""


def status_code(line: str | None) -> int | None:
    """``HTTP/1.1 404 Not Found`` → 404; None for a missing or garbled status line."""
    if not line:
        return None
    parts = line.split(None, 2)
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    return None


def normalize_href(href: str) -> str:
    """An href as a canonical absolute path, so that ``/a/b%40c.ics`` from one report and
    ``/a/b@c.ics`` from another name the same member (servers differ in what they escape).
    A plain path (the usual case) is returned as it is, without parsing."""
    if _PLAIN_PATH.fullmatch(href):
        return href
    path = urlsplit(href.strip()).path or "/"
    return quote(unquote(path), safe=_HREF_SAFE)


def _prop_value(element: ET.Element) -> PropValue:
    if len(element) == 0:
        return element.text or ""
    tag = element.tag
    if tag == SUPPORTED_COMPONENTS:
        return tuple(c.get("name", "").upper() for c in element.iter(_COMP))
    if tag == SUPPORTED_REPORT_SET:
        return tuple(r[0].tag for r in element.iter(_REPORT) if len(r))
    hrefs = element.findall(_HREF)
    if hrefs:
        return tuple(normalize_href(h.text or "") for h in hrefs)
    return tuple(child.tag for child in element)


def read_response(element: ET.Element) -> DavResponse:
    """One ``<D:response>`` element as a :class:`DavResponse` (one pass over its children:
    this runs once per event of a sync)."""
    answer = DavResponse(href="")
    for child in element:
        tag = child.tag
        if tag == _PROPSTAT:
            _read_propstat(child, answer)
        elif tag == _HREF:
            answer.href = normalize_href((child.text or "").strip())
        elif tag == _STATUS:
            answer.status = status_code(child.text)
    return answer


def _read_propstat(propstat: ET.Element, answer: DavResponse) -> None:
    status: int | None = None
    prop: ET.Element | None = None
    for child in propstat:
        if child.tag == _STATUS:
            status = status_code(child.text)
        elif child.tag == _PROP:
            prop = child
    if prop is None:
        return
    if status is not None and 200 <= status < 300:
        for item in prop:
            answer.props[item.tag] = _prop_value(item)
    else:
        answer.missing.update(item.tag for item in prop)


class MultistatusReader:
    """Incremental ``<D:multistatus>`` parser: ``feed`` chunks, collect responses as they end.

    Raises ``ET.ParseError`` for a body that is not well-formed XML; ``ValueError`` when the
    root element is not ``multistatus``."""

    __slots__ = ("_depth", "_parser", "sync_token")

    def __init__(self) -> None:
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._depth = 0  # 1 inside the root: only its own sync-token is the report's
        self.sync_token: str | None = None

    def feed(self, chunk: bytes) -> Iterator[DavResponse]:
        self._parser.feed(chunk)
        return self._drain()

    def close(self) -> Iterator[DavResponse]:
        self._parser.close()
        return self._drain()

    def _drain(self) -> Iterator[DavResponse]:
        for event, element in self._parser.read_events():
            if event == "start":
                if self._depth == 0 and element.tag != MULTISTATUS:
                    raise ValueError(f"expected a multistatus, got {element.tag}")
                self._depth += 1
                continue
            self._depth -= 1
            if self._depth != 1:
                continue
            if element.tag == _RESPONSE:
                yield read_response(element)
                element.clear()  # keep the tree from growing: the reader holds no history
            elif element.tag == SYNC_TOKEN:
                self.sync_token = (element.text or "").strip() or None


def parse_multistatus(body: bytes) -> Multistatus[DavResponse]:
    """A whole multistatus body at once (small answers: PROPFIND Depth 0, tests)."""
    reader = MultistatusReader()
    responses = list(reader.feed(body))
    responses.extend(reader.close())
    return Multistatus(responses, reader.sync_token)


def error_conditions(body: bytes) -> frozenset[str]:
    """The precondition/postcondition elements of a ``<D:error>`` body (RFC 4918 §16), e.g.
    ``{DAV:}valid-sync-token``; empty for a body that is not one."""
    try:
        root = ET.fromstring(body)  # noqa: S314 - see the module docstring
    except ET.ParseError:
        return frozenset()
    if root.tag != clark(DAV, "error"):
        return frozenset()
    return frozenset(child.tag for child in root)
