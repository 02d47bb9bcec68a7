"""Sending e-mail over SMTP, with failures sorted into "try again" and "give up".

The standard library's ``smtplib`` does the protocol, run in a worker thread
(``anyio.to_thread``) so the event loop never blocks on the network; no async SMTP
client is a dependency. Three ways to connect, as mail providers offer them: plain
(port 25, or a local relay), STARTTLS (587) and implicit TLS (465), each with optional
AUTH. Certificates are verified with the system's trust store unless the caller passes
its own ``ssl.SSLContext``.

smtplib reports failures as a dozen exception types, and the reply code inside them is
what tells a passing problem from a final one (RFC 5321 §4.2.1: 4yz transient, 5yz
permanent). They are translated once, here, into two:

- ``SmtpUnavailable``: may work later (connection refused or reset, timeouts, DNS,
  TLS handshake trouble, any 4xx). The job retries with backoff.
- ``SmtpRejected``: will not work as is (a 5xx for the sender, a recipient or the
  content, failed authentication, a server without the STARTTLS/AUTH we were told to
  use, a certificate that does not verify). The job reports it, with the server's words.

A partial refusal (some recipients accepted) is ``SmtpRejected`` whatever the codes:
retrying would send the message again to those who already have it.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import partial

import anyio


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """How to reach the outgoing mail server, and who invitations come from.

    ``starttls`` upgrades a plain connection; ``use_tls`` connects with TLS from the
    first byte (implicit TLS, usually port 465). At most one of them."""

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    use_tls: bool = False
    from_address: str = ""
    from_name: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.starttls and self.use_tls:
            raise ValueError("Choose STARTTLS or implicit TLS, not both.")
        if bool(self.username) != bool(self.password):
            raise ValueError("SMTP authentication needs both a username and a password.")


class SmtpError(Exception):
    """Sending failed. ``code`` and ``reply`` are the server's, when it answered."""

    def __init__(self, message: str, code: int | None = None, reply: str | None = None) -> None:
        super().__init__(message)
        self.code, self.reply = code, reply


class SmtpUnavailable(SmtpError):
    """Transient: the server could not be reached or asked us to come back later."""


class SmtpRejected(SmtpError):
    """Permanent: the server refused, and sending the same again will not help."""

    def __init__(
        self,
        message: str,
        code: int | None = None,
        reply: str | None = None,
        refused: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(message, code, reply)
        self.refused = refused or {}


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _by_code(what: str, code: int, reply: bytes | str) -> SmtpError:
    text = _text(reply)
    # 5yz is final (RFC 5321 §4.2.1); 4yz and anything garbled are worth another try.
    kind = SmtpRejected if 500 <= code < 600 else SmtpUnavailable
    return kind(f"{what}: {code} {text}", code, text)


def _recipients_refused(refused: dict[str, tuple[int, bytes]], partial: bool) -> SmtpError:
    detail = {rcpt: (code, _text(reply)) for rcpt, (code, reply) in refused.items()}
    summary = "; ".join(f"{rcpt}: {code} {text}" for rcpt, (code, text) in detail.items())
    code, reply = next(iter(detail.values()))
    if not partial and not any(500 <= c < 600 for c, _ in detail.values()):
        return SmtpUnavailable(f"Recipient deferred: {summary}", code, reply)
    what = "Some recipients refused (the others were sent)" if partial else "Recipient refused"
    return SmtpRejected(f"{what}: {summary}", code, reply, refused=detail)


def translate(exc: BaseException, settings: SmtpSettings) -> SmtpError:
    """An smtplib/socket/ssl failure as ``SmtpUnavailable`` or ``SmtpRejected``."""
    server = f"{settings.host}:{settings.port}"
    match exc:
        case smtplib.SMTPRecipientsRefused():
            return _recipients_refused(exc.recipients, partial=False)
        case smtplib.SMTPSenderRefused():
            return _by_code(
                f"Sender {exc.sender} refused by {server}", exc.smtp_code, exc.smtp_error
            )
        case smtplib.SMTPAuthenticationError():
            return _by_code(f"Authentication failed at {server}", exc.smtp_code, exc.smtp_error)
        case smtplib.SMTPResponseException():  # DATA, HELO, connect greeting...
            return _by_code(f"{server} refused", exc.smtp_code, exc.smtp_error)
        case smtplib.SMTPNotSupportedError():
            return SmtpRejected(f"{server} does not support what the settings ask: {exc}")
        case smtplib.SMTPServerDisconnected():
            return SmtpUnavailable(f"{server} closed the connection: {exc}")
        case ssl.SSLCertVerificationError():
            return SmtpRejected(f"The certificate of {server} does not verify: {exc}")
        case smtplib.SMTPException():  # e.g. no authentication method in common
            return SmtpRejected(f"{server}: {exc}")
        case TimeoutError():
            return SmtpUnavailable(f"{server} did not answer within {settings.timeout:g} s.")
        case OSError():  # refused, reset, unreachable, DNS, TLS handshake
            return SmtpUnavailable(f"Cannot reach {server}: {exc}")
    raise TypeError(f"not an SMTP failure: {exc!r}")


def _connect(settings: SmtpSettings, context: ssl.SSLContext) -> smtplib.SMTP:
    if settings.use_tls:
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)


def _send_blocking(
    settings: SmtpSettings, message: EmailMessage, context: ssl.SSLContext
) -> dict[str, tuple[int, bytes]]:
    with _connect(settings, context) as client:
        client.ehlo()
        if settings.starttls:
            client.starttls(context=context)
            client.ehlo()
        if settings.username and settings.password:
            client.login(settings.username, settings.password)
        return client.send_message(message, from_addr=settings.from_address or None)


async def send(
    settings: SmtpSettings, message: EmailMessage, *, ssl_context: ssl.SSLContext | None = None
) -> None:
    """Hand ``message`` to the server for every recipient in its To/Cc/Bcc headers.

    Raises ``SmtpUnavailable`` (retry later) or ``SmtpRejected`` (report; do not retry).
    The envelope sender is ``settings.from_address`` (the From header if empty)."""
    context = ssl_context or ssl.create_default_context()
    try:
        refused = await anyio.to_thread.run_sync(
            partial(_send_blocking, settings, message, context)
        )
    except (smtplib.SMTPException, OSError) as exc:
        raise translate(exc, settings) from exc
    if refused:
        raise _recipients_refused(refused, partial=True)
