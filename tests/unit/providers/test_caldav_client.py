"""The CalDAV client's wire rules with HTTP faked (httpx.MockTransport): Basic auth, what is
retried (Retry-After obeyed), how each refusal maps to our errors — the invalid sync-token
statuses above all — where credentials may go, and the adapter's paging and fallbacks."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest

from hiresync.providers.caldav import CalDavCalendars
from hiresync.providers.caldav.client import CalDavClient, RetryPolicy
from hiresync.providers.caldav.discovery import start_urls
from hiresync.providers.caldav.wire import GETETAG
from hiresync.providers.errors import (
    AuthRevoked,
    BadRequest,
    Conflict,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    SyncTokenExpired,
)

Handler = Callable[[httpx.Request], httpx.Response]
BASE = "https://dav.example.com/"
CAL = "/dav/alice/work/"
VALID_SYNC_TOKEN = b'<?xml version="1.0"?><d:error xmlns:d="DAV:"><d:valid-sync-token/></d:error>'
ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART:20260302T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"


def multistatus(*responses: str, token: str | None = None) -> httpx.Response:
    tail = f"<d:sync-token>{token}</d:sync-token>" if token else ""
    body = f'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">{"".join(responses)}{tail}</d:multistatus>'
    return httpx.Response(207, content=body.encode(), headers={"Content-Type": "application/xml"})


def member(href: str, etag: str, data: str | None = None) -> str:
    text = f"<c:calendar-data>{data}</c:calendar-data>" if data is not None else ""
    return (
        f"<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:getetag>{etag}</d:getetag>"
        f"{text}</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )


def status(href: str, code: str) -> str:
    return f"<d:response><d:href>{href}</d:href><d:status>HTTP/1.1 {code}</d:status></d:response>"


class Fake:
    """A client on a MockTransport; records requests and sleeps."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []
        queue = list(answers)

        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            if isinstance(answer, Exception):
                raise answer
            return answer(request) if callable(answer) else answer

        self.client = CalDavClient(
            BASE,
            username="alice",
            password="app-pass",
            transport=httpx.MockTransport(handle),
            retry=RetryPolicy(max_retries=3, base_delay=0.5, max_delay=4, max_retry_after=60),
            sleep=self.sleep,
        )

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


# -- auth and retries ------------------------------------------------------------------------


async def test_basic_auth_with_user_name_and_app_password() -> None:
    fake = Fake(multistatus(member(CAL + "a.ics", '"1"')))
    await fake.client.propfind(CAL, (GETETAG,), depth="1")
    expected = "Basic " + base64.b64encode(b"alice:app-pass").decode()
    request = fake.requests[0]
    assert request.headers["Authorization"] == expected
    assert (request.method, request.headers["Depth"]) == ("PROPFIND", "1")
    assert request.headers["Content-Type"].startswith("application/xml")


async def test_503_with_retry_after_is_waited_out_then_retried() -> None:
    busy = httpx.Response(503, headers={"Retry-After": "2"})
    fake = Fake(busy, busy, multistatus(member(CAL + "a.ics", '"1"')))
    answer = await fake.client.propfind(CAL, (GETETAG,), depth="1")
    assert fake.sleeps == [2.0, 2.0]
    assert [r.href for r in answer.responses] == [CAL + "a.ics"]


async def test_a_retry_after_longer_than_allowed_comes_back_as_rate_limited_at_once() -> None:
    fake = Fake(httpx.Response(429, headers={"Retry-After": "600"}))
    with pytest.raises(RateLimited) as caught:
        await fake.client.propfind(CAL, (GETETAG,))
    assert caught.value.retry_after == 600 and fake.sleeps == []


async def test_retries_are_bounded() -> None:
    fake = Fake(httpx.Response(502))
    with pytest.raises(ProviderUnavailable):
        await fake.client.propfind(CAL, (GETETAG,))
    assert len(fake.requests) == 4 and len(fake.sleeps) == 3
    dropped = Fake(httpx.ConnectError("refused"))
    with pytest.raises(ProviderUnavailable, match="unreachable"):
        await dropped.client.get(CAL + "a.ics")
    assert len(dropped.requests) == 4


