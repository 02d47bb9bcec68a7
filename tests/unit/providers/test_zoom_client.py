"""The Zoom client's wire rules with HTTP faked (httpx.MockTransport): token renewal, what is
retried and what never is, rate limits, error mapping, paging, the adapter's recovery of a
lost create, and the OAuth error bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from hiresync.providers.base import MeetingRequest
from hiresync.providers.errors import (
    AuthRevoked,
    BadRequest,
    Conflict,
    NotFound,
    ProviderUnavailable,
)
from hiresync.providers.zoom import DailyLimitReached, OutcomeUnknown, ZoomMeetings
from hiresync.providers.zoom.client import RetryPolicy, ZoomClient
from hiresync.providers.zoom.oauth import ZoomOAuth

NOW = datetime(2026, 3, 30, 18, 30, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]
MEETING = {"id": 85746065432, "join_url": "https://zoom.us/j/85746065432?pwd=x.1", "password": "p"}


class Fake:
    """A client on a MockTransport; records requests, sleeps and token requests."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []
        self.token_calls: list[bool] = []
        self.tokens = iter(["t1", "t2", "t3"])
        self.current = next(self.tokens)

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        self.http = httpx.AsyncClient(transport=httpx.MockTransport(record))
        self.client = ZoomClient(
            self.http,
            api_url="https://api.zoom.us",
            get_token=self.get_token,
            retry=RetryPolicy(max_retries=3, base_delay=0.5, max_delay=4),
            sleep=self.sleep,
            clock=lambda: NOW,
        )

    async def get_token(self, force: bool) -> str:
        self.token_calls.append(force)
        if force:
            self.current = next(self.tokens)
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def zoom_error(status: int, code: int, message: str, **extra: object) -> httpx.Response:
    headers = extra.pop("headers", {})
    return httpx.Response(status, json={"code": code, "message": message, **extra}, headers=headers)  # type: ignore[arg-type]


def sequence(*answers: httpx.Response | Exception) -> Handler:
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


def interview(key: str = "iv-42") -> MeetingRequest:
    start = datetime(2026, 4, 2, 8, tzinfo=UTC)
    return MeetingRequest(key, "Interview", start, start + timedelta(minutes=30), "UTC")


# -- tokens -----------------------------------------------------------------------------------


async def test_an_expired_token_is_renewed_once_and_the_call_repeated() -> None:
    fake = Fake(
        sequence(zoom_error(401, 124, "Access token is expired."), httpx.Response(200, json={}))
    )
    await fake.client.get_user()
    assert fake.token_calls == [False, False, True]
    assert [r.headers["authorization"] for r in fake.requests] == ["Bearer t1", "Bearer t2"]


async def test_a_token_refused_twice_means_the_connection_is_revoked() -> None:
    fake = Fake(sequence(zoom_error(401, 124, "Invalid access token.")))
    with pytest.raises(AuthRevoked, match="Reconnect Zoom"):
        await fake.client.get_user()
    assert len(fake.requests) == 2 and fake.token_calls.count(True) == 1


# -- rate limits ------------------------------------------------------------------------------


async def test_a_per_second_429_is_waited_out_briefly() -> None:
    qps = zoom_error(429, 429, "per-second", headers={"X-RateLimit-Type": "QPS"})
    fake = Fake(sequence(qps, qps, httpx.Response(201, json=MEETING)))
    await fake.client.create_meeting({})  # type: ignore[typeddict-item]
    assert len(fake.requests) == 3 and len(fake.sleeps) == 2
    assert all(0 < s <= 4 for s in fake.sleeps)


async def test_the_daily_limit_says_when_it_resets_and_never_sleeps() -> None:
    daily = zoom_error(
        429,
        429,
        "You have exceeded the daily rate limit (100) of Meeting Create/Update API requests",
        headers={
            "X-RateLimit-Type": "Daily-limit",
            "X-RateLimit-Limit": "100",
            "Retry-After": "2026-03-31T00:00:00Z",
        },
    )
    fake = Fake(sequence(daily))
    with pytest.raises(DailyLimitReached) as caught:
        await fake.client.create_meeting({})  # type: ignore[typeddict-item]
    error = caught.value
    assert error.resets_at == datetime(2026, 3, 31, tzinfo=UTC)
    assert error.retry_after == 5.5 * 3600 and fake.sleeps == [] and len(fake.requests) == 1
    assert error.message == (
        "The daily Zoom limit of this host was reached (100 meeting creations and updates a "
        "day). It resets at 2026-03-31 00:00 UTC (in 5 h 30 min); the meeting will be created "
        "or updated after that."
    )


async def test_the_2023_spec_daily_limit_answer_300_is_read_as_the_same_limit() -> None:
    old = zoom_error(
        300, 300, "A maximum of 100 meetings can be created/updated for a single user in one day."
    )
    fake = Fake(sequence(old))
    with pytest.raises(DailyLimitReached, match=r"\(100 meeting creations") as caught:
        await fake.client.update_meeting("1", {})  # type: ignore[typeddict-item]
    assert caught.value.resets_at == datetime(2026, 3, 31, tzinfo=UTC)


