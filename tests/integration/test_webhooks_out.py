"""Webhooks out: the hiring platform hears about every interview change, signed per the
Standard Webhooks spec, retried until its endpoint answers, logged attempt by attempt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.integration.browser import wait_for
from tests.servers import serve_in_thread


class Receiver:
    """A hiring platform's endpoint: records every request, fails the first ``fail`` ones."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        self.fail = 0

    async def __call__(self, request: Request) -> Response:
        self.requests.append((await request.body(), dict(request.headers)))
        if self.fail > 0:
            self.fail -= 1
            return Response("try later", status_code=503)
        return Response(status_code=204)

    def of_type(self, event_type: str) -> list[tuple[bytes, dict[str, str]]]:
        return [r for r in self.requests if f'"type":"{event_type}"' in r[0].decode()]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver()

    async def hooks(request: Request) -> Response:
        return await target(request)

    app = Starlette(routes=[Route("/hooks", hooks, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield target, f"{url}/hooks"


def interview(org: Any) -> dict[str, Any]:
    day = datetime.now(UTC).date() + timedelta(days=9)
    start = datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
    return {
        "title": "Hiring manager chat",
        "candidate": {"name": "Casey", "email": "casey@example.org"},
        "interviewers": [{"email": org.admin_email}],
        "organizer": {"email": org.admin_email},
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=45)).isoformat(),
        "time_zone": "UTC",
        "meeting": {"type": "phone", "phone": "+44 20 7946 0000"},
    }


def test_a_change_is_delivered_signed_and_verifiable(
    make_org: Any, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    org = make_org()
    created = org.api.post("/v1/webhook-endpoints", json={"url": url})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    made = org.api.post("/v1/interviews", json=interview(org)).json()
    assert wait_for(lambda: target.of_type("interview.created"))
    body, headers = target.of_type("interview.created")[0]
    message = Webhook(secret).verify(body, headers)
    assert message["data"]["interview_id"] == made["id"]
    assert message["data"]["status"] == "draft"
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 32).verify(body, headers)
    forged = {**headers, "webhook-timestamp": str(int(datetime.now(UTC).timestamp()) - 3600)}
    with pytest.raises(Exception, match="too old"):
        Webhook(secret).verify(body, forged)


def test_a_failing_endpoint_gets_the_same_message_again_until_it_answers(
    make_org: Any, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    target.fail = 2
    org = make_org()
    endpoint = org.api.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": ["interview.created"]}
    ).json()
    org.api.post("/v1/interviews", json=interview(org))

    def delivered() -> Any:
        log = org.api.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries").json()
        return log if log and log[0]["status"] == "delivered" else None

    log = wait_for(delivered, timeout=30)
    assert log, org.api.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries").text
    assert len(log) == 1 and log[0]["attempts"] == 3
    ids = {headers["webhook-id"] for _, headers in target.requests}
    assert ids == {log[0]["message_id"]}, "every attempt carries the same webhook-id"


def test_an_endpoint_hears_only_the_events_it_asked_for(
    make_org: Any, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    org = make_org()
    org.api.post("/v1/webhook-endpoints", json={"url": url, "event_types": ["interview.cancelled"]})
    made = org.api.post("/v1/interviews", json=interview(org)).json()
    org.api.post(f"/v1/interviews/{made['id']}/cancel", json={"message": "Role filled"})
    assert wait_for(lambda: target.of_type("interview.cancelled"))
    assert target.of_type("interview.created") == []
    ((body, _),) = target.of_type("interview.cancelled")
    assert '"message":"Role filled"' in body.decode()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "ftp://ats.example.com/hooks"}, "url"),
        ({"url": "not a url"}, "url"),
        (
            {"url": "https://ats.example.com/h", "event_types": ["interview.exploded"]},
            "event_types",
        ),
    ],
)
def test_bad_endpoints_are_refused(make_org: Any, payload: dict[str, Any], field: str) -> None:
    org = make_org()
    answer = org.api.post("/v1/webhook-endpoints", json=payload)
    assert answer.status_code == 422 and answer.json()["error"]["field"] == field
    assert org.api.get("/v1/webhook-endpoints").json() == []


def test_another_organizations_endpoints_are_invisible(make_org: Any) -> None:
    mine, theirs = make_org(), make_org()
    endpoint = theirs.api.post(
        "/v1/webhook-endpoints", json={"url": "https://ats.example.com/h"}
    ).json()
    for path in ("deliveries", "secret"):
        assert mine.api.get(f"/v1/webhook-endpoints/{endpoint['id']}/{path}").status_code == 404
    assert mine.api.delete(f"/v1/webhook-endpoints/{endpoint['id']}").status_code == 404
    assert theirs.api.get("/v1/webhook-endpoints").json()[0]["id"] == endpoint["id"]
