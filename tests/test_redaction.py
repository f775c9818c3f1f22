"""Target descriptions and free text never show a secret."""

from __future__ import annotations

import base64

import pytest
from support import make_target

from sqlsentinel.core.spec import SmtpSpec
from sqlsentinel.notify.deliver import describe_target, secrets_of
from sqlsentinel.redaction import (
    basic_credentials,
    header_secrets,
    is_secret_param,
    redact,
    redact_headers,
    redact_url,
    smtp_secrets,
    url_has_secret,
    url_secrets,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://example.com/hook", "https://example.com/hook"),
        (
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "https://hooks.slack.com/services/T000/B000/…redacted",
        ),
        ("https://u:p@example.com/h?token=abc&x=1", "https://…redacted@example.com/h?token=…redacted&x=…redacted"),
        (
            "https://discord.com/api/webhooks/123456789012345678/abcDEF123ghiJKL456mno",
            "https://discord.com/api/webhooks/123456789012345678/…redacted",
        ),
        ("https://example.com/h#secret", "https://example.com/h#…redacted"),
    ],
)  # fmt: skip
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_slack_targets_hide_the_token_on_any_host() -> None:
    assert redact_url("http://127.0.0.1:8/services/T1/B2/XXXX", slack=True).endswith("B2/…redacted")
    assert redact_url("https://chat.example.com/hooks/abcd", slack=True).endswith("hooks/…redacted")


def test_headers() -> None:
    shown = redact_headers([("Authorization", "Bearer x"), ("Content-Type", "text/plain")])
    assert shown == {"Authorization": "…redacted", "Content-Type": "text/plain"}


def test_describe_target() -> None:
    assert describe_target(make_target("webhook", url="https://a.test/h?k=v", method="PUT")) == (
        "webhook PUT https://a.test/h?k=…redacted"
    )
    assert describe_target(make_target("email", recipients=("a@x", "b@x"))) == "email a@x, b@x"
    slack = make_target(
        "slack", webhook_url="https://hooks.slack.com/services/T/B/tok", slack_channel="#c"
    )
    assert describe_target(slack) == "slack https://hooks.slack.com/services/T/B/…redacted #c"


def test_redact_every_known_secret() -> None:
    target = make_target(
        "webhook",
        url="https://me:passw0rd@a.test/h/abcdef1234567890xyz?api_key=k3y-value",
        headers={"X-Api-Key": "header-secret", "Accept": "json"},
        secret="hmac-secret",
    )
    text = "passw0rd abcdef1234567890xyz k3y-value header-secret hmac-secret json"
    assert redact(text, secrets_of(target, None)) == " ".join(["…redacted"] * 5 + ["json"])
    smtp = SmtpSpec(host="h", password="smtp-pass")
    assert redact("535 smtp-pass", secrets_of(make_target("email", recipients=("a@x",)), smtp)) == (
        "535 …redacted"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://u:hunter2@h/db", "postgresql://u:…redacted@h/db"),
        ("postgresql://u:a/b:c@h/db", "postgresql://u:…redacted@h/db"),
        (
            "postgresql://u@h/db?sslmode=require&password=hunter2&sslpassword=k3y&x-api-key=k",
            "postgresql://u@h/db?sslmode=require&password=…redacted&sslpassword=…redacted"
            "&x-api-key=…redacted",
        ),
        ("host=h password=hunter2 dbname=x", "host=h password=…redacted dbname=x"),
        ("?sslkey=/etc/k.pem&sslcert=/etc/c.pem", "?sslkey=/etc/k.pem&sslcert=/etc/c.pem"),
        ("got Authorization: Basic dXNlcjpwYXNz", "got Authorization: Basic …redacted"),
        ("Basic authentication failed", "Basic authentication failed"),
        ("401: Bearer eyJhbGciOi.xyz rejected", "401: Bearer …redacted rejected"),
        ("(postgresql://u@h/x?password=…redacted)", "(postgresql://u@h/x?password=…redacted)"),
    ],
)  # fmt: skip
def test_redact_by_what_a_value_is(text: str, shown: str) -> None:
    assert redact(text) == shown
    assert redact(shown) == shown


@pytest.mark.parametrize(
    ("name", "secret"),
    [("password", True), ("PASSWD", True), ("pass", True), ("pwd", True), ("sslpassword", True),
     ("token", True), ("access_token", True), ("secret", True), ("client_secret", True),
     ("api_key", True), ("apikey", True), ("X-Api-Key", True), ("key", True), ("sig", True),
     ("sslkey", False), ("sslcert", False), ("sslmode", False), ("user", False),
     ("application_name", False), ("connect_timeout", False)],
)  # fmt: skip
def test_secret_parameters(name: str, secret: bool) -> None:
    assert is_secret_param(name) is secret
    assert url_has_secret(f"postgresql://u@h/db?{name}=value") is secret


def test_url_userinfo_in_every_form_it_is_sent_in() -> None:
    url = "https://alice:p%40ss-w0rd@example.com/hook"
    found = url_secrets(url)
    header = basic_credentials("alice", "p%40ss-w0rd")
    assert header == "Basic " + base64.b64encode(b"alice:p@ss-w0rd").decode()
    text = f"{header} | {header.split()[1]} | alice:p@ss-w0rd | p@ss-w0rd | p%40ss-w0rd"
    assert "ss-w0rd" not in redact(text, found) and "YWxp" not in redact(text, found)
    assert url_has_secret(url) and not url_has_secret("https://alice@example.com/hook")


def test_configured_headers_in_every_form() -> None:
    basic = "Basic " + base64.b64encode(b"bob:s3cr3t-pw").decode()
    found = header_secrets([("Authorization", basic), ("X-Token", "Token tk-123456"),
                            ("Accept", "application/json")])  # fmt: skip
    text = f"{basic} {basic.split()[1]} bob:s3cr3t-pw s3cr3t-pw tk-123456 application/json"
    assert redact(text, found) == " ".join(["…redacted"] * 5) + " application/json"


def test_smtp_password_in_every_form_auth_sends_it() -> None:
    plain = base64.b64encode(b"\0me\0mail-pw-1").decode()
    login = base64.b64encode(b"mail-pw-1").decode()
    text = f"535 {plain} {login} mail-pw-1"
    assert redact(text, smtp_secrets("me", "mail-pw-1")) == "535 " + " ".join(["…redacted"] * 3)