# -- what is retried ----------------------------------------------------------------------------


async def test_reads_are_retried_on_5xx_with_backoff() -> None:
    fake = Fake(
        sequence(
            zoom_error(503, 503, "busy"), zoom_error(502, 502, "bad"), httpx.Response(200, json={})
        )
    )
    await fake.client.get_meeting("1")
    assert len(fake.requests) == 3 and len(fake.sleeps) == 2


async def test_reads_give_up_after_the_retries_with_provider_unavailable() -> None:
    fake = Fake(sequence(zoom_error(503, 503, "busy")))
    with pytest.raises(ProviderUnavailable):
        await fake.client.get_meeting("1")
    assert len(fake.requests) == 4


@pytest.mark.parametrize(
    "failure",
    [zoom_error(504, 504, "timeout"), httpx.ReadError("lost"), httpx.RemoteProtocolError("cut")],
    ids=["504", "read-error", "dropped"],
)
async def test_a_create_that_may_have_reached_zoom_is_never_repeated(
    failure: httpx.Response | Exception,
) -> None:
    fake = Fake(sequence(failure))
    with pytest.raises(OutcomeUnknown):
        await fake.client.create_meeting({})  # type: ignore[typeddict-item]
    assert len(fake.requests) == 1 and fake.sleeps == []


async def test_a_create_that_never_left_is_retried() -> None:
    fake = Fake(sequence(httpx.ConnectError("refused"), httpx.Response(201, json=MEETING)))
    assert (await fake.client.create_meeting({}))["id"] == MEETING["id"]  # type: ignore[typeddict-item]
    assert len(fake.requests) == 2


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        (zoom_error(404, 3001, "Meeting does not exist: 1."), NotFound, "no longer exists"),
        (
            zoom_error(
                400,
                300,
                "Validation Failed.",
                errors=[{"field": "agenda", "message": "Invalid field."}],
            ),
            BadRequest,
            "agenda: Invalid field.",
        ),
        (zoom_error(404, 1001, "User does not exist: me."), AuthRevoked, "Reconnect Zoom"),
        (
            zoom_error(400, 4711, "Invalid access token, does not contain scopes"),
            AuthRevoked,
            "permission",
        ),
        (
            zoom_error(400, 3161, "Meeting hosting and scheduling capabilities are not allowed"),
            BadRequest,
            "may not host",
        ),
        (zoom_error(400, 3000, "Cannot access meeting information."), BadRequest, "Cannot access"),
        (
            zoom_error(400, 3002, "Sorry, you cannot delete this meeting since it is in progress."),
            Conflict,
            "in progress",
        ),
    ],
    ids=["3001", "300-fields", "1001", "4711", "3161", "3000", "3002"],
)
async def test_zoom_errors_are_mapped_once_with_words_a_recruiter_can_act_on(
    answer: httpx.Response, error: type[Exception], words: str
) -> None:
    fake = Fake(sequence(answer))
    with pytest.raises(error, match=words):
        await fake.client.delete_meeting("1")


# -- paging and the adapter ---------------------------------------------------------------------