async def test_401_is_auth_revoked_and_not_retried() -> None:
    fake = Fake(httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="x"'}))
    with pytest.raises(AuthRevoked, match="user name and app password"):
        await fake.client.propfind(CAL, (GETETAG,))
    assert len(fake.requests) == 1


# -- the invalid sync-token statuses ---------------------------------------------------------


@pytest.mark.parametrize(
    "refusal",
    [
        httpx.Response(403, content=VALID_SYNC_TOKEN),  # SabreDAV, Nextcloud, Radicale
        httpx.Response(409),  # others
        httpx.Response(412, content=VALID_SYNC_TOKEN),  # Xandikos
        httpx.Response(412),
    ],
)
async def test_a_refused_sync_token_raises_sync_token_expired(refusal: httpx.Response) -> None:
    fake = Fake(refusal)
    with pytest.raises(SyncTokenExpired):
        await fake.client.sync_collection(CAL, "http://x/sync/1", (GETETAG,), lambda r: r)
    adapter = CalDavCalendars(Fake(refusal).client)
    with pytest.raises(SyncTokenExpired):
        await adapter.read_changes(CAL, "sync-token:http://x/sync/1")


async def test_a_plain_403_on_sync_collection_is_not_a_token_problem() -> None:
    fake = Fake(httpx.Response(403))
    with pytest.raises(AuthRevoked):
        await fake.client.sync_collection(CAL, "t1", (GETETAG,), lambda r: r)


async def test_an_unknown_cursor_means_resync() -> None:
    with pytest.raises(SyncTokenExpired):
        await CalDavCalendars(Fake(httpx.Response(500)).client).read_changes(CAL, "delta:xyz")


# -- writes ----------------------------------------------------------------------------------


async def test_put_preconditions_and_their_failures() -> None:
    fake = Fake(httpx.Response(201, headers={"ETag": '"2"'}))
    assert await fake.client.put(CAL + "a.ics", ICS.format(uid="a"), create=True) == '"2"'
    assert fake.requests[0].headers["If-None-Match"] == "*"
    assert fake.requests[0].headers["Content-Type"].startswith("text/calendar")
    stale = Fake(httpx.Response(412))
    with pytest.raises(Conflict):
        await stale.client.put(CAL + "a.ics", ICS.format(uid="a"), etag='"1"')
    assert stale.requests[0].headers["If-Match"] == '"1"'
    uid_taken = b'<d:error xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><c:no-uid-conflict><d:href>/x</d:href></c:no-uid-conflict></d:error>'
    with pytest.raises(Conflict) as caught:
        await Fake(httpx.Response(403, content=uid_taken)).client.put(
            CAL + "b.ics", "x", create=True
        )
    assert caught.value.code == "no-uid-conflict"
    invalid = b'<d:error xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><c:valid-calendar-data/></d:error>'
    with pytest.raises(BadRequest):
        await Fake(httpx.Response(403, content=invalid)).client.put(CAL + "c.ics", "x", create=True)


async def test_adapter_create_after_a_lost_answer_finds_its_own_event() -> None:
    fake = Fake(
        httpx.Response(412),
        httpx.Response(200, text=ICS.format(uid="key-1"), headers={"ETag": '"7"'}),
    )
    written = await CalDavCalendars(fake.client).create(CAL, "key-1", ICS.format(uid="key-1"))
    assert (written.href, written.etag, written.existed) == (CAL + "key-1.ics", '"7"', True)
    other = Fake(httpx.Response(412), httpx.Response(200, text=ICS.format(uid="someone-else")))
    with pytest.raises(Conflict):
        await CalDavCalendars(other.client).create(CAL, "key-1", ICS.format(uid="key-1"))


async def test_delete_of_an_event_already_gone_counts_as_deleted() -> None:
    fake = Fake(httpx.Response(404))
    await CalDavCalendars(fake.client).delete(CAL + "gone.ics", '"1"')
    assert fake.requests[0].headers["If-Match"] == '"1"'
    with pytest.raises(NotFound):
        await Fake(httpx.Response(404)).client.get(CAL + "gone.ics")


# -- where credentials may go ----------------------------------------------------------------


async def test_hrefs_outside_the_account_are_refused_before_any_request() -> None:
    fake = Fake(httpx.Response(200))
    with pytest.raises(ProviderError, match="outside"):
        await fake.client.get("https://evil.example.net/steal")
    assert fake.requests == []


async def test_redirects_keep_the_method_and_never_downgrade_to_plain_http() -> None:
    principal = "<d:response><d:href>/</d:href><d:propstat><d:prop><d:current-user-principal><d:href>/p/alice/</d:href></d:current-user-principal></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    fake = Fake(httpx.Response(301, headers={"Location": "/dav/"}), multistatus(principal))
    answer = await fake.client.propfind("/.well-known/caldav", (GETETAG,), follow=True)
    assert [r.method for r in fake.requests] == ["PROPFIND", "PROPFIND"]
    assert answer.url == "https://dav.example.com/dav/"
    plain = Fake(httpx.Response(302, headers={"Location": "http://other.example.com/dav/"}))
    with pytest.raises(ProviderError, match="plain HTTP"):
        await plain.client.propfind("/.well-known/caldav", (GETETAG,), follow=True)
    assert len(plain.requests) == 1


async def test_an_unreadable_answer_is_the_servers_fault() -> None:
    fake = Fake(httpx.Response(207, text="<html>oops"))
    with pytest.raises(ProviderUnavailable) as caught:
        await fake.client.propfind(CAL, (GETETAG,))
    assert caught.value.code == "unreadable"


def test_start_urls_for_an_address_a_domain_and_a_url() -> None:
    assert start_urls("jane@example.com") == ["https://example.com/.well-known/caldav"]
    assert start_urls("example.com") == ["https://example.com/.well-known/caldav"]
    assert start_urls("https://dav.example.com/remote.php/dav") == [
        "https://dav.example.com/remote.php/dav",
        "https://dav.example.com/.well-known/caldav",
        "https://dav.example.com/",
    ]
    with pytest.raises(BadRequest):
        start_urls("not a domain/")


# -- the adapter's paging --------------------------------------------------------------------


async def test_truncated_sync_collection_is_followed_with_its_new_token() -> None:
    first = multistatus(
        member(CAL + "a.ics", '"1"', ICS.format(uid="a")),
        status(CAL, "507 Insufficient Storage"),
        token="t2",
    )
    second = multistatus(
        member(CAL + "b.ics", '"1"', ICS.format(uid="b")),
        status(CAL + "a.ics", "404 Not Found"),
        token="t3",
    )
    fake = Fake(first, second)
    result = await CalDavCalendars(fake.client).read_changes(CAL, "sync-token:t1")
    assert [i.uid for i in result.items] == ["b"]
    assert result.removed == [CAL + "a.ics"]
    assert result.cursor == "sync-token:t3"
    assert b"<d:sync-token>t2</d:sync-token>" in fake.requests[1].content


async def test_members_without_inline_text_are_fetched_by_multiget_in_batches() -> None:
    listing = multistatus(*(member(f"{CAL}{n}.ics", '"1"') for n in range(5)), token="t1")

    def multiget(request: httpx.Request) -> httpx.Response:
        hrefs = [h.split("</d:href>")[0] for h in request.content.decode().split("<d:href>")[1:]]
        return multistatus(*(member(h, '"1"', ICS.format(uid=h)) for h in hrefs))

    fake = Fake(listing, multiget)
    pages = [p async for p in CalDavCalendars(fake.client, batch_size=2).iter_all(CAL)]
    reports = [r for r in fake.requests if r.headers.get("Depth") == "1"]
    assert [r.content.count(b"<d:href>") for r in reports] == [2, 2, 1]
    assert [(p.done, p.total) for p in pages] == [(2, 5), (4, 5), (5, 5), (5, 5)]
    assert pages[-1].cursor == "sync-token:t1" and all(p.cursor is None for p in pages[:-1])


async def test_a_server_without_sync_collection_is_read_by_listing() -> None:
    calendar = '<d:response><d:href>/dav/alice/work/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><cs:getctag xmlns:cs="http://calendarserver.org/ns/">c1</cs:getctag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>'
    fake = Fake(
        httpx.Response(501),
        multistatus(calendar),
        multistatus(member(CAL + "a.ics", '"1"')),
        multistatus(member(CAL + "a.ics", '"1"', ICS.format(uid="a"))),
    )
    result = await CalDavCalendars(fake.client).read_all(CAL)
    assert [i.uid for i in result.items] == ["a"] and result.cursor == "ctag:c1"
    assert [r.method for r in fake.requests] == ["REPORT", "PROPFIND", "PROPFIND", "REPORT"]
