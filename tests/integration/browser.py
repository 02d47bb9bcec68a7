"""A minimal scripted browser for integration tests: a cookie jar that submits our forms
(with their CSRF token) and the Microsoft sandbox's sign-in form. The e2e suite does the
same in real Chromium."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

IT_ADMIN = "it.admin@contoso.com"  # a Microsoft 365 admin in the sandbox's Contoso
NOT_ADMIN = "pat.recruiter@contoso.com"  # signs in, but may not consent for the company
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)

    def close(self) -> None:
        self.http.close()

    def csrf(self, path: str = "/login") -> str:
        page = self.http.get(path)
        match = _CSRF.search(page.text)
        assert match, f"no form token on {path}"
        return match.group(1)

    def login(self, email: str, password: str) -> httpx.Response:
        token = self.csrf("/login")
        return self.http.post(
            "/login", data={"email": email, "password": password, "csrf": token, "next": "/"}
        )

    def post_form(self, path: str, page: str | None = None, **fields: str) -> httpx.Response:
        token = self.csrf(page or path)
        return self.http.post(path, data={"csrf": token, **fields})

    def sign_in_at_microsoft(
        self, consent_url: str, account: str, action: str = "accept"
    ) -> httpx.Response:
        """Pick ``account`` on the sandbox's admin-consent page; returns the redirect to us."""
        parts = urlsplit(consent_url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        page = self.http.get(consent_url)
        assert page.status_code == 200, page.text
        answer = self.http.post(
            parts._replace(query="").geturl(),
            data={**query, "login_hint": account, "action": action},
        )
        assert answer.status_code in (302, 303), answer.text
        return answer

    def follow(self, response: httpx.Response) -> httpx.Response:
        return self.http.get(response.headers["location"])


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def connect_as(browser: Browser, org: Any, account: str) -> Any:
    assert browser.login(org.admin_email, org.password).status_code == 303
    start = browser.post_form("/settings/calendar-sync/connect", page="/settings/calendar-sync")
    assert start.status_code == 303
    assert "/sandbox/microsoft/organizations/adminconsent?" in start.headers["location"]
    back = browser.sign_in_at_microsoft(start.headers["location"], account)
    return browser.follow(back)


def job_report(database_uri: str) -> str:
    """The job queue as text, for assertion messages when a background step did not happen."""
    import psycopg

    with psycopg.connect(database_uri) as conn:
        jobs = conn.execute(
            "SELECT id, task_name, status::text, attempts, lock, scheduled_at, args FROM procrastinate_jobs "
            "WHERE task_name NOT LIKE '%retry_stalled%' ORDER BY id DESC LIMIT 20"
        ).fetchall()
        workers = conn.execute("SELECT id, last_heartbeat FROM procrastinate_workers").fetchall()
    return "jobs:\n" + "\n".join(map(str, jobs)) + f"\nworkers: {workers}"
