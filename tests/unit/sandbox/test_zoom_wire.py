"""Pure rules of the Zoom sandbox's wire format: passcodes, times, PKCE, signatures, ids."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from datetime import UTC, datetime

import pytest

from hiresync.sandbox.zoom.model import Faults, Limits
from hiresync.sandbox.zoom.wire import (
    basic_credentials,
    encrypt_password,
    encrypted_token,
    generate_password,
    next_utc_midnight,
    parse_start_time,
    password_problem,
    pkce_matches,
    sign,
    zoom_id,
)


@pytest.mark.parametrize("password", ["a", "Ab1@-_*xyz", "1234567890", "***"])
def test_passcodes_within_zooms_alphabet_and_ten_characters_pass(password: str) -> None:
    assert password_problem(password) is None


@pytest.mark.parametrize(
    "password", ["", "12345678901", "pass word", "semi;", "bang!", "é", 123456]
)
def test_other_passcodes_get_zooms_sentence(password: object) -> None:
    assert password_problem(password) == (
        "Password may only contain the following characters: [a-z A-Z 0-9 @ - _ *] and can have "
        "a maximum of 10 characters."
    )


def test_generated_passcodes_obey_the_rules_and_are_six_characters() -> None:
    rng = random.Random(7)
    passcodes = {generate_password(rng) for _ in range(50)}
    assert all(len(p) == 6 and password_problem(p) is None for p in passcodes)
    assert len(passcodes) == 50


def test_join_link_token_depends_on_passcode_and_meeting() -> None:
    token = encrypt_password("abc123", 85746065432)
    assert token == encrypt_password("abc123", 85746065432) and token.endswith(".1")
    assert token != encrypt_password("abc124", 85746065432)
    assert token != encrypt_password("abc123", 85746065433)


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2031-03-20T10:00:00Z", "Asia/Tokyo", datetime(2031, 3, 20, 10, tzinfo=UTC)),
        ("2031-03-20T10:00:00", "Europe/Berlin", datetime(2031, 3, 20, 9, tzinfo=UTC)),
        ("2031-07-20T10:00:00", "America/New_York", datetime(2031, 7, 20, 14, tzinfo=UTC)),
        ("2031-03-20T10:00:00.500Z", "UTC", datetime(2031, 3, 20, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2031-03-20T10:00:00+02:00", "UTC", datetime(2031, 3, 20, 8, tzinfo=UTC)),
    ],
)
def test_start_time_is_gmt_with_z_and_local_without(
    value: str, zone: str, expected: datetime
) -> None:
    assert parse_start_time(value, zone) == expected


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        ("2031-03-20 10:00", "UTC"),
        ("20310320T100000Z", "UTC"),
        ("2031-03-20T10:00:00", "Mars/Base"),
        (5, "UTC"),
    ],
)
def test_unreadable_start_times_are_refused(value: object, zone: str) -> None:
    with pytest.raises(ValueError):
        parse_start_time(value, zone)  # type: ignore[arg-type]


def test_pkce_s256_and_plain() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 appendix B
    assert pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256")
    assert not pkce_matches(verifier + "x", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256")
    assert pkce_matches("same", "same", None) and pkce_matches("same", "same", "plain")
    assert not pkce_matches("same", "other", None)


def test_signature_is_v0_hmac_of_timestamp_and_raw_body() -> None:
    body = b'{"event":"meeting.updated","event_ts":1}'
    expected = hmac.new(b"secret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert sign("secret", "1700000000", body) == f"v0={expected}"
    assert sign("secret", "1700000001", body) != sign("secret", "1700000000", body)


def test_url_validation_answer_is_hex_hmac_of_the_plain_token() -> None:
    expected = hmac.new(b"s3cret", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert encrypted_token("s3cret", "qgg8vlvZRS6UYooatFL8Aw") == expected


def test_daily_quota_resets_at_the_next_utc_midnight() -> None:
    late = datetime(2031, 3, 20, 23, 59, 59, tzinfo=UTC)
    assert next_utc_midnight(late) == datetime(2031, 3, 21, tzinfo=UTC)
    assert next_utc_midnight(datetime(2031, 12, 31, 0, 0, tzinfo=UTC)) == datetime(
        2032, 1, 1, tzinfo=UTC
    )


def test_basic_credentials_parse_only_well_formed_headers() -> None:
    header = "Basic " + base64.b64encode(b"client:se:cret").decode()
    assert basic_credentials(header) == ("client", "se:cret")
    assert basic_credentials("Bearer abc") is None
    assert basic_credentials("Basic !!!") is None
    assert basic_credentials("Basic " + base64.b64encode(b"nocolon").decode()) is None


def test_ids_are_stable_and_zoom_shaped() -> None:
    assert zoom_id("user:a@b.c") == zoom_id("user:a@b.c") != zoom_id("user:a@b.d")
    assert len(zoom_id("x")) == 22


def test_settings_updates_are_validated_by_name_and_range() -> None:
    faults, limits = Faults(), Limits()
    faults.update({"fail_next": "2", "throttle_rate": 0.5})
    assert (faults.fail_next, faults.throttle_rate) == (2, 0.5)
    with pytest.raises(ValueError, match="unknown setting"):
        faults.update({"nope": 1})
    with pytest.raises(ValueError, match="between 0 and 1"):
        faults.update({"unavailable_rate": 2})
    limits.update({"webhook_retry_delays": [0, 0.5], "require_pkce": 1})
    assert limits.webhook_retry_delays == (0.0, 0.5) and limits.require_pkce is True
