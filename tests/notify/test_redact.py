"""Target descriptions and free text never show a secret."""

from __future__ import annotations

import pytest
from support import make_target

from sqlsentinel.core.spec import SmtpSpec
from sqlsentinel.notify.deliver import describe_target, secrets_of
from sqlsentinel.notify.redact import redact_headers, redact_url, scrub


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


def test_scrub_every_known_secret() -> None:
    target = make_target(
        "webhook",
        url="https://me:passw0rd@a.test/h/abcdef1234567890xyz?api_key=k3y-value",
        headers={"X-Api-Key": "header-secret", "Accept": "json"},
        secret="hmac-secret",
    )
    text = "passw0rd abcdef1234567890xyz k3y-value header-secret hmac-secret json"
    assert scrub(text, secrets_of(target, None)) == " ".join(["…redacted"] * 5 + ["json"])
    smtp = SmtpSpec(host="h", password="smtp-pass")
    assert scrub("535 smtp-pass", secrets_of(make_target("email", recipients=("a@x",)), smtp)) == (
        "535 …redacted"
    )
