"""Invitations sent to a real SMTP server (aiosmtpd on a loopback port) and read back the
way a mail client would: parsed with ``email``, the calendar part with icalendar. Also
what the sender makes of servers that refuse, defer, vanish or never answer.

No database: these only need the network stack."""

from __future__ import annotations

import email
import email.policy
import ipaddress
import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from icalendar import Calendar

from hiresync.domain.interviews import Meeting, MeetingType
from hiresync.providers.email.ical import Person, uid_for
from hiresync.providers.email.smtp import SmtpRejected, SmtpSettings, SmtpUnavailable, send
from hiresync.services.invitations import Kind, build_event, compose, context_for
from tests.servers import free_port

INTERVIEW_ID = uuid.UUID("4d2c1b0a-1111-4222-8333-944455556666")
START = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
CANDIDATE = Person("ada@candidate.example", "Ada Lovelace")
SENDER = Person("interviews@acme.example", "Acme Interviews")
ORGANIZER = Person("recruiting@acme.example", "Acme Recruiting")


# -- servers -------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what it is given, and refuses whom it is told to."""

    refuse: dict[str, str] = field(default_factory=dict)  # address -> reply line
    messages: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(Received(envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def _accept_only(login: bytes, password: bytes) -> Any:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (login, password)
        return AuthResult(success=ok, handled=False)

    return authenticate


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A plain SMTP server (no TLS, no AUTH), as a local relay would be."""
    mailbox = Mailbox(
        refuse={
            "nobody@candidate.example": "550 5.1.1 <nobody@candidate.example>: "
            "Recipient address rejected: User unknown",
            "later@candidate.example": "450 4.2.1 Mailbox busy, try again later",
        }
    )
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()


def _plain(port: int, **changes: Any) -> SmtpSettings:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "use_tls": False,
        "from_address": SENDER.email,
        "from_name": SENDER.name,
        "timeout": 5.0,
    }
    return SmtpSettings(**{**settings, **changes})


# -- messages ------------------------------------------------------------------------------


def _message(
    kind: Kind, sequence: int, start: datetime, recipient: Person = CANDIDATE
) -> EmailMessage:
    end = start + timedelta(hours=1)
    context = context_for(
        candidate_name=recipient.name or recipient.email,
        candidate_time_zone="Europe/Berlin",
        title="Data engineer: final interview",
        start=start,
        end=end,
        organizer_name=ORGANIZER.name or "",
        meeting=Meeting(MeetingType.CUSTOM_LINK, url="https://meet.example.com/xyz"),
        message="Cancelled: the role was filled." if kind == "cancellation" else None,
    )
    event = build_event(
        kind,
        interview_id=INTERVIEW_ID,
        sequence=sequence,
        title="Data engineer: final interview",
        start=start,
        end=end,
        time_zone="America/New_York",
        organizer=ORGANIZER,
        attendees=(recipient,),
        context=context,
        stamp=datetime(2026, 10, 1, 12, 0, tzinfo=UTC),
    )
    return compose(kind, event, context, sender=SENDER, recipient=recipient)


def _read_back(received: Received) -> tuple[EmailMessage, Calendar]:
    parsed = email.message_from_bytes(received.content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    (part,) = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    return parsed, Calendar.from_ical(part.get_content())


# -- tests ---------------------------------------------------------------------------------


async def test_invitation_update_and_cancellation_arrive_as_one_event(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    moved = START + timedelta(days=1)
    await send(_plain(port), _message("invitation", 1, START))
    await send(_plain(port), _message("update", 2, moved))
    await send(_plain(port), _message("cancellation", 3, moved))

    assert len(mailbox.messages) == 3
    read = [_read_back(m) for m in mailbox.messages]
    assert all(m.rcpt_tos == [CANDIDATE.email] for m in mailbox.messages)
    assert all(m.mail_from == SENDER.email for m in mailbox.messages)
    subjects = [parsed["Subject"] for parsed, _ in read]
    assert subjects[0].startswith("Invitation: Data engineer: final interview @ Tuesday 3 Nov")
    assert subjects[1].startswith("Updated invitation: ")
    assert subjects[2].startswith("Cancelled: ")

    calendars = [calendar for _, calendar in read]
    events = [calendar.events[0] for calendar in calendars]
    assert [c["METHOD"] for c in calendars] == ["REQUEST", "REQUEST", "CANCEL"]
    assert {e["UID"] for e in events} == {uid_for(INTERVIEW_ID)}
    assert [e["SEQUENCE"] for e in events] == [1, 2, 3]
    assert [e["STATUS"] for e in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert events[0].decoded("DTSTART") == START
    assert events[1].decoded("DTSTART") == moved
    assert events[0]["DTSTART"].params["TZID"] == "America/New_York"
    assert calendars[0].walk("VTIMEZONE")[0]["TZID"] == "America/New_York"
    assert [str(a) for a in events[0].attendees] == ["mailto:ada@candidate.example"]


async def test_bodies_and_attachment_survive_the_wire(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    await send(_plain(port), _message("invitation", 1, START))
    parsed, _ = _read_back(mailbox.messages[0])

    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    # 15:00 UTC on 3 November is 16:00 in Berlin (CET).
    assert "Tuesday 3 November 2026, 16:00–17:00 (Europe/Berlin)" in text.get_content()
    assert 'href="https://meet.example.com/xyz"' in html.get_content()
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_filename() == "invite.ics"
    assert Calendar.from_ical(attachment.get_content()).events[0]["UID"] == uid_for(INTERVIEW_ID)


async def test_a_refused_recipient_is_rejected_with_the_servers_reply(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    nobody = Person("nobody@candidate.example", "Nobody")
    with pytest.raises(SmtpRejected) as caught:
        await send(_plain(port), _message("invitation", 1, START, nobody))

    assert caught.value.code == 550
    assert "Recipient address rejected: User unknown" in (caught.value.reply or "")
    assert "Recipient address rejected: User unknown" in str(caught.value)
    assert caught.value.refused == {
        "nobody@candidate.example": (
            550,
            "5.1.1 <nobody@candidate.example>: Recipient address rejected: User unknown",
        )
    }
    assert mailbox.messages == []


async def test_a_deferred_recipient_is_unavailable_for_now(
    smtp_server: tuple[Mailbox, int],
) -> None:
    _, port = smtp_server
    later = Person("later@candidate.example", "Later")
    with pytest.raises(SmtpUnavailable) as caught:
        await send(_plain(port), _message("invitation", 1, START, later))
    assert caught.value.code == 450


async def test_a_closed_port_is_unavailable() -> None:
    with pytest.raises(SmtpUnavailable, match=r"Cannot reach 127\.0\.0\.1"):
        await send(_plain(free_port(), timeout=2.0), _message("invitation", 1, START))


async def test_a_server_that_never_answers_is_unavailable() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(SmtpUnavailable):
            await send(_plain(port, timeout=0.5), _message("invitation", 1, START))


async def test_starttls_with_auth(certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=_server_tls(certificate),
        require_starttls=True,
        authenticator=_accept_only(b"hiresync", b"s3cret"),
        auth_required=True,
    )
    controller.start()
    try:
        settings = _plain(controller.port, starttls=True, username="hiresync", password="s3cret")
        await send(settings, _message("invitation", 1, START), ssl_context=_client_tls(certificate))
        assert len(mailbox.messages) == 1

        wrong = _plain(controller.port, starttls=True, username="hiresync", password="nope")
        with pytest.raises(SmtpRejected) as caught:
            await send(
                wrong, _message("invitation", 1, START), ssl_context=_client_tls(certificate)
            )
        assert caught.value.code == 535
        assert "nope" not in repr(wrong)
    finally:
        controller.stop()


async def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=_server_tls(certificate),
    )
    controller.start()
    try:
        settings = _plain(controller.port, use_tls=True)
        await send(settings, _message("update", 2, START), ssl_context=_client_tls(certificate))
        assert len(mailbox.messages) == 1
        _, calendar = _read_back(mailbox.messages[0])
        assert calendar.events[0]["SEQUENCE"] == 2

        # Against the system's trust store, a self-signed certificate does not verify.
        with pytest.raises(SmtpRejected, match="certificate"):
            await send(settings, _message("update", 2, START))
    finally:
        controller.stop()


async def test_starttls_on_a_server_without_it_is_rejected(
    smtp_server: tuple[Mailbox, int],
) -> None:
    _, port = smtp_server
    with pytest.raises(SmtpRejected, match="does not support"):
        await send(_plain(port, starttls=True), _message("invitation", 1, START))


def test_settings_refuse_contradictions() -> None:
    with pytest.raises(ValueError, match="not both"):
        SmtpSettings(host="mail.example", starttls=True, use_tls=True)
    with pytest.raises(ValueError, match="username and a password"):
        SmtpSettings(host="mail.example", username="u")
