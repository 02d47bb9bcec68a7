"""Settings from the environment (``HIRESYNC_*``), read once per process.

Everything that differs between a laptop demo, the test suite and production is
here: where the database is, where the providers are, which keys protect secrets.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("hiresync", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HIRESYNC_", extra="ignore")

    # Where state lives. No database URL: an embedded PostgreSQL under data_dir.
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None

    # The public address of this service, used in OAuth redirects and links.
    base_url: str = "http://127.0.0.1:8000"

    # Secrets at rest: "kid:base64-32-bytes[,kid:...]", the first is the active key.
    # Empty: a key is generated once into data_dir/keys (mode 0600).
    encryption_keys: str = ""
    # Signs session cookies; empty: generated once into data_dir/keys.
    session_secret: str = ""

    # Microsoft identity platform + Graph. Production defaults; demo and tests point
    # them at the sandbox.
    microsoft_client_id: str = ""
    microsoft_client_secret: str = ""
    microsoft_login_url: str = "https://login.microsoftonline.com"
    microsoft_graph_url: str = "https://graph.microsoft.com"
    # How many Graph calls may be in flight at once for one organization.
    microsoft_max_concurrency: int = 16
    microsoft_timeout_seconds: float = 30.0

    # Zoom (user-managed OAuth app): each team member connects their own Zoom account.
    zoom_client_id: str = ""
    zoom_client_secret: str = ""
    zoom_oauth_url: str = "https://zoom.us"  # /oauth/authorize, /oauth/token, /oauth/revoke
    zoom_api_url: str = "https://api.zoom.us"  # REST under /v2
    zoom_webhook_secret: str = ""  # the app's "secret token" that signs its webhooks
    zoom_timeout_seconds: float = 30.0

    # People's own calendars (CalDAV servers), and how many events a first sync keeps.
    caldav_timeout_seconds: float = 60.0
    caldav_ca_file: str = ""  # a CA bundle to trust (servers with a private certificate)
    sync_initial_limit: int = 5000

    # Jobs: serve/demo run a worker in-process unless told not to.
    run_worker: bool = True
    directory_refresh_minutes: int = 60

    # Webhooks out: seconds between delivery attempts (Standard Webhooks' schedule, about
    # a day in all), and how long an endpoint may take to answer.
    webhook_retry_seconds: str = "5,300,1800,7200,18000,36000,36000"
    webhook_timeout_seconds: float = 10.0

    # E-mail (candidate invitations sent by hiresync rather than by the calendar):
    # empty host = not configured.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_tls: bool = False
    mail_from: str = ""
    mail_from_name: str = "hiresync"

    log_level: str = "INFO"
    log_json: bool = False

    @field_validator(
        "base_url", "microsoft_login_url", "microsoft_graph_url", "zoom_oauth_url", "zoom_api_url"
    )
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"


@lru_cache
def get_settings() -> Settings:
    return Settings()
