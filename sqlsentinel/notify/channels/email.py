"""`channel: email`: multipart plain text + HTML over SMTP (plain, STARTTLS or implicit TLS).

Addresses may carry display names (`Équipe Ops <ops@example.com>`): the headers keep them,
RFC 2047-encoded by the stdlib's default policy when they are not ASCII, while the envelope
(MAIL FROM, RCPT TO) carries only each addr-spec, so a server without SMTPUTF8 accepts them.
The Message-ID is derived from the event id, so a retried message is recognisably
the same message. TLS verification uses the system trust store; a private CA is
trusted through the standard `SSL_CERT_FILE` environment variable.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from sqlsentinel.core.delivery import DeliveryOutcome
from sqlsentinel.core.spec import DEFAULT_ATTEMPT_TIMEOUT, SmtpSpec, TargetSpec
from sqlsentinel.notify.channels import SendResult
from sqlsentinel.notify.deadline import AttemptDeadline, timed_out
from sqlsentinel.notify.http import EVENT_ID_HEADER, USER_AGENT, network_failure
from sqlsentinel.notify.templates import TemplateError, render_email
from sqlsentinel.redaction import smtp_secrets

if TYPE_CHECKING:
    from pydantic import BaseModel

    from sqlsentinel.core.grouped import Notification


@dataclass(frozen=True)
class EmailOptions:
    """The options of an email target."""

    recipients: tuple[str, ...]
    subject: str | None = None  # jinja2 template override
    body: str | None = None  # jinja2 template override (plain-text part; HTML part derived)


def options(target: TargetSpec) -> EmailOptions:
    """The typed options of an email target."""
    data = dict(target.options)
    return EmailOptions(**{**data, "recipients": tuple(data["recipients"])})


def config_model() -> type[BaseModel]:
    """The pydantic model of a `channel: email` entry."""
    from typing import Annotated, Literal

    from pydantic import BeforeValidator, Field, field_validator

    from sqlsentinel.model_fields import listify
    from sqlsentinel.notify.channels.config_base import TargetModel, check_template

    class EmailModel(TargetModel):
        """`channel: email`."""

        channel: Literal["email"]
        recipients: Annotated[list[str], BeforeValidator(listify)] = Field(min_length=1)
        subject: str | None = None
        body: str | None = None

        _templates = field_validator("subject", "body")(check_template)

        @field_validator("recipients")
        @classmethod
        def _addresses(cls, v: list[str]) -> list[str]:
            for addr in v:
                problem = address_problem(addr)
                if problem:
                    raise ValueError(problem)
            return v

    return EmailModel


def address_problem(addr: str) -> str | None:
    """Why `addr` (`a@example.com` or `Name <a@example.com>`) is no usable address, if it is not.

    Read by the same parser that builds the message headers and the envelope from them.
    """
    from email.errors import HeaderParseError, NonASCIILocalPartDefect
    from email.policy import default

    from sqlsentinel.model_fields import has_control

    if has_control(addr):
        return f"{addr!r} must be one address without line breaks or control characters"
    try:
        header = default.header_factory("To", addr)
    except (HeaderParseError, IndexError):  # the stdlib parser raises IndexError on `a@`
        return f"{addr!r} is not an email address"
    if len(header.addresses) > 1:
        return f"{addr!r} must be one address (give each recipient its own list entry)"
    defects = [d for d in header.defects if not isinstance(d, NonASCIILocalPartDefect)]
    spec = str(header.addresses[0].addr_spec) if header.addresses else ""
    local, _, domain = spec.rpartition("@")
    if defects or not local or not domain:
        return f"{addr!r} is not an email address"
    return None


def build_message(event: Notification, target: TargetSpec, smtp: SmtpSpec) -> EmailMessage:
    """The complete message: multipart/alternative, text first, HTML second."""
    o = options(target)
    subject, text, html = render_email(event, o.subject, o.body)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = smtp.from_address
    msg["To"] = ", ".join(o.recipients)
    domain = envelope_sender(msg).rpartition("@")[2] or "localhost"
    msg["Date"] = format_datetime(event.occurred_at)
    msg["Message-ID"] = f"<{event.event_id}@{domain}>"
    msg[EVENT_ID_HEADER] = event.event_id
    msg["X-SQLSentinel-Dedup-Key"] = event.dedup_key
    msg["X-Mailer"] = USER_AGENT
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def envelope_sender(msg: EmailMessage) -> str:
    """MAIL FROM: the From header's addr-spec, without its display name."""
    return str(msg["From"].addresses[0].addr_spec)


def envelope_recipients(msg: EmailMessage) -> list[str]:
    """RCPT TO: the To header's addr-specs, without their display names."""
    return [str(address.addr_spec) for address in msg["To"].addresses]


def describe_smtp(smtp: SmtpSpec) -> str:
    """`host:port (mode)`, never the credentials."""
    mode = "implicit TLS" if smtp.ssl else "STARTTLS" if smtp.starttls else "plain"
    auth = ", auth" if smtp.username else ""
    return f"{smtp.host}:{smtp.port} ({mode}{auth})"