def listing(pages: list[list[dict[str, object]]], full: dict[str, dict[str, object]]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/users/me/meetings") and request.method == "GET":
            index = int(request.url.params.get("next_page_token") or 0)
            more = str(index + 1) if index + 1 < len(pages) else ""
            return httpx.Response(200, json={"meetings": pages[index], "next_page_token": more})
        meeting_id = request.url.path.rsplit("/", 1)[1]
        return httpx.Response(200, json=full[meeting_id])

    return handler


async def test_find_follows_pages_and_reads_a_cut_agenda_in_full() -> None:
    cut = "x" * 250  # Zoom's list shows the first 250 characters only
    full = {
        "2": {**MEETING, "id": 2, "agenda": "x" * 300 + "\n\nhiresync:iv-42"},
        "3": {**MEETING, "id": 3, "agenda": "hiresync:iv-7"},
    }
    fake = Fake(listing([[{"id": 1, "agenda": "short"}], [{"id": 2, "agenda": cut}]], full))
    found = await ZoomMeetings(fake.client).find("iv-42")
    assert found is not None and found.meeting_id == "2"
    gets = [r for r in fake.requests if "/meetings/" in r.url.path]
    assert [r.url.path for r in gets] == ["/v2/meetings/2"]  # only the cut one, read once
    first = fake.requests[0].url.params
    assert (first["type"], first["page_size"]) == ("upcoming", "300")


async def test_a_lost_create_is_recovered_by_finding_it_not_by_creating_again() -> None:
    state = {"posted": 0}
    made = {**MEETING, "agenda": "hiresync:iv-42"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/settings"):
            return httpx.Response(200, json={})
        if request.method == "POST":
            state["posted"] += 1
            raise httpx.ReadError("connection lost after the write")
        if request.url.path.endswith("/users/me/meetings"):
            return httpx.Response(200, json={"meetings": [made], "next_page_token": ""})
        return httpx.Response(200, json=made)

    fake = Fake(handler)
    details = await ZoomMeetings(fake.client).create(interview())
    assert details.meeting_id == str(MEETING["id"]) and state["posted"] == 1


async def test_a_lost_create_that_zoom_never_made_is_reported_not_guessed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return zoom_error(503, 503, "unavailable")
        if request.url.path.endswith("/users/me/meetings"):
            return httpx.Response(200, json={"meetings": [], "next_page_token": ""})
        return httpx.Response(200, json={})

    with pytest.raises(OutcomeUnknown):
        await ZoomMeetings(Fake(handler).client).create(interview())


async def test_deleting_a_meeting_already_gone_is_done() -> None:
    fake = Fake(sequence(zoom_error(404, 3001, "Meeting does not exist: 1.")))
    await ZoomMeetings(fake.client).delete("1")
    assert [r.method for r in fake.requests] == ["DELETE"]


# -- OAuth ------------------------------------------------------------------------------------


def oauth(handler: Handler) -> ZoomOAuth:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ZoomOAuth(
        http, oauth_url="https://zoom.us", client_id="id", client_secret="secret", sleep=_no_sleep
    )


async def _no_sleep(seconds: float) -> None:
    return None


def oauth_error(status: int, error: str, reason: str) -> httpx.Response:
    return httpx.Response(status, json={"reason": reason, "error": error})


@pytest.mark.parametrize(
    ("answer", "call", "error", "words"),
    [
        (
            oauth_error(400, "invalid_grant", "Invalid Token!"),
            "refresh",
            AuthRevoked,
            "Reconnect Zoom",
        ),
        (
            oauth_error(400, "invalid_grant", "Invalid authorization code"),
            "exchange",
            BadRequest,
            "Connect Zoom",
        ),
        (
            oauth_error(400, "invalid_client", "Invalid client_id or client_secret"),
            "refresh",
            BadRequest,
            "administrator",
        ),
        (
            oauth_error(400, "invalid_request", "Redirect URI mismatch."),
            "exchange",
            BadRequest,
            "Redirect URI mismatch",
        ),
        (
            httpx.Response(502, text="<html>bad gateway</html>"),
            "refresh",
            ProviderUnavailable,
            "unavailable",
        ),
    ],
    ids=["reused-refresh-token", "used-code", "bad-app-secret", "redirect-mismatch", "5xx"],
)
async def test_zoom_oauth_refusals_are_explained(
    answer: httpx.Response, call: str, error: type[Exception], words: str
) -> None:
    client = oauth(lambda request: answer)
    with pytest.raises(error, match=words):
        if call == "refresh":
            await client.refresh("old")
        else:
            await client.exchange_code("code", "https://app/cb", "v" * 43)


async def test_a_refresh_whose_answer_was_lost_is_not_repeated() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise httpx.ReadError("lost")

    with pytest.raises(ProviderUnavailable, match="lost"):
        await oauth(handler).refresh("old")
    assert len(sent) == 1  # Zoom may already have rotated: a repeat would kill the grant


async def test_a_token_request_that_never_left_is_retried() -> None:
    answers = sequence(
        httpx.ConnectError("refused"),
        httpx.Response(200, json={"access_token": "a", "refresh_token": "r2", "expires_in": 3599}),
    )
    tokens = await oauth(answers).refresh("r1")
    assert tokens.refresh_token == "r2"


async def test_revoking_a_token_zoom_no_longer_knows_is_done() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return oauth_error(400, "invalid_request", "Invalid Token!")

    await oauth(handler).revoke("gone")
    assert sent[0].url.params["token"] == "gone" and sent[0].headers["authorization"].startswith(
        "Basic "
    )
    with pytest.raises(BadRequest, match="administrator"):
        await oauth(lambda r: oauth_error(400, "invalid_client", "Invalid client_id")).revoke("t")


async def test_token_bodies_are_forms_with_basic_client_auth() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            200, json={"access_token": "a", "refresh_token": "r", "expires_in": 3599}
        )

    await oauth(handler).exchange_code("c0de", "https://app/cb", "v" * 43)
    (request,) = sent
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == "Basic aWQ6c2VjcmV0"  # id:secret
    assert "secret" not in request.content.decode()
    assert json.dumps(sorted(request.content.decode().split("&"))) == json.dumps(
        sorted(
            [
                "grant_type=authorization_code",
                "redirect_uri=https%3A%2F%2Fapp%2Fcb",
                "code=c0de",
                "code_verifier=" + "v" * 43,
            ]
        )
    )
