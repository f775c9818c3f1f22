"""The email channel against a real SMTP server (aiosmtpd): plain, STARTTLS, AUTH, implicit TLS."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from support import free_port, make_target

from sqlsentinel.core.delivery import Attempt
from sqlsentinel.core.spec import SmtpSpec
from sqlsentinel.notify.channels.email import address_problem
from sqlsentinel.notify.deliver import DeliveryResult, deliver

from .servers import Inbox, make_event

HOST = "127.0.0.1"
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def authenticator(
    server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"bob", b"pa55word!")
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def server_ssl(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    return context


def start(inbox: Inbox, **kwargs: Any) -> Controller:
    controller = Controller(inbox, hostname=HOST, port=free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def plain(inbox: Inbox) -> Iterator[SmtpSpec]:
    controller = start(inbox)
    yield SmtpSpec(host=HOST, port=controller.port, starttls=False, from_address="s@example.com")
    controller.stop()


@pytest.fixture
def trusted(ca_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))


def send(
    smtp: SmtpSpec | None,
    attempts: list[Attempt],
    recipients: tuple[str, ...] = ("ops@x.org",),
    **target: Any,
) -> DeliveryResult:
    return deliver(
        make_event(),
        make_target("email", recipients=recipients, **target),
        smtp=smtp,
        deadline=time.monotonic() + 10,
        on_attempt=attempts.append,
        sleep=lambda _s: None,
    )


def test_plain_multipart_message(plain: SmtpSpec, inbox: Inbox, attempts: list[Attempt]) -> None:
    result = send(plain, attempts, ("ops@x.org", "dev@x.org"))
    assert (result.outcome, result.attempts) == ("delivered", 1)
    [(envelope, tls)] = inbox.messages
    assert not tls
    assert envelope.mail_from == "s@example.com"
    assert envelope.rcpt_tos == ["ops@x.org", "dev@x.org"]
    msg = inbox.parsed()
    assert msg["Subject"] == "[ALERT] orders_late is firing"
    assert msg["To"] == "ops@x.org, dev@x.org"
    assert msg["X-SQLSentinel-Event-Id"] == attempts[0].event_id
    assert attempts[0].event_id in msg["Message-ID"]
    plain_text, html_text = inbox.parts()
    assert "Value:       12.50 (threshold 10)" in plain_text
    assert "note: <script>alert(1)</script>" in plain_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text
    assert "<script>" not in html_text
    assert attempts[0].target == "email ops@x.org, dev@x.org"
    assert attempts[0].status_code == 250


def test_subject_and_body_overrides(plain: SmtpSpec, inbox: Inbox, attempts: list[Attempt]) -> None:
    send(
        plain, attempts, subject="{{ alert }} at {{ actual_value }}", body="See {{ context.note }}"
    )
    msg = inbox.parsed()
    assert msg["Subject"] == "orders_late at 12.50"
    text, html = inbox.parts()
    assert text.strip() == "See <script>alert(1)</script>"
    assert "See &lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_starttls_with_a_private_ca(
    inbox: Inbox, server_ssl: ssl.SSLContext, trusted: None, attempts: list[Attempt]
) -> None:
    controller = start(inbox, tls_context=server_ssl, require_starttls=True)
    try:
        result = send(SmtpSpec(host=HOST, port=controller.port), attempts)
    finally:
        controller.stop()
    assert result.outcome == "delivered"
    assert inbox.messages[0][1] is True  # the session was encrypted


def test_starttls_rejects_an_untrusted_certificate(
    inbox: Inbox, server_ssl: ssl.SSLContext, attempts: list[Attempt]
) -> None:
    controller = start(inbox, tls_context=server_ssl, require_starttls=True)
    try:
        result = send(SmtpSpec(host=HOST, port=controller.port), attempts)
    finally:
        controller.stop()
    assert (result.outcome, attempts[0].error_class) == ("permanent", "tls_verify")
    assert inbox.messages == []


def test_starttls_required_but_not_offered(plain: SmtpSpec, attempts: list[Attempt]) -> None:
    result = send(SmtpSpec(host=HOST, port=plain.port, starttls=True), attempts)
    assert (result.outcome, attempts[0].error_class) == ("permanent", "smtp_unsupported")


def test_implicit_tls(
    inbox: Inbox, server_ssl: ssl.SSLContext, trusted: None, attempts: list[Attempt]
) -> None:
    controller = start(inbox, ssl_context=server_ssl)
    try:
        smtp = SmtpSpec(host=HOST, port=controller.port, ssl=True, starttls=False)
        result = send(smtp, attempts)
    finally:
        controller.stop()
    assert result.outcome == "delivered" and len(inbox.messages) == 1


@pytest.mark.parametrize(
    ("password", "outcome"), [("pa55word!", "delivered"), ("wrong-password", "permanent")]
)
def test_auth(
    inbox: Inbox,
    attempts: list[Attempt],
    password: str,
    outcome: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    controller = start(
        inbox, authenticator=authenticator, auth_require_tls=False, auth_required=True
    )
    try:
        smtp = SmtpSpec(
            host=HOST, port=controller.port, starttls=False, username="bob", password=password
        )
        result = send(smtp, attempts)
    finally:
        controller.stop()
    assert result.outcome == outcome
    assert len(inbox.messages) == (outcome == "delivered")
    if outcome == "permanent":
        assert (attempts[0].error_class, attempts[0].status_code) == ("smtp_auth", 535)
    assert password not in str(attempts) + result.detail + caplog.text


def test_auth_over_starttls(
    inbox: Inbox, server_ssl: ssl.SSLContext, trusted: None, attempts: list[Attempt]
) -> None:
    controller = start(
        inbox,
        tls_context=server_ssl,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    try:
        smtp = SmtpSpec(host=HOST, port=controller.port, username="bob", password="pa55word!")
        result = send(smtp, attempts)
    finally:
        controller.stop()
    assert result.outcome == "delivered" and inbox.messages[0][1] is True


def test_refused_recipients(plain: SmtpSpec, inbox: Inbox, attempts: list[Attempt]) -> None:
    permanent = send(plain, attempts, ("bad@x.org",))
    assert (permanent.outcome, permanent.attempts) == ("permanent", 1)
    assert attempts[-1].status_code == 550 and attempts[-1].error_class == "recipients_refused"
    transient = send(plain, attempts, ("busy@x.org",), max_attempts=2)
    assert (transient.outcome, transient.attempts) == ("retryable", 2)
    assert attempts[-1].status_code == 450
    partial = send(plain, attempts, ("ops@x.org", "bad@x.org"))
    assert partial.outcome == "delivered" and "refused: bad@x.org: 550" in partial.detail
    assert len(inbox.messages) == 1


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [("451 4.3.0 try again later", "retryable"), ("554 5.7.1 rejected as spam", "permanent")],
)
def test_data_replies(
    plain: SmtpSpec, inbox: Inbox, attempts: list[Attempt], reply: str, outcome: str
) -> None:
    inbox.data_reply = reply
    result = send(plain, attempts, max_attempts=1)
    assert result.outcome == outcome
    assert attempts[0].status_code == int(reply[:3])
    assert attempts[0].detail == f"SMTP {reply}"


def test_refused_connection_is_retryable(attempts: list[Attempt]) -> None:
    result = send(SmtpSpec(host=HOST, port=free_port()), attempts, max_attempts=1)
    assert (result.outcome, attempts[0].error_class) == ("retryable", "connection_refused")


def test_missing_smtp_settings(attempts: list[Attempt]) -> None:
    result = send(None, attempts)
    assert (result.outcome, attempts[0].error_class) == ("permanent", "smtp_not_configured")


def test_display_names_stay_in_the_headers(inbox: Inbox, attempts: list[Attempt]) -> None:
    """Issue 17.16: a server without SMTPUTF8 (aiosmtpd's Controller offers it unless told
    not to); "Équipe Ops <…>" used to reach MAIL FROM/RCPT TO and fail permanently."""
    controller = start(inbox, enable_SMTPUTF8=False)
    try:
        sender = "Sentinelle Données <alerts@example.com>"
        smtp = SmtpSpec(host=HOST, port=controller.port, starttls=False, from_address=sender)
        recipients = ("Équipe Ops <ops@example.com>", '"Dev, Team" <dev@x.org>', "db@x.org")
        result = send(smtp, attempts, recipients)
    finally:
        controller.stop()
    assert (result.outcome, result.attempts) == ("delivered", 1)
    [(envelope, _)] = inbox.messages
    assert envelope.mail_from == "alerts@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "dev@x.org", "db@x.org"]
    assert envelope.original_content is not None
    head = envelope.original_content.split(b"\r\n\r\n")[0]
    assert head.isascii()  # RFC 2047 encoded words, not raw UTF-8
    assert b"=?utf-8?" in head
    msg = inbox.parsed()
    assert [a.display_name for a in msg["To"].addresses] == ["Équipe Ops", "Dev, Team", ""]
    assert msg["From"].addresses[0].display_name == "Sentinelle Données"
    assert msg["Message-ID"].endswith("@example.com>")


def test_a_non_ascii_mailbox_needs_smtputf8(inbox: Inbox, attempts: list[Attempt]) -> None:
    """A non-ASCII addr-spec does need SMTPUTF8: refused as permanent, never half-sent."""
    controller = start(inbox, enable_SMTPUTF8=False)
    try:
        smtp = SmtpSpec(host=HOST, port=controller.port, starttls=False)
        result = send(smtp, attempts, ("jörg@example.com",))
    finally:
        controller.stop()
    assert (result.outcome, attempts[0].error_class) == ("permanent", "smtp_unsupported")
    assert inbox.messages == []


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("Équipe Ops <ops@example.com>", None),
        ("jörg@example.com", None),
        ("ops@example.com, dev@example.com", "must be one address"),
        ("Ops <ops@example.com", "is not an email address"),
        ("ops@", "is not an email address"),
        ("not-an-address", "is not an email address"),
    ],
)
def test_address_problem_reads_as_the_headers_do(address: str, problem: str | None) -> None:
    found = address_problem(address)
    assert found is None if problem is None else problem in (found or "")