def _smtp_failure(exc: OSError, timeout: float) -> SendResult:
    """Classify an SMTP failure: 4xx replies are transient, 5xx permanent."""
    outcome: DeliveryOutcome
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        transient = bool(codes) and all(400 <= c < 500 for c in codes)
        refused = "; ".join(
            f"{addr}: {code} {msg.decode(errors='replace')}"
            for addr, (code, msg) in exc.recipients.items()
        )
        outcome = DeliveryOutcome.RETRYABLE if transient else DeliveryOutcome.PERMANENT
        status = codes[0] if codes else None
        return SendResult(outcome, status, "recipients_refused", f"recipients refused: {refused}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SendResult(
            DeliveryOutcome.PERMANENT, None, "smtp_unsupported", f"server does not support: {exc}"
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        raw = exc.smtp_error
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        error_class = "smtp_auth" if isinstance(exc, smtplib.SMTPAuthenticationError) else "smtp"
        outcome = DeliveryOutcome.RETRYABLE if 400 <= code < 500 else DeliveryOutcome.PERMANENT
        return SendResult(outcome, code, error_class, f"SMTP {code} {text}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return SendResult(
            DeliveryOutcome.RETRYABLE, None, "connection_error", f"server disconnected: {exc}"
        )
    if isinstance(exc, smtplib.SMTPException):
        return SendResult(DeliveryOutcome.PERMANENT, None, "smtp", str(exc))
    return network_failure(exc, timeout)


def _transmit(msg: EmailMessage, smtp: SmtpSpec, deadline: AttemptDeadline) -> str:
    """One SMTP session, shut down at `deadline`; returns the recipients refused (if only
    some were)."""
    context = ssl.create_default_context()
    timeout = deadline.seconds
    client = (
        smtplib.SMTP_SSL(timeout=timeout, context=context)
        if smtp.ssl
        else smtplib.SMTP(timeout=timeout)
    )
    # Created unconnected, so the deadline watches the greeting too; TLS checks the
    # certificate against _host, which only the constructor would otherwise set.
    vars(client)["_host"] = smtp.host
    with deadline.watch(lambda: getattr(client, "sock", None)):
        try:
            client.connect(smtp.host, smtp.port)
            if smtp.starttls and not smtp.ssl:
                client.starttls(context=context)
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            refused = client.send_message(msg, envelope_sender(msg), envelope_recipients(msg))
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    return "; ".join(f"{a}: {c} {m.decode(errors='replace')}" for a, (c, m) in refused.items())


class EmailChannel:
    """Sends one message to all of the target's recipients."""

    def send(
        self, event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None, timeout: float
    ) -> SendResult:
        """One SMTP session, ended after `timeout` seconds in total."""
        if smtp is None:
            detail = "SMTP is not configured: add an smtp: block or set SMTP_HOST"
            return SendResult(DeliveryOutcome.PERMANENT, None, "smtp_not_configured", detail)
        try:
            msg = build_message(event, target, smtp)
        except TemplateError as exc:
            return SendResult(DeliveryOutcome.PERMANENT, None, "template_error", str(exc))
        except ValueError as exc:
            return SendResult(DeliveryOutcome.PERMANENT, None, "invalid_message", str(exc))
        deadline = AttemptDeadline(timeout)
        try:
            refused = _transmit(msg, smtp, deadline)
        except (smtplib.SMTPException, OSError) as exc:
            return timed_out(timeout) if deadline.expired else _smtp_failure(exc, timeout)
        detail = f"accepted by {smtp.host}:{smtp.port}"
        if refused:
            detail += f"; refused: {refused}"
        return SendResult(DeliveryOutcome.DELIVERED, 250, None, detail)

    def preview(
        self, event: Notification, target: TargetSpec, *, smtp: SmtpSpec | None
    ) -> dict[str, Any]:
        """Server, sender, recipients, subject and both parts."""
        o = options(target)
        subject, text, html = render_email(event, o.subject, o.body)
        return {
            "smtp": describe_smtp(smtp) if smtp else None,
            "from": smtp.from_address if smtp else None,
            "to": list(o.recipients),
            "subject": subject,
            "text": text,
            "html": html,
        }

    def describe(self, target: TargetSpec) -> str:
        """`email a@example.com, b@example.com`."""
        return "email " + ", ".join(options(target).recipients)

    def secrets(self, target: TargetSpec, smtp: SmtpSpec | None) -> list[str]:
        """The SMTP password, in every form AUTH sends it."""
        return smtp_secrets(smtp.username, smtp.password) if smtp is not None else []

    def default_timeout(self, smtp: SmtpSpec | None) -> float:
        """The SMTP settings' timeout."""
        return smtp.timeout if smtp is not None else DEFAULT_ATTEMPT_TIMEOUT


CHANNEL = EmailChannel()
