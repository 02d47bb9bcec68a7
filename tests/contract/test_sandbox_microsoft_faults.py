"""Fault injection, Outlook throttling and the control API: what resilience tests lean on."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from hiresync.sandbox.microsoft import CONTOSO_ID, MicrosoftSandbox
from tests.contract.conftest import MS_NOW
from tests.contract.graph_spec import validate_response

DAY = MS_NOW.replace(hour=0) + timedelta(days=1)


def _body(*schedules: str) -> dict[str, Any]:
    return {
        "schedules": list(schedules),
        "startTime": {"dateTime": f"{DAY:%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
        "endTime": {"dateTime": f"{DAY + timedelta(days=1):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
    }


async def _concurrent(base_url: str, token: str, mailboxes: list[str]) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=15) as client:
        return await asyncio.gather(
            *(
                client.post(
                    f"/graph/v1.0/users/{m}/calendar/getSchedule",
                    json=_body("sam.manager@contoso.com"),
                )
                for m in mailboxes
            )
        )


def test_fifth_concurrent_request_on_one_mailbox_is_throttled(
    ms_http: httpx.Client, ms_token: str, ms_base_url: str, ms_sandbox: MicrosoftSandbox
) -> None:
    ms_sandbox.set_faults("contoso.com", latency_ms=300, retry_after=7)
    responses = asyncio.run(_concurrent(ms_base_url, ms_token, ["it.admin@contoso.com"] * 5))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 200, 429]
    throttled = next(r for r in responses if r.status_code == 429)
    validate_response("POST", "/users/{user-id}/calendar/getSchedule", 429, throttled.json())
    assert throttled.headers["retry-after"] == "7"
    assert throttled.json()["error"]["code"] == "ApplicationThrottled"
    assert "MailboxConcurrency" in throttled.json()["error"]["message"]
    admin = ms_sandbox.find_user("contoso.com", "it.admin@contoso.com")
    assert admin is not None
    assert ms_sandbox.stats.snapshot()["max_concurrency"][f"{CONTOSO_ID}/{admin.id}"] == 4


def test_concurrency_is_per_mailbox_so_spreading_paths_avoids_429(
    ms_http: httpx.Client, ms_token: str, ms_base_url: str, ms_sandbox: MicrosoftSandbox
) -> None:
    ms_sandbox.set_faults("contoso.com", latency_ms=200)
    mailboxes = ["it.admin@contoso.com", "pat.recruiter@contoso.com"] * 4
    responses = asyncio.run(_concurrent(ms_base_url, ms_token, mailboxes))
    assert all(r.status_code == 200 for r in responses)


def test_latency_is_added_to_every_graph_call(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    ms_sandbox.set_faults("contoso.com", latency_ms=250)
    started = time.perf_counter()
    assert ms_graph.get("/graph/v1.0/users?$top=1").status_code == 200
    assert time.perf_counter() - started >= 0.25


def test_fail_next_fails_exactly_n_calls_then_recovers(ms_graph: httpx.Client) -> None:
    put = ms_graph.put(
        f"/_control/tenants/{CONTOSO_ID}/faults",
        json={"fail_next": 2, "fail_status": 503, "retry_after": 3},
    )
    assert put.status_code == 200 and put.json()["fail_next"] == 2
    statuses = [ms_graph.get("/graph/v1.0/users?$top=1") for _ in range(3)]
    assert [r.status_code for r in statuses] == [503, 503, 200]
    validate_response("GET", "/users", 503, statuses[0].json())
    assert statuses[0].headers["retry-after"] == "3"


@pytest.mark.parametrize(("setting", "status"), [("throttle_rate", 429), ("unavailable_rate", 503)])
def test_random_faults_come_with_retry_after(
    ms_graph: httpx.Client, setting: str, status: int
) -> None:
    ms_graph.put("/_control/tenants/contoso.com/faults", json={setting: 1.0})
    response = ms_graph.get("/graph/v1.0/users?$top=1")
    assert response.status_code == status and int(response.headers["retry-after"]) > 0
    validate_response("GET", "/users", status, response.json())


def test_seeded_random_makes_probabilistic_faults_reproducible(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    import random

    def run() -> list[int]:
        ms_sandbox.random = random.Random(42)
        return [ms_graph.get("/graph/v1.0/users?$top=1").status_code for _ in range(12)]

    ms_sandbox.set_faults("contoso.com", throttle_rate=0.5)
    first = run()
    assert first == run() and 429 in first and 200 in first


def test_control_api_rejects_unknown_fault_settings(ms_http: httpx.Client) -> None:
    response = ms_http.put("/_control/tenants/contoso.com/faults", json={"latency": 5})
    assert response.status_code == 400


def test_people_added_and_removed_at_runtime_show_up_in_the_directory(
    ms_graph: httpx.Client,
) -> None:
    mail = f"new.hire.{time.time_ns()}@contoso.com"
    created = ms_graph.post(
        "/_control/tenants/contoso.com/users",
        json={
            "displayName": "New Hire",
            "mail": mail,
            "aliases": [f"nh{time.time_ns()}@contoso.com"],
        },
    )
    assert created.status_code == 201
    found = ms_graph.get(f"/graph/v1.0/users/{created.json()['id']}")
    assert found.json()["mail"] == mail
    assert ms_graph.delete(f"/_control/tenants/contoso.com/users/{mail}").status_code == 204
    assert ms_graph.get(f"/graph/v1.0/users/{created.json()['id']}").status_code == 404


def test_stats_count_requests_per_mailbox(ms_graph: httpx.Client) -> None:
    ms_graph.post("/_control/stats/reset")
    for _ in range(3):
        ms_graph.post(
            "/graph/v1.0/users/pat.recruiter@contoso.com/calendar/getSchedule",
            json=_body("sam.manager@contoso.com"),
        )
    stats = ms_graph.get("/_control/stats").json()
    assert stats["by_route"] == {"getSchedule": 3}
    assert sorted(stats["requests"].values()) == [3]


def test_growing_contoso_for_the_benchmark_keeps_queries_cheap(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    before = len(ms_sandbox.tenant("contoso.com").users)
    added = ms_graph.post("/_control/tenants/contoso.com/generate-users", json={"count": 100})
    assert added.json()["total"] == before + 100
    people = [u.mail for u in ms_sandbox.tenant("contoso.com").users.values()][-100:]
    body = _body(*people)
    body["endTime"]["dateTime"] = f"{DAY + timedelta(weeks=4):%Y-%m-%dT%H:%M:%S}"
    started = time.perf_counter()
    response = ms_graph.post(
        "/graph/v1.0/users/it.admin@contoso.com/calendar/getSchedule", json=body
    )
    assert response.status_code == 200 and len(response.json()["value"]) == 100
    assert time.perf_counter() - started < 2.0
    for user in ms_sandbox.tenant("contoso.com").users.copy().values():
        if user.mail in people:
            ms_sandbox.remove_user("contoso.com", user.id)


def test_home_page_lists_tenants_and_admin_accounts(ms_http: httpx.Client) -> None:
    page = ms_http.get("/")
    assert page.status_code == 200
    for text in (
        "Contoso",
        "Fabrikam Gov",
        "Northwind",
        "it.admin@contoso.com",
        "Global Administrator",
        "pat.recruiter@contoso.com",
    ):
        assert text in page.text


# -- timeouts: a late answer, the write applied or not ----------------------------------------


def _meeting(transaction: str) -> dict[str, Any]:
    """A create-event body with one external attendee, as hiresync sends it."""
    start = DAY.replace(hour=9)
    return {
        "subject": f"Timeout {transaction}",
        "start": {"dateTime": f"{start:%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
        "end": {"dateTime": f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
        "attendees": [{"emailAddress": {"address": "ada.candidate@gmail.com"}, "type": "required"}],
        "transactionId": transaction,
    }


def _with_transaction(sandbox: MicrosoftSandbox, transaction: str) -> list[Any]:
    pat = sandbox.find_user("contoso.com", "pat.recruiter@contoso.com")
    assert pat is not None
    return [e for e in pat.events if e.transaction_id == transaction]


def test_a_slow_write_is_applied_though_the_client_gave_up_and_its_retry_is_the_same_event(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    """Graph can apply a write whose answer times out: the retry must not make a second."""
    transaction = f"slow-{time.time_ns()}"
    put = ms_graph.put(
        "/_control/tenants/contoso.com/faults",
        json={"slow_rate": 1.0, "slow_ms": 600, "slow_write_applied": 1.0},
    )
    assert put.json()["slow_ms"] == 600
    with pytest.raises(httpx.ReadTimeout):
        ms_graph.post(
            "/graph/v1.0/users/pat.recruiter@contoso.com/events",
            json=_meeting(transaction),
            timeout=0.2,
        )
    (applied,) = _with_transaction(ms_sandbox, transaction)
    ms_sandbox.set_faults("contoso.com", slow_rate=0.0)
    retry = ms_graph.post(
        "/graph/v1.0/users/pat.recruiter@contoso.com/events", json=_meeting(transaction)
    )
    assert retry.status_code == 201 and retry.json()["id"] == applied.id
    assert [m.kind for m in ms_sandbox.invitations("contoso.com", event_id=applied.id)] == [
        "request"
    ], "the candidate is invited once"


def test_a_slow_write_the_gateway_dropped_answers_504_late_and_writes_nothing(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    transaction = f"dropped-{time.time_ns()}"
    ms_sandbox.set_faults("contoso.com", slow_rate=1.0, slow_ms=300, slow_write_applied=0.0)
    started = time.perf_counter()
    late = ms_graph.post(
        "/graph/v1.0/users/pat.recruiter@contoso.com/events", json=_meeting(transaction)
    )
    assert time.perf_counter() - started >= 0.3
    assert late.status_code == 504 and late.json()["error"]["code"] == "GatewayTimeout"
    validate_response("POST", "/users/{user-id}/events", 504, late.json())
    assert _with_transaction(ms_sandbox, transaction) == [], "nothing was written"


def test_a_slow_read_answers_late_but_right(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    ms_sandbox.set_faults("contoso.com", slow_rate=1.0, slow_ms=250, slow_write_applied=0.0)
    started = time.perf_counter()
    response = ms_graph.get("/graph/v1.0/users?$top=1")
    assert time.perf_counter() - started >= 0.25
    assert response.status_code == 200 and len(response.json()["value"]) == 1


def test_slow_settings_are_checked_like_the_other_rates(ms_http: httpx.Client) -> None:
    response = ms_http.put("/_control/tenants/contoso.com/faults", json={"slow_rate": 1.5})
    assert response.status_code == 400
